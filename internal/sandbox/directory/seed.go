package directory

import (
	"fmt"

	"github.com/google/uuid"
)

func (s *Store) Seed(extra int) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var ids []string
	for i := 1; i <= seedUserCount; i++ {
		ids = append(ids, s.AddUserLocked(fmt.Sprintf("user%d", i), fmt.Sprintf("Seed User %d", i)).ID)
	}
	direct := s.AddGroupLocked(SeedGroupDirect)
	direct.AddMember(ids[:seedDirectMemberCount]...)
	nested := s.AddGroupLocked(SeedGroupNested)
	nested.AddMember(ids[4], ids[5])
	outer := s.AddGroupLocked(SeedGroupWithNested)
	outer.AddMember(ids[3], nested.ID)
	for i := 0; i < extra; i++ {
		s.AddUserLocked(fmt.Sprintf("seed%05d", i+1), fmt.Sprintf("Seeded User %05d", i+1))
	}
}

// AddUsers adds n users with unique names and returns their object ids.
func (s *Store) AddUsers(n int) []string {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		nick := "bulk-" + uuid.NewString()[:13]
		ids = append(ids, s.AddUserLocked(nick, "Bulk User "+nick[5:]).ID)
	}
	return ids
}

// AddGroups adds n security groups with unique names and returns their object ids.
func (s *Store) AddGroups(n int) []string {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		ids = append(ids, s.AddGroupLocked("Bulk Group "+uuid.NewString()[:13]).ID)
	}
	return ids
}

// AddGroupWithMembers adds a security group holding the given direct members (object ids of users
// or groups) and returns its id: the way to seed a group of tens of thousands without as many
// requests.
func (s *Store) AddGroupWithMembers(displayName string, memberIDs []string) string {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	g := s.AddGroupLocked(displayName)
	ids := make([]string, len(memberIDs))
	for i, id := range memberIDs {
		ids[i] = lower(id)
	}
	g.AddMember(ids...)
	return g.ID
}

// AddUserLocked creates an enabled user nick@SeedDomain. Callers hold store.mu.
func (s *Store) AddUserLocked(nick, displayName string) *User {
	upn := nick + "@" + SeedDomain
	mail := upn
	u := &User{
		ID: uuid.NewString(), DisplayName: displayName, UserPrincipalName: upn, Mail: &mail,
		MailNickname: nick, AccountEnabled: true, CreatedDateTime: GraphTime(s.clock.Now()),
	}
	s.Users[u.ID] = u
	s.UsersByUPN[lower(upn)] = u.ID
	return u
}

// AddGroupLocked creates an empty security group. Callers hold store.mu.
func (s *Store) AddGroupLocked(displayName string) *Group {
	g := &Group{
		ID: uuid.NewString(), DisplayName: displayName, MailNickname: Nickname(displayName),
		SecurityEnabled: true, GroupTypes: []string{}, CreatedDateTime: GraphTime(s.clock.Now()),
	}
	s.Groups[g.ID] = g
	return g
}

// SeedUserUPN is the user principal name of seeded user i (1-based).
func SeedUserUPN(i int) string { return fmt.Sprintf("user%d@%s", i, SeedDomain) }

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

// AddGroupMembers makes users (or groups) direct members of a group, as tests arrange a directory.
func (s *Store) AddGroupMembers(groupID string, memberIDs ...string) error {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	g, ok := s.Groups[groupID]
	if !ok {
		return fmt.Errorf("no group %s", groupID)
	}
	g.AddMember(memberIDs...)
	return nil
}
