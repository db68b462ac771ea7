package sandbox

import (
	"io"
	"net/http"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
)

// BenchmarkGraphDirectoryGetUser measures a simple GET on a 50,000-user directory over loopback.
func BenchmarkGraphDirectoryGetUser(b *testing.B) {
	s, err := Start(Options{SeedUsers: 50000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, _ := s.authority.Client(s.MainClient().AppID)
	tok, _, err := s.authority.IssueAccessToken(c, "https://graph.microsoft.com/.default")
	if err != nil {
		b.Fatal(err)
	}
	u := s.GraphURL() + "/users/" + SeedUserUPN(3)
	benchGET(b, s, tok, u)
}

// BenchmarkGraphDirectoryListUsersPage measures one 999-user page deep inside a 50,000-user directory.
func BenchmarkGraphDirectoryListUsersPage(b *testing.B) {
	s, err := Start(Options{SeedUsers: 50000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, _ := s.authority.Client(s.MainClient().AppID)
	tok, _, err := s.authority.IssueAccessToken(c, "https://graph.microsoft.com/.default")
	if err != nil {
		b.Fatal(err)
	}
	s.store.Mu.RLock()
	ids := s.store.UserIDs()
	after := ids[len(ids)/2]
	s.store.Mu.RUnlock()
	u := s.GraphURL() + "/users?$top=999&$skiptoken=" + odata.SkipToken(after)
	benchGET(b, s, tok, u)
}

// benchGET times GETs of u, each expected to answer 200.
func benchGET(b *testing.B, s *Server, tok, u string) {
	b.Helper()
	hc := s.HTTPClient()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
