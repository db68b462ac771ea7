package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// syncSecretsBody builds a PUT secrets body with the SDK's models.
func syncSecretsBody(kv map[string]string) *serviceprincipals.ItemSynchronizationSecretsPutRequestBody {
	var items []models.SynchronizationSecretKeyStringValuePairable
	for k, v := range kv {
		key, err := models.ParseSynchronizationSecret(k)
		if err != nil || key == nil {
			panic("unknown secret key " + k)
		}
		p := models.NewSynchronizationSecretKeyStringValuePair()
		p.SetKey(key.(*models.SynchronizationSecret))
		val := v
		p.SetValue(&val)
		items = append(items, p)
	}
	body := serviceprincipals.NewItemSynchronizationSecretsPutRequestBody()
	body.SetValue(items)
	return body
}

func syncCredentials(baseURL, token string) []models.SynchronizationSecretKeyStringValuePairable {
	var out []models.SynchronizationSecretKeyStringValuePairable
	for _, kv := range [][2]string{{"BaseAddress", baseURL}, {"SecretToken", token}} {
		key, _ := models.ParseSynchronizationSecret(kv[0])
		p := models.NewSynchronizationSecretKeyStringValuePair()
		p.SetKey(key.(*models.SynchronizationSecret))
		v := kv[1]
		p.SetValue(&v)
		out = append(out, p)
	}
	return out
}

func syncCreateJob(t *testing.T, client *msgraphsdk.GraphServiceClient, spID, templateID string) models.SynchronizationJobable {
	t.Helper()
	body := models.NewSynchronizationJob()
	body.SetTemplateId(&templateID)
	job, err := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().Post(context.Background(), body, nil)
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	return job
}

func TestGraphSyncJobLifecycle(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	_, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope provisioning")
	spID := *sp.GetId()
	sync := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization()

	templates, err := sync.Templates().Get(ctx, nil)
	if err != nil {
		t.Fatalf("templates: %v", err)
	}
	if len(templates.GetValue()) != 1 {
		t.Fatalf("%d synchronization templates, want 1", len(templates.GetValue()))
	}
	tpl := templates.GetValue()[0]
	if tpl.GetDefaultEscaped() == nil || !*tpl.GetDefaultEscaped() {
		t.Errorf("template default = %v", tpl.GetDefaultEscaped())
	}
	if tpl.GetApplicationId().String() != *sp.GetAppId() || *tpl.GetFactoryTag() == "" || len(tpl.GetMetadata()) == 0 {
		t.Errorf("template applicationId %s (want %s), factoryTag %v, metadata %d", tpl.GetApplicationId(), *sp.GetAppId(), tpl.GetFactoryTag(), len(tpl.GetMetadata()))
	}
	// The schema is a navigation property: not inlined in the template, read on its own.
	if tpl.GetSchema() != nil {
		t.Error("the template inlines its schema; Graph serves it at .../templates/{id}/schema")
	}
	tplSchema, err := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Templates().BySynchronizationTemplateId(*tpl.GetId()).Schema().Get(ctx, nil)
	if err != nil || len(tplSchema.GetSynchronizationRules()) == 0 || len(tplSchema.GetDirectories()) != 2 {
		t.Fatalf("template schema: %v", err)
	}

	job := syncCreateJob(t, client, spID, *tpl.GetId())
	jobID := *job.GetId()
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(*tpl.GetId()) + `\.[0-9a-f]{32}\.[0-9a-f-]{36}$`).MatchString(jobID) {
		t.Errorf("job id %q does not look like <templateId>.<32 hex>.<guid>", jobID)
	}
	if got := job.GetSchedule().GetState().String(); got != "Disabled" {
		t.Errorf("new job schedule state %s, want Disabled", got)
	}
	if got := job.GetStatus().GetCode().String(); got != "NotConfigured" {
		t.Errorf("new job status %s, want NotConfigured", got)
	}
	// The raw shape: interval is TimeSpan.MaxValue, steady state the zero date.
	status, _, raw := graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals/"+spID+"/synchronization/jobs/"+jobID, nil)
	if status != http.StatusOK {
		t.Fatalf("get job: %d %v", status, raw)
	}
	sched := raw["schedule"].(map[string]any)
	st := raw["status"].(map[string]any)
	if sched["interval"] != graphapi.MaxTimeSpanInterval || sched["expiration"] != nil {
		t.Errorf("new job schedule %v", sched)
	}
	if st["steadyStateFirstAchievedTime"] != "0001-01-01T00:00:00Z" || st["quarantine"] != nil || st["lastExecution"] != nil {
		t.Errorf("new job status %v", st)
	}
	if settings, _ := raw["synchronizationJobSettings"].([]any); len(settings) == 0 || settings[0].(map[string]any)["name"] == nil {
		t.Errorf("synchronizationJobSettings should be name/value pairs: %v", raw["synchronizationJobSettings"])
	}

	// A second job from the same template, an unknown template.
	status, _, raw = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs", map[string]any{"templateId": *tpl.GetId()})
	if status != http.StatusConflict {
		t.Errorf("duplicate job: %d %v, want 409", status, raw)
	}
	status, _, raw = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs", map[string]any{"templateId": "salesforce"})
	if status != http.StatusBadRequest {
		t.Errorf("unknown template: %d %v, want 400", status, raw)
	} else {
		errorCode(t, raw)
	}

	// Starting without credentials is tested by TestGraphSyncStartWithoutCredentials.
	jobs := sync.Jobs().BySynchronizationJobId(jobID)
	if _, err := sync.Secrets().PutAsSecretsPutResponse(ctx, syncSecretsBody(map[string]string{
		"BaseAddress": s.SCIMURL(""), "SecretToken": s.SCIMToken(""), "SyncAll": "false",
	}), nil); err != nil {
		t.Fatalf("save secrets: %v", err)
	}
	got, err := jobs.Get(ctx, nil)
	if err != nil || got.GetStatus().GetCode().String() != "NotRun" {
		t.Fatalf("job after credentials were saved: %v %v", err, got.GetStatus().GetCode())
	}

	if err := jobs.Start().Post(ctx, nil); err != nil {
		t.Fatalf("start: %v", err)
	}
	status, _, raw = graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals/"+spID+"/synchronization/jobs/"+jobID, nil)
	sched = raw["schedule"].(map[string]any)
	if status != http.StatusOK || sched["state"] != "Active" || sched["interval"] != "PT40M" {
		t.Errorf("started job schedule: %d %v", status, sched)
	}

	if err := jobs.Pause().Post(ctx, nil); err != nil {
		t.Fatalf("pause: %v", err)
	}
	got, _ = jobs.Get(ctx, nil)
	if got.GetSchedule().GetState().String() != "Paused" || got.GetStatus().GetCode().String() != "Paused" {
		t.Errorf("paused job: schedule %s, status %s", got.GetSchedule().GetState(), got.GetStatus().GetCode())
	}

	// Restart as the SDK writes it (flags without spaces) and as documented (with spaces).
	restart := serviceprincipals.NewItemSynchronizationJobsItemRestartPostRequestBody()
	criteria := models.NewSynchronizationJobRestartCriteria()
	scope := models.SynchronizationJobRestartScope(models.WATERMARK_SYNCHRONIZATIONJOBRESTARTSCOPE | models.ESCROWS_SYNCHRONIZATIONJOBRESTARTSCOPE | models.QUARANTINESTATE_SYNCHRONIZATIONJOBRESTARTSCOPE)
	criteria.SetResetScope(&scope)
	restart.SetCriteria(criteria)
	s.store.Mu.Lock()
	s.store.SPs[spID].Sync.Jobs[jobID].Status.Quarantine = &directory.SyncQuarantine{Reason: "EncounteredQuarantineException", SeriesCount: 3}
	s.store.SPs[spID].Sync.Jobs[jobID].Status.CountSuccessiveCompleteFailures = 3
	s.store.Mu.Unlock()
	if err := jobs.Restart().Post(ctx, restart, nil); err != nil {
		t.Fatalf("restart: %v", err)
	}
	got, _ = jobs.Get(ctx, nil)
	if got.GetSchedule().GetState().String() != "Active" || got.GetStatus().GetQuarantine() != nil || *got.GetStatus().GetCountSuccessiveCompleteFailures() != 0 {
		t.Errorf("restarted job: schedule %s, quarantine %v", got.GetSchedule().GetState(), got.GetStatus().GetQuarantine())
	}
	status, _, raw = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs/"+jobID+"/restart",
		map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Escrows, QuarantineState"}})
	if status != http.StatusNoContent {
		t.Errorf("restart with spaced flags: %d %v", status, raw)
	}
	status, _, raw = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs/"+jobID+"/restart",
		map[string]any{"criteria": map[string]any{"resetScope": "Watermark,Everything"}})
	if status != http.StatusBadRequest {
		t.Errorf("restart with an unknown flag: %d %v, want 400", status, raw)
	} else {
		errorCode(t, raw)
	}

	list, err := sync.Jobs().Get(ctx, nil)
	if err != nil || len(list.GetValue()) != 1 || *list.GetValue()[0].GetId() != jobID {
		t.Fatalf("list jobs: %v", err)
	}
	if err := jobs.Delete(ctx, nil); err != nil {
		t.Fatalf("delete job: %v", err)
	}
	_, err = jobs.Get(ctx, nil)
	if err == nil {
		t.Fatal("deleted job still readable")
	}
	if status, code, _ := appsODataError(t, err); status != 404 || code != "Request_ResourceNotFound" {
		t.Errorf("deleted job: %d %s", status, code)
	}
	status, _, raw = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs/"+jobID+"/start", nil)
	if status != http.StatusNotFound {
		t.Errorf("start of a deleted job: %d %v", status, raw)
	}
}

func TestGraphSyncValidateCredentials(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	_, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope connection test")
	spID := *sp.GetId()
	sync := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization()
	job := syncCreateJob(t, client, spID, "netskope")
	jobReq := sync.Jobs().BySynchronizationJobId(*job.GetId())

	// Job-less form, as before any job exists, and the job form.
	jobless := serviceprincipals.NewItemSynchronizationJobsValidateCredentialsPostRequestBody()
	tplID := "netskope"
	useSaved := false
	jobless.SetTemplateId(&tplID)
	jobless.SetUseSavedCredentials(&useSaved)
	jobless.SetCredentials(syncCredentials(s.SCIMURL(""), s.SCIMToken("")))
	if err := sync.Jobs().ValidateCredentials().Post(ctx, jobless, nil); err != nil {
		t.Fatalf("job-less validateCredentials with good credentials: %v", err)
	}
	withJob := serviceprincipals.NewItemSynchronizationJobsItemValidateCredentialsPostRequestBody()
	withJob.SetUseSavedCredentials(&useSaved)
	withJob.SetCredentials(syncCredentials(s.SCIMURL(""), s.SCIMToken("")))
	if err := jobReq.ValidateCredentials().Post(ctx, withJob, nil); err != nil {
		t.Fatalf("validateCredentials with good credentials: %v", err)
	}

	// A wrong token fails with a reason, never echoes the token, and saves nothing.
	badToken := "wrong-token-" + strings.Repeat("z", 20)
	withJob.SetCredentials(syncCredentials(s.SCIMURL(""), badToken))
	err := jobReq.ValidateCredentials().Post(ctx, withJob, nil)
	if err == nil {
		t.Fatal("validateCredentials accepted a wrong token")
	}
	status, code, msg := appsODataError(t, err)
	if status != 400 || code != "CredentialValidationUnavailable" || len(msg) < 20 || strings.Contains(msg, badToken) {
		t.Errorf("failed test: %d %s %q", status, code, msg)
	}
	// An endpoint that is not there.
	withJob.SetCredentials(syncCredentials("https://127.0.0.1:1/api/v2/scim", s.SCIMToken("")))
	if err := jobReq.ValidateCredentials().Post(ctx, withJob, nil); err == nil {
		t.Error("validateCredentials accepted an unreachable endpoint")
	} else if status, code, _ := appsODataError(t, err); status != 400 || code != "CredentialValidationUnavailable" {
		t.Errorf("unreachable endpoint: %d %s", status, code)
	}
	status, _, body := graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals/"+spID+"/synchronization/secrets", nil)
	if status != http.StatusOK || len(body["value"].([]any)) != 0 {
		t.Errorf("secrets after connection tests: %d %v, want none saved", status, body)
	}

	// useSavedCredentials tests what is saved, ignoring credentials.
	saved := true
	withJob.SetUseSavedCredentials(&saved)
	withJob.SetCredentials(syncCredentials(s.SCIMURL(""), s.SCIMToken("")))
	if err := jobReq.ValidateCredentials().Post(ctx, withJob, nil); err == nil {
		t.Error("useSavedCredentials passed with nothing saved")
	}
	if _, err := sync.Secrets().PutAsSecretsPutResponse(ctx, syncSecretsBody(map[string]string{"BaseAddress": s.SCIMURL(""), "SecretToken": s.SCIMToken("")}), nil); err != nil {
		t.Fatal(err)
	}
	withJob.SetCredentials(nil)
	if err := jobReq.ValidateCredentials().Post(ctx, withJob, nil); err != nil {
		t.Errorf("useSavedCredentials with good saved credentials: %v", err)
	}

	// Job-less without a template, or with one the app does not have.
	status, _, body = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs/validateCredentials",
		map[string]any{"useSavedCredentials": true})
	if status != http.StatusBadRequest {
		t.Errorf("job-less validateCredentials without templateId: %d %v", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodPost, "/servicePrincipals/"+spID+"/synchronization/jobs/validateCredentials",
		map[string]any{"templateId": "netskope", "credentials": []any{map[string]any{"key": "Tenant", "value": "x"}}})
	wantGraphError(t, http.StatusBadRequest, status, body, "validateCredentials with an unknown key")
}

func TestGraphSyncSchema(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	_, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope schema")
	spID := *sp.GetId()
	job := syncCreateJob(t, client, spID, "netskope")
	schemaReq := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(*job.GetId()).Schema()

	schema, err := schemaReq.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get schema: %v", err)
	}
	rules := schema.GetSynchronizationRules()
	if len(rules) == 0 || rules[0].GetId() == nil || *rules[0].GetId() != graphapi.SyncRuleID("netskope") {
		t.Fatalf("schema rules: %v", rules)
	}
	var sources []string
	for _, om := range rules[0].GetObjectMappings() {
		sources = append(sources, *om.GetSourceObjectName())
	}
	if strings.Join(sources, ",") != "User,Group" {
		t.Errorf("object mappings for %v, want User and Group", sources)
	}

	// The SDK offers PATCH; Graph answers it 404 UnknownError.
	_, err = schemaReq.Patch(ctx, schema, nil)
	if err == nil {
		t.Fatal("PATCH of a schema succeeded")
	}
	if status, code, _ := appsODataError(t, err); status != 404 || code != "UnknownError" {
		t.Errorf("PATCH schema: %d %s, want 404 UnknownError", status, code)
	}

	path := "/servicePrincipals/" + spID + "/synchronization/jobs/" + *job.GetId() + "/schema"
	status, _, raw := graphCall(t, s, mainID, http.MethodGet, path, nil)
	if status != http.StatusOK {
		t.Fatalf("raw get schema: %d", status)
	}
	userMappings := func(doc map[string]any) []any {
		rule := doc["synchronizationRules"].([]any)[0].(map[string]any)
		return rule["objectMappings"].([]any)[0].(map[string]any)["attributeMappings"].([]any)
	}
	sourceOf := func(doc map[string]any, target string) map[string]any {
		for _, am := range userMappings(doc) {
			if m := am.(map[string]any); m["targetAttributeName"] == target {
				return m["source"].(map[string]any)
			}
		}
		return nil
	}
	// The template's defaults: userName from the UPN, active from Entra's IsSoftDeleted switch.
	if src := sourceOf(raw, "userName"); src["expression"] != "[userPrincipalName]" {
		t.Errorf("userName source: %v", src)
	}
	if src := sourceOf(raw, "active"); src["type"] != "Function" || src["name"] != "Switch" || len(src["parameters"].([]any)) != 6 {
		t.Errorf("active source: %v", src)
	}
	put := func(edit func(src map[string]any)) (int, map[string]any) {
		_, _, doc := graphCall(t, s, mainID, http.MethodGet, path, nil)
		edit(sourceOf(doc, "userName"))
		st, _, body := graphCall(t, s, mainID, http.MethodPut, path, doc)
		return st, body
	}
	if st, body := put(func(src map[string]any) { src["name"], src["expression"] = "mail", "[mail]" }); st != http.StatusNoContent {
		t.Fatalf("PUT schema: %d %v", st, body)
	}
	_, _, raw = graphCall(t, s, mainID, http.MethodGet, path, nil)
	if src := sourceOf(raw, "userName"); src["name"] != "mail" {
		t.Errorf("PUT schema did not keep the new source: %v", src)
	}

	// Undeclared attributes and unknown functions are refused, naming them.
	for what, edit := range map[string]func(map[string]any){
		"jobTitle": func(src map[string]any) { src["name"] = "jobTitle" },
		"DateFormat": func(src map[string]any) {
			src["type"], src["name"], src["parameters"] = "Function", "DateFormat", []any{map[string]any{"key": "source", "value": attrSource("mail")}}
		},
		"'Nothing'": func(src map[string]any) { src["type"] = "Nothing" },
	} {
		st, body := put(edit)
		wantGraphError(t, http.StatusBadRequest, st, body, "PUT of a schema with "+what)
		if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, what) {
			t.Errorf("PUT with %s: error does not name it: %s", what, msg)
		}
	}
	_, _, doc := graphCall(t, s, mainID, http.MethodGet, path, nil)
	for _, am := range userMappings(doc) {
		m := am.(map[string]any)
		if m["targetAttributeName"] == "userName" {
			m["targetAttributeName"] = "title"
		}
	}
	st, _, body := graphCall(t, s, mainID, http.MethodPut, path, doc)
	wantGraphError(t, http.StatusBadRequest, st, body, "PUT of a schema with an undeclared target")
	if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "'title'") || !strings.Contains(msg, "userName") {
		t.Errorf("undeclared target: error does not name it and the valid ones: %s", msg)
	}

	status, _, body = graphCall(t, s, mainID, http.MethodPut, path, map[string]any{"synchronizationRules": raw["synchronizationRules"]})
	wantGraphError(t, http.StatusBadRequest, status, body, "PUT of a partial schema")

	// DELETE restores the template's mappings.
	if st, _, body := graphCall(t, s, mainID, http.MethodDelete, path, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE schema: %d %v", st, body)
	}
	_, _, raw = graphCall(t, s, mainID, http.MethodGet, path, nil)
	if src := sourceOf(raw, "userName"); src["name"] != "userPrincipalName" {
		t.Errorf("DELETE schema left userName from %v", src)
	}
}

func attrSource(name string) map[string]any {
	return map[string]any{"expression": "[" + name + "]", "name": name, "type": "Attribute", "parameters": []any{}}
}

func TestGraphSyncAdminConsoleCannotProvision(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	_, sp := appsInstantiate(t, s, mainID, NetskopeAdminConsoleName, "Netskope console")
	spID := *sp.GetId()
	sync := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization()
	templates, err := sync.Templates().Get(ctx, nil)
	if err != nil || len(templates.GetValue()) != 0 {
		t.Fatalf("templates of an SSO-only app: %v %d", err, len(templates.GetValue()))
	}
	jobs, err := sync.Jobs().Get(ctx, nil)
	if err != nil || len(jobs.GetValue()) != 0 {
		t.Fatalf("jobs of an SSO-only app: %v", err)
	}
	body := models.NewSynchronizationJob()
	tpl := "netskope"
	body.SetTemplateId(&tpl)
	_, err = sync.Jobs().Post(ctx, body, nil)
	if err == nil {
		t.Fatal("created a job on an SSO-only app")
	}
	if status, _, _ := appsODataError(t, err); status != 400 {
		t.Errorf("job on an SSO-only app: %d, want 400", status)
	}
	if _, err := sync.Secrets().PutAsSecretsPutResponse(ctx, syncSecretsBody(map[string]string{"BaseAddress": s.SCIMURL("")}), nil); err == nil {
		t.Error("saved credentials on an SSO-only app")
	}
}

func TestGraphSyncPermissions(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID, adminID := s.MainClient().AppID, s.AdminClient().AppID
	_, foreign := appsInstantiate(t, s, adminID, NetskopeUserAuthTemplateName, "Admin's Netskope")
	base := "/servicePrincipals/" + *foreign.GetId() + "/synchronization"

	// OwnedBy (the least-privilege client) cannot provision an app it does not own.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, base + "/jobs", nil},
		{http.MethodPost, base + "/jobs", map[string]any{"templateId": "netskope"}},
		{http.MethodPut, base + "/secrets", map[string]any{"value": []any{}}},
		{http.MethodPost, base + "/jobs/validateCredentials", map[string]any{"templateId": "netskope", "useSavedCredentials": true}},
	} {
		status, _, body := graphCall(t, s, mainID, c.method, c.path, c.body)
		if status != http.StatusForbidden || errorCode(t, body) != "Authorization_RequestDenied" {
			t.Errorf("%s %s on a foreign app: %d %v, want 403", c.method, c.path, status, body)
		}
	}

	// Synchronization.Read.All reads but does not write.
	if err := s.SetClientRoles(mainID, []string{"Synchronization.Read.All"}); err != nil {
		t.Fatal(err)
	}
	status, _, body := graphCall(t, s, mainID, http.MethodGet, base+"/jobs", nil)
	if status != http.StatusOK {
		t.Errorf("Synchronization.Read.All list jobs: %d %v", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodPost, base+"/jobs", map[string]any{"templateId": "netskope"})
	if status != http.StatusForbidden {
		t.Errorf("Synchronization.Read.All create job: %d %v", status, body)
	}
	// Synchronization.ReadWrite.All writes on any app.
	if err := s.SetClientRoles(mainID, []string{"Synchronization.ReadWrite.All"}); err != nil {
		t.Fatal(err)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodPost, base+"/jobs", map[string]any{"templateId": "netskope"})
	if status != http.StatusCreated {
		t.Errorf("Synchronization.ReadWrite.All create job: %d %v", status, body)
	}
}
