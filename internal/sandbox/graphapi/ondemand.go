package graphapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// onDemandSubject is a synchronizationJobSubject: an object, and for a group the members to
// provision with it (synchronizationLinkedObjects).
type onDemandSubject struct {
	ObjectID       string `json:"objectId"`
	ObjectTypeName string `json:"objectTypeName"`
	Links          *struct {
		Members []onDemandSubject `json:"members"`
	} `json:"links"`
}

type onDemandRequest struct {
	Parameters []struct {
		RuleID   string            `json:"ruleId"`
		Subjects []onDemandSubject `json:"subjects"`
	} `json:"parameters"`
}

// objectKind is a subject's objectTypeName as the engine names it; "" when it is neither.
func objectKind(typeName string) string {
	switch {
	case strings.EqualFold(typeName, "User"):
		return "User"
	case strings.EqualFold(typeName, "Group"):
		return "Group"
	}
	return ""
}

// onDemandSubjects checks the subjects of a request and converts them; the error is Graph's 400 message.
func onDemandSubjects(in []onDemandSubject) ([]provisioning.OnDemandSubject, string) {
	if len(in) == 0 {
		return nil, "The 'subjects' collection must hold at least one synchronizationJobSubject."
	}
	var out []provisioning.OnDemandSubject
	for _, sub := range in {
		kind := objectKind(sub.ObjectTypeName)
		if kind == "" {
			return nil, fmt.Sprintf("The objectTypeName '%s' is not supported: use 'User' or 'Group'.", sub.ObjectTypeName)
		}
		s := provisioning.OnDemandSubject{Kind: kind, ObjectID: sub.ObjectID}
		if sub.Links != nil {
			if kind != "Group" {
				return nil, "Only a Group subject can carry links.members."
			}
			if len(sub.Links.Members) > provisioning.OnDemandMaxMembers {
				return nil, fmt.Sprintf("A group subject can list at most %d members in links.members; it lists %d.", provisioning.OnDemandMaxMembers, len(sub.Links.Members))
			}
			for _, m := range sub.Links.Members {
				if objectKind(m.ObjectTypeName) != "User" {
					return nil, fmt.Sprintf("The member '%s' of links.members must have the objectTypeName 'User'.", m.ObjectID)
				}
				s.Members = append(s.Members, m.ObjectID)
			}
		}
		out = append(out, s)
	}
	return out, ""
}

func (s *API) registerProvisioningRoutes(g *graphRouter) {
	g.handle(http.MethodPost, "/servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand",
		anyRole("Synchronization.ReadWrite.All", "Application.ReadWrite.All").orOwner("id"), s.provisionOnDemand)
}

// provisionOnDemand provisions users and groups (a group with the members its links name) now,
// through the same code as a cycle, and answers with Entra's report: key is {"result","details"},
// value the steps.
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
	subjects, msg := onDemandSubjects(p.Subjects)
	if msg != "" {
		c.badRequest(msg)
		return
	}
	key, value, err := s.engine.OnDemand(c.r.Context(), spID, jobID, p.RuleID, subjects)
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
