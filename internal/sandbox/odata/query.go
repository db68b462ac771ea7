package odata

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Query is a parsed collection (or entity) request.
type Query struct {
	schema *Schema
	filter *node
	sel    []string // canonical $select names; nil means the schema's defaults
	top    int
	skip   int
	cursor string // decoded from $skiptoken; "" on the first page
	count  bool
}

// listOptions are the system query options Parse reads; any other $-option is refused.
var listOptions = map[string]bool{"$filter": true, "$select": true, "$top": true, "$skiptoken": true, "$count": true, "$skip": true}

// Parse reads the query options of a collection request. The checks run in this order, and the first
// failure is the answer: a repeated option, $skip where not allowed, other unsupported options, $count,
// $top, $skip's value, $select, $filter, $skiptoken.
//
// Choices where the sandbox's two former engines differed:
//   - Any $-option Parse does not read is 400 Request_UnsupportedQuery ($orderby, $search, $expand,
//     $format, ...), as the app engine did; the directory engine refused only a named few. Options
//     without a '$' are ignored, as Graph ignores unknown parameters.
//   - $skip is 400 Request_BadRequest "'$skip' is not supported by the service." unless the schema
//     allows it (templates), where it offsets the first page; the next link drops it.
//   - A $skiptoken that does not decode is 400 Directory_ExpiredPageToken everywhere: one token format,
//     one answer (the app engine said Request_BadRequest; Graph's directory says Directory_ExpiredPageToken).
//   - Literals are typed everywhere (accountEnabled eq 'true' is 400 BadRequest), and a property the
//     schema does not know is Request_BadRequest while a known one $filter does not take is
//     Request_UnsupportedQuery, as on Graph's directory.
func Parse(values url.Values, header http.Header, s *Schema) (*Query, *Error) {
	q := &Query{schema: s, top: s.DefaultTop}
	opts, err := options(values)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		switch {
		case k == "$skip" && !s.AllowSkip:
			return nil, errorf(codeRequestBad, "'$skip' is not supported by the service.")
		case !listOptions[k]:
			return nil, errorf(codeUnsupported, "The query option '%s' is not supported on this collection by the sandbox.", opts[k].name)
		}
	}
	advanced := s.Advanced && strings.EqualFold(header.Get("ConsistencyLevel"), "eventual")
	if o, ok := opts["$count"]; ok {
		switch strings.ToLower(o.value) {
		case "true":
			if !advanced {
				return nil, errorf(codeRequestBad, "$count is not currently supported.")
			}
			q.count = true
		case "false":
		default:
			return nil, errorf(codeBadRequest, "Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", o.value)
		}
	}
	if o, ok := opts["$top"]; ok {
		n, err := strconv.Atoi(o.value)
		if err != nil || n < 1 || n > s.MaxTop {
			return nil, errorf(codeRequestBad, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", o.value, s.MaxTop)
		}
		q.top = n
	}
	if o, ok := opts["$skip"]; ok {
		n, err := strconv.Atoi(o.value)
		if err != nil || n < 0 {
			return nil, errorf(codeRequestBad, "Invalid value '%s' for $skip query option found.", o.value)
		}
		q.skip = n
	}
	if o, ok := opts["$select"]; ok {
		if q.sel, err = s.parseSelect(o.value); err != nil {
			return nil, err
		}
	}
	if o, ok := opts["$filter"]; ok {
		if q.filter, err = s.parseCheckedFilter(o.value, advanced && q.count); err != nil {
			return nil, err
		}
	}
	if o, ok := opts["$skiptoken"]; ok {
		c, ok := decodeSkipToken(o.value)
		if !ok {
			return nil, errorf(codeExpiredPage, "The specified page token value has expired and can no longer be included in your request.")
		}
		q.cursor = c
	}
	return q, nil
}

// ParseEntity reads the query options of a single-object GET, where only $select is allowed. Any other
// $-option is 400 Request_BadRequest, as the directory answered (the app engine said
// Request_UnsupportedQuery); options without a '$' are ignored.
func ParseEntity(values url.Values, s *Schema) (*Query, *Error) {
	opts, err := options(values)
	if err != nil {
		return nil, err
	}
	q := &Query{schema: s, top: 1}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if k != "$select" {
			return nil, errorf(codeRequestBad, "Query option '%s' is not allowed on a single %s.", opts[k].name, s.Resource)
		}
		if q.sel, err = s.parseSelect(opts[k].value); err != nil {
			return nil, err
		}
	}
	return q, nil
}

type option struct{ name, value string }

// options collects the $-options by lower-case name. OData names them case-insensitively; each may
// appear once (ODL's message).
func options(values url.Values) (map[string]option, *Error) {
	out := map[string]option{}
	for k, vs := range values {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "$") || len(vs) == 0 {
			continue
		}
		if _, dup := out[lk]; dup || len(vs) > 1 {
			return nil, errorf(codeBadRequest, "Query option '%s' was specified more than once, but it must be specified at most once.", lk)
		}
		out[lk] = option{k, vs[0]}
	}
	return out, nil
}

// parseSelect resolves a $select list to canonical names, dropping repeats; blank means the defaults.
func (s *Schema) parseSelect(raw string) ([]string, *Error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var sel []string
	seen := map[string]bool{}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		p := s.lookup(name)
		if p == nil || strings.Contains(p.Name, "/") {
			return nil, s.unknownProperty(name)
		}
		if !seen[p.Name] {
			seen[p.Name] = true
			sel = append(sel, p.Name)
		}
	}
	return sel, nil
}

// parseCheckedFilter parses a $filter and applies the schema's operator, advanced-query and or-width
// rules. advanced says the request is an advanced query (ConsistencyLevel: eventual and $count=true on a
// schema that supports them).
func (s *Schema) parseCheckedFilter(raw string, advanced bool) (*node, *Error) {
	f, err := parseFilter(raw, s)
	if err != nil {
		return nil, err
	}
	refused, adv := f.checkOps(false)
	if refused != nil {
		return nil, s.unsupportedClause(refused.Name)
	}
	if adv != nil && !advanced {
		return nil, s.unsupportedClause(adv.Name)
	}
	if n := f.maxOr(); n > s.MaxOr {
		return nil, errorf(codeUnsupported, "Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.", n, s.MaxOr)
	}
	return f, nil
}

// Top is the page size: $top, or the schema's default.
func (q *Query) Top() int { return q.top }

// Skip is $skip (0 without one); only schemas with AllowSkip take it.
func (q *Query) Skip() int { return q.skip }

// Cursor is the position $skiptoken carried, "" on the first page.
func (q *Query) Cursor() string { return q.cursor }

// Count reports whether the response carries @odata.count ($count=true, as an advanced query).
func (q *Query) Count() bool { return q.count }

// Select is the $select list in canonical spelling; nil when there was none.
func (q *Query) Select() []string { return q.sel }

// Match reports whether an object passes $filter. get returns a property's value: string, bool,
// time.Time, a pointer to one of those, nil, or for collections []string or []any.
func (q *Query) Match(get func(prop string) any) bool {
	return q.filter == nil || q.filter.eval(get, nil)
}

// MatchMap is Match over a rendered object; a path (servicePrincipal/id) reads nested objects.
func (q *Query) MatchMap(m map[string]any) bool {
	return q.Match(func(p string) any { return pathValue(m, p) })
}

func pathValue(m map[string]any, path string) any {
	head, rest, nested := strings.Cut(path, "/")
	if !nested {
		return m[path]
	}
	inner, _ := m[head].(map[string]any)
	return pathValue(inner, rest)
}

// Pinned returns the values the filter pins prop to (prop eq 'x', prop in (...), alone or inside an
// `and`), so that a handler can look candidates up in an index instead of scanning. ok is false when the
// filter does not pin prop; values may then be empty (prop eq null pins to nothing).
func (q *Query) Pinned(prop string) (values []string, ok bool) {
	p := q.schema.lookup(prop)
	if q.filter == nil || p == nil {
		return nil, false
	}
	return q.filter.pinned(p.Name)
}

// Project applies $select, or the schema's defaults, to a fully rendered object. Annotations
// (@odata.type, ...) always stay; id stays when the schema keeps it. A selected property the object
// lacks renders as null, as Graph renders unset properties. Without $select and without defaults the
// object is copied whole.
func (q *Query) Project(full map[string]any) map[string]any {
	props := q.sel
	if props == nil {
		props = q.schema.Defaults
	}
	if props == nil {
		out := make(map[string]any, len(full))
		for k, v := range full {
			out[k] = v
		}
		return out
	}
	out := make(map[string]any, len(props)+2)
	for k, v := range full {
		if strings.HasPrefix(k, "@odata.") {
			out[k] = v
		}
	}
	if q.sel != nil && q.schema.SelectKeepsID {
		if id, ok := full["id"]; ok {
			out["id"] = id
		}
	}
	for _, p := range props {
		out[p] = full[p]
	}
	return out
}
