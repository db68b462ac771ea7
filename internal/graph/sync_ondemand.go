package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Graph's limit for provisionOnDemand: 5 requests per 10 seconds.
const (
	OnDemandRequestsPerWindow = 5
	OnDemandWindow            = 10 * time.Second
	// OnDemandMaxMembers is how many members one group subject may carry in links.members.
	OnDemandMaxMembers = 5
)

// pacer keeps a client within a sliding-window request limit: it waits before a request that would
// exceed it, so that Graph is not asked to throttle. A request counts from when its answer came back,
// not from when it was sent, since Graph counts it from when it arrived, which is later. Another
// process sharing the limit is still answered 429, which the retry transport waits out.
type pacer struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	sent   []*time.Time
}

// acquire waits for a free slot and returns the function to call once the request is answered.
func (p *pacer) acquire(ctx context.Context) (func(), error) {
	for {
		p.mu.Lock()
		now := time.Now()
		recent := p.sent[:0]
		for _, t := range p.sent {
			if now.Sub(*t) < p.window {
				recent = append(recent, t)
			}
		}
		p.sent = recent
		if len(p.sent) < p.limit {
			stamp := &now
			p.sent = append(p.sent, stamp)
			p.mu.Unlock()
			return func() {
				p.mu.Lock()
				*stamp = time.Now()
				p.mu.Unlock()
			}, nil
		}
		oldest := *p.sent[0]
		for _, t := range p.sent[1:] {
			if t.Before(oldest) {
				oldest = *t
			}
		}
		d := oldest.Add(p.window).Sub(now)
		p.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// OnDemandSubject is one principal to provision on demand: a user, or a group with (at most
// OnDemandMaxMembers of) its direct user members.
type OnDemandSubject struct {
	ObjectID string
	Type     string // "User" | "Group"
	Members  []string
}

// OnDemandStep is one provisioning step Entra reports (import, scoping, matching, export ...).
type OnDemandStep struct {
	Name        string
	Type        string
	Status      string
	Description string
	Details     map[string]string
}

// OnDemandResult is Entra's report for one provisionOnDemand request, from the two JSON documents
// Graph returns as strings (key: result and details; value: action, steps and statusInfo).
type OnDemandResult struct {
	Result            string // Success | Skipped | Failure (Warning is possible too)
	Action            string // Create | Update | Delete | Disable | Other
	ErrorCode         string // key.details.errorCode, or statusInfo.errorCode
	Message           string // key.details.errorMessage, or statusInfo.reason
	RecommendedAction string
	SkipReason        string // the skip step's SkipReason
	TargetID          string // the object's id in the target system, when Entra names it
	Steps             []OnDemandStep
}

// ProvisionOnDemand provisions one subject now (POST .../jobs/{job}/provisionOnDemand), paced to
// Graph's limit of 5 requests per 10 seconds for each client.
func (c *Client) ProvisionOnDemand(ctx context.Context, spID, jobID, ruleID string, s OnDemandSubject) (*OnDemandResult, error) {
	if len(s.Members) > OnDemandMaxMembers {
		return nil, fmt.Errorf("provision on demand: %d members of group %s in one request, at most %d are allowed", len(s.Members), s.ObjectID, OnDemandMaxMembers)
	}
	subject := map[string]any{"objectId": s.ObjectID, "objectTypeName": s.Type}
	if len(s.Members) > 0 {
		members := make([]map[string]string, len(s.Members))
		for i, m := range s.Members {
			members[i] = map[string]string{"objectId": m, "objectTypeName": "User"}
		}
		subject["links"] = map[string]any{"members": members}
	}
	body := map[string]any{"parameters": []any{map[string]any{"ruleId": ruleID, "subjects": []any{subject}}}}
	answered, err := c.onDemand.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer answered()
	var out struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	object := strings.ToLower(s.Type) + " " + s.ObjectID
	if err := c.raw(ctx, http.MethodPost, "servicePrincipals/"+url.PathEscape(spID)+"/synchronization/jobs/"+url.PathEscape(jobID)+"/provisionOnDemand",
		body, &out, "provision on demand", object, PermSynchronization); err != nil {
		return nil, err
	}
	return parseOnDemand(out.Key, out.Value)
}

// parseOnDemand reads Entra's report. Both strings are JSON documents; a step's details map string
// values, though Entra sometimes nests JSON there, which is kept as text.
func parseOnDemand(key, value string) (*OnDemandResult, error) {
	var k struct {
		Result  string `json:"result"`
		Details struct {
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(key), &k); err != nil {
		return nil, fmt.Errorf("provision on demand: unexpected answer from Graph (key is not JSON): %w", err)
	}
	var v struct {
		Action            string `json:"action"`
		ProvisioningSteps []struct {
			Name        string                     `json:"name"`
			Type        string                     `json:"type"`
			Status      string                     `json:"status"`
			Description string                     `json:"description"`
			Details     map[string]json.RawMessage `json:"details"`
		} `json:"provisioningSteps"`
		StatusInfo struct {
			Status            string `json:"status"`
			ErrorCode         string `json:"errorCode"`
			Reason            string `json:"reason"`
			RecommendedAction string `json:"recommendedAction"`
		} `json:"statusInfo"`
		TargetIdentity struct {
			ID string `json:"id"`
		} `json:"targetIdentity"`
	}
	if value != "" {
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return nil, fmt.Errorf("provision on demand: unexpected answer from Graph (value is not JSON): %w", err)
		}
	}
	r := &OnDemandResult{
		Result: k.Result, Action: v.Action, ErrorCode: k.Details.ErrorCode, Message: k.Details.ErrorMessage,
		RecommendedAction: v.StatusInfo.RecommendedAction, TargetID: v.TargetIdentity.ID,
	}
	if r.Result == "" {
		r.Result = v.StatusInfo.Status
	}
	if r.ErrorCode == "" {
		r.ErrorCode = v.StatusInfo.ErrorCode
	}
	if r.Message == "" {
		r.Message = v.StatusInfo.Reason
	}
	for _, s := range v.ProvisioningSteps {
		step := OnDemandStep{Name: s.Name, Type: s.Type, Status: s.Status, Description: s.Description, Details: map[string]string{}}
		for dk, dv := range s.Details {
			var str string
			if json.Unmarshal(dv, &str) != nil {
				str = string(dv)
			}
			step.Details[dk] = str
		}
		if reason := step.Details["SkipReason"]; reason != "" && r.SkipReason == "" {
			r.SkipReason = reason
		}
		r.Steps = append(r.Steps, step)
	}
	if r.SkipReason == "" && strings.EqualFold(r.Result, "Skipped") {
		r.SkipReason = r.ErrorCode
	}
	return r, nil
}

// ProvisioningRuleID is the id of the schema's synchronization rule that provisions users and groups
// from Entra ID (provisionOnDemand's ruleId); "" when the schema has none.
func (s *JobSchema) ProvisioningRuleID() string {
	first := ""
	for _, r := range list(s.doc["synchronizationRules"]) {
		rule, _ := r.(map[string]any)
		id := str(rule["id"])
		if id == "" {
			continue
		}
		if first == "" {
			first = id
		}
		for _, o := range list(rule["objectMappings"]) {
			if om, _ := o.(map[string]any); om != nil && str(om["sourceObjectName"]) == "User" {
				return id
			}
		}
	}
	return first
}

// GroupUserMembers lists the direct user members of a group (nested groups' members are not
// provisioned), following every page.
func (c *Client) GroupUserMembers(ctx context.Context, groupID string) ([]DirectoryObject, error) {
	var out []DirectoryObject
	next := fmt.Sprintf("groups/%s/members/microsoft.graph.user?$select=id,displayName&$top=%d", url.PathEscape(groupID), DirectoryPageSize)
	for next != "" {
		var p struct {
			Value []struct {
				ID          string `json:"id"`
				DisplayName string `json:"displayName"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := c.raw(ctx, http.MethodGet, next, nil, &p, "list the members of a group", "group "+groupID, PermGroupRead); err != nil {
			return nil, err
		}
		for _, v := range p.Value {
			out = append(out, DirectoryObject{ID: v.ID, Type: "user", DisplayName: v.DisplayName})
		}
		next = ""
		if p.Next != "" {
			next = strings.TrimPrefix(strings.TrimPrefix(p.Next, c.base), "/")
		}
	}
	return out, nil
}
