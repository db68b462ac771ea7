package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func newDirectoryTestClient(t *testing.T) (*sandbox.Server, *graph.Client) {
	t.Helper()
	s, err := sandbox.Start(sandbox.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := s.MainClient()
	client, err := graph.New(graph.Config{Method: graph.AuthClientSecret, TenantID: s.TenantID(), ClientID: c.AppID, ClientSecret: c.Secret,
		AuthorityHost: s.AuthorityHost(), GraphEndpoint: s.GraphEndpoint(), Transport: s.HTTPClient().Transport})
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

// The least-privilege client (User.Read.All, Group.Read.All, no Directory.Read.All) resolves users
// and groups by id, 150 ids per $batch request.
func TestDirectoryObjects(t *testing.T) {
	s, c := newDirectoryTestClient(t)
	ctx := context.Background()
	users := s.AddUsers(40)
	groups := s.AddGroups(2)
	missing := "0a1b2c3d-0000-4000-8000-000000000000"
	s.ResetStats()
	got, err := c.DirectoryObjects(ctx, append(append(append([]string{}, users...), groups...), missing))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 42 {
		t.Fatalf("resolved %d objects, want 42", len(got))
	}
	if o := got[strings.ToLower(users[7])]; o.Type != "user" || o.ID != users[7] || !strings.HasPrefix(o.DisplayName, "Bulk User") {
		t.Errorf("user: %+v", o)
	}
	if o := got[strings.ToLower(groups[1])]; o.Type != "group" || o.ID != groups[1] {
		t.Errorf("group: %+v", o)
	}
	if _, ok := got[missing]; ok {
		t.Error("an unknown id resolved")
	}
	if st := s.Stats(); st.Total != 1 || st.Routes["POST /$batch"] != 1 {
		t.Errorf("43 ids took %d requests (%v), want one $batch", st.Total, st.Routes)
	}
}

func TestNestedGroupsAndLookups(t *testing.T) {
	_, c := newDirectoryTestClient(t)
	ctx := context.Background()
	gs, err := c.FindGroups(ctx, []string{sandbox.SeedGroupWithNested, sandbox.SeedGroupDirect, "No Such Group"})
	if err != nil || len(gs) != 2 {
		t.Fatalf("FindGroups: %v %v", gs, err)
	}
	ids := []string{gs[0].ID, gs[1].ID}
	nested, err := c.NestedGroups(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		n := nested[g.ID]
		switch g.DisplayName {
		case sandbox.SeedGroupWithNested:
			if len(n) != 1 || n[0].DisplayName != sandbox.SeedGroupNested {
				t.Errorf("nested groups of %s: %v", g.DisplayName, n)
			}
		default:
			if len(n) != 0 {
				t.Errorf("nested groups of %s: %v", g.DisplayName, n)
			}
		}
	}
	us, err := c.FindUsers(ctx, "mail", []string{strings.ToUpper(sandbox.SeedUserUPN(2))})
	if err != nil || len(us) != 1 || us[0].UserPrincipalName != sandbox.SeedUserUPN(2) || !us[0].AccountEnabled {
		t.Errorf("FindUsers by mail: %v %v", us, err)
	}
}
