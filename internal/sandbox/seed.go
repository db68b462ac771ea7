package sandbox

import (
	"fmt"

	"github.com/google/uuid"
)

// Seeded directory (the same in every sandbox): a handful of users; "Netskope Users" with direct
// members; "Netskope Admins", which holds one user directly and the nested group "Netskope Nested"
// whose members Entra does not provision to Netskope.
const (
	SeedDomain            = "contoso.example"
	SeedGroupDirect       = "Netskope Users"
	SeedGroupWithNested   = "Netskope Admins"
	SeedGroupNested       = "Netskope Nested"
	seedUserCount         = 6
	seedDirectMemberCount = 3
)

// SeedUserUPN is the user principal name of seeded user i (1-based).
func SeedUserUPN(i int) string { return fmt.Sprintf("user%d@%s", i, SeedDomain) }

func (s *Server) seedDirectory(extra int) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	var ids []string
	for i := 1; i <= seedUserCount; i++ {
		ids = append(ids, s.addUserLocked(fmt.Sprintf("user%d", i), fmt.Sprintf("Seed User %d", i)).ID)
	}
	direct := s.addGroupLocked(SeedGroupDirect)
	direct.Members = append(direct.Members, ids[:seedDirectMemberCount]...)
	nested := s.addGroupLocked(SeedGroupNested)
	nested.Members = append(nested.Members, ids[4], ids[5])
	outer := s.addGroupLocked(SeedGroupWithNested)
	outer.Members = append(outer.Members, ids[3], nested.ID)
	for i := 0; i < extra; i++ {
		s.addUserLocked(fmt.Sprintf("seed%05d", i+1), fmt.Sprintf("Seeded User %05d", i+1))
	}
}

// AddUsers adds n users with unique names and returns their object ids.
func (s *Server) AddUsers(n int) []string {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		nick := "bulk-" + uuid.NewString()[:13]
		ids = append(ids, s.addUserLocked(nick, "Bulk User "+nick[5:]).ID)
	}
	return ids
}

// AddGroups adds n security groups with unique names and returns their object ids.
func (s *Server) AddGroups(n int) []string {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		ids = append(ids, s.addGroupLocked("Bulk Group "+uuid.NewString()[:13]).ID)
	}
	return ids
}

// addUserLocked creates an enabled user nick@SeedDomain. Callers hold store.mu.
func (s *Server) addUserLocked(nick, displayName string) *User {
	upn := nick + "@" + SeedDomain
	mail := upn
	u := &User{
		ID: uuid.NewString(), DisplayName: displayName, UserPrincipalName: upn, Mail: &mail,
		MailNickname: nick, AccountEnabled: true, CreatedDateTime: graphTime(now()),
	}
	s.store.users[u.ID] = u
	s.store.usersByUPN[lower(upn)] = u.ID
	return u
}

// addGroupLocked creates an empty security group. Callers hold store.mu.
func (s *Server) addGroupLocked(displayName string) *Group {
	g := &Group{
		ID: uuid.NewString(), DisplayName: displayName, MailNickname: nickname(displayName),
		SecurityEnabled: true, GroupTypes: []string{}, CreatedDateTime: graphTime(now()),
	}
	s.store.groups[g.ID] = g
	return g
}
