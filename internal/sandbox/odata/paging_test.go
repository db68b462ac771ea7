package odata

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestSkipToken(t *testing.T) {
	for _, c := range []string{"a1", "3|x|y", "ünïcode", strings.Repeat("k", 500)} {
		tok := SkipToken(c)
		if got, ok := decodeSkipToken(tok); !ok || got != c {
			t.Errorf("round trip of %q: %q %v", c, got, ok)
		}
		if url.QueryEscape(tok) != tok || !strings.HasPrefix(tok, tokenPrefix) {
			t.Errorf("token %q needs escaping or lacks the prefix", tok)
		}
	}
	good := SkipToken("abc")
	body := base64.RawURLEncoding.EncodeToString([]byte("sbx1|00000000|abc"))
	bad := []string{
		"", "garbage", "bogus", tokenPrefix, tokenPrefix + "!!!",
		good[:len(good)-1], good + "A", strings.Replace(good, tokenPrefix, "RFNwdAIAAQAAAE", 1),
		tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte("sbx2|x")),   // another version
		tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte("sbx1|abc")), // no checksum
		tokenPrefix + body, // wrong checksum
		tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("sbx1|%s|", "00000000"))),
		base64.RawURLEncoding.EncodeToString([]byte("sbx1|abc")), // the old directory format
	}
	// Every single-character edit of the payload is caught.
	for i := len(tokenPrefix); i < len(good); i++ {
		b := []byte(good)
		b[i] = "AB"[boolInt(b[i] == 'A')]
		bad = append(bad, string(b))
	}
	for _, tok := range bad {
		if c, ok := decodeSkipToken(tok); ok {
			t.Errorf("token %q decoded to %q", tok, c)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPageSorted(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e"}
	all := func(string) bool { return true }
	cases := []struct {
		after string
		top   int
		keep  func(string) bool
		want  []string
		more  bool
	}{
		{"", 2, all, []string{"a", "b"}, true},
		{"b", 2, all, []string{"c", "d"}, true},
		{"c", 2, all, []string{"d", "e"}, false},
		{"bb", 2, all, []string{"c", "d"}, true}, // the cursor's key was removed
		{"e", 2, all, nil, false},
		{"z", 2, all, nil, false},
		{"", 5, all, keys, false},
		{"", 2, func(k string) bool { return k != "b" && k != "d" }, []string{"a", "c"}, true},
		{"c", 1, func(k string) bool { return k != "d" && k != "e" }, nil, false}, // nothing kept after
	}
	for _, tc := range cases {
		got, more := PageSorted(keys, tc.after, tc.top, tc.keep)
		if !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("after %q top %d: %v %v, want %v %v", tc.after, tc.top, got, more, tc.want, tc.more)
		}
	}
}

func TestPageOffset(t *testing.T) {
	all := func(string) bool { return true }
	keys := []string{"m", "c", "x", "a", "q"}
	page, next, more := PageOffset(keys, "", 2, all)
	if !slices.Equal(page, []string{"m", "c"}) || next != "2|c" || !more {
		t.Fatalf("first page: %v %q %v", page, next, more)
	}
	cases := []struct {
		keys  []string
		after string
		want  []string
	}{
		{keys, "2|c", []string{"x", "a"}},
		{[]string{"c", "x", "a", "q"}, "2|c", []string{"x", "a"}},           // m removed: resume after c
		{[]string{"m", "x", "a", "q"}, "2|c", []string{"a", "q"}},           // c, the last key, removed: resume at the offset
		{[]string{"m", "c"}, "2|c", nil},                                    // c was the end
		{[]string{"x", "y", "c"}, "2|c", nil},                               // c moved to the end
		{keys, "9|zz", nil},                                                 // offset beyond the list
		{keys, "-3|zz", nil},                                                // nonsense offset
		{keys, "junk", nil},                                                 // no offset at all
		{[]string{"m", "c", "x", "a", "q", "r"}, "4|a", []string{"q", "r"}}, // appended meanwhile
	}
	for _, tc := range cases {
		got, _, _ := PageOffset(tc.keys, tc.after, 2, all)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v after %q: %v, want %v", tc.keys, tc.after, got, tc.want)
		}
	}
	page, next, more = PageOffset(keys, "", 2, func(k string) bool { return k != "c" })
	if !slices.Equal(page, []string{"m", "x"}) || next != "3|x" || !more {
		t.Errorf("filtered page: %v %q %v", page, next, more)
	}
}

func TestNextLink(t *testing.T) {
	q := url.Values{"$filter": {"startsWith(displayName,'a b')"}, "$top": {"2"}, "$skiptoken": {"old"}, "$SKIP": {"3"}, "x": {"1", "2"}}
	got := NextLink("https://graph.microsoft.com/v1.0", "/groups/g1/members", q, "k|1")
	want := "https://graph.microsoft.com/v1.0/groups/g1/members?$filter=startsWith%28displayName%2C%27a%20b%27%29&$top=2&x=1&x=2&$skiptoken=" + SkipToken("k|1")
	if got != want {
		t.Fatalf("NextLink:\n got %s\nwant %s", got, want)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	back, qerr := Parse(url.Values{"$skiptoken": {u.Query().Get("$skiptoken")}, "$top": {u.Query().Get("$top")}}, nil, Users)
	if qerr != nil || back.Cursor() != "k|1" || u.Query().Get("$filter") != q.Get("$filter") {
		t.Fatalf("link does not parse back: %v %v", qerr, u.Query())
	}
}

func TestQueryPage(t *testing.T) {
	items := func() []map[string]any {
		var out []map[string]any
		for _, id := range []string{"t5", "t1", "t4", "t2", "t3"} {
			out = append(out, map[string]any{"id": id, "displayName": "Wiki " + id, "categories": []any{"c"}})
		}
		return out
	}
	walk := func(query url.Values, list func() []map[string]any) (ids []string, pages int) {
		for {
			q, err := Parse(query, advancedHeader, ApplicationTemplates)
			if err != nil {
				t.Fatal(err)
			}
			p := q.Page(list())
			pages++
			for _, it := range p.Items {
				ids = append(ids, it["id"].(string))
			}
			if !p.More {
				return ids, pages
			}
			u, _ := url.Parse(NextLink("", "/applicationTemplates", query, p.Cursor))
			query = u.Query()
		}
	}
	ids, pages := walk(url.Values{"$top": {"2"}}, items)
	if !slices.Equal(ids, []string{"t1", "t2", "t3", "t4", "t5"}) || pages != 3 {
		t.Errorf("paging: %v in %d pages", ids, pages)
	}
	ids, _ = walk(url.Values{"$top": {"2"}, "$skip": {"1"}, "$filter": {"displayName eq 'x' or startswith(displayName,'Wiki')"}}, items)
	if !slices.Equal(ids, []string{"t2", "t3", "t4", "t5"}) {
		t.Errorf("$skip=1: %v", ids)
	}
	// An object removed between pages shifts nothing.
	removed := false
	shrinking := func() []map[string]any {
		l := items()
		if removed {
			l = slices.DeleteFunc(l, func(m map[string]any) bool { return m["id"] == "t2" })
		}
		removed = true
		return l
	}
	if ids, _ = walk(url.Values{"$top": {"2"}}, shrinking); !slices.Equal(ids, []string{"t1", "t2", "t3", "t4", "t5"}) {
		t.Errorf("removal between pages: %v", ids)
	}
	q, _ := Parse(url.Values{"$filter": {"startswith(displayName,'Wiki t')"}, "$select": {"displayName"}, "$top": {"1"}}, nil, ApplicationTemplates)
	p := q.Page(items())
	if p.Count != 5 || len(p.Items) != 1 || len(p.Items[0]) != 2 || p.Cursor != "t1" {
		t.Errorf("page: %+v", p)
	}
	q, _ = Parse(url.Values{"$skip": {"9"}}, nil, ApplicationTemplates)
	if p := q.Page(items()); len(p.Items) != 0 || p.More {
		t.Errorf("$skip past the end: %+v", p)
	}
}

func TestEnvelope(t *testing.T) {
	q, _ := Parse(url.Values{"$count": {"true"}}, advancedHeader, Users)
	env := q.Envelope("ctx", []map[string]any{}, "next", 7)
	if env["@odata.context"] != "ctx" || env["@odata.nextLink"] != "next" || env["@odata.count"] != 7 || env["value"] == nil {
		t.Errorf("envelope: %v", env)
	}
	q, _ = Parse(nil, nil, Users)
	if env := q.Envelope("ctx", nil, "", 7); len(env) != 2 {
		t.Errorf("envelope without link and count: %v", env)
	}
}
