// Package probe records how a real Entra tenant answers the calls whose behaviour Microsoft does not
// document, so the sandbox can be compared with it: whether PUT synchronization/secrets merges or
// replaces, which secrets GET masks, the failure body of validateCredentials (job and job-less form),
// whether a second job from the same template is refused, how the service answers clearing a JSON
// secret with "" and a key in the wrong case, and how long synchronization calls answer 403/409/404
// after instantiate.
//
// It runs against whatever the Graph client points at: a tenant (`make probe`, with a disposable
// enterprise app it creates and deletes) or the sandbox (its tests). Every step records what it saw;
// a failed step is an answer too, never a reason to stop.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// Answer is how Graph answered one call.
type Answer struct {
	Status  int    `json:"status"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Wait is how long a kind of call kept failing after instantiate, and with what.
type Wait struct {
	// Statuses counts the answers seen before the first success ("200": 1 when it worked at once).
	Statuses map[string]int `json:"statuses"`
	// WaitedMS is the time from instantiate to the first success (or to giving up).
	WaitedMS int64 `json:"waited_ms"`
	// GaveUp is set when the call never succeeded within the probe's patience.
	GaveUp bool `json:"gave_up,omitempty"`
}

// Report is what one probe run found. Compare two with Differences.
type Report struct {
	Target     string `json:"target"`
	RecordedAt string `json:"recorded_at"`
	// SecretsPut is "merge" (keys not sent keep their values) or "replace" (they are gone).
	SecretsPut string `json:"secrets_put"`
	// MaskedKeys are the saved keys GET secrets returns as "*".
	MaskedKeys []string `json:"masked_keys"`
	// ClearJSONSecretWithEmpty is PUT SyncNotificationSettings = "".
	ClearJSONSecretWithEmpty Answer `json:"clear_json_secret_with_empty"`
	// WrongCaseSecretKey is PUT baseAddress (Graph's key is BaseAddress).
	WrongCaseSecretKey Answer `json:"wrong_case_secret_key"`
	// ValidateCredentialsFailure is validateCredentials on the job with a refused token.
	ValidateCredentialsFailure Answer `json:"validate_credentials_failure"`
	// JoblessValidateCredentials is the job-less form (jobs/validateCredentials with templateId).
	JoblessValidateCredentials Answer `json:"jobless_validate_credentials"`
	// SecondJobSameTemplate is POST jobs a second time with the same template.
	SecondJobSameTemplate Answer `json:"second_job_same_template"`
	// TemplatesAfterInstantiate and JobAfterInstantiate time the synchronization calls' readiness.
	TemplatesAfterInstantiate Wait `json:"templates_after_instantiate"`
	JobAfterInstantiate       Wait `json:"job_after_instantiate"`
}

// Options tune a run.
type Options struct {
	// Target names what was probed in the report (a tenant id, "sandbox").
	Target string
	// SCIMURL is a Netskope SCIM base URL for the credential tests (a refused token is sent to it);
	// any https URL works, the answer is recorded either way.
	SCIMURL string
	// Patience bounds the wait for synchronization calls after instantiate (5 minutes when zero).
	Patience time.Duration
	// Poll is the pause between attempts while waiting (2 s when zero).
	Poll time.Duration
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

const netskopeTemplate = "Netskope User Authentication"

// Run probes with a disposable enterprise app, which it deletes (and purges) before returning.
func Run(ctx context.Context, g *graph.Client, opts Options) (*Report, error) {
	if opts.Patience <= 0 {
		opts.Patience = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.SCIMURL == "" {
		opts.SCIMURL = "https://probe.goskope.com/api/v2/scim"
	}
	tpls, err := g.FindAppTemplates(ctx, netskopeTemplate)
	if err != nil {
		return nil, fmt.Errorf("finding the gallery template %q: %w", netskopeTemplate, err)
	}
	if len(tpls) == 0 {
		return nil, fmt.Errorf("the gallery has no template %q", netskopeTemplate)
	}
	name := "entranetskope-probe-" + uuid.NewString()[:8]
	opts.Logf("instantiating %q as %s", netskopeTemplate, name)
	app, err := g.InstantiateAppTemplate(ctx, tpls[0].ID, name)
	if err != nil {
		return nil, fmt.Errorf("instantiating the probe app: %w", err)
	}
	born := time.Now()
	defer func() {
		// A fresh context: the probe's own may be what ended.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := g.DeleteEnterpriseApp(cctx, app, true); err != nil {
			opts.Logf("could not delete the probe app %s (delete it in the portal): %v", app.ServicePrincipalID, err)
		}
	}()
	r := &Report{Target: opts.Target, RecordedAt: time.Now().UTC().Format(time.RFC3339)}
	base := "/servicePrincipals/" + app.ServicePrincipalID + "/synchronization"

	var templates struct {
		Value []struct {
			ID      string `json:"id"`
			Default bool   `json:"default"`
		} `json:"value"`
	}
	r.TemplatesAfterInstantiate = waitFor(ctx, born, opts, func() error { return g.Do(ctx, http.MethodGet, base+"/templates", nil, &templates) })
	if len(templates.Value) == 0 {
		return r, errors.New("the probe app has no synchronization template")
	}
	templateID := templates.Value[0].ID
	var job struct {
		ID string `json:"id"`
	}
	r.JobAfterInstantiate = waitFor(ctx, born, opts, func() error {
		return g.Do(ctx, http.MethodPost, base+"/jobs", map[string]any{"templateId": templateID}, &job)
	})
	r.SecondJobSameTemplate = answer(g.Do(ctx, http.MethodPost, base+"/jobs", map[string]any{"templateId": templateID}, nil))

	refused := []map[string]string{{"key": "BaseAddress", "value": opts.SCIMURL}, {"key": "SecretToken", "value": "entranetskope-probe-refused-token"}}
	if job.ID != "" {
		r.ValidateCredentialsFailure = answer(g.Do(ctx, http.MethodPost, base+"/jobs/"+job.ID+"/validateCredentials",
			map[string]any{"useSavedCredentials": false, "credentials": refused}, nil))
	}
	r.JoblessValidateCredentials = answer(g.Do(ctx, http.MethodPost, base+"/jobs/validateCredentials",
		map[string]any{"templateId": templateID, "useSavedCredentials": false, "credentials": refused}, nil))

	r.SecretsPut, r.MaskedKeys = probeSecrets(ctx, g, base, opts.SCIMURL)
	r.ClearJSONSecretWithEmpty = answer(g.Do(ctx, http.MethodPut, base+"/secrets",
		map[string]any{"value": []map[string]string{{"key": "SyncNotificationSettings", "value": ""}}}, nil))
	r.WrongCaseSecretKey = answer(g.Do(ctx, http.MethodPut, base+"/secrets",
		map[string]any{"value": []map[string]string{{"key": "baseAddress", "value": opts.SCIMURL}}}, nil))
	return r, nil
}

// probeSecrets saves a URL and a token, then PUTs another key alone and reads what stayed.
func probeSecrets(ctx context.Context, g *graph.Client, base, scimURL string) (string, []string) {
	put := func(kv ...string) error {
		var items []map[string]string
		for i := 0; i+1 < len(kv); i += 2 {
			items = append(items, map[string]string{"key": kv[i], "value": kv[i+1]})
		}
		return g.Do(ctx, http.MethodPut, base+"/secrets", map[string]any{"value": items}, nil)
	}
	if err := put("BaseAddress", scimURL, "SecretToken", "entranetskope-probe-token", "SyncAll", "false"); err != nil {
		return "unknown: " + err.Error(), nil
	}
	if err := put("SyncNotificationSettings", `{"Enabled":false}`); err != nil {
		return "unknown: " + err.Error(), nil
	}
	var got struct {
		Value []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"value"`
	}
	if err := g.Do(ctx, http.MethodGet, base+"/secrets", nil, &got); err != nil {
		return "unknown: " + err.Error(), nil
	}
	mode := "replace"
	var masked []string
	for _, kv := range got.Value {
		if kv.Key == "BaseAddress" && kv.Value != "" {
			mode = "merge"
		}
		if kv.Value == "*" {
			masked = append(masked, kv.Key)
		}
	}
	if mode == "replace" {
		// The token is masked only while it is saved: save everything again to see which keys mask.
		if err := put("BaseAddress", scimURL, "SecretToken", "entranetskope-probe-token", "SyncAll", "false", "SyncNotificationSettings", `{"Enabled":false}`); err == nil {
			if err := g.Do(ctx, http.MethodGet, base+"/secrets", nil, &got); err == nil {
				masked = nil
				for _, kv := range got.Value {
					if kv.Value == "*" {
						masked = append(masked, kv.Key)
					}
				}
			}
		}
	}
	sort.Strings(masked)
	return mode, masked
}

// waitFor calls call until it succeeds or the patience runs out, counting the failures by status.
func waitFor(ctx context.Context, born time.Time, opts Options, call func() error) Wait {
	w := Wait{Statuses: map[string]int{}}
	deadline := born.Add(opts.Patience)
	for {
		err := call()
		a := answer(err)
		w.Statuses[strconv.Itoa(a.Status)]++
		w.WaitedMS = time.Since(born).Milliseconds()
		if err == nil {
			return w
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.GaveUp = true
			return w
		}
		opts.Logf("not ready after %d ms: %d %s", w.WaitedMS, a.Status, a.Code)
		select {
		case <-ctx.Done():
		case <-time.After(opts.Poll):
		}
	}
}

func answer(err error) Answer {
	if err == nil {
		return Answer{Status: http.StatusOK}
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		return Answer{Status: ge.Status, Code: ge.Code, Message: ge.Message}
	}
	return Answer{Status: -1, Message: err.Error()}
}

// Differences lists where two reports disagree on a behaviour (not on timings or messages), in a
// form a person can read: "secrets_put: merge here, replace there".
func Differences(here, there *Report) []string {
	var out []string
	diff := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s: %v here, %v there", what, a, b))
		}
	}
	diff("secrets_put", here.SecretsPut, there.SecretsPut)
	diff("masked_keys", here.MaskedKeys, there.MaskedKeys)
	for _, p := range []struct {
		what string
		a, b Answer
	}{
		{"clear_json_secret_with_empty", here.ClearJSONSecretWithEmpty, there.ClearJSONSecretWithEmpty},
		{"wrong_case_secret_key", here.WrongCaseSecretKey, there.WrongCaseSecretKey},
		{"validate_credentials_failure", here.ValidateCredentialsFailure, there.ValidateCredentialsFailure},
		{"jobless_validate_credentials", here.JoblessValidateCredentials, there.JoblessValidateCredentials},
		{"second_job_same_template", here.SecondJobSameTemplate, there.SecondJobSameTemplate},
	} {
		diff(p.what+".status", p.a.Status, p.b.Status)
		diff(p.what+".code", p.a.Code, p.b.Code)
	}
	// Readiness: which failure statuses appear, not how long they lasted.
	failures := func(w Wait) []string {
		var s []string
		for k := range w.Statuses {
			if k != "200" {
				s = append(s, k)
			}
		}
		slices.Sort(s)
		return s
	}
	diff("templates_after_instantiate.failures", failures(here.TemplatesAfterInstantiate), failures(there.TemplatesAfterInstantiate))
	diff("job_after_instantiate.failures", failures(here.JobAfterInstantiate), failures(there.JobAfterInstantiate))
	return out
}
