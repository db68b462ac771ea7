package directory

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// dirIndex keeps sorted object ids and per-principal and per-resource assignment ids, so list pages
// cost O(page) rather than O(directory). Other code (seeding, the applications helper) changes the
// store's maps directly, so an index whose size no longer matches its map is rebuilt on next use.
// Callers hold store.mu (read or write); dirIndex.mu guards the rebuild.
type dirIndex struct {
	mu          sync.Mutex
	users       []string
	groups      []string
	byResource  map[string][]string
	byPrincipal map[string][]string
	nAssign     int
}

func (s *Store) UserIDs() []string {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.users) != len(s.Users) {
		d.users = slices.Sorted(maps.Keys(s.Users))
	}
	return d.users
}

func (s *Store) GroupIDs() []string {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.groups) != len(s.Groups) {
		d.groups = slices.Sorted(maps.Keys(s.Groups))
	}
	return d.groups
}

// assignmentIndexLocked returns the assignment indexes, rebuilt when stale. Callers hold d.mu.
func (s *Store) assignmentIndexLocked() (byResource, byPrincipal map[string][]string) {
	d := s.index
	if d.byResource == nil || d.nAssign != len(s.Assignments) {
		d.byResource, d.byPrincipal = map[string][]string{}, map[string][]string{}
		for id, a := range s.Assignments {
			d.byResource[a.ResourceID] = append(d.byResource[a.ResourceID], id)
			d.byPrincipal[a.PrincipalID] = append(d.byPrincipal[a.PrincipalID], id)
		}
		for _, m := range []map[string][]string{d.byResource, d.byPrincipal} {
			for _, ids := range m {
				sort.Strings(ids)
			}
		}
		d.nAssign = len(s.Assignments)
	}
	return d.byResource, d.byPrincipal
}

// AssignmentsOf returns the sorted assignment ids granted on resource (byResource) or to a principal.
func (s *Store) AssignmentsOf(id string, onResource bool) []string {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	byRes, byPrin := s.assignmentIndexLocked()
	if onResource {
		return byRes[id]
	}
	return byPrin[id]
}

// insertSorted adds id to a sorted slice, copying it: readers may still walk the old one.
func insertSorted(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	out := make([]string, 0, len(ids)+1)
	out = append(out, ids[:i]...)
	out = append(out, id)
	return append(out, ids[i:]...)
}

func removeSorted(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if !found {
		return ids
	}
	out := make([]string, 0, len(ids)-1)
	out = append(out, ids[:i]...)
	return append(out, ids[i+1:]...)
}

// indexObjectAdded records a user or group just added to its map. Callers hold store.mu for writing.
func (s *Store) indexObjectAdded(list *[]string, mapLen int, id string) {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(*list)+1 == mapLen {
		*list = insertSorted(*list, id)
	} else {
		*list = nil
	}
}

func (s *Store) indexObjectRemoved(list *[]string, mapLen int, id string) {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(*list)-1 == mapLen {
		*list = removeSorted(*list, id)
	} else {
		*list = nil
	}
}

// AddAssignmentLocked stores an assignment and indexes it. Callers hold store.mu for writing.
func (s *Store) AddAssignmentLocked(a *AppRoleAssignment) {
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	byRes, byPrin := s.assignmentIndexLocked()
	s.Assignments[a.ID] = a
	byRes[a.ResourceID] = insertSorted(byRes[a.ResourceID], a.ID)
	byPrin[a.PrincipalID] = insertSorted(byPrin[a.PrincipalID], a.ID)
	d.nAssign = len(s.Assignments)
}

// RemoveAssignmentLocked deletes one assignment. Callers hold store.mu for writing.
func (s *Store) RemoveAssignmentLocked(id string) {
	a, ok := s.Assignments[id]
	if !ok {
		return
	}
	d := s.index
	d.mu.Lock()
	defer d.mu.Unlock()
	byRes, byPrin := s.assignmentIndexLocked()
	delete(s.Assignments, id)
	if ids := removeSorted(byRes[a.ResourceID], id); len(ids) > 0 {
		byRes[a.ResourceID] = ids
	} else {
		delete(byRes, a.ResourceID)
	}
	if ids := removeSorted(byPrin[a.PrincipalID], id); len(ids) > 0 {
		byPrin[a.PrincipalID] = ids
	} else {
		delete(byPrin, a.PrincipalID)
	}
	d.nAssign = len(s.Assignments)
}

// RemoveObjectReferencesLocked does what Entra does when a directory object is deleted: it leaves
// every group it was a member of, and every app role assignment granted to it or on it goes.
// Callers hold store.mu for writing.
func (s *Store) RemoveObjectReferencesLocked(id string) {
	for _, g := range s.Groups {
		g.RemoveMember(id)
	}
	for _, aid := range slices.Clone(s.AssignmentsOf(id, false)) {
		s.RemoveAssignmentLocked(aid)
	}
	for _, aid := range slices.Clone(s.AssignmentsOf(id, true)) {
		s.RemoveAssignmentLocked(aid)
	}
}

// Object is a directory object found by id, of whichever type.
type Object struct {
	User  *User
	Group *Group
	SP    *ServicePrincipal
	App   *Application
}

// describe is the object's id, Graph's type name without namespace (user, group, servicePrincipal,
// application) and display name.
func (o Object) describe() (id, kind, name string) {
	switch {
	case o.User != nil:
		return o.User.ID, "user", o.User.DisplayName
	case o.Group != nil:
		return o.Group.ID, "group", o.Group.DisplayName
	case o.SP != nil:
		return o.SP.ID, "servicePrincipal", o.SP.DisplayName
	case o.App != nil:
		return o.App.ID, "application", o.App.DisplayName
	}
	return "", "", ""
}

// ID is the object's id.
func (o Object) ID() string { id, _, _ := o.describe(); return id }

// Kind is Graph's type name without namespace: user, group, servicePrincipal, application.
func (o Object) Kind() string { _, kind, _ := o.describe(); return kind }

// DisplayName is the object's display name.
func (o Object) DisplayName() string { _, _, name := o.describe(); return name }

// FindObjectLocked looks an object up by id across the directory, hiding objects still lagging.
func (s *Store) FindObjectLocked(id string, lagging func(string) bool) (Object, bool) {
	id = strings.ToLower(id)
	if lagging(id) {
		return Object{}, false
	}
	if u, ok := s.Users[id]; ok {
		return Object{User: u}, true
	}
	if g, ok := s.Groups[id]; ok {
		return Object{Group: g}, true
	}
	if sp, ok := s.SPs[id]; ok {
		return Object{SP: sp}, true
	}
	if a, ok := s.Apps[id]; ok {
		return Object{App: a}, true
	}
	return Object{}, false
}

// UserLocked finds a visible user by object id or userPrincipalName.
func (s *Store) UserLocked(idOrUPN string, lagging func(string) bool) (*User, bool) {
	key := lower(idOrUPN)
	u, ok := s.Users[key]
	if !ok {
		if id, found := s.UsersByUPN[key]; found {
			u, ok = s.Users[id]
		}
	}
	if !ok || lagging(u.ID) {
		return nil, false
	}
	return u, true
}

// TransitiveMembersLocked expands nested groups breadth first; each object appears once, cycles included.
func (s *Store) TransitiveMembersLocked(g *Group) []string {
	seen := map[string]bool{g.ID: true}
	var out []string
	queue := []*Group{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, id := range cur.Members() {
			if seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, id)
			if ng, ok := s.Groups[id]; ok {
				queue = append(queue, ng)
			}
		}
	}
	return out
}

// GroupsOfLocked lists the groups a user is a direct member of.
func (s *Store) GroupsOfLocked(userID string) []string {
	var out []string
	for _, g := range s.Groups {
		if g.HasMember(userID) {
			out = append(out, g.ID)
		}
	}
	return out
}

// RemoveServicePrincipalLocked deletes a service principal with its synchronization state and every
// app role assignment granted on it or to it. Callers hold store.mu for writing.
func (s *Store) RemoveServicePrincipalLocked(spID string) {
	sp, ok := s.SPs[spID]
	if !ok {
		return
	}
	delete(s.SPs, spID)
	if s.SPsByAppID[sp.AppID] == spID {
		delete(s.SPsByAppID, sp.AppID)
	}
	s.RemoveObjectReferencesLocked(spID)
	sp.Sync = nil
}

// UserAdded indexes a user just put in Users. Callers hold Mu for writing.
func (s *Store) UserAdded(id string) { s.indexObjectAdded(&s.index.users, len(s.Users), id) }

// UserRemoved unindexes a user just deleted from Users. Callers hold Mu for writing.
func (s *Store) UserRemoved(id string) { s.indexObjectRemoved(&s.index.users, len(s.Users), id) }

// GroupAdded indexes a group just put in Groups. Callers hold Mu for writing.
func (s *Store) GroupAdded(id string) { s.indexObjectAdded(&s.index.groups, len(s.Groups), id) }

// GroupRemoved unindexes a group just deleted from Groups. Callers hold Mu for writing.
func (s *Store) GroupRemoved(id string) { s.indexObjectRemoved(&s.index.groups, len(s.Groups), id) }
