package probe

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func sandboxGraph(t *testing.T, s *sandbox.Server) *graph.Client {
	t.Helper()
	c := s.MainClient()
	g, err := graph.New(graph.Config{Method: graph.AuthClientSecret, TenantID: s.TenantID(), ClientID: c.AppID, ClientSecret: c.Secret,
		AuthorityHost: s.AuthorityHost(), GraphEndpoint: s.GraphEndpoint(), Transport: s.HTTPClient().Transport, MaxRetryWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func runProbe(t *testing.T, s *sandbox.Server) *Report {
	t.Helper()
	g := sandboxGraph(t, s)
	r, err := Run(context.Background(), g, Options{Target: "sandbox", SCIMURL: s.SCIMURL(""), Patience: 30 * time.Second, Poll: 50 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// The probe leaves nothing behind.
	var left struct {
		Value []any `json:"value"`
	}
	if err := g.Do(context.Background(), http.MethodGet, "/servicePrincipals?$filter="+url.QueryEscape("startswith(displayName,'entranetskope-probe-')"), nil, &left); err != nil || len(left.Value) != 0 {
		t.Fatalf("after the probe: %v, %d probe apps left", err, len(left.Value))
	}
	return r
}

// The probe, run against the sandbox, reports what the sandbox models under each fault setting that
// stands for an undocumented behaviour; where a live tenant's report is committed
// (testdata/live*.json, written by `make probe`), the sandbox under its default settings must answer
// the same.
func TestProbe_sandbox(t *testing.T) {
	for _, tc := range []struct {
		name        string
		secretsPut  string
		unready     int // the 403/409 window after instantiate
		wantFailure string
	}{
		{"defaults", "", 0, ""},
		{"merge", sandbox.SecretsPutMerge, 0, ""},
		{"unready 403", "", 403, "403"},
		{"unready 409", sandbox.SecretsPutReplace, 409, "409"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sandbox.DefaultFaults()
			f.SecretsPut = tc.secretsPut
			if tc.unready != 0 {
				f.SyncUnreadyMS, f.SyncUnreadyStatus = 300, tc.unready
			}
			s, err := sandbox.Start(sandbox.Options{Logf: t.Logf, Faults: &f})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			r := runProbe(t, s)
			b, _ := json.MarshalIndent(r, "", "  ")
			t.Logf("sandbox report:\n%s", b)

			want := cmp.Or(tc.secretsPut, sandbox.SecretsPutReplace)
			if r.SecretsPut != want {
				t.Errorf("secrets_put %q, want %q", r.SecretsPut, want)
			}
			if !slices.Contains(r.MaskedKeys, "SecretToken") || slices.Contains(r.MaskedKeys, "BaseAddress") {
				t.Errorf("masked keys %v: the token is masked, the URL is not", r.MaskedKeys)
			}
			if r.ClearJSONSecretWithEmpty.Status != http.StatusBadRequest || r.ClearJSONSecretWithEmpty.Code != "InvalidNotificationSettings" {
				t.Errorf("clearing SyncNotificationSettings with \"\": %+v, want 400 with the inner code InvalidNotificationSettings", r.ClearJSONSecretWithEmpty)
			}
			if r.WrongCaseSecretKey.Status != http.StatusInternalServerError || r.WrongCaseSecretKey.Code != "InternalError" {
				t.Errorf("a key in the wrong case: %+v, want 500 InternalError", r.WrongCaseSecretKey)
			}
			if r.SecondJobSameTemplate.Status != http.StatusConflict {
				t.Errorf("second job from the same template: %+v, want 409", r.SecondJobSameTemplate)
			}
			if r.ValidateCredentialsFailure.Status != http.StatusBadRequest || r.JoblessValidateCredentials.Status != http.StatusBadRequest {
				t.Errorf("refused credentials: job form %+v, job-less form %+v, want 400 each", r.ValidateCredentialsFailure, r.JoblessValidateCredentials)
			}
			for _, w := range []Wait{r.TemplatesAfterInstantiate, r.JobAfterInstantiate} {
				if w.GaveUp || w.Statuses["200"] != 1 {
					t.Errorf("readiness after instantiate: %+v", w)
				}
			}
			if got := r.TemplatesAfterInstantiate.Statuses[tc.wantFailure]; tc.wantFailure != "" && got == 0 {
				t.Errorf("the %s window was not seen: %+v", tc.wantFailure, r.TemplatesAfterInstantiate)
			}
			if tc.name != "defaults" {
				return
			}
			recordings, _ := filepath.Glob(filepath.Join("testdata", "live*.json"))
			for _, path := range recordings {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				var live Report
				if err := json.Unmarshal(data, &live); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				for _, d := range Differences(r, &live) {
					t.Errorf("the sandbox differs from %s: %s (change the sandbox's default, or the fault setting's)", path, d)
				}
			}
			t.Logf("compared with %d live recordings", len(recordings))
		})
	}
}

// Differences names each behaviour two reports disagree on, and nothing else.
func TestDifferences(t *testing.T) {
	a := &Report{SecretsPut: "replace", MaskedKeys: []string{"SecretToken"}, SecondJobSameTemplate: Answer{Status: 409, Code: "Conflict", Message: "x"},
		TemplatesAfterInstantiate: Wait{Statuses: map[string]int{"200": 1}, WaitedMS: 5}}
	b := *a
	b.SecondJobSameTemplate.Message = "another wording"
	b.TemplatesAfterInstantiate = Wait{Statuses: map[string]int{"200": 1}, WaitedMS: 900}
	if d := Differences(a, &b); len(d) != 0 {
		t.Fatalf("messages and timings are not behaviours: %v", d)
	}
	b.SecretsPut = "merge"
	b.JobAfterInstantiate = Wait{Statuses: map[string]int{"403": 3, "200": 1}}
	if d := Differences(a, &b); len(d) != 2 {
		t.Fatalf("want the two differences, got %v", d)
	}
}
