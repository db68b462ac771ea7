package graphapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// The synchronization schema: the attribute mappings a job provisions with, first copied from its
// template. The provisioning engine computes every SCIM payload from the job's current schema.

func (s *API) registerSyncSchemaRoutes(g *graphRouter, base string) {
	// GET, PUT and DELETE: a PATCH (what the SDK offers) gets the pipeline's 404 UnknownError, as from Graph.
	g.handle(http.MethodGet, base+"/templates/{templateId}/schema", syncReadAccess, s.getSyncTemplateSchema)
	g.handle(http.MethodGet, base+"/jobs/{jobId}/schema", syncReadAccess, s.getSyncSchema)
	g.handle(http.MethodPut, base+"/jobs/{jobId}/schema", syncWriteAccess, s.putSyncSchema)
	g.handle(http.MethodDelete, base+"/jobs/{jobId}/schema", syncWriteAccess, s.deleteSyncSchema)
}

// templateJSON renders a template as Graph does: its schema is a navigation property, read on its own
// (GET .../templates/{id}/schema), not inlined.
func templateJSON(t *directory.SyncTemplate) map[string]any {
	m := appJSONMap(t)
	delete(m, "schema")
	return m
}

// Expressions of the Netskope template, in the JSON shape of Graph's attributeMappingSource.
func attrSource(name string) map[string]any {
	return map[string]any{"expression": "[" + name + "]", "name": name, "type": "Attribute", "parameters": []any{}}
}

func constSource(v string) map[string]any {
	return map[string]any{"expression": strconv.Quote(v), "name": v, "type": "Constant", "parameters": []any{}}
}

// softDeletedSwitch is how Entra's SCIM templates compute active: the opposite of IsSoftDeleted.
func softDeletedSwitch() map[string]any {
	param := func(k string, v map[string]any) map[string]any { return map[string]any{"key": k, "value": v} }
	return map[string]any{"expression": `Switch([IsSoftDeleted], , "False", "True", "True", "False")`, "name": "Switch", "type": "Function",
		"parameters": []any{param("source", attrSource("IsSoftDeleted")), param("defaultValue", constSource("")),
			param("key", constSource("False")), param("value", constSource("True")),
			param("key", constSource("True")), param("value", constSource("False"))}}
}

// syncSchemaJSON is the template's schema: the Netskope app's default mappings (Netskope's guide says
// they "are fixed and should not be changed"), and the attributes each directory declares. Entra's
// side declares what the engine can read of a user and a group; Netskope's side what its SCIM API takes.
func syncSchemaJSON(factoryTag string) json.RawMessage {
	attr := func(name, typ string) map[string]any {
		return map[string]any{"name": name, "type": typ, "anchor": false, "caseExact": false, "multivalued": false,
			"mutability": "ReadWrite", "required": false, "flowNullValues": false, "referencedObjects": []any{}, "apiExpressions": []any{}, "metadata": []any{}}
	}
	attrs := func(typ string, names ...string) []any {
		var out []any
		for _, n := range names {
			t := typ
			if strings.Contains(n, ":") {
				n, t, _ = strings.Cut(n, ":")
			}
			out = append(out, attr(n, t))
		}
		return out
	}
	mapping := func(target string, source map[string]any) map[string]any {
		return map[string]any{"defaultValue": "", "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged",
			"flowType": "Always", "matchingPriority": 0, "targetAttributeName": target, "source": source}
	}
	match := func(m map[string]any) map[string]any { m["matchingPriority"] = 1; return m }
	userTarget := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	groupTarget := "urn:ietf:params:scim:schemas:core:2.0:Group"
	object := func(name string, attributes []any) map[string]any {
		return map[string]any{"name": name, "supportedApis": []any{}, "metadata": []any{}, "attributes": attributes}
	}
	schema := map[string]any{
		"version": "Date:2024-05-14; Template:" + factoryTag + "; Version:1",
		"directories": []any{
			map[string]any{"id": "AzureActiveDirectory", "name": "Azure Active Directory", "discoverabilities": "None", "readOnly": true, "version": "1", "objects": []any{
				object("User", attrs("String", "userPrincipalName", "mail", "displayName", "givenName", "surname", "objectId",
					"mailNickname", "accountEnabled:Boolean", "IsSoftDeleted:Boolean")),
				object("Group", attrs("String", "displayName", "objectId", "mailNickname", "members:Reference")),
			}},
			map[string]any{"id": factoryTag, "name": "customappsso", "discoverabilities": "AttributeNames", "readOnly": false, "version": "1", "objects": []any{
				object(userTarget, attrs("String", "userName", "active:Boolean", "displayName", `emails[type eq "work"].value`,
					"name.givenName", "name.familyName", "externalId")),
				object(groupTarget, attrs("String", "displayName", "externalId", "members:Reference")),
			}},
		},
		"synchronizationRules": []any{map[string]any{
			"id": SyncRuleID(factoryTag), "name": "USER_OUTBOUND_USER", "editable": true, "priority": 1,
			"sourceDirectoryName": "Azure Active Directory", "targetDirectoryName": "customappsso",
			"containerFilter": map[string]any{"includedContainers": []any{}}, "groupFilter": map[string]any{"includedGroups": []any{}},
			"metadata": []any{map[string]any{"key": "defaultSourceObjectMappings", "value": "User,Group"}},
			"objectMappings": []any{
				map[string]any{"enabled": true, "flowTypes": "Add, Update, Delete", "name": "Provision Microsoft Entra ID Users",
					"sourceObjectName": "User", "targetObjectName": userTarget, "metadata": []any{}, "scope": nil,
					"attributeMappings": []any{
						match(mapping("userName", attrSource("userPrincipalName"))), mapping("active", softDeletedSwitch()),
						mapping("displayName", attrSource("displayName")), mapping(`emails[type eq "work"].value`, attrSource("mail")),
						mapping("name.givenName", attrSource("givenName")), mapping("name.familyName", attrSource("surname")),
						mapping("externalId", attrSource("objectId"))}},
				map[string]any{"enabled": true, "flowTypes": "Add, Update, Delete", "name": "Provision Microsoft Entra ID Groups",
					"sourceObjectName": "Group", "targetObjectName": groupTarget, "metadata": []any{}, "scope": nil,
					"attributeMappings": []any{
						match(mapping("displayName", attrSource("displayName"))), mapping("externalId", attrSource("objectId")),
						mapping("members", attrSource("members"))}},
			},
		}},
	}
	b, err := json.Marshal(schema)
	if err != nil {
		panic(err)
	}
	return b
}

// renderSchema answers a schema with its @odata.context.
func (c *gctx) renderSchema(raw json.RawMessage, context string) {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{}
	}
	m["@odata.context"] = c.baseURL() + "/$metadata#servicePrincipals('" + c.param("id") + "')/synchronization/" + context + "/schema/$entity"
	c.json(http.StatusOK, m)
}

func (s *API) getSyncTemplateSchema(c *gctx) {
	s.store.Mu.RLock()
	sp, ok := s.syncSP(c)
	var raw json.RawMessage
	found := false
	if ok && sp.Sync != nil {
		for _, t := range sp.Sync.Templates {
			if t.ID == c.param("templateId") {
				raw, found = t.Schema, true
			}
		}
	}
	s.store.Mu.RUnlock()
	switch {
	case !ok:
	case !found:
		c.notFound(c.param("templateId"))
	default:
		c.renderSchema(raw, "templates('"+c.param("templateId")+"')")
	}
}

func (s *API) getSyncSchema(c *gctx) {
	s.store.Mu.RLock()
	_, j, ok := s.syncJob(c)
	var raw json.RawMessage
	if ok {
		raw = j.Schema
	}
	s.store.Mu.RUnlock()
	if ok {
		c.renderSchema(raw, "jobs('"+c.param("jobId")+"')")
	}
}

// putSyncSchema replaces the whole schema (attribute mappings). A partial schema, as a PATCH would
// send, is refused, and so is one whose mappings name undeclared attributes or unknown functions.
func (s *API) putSyncSchema(c *gctx) {
	var m map[string]json.RawMessage
	if !c.decode(&m) {
		return
	}
	delete(m, "@odata.context")
	var dirs []map[string]any
	var rules []map[string]any
	if err := json.Unmarshal(m["directories"], &dirs); err != nil || len(dirs) == 0 {
		c.badRequest("The schema must contain 'directories': PUT replaces the whole schema.")
		return
	}
	if err := json.Unmarshal(m["synchronizationRules"], &rules); err != nil || len(rules) == 0 {
		c.badRequest("The schema must contain 'synchronizationRules': PUT replaces the whole schema.")
		return
	}
	for _, r := range rules {
		if id, _ := r["id"].(string); id == "" {
			c.badRequest("Every synchronization rule needs its 'id'.")
			return
		}
		if _, ok := r["objectMappings"].([]any); !ok {
			c.badRequest("Every synchronization rule needs its 'objectMappings'.")
			return
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.badRequest(err.Error())
		return
	}
	if err := provisioning.ValidateSchema(b); err != nil {
		c.badRequest(err.Error())
		return
	}
	s.setSchema(c, func(*directory.ServicePrincipal, *directory.SyncJob) json.RawMessage { return b })
}

// deleteSyncSchema restores the template's schema. Guess: Graph documents no DELETE of a job's
// schema; the sandbox answers it as a reset to the template, which is what the portal's "Restore
// default mappings" does. The provider resets with a PUT of the template's schema, which Graph documents.
func (s *API) deleteSyncSchema(c *gctx) {
	s.setSchema(c, func(sp *directory.ServicePrincipal, j *directory.SyncJob) json.RawMessage {
		for _, t := range sp.Sync.Templates {
			if t.ID == j.TemplateID {
				return t.Schema
			}
		}
		return j.Schema
	})
}

// setSchema saves a job's new schema. As in Entra, a schema change makes the next cycle a full one:
// the watermark is reset (in the sandbox every cycle evaluates every object in scope against what it
// last exported, so a changed mapping reaches Netskope in the next cycle either way).
func (s *API) setSchema(c *gctx, schema func(*directory.ServicePrincipal, *directory.SyncJob) json.RawMessage) {
	s.store.Mu.Lock()
	sp, j, ok := s.syncJob(c)
	if ok {
		j.Schema = withSchemaID(schema(sp, j), j.ID)
		j.Status.Progress = []any{}
	}
	s.store.Mu.Unlock()
	if ok {
		c.noContent()
	}
}

// keepSchemaLocked remembers a deleted job's schema when the SchemaOnJobDelete fault says Entra does.
// Callers hold store.mu for writing.
func (s *API) keepSchemaLocked(sp *directory.ServicePrincipal, j *directory.SyncJob) {
	if s.faults.get().SchemaOnJobDelete != SchemaOnJobDeleteKeep {
		return
	}
	if sp.Sync.KeptSchemas == nil {
		sp.Sync.KeptSchemas = map[string]json.RawMessage{}
	}
	sp.Sync.KeptSchemas[j.TemplateID] = j.Schema
}
