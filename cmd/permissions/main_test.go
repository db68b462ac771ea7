package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunQuickstart(t *testing.T) {
	var b strings.Builder
	if err := run([]string{filepath.Join("..", "..", "examples", "quickstart")}, &b); err != nil {
		t.Fatal(err)
	}
	want := `Microsoft Graph application permissions to grant (then "Grant admin consent"):
  AppRoleAssignment.ReadWrite.All    entranetskope_app_assignments
  Application.Read.All               entranetskope_app_assignments
  Application.ReadWrite.OwnedBy      data.entranetskope_netskope_principals, data.entranetskope_provisioning_status, entranetskope_enterprise_app, entranetskope_provisioning
  Group.Read.All                     data.entranetskope_groups, data.entranetskope_netskope_principals, entranetskope_app_assignments
  User.Read.All                      data.entranetskope_netskope_principals, data.entranetskope_users, entranetskope_app_assignments
Why each is needed: docs/guides/permissions.md
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ tf, want string }{
		"unknown type":  {`resource "entranetskope_nope" "x" {}`, `resource "entranetskope_nope" is not a type this provider has`},
		"none":          {`resource "null_resource" "x" {}`, "no entranetskope resource or data source"},
		"invalid HCL":   {`resource "entranetskope_provisioning" {`, "main.tf"},
		"no .tf at all": {"", "no .tf files"},
	} {
		t.Run(name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.tf != "" {
				if err := os.WriteFile(filepath.Join(d, "main.tf"), []byte(tc.tf), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := run([]string{d}, &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
