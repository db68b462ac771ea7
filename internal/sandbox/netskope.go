package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"
)

// The Netskope side: one SCIM 2.0 service provider per Netskope tenant, at
// https://<tenant>[.<region>].goskope.com/api/v2/scim (and on a loopback listener per tenant in direct
// mode). The protocol (routing, schema validation, filters, PATCH parsing, list and error shapes) is
// github.com/elimity-com/scim; this file holds the tenants' data, the bearer-token check in front of
// it, and the application of validated PATCH operations to stored resources.

// scimBasePath is where Netskope serves SCIM; the old addon-<tenant>.goskope.com/SCIM/v2 form is
// end-of-life and answers 404 here.
const scimBasePath = "/api/v2/scim"

const (
	scimUserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimEnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	scimGroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimPatchOpSchema    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimListSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimErrorSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

type netskope struct {
	s       *Server
	tenants map[string]*scimTenant
	first   string
}

// scimTenant is one Netskope tenant: its token and its users and groups. One mutex guards all of it,
// because group writes check users and user deletes touch groups.
type scimTenant struct {
	name string

	mu      sync.Mutex
	token   string
	revoked bool
	users   map[string]*scimRecord
	groups  map[string]*scimRecord
	seq     int64
	// userNames and groupNames index the lower-cased userName and displayName, the attributes Entra
	// looks objects up by, so a cycle over 50,000 users does not scan the tenant per user.
	userNames  map[string]string
	groupNames map[string]string

	userType  scim.ResourceType
	groupType scim.ResourceType
	config    scim.ServiceProviderConfig
}

// scimRecord is a stored resource. attrs holds what the client wrote, validated by the library, with
// the enterprise extension nested under its schema URI; id, externalId and meta live beside it.
type scimRecord struct {
	id         string
	externalID string
	hasExtID   bool
	attrs      map[string]any
	created    time.Time
	modified   time.Time
	version    int
	seq        int64
}

func newNetskope(s *Server, tenants []string) *netskope {
	n := &netskope{s: s, tenants: map[string]*scimTenant{}}
	for i, name := range tenants {
		if i == 0 {
			n.first = name
		}
		t := &scimTenant{name: name, token: newSCIMToken(), users: map[string]*scimRecord{}, groups: map[string]*scimRecord{},
			userNames: map[string]string{}, groupNames: map[string]string{}}
		t.userType = scim.ResourceType{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Description: optional.NewString("User Account"),
			Schema:      schema.CoreUserSchema(),
			SchemaExtensions: []scim.SchemaExtension{
				{Schema: schema.ExtensionEnterpriseUser()},
			},
			Handler: scimUserHandler{t},
		}
		t.groupType = scim.ResourceType{
			ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
			Description: optional.NewString("Group"),
			Schema:      schema.CoreGroupSchema(),
			Handler:     scimGroupHandler{t},
		}
		t.config = scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://docs.netskope.com/"),
			MaxResults:       100,
		}
		n.tenants[name] = t
	}
	return n
}

// newSCIMToken is a fresh API token, as Netskope issues one per SCIM integration.
func newSCIMToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (n *netskope) tenant(name string) (*scimTenant, error) {
	if name == "" {
		name = n.first
	}
	t, ok := n.tenants[name]
	if !ok {
		return nil, fmt.Errorf("no Netskope tenant %q (the sandbox serves %s)", name, strings.Join(sortedKeys(n.tenants), ", "))
	}
	return t, nil
}

// tenantHandler serves /api/v2/scim/... for a tenant. An unknown tenant answers like a host that has
// no SCIM service.
func (n *netskope) tenantHandler(tenant string) http.Handler {
	t, err := n.tenant(tenant)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeSCIMError(w, http.StatusNotFound, "", "Specified endpoint does not exist.")
		})
	}
	return t
}

// token is the tenant's current bearer token. After RevokeSCIMToken it is still returned, but the
// tenant rejects it until RotateSCIMToken issues a new one: that is what an expired or revoked token
// looks like to whoever kept a copy.
func (n *netskope) token(tenant string) string {
	t, err := n.tenant(tenant)
	if err != nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token
}

// RevokeSCIMToken makes a Netskope tenant reject its current SCIM token ("" = the first tenant).
func (s *Server) RevokeSCIMToken(tenant string) error {
	t, err := s.netskope.tenant(tenant)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.revoked = true
	t.mu.Unlock()
	s.logf("netskope %s: SCIM token revoked", t.name)
	return nil
}

// RotateSCIMToken replaces a tenant's SCIM token and returns the new one; the old one stops working.
func (s *Server) RotateSCIMToken(tenant string) (string, error) {
	t, err := s.netskope.tenant(tenant)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	t.token, t.revoked = newSCIMToken(), false
	tok := t.token
	t.mu.Unlock()
	s.logf("netskope %s: SCIM token rotated", t.name)
	return tok, nil
}

// SCIMUsers is what arrived in a Netskope tenant, each user as the SCIM API renders it.
func (s *Server) SCIMUsers(tenant string) ([]map[string]any, error) {
	t, err := s.netskope.tenant(tenant)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []map[string]any{}
	for _, rec := range t.sorted(t.users) {
		out = append(out, t.render(t.userType, rec, true))
	}
	return out, nil
}

// SCIMGroups is the groups of a Netskope tenant with their members, as the SCIM API renders them.
func (s *Server) SCIMGroups(tenant string) ([]map[string]any, error) {
	t, err := s.netskope.tenant(tenant)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []map[string]any{}
	for _, rec := range t.sorted(t.groups) {
		out = append(out, t.render(t.groupType, rec, false))
	}
	return out, nil
}

// render is the JSON form of a record outside an HTTP exchange (inspection). Callers hold t.mu.
func (t *scimTenant) render(rt scim.ResourceType, rec *scimRecord, user bool) map[string]any {
	res := t.resource(rec, user)
	m := deepCopy(res.Attributes).(map[string]any)
	m["id"] = rec.id
	if rec.hasExtID {
		m["externalId"] = rec.externalID
	}
	schemas := []any{rt.Schema.ID}
	for _, e := range rt.SchemaExtensions {
		schemas = append(schemas, e.Schema.ID)
	}
	m["schemas"] = schemas
	m["meta"] = map[string]any{
		"resourceType": rt.Name,
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

// ServeHTTP checks the bearer token, then hands the request to the SCIM library.
func (t *scimTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != scimBasePath && !strings.HasPrefix(p, scimBasePath+"/") {
		writeSCIMError(w, http.StatusNotFound, "", "Specified endpoint does not exist.")
		return
	}
	if !t.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Netskope SCIM"`)
		writeSCIMError(w, http.StatusUnauthorized, "", "Authorization failure. The bearer token is missing, invalid, expired or revoked.")
		return
	}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &t.config,
		ResourceTypes:         []scim.ResourceType{t.userType, t.groupType},
	}, scim.WithBaseURL("https://"+r.Host+scimBasePath))
	if err != nil {
		writeSCIMError(w, http.StatusInternalServerError, "", "SCIM server unavailable.")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(p, scimBasePath)
	r2.URL.RawPath = ""
	srv.ServeHTTP(w, r2)
}

func (t *scimTenant) authorized(header string) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	t.mu.Lock()
	want, revoked := t.token, t.revoked
	t.mu.Unlock()
	return !revoked && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(want)) == 1
}

// writeSCIMError answers with the SCIM error schema (RFC 7644 3.12): status as a string.
func writeSCIMError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{scimErrorSchema}, "status": fmt.Sprint(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func scimBadValue(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail, Status: http.StatusBadRequest}
}

func scimUniqueness(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Detail: detail, Status: http.StatusConflict}
}

// sorted lists records in creation order, so listings are stable. Callers hold t.mu.
func (t *scimTenant) sorted(m map[string]*scimRecord) []*scimRecord {
	out := make([]*scimRecord, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// resource is the library's view of a record. Users get their read-only groups computed from group
// membership, as the schema defines. Callers hold t.mu.
func (t *scimTenant) resource(rec *scimRecord, user bool) scim.Resource {
	attrs := deepCopy(rec.attrs).(map[string]any)
	if user {
		var in []*scimRecord
		for _, g := range t.groups {
			if slices.Contains(memberIDs(g.attrs), rec.id) {
				in = append(in, g)
			}
		}
		sort.Slice(in, func(i, j int) bool { return in[i].seq < in[j].seq })
		var groups []any
		for _, g := range in {
			groups = append(groups, map[string]any{"value": g.id, "display": g.attrs["displayName"], "type": "direct"})
		}
		if len(groups) > 0 {
			attrs["groups"] = groups
		}
	}
	created, modified := rec.created, rec.modified
	res := scim.Resource{ID: rec.id, Attributes: attrs,
		Meta: scim.Meta{Created: &created, LastModified: &modified, Version: fmt.Sprintf(`W/"%d"`, rec.version)}}
	if rec.hasExtID {
		res.ExternalID = optional.NewString(rec.externalID)
	}
	return res
}

// filterView is what a filter is evaluated against: the attributes plus the common ones.
func filterView(rec *scimRecord) map[string]any {
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

// list implements GetAll for either collection: filter, then 1-based paging, then excludedAttributes.
func (t *scimTenant) list(r *http.Request, params scim.ListRequestParams, coll map[string]*scimRecord, user bool) (scim.Page, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var hits []*scimRecord
	candidates := coll
	if sub, ok := t.indexed(params, user); ok {
		candidates = sub
	}
	for _, rec := range t.sorted(candidates) {
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterView(rec)) != nil {
			continue
		}
		hits = append(hits, rec)
	}
	page := scim.Page{TotalResults: len(hits), Resources: []scim.Resource{}}
	start := max(params.StartIndex-1, 0)
	for i := start; i < len(hits) && i < start+params.Count; i++ {
		page.Resources = append(page.Resources, excludeAttributes(r, t.resource(hits[i], user)))
	}
	return page, nil
}

// indexed narrows a `userName eq` (users) or `displayName eq` (groups) lookup, the filters Entra
// sends, to the one candidate the index knows; the filter itself still decides. Callers hold t.mu.
func (t *scimTenant) indexed(params scim.ListRequestParams, user bool) (map[string]*scimRecord, bool) {
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
	attr, index, coll, schemaID := "displayName", t.groupNames, t.groups, scimGroupSchema
	if user {
		attr, index, coll, schemaID = "userName", t.userNames, t.users, scimUserSchema
	}
	if !strings.EqualFold(e.AttributePath.AttributeName, attr) || (e.AttributePath.URI() != "" && e.AttributePath.URI() != schemaID) {
		return nil, false
	}
	out := map[string]*scimRecord{}
	if id, ok := index[strings.ToLower(v)]; ok {
		out[id] = coll[id]
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

func (t *scimTenant) newRecord(attrs scim.ResourceAttributes) *scimRecord {
	t.seq++
	n := directory.Now()
	rec := &scimRecord{id: uuid.NewString(), created: n, modified: n, version: 1, seq: t.seq}
	rec.setAttrs(attrs)
	return rec
}

// setAttrs stores validated attributes, lifting externalId out of them.
func (rec *scimRecord) setAttrs(attrs scim.ResourceAttributes) {
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

func (rec *scimRecord) touch() {
	rec.modified = directory.Now()
	rec.version++
}

// --- Users ---

type scimUserHandler struct{ t *scimTenant }

// userNameTaken reports whether another user already has userName (compared case-insensitively, as
// userName's caseExact is false). Callers hold t.mu.
func (t *scimTenant) userNameTaken(userName, exceptID string) bool {
	id, ok := t.userNames[strings.ToLower(userName)]
	return ok && id != exceptID
}

// putUser stores a user and keeps the userName index. Callers hold t.mu.
func (t *scimTenant) putUser(rec *scimRecord) {
	if old, ok := t.users[rec.id]; ok {
		delete(t.userNames, strings.ToLower(fmt.Sprint(old.attrs["userName"])))
	}
	t.users[rec.id] = rec
	t.userNames[strings.ToLower(fmt.Sprint(rec.attrs["userName"]))] = rec.id
}

func (t *scimTenant) putGroup(rec *scimRecord) {
	if old, ok := t.groups[rec.id]; ok {
		delete(t.groupNames, strings.ToLower(fmt.Sprint(old.attrs["displayName"])))
	}
	t.groups[rec.id] = rec
	t.groupNames[strings.ToLower(fmt.Sprint(rec.attrs["displayName"]))] = rec.id
}

func (t *scimTenant) checkUser(rec *scimRecord) error {
	name, _ := rec.attrs["userName"].(string)
	if strings.TrimSpace(name) == "" {
		return scimBadValue("userName is required.")
	}
	if t.userNameTaken(name, rec.id) {
		return scimUniqueness(fmt.Sprintf("A user with userName %q already exists.", name))
	}
	return nil
}

func (h scimUserHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.newRecord(attrs)
	if _, ok := rec.attrs["active"]; !ok {
		rec.attrs["active"] = true
	}
	if err := t.checkUser(rec); err != nil {
		t.seq--
		return scim.Resource{}, err
	}
	t.putUser(rec)
	return t.resource(rec, true), nil
}

func (h scimUserHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, ok := t.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return excludeAttributes(r, t.resource(rec, true)), nil
}

func (h scimUserHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return h.t.list(r, params, h.t.users, true)
}

func (h scimUserHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.setAttrs(attrs)
	if _, ok := rec.attrs["active"]; !ok {
		rec.attrs["active"] = true
	}
	if err := t.checkUser(&rec); err != nil {
		return scim.Resource{}, err
	}
	rec.touch()
	t.putUser(&rec)
	return t.resource(&rec, true), nil
}

func (h scimUserHandler) Delete(r *http.Request, id string) error {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.users[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(t.userNames, strings.ToLower(fmt.Sprint(t.users[id].attrs["userName"])))
	delete(t.users, id)
	for _, g := range t.groups {
		if slices.Contains(memberIDs(g.attrs), id) {
			g.attrs["members"] = withoutMembers(g.attrs["members"], map[string]bool{id: true})
			g.touch()
		}
	}
	return nil
}

func (h scimUserHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.attrs = deepCopy(old.attrs).(map[string]any)
	if err := applyPatch(&rec, t.userType, ops); err != nil {
		return scim.Resource{}, err
	}
	if err := t.checkUser(&rec); err != nil {
		return scim.Resource{}, err
	}
	rec.touch()
	t.putUser(&rec)
	return t.resource(&rec, true), nil
}

// --- Groups ---

type scimGroupHandler struct{ t *scimTenant }

// checkGroup enforces a non-empty, unique displayName (Entra matches groups by it) and members that
// are users of this tenant (Netskope takes no nested groups), and fills in each member's display.
// Callers hold t.mu.
func (t *scimTenant) checkGroup(rec *scimRecord) error {
	name, _ := rec.attrs["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return scimBadValue("displayName is required.")
	}
	if id, ok := t.groupNames[strings.ToLower(name)]; ok && id != rec.id {
		return scimUniqueness(fmt.Sprintf("A group with displayName %q already exists.", name))
	}
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
			return scimBadValue("Every member needs a value (the id of a user).")
		}
		u, ok := t.users[v]
		if !ok {
			return scimBadValue(fmt.Sprintf("Member %q is not a user of this tenant.", v))
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

func (h scimGroupHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.newRecord(attrs)
	if err := t.checkGroup(rec); err != nil {
		t.seq--
		return scim.Resource{}, err
	}
	t.putGroup(rec)
	return t.resource(rec, false), nil
}

func (h scimGroupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, ok := t.groups[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return excludeAttributes(r, t.resource(rec, false)), nil
}

func (h scimGroupHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return h.t.list(r, params, h.t.groups, false)
}

func (h scimGroupHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.groups[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.setAttrs(attrs)
	if err := t.checkGroup(&rec); err != nil {
		return scim.Resource{}, err
	}
	rec.touch()
	t.putGroup(&rec)
	return t.resource(&rec, false), nil
}

func (h scimGroupHandler) Delete(r *http.Request, id string) error {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.groups[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(t.groupNames, strings.ToLower(fmt.Sprint(t.groups[id].attrs["displayName"])))
	delete(t.groups, id)
	return nil
}

func (h scimGroupHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.groups[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	rec := *old
	rec.attrs = deepCopy(old.attrs).(map[string]any)
	if err := applyPatch(&rec, t.groupType, ops); err != nil {
		return scim.Resource{}, err
	}
	if err := t.checkGroup(&rec); err != nil {
		return scim.Resource{}, err
	}
	rec.touch()
	t.putGroup(&rec)
	return t.resource(&rec, false), nil
}

func memberIDs(attrs map[string]any) []string {
	list, _ := attrs["members"].([]any)
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

// --- PATCH ---

// applyPatch applies operations the library has parsed and validated against the schema (op names
// are already lower-cased, so Entra's "Add"/"Replace"/"Remove" arrive as RFC 7644 ops).
func applyPatch(rec *scimRecord, rt scim.ResourceType, ops []scim.PatchOperation) error {
	for _, op := range ops {
		if err := applyOp(rec, rt, op.Op, op.Path, op.Value); err != nil {
			return err
		}
	}
	return nil
}

func applyOp(rec *scimRecord, rt scim.ResourceType, op string, path *filter.Path, value any) error {
	if path == nil {
		if op == scim.PatchOperationRemove {
			return scimerrors.ScimErrorNoTarget
		}
		values, ok := value.(map[string]any)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		for _, key := range sortedKeys(values) {
			if ext := extensionSchema(rt, key); ext != nil {
				sub, _ := values[key].(map[string]any)
				for _, k := range sortedKeys(sub) {
					p := filter.Path{AttributePath: filter.AttributePath{URIPrefix: &ext.ID, AttributeName: k}}
					if err := applyOp(rec, rt, op, &p, sub[k]); err != nil {
						return err
					}
				}
				continue
			}
			p, err := filter.ParsePath([]byte(key))
			if err != nil {
				return scimerrors.ScimErrorInvalidPath
			}
			if err := applyOp(rec, rt, op, &p, values[key]); err != nil {
				return err
			}
		}
		return nil
	}

	ap := path.AttributePath
	if strings.EqualFold(ap.AttributeName, "externalId") && ap.URI() == "" {
		switch op {
		case scim.PatchOperationRemove:
			rec.externalID, rec.hasExtID = "", false
		default:
			s, ok := value.(string)
			if !ok {
				return scimerrors.ScimErrorInvalidValue
			}
			rec.externalID, rec.hasExtID = s, true
		}
		return nil
	}
	container, attr, err := patchTarget(rec, rt, ap, op != scim.PatchOperationRemove)
	if err != nil {
		return err
	}
	if container == nil { // removing from an absent extension
		return nil
	}
	name := attr.Name()
	if attr.Mutability() == "readOnly" {
		return scimerrors.ScimErrorMutability
	}

	if path.ValueExpression != nil {
		return applyFiltered(container, attr, op, path, value)
	}
	if sub := ap.SubAttributeName(); sub != "" {
		cm, _ := container[name].(map[string]any)
		switch op {
		case scim.PatchOperationRemove:
			if cm != nil {
				delete(cm, canonicalSub(attr, sub))
				if len(cm) == 0 {
					delete(container, name)
				}
			}
		default:
			if cm == nil {
				cm = map[string]any{}
				container[name] = cm
			}
			cm[canonicalSub(attr, sub)] = value
		}
		return nil
	}
	if !attr.MultiValued() {
		switch op {
		case scim.PatchOperationRemove:
			delete(container, name)
		case scim.PatchOperationAdd:
			// Adding to a complex attribute merges its sub-attributes (RFC 7644 3.5.2.1).
			if nv, ok := value.(map[string]any); ok {
				cm, _ := container[name].(map[string]any)
				if cm == nil {
					cm = map[string]any{}
				}
				for k, v := range nv {
					cm[k] = v
				}
				container[name] = cm
				return nil
			}
			container[name] = value
		default:
			container[name] = value
		}
		return nil
	}
	list, _ := container[name].([]any)
	values, _ := value.([]any)
	switch op {
	case scim.PatchOperationAdd:
		for _, v := range values {
			if !containsValue(list, v) {
				list = append(list, v)
			}
		}
		container[name] = list
	case scim.PatchOperationReplace:
		container[name] = values
	case scim.PatchOperationRemove:
		if value == nil {
			delete(container, name)
			return nil
		}
		// Entra removes members by listing them in value: [{"value":"<id>"}].
		drop := map[string]bool{}
		for _, v := range values {
			if vm, ok := v.(map[string]any); ok {
				if id, ok := vm["value"].(string); ok {
					drop[id] = true
				}
			}
		}
		container[name] = withoutMembers(list, drop)
		if len(container[name].([]any)) == 0 {
			delete(container, name)
		}
	}
	return nil
}

// applyFiltered handles value-selection paths such as emails[type eq "work"].value and
// members[value eq "<id>"].
func applyFiltered(container map[string]any, attr schema.CoreAttribute, op string, path *filter.Path, value any) error {
	name := attr.Name()
	list, _ := container[name].([]any)
	v := scimfilter.NewFilterValidator(path.ValueExpression, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(attr)})
	var matched []int
	for i, e := range list {
		if em, ok := e.(map[string]any); ok && v.PassesFilter(em) == nil {
			matched = append(matched, i)
		}
	}
	sub := path.SubAttributeName()
	if op == scim.PatchOperationRemove {
		if sub == "" {
			var kept []any
			for i, e := range list {
				if !slices.Contains(matched, i) {
					kept = append(kept, e)
				}
			}
			if len(kept) == 0 {
				delete(container, name)
			} else {
				container[name] = kept
			}
			return nil
		}
		for _, i := range matched {
			delete(list[i].(map[string]any), canonicalSub(attr, sub))
		}
		return nil
	}
	if len(matched) == 0 {
		// Entra adds a value it has not written before with Add on a filtered path
		// (emails[type eq "work"].value); that creates the element the filter describes. Replace
		// needs something to replace (RFC 7644 3.5.2.3).
		e, ok := path.ValueExpression.(*filter.AttributeExpression)
		if op != scim.PatchOperationAdd || !ok || e.Operator != filter.EQ {
			return scimerrors.ScimErrorNoTarget
		}
		elem := map[string]any{canonicalSub(attr, e.AttributePath.AttributeName): e.CompareValue}
		list = append(list, elem)
		container[name] = list
		matched = []int{len(list) - 1}
	}
	for _, i := range matched {
		em := list[i].(map[string]any)
		if sub != "" {
			em[canonicalSub(attr, sub)] = value
			continue
		}
		nv, ok := value.(map[string]any)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		if op == scim.PatchOperationReplace {
			list[i] = nv
			continue
		}
		for k, val := range nv {
			em[k] = val
		}
	}
	return nil
}

// patchTarget finds the map that holds the attribute a path names (the resource, or the extension
// object nested under its schema URI) and the attribute's definition.
func patchTarget(rec *scimRecord, rt scim.ResourceType, ap filter.AttributePath, create bool) (map[string]any, schema.CoreAttribute, error) {
	sch := rt.Schema
	container := rec.attrs
	if uri := ap.URI(); uri != "" && uri != rt.Schema.ID {
		ext := extensionSchema(rt, uri)
		if ext == nil {
			return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
		}
		sch = *ext
		em, _ := rec.attrs[ext.ID].(map[string]any)
		if em == nil {
			if !create {
				attr, ok := sch.Attributes.ContainsAttribute(ap.AttributeName)
				if !ok {
					return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
				}
				return nil, attr, nil
			}
			em = map[string]any{}
			rec.attrs[ext.ID] = em
		}
		container = em
	}
	attr, ok := sch.Attributes.ContainsAttribute(ap.AttributeName)
	if !ok {
		return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
	}
	return container, attr, nil
}

func extensionSchema(rt scim.ResourceType, uri string) *schema.Schema {
	for _, e := range rt.SchemaExtensions {
		if strings.EqualFold(e.Schema.ID, uri) {
			s := e.Schema
			return &s
		}
	}
	return nil
}

func canonicalSub(attr schema.CoreAttribute, name string) string {
	for _, s := range attr.SubAttributes() {
		if strings.EqualFold(s.Name(), name) {
			return s.Name()
		}
	}
	return name
}

// containsValue reports whether list already holds v; complex values compare by their "value".
func containsValue(list []any, v any) bool {
	vm, ok := v.(map[string]any)
	for _, e := range list {
		if ok {
			if em, isMap := e.(map[string]any); isMap && vm["value"] != nil && em["value"] == vm["value"] {
				return true
			}
			continue
		}
		if e == v {
			return true
		}
	}
	return false
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
