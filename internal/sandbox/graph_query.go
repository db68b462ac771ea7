package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The OData query options Graph supports on directory collections, as strictly as Graph applies them:
// $filter (eq, in, startsWith, and, or on string and bool properties by default; ne, not and endsWith
// only as advanced queries), $select, $top (1..999), $skiptoken paging with @odata.nextLink, and
// $count (an advanced query: it needs `ConsistencyLevel: eventual`). A provider that leans on anything
// else finds out here rather than in a customer's tenant.

// maxOrClauses is Graph's limit on the values of an `in` and the branches of an `or` on directory objects.
const maxOrClauses = 15

type propType int

const (
	propString propType = iota
	propBool
	// propGUID properties (appRoleAssignment.principalId, ...) take unquoted GUID literals, as in OData.
	propGUID
)

func (p propType) edm() string {
	switch p {
	case propBool:
		return "Edm.Boolean"
	case propGUID:
		return "Edm.Guid"
	}
	return "Edm.String"
}

// entityType describes one kind of directory object for $filter and $select.
type entityType struct {
	// name is Graph's type name as directory errors spell it (Microsoft.DirectoryServices.User).
	name string
	// resource is the short name in "unsupported filter" messages (User).
	resource string
	props    map[string]propType
	// filterable are the properties $filter accepts (eq, in, startsWith); others answer 400.
	filterable map[string]bool
	// defaults are the properties returned without $select.
	defaults []string
	lookup   map[string]string // lower-case name -> canonical name
}

func newEntityType(name, resource string, props map[string]propType, filterable, defaults []string) *entityType {
	et := &entityType{name: name, resource: resource, props: props, filterable: map[string]bool{}, defaults: defaults, lookup: map[string]string{}}
	for p := range props {
		et.lookup[strings.ToLower(p)] = p
	}
	for _, p := range filterable {
		et.filterable[p] = true
	}
	return et
}

func (et *entityType) canonical(name string) (string, bool) {
	p, ok := et.lookup[strings.ToLower(name)]
	return p, ok
}

// queryError is a 4xx answer to a malformed or unsupported query.
type queryError struct {
	status  int
	code    string
	message string
}

func (e *queryError) Error() string { return e.message }

func badQuery(code, format string, args ...any) *queryError {
	return &queryError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// listQuery is a parsed collection request.
type listQuery struct {
	et     *entityType
	filter *filterNode
	// sel holds the $select properties; nil means the type's defaults.
	sel   []string
	top   int
	after string // the cursor decoded from $skiptoken; "" on the first page
	count bool
}

// parseListQuery reads the query options of a collection request. maxTop is the largest $top allowed;
// defaultTop the page size without one. On error it has answered and returns false.
func (c *gctx) parseListQuery(et *entityType, defaultTop, maxTop int) (*listQuery, bool) {
	q, err := parseListQueryValues(c.query, c.r.Header, et, defaultTop, maxTop)
	if err != nil {
		c.error(err.status, err.code, err.message)
		return nil, false
	}
	return q, true
}

func parseListQueryValues(v url.Values, h http.Header, et *entityType, defaultTop, maxTop int) (*listQuery, *queryError) {
	q := &listQuery{et: et, top: defaultTop}
	advanced := strings.EqualFold(h.Get("ConsistencyLevel"), "eventual")
	for k := range v {
		switch strings.ToLower(k) {
		case "$skip":
			return nil, badQuery("Request_BadRequest", "'$skip' is not supported by the service.")
		case "$orderby", "$search", "$expand", "$apply", "$levels":
			return nil, badQuery("Request_UnsupportedQuery", "The query option '%s' is not supported on this collection by the sandbox.", k)
		}
	}
	if raw, ok := queryOption(v, "$count"); ok {
		switch strings.ToLower(raw) {
		case "true":
			if !advanced {
				return nil, badQuery("Request_BadRequest", "$count is not currently supported.")
			}
			q.count = true
		case "false":
		default:
			return nil, badQuery("BadRequest", "Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", raw)
		}
	}
	if raw, ok := queryOption(v, "$top"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxTop {
			return nil, badQuery("Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", raw, maxTop)
		}
		q.top = n
	}
	if raw, ok := queryOption(v, "$select"); ok && strings.TrimSpace(raw) != "" {
		seen := map[string]bool{}
		for _, p := range strings.Split(raw, ",") {
			p = strings.TrimSpace(p)
			name, ok := et.canonical(p)
			if !ok {
				return nil, badQuery("Request_BadRequest", "Could not find a property named '%s' on type '%s'.", p, et.name)
			}
			if !seen[name] {
				seen[name] = true
				q.sel = append(q.sel, name)
			}
		}
	}
	if raw, ok := queryOption(v, "$filter"); ok {
		f, err := parseFilter(raw, et)
		if err != nil {
			return nil, err
		}
		if f.needsAdvanced() && (!advanced || !q.count) {
			return nil, badQuery("Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", f.advancedProp(), et.resource)
		}
		if n := f.maxOr(); n > maxOrClauses {
			return nil, badQuery("Request_UnsupportedQuery", "Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.", n, maxOrClauses)
		}
		q.filter = f
	}
	if raw, ok := queryOption(v, "$skiptoken"); ok {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || !strings.HasPrefix(string(b), "sbx1|") {
			return nil, badQuery("Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
		}
		q.after = strings.TrimPrefix(string(b), "sbx1|")
	}
	return q, nil
}

func queryOption(v url.Values, key string) (string, bool) {
	for k, vals := range v {
		if strings.EqualFold(k, key) && len(vals) > 0 {
			return vals[0], true
		}
	}
	return "", false
}

// matches reports whether an object passes $filter; get returns a property's value (string, bool or nil).
func (q *listQuery) matches(get func(prop string) any) bool {
	return q.filter == nil || q.filter.eval(get)
}

// project applies $select to a fully rendered object. Annotations (@odata.type) always stay.
func (q *listQuery) project(full map[string]any) map[string]any {
	return projectProps(full, q.sel, q.et.defaults)
}

func projectProps(full map[string]any, sel, defaults []string) map[string]any {
	props := sel
	if props == nil {
		props = defaults
	}
	out := make(map[string]any, len(props)+1)
	for k, v := range full {
		if strings.HasPrefix(k, "@odata.") {
			out[k] = v
		}
	}
	for _, p := range props {
		out[p] = full[p]
	}
	return out
}

// equalityValues returns the values a filter pins prop to (prop eq 'x', prop in (...), possibly inside
// an `and`), so a handler can use an index instead of scanning the directory.
func (q *listQuery) equalityValues(prop string) ([]string, bool) {
	if q.filter == nil {
		return nil, false
	}
	return q.filter.pinned(prop)
}

// skipTokenFor encodes a position for $skiptoken.
func skipTokenFor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sbx1|" + key))
}

// nextLink is the request's own URL with $skiptoken set to the cursor, the way Graph builds it.
func (c *gctx) nextLink(key string) string {
	keys := make([]string, 0, len(c.query))
	for k := range c.query {
		if !strings.EqualFold(k, "$skiptoken") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(c.baseURL())
	b.WriteString(strings.TrimPrefix(c.r.URL.EscapedPath(), "/v1.0"))
	b.WriteByte('?')
	for _, k := range keys {
		for _, v := range c.query[k] {
			b.WriteString(odataEscape(k))
			b.WriteByte('=')
			b.WriteString(odataEscape(v))
			b.WriteByte('&')
		}
	}
	b.WriteString("$skiptoken=")
	b.WriteString(skipTokenFor(key))
	return b.String()
}

func odataEscape(s string) string {
	e := strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	return strings.ReplaceAll(e, "%24", "$")
}

// writeCollection answers a collection page: value, @odata.nextLink when more remain, @odata.count
// when asked for.
func (c *gctx) writeCollection(context string, items []map[string]any, nextKey string, more bool, count int, q *listQuery) {
	out := map[string]any{"@odata.context": c.baseURL() + "/$metadata#" + context, "value": items}
	if more {
		out["@odata.nextLink"] = c.nextLink(nextKey)
	}
	if q != nil && q.count {
		out["@odata.count"] = count
	}
	c.json(http.StatusOK, out)
}

// pageSorted walks sorted keys after the cursor and returns up to top of those keep accepts, and
// whether another accepted key follows. It costs O(log n + page) when most keys are accepted.
func pageSorted(keys []string, after string, top int, keep func(string) bool) (page []string, more bool) {
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

// pageOffset pages a list whose order is not sorted (group members): the cursor is "offset|lastKey",
// and when lastKey moved (a member was removed meanwhile) paging resumes just after it.
func pageOffset(keys []string, after string, top int, keep func(string) bool) (page []string, nextCursor string, more bool) {
	start := 0
	if after != "" {
		off, last, _ := strings.Cut(after, "|")
		n, err := strconv.Atoi(off)
		switch {
		case err == nil && n > 0 && n <= len(keys) && keys[n-1] == last:
			start = n
		default:
			start = len(keys)
			for i, k := range keys {
				if k == last {
					start = i + 1
					break
				}
			}
			if start == len(keys) && err == nil && n < len(keys) {
				start = n
			}
		}
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

// ---- $filter ----

type filterNode struct {
	op       string // and, or, not, eq, ne, in, startswith, endswith
	children []*filterNode
	prop     string
	ptype    propType
	values   []filterLit
}

type filterLit struct {
	null bool
	typ  propType
	s    string
	b    bool
}

func (n *filterNode) eval(get func(string) any) bool {
	switch n.op {
	case "and":
		for _, ch := range n.children {
			if !ch.eval(get) {
				return false
			}
		}
		return true
	case "or":
		for _, ch := range n.children {
			if ch.eval(get) {
				return true
			}
		}
		return false
	case "not":
		return !n.children[0].eval(get)
	}
	v := get(n.prop)
	switch n.op {
	case "eq":
		return litEquals(n.values[0], v)
	case "ne":
		return !litEquals(n.values[0], v)
	case "in":
		for _, l := range n.values {
			if litEquals(l, v) {
				return true
			}
		}
		return false
	case "startswith", "endswith":
		s, ok := v.(string)
		if !ok {
			return false
		}
		s, p := strings.ToLower(s), strings.ToLower(n.values[0].s)
		if n.op == "startswith" {
			return strings.HasPrefix(s, p)
		}
		return strings.HasSuffix(s, p)
	}
	return false
}

// litEquals compares as the directory does: strings without regard to case.
func litEquals(l filterLit, v any) bool {
	if l.null {
		return v == nil
	}
	switch x := v.(type) {
	case string:
		return (l.typ == propString || l.typ == propGUID) && strings.EqualFold(x, l.s)
	case bool:
		return l.typ == propBool && x == l.b
	}
	return false
}

func (n *filterNode) needsAdvanced() bool {
	return n.advancedProp() != ""
}

// advancedProp names the property of the first clause that only advanced queries support.
func (n *filterNode) advancedProp() string {
	switch n.op {
	case "ne", "endswith":
		return n.prop
	case "not":
		if p := n.children[0].advancedProp(); p != "" {
			return p
		}
		return leafProp(n.children[0])
	}
	for _, ch := range n.children {
		if p := ch.advancedProp(); p != "" {
			return p
		}
	}
	return ""
}

func leafProp(n *filterNode) string {
	if n.prop != "" {
		return n.prop
	}
	for _, ch := range n.children {
		if p := leafProp(ch); p != "" {
			return p
		}
	}
	return ""
}

// maxOr is the largest number of alternatives any `or` chain or `in` list of the filter expands to.
func (n *filterNode) maxOr() int {
	best := 0
	if n.op == "or" || n.op == "in" {
		best = n.orWidth()
	}
	for _, ch := range n.children {
		if w := ch.maxOr(); w > best {
			best = w
		}
	}
	return best
}

func (n *filterNode) orWidth() int {
	switch n.op {
	case "in":
		return len(n.values)
	case "or":
		w := 0
		for _, ch := range n.children {
			w += ch.orWidth()
		}
		return w
	}
	return 1
}

func (n *filterNode) pinned(prop string) ([]string, bool) {
	switch n.op {
	case "eq", "in":
		if n.prop != prop {
			return nil, false
		}
		var out []string
		for _, l := range n.values {
			if !l.null && (l.typ == propString || l.typ == propGUID) {
				out = append(out, l.s)
			}
		}
		return out, true
	case "and":
		for _, ch := range n.children {
			if v, ok := ch.pinned(prop); ok {
				return v, true
			}
		}
	}
	return nil, false
}

type filterToken struct {
	kind string // ident, string, lparen, rparen, comma, eof
	text string
	pos  int
}

func tokenizeFilter(s string) ([]filterToken, *queryError) {
	var toks []filterToken
	i := 0
	for i < len(s) {
		ch := s[i]
		switch ch {
		case ' ', '\t':
			i++
		case '(':
			toks = append(toks, filterToken{"lparen", "(", i})
			i++
		case ')':
			toks = append(toks, filterToken{"rparen", ")", i})
			i++
		case ',':
			toks = append(toks, filterToken{"comma", ",", i})
			i++
		case '\'':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, badQuery("BadRequest", "Invalid filter clause: there is an unterminated string literal at position %d in '%s'.", start, s)
			}
			toks = append(toks, filterToken{"string", b.String(), start})
		default:
			start := i
			for i < len(s) && !strings.ContainsRune(" \t(),'", rune(s[i])) {
				i++
			}
			toks = append(toks, filterToken{"ident", s[start:i], start})
		}
	}
	toks = append(toks, filterToken{"eof", "", len(s)})
	return toks, nil
}

type filterParser struct {
	src  string
	toks []filterToken
	i    int
	et   *entityType
}

func parseFilter(src string, et *entityType) (*filterNode, *queryError) {
	toks, err := tokenizeFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, et: et}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, p.syntax(t)
	}
	return n, nil
}

func (p *filterParser) peek() filterToken { return p.toks[p.i] }
func (p *filterParser) next() filterToken { t := p.toks[p.i]; p.i++; return t }

func (p *filterParser) syntax(t filterToken) *queryError {
	if t.kind == "eof" {
		return badQuery("BadRequest", "Invalid filter clause: syntax error at the end of '%s'.", p.src)
	}
	return badQuery("BadRequest", "Invalid filter clause: syntax error at position %d in '%s'.", t.pos, p.src)
}

func (p *filterParser) keyword(word string) bool {
	t := p.peek()
	return t.kind == "ident" && t.text == word
}

func (p *filterParser) parseOr() (*filterNode, *queryError) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if !p.keyword("or") {
		return left, nil
	}
	n := &filterNode{op: "or", children: []*filterNode{left}}
	for p.keyword("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, right)
	}
	return n, nil
}

func (p *filterParser) parseAnd() (*filterNode, *queryError) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if !p.keyword("and") {
		return left, nil
	}
	n := &filterNode{op: "and", children: []*filterNode{left}}
	for p.keyword("and") {
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, right)
	}
	return n, nil
}

func (p *filterParser) parseUnary() (*filterNode, *queryError) {
	if p.keyword("not") {
		p.next()
		inner, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &filterNode{op: "not", children: []*filterNode{inner}}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (*filterNode, *queryError) {
	t := p.next()
	switch t.kind {
	case "lparen":
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != "rparen" {
			return nil, p.syntax(c)
		}
		return n, nil
	case "ident":
	default:
		return nil, p.syntax(t)
	}
	if p.peek().kind == "lparen" {
		return p.parseFunction(t)
	}
	prop, ptype, err := p.property(t.text)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	if opTok.kind != "ident" {
		return nil, p.syntax(opTok)
	}
	switch opTok.text {
	case "eq", "ne":
		lit, err := p.literal(ptype, opTok.text)
		if err != nil {
			return nil, err
		}
		return &filterNode{op: opTok.text, prop: prop, ptype: ptype, values: []filterLit{lit}}, nil
	case "in":
		if c := p.next(); c.kind != "lparen" {
			return nil, p.syntax(c)
		}
		n := &filterNode{op: "in", prop: prop, ptype: ptype}
		for {
			lit, err := p.literal(ptype, "in")
			if err != nil {
				return nil, err
			}
			n.values = append(n.values, lit)
			c := p.next()
			if c.kind == "rparen" {
				break
			}
			if c.kind != "comma" {
				return nil, p.syntax(c)
			}
		}
		return n, nil
	case "gt", "ge", "lt", "le", "has":
		return nil, badQuery("Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, p.et.resource)
	}
	return nil, p.syntax(opTok)
}

func (p *filterParser) parseFunction(name filterToken) (*filterNode, *queryError) {
	fn := strings.ToLower(name.text)
	if fn != "startswith" && fn != "endswith" {
		return nil, badQuery("Request_UnsupportedQuery", "Unsupported Query: the function '%s' is not supported in $filter on this collection.", name.text)
	}
	p.next() // (
	pt := p.next()
	if pt.kind != "ident" {
		return nil, p.syntax(pt)
	}
	prop, ptype, err := p.property(pt.text)
	if err != nil {
		return nil, err
	}
	if ptype != propString {
		return nil, badQuery("Request_UnsupportedQuery", "No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name.text, name.text)
	}
	if c := p.next(); c.kind != "comma" {
		return nil, p.syntax(c)
	}
	lit, err := p.literal(propString, fn)
	if err != nil {
		return nil, err
	}
	if lit.null {
		return nil, p.syntax(p.toks[p.i-1])
	}
	if c := p.next(); c.kind != "rparen" {
		return nil, p.syntax(c)
	}
	return &filterNode{op: fn, prop: prop, ptype: ptype, values: []filterLit{lit}}, nil
}

func (p *filterParser) property(name string) (string, propType, *queryError) {
	prop, ok := p.et.canonical(name)
	if !ok {
		return "", 0, badQuery("Request_BadRequest", "Could not find a property named '%s' on type '%s'.", name, p.et.name)
	}
	if !p.et.filterable[prop] {
		return "", 0, badQuery("Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, p.et.resource)
	}
	return prop, p.et.props[prop], nil
}

func (p *filterParser) literal(want propType, op string) (filterLit, *queryError) {
	t := p.next()
	var lit filterLit
	switch {
	case t.kind == "string":
		lit = filterLit{typ: propString, s: t.text}
	case t.kind == "ident" && (t.text == "true" || t.text == "false"):
		lit = filterLit{typ: propBool, b: t.text == "true"}
	case t.kind == "ident" && t.text == "null":
		return filterLit{null: true}, nil
	case t.kind == "ident" && isGUIDLiteral(t.text):
		lit = filterLit{typ: propGUID, s: strings.ToLower(t.text)}
	default:
		return lit, p.syntax(t)
	}
	if lit.typ != want {
		kind := map[string]string{"eq": "Equal", "ne": "NotEqual", "in": "In"}[op]
		if kind == "" {
			kind = op
		}
		return lit, badQuery("BadRequest", "A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", want.edm(), lit.typ.edm(), kind)
	}
	return lit, nil
}

// isGUIDLiteral reports whether s is a GUID in its usual 8-4-4-4-12 form.
func isGUIDLiteral(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
