package graphapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

type onDemandRequest struct {
	Parameters []struct {
		RuleID   string `json:"ruleId"`
		Subjects []struct {
			ObjectID       string `json:"objectId"`
			ObjectTypeName string `json:"objectTypeName"`
		} `json:"subjects"`
	} `json:"parameters"`
}

func (s *API) registerProvisioningRoutes(g *graphRouter) {
	g.handle(http.MethodPost, "/servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand",
		anyRole("Synchronization.ReadWrite.All", "Application.ReadWrite.All").orOwner("id"), s.provisionOnDemand)
}

// provisionOnDemand provisions one user (or one group with its members) now, through the same code
// as a cycle, and answers with Entra's report: key is {"result","details"}, value the steps.
func (s *API) provisionOnDemand(c *gctx) {
	var body onDemandRequest
	if !c.decode(&body) {
		return
	}
	s.store.Mu.RLock()
	sp, j, ok := s.syncJob(c)
	var spID, jobID string
	if ok {
		spID, jobID = sp.ID, j.ID
	}
	s.store.Mu.RUnlock()
	if !ok {
		return
	}
	if wait, ok := s.engine.AllowOnDemand(spID, jobID); !ok {
		secs := int(wait/time.Second) + 1
		c.w.Header().Set("Retry-After", fmt.Sprint(secs))
		c.error(http.StatusTooManyRequests, "TooManyRequests",
			fmt.Sprintf("Provisioning on demand is limited to %d requests per %d seconds. Please try after %d seconds.", provisioning.OnDemandLimit, int(provisioning.OnDemandWindow/time.Second), secs))
		return
	}
	if len(body.Parameters) != 1 {
		c.badRequest("The 'parameters' collection must hold exactly one synchronizationJobApplicationParameters.")
		return
	}
	p := body.Parameters[0]
	if strings.TrimSpace(p.RuleID) == "" {
		c.badRequest("The property 'ruleId' is required: use the id of a synchronizationRule of the job's schema.")
		return
	}
	if len(p.Subjects) != 1 {
		c.badRequest("The 'subjects' collection must hold exactly one synchronizationJobSubject.")
		return
	}
	subject := p.Subjects[0]
	kind := ""
	switch {
	case strings.EqualFold(subject.ObjectTypeName, "User"):
		kind = "User"
	case strings.EqualFold(subject.ObjectTypeName, "Group"):
		kind = "Group"
	default:
		c.badRequest(fmt.Sprintf("The objectTypeName '%s' is not supported: use 'User' or 'Group'.", subject.ObjectTypeName))
		return
	}

	key, value, err := s.engine.OnDemand(c.r.Context(), spID, jobID, p.RuleID, kind, subject.ObjectID)
	if err != nil {
		if err.NotFound != "" {
			c.notFound(err.NotFound)
		} else {
			c.badRequest(err.Message)
		}
		return
	}
	c.json(http.StatusOK, map[string]any{
		"@odata.context": c.baseURL() + "/$metadata#microsoft.graph.stringKeyStringValuePair",
		"key":            key,
		"value":          value,
	})
}
