package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const galleryTemplateAddr = "data.entranetskope_gallery_template.test"

func TestGalleryTemplateDataSource_defaultName(t *testing.T) {
	s := newSandbox(t)
	want := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGalleryTemplateConfig_default(s),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("id"), knownvalue.StringExact(want["id"].(string))),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Netskope User Authentication")),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("publisher"), knownvalue.StringExact("Netskope")),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("description"), knownvalue.StringExact(want["description"].(string))),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("categories"), eaStringList(want["categories"])),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("supported_provisioning_types"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("sync")})),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("supported_single_sign_on_modes"), eaStringList(want["supportedSingleSignOnModes"])),
			},
		}},
	})
}

func TestGalleryTemplateDataSource_byID(t *testing.T) {
	s := newSandbox(t)
	want := eaTemplateByName(t, s, sandbox.NetskopeAdminConsoleName)
	id := want["id"].(string)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGalleryTemplateConfig_byID(s, id),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("id"), knownvalue.StringExact(id)),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("display_name"), knownvalue.StringExact(sandbox.NetskopeAdminConsoleName)),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("publisher"), knownvalue.StringExact("Netskope")),
			},
		}},
	})
}

// The administrator console is a Netskope app without provisioning: found, with no provisioning types.
func TestGalleryTemplateDataSource_ssoOnly(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGalleryTemplateConfig_byName(s, sandbox.NetskopeAdminConsoleName),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("display_name"), knownvalue.StringExact(sandbox.NetskopeAdminConsoleName)),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("supported_provisioning_types"), knownvalue.ListExact([]knownvalue.Check{})),
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("supported_single_sign_on_modes"), knownvalue.ListSizeExact(2)),
			},
		}},
	})
}

// Names match exactly but case-insensitively, as Graph's eq does.
func TestGalleryTemplateDataSource_caseInsensitiveName(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGalleryTemplateConfig_byName(s, "netskope user authentication"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(galleryTemplateAddr, tfjsonpath.New("display_name"), knownvalue.StringExact(sandbox.NetskopeUserAuthTemplateName)),
			},
		}},
	})
}

func TestGalleryTemplateDataSource_notFound(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				// The error names the missing template and offers the gallery's similar names.
				Config:      testAccGalleryTemplateConfig_byName(s, "Netskope User Auth"),
				ExpectError: eaRE(`No application template in the Microsoft Entra gallery is named "Netskope User Auth".*"Netskope User Authentication" \(id`),
			},
			{
				Config:      testAccGalleryTemplateConfig_byName(s, "Zzyzx Nothing"),
				ExpectError: eaRE(`named "Zzyzx Nothing".*The Netskope app that supports provisioning is "Netskope User Authentication"`),
			},
			{
				Config:      testAccGalleryTemplateConfig_byID(s, "00000000-1111-2222-3333-444444444444"),
				ExpectError: eaRE(`No application template in the Microsoft Entra gallery has id 00000000-1111-2222-3333-444444444444`),
			},
		},
	})
}

// Bad input is refused at plan time, before any Graph call, with what would be right.
func TestGalleryTemplateDataSource_invalidInput(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config:      testAccGalleryTemplateConfig_byID(s, "netskope"),
				ExpectError: eaRE(`must be a template id, a GUID`),
			},
			{
				Config:      testAccGalleryTemplateConfig_conflicting(s),
				ExpectError: eaRE(`Attribute "display_name" cannot be specified when "id" is specified`),
			},
		},
	})
}

// The documented example works as written.
func TestGalleryTemplateDataSource_example(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGalleryTemplateConfig_example(t, s),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.entranetskope_gallery_template.netskope", tfjsonpath.New("display_name"), knownvalue.StringExact(sandbox.NetskopeUserAuthTemplateName)),
				statecheck.ExpectKnownValue("data.entranetskope_gallery_template.admin_console", tfjsonpath.New("supported_provisioning_types"), knownvalue.ListExact([]knownvalue.Check{})),
				statecheck.ExpectKnownOutputValue("netskope_can_provision", knownvalue.Bool(true)),
			},
		}},
	})
}

func testAccGalleryTemplateConfig_example(t *testing.T, s *sandbox.Server) string {
	return testProviderConfig(s) + eaReadExample(t, "data-sources/entranetskope_gallery_template/data-source.tf")
}

// eaReadExample reads a file under examples/.
func eaReadExample(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testAccGalleryTemplateConfig_default(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_gallery_template" "test" {}
`
}

func testAccGalleryTemplateConfig_byName(s *sandbox.Server, name string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_gallery_template" "test" {
  display_name = %[1]q
}
`, name)
}

func testAccGalleryTemplateConfig_byID(s *sandbox.Server, id string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_gallery_template" "test" {
  id = %[1]q
}
`, id)
}

func testAccGalleryTemplateConfig_conflicting(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_gallery_template" "test" {
  id           = "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47"
  display_name = "Netskope User Authentication"
}
`
}

func eaStringList(v any) knownvalue.Check {
	items, _ := v.([]any)
	checks := make([]knownvalue.Check, 0, len(items))
	for _, it := range items {
		checks = append(checks, knownvalue.StringExact(fmt.Sprint(it)))
	}
	return knownvalue.ListExact(checks)
}

// ---- the sandbox seen through Graph by its admin client, as an administrator would see it ----

// eaAdminGraph sends one Graph request as the sandbox's admin client and decodes the JSON answer.
func eaAdminGraph(t *testing.T, s *sandbox.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, out, err := eaAdminGraphE(s, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

func eaAdminGraphE(s *sandbox.Server, method, path string, body any) (int, map[string]any, error) {
	return eaGraphAsE(s, s.AdminClient().AppID, method, path, body)
}

// eaGraphAsE sends one Graph request as the given client of the sandbox.
func eaGraphAsE(s *sandbox.Server, clientID, method, path string, body any) (int, map[string]any, error) {
	tok, err := s.GraphToken(clientID)
	if err != nil {
		return 0, nil, fmt.Errorf("token of client %s: %w", clientID, err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.GraphURL()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			return 0, nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out, nil
}

// eaAdminList lists a Graph collection (all pages) as the admin client, with an optional $filter.
func eaAdminList(t *testing.T, s *sandbox.Server, path, filter string) []map[string]any {
	t.Helper()
	out, err := eaAdminListE(s, path, filter)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eaAdminListE(s *sandbox.Server, path, filter string) ([]map[string]any, error) {
	if filter != "" {
		path += "?$filter=" + url.QueryEscape(filter)
	}
	var out []map[string]any
	for path != "" {
		status, body, err := eaAdminGraphE(s, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %v", path, status, body)
		}
		items, _ := body["value"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		next, _ := body["@odata.nextLink"].(string)
		path = strings.TrimPrefix(next, s.GraphURL())
	}
	return out, nil
}

func eaTemplateByName(t *testing.T, s *sandbox.Server, name string) map[string]any {
	t.Helper()
	ts := eaAdminList(t, s, "/applicationTemplates", fmt.Sprintf("displayName eq '%s'", name))
	if len(ts) != 1 {
		t.Fatalf("the sandbox gallery has %d templates named %q, want 1", len(ts), name)
	}
	return ts[0]
}

// eaRE compiles an expected-error pattern in which a space matches any run of white space, since
// Terraform wraps diagnostics at word boundaries.
func eaRE(pattern string) *regexp.Regexp {
	return regexp.MustCompile("(?s)" + strings.ReplaceAll(pattern, " ", `\s+`))
}
