package netskope

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// User is a SCIM user of the tenant.
type User struct {
	ID         string
	UserName   string
	ExternalID string
	Active     bool
}

// Group is a SCIM group of the tenant with the ids of its members (users of the tenant).
type Group struct {
	ID          string
	DisplayName string
	ExternalID  string
	MemberIDs   []string
}

const (
	// maxOrValues is how many values one `or` filter holds: a list page then holds at most that
	// many matches, and the URL stays short.
	// Guess: Netskope documents no limit on a filter's comparisons; 50 keeps a page of matches
	// within any plausible page size (the sandbox's is 100).
	maxOrValues = 50
	// maxFilterLength bounds the filter's length, for principals with long names.
	// Guess: Netskope's URL limit is not documented; 3,000 characters of filter (about 9 KB
	// encoded at worst) stays under the 16 KB most HTTP front ends take.
	maxFilterLength = 3000
	// pageSize is what a listing asks for; the tenant may give fewer per page.
	// Guess: like most SCIM services, Netskope caps a page at its own maximum rather than refusing
	// a larger count (RFC 7644 lets it); the client pages by what each page held either way.
	pageSize = 1000
)

// FindUsers returns the users whose attribute ("userName" or "externalId") is one of values.
func (c *Client) FindUsers(ctx context.Context, attribute string, values []string) ([]User, error) {
	rows, err := c.find(ctx, "Users", attribute, values)
	out := make([]User, 0, len(rows))
	for _, r := range rows {
		active, ok := r["active"].(bool)
		out = append(out, User{ID: str(r["id"]), UserName: str(r["userName"]), ExternalID: str(r["externalId"]), Active: active || !ok})
	}
	return out, err
}

// FindGroups returns the groups whose attribute ("displayName" or "externalId") is one of values,
// with their members.
func (c *Client) FindGroups(ctx context.Context, attribute string, values []string) ([]Group, error) {
	rows, err := c.find(ctx, "Groups", attribute, values)
	out := make([]Group, 0, len(rows))
	for _, r := range rows {
		g := Group{ID: str(r["id"]), DisplayName: str(r["displayName"]), ExternalID: str(r["externalId"])}
		members, _ := r["members"].([]any)
		for _, m := range members {
			if mm, ok := m.(map[string]any); ok && str(mm["value"]) != "" {
				g.MemberIDs = append(g.MemberIDs, str(mm["value"]))
			}
		}
		out = append(out, g)
	}
	return out, err
}

// find looks values up with as few requests as the tenant allows: `attribute eq` comparisons joined
// by `or`, maxOrValues to a request. A tenant that refuses `or` is read either one value at a time or
// whole, page by page, whichever is fewer requests.
func (c *Client) find(ctx context.Context, collection, attribute string, values []string) ([]map[string]any, error) {
	values = unique(values)
	var out []map[string]any
	for len(values) > 0 {
		c.mu.Lock()
		orRejected := c.orRejected
		c.mu.Unlock()
		if orRejected {
			rest, err := c.findWithoutOr(ctx, collection, attribute, values)
			return append(out, rest...), err
		}
		n := chunkSize(attribute, values)
		rows, err := c.list(ctx, collection, orFilter(attribute, values[:n]))
		if n > 1 && IsInvalidFilter(err) {
			c.mu.Lock()
			c.orRejected = true
			c.mu.Unlock()
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		values = values[n:]
	}
	return out, nil
}

// findWithoutOr reads the first page of the whole collection; if reading the rest costs fewer
// requests than one filter per value left, it does so and matches here, else it filters per value.
func (c *Client) findWithoutOr(ctx context.Context, collection, attribute string, values []string) ([]map[string]any, error) {
	var page listPage
	q := url.Values{"startIndex": {"1"}, "count": {strconv.Itoa(pageSize)}}
	if err := c.get(ctx, "/"+collection, q, "list "+collection, &page); err != nil {
		return nil, err
	}
	got := len(page.Resources)
	// The pages left, ceil((total-got)/got), against one request per value.
	if got > 0 && (page.TotalResults-1)/got <= len(values) {
		all := page.Resources
		if page.TotalResults > got {
			rest, err := c.pages(ctx, collection, "", 1+got)
			if err != nil {
				return nil, err
			}
			all = append(all, rest...)
		}
		want := map[string]bool{}
		for _, v := range values {
			want[fold(attribute, v)] = true
		}
		var out []map[string]any
		for _, r := range all {
			if want[fold(attribute, str(r[attribute]))] {
				out = append(out, r)
			}
		}
		return out, nil
	}
	if got == 0 {
		return nil, nil // an empty tenant has none of them
	}
	var out []map[string]any
	for _, v := range values {
		rows, err := c.list(ctx, collection, orFilter(attribute, []string{v}))
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

type listPage struct {
	TotalResults int              `json:"totalResults"`
	Resources    []map[string]any `json:"Resources"`
}

// list reads every page of a filtered listing.
func (c *Client) list(ctx context.Context, collection, filter string) ([]map[string]any, error) {
	return c.pages(ctx, collection, filter, 1)
}

// pages reads a listing from startIndex to its end, page by page: the tenant decides how many
// resources a page holds, so the next page starts after what the last one held.
func (c *Client) pages(ctx context.Context, collection, filter string, start int) ([]map[string]any, error) {
	var out []map[string]any
	for {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(pageSize)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page listPage
		if err := c.get(ctx, "/"+collection, q, "list "+collection, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Resources...)
		start += len(page.Resources)
		if len(page.Resources) == 0 || start > page.TotalResults {
			return out, nil
		}
	}
}

// chunkSize is how many of values the next `or` filter takes.
func chunkSize(attribute string, values []string) int {
	n, length := 0, 0
	for n < len(values) && n < maxOrValues {
		length += len(attribute) + len(values[n]) + 12
		if n > 0 && length > maxFilterLength {
			break
		}
		n++
	}
	return n
}

// orFilter is `attribute eq "v1" or attribute eq "v2" ...`.
func orFilter(attribute string, values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%s eq %s", attribute, quote(v))
	}
	return strings.Join(parts, " or ")
}

// quote is a SCIM string literal (JSON's rules, RFC 7644 3.4.2.2).
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// fold is how the tenant compares values of attribute: userName and displayName are not
// case-exact, externalId and id are.
func fold(attribute, v string) string {
	if strings.EqualFold(attribute, "userName") || strings.EqualFold(attribute, "displayName") {
		return strings.ToLower(v)
	}
	return v
}

func unique(values []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }
