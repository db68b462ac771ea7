package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// An interrupted apply leaves an app that no state records. These tests make one the way the
// provider does (instantiate, as the provider's own client) and drop it on the floor, then apply.

// orphan is an app instantiated outside Terraform, as an interrupted apply leaves it.
type orphan struct{ sp, app string }

func eaMakeOrphan(t *testing.T, s *sandbox.Server, templateID, name string) orphan {
	t.Helper()
	status, body, err := eaGraphAsE(s, s.MainClient().AppID, http.MethodPost, "/applicationTemplates/"+templateID+"/instantiate", map[string]any{"displayName": name})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("instantiate %q: %d %v %v", name, status, body, err)
	}
	return orphan{sp: body["servicePrincipal"].(map[string]any)["id"].(string), app: body["application"].(map[string]any)["id"].(string)}
}

// eaDeleteOrphans removes what a test left on purpose, so the destroy check sees a clean tenant.
func eaDeleteOrphans(s *sandbox.Server, orphans ...orphan) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, o := range orphans {
			status, body, err := eaAdminGraphE(s, http.MethodDelete, "/applications/"+o.app, nil)
			if err != nil {
				return err
			}
			if status != http.StatusNoContent && status != http.StatusNotFound {
				return fmt.Errorf("delete application %s: %d %v", o.app, status, body)
			}
		}
		return nil
	}
}

// diagRecorder serves the provider and keeps the warnings its applies return, which
// terraform-plugin-testing does not show to checks.
type diagRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (d *diagRecorder) providers(s *sandbox.Server) map[string]func() (tfprotov6.ProviderServer, error) {
	o := Options{Transport: s.HTTPClient().Transport}
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			srv, err := testServer(NewWithOptions("test", o))()
			return &recordingServer{ProviderServer: srv, rec: d}, err
		},
	}
}

func (d *diagRecorder) all() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.warnings, "\n---\n")
}

// expect fails unless some warning matches every pattern.
func (d *diagRecorder) expect(patterns ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d.mu.Lock()
		defer d.mu.Unlock()
	next:
		for _, w := range d.warnings {
			for _, p := range patterns {
				if !eaRE(p).MatchString(w) {
					continue next
				}
			}
			return nil
		}
		return fmt.Errorf("no warning matches %q; the warnings were:\n%s", patterns, strings.Join(d.warnings, "\n---\n"))
	}
}

type recordingServer struct {
	tfprotov6.ProviderServer
	rec *diagRecorder
}

func (r *recordingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	resp, err := r.ProviderServer.ApplyResourceChange(ctx, req)
	if resp != nil {
		r.rec.mu.Lock()
		for _, d := range resp.Diagnostics {
			if d.Severity == tfprotov6.DiagnosticSeverityWarning {
				r.rec.warnings = append(r.rec.warnings, d.Summary+": "+d.Detail)
			}
		}
		r.rec.mu.Unlock()
	}
	return resp, err
}

func eaInstantiateCalls(s *sandbox.Server, want int64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if n := s.Stats().Routes["POST /applicationTemplates/{id}/instantiate"]; n != want {
			return fmt.Errorf("instantiate was called %d times, want %d", n, want)
		}
		return nil
	}
}

// The app an interrupted apply left is adopted, with a warning naming it, and nothing is created.
func TestEnterpriseAppResource_adoptOrphan(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (orphan)"
	o := eaMakeOrphan(t, s, tplID, name)
	s.ResetStats()
	var rec diagRecorder
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.providers(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_basic(s, name),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("id"), knownvalue.StringExact(o.sp)),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("application_object_id"), knownvalue.StringExact(o.app)),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("user_role_id"), eaGUID),
			},
			Check: resource.ComposeTestCheckFunc(
				eaCheckInSandbox(s, name, tplID), // exactly one gallery app
				eaInstantiateCalls(s, 0),
				rec.expect(`Adopted an existing enterprise application`, `named "Netskope \(orphan\)"`, o.sp, o.app, `created \S+ \(\d+s ago\)`),
			),
		}},
	})
}

// Two apps of the same name: nothing is adopted or created; the error names both and the import.
func TestEnterpriseAppResource_adoptAmbiguous(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (twice)"
	a := eaMakeOrphan(t, s, tplID, name)
	// A minute apart, so they are listed in a known order (oldest first).
	if _, err := s.AdvanceClock(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	b := eaMakeOrphan(t, s, tplID, name)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config: testAccEnterpriseAppConfig_basic(s, name),
				ExpectError: eaRE(`An enterprise application named "Netskope \(twice\)" already exists.*already has 2 enterprise application\(s\)` +
					`.*service principal ` + a.sp + `, application ` + a.app + `, created \S+Z \(1m ago\)` +
					`.*service principal ` + b.sp + `, application ` + b.app +
					`.*terraform import <address> ` + a.sp + `.*terraform import <address> ` + b.sp +
					`.*import \{ to = <address> id = "` + b.sp + `" \}`),
			},
			{
				// Nothing was created: the two remain, alone.
				Config: testProviderConfig(s),
				Check: resource.ComposeTestCheckFunc(eaInstantiateCalls(s, 0), func(*terraform.State) error {
					if n := len(eaGalleryApps(t, s)); n != 2 {
						return fmt.Errorf("the sandbox has %d gallery apps, want the 2 made before", n)
					}
					return nil
				}, eaDeleteOrphans(s, a, b)),
			},
		},
	})
}

// An app of the same name made more than an hour ago is someone's, not an interrupted apply's.
func TestEnterpriseAppResource_adoptTooOld(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (old)"
	o := eaMakeOrphan(t, s, tplID, name)
	if _, err := s.AdvanceClock(context.Background(), 61*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config: testAccEnterpriseAppConfig_basic(s, name),
				ExpectError: eaRE(`already has 1 enterprise application\(s\).*service principal ` + o.sp + `.*\(1h1m ago\)` +
					`.*not adopted: it was created 1h1m ago, more than an hour ago.*terraform import <address> ` + o.sp),
			},
			{
				Config: testProviderConfig(s),
				Check:  resource.ComposeTestCheckFunc(eaInstantiateCalls(s, 0), eaDeleteOrphans(s, o)),
			},
		},
	})
}

// An app of the same name whose provisioning was set up is finished work, not a leftover.
func TestEnterpriseAppResource_adoptProvisioned(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (provisioned)"
	o := eaMakeOrphan(t, s, tplID, name)
	_, tpls := eaAdminGraph(t, s, http.MethodGet, "/servicePrincipals/"+o.sp+"/synchronization/templates", nil)
	syncTpl := tpls["value"].([]any)[0].(map[string]any)["id"].(string)
	if status, body := eaAdminGraph(t, s, http.MethodPost, "/servicePrincipals/"+o.sp+"/synchronization/jobs", map[string]any{"templateId": syncTpl}); status != http.StatusCreated {
		t.Fatalf("create job: %d %v", status, body)
	}
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config:      testAccEnterpriseAppConfig_basic(s, name),
				ExpectError: eaRE(`service principal ` + o.sp + `.*not adopted: it has a provisioning job \(` + syncTpl + `\.\S+, status NotConfigured\)`),
			},
			{
				Config: testProviderConfig(s),
				Check:  resource.ComposeTestCheckFunc(eaInstantiateCalls(s, 0), eaDeleteOrphans(s, o)),
			},
		},
	})
}

// Apps of other names, and an app of the same name from another template, are left alone: the
// create makes a new app, one listing request more than before.
func TestEnterpriseAppResource_adoptNoCandidate(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	contoso := eaTemplateByName(t, s, "Contoso SCIM Directory")["id"].(string)
	const name = "Netskope (fresh)"
	others := []orphan{eaMakeOrphan(t, s, tplID, "Netskope (fresh) 2"), eaMakeOrphan(t, s, tplID, "netskope (FRESH)"), eaMakeOrphan(t, s, contoso, name)}
	var rec diagRecorder
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.providers(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				PreConfig: s.ResetStats,
				Config:    testAccEnterpriseAppConfig_basic(s, name),
				Check: resource.ComposeTestCheckFunc(
					eaInstantiateCalls(s, 1),
					func(st *terraform.State) error {
						id := st.RootModule().Resources[enterpriseAppAddr].Primary.ID
						for _, o := range others {
							if o.sp == id {
								return fmt.Errorf("the app %s of another name or template was adopted", id)
							}
						}
						if n := len(eaGalleryApps(t, s)); n != 4 {
							return fmt.Errorf("the sandbox has %d gallery apps, want the 3 made before and the new one", n)
						}
						if w := rec.all(); w != "" {
							return fmt.Errorf("a create without a candidate warned: %s", w)
						}
						return nil
					},
				),
			},
			{
				Config: testProviderConfig(s),
				Check:  eaDeleteOrphans(s, others...),
			},
		},
	})
}

// Replication hid the orphan when the create looked: the create finds it once its own app is
// readable, deletes the app it just made and adopts the orphan, so the tenant holds one.
func TestEnterpriseAppResource_adoptHiddenByReplication(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (lagging orphan)"
	f := sandbox.DefaultFaults()
	f.ReplicationLagMS = int((10 * time.Minute).Milliseconds())
	s.SetFaults(f)
	o := eaMakeOrphan(t, s, tplID, name)
	s.ResetStats()
	// Once the provider instantiates (its look-up is done), replication catches up.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if s.Stats().Routes["POST /applicationTemplates/{id}/instantiate"] > 0 {
				s.SetFaults(sandbox.DefaultFaults())
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	var rec diagRecorder
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.providers(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_basic(s, name),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("id"), knownvalue.StringExact(o.sp)),
			},
			Check: resource.ComposeTestCheckFunc(
				eaInstantiateCalls(s, 1),
				eaCheckInSandbox(s, name, tplID), // one gallery app: the new one is gone
				rec.expect(`Adopted an existing enterprise application`, o.sp, `listed it only after this apply had created another \(service principal \S+\), which was deleted again`),
			),
		}},
	})
}

// Two apps of the same name in one configuration are two apps: neither create takes the other's
// new app for an orphan, and neither warns.
func TestEnterpriseAppResource_adoptNotOwnSibling(t *testing.T) {
	s := newSandbox(t)
	var rec diagRecorder
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.providers(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + `
resource "entranetskope_enterprise_app" "twin" {
  count        = 2
  display_name = "Netskope (twins)"
}
`,
			Check: resource.ComposeTestCheckFunc(
				eaInstantiateCalls(s, 2),
				func(st *terraform.State) error {
					a := st.RootModule().Resources["entranetskope_enterprise_app.twin.0"].Primary.ID
					b := st.RootModule().Resources["entranetskope_enterprise_app.twin.1"].Primary.ID
					if a == b {
						return fmt.Errorf("both resources hold the app %s", a)
					}
					if n := len(eaGalleryApps(t, s)); n != 2 {
						return fmt.Errorf("the sandbox has %d gallery apps, want 2", n)
					}
					if w := rec.all(); w != "" {
						return fmt.Errorf("the twins warned: %s", w)
					}
					return nil
				},
			),
		}},
	})
}

// Looking for an interrupted apply's app costs a create two listing requests when there is none:
// one before instantiate, one after (which finds only the new app, so no service principal listing).
func TestEnterpriseAppResource_adoptLookupRequests(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			PreConfig: s.ResetStats,
			Config:    testAccEnterpriseAppConfig_basic(s, "Netskope (counted)"),
			Check: func(*terraform.State) error {
				st := s.Stats()
				if st.Routes["GET /applications"] != 2 || st.Routes["GET /servicePrincipals"] != 0 {
					return fmt.Errorf("the create listed applications %d times and service principals %d times, want 2 and 0 (routes %v)",
						st.Routes["GET /applications"], st.Routes["GET /servicePrincipals"], st.Routes)
				}
				t.Logf("create and refresh: %d Graph requests %v", st.Total, st.Routes)
				return nil
			},
		}},
	})
}
