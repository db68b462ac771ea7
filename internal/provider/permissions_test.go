package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// testAccPermissionsConfig_quickstart is examples/quickstart/main.tf itself, signed in to the sandbox
// and pointed at its Netskope tenant.
func testAccPermissionsConfig_quickstart(t *testing.T, s *sandbox.Server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "quickstart", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	hcl := string(b)
	for old, repl := range map[string]string{
		`provider "entranetskope" {}`:            testProviderConfig(s),
		`source = "entranetskope/entranetskope"`: `source = "hashicorp/entranetskope"`, // the test harness's address
	} {
		if !strings.Contains(hcl, old) {
			t.Fatalf("examples/quickstart/main.tf no longer contains %q", old)
		}
		hcl = strings.Replace(hcl, old, repl, 1)
	}
	return hcl
}

func leastPrivilegeWithout(role string) []string {
	var out []string
	for _, r := range sandbox.LeastPrivilegeRoles {
		if r != role {
			out = append(out, r)
		}
	}
	return out
}

// The quickstart applied by a client without AppRoleAssignment.ReadWrite.All: the app and its
// provisioning are created, and the three assignments fail as one error naming the permission, the
// call and the guide (before: one "Could not assign principal" error per principal).
func TestProviderPermissions_quickstartWithoutAppRoleAssignment(t *testing.T) {
	s := newSandbox(t)
	if err := s.SetClientRoles(s.MainClient().AppID, leastPrivilegeWithout("AppRoleAssignment.ReadWrite.All")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_VAR_scim_base_url", s.SCIMURL(""))
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	out := expectErrors(t, testProviders(s), testAccPermissionsConfig_quickstart(t, s), 1,
		`Error: Missing Microsoft Graph permission AppRoleAssignment.ReadWrite.All`,
		ws(`The provider's client may not assign the principal to the app (principal `),
		ws(`Microsoft Graph answered 403 Authorization_RequestDenied`),
		ws(`Graph refused 2 more calls of this run the same way`),
		ws(`Grant the provider's app registration the application permission AppRoleAssignment.ReadWrite.All (with Application.Read.All)`),
		ws(`"Grant admin consent"`), ws(`docs/guides/permissions.md`))
	if strings.Contains(out, s.SCIMToken("")) {
		t.Fatal("the output shows the SCIM token")
	}
}

// Two resources of one run missing the same permission: one full explanation, and one short error
// pointing at it.
func TestProviderPermissions_sameMissingPermissionTwice(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope User Authentication")
	users := aasCreateUsers(t, s, 3)
	if err := s.SetClientRoles(s.MainClient().AppID, leastPrivilegeWithout("AppRoleAssignment.ReadWrite.All")); err != nil {
		t.Fatal(err)
	}
	config := testAccAppAssignmentsConfig_basic(s, app.spID, users[:2]) + fmt.Sprintf(`
resource "entranetskope_app_assignment" "one" {
  service_principal_id = %[1]q
  principal_id         = %[2]q
}
`, app.spID, users[2])
	out := expectErrors(t, testProviders(s), config, 2, `Error: Missing Microsoft Graph permission AppRoleAssignment.ReadWrite.All`,
		ws(`The other "Missing Microsoft Graph permission AppRoleAssignment.ReadWrite.All" error of this run says what to grant.`))
	if n := len(regexp.MustCompile(`Grant[\s│]+the[\s│]+provider's[\s│]+app[\s│]+registration`).FindAllString(out, -1)); n != 1 {
		t.Fatalf("want one full explanation of the permission, got %d:\n%s", n, out)
	}
}

// The permissions table (and so cmd/permissions) covers every resource and data source, nothing
// else, and the permissions guide names each type and permission in it.
func TestProviderPermissions_tableMatchesProviderAndGuide(t *testing.T) {
	ctx := context.Background()
	p := New("test")()
	guide, err := os.ReadFile(filepath.Join(repoRoot(), "templates", "guides", "permissions.md.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(kind string, names []string, table map[string][]string) {
		seen := map[string]bool{}
		for _, name := range names {
			seen[name] = true
			perms, ok := table[name]
			if !ok {
				t.Errorf("%s %s has no entry in the permissions table", kind, name)
			}
			if !strings.Contains(string(guide), "`"+name+"`") {
				t.Errorf("the permissions guide does not list %s %s", kind, name)
			}
			for _, perm := range perms {
				if !strings.Contains(string(guide), "`"+perm+"`") {
					t.Errorf("the permissions guide does not name %s (needed by %s)", perm, name)
				}
			}
		}
		for name := range table {
			if !seen[name] {
				t.Errorf("the permissions table lists %s %s, which the provider does not have", kind, name)
			}
		}
	}
	var resources, dataSources []string
	for _, f := range p.Resources(ctx) {
		var resp fwresource.MetadataResponse
		f().Metadata(ctx, fwresource.MetadataRequest{ProviderTypeName: "entranetskope"}, &resp)
		resources = append(resources, resp.TypeName)
	}
	for _, f := range p.DataSources(ctx) {
		var resp datasource.MetadataResponse
		f().Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "entranetskope"}, &resp)
		dataSources = append(dataSources, resp.TypeName)
	}
	check("resource", resources, ResourcePermissions)
	check("data source", dataSources, DataSourcePermissions)
}

// Reading an app the client does not own (its roles, its assignments) needs Application.Read.All:
// several assignments refused for it give one error naming the permission, not one per assignment.
func TestProviderPermissions_appRolesWithoutApplicationRead(t *testing.T) {
	s := newSandbox(t)
	admin := asgGraphAs(t, s, s.AdminClient().AppID)
	ts := admin.values("/applicationTemplates?$filter=" + url.QueryEscape("displayName eq 'Netskope User Authentication'"))
	created := admin.must(http.MethodPost, "/applicationTemplates/"+ts[0]["id"].(string)+"/instantiate", map[string]any{"displayName": "Netskope by the admin"})
	app := struct{ spID string }{created["servicePrincipal"].(map[string]any)["id"].(string)}
	users := aasCreateUsers(t, s, 3)
	if err := s.SetClientRoles(s.MainClient().AppID, leastPrivilegeWithout("Application.Read.All")); err != nil {
		t.Fatal(err)
	}
	config := testProviderConfig(s)
	for i, u := range users {
		config += fmt.Sprintf(`
resource "entranetskope_app_assignment" "u%[3]d" {
  service_principal_id = %[1]q
  principal_id         = %[2]q
}
`, app.spID, u, i)
	}
	out := expectErrors(t, testProviders(s), config, 3, `Error: Missing Microsoft Graph permission Application.Read.All`)
	if n := len(regexp.MustCompile(`Grant[\s│]+the[\s│]+provider's[\s│]+app[\s│]+registration`).FindAllString(out, -1)); n != 1 {
		t.Fatalf("want one full explanation of the permission, got %d:\n%s", n, out)
	}
}
