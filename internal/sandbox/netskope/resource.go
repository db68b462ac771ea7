package netskope

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/google/uuid"
)

// collection is one resource type of a tenant (Users or Groups) and the library's handler for it.
// Both behave the same except where the hooks say otherwise, so a fix to one is a fix to both.
// Every method that reads or writes records runs under t.mu.
type collection struct {
	t  *Tenant
	rt scim.ResourceType

	noun     string // "user", "group": how error details name a resource
	nameAttr string // the unique, case-insensitive attribute Entra looks objects up by
	records  map[string]*record
	// byName indexes lower(nameAttr) -> id, so a cycle over 50,000 users does not scan the tenant
	// per user.
	byName map[string]string

	// defaults fills what a full write (Create, Replace) may leave out; nil for none.
	defaults func(rec *record)
	// validate checks what the name checks do not; nil for nothing. It may normalise rec.
	validate func(rec *record) error
	// derive adds read-only attributes computed from elsewhere at render time; nil for none.
	derive func(rec *record, attrs map[string]any)
	// forget drops references to a deleted record from other collections; nil for none.
	forget func(id string)
}

// record is a stored resource. attrs holds what the client wrote, validated by the library, with
// the enterprise extension nested under its schema URI; id, externalId and meta live beside it.
type record struct {
	id         string
	externalID string
	hasExtID   bool
	attrs      map[string]any
	created    time.Time
	modified   time.Time
	version    int
	seq        int64
}

func newCollection(t *Tenant, noun, nameAttr string, rt scim.ResourceType) *collection {
	c := &collection{t: t, noun: noun, nameAttr: nameAttr, records: map[string]*record{}, byName: map[string]string{}}
	rt.Handler = c
	c.rt = rt
	return c
}

func newUsers(t *Tenant) *collection {
	c := newCollection(t, "user", "userName", scim.ResourceType{
		ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
		Description: optional.NewString("User Account"),
		Schema:      schema.CoreUserSchema(),
		SchemaExtensions: []scim.SchemaExtension{
			{Schema: schema.ExtensionEnterpriseUser()},
		},
	})
	// Entra may leave active out of a create; Netskope treats such a user as active.
	c.defaults = func(rec *record) {
		if _, ok := rec.attrs["active"]; !ok {
			rec.attrs["active"] = true
		}
	}
	c.derive = t.userGroups
	c.forget = t.dropMember
	return c
}

func newGroups(t *Tenant) *collection {
	c := newCollection(t, "group", "displayName", scim.ResourceType{
		ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
		Description: optional.NewString("Group"),
		Schema:      schema.CoreGroupSchema(),
	})
	c.validate = t.checkMembers
	return c
}

// userGroups is the user's read-only groups attribute, computed from group membership as the
// schema defines.
func (t *Tenant) userGroups(rec *record, attrs map[string]any) {
	// Collect first, sort the few hits: sorting every group for every user would cost a large
	// listing dearly.
	var in []*record
	for _, g := range t.groups.records {
		if slices.Contains(MemberIDs(g.attrs), rec.id) {
			in = append(in, g)
		}
	}
	var groups []any
	for _, g := range sortBySeq(in) {
		groups = append(groups, map[string]any{"value": g.id, "display": g.attrs["displayName"], "type": "direct"})
	}
	if len(groups) > 0 {
		attrs["groups"] = groups
	}
}

// dropMember takes a deleted user out of every group it was in.
func (t *Tenant) dropMember(id string) {
	for _, g := range t.groups.records {
		if slices.Contains(MemberIDs(g.attrs), id) {
			g.attrs["members"] = withoutMembers(g.attrs["members"], map[string]bool{id: true})
			g.touch()
		}
	}
}

// checkMembers requires members to be users of this tenant (Netskope takes no nested groups),
// drops repeats, and fills in each member's display.
func (t *Tenant) checkMembers(rec *record) error {
	raw, ok := rec.attrs["members"]
	if !ok || raw == nil {
		return nil
	}
	list, _ := raw.([]any)
	seen := map[string]bool{}
	members := []any{}
	for _, m := range list {
		mm, _ := m.(map[string]any)
		v, _ := mm["value"].(string)
		if v == "" {
			return badValue("Every member needs a value (the id of a user).")
		}
		u, ok := t.users.records[v]
		if !ok {
			return badValue(fmt.Sprintf("Member %q is not a user of this tenant.", v))
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		members = append(members, map[string]any{"value": v, "display": u.attrs["userName"], "type": "User"})
	}
	if len(members) == 0 {
		delete(rec.attrs, "members")
	} else {
		rec.attrs["members"] = members
	}
	return nil
}

func badValue(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail, Status: http.StatusBadRequest}
}

func uniqueness(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Detail: detail, Status: http.StatusConflict}
}

// check enforces a non-empty name that no other record has (compared case-insensitively, as
// caseExact is false for both userName and displayName), then the collection's own rules.
func (c *collection) check(rec *record) error {
	name, _ := rec.attrs[c.nameAttr].(string)
	if strings.TrimSpace(name) == "" {
		return badValue(c.nameAttr + " is required.")
	}
	if id, ok := c.byName[lower(name)]; ok && id != rec.id {
		return uniqueness(fmt.Sprintf("A %s with %s %q already exists.", c.noun, c.nameAttr, name))
	}
	if c.validate != nil {
		return c.validate(rec)
	}
	return nil
}

// put stores a record and keeps the name index.
func (c *collection) put(rec *record) {
	if old, ok := c.records[rec.id]; ok {
		delete(c.byName, lower(fmt.Sprint(old.attrs[c.nameAttr])))
	}
	c.records[rec.id] = rec
	c.byName[lower(fmt.Sprint(rec.attrs[c.nameAttr]))] = rec.id
}

// write checks a changed copy of a record and, if it passes, stores it as the next version. Checking
// a copy is what keeps a failed write from changing anything.
func (c *collection) write(rec *record, fresh bool) (scim.Resource, error) {
	if err := c.check(rec); err != nil {
		if fresh {
			c.t.seq-- // the sequence orders listings; a rejected create leaves no gap
		}
		return scim.Resource{}, err
	}
	if !fresh {
		rec.touch()
	}
	c.put(rec)
	return c.resource(rec), nil
}

// Create implements scim.ResourceHandler.
func (c *collection) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	c.t.seq++
	n := now()
	rec := &record{id: uuid.NewString(), created: n, modified: n, version: 1, seq: c.t.seq}
	rec.setAttrs(attrs)
	if c.defaults != nil {
		c.defaults(rec)
	}
	return c.write(rec, true)
}

// Get implements scim.ResourceHandler.
func (c *collection) Get(r *http.Request, id string) (scim.Resource, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	rec, ok := c.records[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return excludeAttributes(r, c.resource(rec)), nil
}

// GetAll implements scim.ResourceHandler.
func (c *collection) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.list(r, params), nil
}

// Replace implements scim.ResourceHandler.
func (c *collection) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	old, ok := c.records[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.setAttrs(attrs)
	if c.defaults != nil {
		c.defaults(&rec)
	}
	return c.write(&rec, false)
}

// Patch implements scim.ResourceHandler.
func (c *collection) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	old, ok := c.records[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.attrs = deepCopy(old.attrs).(map[string]any)
	if err := applyPatch(&rec, c.rt, ops); err != nil {
		return scim.Resource{}, err
	}
	return c.write(&rec, false)
}

// Delete implements scim.ResourceHandler.
func (c *collection) Delete(r *http.Request, id string) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	rec, ok := c.records[id]
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(c.byName, lower(fmt.Sprint(rec.attrs[c.nameAttr])))
	delete(c.records, id)
	if c.forget != nil {
		c.forget(id)
	}
	return nil
}

// setAttrs stores validated attributes, lifting externalId out of them and dropping what the
// server owns.
func (rec *record) setAttrs(attrs scim.ResourceAttributes) {
	m := deepCopy(map[string]any(attrs)).(map[string]any)
	rec.externalID, rec.hasExtID = "", false
	if v, ok := m["externalId"].(string); ok {
		rec.externalID, rec.hasExtID = v, true
	}
	delete(m, "externalId")
	delete(m, "id")
	delete(m, "meta")
	delete(m, "schemas")
	delete(m, "groups")
	rec.attrs = m
}

func (rec *record) touch() {
	rec.modified = now()
	rec.version++
}

// MemberIDs is the ids of a group's members, from a group as Groups renders it (or as stored):
// what a caller comparing membership needs, without knowing the members' shape.
func MemberIDs(group map[string]any) []string {
	list, _ := group["members"].([]any)
	ids := make([]string, 0, len(list))
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				ids = append(ids, v)
			}
		}
	}
	return ids
}

func withoutMembers(raw any, drop map[string]bool) []any {
	list, _ := raw.([]any)
	out := []any{}
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			if v, _ := mm["value"].(string); drop[v] {
				continue
			}
		}
		out = append(out, m)
	}
	return out
}
