package graphapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
	"github.com/google/uuid"
)

// The synchronization (provisioning) API under /servicePrincipals/{id}/synchronization. The state
// lives in ServicePrincipal.Sync, which the provisioning engine reads and updates under store.mu.

var (
	syncReadAccess  = anyRole("Synchronization.Read.All", "Synchronization.ReadWrite.All", "Application.ReadWrite.All").orOwner("id")
	syncWriteAccess = anyRole("Synchronization.ReadWrite.All", "Application.ReadWrite.All").orOwner("id")
)

// restartScopes are the flags of synchronizationJobRestartScope.
var restartScopes = []string{"None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full", "ForceDeletes"}

func (s *API) registerSyncRoutes(g *graphRouter) {
	const base = "/servicePrincipals/{id}/synchronization"
	g.handle(http.MethodGet, base+"/templates", syncReadAccess, s.listSyncTemplates)
	g.handle(http.MethodGet, base+"/templates/{templateId}", syncReadAccess, s.getSyncTemplate)
	g.handle(http.MethodGet, base+"/jobs", syncReadAccess, s.listSyncJobs)
	g.handle(http.MethodPost, base+"/jobs", syncWriteAccess, s.createSyncJob)
	g.handle(http.MethodPost, base+"/jobs/validateCredentials", syncWriteAccess, s.validateCredentials)
	g.handle(http.MethodGet, base+"/jobs/{jobId}", syncReadAccess, s.getSyncJob)
	g.handle(http.MethodDelete, base+"/jobs/{jobId}", syncWriteAccess, s.deleteSyncJob)
	g.handle(http.MethodPost, base+"/jobs/{jobId}/start", syncWriteAccess, s.startSyncJob)
	g.handle(http.MethodPost, base+"/jobs/{jobId}/pause", syncWriteAccess, s.pauseSyncJob)
	g.handle(http.MethodPost, base+"/jobs/{jobId}/restart", syncWriteAccess, s.restartSyncJob)
	g.handle(http.MethodPost, base+"/jobs/{jobId}/validateCredentials", syncWriteAccess, s.validateCredentials)
	s.registerSyncSchemaRoutes(g, base)
	g.handle(http.MethodGet, base+"/secrets", syncReadAccess, s.getSyncSecrets)
	g.handle(http.MethodPut, base+"/secrets", syncWriteAccess, s.putSyncSecrets)
}

// newSyncTemplate is the synchronization template a provisioning-capable gallery app offers. Its rule
// ids are fixed per template, as in Entra, where they come from the template, not the tenant.
func newSyncTemplate(factoryTag, appID, galleryName string) *directory.SyncTemplate {
	desc := galleryName + " provisioning over SCIM 2.0"
	return &directory.SyncTemplate{
		ID: factoryTag, ApplicationID: appID, Default: true, Description: &desc, Discoverable: true, FactoryTag: factoryTag,
		Metadata: []directory.KeyValue{
			{Key: "galleryApplicationIdentifier", Value: factoryTag},
			{Key: "galleryApplicationKey", Value: factoryTag},
			{Key: "IsOAuthEnabled", Value: "false"},
			{Key: "IsSynchronizationAgentAssignmentRequired", Value: "false"},
			{Key: "IsSynchronizationAgentRequired", Value: "false"},
			{Key: "IsSynchronizationInPreview", Value: "false"},
			{Key: "ConfigurationFields", Value: `{"BaseAddress":{"Name":"Tenant URL","Required":true},"SecretToken":{"Name":"Secret Token","Required":true}}`},
		},
		Schema: syncSchemaJSON(factoryTag),
	}
}

// SyncRuleID is the id of the synchronization rule (users and groups) of the template factoryTag:
// provisionOnDemand takes it as ruleId.
func SyncRuleID(factoryTag string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("entranetskope-sandbox/sync-rule/"+factoryTag)).String()
}

// syncSP finds the service principal of a synchronization call (404 when absent or not yet
// replicated). Callers hold store.mu.
func (s *API) syncSP(c *gctx) (*directory.ServicePrincipal, bool) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return nil, false
	}
	sp, ok := s.store.SPs[id]
	if !ok || s.store.Lagging(id) {
		c.notFound(id)
		return nil, false
	}
	return sp, true
}

// syncJob finds the job of a synchronization call. Callers hold store.mu.
func (s *API) syncJob(c *gctx) (*directory.ServicePrincipal, *directory.SyncJob, bool) {
	sp, ok := s.syncSP(c)
	if !ok {
		return nil, nil, false
	}
	jobID := c.param("jobId")
	var j *directory.SyncJob
	if sp.Sync != nil {
		j = sp.Sync.Jobs[jobID]
	}
	if j == nil || s.store.Lagging(j.ID) {
		c.notFound(jobID)
		return nil, nil, false
	}
	return sp, j, true
}

// noProvisioning answers a write on a service principal whose application cannot provision.
func (c *gctx) noProvisioning(sp *directory.ServicePrincipal) {
	c.error(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The application '%s' does not support provisioning: it has no synchronization template.", sp.DisplayName))
}

func (s *API) listSyncTemplates(c *gctx) {
	s.store.Mu.RLock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.RUnlock()
		return
	}
	items := []map[string]any{}
	if sp.Sync != nil {
		for _, t := range sp.Sync.Templates {
			items = append(items, templateJSON(t))
		}
	}
	s.store.Mu.RUnlock()
	c.json(http.StatusOK, map[string]any{"@odata.context": c.baseURL() + "/$metadata#servicePrincipals('" + c.param("id") + "')/synchronization/templates", "value": items})
}

func (s *API) getSyncTemplate(c *gctx) {
	s.store.Mu.RLock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.RUnlock()
		return
	}
	var m map[string]any
	if sp.Sync != nil {
		for _, t := range sp.Sync.Templates {
			if t.ID == c.param("templateId") {
				m = templateJSON(t)
			}
		}
	}
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(c.param("templateId"))
		return
	}
	c.json(http.StatusOK, m)
}

// syncJobJSON renders a job as Graph does. synchronizationJobSettings are keyValuePairs, whose
// JSON names are name and value (not key).
func syncJobJSON(j *directory.SyncJob) map[string]any {
	m := appJSONMap(j)
	settings := make([]map[string]string, 0, len(j.SynchronizationJobSettings))
	for _, kv := range j.SynchronizationJobSettings {
		settings = append(settings, map[string]string{"name": kv.Key, "value": kv.Value})
	}
	m["synchronizationJobSettings"] = settings
	if st, ok := m["status"].(map[string]any); ok {
		for _, k := range []string{"progress", "synchronizedEntryCountByType"} {
			if st[k] == nil {
				st[k] = []any{}
			}
		}
	}
	return m
}

func (s *API) listSyncJobs(c *gctx) {
	s.store.Mu.RLock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.RUnlock()
		return
	}
	items := []map[string]any{}
	if sp.Sync != nil {
		for _, id := range slices.Sorted(maps.Keys(sp.Sync.Jobs)) {
			if j := sp.Sync.Jobs[id]; !s.store.Lagging(j.ID) {
				items = append(items, syncJobJSON(j))
			}
		}
	}
	s.store.Mu.RUnlock()
	c.json(http.StatusOK, map[string]any{"@odata.context": c.baseURL() + "/$metadata#servicePrincipals('" + c.param("id") + "')/synchronization/jobs", "value": items})
}

func (s *API) getSyncJob(c *gctx) {
	s.store.Mu.RLock()
	_, j, ok := s.syncJob(c)
	var m map[string]any
	if ok {
		m = syncJobJSON(j)
	}
	s.store.Mu.RUnlock()
	if !ok {
		return
	}
	m["@odata.context"] = c.baseURL() + "/$metadata#servicePrincipals('" + c.param("id") + "')/synchronization/jobs/$entity"
	c.json(http.StatusOK, m)
}

// createSyncJob creates a job from one of the service principal's templates, in the state Graph
// gives a new job: never run, schedule disabled with TimeSpan.MaxValue as its interval.
func (s *API) createSyncJob(c *gctx) {
	var body map[string]json.RawMessage
	if !c.decode(&body) {
		return
	}
	var templateID string
	if raw, ok := body["templateId"]; !ok || json.Unmarshal(raw, &templateID) != nil || templateID == "" {
		c.badRequest("The property 'templateId' is required and must be a non-empty string.")
		return
	}
	s.store.Mu.Lock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.Unlock()
		return
	}
	if sp.Sync == nil || !slices.ContainsFunc(sp.Sync.Templates, func(t *directory.SyncTemplate) bool { return t.ID == templateID }) {
		s.store.Mu.Unlock()
		c.error(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The synchronization template '%s' is not available for the application '%s'.", templateID, sp.DisplayName))
		return
	}
	for _, j := range sp.Sync.Jobs {
		if j.TemplateID == templateID {
			s.store.Mu.Unlock()
			c.error(http.StatusConflict, "Conflict", fmt.Sprintf("A synchronization job for the template '%s' already exists on this service principal: '%s'.", templateID, j.ID))
			return
		}
	}
	var tpl *directory.SyncTemplate
	for _, t := range sp.Sync.Templates {
		if t.ID == templateID {
			tpl = t
		}
	}
	j := &directory.SyncJob{
		ID:         templateID + "." + strings.ReplaceAll(s.tenantID, "-", "") + "." + uuid.NewString(),
		TemplateID: templateID,
		Schedule:   directory.SyncSchedule{Interval: MaxTimeSpanInterval, State: "Disabled"},
		Status: directory.SyncStatus{
			Code: "NotConfigured", Progress: []any{}, SynchronizedEntryCountByType: []directory.KeyValueInt{},
			SteadyStateFirstAchievedTime: "0001-01-01T00:00:00Z", SteadyStateLastAchievedTime: "0001-01-01T00:00:00Z",
		},
		SynchronizationJobSettings: []directory.KeyValue{
			{Key: "AzureIngestionAttributeOptimization", Value: "False"},
			{Key: "LookaheadQueryEnabled", Value: "False"},
			{Key: "QuarantineTooManyDeletesThreshold", Value: "500"},
		},
		ServicePrincipalID: sp.ID,
	}
	j.Schema = withSchemaID(tpl.Schema, j.ID)
	if kept, ok := sp.Sync.KeptSchemas[templateID]; ok {
		j.Schema = withSchemaID(kept, j.ID)
	}
	if credentialsSaved(sp.Sync.Secrets) {
		j.Status.Code = "NotRun"
	}
	sp.Sync.Jobs[j.ID] = j
	s.store.MarkCreated(j.ID)
	m := syncJobJSON(j)
	s.store.Mu.Unlock()
	m["@odata.context"] = c.baseURL() + "/$metadata#servicePrincipals('" + sp.ID + "')/synchronization/jobs/$entity"
	c.json(http.StatusCreated, m)
}

// withSchemaID gives a job its own copy of the template's schema, identified by the job id.
func withSchemaID(schema json.RawMessage, id string) json.RawMessage {
	var m map[string]any
	if err := json.Unmarshal(schema, &m); err != nil {
		return slices.Clone(schema)
	}
	if id != "" {
		m["id"] = id
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *API) deleteSyncJob(c *gctx) {
	s.store.Mu.Lock()
	sp, j, ok := s.syncJob(c)
	if ok {
		delete(sp.Sync.Jobs, j.ID)
		s.keepSchemaLocked(sp, j)
	}
	s.store.Mu.Unlock()
	if ok {
		c.noContent()
	}
}

// isoInterval renders a cycle interval as an ISO 8601 duration ("PT40M").
func isoInterval(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}

// startLocked turns a job's schedule on and asks for a cycle at once. Entra accepts a start without
// saved credentials (azuread's acceptance tests start such jobs): the cycle then fails and quarantines
// the job. A start lifts quarantine. Callers hold store.mu for writing.
func (s *API) startLocked(j *directory.SyncJob) {
	j.Schedule.State = "Active"
	j.Schedule.Interval = isoInterval(s.cycleInterval)
	j.Status.Quarantine = nil
	j.Status.CountSuccessiveCompleteFailures = 0
	// A started job reads NotRun until its first cycle completes (StartStatus decides whether that
	// holds for every start). Guess: a job without credentials reads NotRun too, not NotConfigured,
	// since the schedule is on and a cycle is coming.
	if j.Status.LastExecution == nil || s.faults.get().StartStatus == StartStatusEveryStart {
		j.Status.Code = "NotRun"
	} else {
		j.Status.Code = "Active"
	}
	j.NextCycle = s.clock.Now()
}

func (s *API) startSyncJob(c *gctx) {
	s.store.Mu.Lock()
	sp, j, ok := s.syncJob(c)
	if ok {
		s.startLocked(j)
	}
	s.store.Mu.Unlock()
	if !ok {
		return
	}
	s.engine.JobStarted(sp.ID, j.ID)
	c.noContent()
}

func (s *API) pauseSyncJob(c *gctx) {
	s.store.Mu.Lock()
	_, j, ok := s.syncJob(c)
	if ok {
		j.Schedule.State = "Paused"
		j.Status.Code = "Paused"
	}
	s.store.Mu.Unlock()
	if ok {
		c.noContent()
	}
}

// defaultRestartScope is what a restart resets when its criteria name nothing (no criteria, or an
// empty resetScope): quarantine, watermark and escrows (Graph's synchronizationjob-restart).
var defaultRestartScope = []string{"QuarantineState", "Watermark", "Escrows"}

// parseRestartScope splits resetScope flags ("Watermark, Escrows" or "Watermark,Escrows", as the Go
// SDK writes them); an unknown flag is an error, an empty scope the default one.
func parseRestartScope(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return defaultRestartScope, nil
	}
	var flags []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(restartScopes, f) {
			return nil, fmt.Errorf("The value '%s' is not a valid synchronizationJobRestartScope: use %s.", f, strings.Join(restartScopes, ", "))
		}
		flags = append(flags, f)
	}
	return flags, nil
}

// restartSyncJob resets what the criteria name, then starts the job.
func (s *API) restartSyncJob(c *gctx) {
	var body struct {
		Criteria *struct {
			ResetScope *string `json:"resetScope"`
		} `json:"criteria"`
	}
	flags := defaultRestartScope
	if len(strings.TrimSpace(string(c.body))) > 0 {
		if !c.decode(&body) {
			return
		}
		if body.Criteria != nil && body.Criteria.ResetScope != nil {
			var err error
			if flags, err = parseRestartScope(*body.Criteria.ResetScope); err != nil {
				c.badRequest(err.Error())
				return
			}
		}
	}
	has := func(f string) bool { return slices.Contains(flags, f) || slices.Contains(flags, "Full") }
	s.store.Mu.Lock()
	sp, j, ok := s.syncJob(c)
	started := false
	if ok {
		if has("ForceDeletes") {
			j.ForceDeletes = true
		}
		if has("ConnectorDataStore") {
			// Entra forgets what it provisioned; the next cycle matches target objects afresh.
			j.Provisioned = nil
		}
		if has("Escrows") && j.Status.LastExecution != nil {
			j.Status.LastExecution.CountEscrowed = 0
			j.Status.LastExecution.CountEscrowedRaw = 0
		}
		if has("Watermark") {
			j.Status.Progress = []any{}
		}
		// Graph documents that a restart with None "starts a paused or quarantined provisioning job"
		// and that QuarantineState "temporarily lifts the quarantine", not what a restart naming
		// neither does to a quarantined job: the RestartQuarantine fault offers both guesses.
		// ForceDeletes exists to release a job held by the accidental-deletion threshold, so it lifts
		// that quarantine under either guess.
		releases := has("QuarantineState") || slices.Contains(flags, "None") ||
			(has("ForceDeletes") && j.Status.Quarantine != nil && j.Status.Quarantine.Reason == provisioning.ReasonTooManyDeletes)
		keep := j.Status.Quarantine != nil && !releases && s.faults.get().RestartQuarantine == RestartQuarantineScope
		if keep {
			// The quarantine stays, and so does its next attempt: the resets apply to that cycle.
			j.Schedule.State = "Active"
		} else {
			s.startLocked(j)
		}
		started = !keep
	}
	s.store.Mu.Unlock()
	if !ok {
		return
	}
	if started {
		s.engine.JobStarted(sp.ID, j.ID)
	}
	c.noContent()
}

// validateCredentials is Entra's "Test Connection": it really calls the SCIM endpoint and saves
// nothing. With useSavedCredentials the saved credentials are tested and credentials are ignored.
func (s *API) validateCredentials(c *gctx) {
	var body struct {
		UseSavedCredentials   bool                 `json:"useSavedCredentials"`
		Credentials           []directory.KeyValue `json:"credentials"`
		TemplateID            *string              `json:"templateId"`
		ApplicationIdentifier *string              `json:"applicationIdentifier"`
	}
	if !c.decode(&body) {
		return
	}
	given := map[string]string{}
	for _, kv := range body.Credentials {
		if !slices.Contains(syncSecretKeys, kv.Key) {
			c.badRequest(fmt.Sprintf("The credential key '%s' is not a valid synchronizationSecret.", kv.Key))
			return
		}
		if _, dup := given[kv.Key]; dup {
			c.badRequest(fmt.Sprintf("The credential key '%s' is given more than once.", kv.Key))
			return
		}
		given[kv.Key] = kv.Value
	}
	jobless := c.param("jobId") == ""
	s.store.Mu.RLock()
	var (
		sp *directory.ServicePrincipal
		ok bool
	)
	if jobless {
		sp, ok = s.syncSP(c)
	} else {
		sp, _, ok = s.syncJob(c)
	}
	if !ok {
		s.store.Mu.RUnlock()
		return
	}
	if sp.Sync == nil {
		s.store.Mu.RUnlock()
		c.noProvisioning(sp)
		return
	}
	if jobless {
		if body.TemplateID == nil || !slices.ContainsFunc(sp.Sync.Templates, func(t *directory.SyncTemplate) bool { return t.ID == *body.TemplateID }) {
			s.store.Mu.RUnlock()
			c.badRequest("The property 'templateId' must name one of the service principal's synchronization templates.")
			return
		}
		if body.ApplicationIdentifier != nil && *body.ApplicationIdentifier != "" &&
			!slices.ContainsFunc(sp.Sync.Templates, func(t *directory.SyncTemplate) bool {
				return strings.EqualFold(t.FactoryTag, *body.ApplicationIdentifier)
			}) &&
			!strings.EqualFold(*body.ApplicationIdentifier, sp.AppID) {
			s.store.Mu.RUnlock()
			c.badRequest(fmt.Sprintf("The applicationIdentifier '%s' does not match the application.", *body.ApplicationIdentifier))
			return
		}
	}
	creds := given
	if body.UseSavedCredentials {
		creds = map[string]string{"BaseAddress": sp.Sync.Secrets["BaseAddress"], "SecretToken": sp.Sync.Secrets["SecretToken"]}
	}
	s.store.Mu.RUnlock()
	baseURL, token := creds["BaseAddress"], creds["SecretToken"]
	if baseURL == "" || token == "" {
		missing := "BaseAddress"
		if baseURL != "" {
			missing = "SecretToken"
		}
		where := "in the request"
		if body.UseSavedCredentials {
			where = "among the saved credentials"
		}
		c.error(http.StatusBadRequest, "CredentialValidationUnavailable", fmt.Sprintf("You appear to have entered invalid credentials: %s is missing %s.", missing, where))
		return
	}
	if err := s.engine.TestConnection(c.r.Context(), baseURL, token); err != nil {
		msg := err.Error()
		// The reason must never carry the token; a very short one is no secret and scrubbing it
		// would garble the message.
		if len(token) >= 8 {
			msg = strings.ReplaceAll(msg, token, "***")
		}
		status, code := http.StatusBadRequest, "CredentialValidationUnavailable"
		if s.faults.get().CredentialTestFailureStatus == http.StatusInternalServerError {
			status, code = http.StatusInternalServerError, "UnknownError"
		}
		c.error(status, code, "Failed to validate the credentials of the target system (Tenant URL and Secret Token): "+msg)
		return
	}
	c.noContent()
}
