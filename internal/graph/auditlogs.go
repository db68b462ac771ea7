package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// PermProvisioningLogs is what GET /auditLogs/provisioning needs: both permissions, as Graph
// documents them. Without Directory.Read.All Graph has been seen to answer the licence error below
// instead of a permission error (microsoft-graph-docs-contrib issue 3581).
const PermProvisioningLogs = "AuditLog.Read.All (with Directory.Read.All)"

// codeNonPremiumTenant is Graph's 403 for a reports request in a tenant without Entra ID P1 or P2:
// "Neither tenant is B2C or tenant doesn't have premium license".
const codeNonPremiumTenant = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

// MaxLogPageSize is the largest page the provider asks the reports API for. Guess: the provisioning
// logs document no maximum $top; sign-in logs stop at 1,000, and 999 is Graph's usual largest page.
const MaxLogPageSize = 999

// ProvisioningLogQuery selects provisioning events: always of one app (and job, when JobID is set),
// optionally since a time, with a status (success, failure, skipped, warning), an action (create,
// update, delete, stagedDelete, disable, other) and a source principal (Entra object id).
type ProvisioningLogQuery struct {
	ServicePrincipalID, JobID string
	Since                     time.Time
	Status, Action, Principal string
	// Limit is the most events to return; the rest are left on the server.
	Limit int
}

// filter is the query's $filter. Graph's filters on this collection are case sensitive, so values
// are sent as the caller gives them (the provider normalises statuses and actions to Graph's case).
func (q ProvisioningLogQuery) filter() string {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	clauses := []string{"servicePrincipal/id eq " + quote(q.ServicePrincipalID)}
	if q.JobID != "" {
		clauses = append(clauses, "jobId eq "+quote(q.JobID))
	}
	if !q.Since.IsZero() {
		clauses = append(clauses, "activityDateTime gt "+q.Since.UTC().Format(time.RFC3339))
	}
	if q.Status != "" {
		clauses = append(clauses, "provisioningStatusInfo/status eq "+quote(q.Status))
	}
	if q.Action != "" {
		clauses = append(clauses, "provisioningAction eq "+quote(q.Action))
	}
	if q.Principal != "" {
		clauses = append(clauses, "sourceIdentity/id eq "+quote(q.Principal))
	}
	return strings.Join(clauses, " and ")
}

// ProvisioningEvent is one entry of the provisioning logs.
type ProvisioningEvent struct {
	ID, CycleID, ChangeID, JobID string
	Time                         time.Time
	Action, Status               string
	SourceID, SourceName         string
	SourceType                   string
	TargetID, TargetName         string
	TargetType                   string
	// ErrorCode, Reason and RecommendedAction explain a failure; for a skipped event Reason is the
	// skipping step's description (Graph gives skipped events no errorInformation).
	ErrorCode, Reason, RecommendedAction string
}

// ProvisioningLogs reads the provisioning events of one app, newest first, at most q.Limit of them,
// in as few requests as the reports API allows: one per page of up to MaxLogPageSize events, never one
// per user (the API allows 5 requests per 10 s per app and tenant; retries wait out its 429s).
// truncated reports that more events matched than q.Limit.
//
// The SDK's auditlogs request builder and models fit this call: typed enums for action and status,
// and @odata.nextLink followed with WithUrl, page by page, so that paging stops at the limit.
func (c *Client) ProvisioningLogs(ctx context.Context, q ProvisioningLogQuery) (events []ProvisioningEvent, truncated bool, err error) {
	const op = "read the provisioning logs"
	object := "service principal " + q.ServicePrincipalID
	limit := max(q.Limit, 1)
	top := int32(min(limit, MaxLogPageSize))
	filter := q.filter()
	builder := c.sdk.AuditLogs().Provisioning()
	resp, err := builder.Get(ctx, &auditlogs.ProvisioningRequestBuilderGetRequestConfiguration{
		QueryParameters: &auditlogs.ProvisioningRequestBuilderGetQueryParameters{Filter: &filter, Top: &top},
	})
	for {
		if err != nil {
			return nil, false, logsError(wrap(err, op, object, PermProvisioningLogs))
		}
		for _, s := range resp.GetValue() {
			if len(events) == limit {
				return events, true, nil
			}
			events = append(events, eventFrom(s))
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return events, false, nil
		}
		if len(events) == limit {
			return events, true, nil
		}
		resp, err = builder.WithUrl(next).Get(ctx, nil)
	}
}

// logsError explains the licence error: it is a 403 but no permission fixes it alone.
func logsError(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code == codeNonPremiumTenant {
		e.Permission = ""
		e.Hint = "Provisioning logs need Microsoft Entra ID P1 or P2 in the tenant. If the tenant has one, grant the " +
			"provider's client Directory.Read.All as well as AuditLog.Read.All: Graph reads the tenant's licence with it"
	}
	return err
}

// IsLicenseRequired reports Graph refusing a reports call because the tenant lacks Entra ID P1 or P2.
func IsLicenseRequired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Code == codeNonPremiumTenant
}

func eventFrom(s models.ProvisioningObjectSummaryable) ProvisioningEvent {
	ev := ProvisioningEvent{ID: deref(s.GetId()), CycleID: deref(s.GetCycleId()), ChangeID: deref(s.GetChangeId()), JobID: deref(s.GetJobId())}
	if t := s.GetActivityDateTime(); t != nil {
		ev.Time = t.UTC()
	}
	if a := s.GetProvisioningAction(); a != nil {
		ev.Action = a.String()
	}
	if id := s.GetSourceIdentity(); id != nil {
		ev.SourceID, ev.SourceName, ev.SourceType = deref(id.GetId()), deref(id.GetDisplayName()), deref(id.GetIdentityType())
	}
	if id := s.GetTargetIdentity(); id != nil {
		ev.TargetID, ev.TargetName, ev.TargetType = deref(id.GetId()), deref(id.GetDisplayName()), deref(id.GetIdentityType())
	}
	if st := s.GetProvisioningStatusInfo(); st != nil {
		if v := st.GetStatus(); v != nil {
			ev.Status = v.String()
		}
		if e := st.GetErrorInformation(); e != nil {
			ev.ErrorCode, ev.Reason, ev.RecommendedAction = deref(e.GetErrorCode()), deref(e.GetReason()), deref(e.GetRecommendedAction())
		}
	}
	if ev.Reason == "" && ev.Status == models.SKIPPED_PROVISIONINGRESULT.String() {
		for _, step := range s.GetProvisioningSteps() {
			if st := step.GetStatus(); st != nil && *st == models.SKIPPED_PROVISIONINGRESULT {
				ev.Reason = deref(step.GetDescription())
			}
		}
	}
	return ev
}
