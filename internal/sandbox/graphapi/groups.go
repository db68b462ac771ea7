package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
)

func (s *API) countGroups(c *gctx) {
	s.countObjects(c, func() int {
		lagging := s.store.LagCheck()
		return countKeys(s.store.GroupIDs(), func(id string) bool { return !lagging(id) })
	})
}

// groupByIDLocked finds a visible group; a path id that is not a GUID answers 400 as Graph does.
func (s *API) groupByIDLocked(c *gctx, id string, lagging func(string) bool) (*directory.Group, bool) {
	if !isGUIDLiteral(id) {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", id))
		return nil, false
	}
	g, ok := s.store.Groups[strings.ToLower(id)]
	if !ok || lagging(g.ID) {
		c.notFound(id)
		return nil, false
	}
	return g, true
}

func (s *API) listGroups(c *gctx) {
	s.listTyped(c, typedCollection{name: "groups", schema: odata.Groups, ids: s.store.GroupIDs,
		indexes: []index{
			{"id", func(v string) (string, bool) {
				_, ok := s.store.Groups[strings.ToLower(v)]
				return strings.ToLower(v), ok
			}},
		},
		object: func(id string) (func(string) any, func() map[string]any, bool) {
			g, ok := s.store.Groups[id]
			return func(p string) any { return groupProp(g, p) }, func() map[string]any { return groupJSON(g) }, ok
		},
	})
}

func (s *API) getGroup(c *gctx) {
	s.store.Mu.RLock()
	g, ok := s.groupByIDLocked(c, c.param("id"), s.store.LagCheck())
	var full map[string]any
	if ok {
		full = groupJSON(g)
	}
	s.store.Mu.RUnlock()
	if !ok {
		return
	}
	out, ok := c.selectOne(odata.Groups, full)
	if !ok {
		return
	}
	out["@odata.context"] = c.baseURL() + "/$metadata#groups/$entity"
	c.json(http.StatusOK, out)
}

var groupWritableProps = []string{"displayName", "description", "mailEnabled", "mailNickname", "securityEnabled", "groupTypes", "members@odata.bind"}

func (s *API) createGroup(c *gctx) {
	m, ok := c.bodyFields(groupWritableProps...)
	if !ok {
		return
	}
	displayName, _, ok := c.jsonStr(m, "displayName", "Group", true, 256)
	if !ok {
		return
	}
	mailEnabled, _, ok := c.jsonBool(m, "mailEnabled", "Group", true)
	if !ok {
		return
	}
	nick, _, ok := c.jsonStr(m, "mailNickname", "Group", true, 64)
	if !ok {
		return
	}
	if !validMailNickname(*nick) {
		c.invalidProp("mailNickname", "Group")
		return
	}
	securityEnabled, _, ok := c.jsonBool(m, "securityEnabled", "Group", true)
	if !ok {
		return
	}
	desc, _, ok := c.jsonStr(m, "description", "Group", false, 1024)
	if !ok {
		return
	}
	groupTypes := []string{}
	if raw, has := m["groupTypes"]; has && !isJSONNull(raw) {
		if json.Unmarshal(raw, &groupTypes) != nil {
			c.invalidProp("groupTypes", "Group")
			return
		}
		for _, t := range groupTypes {
			if !strings.EqualFold(t, "Unified") {
				// DynamicMembership needs membershipRule, which the sandbox does not model.
				c.invalidProp("groupTypes", "Group")
				return
			}
		}
	}
	g := &directory.Group{ID: uuid.NewString(), DisplayName: *displayName, Description: desc, MailNickname: *nick,
		MailEnabled: mailEnabled, SecurityEnabled: securityEnabled, GroupTypes: groupTypes, CreatedDateTime: directory.GraphTime(s.clock.Now())}
	if mailEnabled && !isUnified(g) {
		c.badRequest("The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false.")
		return
	}
	var bind []string
	if raw, has := m["members@odata.bind"]; has {
		if json.Unmarshal(raw, &bind) != nil {
			c.invalidProp("members@odata.bind", "Group")
			return
		}
		if len(bind) > maxMembersBind {
			c.badRequest(fmt.Sprintf("The number of members specified in members@odata.bind exceeds the limit of %d.", maxMembersBind))
			return
		}
	}
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	lagging := s.store.LagCheck()
	for _, ref := range bind {
		id, ok := parseRef(ref)
		if !ok {
			c.badRequest(fmt.Sprintf("Invalid URL format specified in @odata.bind for members: '%s'.", ref))
			return
		}
		o, found := s.store.FindObjectLocked(id, lagging)
		if !found || o.App != nil {
			c.notFound(id)
			return
		}
		if !g.AddMember(id) {
			c.badRequest("One or more added object references already exist for the following modified properties: 'members'.")
			return
		}
	}
	s.store.Groups[g.ID] = g
	s.store.GroupAdded(g.ID)
	s.store.MarkCreated(g.ID)
	out := groupJSON(g)
	delete(out, "@odata.type")
	out["@odata.context"] = c.baseURL() + "/$metadata#groups/$entity"
	c.json(http.StatusCreated, out)
}

func (s *API) patchGroup(c *gctx) {
	m, ok := c.bodyFields("displayName", "description", "mailNickname", "mailEnabled", "securityEnabled")
	if !ok {
		return
	}
	displayName, hasDisplay, ok := c.jsonStr(m, "displayName", "Group", false, 256)
	if !ok {
		return
	}
	if hasDisplay && (displayName == nil || strings.TrimSpace(*displayName) == "") {
		c.invalidProp("displayName", "Group")
		return
	}
	nick, hasNick, ok := c.jsonStr(m, "mailNickname", "Group", false, 64)
	if !ok {
		return
	}
	if hasNick && (nick == nil || !validMailNickname(*nick)) {
		c.invalidProp("mailNickname", "Group")
		return
	}
	desc, hasDesc, ok := c.jsonStr(m, "description", "Group", false, 1024)
	if !ok {
		return
	}
	mailEnabled, hasMail, ok := c.jsonBool(m, "mailEnabled", "Group", false)
	if !ok {
		return
	}
	sec, hasSec, ok := c.jsonBool(m, "securityEnabled", "Group", false)
	if !ok {
		return
	}
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	g, ok := s.groupByIDLocked(c, c.param("id"), s.store.LagCheck())
	if !ok {
		return
	}
	if hasMail && mailEnabled != g.MailEnabled {
		c.badRequest("The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false.")
		return
	}
	if hasDisplay {
		g.DisplayName = *displayName
	}
	if hasNick {
		g.MailNickname = *nick
	}
	if hasDesc {
		g.Description = desc
	}
	if hasSec {
		g.SecurityEnabled = sec
	}
	c.noContent()
}

func (s *API) deleteGroup(c *gctx) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	g, ok := s.groupByIDLocked(c, c.param("id"), s.store.LagCheck())
	if !ok {
		return
	}
	delete(s.store.Groups, g.ID)
	s.store.GroupRemoved(g.ID)
	s.store.RemoveObjectReferencesLocked(g.ID)
	c.noContent()
}
