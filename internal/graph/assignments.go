package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// Assignment is an app role assignment granted on an app (its service principal).
type Assignment struct {
	ID                   string
	PrincipalID          string
	PrincipalType        string // User | Group | ServicePrincipal
	PrincipalDisplayName string
	AppRoleID            string
	ResourceID           string
}

func assignmentFrom(a models.AppRoleAssignmentable) Assignment {
	out := Assignment{ID: deref(a.GetId()), PrincipalType: deref(a.GetPrincipalType()), PrincipalDisplayName: deref(a.GetPrincipalDisplayName())}
	if p := a.GetPrincipalId(); p != nil {
		out.PrincipalID = p.String()
	}
	if r := a.GetAppRoleId(); r != nil {
		out.AppRoleID = r.String()
	}
	if r := a.GetResourceId(); r != nil {
		out.ResourceID = r.String()
	}
	return out
}

func assignmentFromMap(m map[string]any) Assignment {
	s := func(k string) string { v, _ := m[k].(string); return v }
	return Assignment{ID: s("id"), PrincipalID: s("principalId"), PrincipalType: s("principalType"),
		PrincipalDisplayName: s("principalDisplayName"), AppRoleID: s("appRoleId"), ResourceID: s("resourceId")}
}

// ListAssignments lists every assignment granted on the app, 999 per page (the fewest requests).
func (c *Client) ListAssignments(ctx context.Context, spID string) ([]Assignment, error) {
	top := int32(999)
	resp, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().Get(ctx,
		&serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{Top: &top},
		})
	const op = "list the app's assignments"
	if err != nil {
		return nil, wrap(err, op, "service principal "+spID, PermApplicationRead)
	}
	it, err := msgraphcore.NewPageIterator[models.AppRoleAssignmentable](resp, c.adapter, models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	var out []Assignment
	err = it.Iterate(ctx, func(a models.AppRoleAssignmentable) bool {
		out = append(out, assignmentFrom(a))
		return true
	})
	if err != nil {
		return nil, wrap(err, op, "service principal "+spID, PermApplicationRead)
	}
	return out, nil
}

// findAssignment returns the app's assignment of roleID to principalID, which cause (an "already
// exists" answer) says is there.
func (c *Client) findAssignment(ctx context.Context, spID, principalID, roleID string, cause error) (*Assignment, error) {
	list, err := c.ListAssignments(ctx, spID)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if strings.EqualFold(a.PrincipalID, principalID) && strings.EqualFold(a.AppRoleID, roleID) {
			return &a, nil
		}
	}
	return nil, cause
}

func newAssignmentBody(spID, principalID, roleID string) (models.AppRoleAssignmentable, error) {
	p, err := uuid.Parse(principalID)
	if err != nil {
		return nil, fmt.Errorf("principal id %q is not an object id (a GUID)", principalID)
	}
	r, err := uuid.Parse(spID)
	if err != nil {
		return nil, fmt.Errorf("service principal id %q is not an object id (a GUID)", spID)
	}
	role, err := uuid.Parse(roleID)
	if err != nil {
		return nil, fmt.Errorf("app role id %q is not a GUID", roleID)
	}
	body := models.NewAppRoleAssignment()
	body.SetPrincipalId(&p)
	body.SetResourceId(&r)
	body.SetAppRoleId(&role)
	return body, nil
}

// IsReplicationLag reports the errors Graph gives right after a principal or app was created: the
// object is not visible yet ("Not a valid reference update", 404). Worth retrying for a while.
func IsReplicationLag(err error) bool {
	if IsNotFound(err) {
		return true
	}
	var e *Error
	if asError(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Message, "Not a valid reference update") {
		return true
	}
	return false
}

// IsDuplicateAssignment reports Graph's answer to an assignment that already exists.
func IsDuplicateAssignment(err error) bool {
	var e *Error
	return asError(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Message, "already exists")
}

// CreateAssignment assigns one principal, waiting out replication lag until ctx ends.
func (c *Client) CreateAssignment(ctx context.Context, spID, principalID, roleID string) (*Assignment, error) {
	body, err := newAssignmentBody(spID, principalID, roleID)
	if err != nil {
		return nil, err
	}
	var out Assignment
	err = WaitFor(ctx, func(ctx context.Context) (bool, error) {
		a, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().Post(ctx, body, nil)
		err = wrap(err, "assign the principal to the app", "principal "+principalID+", role "+roleID, PermAppRoleAssignment)
		if IsReplicationLag(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		out = assignmentFrom(a)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAssignment removes one assignment; one already gone is not an error.
func (c *Client) DeleteAssignment(ctx context.Context, spID, assignmentID string) error {
	err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().ByAppRoleAssignmentId(assignmentID).Delete(ctx, nil)
	err = wrap(err, "remove the assignment", assignmentID, PermAppRoleAssignment)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// CreateAssignments assigns many principals to one role through $batch. It returns the assignments
// created and, per principal, the failures; items still lagging replication are retried until ctx
// ends.
func (c *Client) CreateAssignments(ctx context.Context, spID, roleID string, principalIDs []string) ([]Assignment, map[string]error) {
	failed := map[string]error{}
	var created []Assignment
	todo := principalIDs
	for len(todo) > 0 {
		var calls []batchCall
		var keys []string
		for _, pid := range todo {
			body, err := newAssignmentBody(spID, pid, roleID)
			if err != nil {
				failed[pid] = err
				continue
			}
			info, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().ToPostRequestInformation(ctx, body, nil)
			if err != nil {
				failed[pid] = err
				continue
			}
			calls = append(calls, batchCall{info: info, object: "principal " + pid})
			keys = append(keys, pid)
		}
		outcomes, err := c.runBatches(ctx, calls, "assign the principal to the app", PermAppRoleAssignment)
		var lagging []string
		for i, o := range outcomes {
			pid := keys[i]
			switch {
			case o.Status == 0:
				// Never answered: the $batch that carried it failed as a whole (err says why).
				failed[pid] = firstErr(err, fmt.Errorf("could not assign principal %s: Graph gave no answer", pid))
			case o.Err == nil && o.Status < 300:
				// Kept even when another $batch failed: the assignment exists and must not be lost.
				created = append(created, assignmentFromMap(o.Body))
			case err == nil && IsReplicationLag(o.Err) && ctx.Err() == nil:
				lagging = append(lagging, pid)
			default:
				failed[pid] = firstErr(o.Err, fmt.Errorf("could not assign principal %s: Graph answered %d", pid, o.Status))
			}
		}
		if err != nil {
			return created, failed
		}
		if len(lagging) > 0 {
			if err := sleep(ctx, retryDelay(&http.Response{Header: http.Header{}}, 1)); err != nil {
				for _, pid := range lagging {
					failed[pid] = fmt.Errorf("could not assign principal %s: Graph did not find it before the timeout (deleted, or not replicated yet)", pid)
				}
				return created, failed
			}
		}
		todo = lagging
	}
	return created, failed
}

// DeleteAssignments removes many assignments through $batch; ones already gone count as removed.
// It returns the ids removed and the failures by id.
func (c *Client) DeleteAssignments(ctx context.Context, spID string, assignmentIDs []string) ([]string, map[string]error) {
	failed := map[string]error{}
	var calls []batchCall
	var keys []string
	for _, id := range assignmentIDs {
		info, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().ByAppRoleAssignmentId(id).ToDeleteRequestInformation(ctx, nil)
		if err != nil {
			failed[id] = err
			continue
		}
		calls = append(calls, batchCall{info: info, object: "assignment " + id})
		keys = append(keys, id)
	}
	outcomes, err := c.runBatches(ctx, calls, "remove the assignment", PermAppRoleAssignment)
	var removed []string
	for i, o := range outcomes {
		id := keys[i]
		switch {
		case o.Status == 0:
			failed[id] = firstErr(err, fmt.Errorf("could not remove assignment %s: Graph gave no answer", id))
		case o.Err == nil && o.Status < 300, o.Status == http.StatusNotFound:
			removed = append(removed, id)
		default:
			failed[id] = firstErr(o.Err, fmt.Errorf("could not remove assignment %s: Graph answered %d", id, o.Status))
		}
	}
	return removed, failed
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func asError(err error, target **Error) bool { return errors.As(err, target) }
