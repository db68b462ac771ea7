package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
)

func (s *API) getDirectoryObject(c *gctx) {
	id := c.param("id")
	if !isGUIDLiteral(id) {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", id))
		return
	}
	s.store.Mu.RLock()
	o, ok := s.store.FindObjectLocked(id, s.store.LagCheck())
	s.store.Mu.RUnlock()
	if !ok {
		c.notFound(id)
		return
	}
	var sel []string
	if raw, has := queryOption(c.query, "$select"); has {
		q, err := odata.ParseEntity(url.Values{"$select": {raw}}, odata.DirectoryObjects)
		if err != nil {
			c.error(err.Status, err.Code, err.Message)
			return
		}
		sel = q.Select()
	}
	s.store.Mu.RLock()
	full := c.objectJSON(o, sel)
	s.store.Mu.RUnlock()
	full["@odata.context"] = c.baseURL() + "/$metadata#directoryObjects/$entity"
	c.json(http.StatusOK, full)
}

var getByIDsTypes = map[string]string{"user": "user", "group": "group", "serviceprincipal": "servicePrincipal", "application": "application", "device": "device", "orgcontact": "orgContact", "directoryrole": "directoryRole"}

func (s *API) getByIDs(c *gctx) {
	m, ok := c.bodyFields("ids", "types")
	if !ok {
		return
	}
	var ids, types []string
	if raw, has := m["ids"]; !has || json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
		c.badRequest("Invalid value specified for property 'ids': a non-empty collection of object ids is required.")
		return
	}
	if len(ids) > MaxGetByIDs {
		c.badRequest(fmt.Sprintf("Too many ids specified: %d. Max allowed: %d.", len(ids), MaxGetByIDs))
		return
	}
	if raw, has := m["types"]; has && !isJSONNull(raw) && json.Unmarshal(raw, &types) != nil {
		c.badRequest("Invalid value specified for property 'types'.")
		return
	}
	want := map[string]bool{}
	for _, t := range types {
		name, ok := getByIDsTypes[strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(t, "#"), "microsoft.graph."))]
		if !ok {
			c.badRequest(fmt.Sprintf("Invalid value specified for property 'types': '%s' is not a directory object type.", t))
			return
		}
		want[name] = true
	}
	for _, id := range ids {
		if !isGUIDLiteral(id) {
			c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", id))
			return
		}
	}
	s.store.Mu.RLock()
	lagging := s.store.LagCheck()
	items := []map[string]any{}
	seen := map[string]bool{}
	for _, id := range ids {
		o, ok := s.store.FindObjectLocked(id, lagging)
		if !ok || seen[o.ID()] || (len(want) > 0 && !want[o.Kind()]) {
			continue
		}
		seen[o.ID()] = true
		items = append(items, c.objectJSON(o, nil))
	}
	s.store.Mu.RUnlock()
	c.json(http.StatusOK, map[string]any{"@odata.context": c.baseURL() + "/$metadata#directoryObjects", "value": items})
}
