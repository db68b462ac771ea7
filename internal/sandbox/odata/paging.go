package odata

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Skip tokens: one format for every collection. A token is tokenPrefix (the bytes Graph's directory
// tokens start with, so they look familiar in logs) followed by unpadded base64url of
// "sbx1|<crc32 of cursor, 8 hex>|<cursor>". The checksum makes an edited token fail as Graph's do,
// with 400 Directory_ExpiredPageToken, rather than resume somewhere arbitrary.
const (
	tokenPrefix  = "RFNwdAIAAQAAAD"
	tokenVersion = "sbx1|"
)

// SkipToken encodes a cursor (a key for PageSorted and Query.Page, PageOffset's next cursor) as a
// $skiptoken value.
func SkipToken(cursor string) string {
	payload := fmt.Sprintf("%s%08x|%s", tokenVersion, crc32.ChecksumIEEE([]byte(cursor)), cursor)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(payload))
}

func decodeSkipToken(tok string) (string, bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	body, ok := strings.CutPrefix(string(b), tokenVersion)
	if !ok {
		return "", false
	}
	sum, cursor, ok := strings.Cut(body, "|")
	if !ok || cursor == "" || sum != fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(cursor))) {
		return "", false
	}
	return cursor, true
}

// PageSorted walks sorted keys after the cursor and returns up to top of those keep accepts, and
// whether another accepted key follows. The cursor is the last key of the previous page; it need not
// still be in keys. It costs O(log n + page) when most keys are accepted.
func PageSorted(keys []string, after string, top int, keep func(string) bool) (page []string, more bool) {
	i := 0
	if after != "" {
		i = sort.SearchStrings(keys, after)
		if i < len(keys) && keys[i] == after {
			i++
		}
	}
	for ; i < len(keys); i++ {
		if !keep(keys[i]) {
			continue
		}
		if len(page) == top {
			return page, true
		}
		page = append(page, keys[i])
	}
	return page, false
}

// PageOffset pages a list in an order of its own (group members). Its cursor is "offset|lastKey":
// when lastKey is no longer at offset-1 (something before it was removed meanwhile) paging resumes
// just after lastKey; when lastKey is gone too, at the offset.
func PageOffset(keys []string, after string, top int, keep func(string) bool) (page []string, nextCursor string, more bool) {
	start := 0
	if after != "" {
		start = resumeOffset(keys, after)
	}
	last := -1
	for i := start; i < len(keys); i++ {
		if !keep(keys[i]) {
			continue
		}
		if len(page) == top {
			return page, fmt.Sprintf("%d|%s", last+1, keys[last]), true
		}
		page = append(page, keys[i])
		last = i
	}
	return page, "", false
}

func resumeOffset(keys []string, after string) int {
	off, last, _ := strings.Cut(after, "|")
	n, err := strconv.Atoi(off)
	if err == nil && n > 0 && n <= len(keys) && keys[n-1] == last {
		return n
	}
	for i, k := range keys {
		if k == last {
			return i + 1
		}
	}
	if err == nil && n >= 0 && n < len(keys) {
		return n
	}
	return len(keys)
}

// NextLink is the request's own URL with $skiptoken set to the cursor, the way Graph builds it: base is
// the scheme, host and version (https://graph.microsoft.com/v1.0), escapedPath the path after the
// version. $skip is dropped: the cursor already counts it.
func NextLink(base, escapedPath string, query url.Values, cursor string) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString(escapedPath)
	b.WriteByte('?')
	for _, k := range slices.Sorted(maps.Keys(query)) {
		if strings.EqualFold(k, "$skiptoken") || strings.EqualFold(k, "$skip") {
			continue
		}
		for _, v := range query[k] {
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
			b.WriteByte('&')
		}
	}
	b.WriteString("$skiptoken=")
	b.WriteString(SkipToken(cursor))
	return b.String()
}

// escape query-escapes as Graph's links read: %20 for spaces, '$' left alone.
func escape(s string) string {
	e := strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	return strings.ReplaceAll(e, "%24", "$")
}

// Page is one page of a collection served from rendered objects.
type Page struct {
	// Items are the page's objects, projected by $select.
	Items []map[string]any
	// Cursor is the cursor of the next page when More; pass it to NextLink.
	Cursor string
	More   bool
	// Count is how many objects passed $filter, for @odata.count.
	Count int
}

// Page filters rendered objects (applications, service principals, templates), orders them by id,
// and returns the page $skip or $skiptoken and $top select, projected by $select. The cursor is the
// last id returned, so objects removed between pages shift nothing.
func (q *Query) Page(items []map[string]any) Page {
	type keyed struct {
		id string
		m  map[string]any
	}
	kept := make([]keyed, 0, len(items))
	for _, it := range items {
		if q.MatchMap(it) {
			kept = append(kept, keyed{fmt.Sprint(it["id"]), it})
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].id < kept[j].id })
	start := min(q.skip, len(kept))
	if q.cursor != "" {
		start = sort.Search(len(kept), func(i int) bool { return kept[i].id > q.cursor })
	}
	end := min(start+q.top, len(kept))
	p := Page{Items: make([]map[string]any, 0, end-start), Count: len(kept), More: end < len(kept)}
	for _, k := range kept[start:end] {
		p.Items = append(p.Items, q.Project(k.m))
	}
	if p.More {
		p.Cursor = kept[end-1].id
	}
	return p
}

// Envelope is a collection response body: @odata.context, value, @odata.nextLink when nextLink is not
// empty, @odata.count when the query asked for it.
func (q *Query) Envelope(contextURL string, items []map[string]any, nextLink string, count int) map[string]any {
	out := map[string]any{"@odata.context": contextURL, "value": items}
	if nextLink != "" {
		out["@odata.nextLink"] = nextLink
	}
	if q.count {
		out["@odata.count"] = count
	}
	return out
}
