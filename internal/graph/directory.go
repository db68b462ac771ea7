package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// MaxInFilterValues is how many values Graph accepts in one `in` filter on directory objects.
const MaxInFilterValues = 15

// User is a directory user as the provider shows it.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	Mail              string
	AccountEnabled    bool
}

// Group is a directory group as the provider shows it.
type Group struct {
	ID          string
	DisplayName string
}

// DirectoryObject is a member of a group.
type DirectoryObject struct {
	ID          string
	Type        string // "user" | "group" | ...
	DisplayName string
}

// lookupByValues finds directory objects whose property is one of values, with `in` filters of
// MaxInFilterValues values sent through $batch (300 values per HTTP request).
func (c *Client) lookupByValues(ctx context.Context, values []string, build func(filter string) (*abstractions.RequestInformation, error), op, permission string) ([]map[string]any, error) {
	var calls []batchCall
	for start := 0; start < len(values); start += MaxInFilterValues {
		chunk := values[start:min(start+MaxInFilterValues, len(values))]
		quoted := make([]string, len(chunk))
		for i, v := range chunk {
			quoted[i] = "'" + odataQuote(v) + "'"
		}
		info, err := build(strings.Join(quoted, ", "))
		if err != nil {
			return nil, err
		}
		calls = append(calls, batchCall{info: info, object: fmt.Sprintf("%d names", len(chunk))})
	}
	outcomes, err := c.runBatches(ctx, calls, op, permission)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, o := range outcomes {
		if o.Err != nil {
			return nil, o.Err
		}
		vals, _ := o.Body["value"].([]any)
		for _, v := range vals {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// FindUsers finds users whose property ("userPrincipalName" or "mail") is one of values.
func (c *Client) FindUsers(ctx context.Context, property string, values []string) ([]User, error) {
	sel := []string{"id", "userPrincipalName", "displayName", "mail", "accountEnabled"}
	top := int32(999)
	rows, err := c.lookupByValues(ctx, values, func(in string) (*abstractions.RequestInformation, error) {
		filter := property + " in (" + in + ")"
		return c.sdk.list(usersTemplate, nil, listQuery{Filter: &filter, Select: sel, Top: &top}), nil
	}, "look up users by "+property, PermUserRead)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(rows))
	for _, m := range rows {
		s := func(k string) string { v, _ := m[k].(string); return v }
		enabled, _ := m["accountEnabled"].(bool)
		out = append(out, User{ID: s("id"), UserPrincipalName: s("userPrincipalName"), DisplayName: s("displayName"), Mail: s("mail"), AccountEnabled: enabled})
	}
	return out, nil
}

// FindGroups finds groups whose displayName is one of names.
func (c *Client) FindGroups(ctx context.Context, names []string) ([]Group, error) {
	sel := []string{"id", "displayName"}
	top := int32(999)
	rows, err := c.lookupByValues(ctx, names, func(in string) (*abstractions.RequestInformation, error) {
		filter := "displayName in (" + in + ")"
		return c.sdk.list(groupsTemplate, nil, listQuery{Filter: &filter, Select: sel, Top: &top}), nil
	}, "look up groups by display name", PermGroupRead)
	if err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(rows))
	for _, m := range rows {
		id, _ := m["id"].(string)
		name, _ := m["displayName"].(string)
		out = append(out, Group{ID: id, DisplayName: name})
	}
	return out, nil
}

// NestedGroups returns, for each group id, the groups that are direct members of it. Entra does not
// provision the members of nested groups to Netskope. One batched request per 20 groups.
func (c *Client) NestedGroups(ctx context.Context, groupIDs []string) (map[string][]Group, error) {
	var calls []batchCall
	sel := []string{"id", "displayName"}
	top := int32(999)
	for _, id := range groupIDs {
		info := c.sdk.list(groupNestedGroupsTemplate, map[string]string{"group%2Did": id}, listQuery{Select: sel, Top: &top})
		calls = append(calls, batchCall{info: info, object: "group " + id})
	}
	outcomes, err := c.runBatches(ctx, calls, "list the nested groups of a group", PermGroupRead)
	if err != nil {
		return nil, err
	}
	out := map[string][]Group{}
	for i, o := range outcomes {
		if o.Err != nil {
			return nil, o.Err
		}
		vals, _ := o.Body["value"].([]any)
		for _, v := range vals {
			if m, ok := v.(map[string]any); ok {
				id, _ := m["id"].(string)
				name, _ := m["displayName"].(string)
				out[groupIDs[i]] = append(out[groupIDs[i]], Group{ID: id, DisplayName: name})
			}
		}
	}
	return out, nil
}

// DirectoryObjects resolves object ids to users and groups (ids of neither are absent from the map,
// keyed by lower-case id). It uses `id in (...)` filters on users and on groups, sent together in
// $batch, because getByIds needs Directory.Read.All while these need only User.Read.All and
// Group.Read.All: 150 ids per HTTP request.
func (c *Client) DirectoryObjects(ctx context.Context, ids []string) (map[string]DirectoryObject, error) {
	out := map[string]DirectoryObject{}
	top := int32(999)
	sel := []string{"id", "displayName"}
	var calls []batchCall
	var kinds []string
	for start := 0; start < len(ids); start += MaxInFilterValues {
		chunk := ids[start:min(start+MaxInFilterValues, len(ids))]
		quoted := make([]string, len(chunk))
		for i, v := range chunk {
			quoted[i] = "'" + odataQuote(v) + "'"
		}
		filter := "id in (" + strings.Join(quoted, ", ") + ")"
		q := listQuery{Filter: &filter, Select: sel, Top: &top}
		u := c.sdk.list(usersTemplate, nil, q)
		g := c.sdk.list(groupsTemplate, nil, q)
		object := fmt.Sprintf("%d object ids", len(chunk))
		calls = append(calls, batchCall{info: u, object: object}, batchCall{info: g, object: object})
		kinds = append(kinds, "user", "group")
	}
	outcomes, err := c.runBatches(ctx, calls, "look up users and groups by object id", PermUserRead+" and "+PermGroupRead)
	if err != nil {
		return nil, err
	}
	for i, o := range outcomes {
		if o.Err != nil {
			return nil, o.Err
		}
		vals, _ := o.Body["value"].([]any)
		for _, v := range vals {
			if m, ok := v.(map[string]any); ok {
				id, _ := m["id"].(string)
				name, _ := m["displayName"].(string)
				out[strings.ToLower(id)] = DirectoryObject{ID: id, Type: kinds[i], DisplayName: name}
			}
		}
	}
	return out, nil
}

// AppRoles reads the app roles a service principal offers (one request, only that property).
func (c *Client) AppRoles(ctx context.Context, spID string) ([]AppRole, error) {
	sp, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Get(ctx, &serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: []string{"id", "appRoles"}},
	})
	if err != nil {
		return nil, wrap(err, "read the app roles of the service principal", spID, PermApplicationRead)
	}
	return appRolesFrom(sp.GetAppRoles()), nil
}

// DirectoryPageSize is how many users or groups ListDirectory reads per request.
const DirectoryPageSize = 999

// DirectoryLister lists the directory's users and groups (id and display name only, 999 per page,
// the two listings side by side) as far as its caller's budget goes, and can go on later from where
// it stopped. A run that looks up thousands of principals one by one answers them from it instead:
// a tenant of 5,000 users is six requests, where `id in (...)` filters cost one request per 150 ids
// at best and, as Terraform hands instances out a few at a time, one per handful in practice.
type DirectoryLister struct {
	c *Client

	mu      sync.Mutex
	objs    map[string]DirectoryObject // by lower-case id
	next    [2]string                  // where each listing goes on; "" once read to the end
	started bool
	pages   int
	reading sync.Mutex // one Read at a time
}

// NewDirectoryLister returns a listing that has read nothing yet.
func (c *Client) NewDirectoryLister() *DirectoryLister {
	return &DirectoryLister{c: c, objs: map[string]DirectoryObject{}}
}

var directoryKinds = [2]struct{ typ, path, perm string }{
	{"user", "users", PermUserRead},
	{"group", "groups", PermGroupRead},
}

// Read reads pages until maxPages have been read in all (this call and earlier ones) or the
// listing is complete, and reports whether it is.
func (l *DirectoryLister) Read(ctx context.Context, maxPages int) (complete bool, err error) {
	l.reading.Lock()
	defer l.reading.Unlock()
	type page struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"value"`
		Next string `json:"@odata.nextLink"`
	}
	l.mu.Lock()
	if !l.started {
		l.started = true
		for i, kind := range directoryKinds {
			l.next[i] = fmt.Sprintf("%s?$select=id,displayName&$top=%d", kind.path, DirectoryPageSize)
		}
	}
	l.mu.Unlock()
	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	for i, kind := range directoryKinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				l.mu.Lock()
				next := l.next[i]
				if next == "" || l.pages >= maxPages {
					l.mu.Unlock()
					return
				}
				l.pages++
				l.mu.Unlock()
				var p page
				if err := l.c.raw(ctx, http.MethodGet, next, nil, &p, "list the directory's "+kind.path, kind.path, kind.perm); err != nil {
					errs[i] = err
					l.mu.Lock()
					l.pages-- // not read: a later Read tries the page again
					l.mu.Unlock()
					return
				}
				l.mu.Lock()
				for _, v := range p.Value {
					l.objs[strings.ToLower(v.ID)] = DirectoryObject{ID: v.ID, Type: kind.typ, DisplayName: v.DisplayName}
				}
				l.next[i] = ""
				if p.Next != "" {
					l.next[i] = strings.TrimPrefix(strings.TrimPrefix(p.Next, l.c.base), "/")
				}
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return l.Complete(), errors.Join(errs[0], errs[1])
}

// Complete reports whether both listings were read to the end.
func (l *DirectoryLister) Complete() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started && l.next[0] == "" && l.next[1] == ""
}

// Lookup finds an object by lower-case id among what was read so far.
func (l *DirectoryLister) Lookup(id string) (DirectoryObject, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.objs[id]
	return o, ok
}

// Len is how many objects were read so far.
func (l *DirectoryLister) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.objs)
}
