package graphapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
)

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
