package netskope

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/scim2/filter-parser/v2"
)

// snapshot renders every record in creation order, for inspection outside an HTTP exchange.
func (c *collection) snapshot() []map[string]any {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	out := []map[string]any{}
	for _, rec := range c.sorted(c.records) {
		out = append(out, c.render(rec))
	}
	return out
}

// render is the JSON form of a record as a SCIM client would read it, less meta.location (which
// depends on the host a request came in on).
func (c *collection) render(rec *record) map[string]any {
	res := c.resource(rec)
	m := deepCopy(res.Attributes).(map[string]any)
	m["id"] = rec.id
	if rec.hasExtID {
		m["externalId"] = rec.externalID
	}
	schemas := []any{c.rt.Schema.ID}
	for _, e := range c.rt.SchemaExtensions {
		schemas = append(schemas, e.Schema.ID)
	}
	m["schemas"] = schemas
	m["meta"] = map[string]any{
		"resourceType": c.rt.Name,
		"created":      rec.created.Format(time.RFC3339),
		"lastModified": rec.modified.Format(time.RFC3339),
		"version":      res.Meta.Version,
	}
	// A JSON round trip gives inspection callers the same types a SCIM client decodes.
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// resource is the library's view of a record: a copy, so the library cannot reach stored state.
func (c *collection) resource(rec *record) scim.Resource {
	attrs := deepCopy(rec.attrs).(map[string]any)
	if c.derive != nil {
		c.derive(rec, attrs)
	}
	created, modified := rec.created, rec.modified
	res := scim.Resource{ID: rec.id, Attributes: attrs,
		Meta: scim.Meta{Created: &created, LastModified: &modified, Version: fmt.Sprintf(`W/"%d"`, rec.version)}}
	if rec.hasExtID {
		res.ExternalID = optional.NewString(rec.externalID)
	}
	return res
}

// sorted lists records in creation order, so listings are stable.
func (c *collection) sorted(m map[string]*record) []*record {
	out := make([]*record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return sortBySeq(out)
}

func sortBySeq(recs []*record) []*record {
	sort.Slice(recs, func(i, j int) bool { return recs[i].seq < recs[j].seq })
	return recs
}

// filterView is what a filter is evaluated against: the attributes plus the common ones.
func filterView(rec *record) map[string]any {
	m := make(map[string]any, len(rec.attrs)+2)
	for k, v := range rec.attrs {
		m[k] = v
	}
	m["id"] = rec.id
	if rec.hasExtID {
		m["externalId"] = rec.externalID
	}
	return m
}

// list is GetAll's page: filter, then 1-based paging, then excludedAttributes.
func (c *collection) list(r *http.Request, params scim.ListRequestParams) scim.Page {
	var hits []*record
	candidates := c.records
	if sub, ok := c.indexed(params); ok {
		candidates = sub
	}
	for _, rec := range c.sorted(candidates) {
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterView(rec)) != nil {
			continue
		}
		hits = append(hits, rec)
	}
	page := scim.Page{TotalResults: len(hits), Resources: []scim.Resource{}}
	start := max(params.StartIndex-1, 0)
	for i := start; i < len(hits) && i < start+params.Count; i++ {
		page.Resources = append(page.Resources, excludeAttributes(r, c.resource(hits[i])))
	}
	return page
}

// indexed narrows a `<nameAttr> eq` lookup, the filter Entra sends, to the one candidate the index
// knows; the filter itself still decides.
func (c *collection) indexed(params scim.ListRequestParams) (map[string]*record, bool) {
	if params.FilterValidator == nil {
		return nil, false
	}
	e, ok := params.FilterValidator.GetFilter().(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil {
		return nil, false
	}
	v, ok := e.CompareValue.(string)
	if !ok {
		return nil, false
	}
	if uri := e.AttributePath.URI(); !strings.EqualFold(e.AttributePath.AttributeName, c.nameAttr) || (uri != "" && uri != c.rt.Schema.ID) {
		return nil, false
	}
	out := map[string]*record{}
	if id, ok := c.byName[lower(v)]; ok {
		out[id] = c.records[id]
	}
	return out, true
}

// excludeAttributes honours ?excludedAttributes= (Entra sends excludedAttributes=members on group
// lookups); id, schemas and meta are always returned.
func excludeAttributes(r *http.Request, res scim.Resource) scim.Resource {
	ex := r.URL.Query().Get("excludedAttributes")
	if ex == "" {
		return res
	}
	for _, name := range strings.Split(ex, ",") {
		name = strings.TrimSpace(name)
		for k := range res.Attributes {
			if strings.EqualFold(k, name) {
				delete(res.Attributes, k)
			}
		}
	}
	return res
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case scim.ResourceAttributes:
		return deepCopy(map[string]any(t))
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}
