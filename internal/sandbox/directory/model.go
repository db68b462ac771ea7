package directory

import (
	"encoding/json"
	"slices"
	"time"
)

// DefaultAccessRoleID is the app role id Entra uses for "Default Access".
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

type User struct {
	ID                string  `json:"id"`
	DisplayName       string  `json:"displayName"`
	UserPrincipalName string  `json:"userPrincipalName"`
	Mail              *string `json:"mail"`
	MailNickname      string  `json:"mailNickname,omitempty"`
	GivenName         *string `json:"givenName"`
	Surname           *string `json:"surname"`
	AccountEnabled    bool    `json:"accountEnabled"`
	CreatedDateTime   string  `json:"createdDateTime,omitempty"`
}

type Group struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	Description     *string  `json:"description"`
	MailNickname    string   `json:"mailNickname,omitempty"`
	MailEnabled     bool     `json:"mailEnabled"`
	SecurityEnabled bool     `json:"securityEnabled"`
	GroupTypes      []string `json:"groupTypes"`
	CreatedDateTime string   `json:"createdDateTime,omitempty"`
	// members holds direct member object ids (users and groups), in insertion order; memberSet
	// indexes them, so that membership checks stay constant time in a group of 80,000 (Entra's
	// large groups). Change them only through AddMember and RemoveMember.
	members   []string
	memberSet map[string]struct{}
}

// Members returns the direct member ids in insertion order. The slice is never written in place
// (members are appended past its length, or the list is copied on removal): a caller may keep it
// after releasing the store's lock.
func (g *Group) Members() []string { return g.members }

// HasMember reports whether id (lower case) is a direct member.
func (g *Group) HasMember(id string) bool {
	_, ok := g.memberSet[id]
	return ok
}

// AddMember adds direct members (lower-case ids), skipping those already members, and reports
// whether all were new. Callers hold the store's lock for writing.
func (g *Group) AddMember(ids ...string) bool {
	if g.memberSet == nil {
		g.memberSet = make(map[string]struct{}, len(ids))
	}
	added := true
	for _, id := range ids {
		if _, ok := g.memberSet[id]; ok {
			added = false
			continue
		}
		g.memberSet[id] = struct{}{}
		g.members = append(g.members, id)
	}
	return added
}

// RemoveMember removes a direct member, reporting whether it was one. The list is copied (readers
// may hold the old one). Callers hold the store's lock for writing.
func (g *Group) RemoveMember(id string) bool {
	if !g.HasMember(id) {
		return false
	}
	delete(g.memberSet, id)
	g.members = slices.DeleteFunc(slices.Clone(g.members), func(m string) bool { return m == id })
	return true
}

type AppRole struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        string   `json:"description"`
	DisplayName        string   `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Origin             string   `json:"origin,omitempty"`
	Value              *string  `json:"value"`
}

type ApplicationTemplate struct {
	ID                         string   `json:"id"`
	DisplayName                string   `json:"displayName"`
	Publisher                  string   `json:"publisher"`
	Categories                 []string `json:"categories"`
	Description                string   `json:"description"`
	HomePageURL                string   `json:"homePageUrl"`
	LogoURL                    string   `json:"logoUrl"`
	SupportedProvisioningTypes []string `json:"supportedProvisioningTypes"`
	SupportedSingleSignOnModes []string `json:"supportedSingleSignOnModes"`
	// SyncTemplateFactoryTag is the synchronization template an instantiated app gets; empty when the
	// gallery app cannot provision.
	SyncTemplateFactoryTag string `json:"-"`
	// RoleNames are the app roles an instantiated app gets (fresh ids per app).
	RoleNames []string `json:"-"`
}

type Application struct {
	ID                    string    `json:"id"`
	AppID                 string    `json:"appId"`
	ApplicationTemplateID *string   `json:"applicationTemplateId"`
	DisplayName           string    `json:"displayName"`
	SignInAudience        string    `json:"signInAudience"`
	AppRoles              []AppRole `json:"appRoles"`
	CreatedDateTime       string    `json:"createdDateTime"`
	DeletedDateTime       *string   `json:"deletedDateTime"`
	// Owners are the appIds of clients that own the application (Application.ReadWrite.OwnedBy).
	Owners []string `json:"-"`
}

type ServicePrincipal struct {
	ID                        string    `json:"id"`
	AppID                     string    `json:"appId"`
	AppDisplayName            string    `json:"appDisplayName"`
	DisplayName               string    `json:"displayName"`
	ApplicationTemplateID     *string   `json:"applicationTemplateId"`
	AppRoleAssignmentRequired bool      `json:"appRoleAssignmentRequired"`
	AccountEnabled            bool      `json:"accountEnabled"`
	AppRoles                  []AppRole `json:"appRoles"`
	ServicePrincipalNames     []string  `json:"servicePrincipalNames"`
	ServicePrincipalType      string    `json:"servicePrincipalType"`
	Tags                      []string  `json:"tags"`
	Owners                    []string  `json:"-"`

	// Sync is the service principal's synchronization state; nil for apps that cannot provision.
	Sync *Synchronization `json:"-"`
}

// Synchronization is what lives under /servicePrincipals/{id}/synchronization.
type Synchronization struct {
	Templates []*SyncTemplate
	Jobs      map[string]*SyncJob
	// Secrets are the saved credentials and settings (BaseAddress, SecretToken, SyncAll,
	// SyncNotificationSettings, ...), in Graph's key/value form.
	Secrets map[string]string
	// KeptSchemas are the schemas of deleted jobs by template id, when the SchemaOnJobDelete fault
	// keeps them: a new job from the template then starts with the deleted job's mappings.
	KeptSchemas map[string]json.RawMessage
}

type SyncTemplate struct {
	ID            string          `json:"id"`
	ApplicationID string          `json:"applicationId"`
	Default       bool            `json:"default"`
	Description   *string         `json:"description"`
	Discoverable  bool            `json:"discoverable"`
	FactoryTag    string          `json:"factoryTag"`
	Metadata      []KeyValue      `json:"metadata"`
	Schema        json.RawMessage `json:"schema,omitempty"`
}

type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SyncJob mirrors Graph's synchronizationJob. Status and schedule are kept as Graph renders them.
type SyncJob struct {
	ID                         string              `json:"id"`
	TemplateID                 string              `json:"templateId"`
	Schedule                   SyncSchedule        `json:"schedule"`
	Status                     SyncStatus          `json:"status"`
	SynchronizationJobSettings []KeyValue          `json:"synchronizationJobSettings"`
	Schema                     json.RawMessage     `json:"-"`
	ServicePrincipalID         string              `json:"-"`
	NextCycle                  time.Time           `json:"-"`
	Provisioned                *ProvisioningLedger `json:"-"`
	// ForceDeletes lets the next cycle past the accidental-deletion threshold (a restart with the
	// ForceDeletes scope); the cycle that uses it clears it.
	ForceDeletes bool `json:"-"`
}

type SyncSchedule struct {
	Expiration *string `json:"expiration"`
	Interval   string  `json:"interval"`
	State      string  `json:"state"` // Active | Disabled | Paused
}

type SyncStatus struct {
	Code                               string            `json:"code"` // NotConfigured | NotRun | Active | Paused | Quarantine
	CountSuccessiveCompleteFailures    int64             `json:"countSuccessiveCompleteFailures"`
	EscrowsPruned                      bool              `json:"escrowsPruned"`
	LastExecution                      *SyncExecution    `json:"lastExecution"`
	LastSuccessfulExecution            *SyncExecution    `json:"lastSuccessfulExecution"`
	LastSuccessfulExecutionWithExports *SyncExecution    `json:"lastSuccessfulExecutionWithExports"`
	Progress                           []any             `json:"progress"`
	Quarantine                         *SyncQuarantine   `json:"quarantine"`
	SteadyStateFirstAchievedTime       string            `json:"steadyStateFirstAchievedTime"`
	SteadyStateLastAchievedTime        string            `json:"steadyStateLastAchievedTime"`
	SynchronizedEntryCountByType       []KeyValueInt     `json:"synchronizedEntryCountByType"`
	TroubleshootingURL                 *string           `json:"troubleshootingUrl"`
	Extra                              map[string]string `json:"-"`
}

type KeyValueInt struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

type SyncExecution struct {
	ActivityIdentifier           string     `json:"activityIdentifier"`
	CountEntitled                int64      `json:"countEntitled"`
	CountEntitledForProvisioning int64      `json:"countEntitledForProvisioning"`
	CountEscrowed                int64      `json:"countEscrowed"`
	CountEscrowedRaw             int64      `json:"countEscrowedRaw"`
	CountExported                int64      `json:"countExported"`
	CountExports                 int64      `json:"countExports"`
	CountImported                int64      `json:"countImported"`
	CountImportedDeltas          int64      `json:"countImportedDeltas"`
	CountImportedReferenceDeltas int64      `json:"countImportedReferenceDeltas"`
	Error                        *SyncError `json:"error"`
	State                        string     `json:"state"` // Succeeded | Failed | EntryLevelErrors
	TimeBegan                    string     `json:"timeBegan"`
	TimeEnded                    string     `json:"timeEnded"`
}

type SyncError struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	TenantActionable bool   `json:"tenantActionable"`
}

type SyncQuarantine struct {
	CurrentBegan string     `json:"currentBegan"`
	Error        *SyncError `json:"error"`
	NextAttempt  *string    `json:"nextAttempt"` // null once the job is disabled: no retry is coming
	Reason       string     `json:"reason"`
	SeriesBegan  string     `json:"seriesBegan"`
	SeriesCount  int64      `json:"seriesCount"`
}

// ProvisioningLedger is what a job has provisioned to the SCIM side: Entra object id -> SCIM id.
type ProvisioningLedger struct {
	Users  map[string]string
	Groups map[string]string
	// GroupMembers is the SCIM user ids the engine last wrote as members of each SCIM group.
	GroupMembers map[string]map[string]bool
	// Active records which provisioned users are currently active on the SCIM side.
	Active map[string]bool
	// Exported is, per Entra object id, the attribute values last written to the SCIM side (JSON), so
	// a cycle sends only what changed, as Entra's incremental cycles do.
	Exported map[string]string
}

type AppRoleAssignment struct {
	ID                   string `json:"id"`
	AppRoleID            string `json:"appRoleId"`
	CreatedDateTime      string `json:"createdDateTime"`
	DeletedDateTime      any    `json:"deletedDateTime"`
	PrincipalDisplayName string `json:"principalDisplayName"`
	PrincipalID          string `json:"principalId"`
	PrincipalType        string `json:"principalType"` // User | Group | ServicePrincipal
	ResourceDisplayName  string `json:"resourceDisplayName"`
	ResourceID           string `json:"resourceId"`
}
