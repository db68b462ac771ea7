package sandbox

import "github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"

// The seeded directory, the same in every sandbox (see package directory).
const (
	SeedDomain          = directory.SeedDomain
	SeedGroupDirect     = directory.SeedGroupDirect
	SeedGroupWithNested = directory.SeedGroupWithNested
	SeedGroupNested     = directory.SeedGroupNested
)

// SeedUserUPN is the user principal name of seeded user i (1-based).
func SeedUserUPN(i int) string { return directory.SeedUserUPN(i) }

// AddUsers adds n users with unique names and returns their object ids.
func (s *Server) AddUsers(n int) []string { return s.store.AddUsers(n) }

// AddGroups adds n security groups with unique names and returns their object ids.
func (s *Server) AddGroups(n int) []string { return s.store.AddGroups(n) }

// AddGroupMembers makes users (or groups) direct members of a group.
func (s *Server) AddGroupMembers(groupID string, memberIDs ...string) error {
	return s.store.AddGroupMembers(groupID, memberIDs...)
}

// AddGroupWithMembers adds a security group named displayName whose direct members are the given
// users and groups (object ids), and returns its object id.
func (s *Server) AddGroupWithMembers(displayName string, memberIDs []string) string {
	return s.store.AddGroupWithMembers(displayName, memberIDs)
}
