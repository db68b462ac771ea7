package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
)

// Users, groups, memberships and directory objects. Tests build whatever directory they need through
// these routes, so they validate as Graph does: a provider that sends what Graph refuses fails here.

// Permission sets, from Graph's permission tables for the application (app-only) case.
var (
	userReadAccess    = anyRole("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
	userWriteAccess   = anyRole("User.ReadWrite.All", "Directory.ReadWrite.All")
	groupReadAccess   = anyRole("Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
	groupCreateAccess = anyRole("Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All")
	groupWriteAccess  = anyRole("Group.ReadWrite.All", "Directory.ReadWrite.All")
	memberWriteAccess = anyRole("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
	dirObjectAccess   = anyRole("Directory.Read.All", "Directory.ReadWrite.All")
)

// Roles that let a caller see an object of each type in full inside a directoryObject collection;
// without one, Graph returns such members with only @odata.type and id.
var (
	userReadRoles  = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	groupReadRoles = []string{"Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	spReadRoles    = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

const (
	// MaxGetByIDs is the most ids POST /directoryObjects/getByIds takes.
	MaxGetByIDs = 1000
	// maxMembersBind is the most members@odata.bind a group create accepts.
	maxMembersBind = 20
)

// ---- indexes ----

// ---- rendering ----

func userJSON(u *directory.User) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.user",
		"id":          u.ID, "displayName": u.DisplayName, "userPrincipalName": u.UserPrincipalName,
		"mail": u.Mail, "mailNickname": u.MailNickname, "givenName": u.GivenName, "surname": u.Surname,
		"accountEnabled": u.AccountEnabled, "createdDateTime": u.CreatedDateTime, "businessPhones": []string{},
		"jobTitle": nil, "mobilePhone": nil, "officeLocation": nil, "preferredLanguage": nil, "deletedDateTime": nil,
	}
}

func userProp(u *directory.User, p string) any {
	switch p {
	case "id":
		return u.ID
	case "displayName":
		return u.DisplayName
	case "userPrincipalName":
		return u.UserPrincipalName
	case "mailNickname":
		return u.MailNickname
	case "accountEnabled":
		return u.AccountEnabled
	case "mail":
		return derefOrNil(u.Mail)
	case "givenName":
		return derefOrNil(u.GivenName)
	case "surname":
		return derefOrNil(u.Surname)
	}
	return nil
}

func derefOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func isUnified(g *directory.Group) bool {
	return slices.ContainsFunc(g.GroupTypes, func(t string) bool { return strings.EqualFold(t, "Unified") })
}

func groupMail(g *directory.Group) any {
	if g.MailEnabled {
		return g.MailNickname + "@" + directory.SeedDomain
	}
	return nil
}

func groupJSON(g *directory.Group) map[string]any {
	proxy := []string{}
	if m, ok := groupMail(g).(string); ok {
		proxy = []string{"SMTP:" + m}
	}
	vis := any(nil)
	if isUnified(g) {
		vis = "Public"
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.group",
		"id":          g.ID, "displayName": g.DisplayName, "description": g.Description, "mailNickname": g.MailNickname,
		"mailEnabled": g.MailEnabled, "securityEnabled": g.SecurityEnabled, "groupTypes": g.GroupTypes,
		"createdDateTime": g.CreatedDateTime, "mail": groupMail(g), "deletedDateTime": nil, "classification": nil,
		"isAssignableToRole": nil, "membershipRule": nil, "membershipRuleProcessingState": nil, "proxyAddresses": proxy,
		"renewedDateTime": g.CreatedDateTime, "securityIdentifier": groupSID(g.ID), "visibility": vis,
	}
}

// groupSID derives a stable security identifier in Entra's S-1-12-1 form from the object id.
func groupSID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return ""
	}
	part := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	return fmt.Sprintf("S-1-12-1-%d-%d-%d-%d", part(u[0:4]), part(u[4:8]), part(u[8:12]), part(u[12:16]))
}

func groupProp(g *directory.Group, p string) any {
	switch p {
	case "id":
		return g.ID
	case "displayName":
		return g.DisplayName
	case "mailNickname":
		return g.MailNickname
	case "description":
		return derefOrNil(g.Description)
	case "mailEnabled":
		return g.MailEnabled
	case "securityEnabled":
		return g.SecurityEnabled
	case "mail":
		return groupMail(g)
	}
	return nil
}

func spJSON(sp *directory.ServicePrincipal) map[string]any {
	b, _ := json.Marshal(sp)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["@odata.type"] = "#microsoft.graph.servicePrincipal"
	return m
}

func appObjectJSON(a *directory.Application) map[string]any {
	b, _ := json.Marshal(a)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["@odata.type"] = "#microsoft.graph.application"
	return m
}

// objectJSON renders a directory object for a directoryObject collection: its type's default
// properties (or sel), and only @odata.type and id when the caller may not read objects of its type
// (Graph's "limited information" for inaccessible members).
func (c *gctx) objectJSON(o directory.Object, sel []string) map[string]any {
	hasAny := func(roles []string) bool { return slices.ContainsFunc(roles, c.claims.has) }
	var full map[string]any
	var defaults []string
	switch {
	case o.User != nil:
		if !hasAny(userReadRoles) {
			return projectLimited(limitedJSON("#microsoft.graph.user", o.User.ID, odata.Users.Defaults), sel)
		}
		full, defaults = userJSON(o.User), odata.Users.Defaults
	case o.Group != nil:
		if !hasAny(groupReadRoles) {
			return projectLimited(limitedJSON("#microsoft.graph.group", o.Group.ID, odata.Groups.Defaults), sel)
		}
		full, defaults = groupJSON(o.Group), odata.Groups.Defaults
	case o.SP != nil:
		if !hasAny(spReadRoles) {
			return projectLimited(limitedJSON("#microsoft.graph.servicePrincipal", o.SP.ID, nil), sel)
		}
		full = spJSON(o.SP)
	case o.App != nil:
		if !hasAny(spReadRoles) {
			return projectLimited(limitedJSON("#microsoft.graph.application", o.App.ID, nil), sel)
		}
		full = appObjectJSON(o.App)
	}
	if sel != nil || defaults != nil {
		return projectProps(full, sel, defaults)
	}
	return full
}

func projectLimited(m map[string]any, sel []string) map[string]any {
	if sel == nil {
		return m
	}
	return projectProps(m, sel, nil)
}

func limitedJSON(odataType, id string, props []string) map[string]any {
	m := map[string]any{"@odata.type": odataType}
	for _, p := range props {
		m[p] = nil
	}
	m["id"] = id
	return m
}

// ---- routes ----

func (s *API) registerDirectoryRoutes(g *graphRouter) {
	g.handle(http.MethodGet, "/users/$count", userReadAccess, s.countUsers)
	g.handle(http.MethodGet, "/users", userReadAccess, s.listUsers)
	g.handle(http.MethodPost, "/users", userWriteAccess, s.createUser)
	g.handle(http.MethodGet, "/users/{id}", userReadAccess, s.getUser)
	g.handle(http.MethodPatch, "/users/{id}", userWriteAccess, s.patchUser)
	g.handle(http.MethodDelete, "/users/{id}", anyRole("User.ReadWrite.All", "User.DeleteRestore.All", "Directory.ReadWrite.All"), s.deleteUser)

	g.handle(http.MethodGet, "/groups/$count", groupReadAccess, s.countGroups)
	g.handle(http.MethodGet, "/groups", groupReadAccess, s.listGroups)
	g.handle(http.MethodPost, "/groups", groupCreateAccess, s.createGroup)
	g.handle(http.MethodGet, "/groups/{id}", groupReadAccess, s.getGroup)
	g.handle(http.MethodPatch, "/groups/{id}", groupWriteAccess, s.patchGroup)
	g.handle(http.MethodDelete, "/groups/{id}", groupWriteAccess, s.deleteGroup)

	g.handle(http.MethodGet, "/groups/{id}/members", groupReadAccess, s.listMembers(false, ""))
	g.handle(http.MethodGet, "/groups/{id}/transitiveMembers", groupReadAccess, s.listMembers(true, ""))
	// The SDK sends the casts as graph.user; Graph takes both spellings.
	for _, kind := range []string{"user", "group", "servicePrincipal"} {
		for _, ns := range []string{"microsoft.graph.", "graph."} {
			g.handle(http.MethodGet, "/groups/{id}/members/"+ns+kind, groupReadAccess, s.listMembers(false, kind))
			g.handle(http.MethodGet, "/groups/{id}/transitiveMembers/"+ns+kind, groupReadAccess, s.listMembers(true, kind))
		}
	}
	g.handle(http.MethodPost, "/groups/{id}/members/$ref", memberWriteAccess, s.addMember)
	g.handle(http.MethodDelete, "/groups/{id}/members/$ref", memberWriteAccess, s.removeMemberByQuery)
	g.handle(http.MethodDelete, "/groups/{id}/members/{memberId}/$ref", memberWriteAccess, s.removeMember)

	g.handle(http.MethodPost, "/directoryObjects/getByIds", dirObjectAccess, s.getByIDs)
	g.handle(http.MethodGet, "/directoryObjects/{id}", dirObjectAccess, s.getDirectoryObject)

	s.registerAssignmentRoutes(g)
}

// ---- users ----

func (s *API) listUsers(c *gctx) {
	q, ok := c.parseList(odata.Users)
	if !ok {
		return
	}
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	lagging := s.store.LagCheck()
	keys := s.store.UserIDs()
	if upns, ok := q.Pinned("userPrincipalName"); ok {
		keys = indexedKeys(upns, func(v string) (string, bool) { id, ok := s.store.UsersByUPN[strings.ToLower(v)]; return id, ok })
	} else if ids, ok := q.Pinned("id"); ok {
		keys = indexedKeys(ids, func(v string) (string, bool) {
			_, ok := s.store.Users[strings.ToLower(v)]
			return strings.ToLower(v), ok
		})
	}
	keep := func(id string) bool {
		u, ok := s.store.Users[id]
		return ok && !lagging(id) && q.Match(func(p string) any { return userProp(u, p) })
	}
	page, more := odata.PageSorted(keys, q.Cursor(), q.Top(), keep)
	items := make([]map[string]any, 0, len(page))
	for _, id := range page {
		items = append(items, q.Project(userJSON(s.store.Users[id])))
	}
	count := 0
	if q.Count() {
		count = countKeys(keys, keep)
	}
	c.writeCollection("users", q, withoutType(items), lastOf(page), more, count)
}

// withoutType drops @odata.type from items of a typed collection (/users), where Graph omits it.
func withoutType(items []map[string]any) []map[string]any {
	for _, it := range items {
		delete(it, "@odata.type")
	}
	return items
}

func indexedKeys(values []string, lookup func(string) (string, bool)) []string {
	var keys []string
	for _, v := range values {
		if id, ok := lookup(v); ok {
			keys = append(keys, id)
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

func countKeys(keys []string, keep func(string) bool) int {
	n := 0
	for _, k := range keys {
		if keep(k) {
			n++
		}
	}
	return n
}

func lastOf(page []string) string {
	if len(page) == 0 {
		return ""
	}
	return page[len(page)-1]
}

// countUsers answers GET /users/$count, an advanced query: without ConsistencyLevel it fails.
func (s *API) countUsers(c *gctx) {
	s.countObjects(c, func() int {
		lagging := s.store.LagCheck()
		return countKeys(s.store.UserIDs(), func(id string) bool { return !lagging(id) })
	})
}

func (s *API) countGroups(c *gctx) {
	s.countObjects(c, func() int {
		lagging := s.store.LagCheck()
		return countKeys(s.store.GroupIDs(), func(id string) bool { return !lagging(id) })
	})
}

func (s *API) countObjects(c *gctx, count func() int) {
	if !strings.EqualFold(c.r.Header.Get("ConsistencyLevel"), "eventual") {
		c.badRequest("$count is not currently supported.")
		return
	}
	if len(c.query) > 0 {
		c.error(http.StatusBadRequest, "Request_UnsupportedQuery", "Query options are not supported on $count by the sandbox.")
		return
	}
	s.store.Mu.RLock()
	n := count()
	s.store.Mu.RUnlock()
	c.w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(strconv.Itoa(n)))
}

func (s *API) getUser(c *gctx) {
	s.store.Mu.RLock()
	u, ok := s.store.UserLocked(c.param("id"), s.store.LagCheck())
	var full map[string]any
	if ok {
		full = userJSON(u)
	}
	s.store.Mu.RUnlock()
	if !ok {
		c.notFound(c.param("id"))
		return
	}
	out, ok := c.selectOne(odata.Users, full)
	if !ok {
		return
	}
	out["@odata.context"] = c.baseURL() + "/$metadata#users/$entity"
	c.json(http.StatusOK, out)
}

// bodyFields decodes a JSON object body and rejects properties the resource does not declare.
func (c *gctx) bodyFields(allowed ...string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !c.decode(&m) {
		return nil, false
	}
	if m == nil {
		c.badRequest("Empty Payload. JSON content expected.")
		return nil, false
	}
	keys := sortedKeys(m)
	for _, k := range keys {
		if strings.HasPrefix(k, "@odata.") || slices.Contains(allowed, k) {
			continue
		}
		c.badRequest(fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
		return nil, false
	}
	return m, true
}

func (c *gctx) invalidProp(prop, resource string) {
	c.badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource '%s'.", prop, resource))
}

func isJSONNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// jsonStr reads a string property; required ones reject null and blank values.
func (c *gctx) jsonStr(m map[string]json.RawMessage, prop, resource string, required bool, maxLen int) (val *string, present, ok bool) {
	raw, present := m[prop]
	if !present {
		if required {
			c.invalidProp(prop, resource)
			return nil, false, false
		}
		return nil, false, true
	}
	if isJSONNull(raw) {
		if required {
			c.invalidProp(prop, resource)
			return nil, true, false
		}
		return nil, true, true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil || (required && strings.TrimSpace(v) == "") || len([]rune(v)) > maxLen {
		c.invalidProp(prop, resource)
		return nil, true, false
	}
	return &v, true, true
}

func (c *gctx) jsonBool(m map[string]json.RawMessage, prop, resource string, required bool) (val, present, ok bool) {
	raw, present := m[prop]
	if !present {
		if required {
			c.invalidProp(prop, resource)
			return false, false, false
		}
		return false, false, true
	}
	if json.Unmarshal(raw, &val) != nil || isJSONNull(raw) {
		c.invalidProp(prop, resource)
		return false, true, false
	}
	return val, true, true
}

// validMailNickname applies Entra's rule: ASCII, no spaces and none of @()\[]";:<>,
func validMailNickname(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || strings.ContainsRune(`@()\[]";:<>,`, r) {
			return false
		}
	}
	return true
}

// validUPNLocal checks the part before '@' of a userPrincipalName.
func validUPNLocal(s string) bool {
	if s == "" || len(s) > 64 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !upnLocalRune(r) {
			return false
		}
	}
	return true
}

// upnLocalRune reports whether r may appear in the local part of a user principal name.
func upnLocalRune(r rune) bool {
	return r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("'.-_!#^~", r))
}

// checkUPN validates a userPrincipalName and its domain; on failure it has answered.
func (c *gctx) checkUPN(upn string) bool {
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || strings.Contains(domain, "@") || !validUPNLocal(local) || domain == "" {
		c.invalidProp("userPrincipalName", "User")
		return false
	}
	if !strings.EqualFold(domain, directory.SeedDomain) {
		c.badRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
		return false
	}
	return true
}

// checkPassword applies Entra's default policy: 8 to 256 characters, three of four character classes.
func (c *gctx) checkPasswordProfile(raw json.RawMessage, required bool) bool {
	var pp map[string]json.RawMessage
	if json.Unmarshal(raw, &pp) != nil || pp == nil {
		c.invalidProp("passwordProfile", "User")
		return false
	}
	for k := range pp {
		if !strings.HasPrefix(k, "@odata.") && !slices.Contains([]string{"password", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"}, k) {
			c.badRequest(fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
			return false
		}
	}
	for _, k := range []string{"forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"} {
		if _, _, ok := c.jsonBool(pp, k, "PasswordProfile", false); !ok {
			return false
		}
	}
	rawPw, ok := pp["password"]
	if !ok {
		if required {
			c.invalidProp("passwordProfile", "User")
			return false
		}
		return true
	}
	var pw string
	if json.Unmarshal(rawPw, &pw) != nil {
		c.invalidProp("passwordProfile", "User")
		return false
	}
	classes := 0
	for _, f := range []func(rune) bool{unicode.IsLower, unicode.IsUpper, unicode.IsDigit, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }} {
		if strings.IndexFunc(pw, f) >= 0 {
			classes++
		}
	}
	if n := len([]rune(pw)); n < 8 || n > 256 || classes < 3 {
		c.badRequest("The specified password does not comply with password complexity requirements. Please provide a different password.")
		return false
	}
	return true
}

var userWritableProps = []string{"accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile", "givenName", "surname", "mail"}

func (s *API) createUser(c *gctx) {
	m, ok := c.bodyFields(userWritableProps...)
	if !ok {
		return
	}
	enabled, _, ok := c.jsonBool(m, "accountEnabled", "User", true)
	if !ok {
		return
	}
	displayName, _, ok := c.jsonStr(m, "displayName", "User", true, 256)
	if !ok {
		return
	}
	nick, _, ok := c.jsonStr(m, "mailNickname", "User", true, 64)
	if !ok {
		return
	}
	if !validMailNickname(*nick) {
		c.invalidProp("mailNickname", "User")
		return
	}
	rawPP, ok := m["passwordProfile"]
	if !ok || isJSONNull(rawPP) {
		c.invalidProp("passwordProfile", "User")
		return
	}
	if !c.checkPasswordProfile(rawPP, true) {
		return
	}
	upn, _, ok := c.jsonStr(m, "userPrincipalName", "User", true, 113)
	if !ok || !c.checkUPN(*upn) {
		return
	}
	given, _, ok := c.jsonStr(m, "givenName", "User", false, 64)
	if !ok {
		return
	}
	surname, _, ok := c.jsonStr(m, "surname", "User", false, 64)
	if !ok {
		return
	}
	mail, _, ok := c.jsonStr(m, "mail", "User", false, 256)
	if !ok {
		return
	}
	if mail != nil && !strings.Contains(*mail, "@") {
		c.invalidProp("mail", "User")
		return
	}
	s.store.Mu.Lock()
	if _, dup := s.store.UsersByUPN[strings.ToLower(*upn)]; dup {
		s.store.Mu.Unlock()
		c.badRequest("Another object with the same value for property userPrincipalName already exists.")
		return
	}
	u := &directory.User{
		ID: uuid.NewString(), DisplayName: *displayName, UserPrincipalName: *upn, Mail: mail, MailNickname: *nick,
		GivenName: given, Surname: surname, AccountEnabled: enabled, CreatedDateTime: directory.GraphTime(directory.Now()),
	}
	s.store.Users[u.ID] = u
	s.store.UsersByUPN[strings.ToLower(u.UserPrincipalName)] = u.ID
	s.store.UserAdded(u.ID)
	s.store.MarkCreated(u.ID)
	out := projectProps(userJSON(u), nil, odata.Users.Defaults)
	s.store.Mu.Unlock()
	out["@odata.context"] = c.baseURL() + "/$metadata#users/$entity"
	c.json(http.StatusCreated, out)
}

func (s *API) patchUser(c *gctx) {
	m, ok := c.bodyFields(userWritableProps...)
	if !ok {
		return
	}
	enabled, hasEnabled, ok := c.jsonBool(m, "accountEnabled", "User", false)
	if !ok {
		return
	}
	var displayName, nick, upn, given, surname, mail *string
	var hasDisplay, hasNick, hasUPN, hasGiven, hasSurname, hasMail bool
	if displayName, hasDisplay, ok = c.jsonStr(m, "displayName", "User", false, 256); !ok {
		return
	}
	if hasDisplay && (displayName == nil || strings.TrimSpace(*displayName) == "") {
		c.invalidProp("displayName", "User")
		return
	}
	if nick, hasNick, ok = c.jsonStr(m, "mailNickname", "User", false, 64); !ok {
		return
	}
	if hasNick && (nick == nil || !validMailNickname(*nick)) {
		c.invalidProp("mailNickname", "User")
		return
	}
	if upn, hasUPN, ok = c.jsonStr(m, "userPrincipalName", "User", false, 113); !ok {
		return
	}
	if hasUPN && (upn == nil || !c.checkUPN(*upn)) {
		if upn == nil {
			c.invalidProp("userPrincipalName", "User")
		}
		return
	}
	if raw, has := m["passwordProfile"]; has && (isJSONNull(raw) || !c.checkPasswordProfile(raw, false)) {
		if isJSONNull(raw) {
			c.invalidProp("passwordProfile", "User")
		}
		return
	}
	if given, hasGiven, ok = c.jsonStr(m, "givenName", "User", false, 64); !ok {
		return
	}
	if surname, hasSurname, ok = c.jsonStr(m, "surname", "User", false, 64); !ok {
		return
	}
	if mail, hasMail, ok = c.jsonStr(m, "mail", "User", false, 256); !ok {
		return
	}
	if mail != nil && !strings.Contains(*mail, "@") {
		c.invalidProp("mail", "User")
		return
	}
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	u, found := s.store.UserLocked(c.param("id"), s.store.LagCheck())
	if !found {
		c.notFound(c.param("id"))
		return
	}
	if hasUPN && !strings.EqualFold(*upn, u.UserPrincipalName) {
		if _, dup := s.store.UsersByUPN[strings.ToLower(*upn)]; dup {
			c.badRequest("Another object with the same value for property userPrincipalName already exists.")
			return
		}
	}
	if hasUPN {
		delete(s.store.UsersByUPN, strings.ToLower(u.UserPrincipalName))
		u.UserPrincipalName = *upn
		s.store.UsersByUPN[strings.ToLower(*upn)] = u.ID
	}
	if hasEnabled {
		u.AccountEnabled = enabled
	}
	if hasDisplay {
		u.DisplayName = *displayName
	}
	if hasNick {
		u.MailNickname = *nick
	}
	if hasGiven {
		u.GivenName = given
	}
	if hasSurname {
		u.Surname = surname
	}
	if hasMail {
		u.Mail = mail
	}
	c.noContent()
}

func (s *API) deleteUser(c *gctx) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	u, ok := s.store.UserLocked(c.param("id"), s.store.LagCheck())
	if !ok {
		c.notFound(c.param("id"))
		return
	}
	delete(s.store.Users, u.ID)
	delete(s.store.UsersByUPN, strings.ToLower(u.UserPrincipalName))
	s.store.UserRemoved(u.ID)
	s.store.RemoveObjectReferencesLocked(u.ID)
	c.noContent()
}

// ---- groups ----

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
	q, ok := c.parseList(odata.Groups)
	if !ok {
		return
	}
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	lagging := s.store.LagCheck()
	keys := s.store.GroupIDs()
	if ids, ok := q.Pinned("id"); ok {
		keys = indexedKeys(ids, func(v string) (string, bool) {
			_, ok := s.store.Groups[strings.ToLower(v)]
			return strings.ToLower(v), ok
		})
	}
	keep := func(id string) bool {
		g, ok := s.store.Groups[id]
		return ok && !lagging(id) && q.Match(func(p string) any { return groupProp(g, p) })
	}
	page, more := odata.PageSorted(keys, q.Cursor(), q.Top(), keep)
	items := make([]map[string]any, 0, len(page))
	for _, id := range page {
		items = append(items, q.Project(groupJSON(s.store.Groups[id])))
	}
	count := 0
	if q.Count() {
		count = countKeys(keys, keep)
	}
	c.writeCollection("groups", q, withoutType(items), lastOf(page), more, count)
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

// parseRef reads a directory object reference URL (…/v1.0/directoryObjects/{id}, or users, groups,
// servicePrincipals) and returns the id.
func parseRef(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	segs := splitPath(u.Path)
	if len(segs) < 3 {
		return "", false
	}
	ver, coll, id := segs[len(segs)-3], segs[len(segs)-2], segs[len(segs)-1]
	if ver != "v1.0" && ver != "beta" {
		return "", false
	}
	switch strings.ToLower(coll) {
	case "directoryobjects", "users", "groups", "serviceprincipals", "devices", "orgcontacts":
	default:
		return "", false
	}
	if !isGUIDLiteral(id) {
		return "", false
	}
	return strings.ToLower(id), true
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
		MailEnabled: mailEnabled, SecurityEnabled: securityEnabled, GroupTypes: groupTypes, CreatedDateTime: directory.GraphTime(directory.Now())}
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
		if slices.Contains(g.Members, id) {
			c.badRequest("One or more added object references already exist for the following modified properties: 'members'.")
			return
		}
		g.Members = append(g.Members, id)
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

// ---- members ----

// listMembers serves members and transitiveMembers, optionally cast to one type (user, group,
// servicePrincipal).
func (s *API) listMembers(transitive bool, cast string) func(c *gctx) {
	return func(c *gctx) {
		if _, has := queryOption(c.query, "$filter"); has {
			c.error(http.StatusBadRequest, "Request_UnsupportedQuery", "$filter on group members is not supported by the sandbox.")
			return
		}
		et := odata.DirectoryObjects
		switch cast {
		case "user":
			et = odata.Users
		case "group":
			et = odata.Groups
		}
		q, ok := c.parseList(et)
		if !ok {
			return
		}
		s.store.Mu.RLock()
		defer s.store.Mu.RUnlock()
		lagging := s.store.LagCheck()
		g, ok := s.groupByIDLocked(c, c.param("id"), lagging)
		if !ok {
			return
		}
		keys := g.Members
		if transitive {
			keys = s.store.TransitiveMembersLocked(g)
		}
		objects := map[string]directory.Object{}
		keep := func(id string) bool {
			o, ok := s.store.FindObjectLocked(id, lagging)
			if !ok || (cast != "" && o.Kind() != cast) {
				return false
			}
			objects[id] = o
			return true
		}
		page, next, more := odata.PageOffset(keys, q.Cursor(), q.Top(), keep)
		items := make([]map[string]any, 0, len(page))
		for _, id := range page {
			items = append(items, c.objectJSON(objects[id], q.Select()))
		}
		if cast != "" {
			withoutType(items)
		}
		count := 0
		if q.Count() {
			count = countKeys(keys, keep)
		}
		ctx := "directoryObjects"
		if cast != "" {
			ctx = cast + "s"
		}
		c.writeCollection(ctx, q, items, next, more, count)
	}
}

func (s *API) addMember(c *gctx) {
	m, ok := c.bodyFields("@odata.id")
	if !ok {
		return
	}
	var ref string
	if raw, has := m["@odata.id"]; !has || json.Unmarshal(raw, &ref) != nil {
		c.badRequest("Invalid request body: the reference must be given as @odata.id.")
		return
	}
	id, ok := parseRef(ref)
	if !ok {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", ref))
		return
	}
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	lagging := s.store.LagCheck()
	g, ok := s.groupByIDLocked(c, c.param("id"), lagging)
	if !ok {
		return
	}
	o, found := s.store.FindObjectLocked(id, lagging)
	if !found || o.App != nil {
		c.notFound(id)
		return
	}
	if slices.Contains(g.Members, id) {
		c.badRequest("One or more added object references already exist for the following modified properties: 'members'.")
		return
	}
	g.Members = append(slices.Clip(g.Members), id)
	c.noContent()
}

func (s *API) removeMember(c *gctx) { s.removeMemberID(c, c.param("memberId")) }

// removeMemberByQuery serves DELETE /groups/{id}/members/$ref?$id=<url>, the form the SDK also builds.
func (s *API) removeMemberByQuery(c *gctx) {
	ref, ok := queryOption(c.query, "$id")
	if !ok {
		ref, ok = queryOption(c.query, "@id")
	}
	if !ok {
		c.badRequest("The $id query option is required to delete a reference.")
		return
	}
	id, ok := parseRef(ref)
	if !ok {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", ref))
		return
	}
	s.removeMemberID(c, id)
}

func (s *API) removeMemberID(c *gctx, memberID string) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	g, ok := s.groupByIDLocked(c, c.param("id"), s.store.LagCheck())
	if !ok {
		return
	}
	i := slices.Index(g.Members, strings.ToLower(memberID))
	if i < 0 {
		c.notFound(memberID)
		return
	}
	g.Members = slices.Delete(slices.Clone(g.Members), i, i+1)
	c.noContent()
}

// ---- directory objects ----

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
