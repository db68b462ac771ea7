// Package directory is the Entra tenant's data as the sandbox keeps it: users, groups and their
// members, gallery templates, applications, service principals with their synchronization state, and
// app role assignments, plus the indexes that keep paging cheap on large directories.
//
// It knows nothing of HTTP: the Graph routes (package graphapi) render and validate, the provisioning
// engine (package provisioning) reads what it must send to Netskope, and the admin API seeds it. All of
// them hold Store.Mu while they touch it. Fields carry Graph's JSON names so handlers can render them
// directly; fields Graph never returns are tagged `json:"-"`.
package directory

import (
	"strings"
	"sync"
	"time"
)

// Store is one tenant's directory. Callers hold Mu (read or write) around every access to the maps.
type Store struct {
	Mu sync.RWMutex

	Users       map[string]*User // by object id
	UsersByUPN  map[string]string
	Groups      map[string]*Group
	Apps        map[string]*Application      // by object id
	AppsByAppID map[string]string            // appId -> object id
	SPs         map[string]*ServicePrincipal // by object id
	SPsByAppID  map[string]string            // appId -> service principal object id
	Deleted     map[string]*Application      // directory/deletedItems (applications)
	Assignments map[string]*AppRoleAssignment
	Templates   []*ApplicationTemplate

	// created records when an object was created, for the replication-lag fault.
	created map[string]time.Time
	// lag is the replication lag in force, read at each check so a fault change applies at once.
	lag func() time.Duration

	// index holds the sorted and per-principal/per-resource indexes that keep directory paging O(page).
	index *dirIndex

	// clock stamps the objects the store creates itself (seeded users and groups).
	clock *Clock
}

// New is an empty directory. lag reports the replication-lag fault in force (nil: none): objects
// younger than it are invisible to reads, as new objects are on Graph's replicas. clock stamps what
// the store creates itself (nil: real time).
func New(lag func() time.Duration, clock *Clock) *Store {
	if clock == nil {
		clock = NewClock()
	}
	if lag == nil {
		lag = func() time.Duration { return 0 }
	}
	return &Store{
		Users:       map[string]*User{},
		UsersByUPN:  map[string]string{},
		Groups:      map[string]*Group{},
		Apps:        map[string]*Application{},
		AppsByAppID: map[string]string{},
		SPs:         map[string]*ServicePrincipal{},
		SPsByAppID:  map[string]string{},
		Deleted:     map[string]*Application{},
		Assignments: map[string]*AppRoleAssignment{},
		created:     map[string]time.Time{},
		lag:         lag,
		index:       &dirIndex{},
		clock:       clock,
	}
}

// MarkCreated records an object's creation for the replication-lag fault. Callers hold Mu for writing.
func (s *Store) MarkCreated(id string) { s.created[id] = time.Now() }

// Lagging reports whether a new object is still invisible to reads because of the replication-lag
// fault (reads of it answer 404 as Graph does). Callers hold Mu (read or write).
func (s *Store) Lagging(id string) bool { return s.LagCheck()(id) }

// LagCheck returns a test for the replication-lag fault, read once per request. Callers hold Mu.
func (s *Store) LagCheck() func(id string) bool {
	lag := s.lag()
	if lag <= 0 {
		return func(string) bool { return false }
	}
	return func(id string) bool {
		t, ok := s.created[id]
		return ok && time.Since(t) < lag
	}
}

// GraphTime renders a time the way Graph does.
func GraphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func lower(s string) string { return strings.ToLower(s) }

// Nickname derives a mailNickname from a display name, as the portal does.
func Nickname(displayName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(displayName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
