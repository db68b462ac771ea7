package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
)

func (s *API) listUsers(c *gctx) {
	s.listTyped(c, typedCollection{name: "users", schema: odata.Users, ids: s.store.UserIDs,
		indexes: []index{
			{"userPrincipalName", func(v string) (string, bool) { id, ok := s.store.UsersByUPN[strings.ToLower(v)]; return id, ok }},
			{"id", func(v string) (string, bool) {
				_, ok := s.store.Users[strings.ToLower(v)]
				return strings.ToLower(v), ok
			}},
		},
		object: func(id string) (func(string) any, func() map[string]any, bool) {
			u, ok := s.store.Users[id]
			return func(p string) any { return userProp(u, p) }, func() map[string]any { return userJSON(u) }, ok
		},
	})
}

// countUsers answers GET /users/$count, an advanced query: without ConsistencyLevel it fails.
func (s *API) countUsers(c *gctx) {
	s.countObjects(c, func() int {
		lagging := s.store.LagCheck()
		return countKeys(s.store.UserIDs(), func(id string) bool { return !lagging(id) })
	})
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
		GivenName: given, Surname: surname, AccountEnabled: enabled, CreatedDateTime: directory.GraphTime(s.clock.Now()),
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
