package graphapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
)

// The glue between the handlers and package odata, which owns the query grammar, $select, $top,
// $count and paging tokens for every collection.

// parseList reads the query options of a collection request; on error it has answered.
func (c *gctx) parseList(schema *odata.Schema) (*odata.Query, bool) {
	q, err := odata.Parse(c.query, c.r.Header, schema)
	if err != nil {
		c.error(err.Status, err.Code, err.Message)
		return nil, false
	}
	return q, true
}

// selectOne applies $select to a single object (no other options are allowed on an entity GET).
func (c *gctx) selectOne(schema *odata.Schema, full map[string]any) (map[string]any, bool) {
	q, err := odata.ParseEntity(c.query, schema)
	if err != nil {
		c.error(err.Status, err.Code, err.Message)
		return nil, false
	}
	out := q.Project(full)
	// Graph's directory entities come without @odata.type.
	delete(out, "@odata.type")
	return out, true
}

// writeCollection answers a collection page: value, @odata.nextLink when more remain (its skip token
// carries cursor), @odata.count when asked for.
func (c *gctx) writeCollection(context string, q *odata.Query, items []map[string]any, cursor string, more bool, count int) {
	next := ""
	if more {
		next = odata.NextLink(c.baseURL(), strings.TrimPrefix(c.r.URL.EscapedPath(), "/v1.0"), c.query, cursor)
	}
	c.json(http.StatusOK, q.Envelope(c.baseURL()+"/$metadata#"+context, items, next, count))
}

// appList answers a collection of rendered objects (applications, service principals, templates).
func (c *gctx) appList(items []map[string]any, schema *odata.Schema, context string) {
	q, ok := c.parseList(schema)
	if !ok {
		return
	}
	p := q.Page(items)
	c.writeCollection(context, q, p.Items, p.Cursor, p.More, p.Count)
}

// appEntity answers one rendered object, honouring $select.
func (c *gctx) appEntity(m map[string]any, schema *odata.Schema, context string) {
	q, err := odata.ParseEntity(c.query, schema)
	if err != nil {
		c.error(err.Status, err.Code, err.Message)
		return
	}
	out := q.Project(m)
	if _, has := out["@odata.context"]; !has {
		out["@odata.context"] = c.baseURL() + "/$metadata#" + context
	}
	c.json(http.StatusOK, out)
}

// projectProps keeps the annotations and the named properties (defaults when sel is nil) of a rendered
// object; objects of mixed types in one collection each project with their own defaults.
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

// queryOption reads a query option case-insensitively, as Graph does.
func queryOption(v url.Values, key string) (string, bool) {
	for k, vals := range v {
		if strings.EqualFold(k, key) && len(vals) > 0 {
			return vals[0], true
		}
	}
	return "", false
}

// isGUIDLiteral reports whether s is a GUID in its usual 8-4-4-4-12 form.
func isGUIDLiteral(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
