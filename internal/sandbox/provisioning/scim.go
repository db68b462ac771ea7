package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/scim2/filter-parser/v2"
)

// The SCIM 2.0 schema URNs Entra's requests carry (RFC 7643, 7644).
const (
	scimUserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimEnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	scimGroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimPatchOpSchema    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimListSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// read sends a lookup; ok is false when the cycle cannot go on (unreachable, TLS, 401/403, or an
// endpoint that does not answer a filtered GET as SCIM requires).
func (r *cycleRun) read(path string, q url.Values) (int, map[string]any, bool) {
	r.entries++
	st, body, err := r.client.do(http.MethodGet, path, q, nil)
	if !r.check(st, err) {
		return st, body, false
	}
	// Entra quarantines a job whose endpoint is not SCIM-compliant; a lookup answered 404 or with
	// something other than a ListResponse is how that shows (other statuses fail the one entry).
	if st == http.StatusNotFound || (st == http.StatusOK && !isListResponse(body)) {
		r.failed++
		r.fatal = &directory.SyncError{Code: "SystemForCrossDomainIdentityManagementServiceIncompatible", TenantActionable: true,
			Message: fmt.Sprintf("The SCIM endpoint %s is not SCIM 2.0 compliant: GET %s answered HTTP %d without a SCIM ListResponse.", r.client.base, path, st)}
		return st, body, false
	}
	return st, body, true
}

// write sends an export and counts it.
func (r *cycleRun) write(method, path string, body any) (int, bool) {
	st, _, ok := r.writeRead(method, path, body)
	return st, ok
}

func (r *cycleRun) writeRead(method, path string, body any) (int, map[string]any, bool) {
	r.entries++
	r.exec.CountExports++
	r.exec.CountImportedDeltas++
	st, res, err := r.client.do(method, path, nil, body)
	if !r.check(st, err) {
		return st, res, false
	}
	if st/100 == 2 {
		r.exec.CountExported++
	}
	return st, res, true
}

// check turns connection failures and authentication failures into a complete failure of the cycle.
func (r *cycleRun) check(status int, err error) bool {
	if err != nil {
		r.failed++
		r.fatal = &directory.SyncError{Code: "SystemForCrossDomainIdentityManagementServiceUnreachable", TenantActionable: true,
			Message: redact(describeTransportError(r.client.base, err), r.client.token)}
		return false
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		r.failed++
		r.fatal = &directory.SyncError{Code: "SystemForCrossDomainIdentityManagementUnauthorized", TenantActionable: true,
			Message: redact(fmt.Sprintf("The SCIM endpoint %s rejected the Secret Token (HTTP %d%s): the token is invalid, expired or revoked. Generate a new token in Netskope and save it in the provisioning credentials.", r.client.base, status, detailSuffix(r.client.lastDetail)), r.client.token)}
		return false
	}
	return true
}

type scimClient struct {
	ctx        context.Context
	hc         *http.Client
	base       string
	token      string
	lastDetail string
}

// do sends one SCIM request the way Entra does (application/scim+json, bearer token) and decodes
// a JSON answer when there is one.
func (c *scimClient) do(method, path string, q url.Values, body any) (int, map[string]any, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", "Microsoft.Identity.Provisioning/1.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	c.lastDetail = ""
	if resp.StatusCode/100 != 2 {
		if d, ok := out["detail"].(string); ok {
			c.lastDetail = d
		} else {
			c.lastDetail = http.StatusText(resp.StatusCode)
		}
	}
	return resp.StatusCode, out, nil
}

// detailSuffix is what the SCIM endpoint said, for an error message. Guess: Entra's errors quote the
// target's answer (its portal shows the response body of a failed request).
func detailSuffix(detail string) string {
	if detail == "" {
		return ""
	}
	return ", " + strconv.Quote(detail)
}

// scimString quotes a value for a SCIM filter (RFC 7644 3.4.2.2: a JSON string).
func scimString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func firstResource(body map[string]any) map[string]any {
	list, _ := body["Resources"].([]any)
	if len(list) == 0 {
		return nil
	}
	res, _ := list[0].(map[string]any)
	return res
}

func patchBody(ops []map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []any{scimPatchOpSchema}, "Operations": list}
}

// diffOps turns the difference between two views into PATCH operations with Entra's capitalised op
// names: Add for a value the target did not have, Replace for a changed one, Remove for one that is
// gone.
func diffOps(old, new map[string]any) ([]map[string]any, []change) {
	var ops []map[string]any
	var changes []change
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		ov, hadOld := old[k]
		nv, hasNew := new[k]
		if hadOld && hasNew && fmt.Sprint(ov) == fmt.Sprint(nv) {
			continue
		}
		if k == "active" {
			if !hasNew {
				continue
			}
			ops = append(ops, map[string]any{"op": "Replace", "path": "active", "value": nv})
			changes = append(changes, change{k, fmt.Sprint(ov), fmt.Sprint(nv)})
			continue
		}
		switch {
		case !hasNew:
			ops = append(ops, map[string]any{"op": "Remove", "path": k})
		case !hadOld:
			ops = append(ops, map[string]any{"op": "Add", "path": k, "value": nv})
		default:
			ops = append(ops, map[string]any{"op": "Replace", "path": k, "value": nv})
		}
		changes = append(changes, change{k, strOr(ov), strOr(nv)})
	}
	return ops, changes
}

func strOr(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// resourceBody builds a POST body from a view: each mapped path becomes the nested JSON it names
// (name.givenName, emails[type eq "work"].value, extension:attr).
func resourceBody(view map[string]any, schemas []any) map[string]any {
	body := map[string]any{"schemas": schemas}
	for _, k := range slices.Sorted(maps.Keys(view)) {
		setPath(body, k, view[k])
	}
	return body
}

func setPath(body map[string]any, target string, value any) {
	p, err := filter.ParsePath([]byte(target))
	if err != nil {
		body[target] = value
		return
	}
	container := body
	if uri := p.AttributePath.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		ext, _ := body[uri].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			body[uri] = ext
		}
		container = ext
	}
	name := p.AttributePath.AttributeName
	switch {
	case p.ValueExpression != nil:
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || p.SubAttribute == nil {
			return
		}
		list, _ := container[name].([]any)
		elem := map[string]any{e.AttributePath.AttributeName: e.CompareValue, *p.SubAttribute: value}
		if len(list) == 0 {
			elem["primary"] = true
		}
		container[name] = append(list, elem)
	case p.AttributePath.SubAttribute != nil:
		m, _ := container[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
			container[name] = m
		}
		m[*p.AttributePath.SubAttribute] = value
	default:
		container[name] = value
	}
}

// viewFromResource reads the mapped paths (and active) out of a SCIM resource.
func viewFromResource(res map[string]any, mappings []attrMapping) map[string]any {
	v := map[string]any{}
	if a, ok := res["active"].(bool); ok {
		v["active"] = a
	}
	for _, m := range mappings {
		if val := getPath(res, m.target); val != "" {
			v[m.target] = val
		}
	}
	return v
}

func getPath(res map[string]any, target string) string {
	p, err := filter.ParsePath([]byte(target))
	if err != nil {
		s, _ := res[target].(string)
		return s
	}
	container := res
	if uri := p.AttributePath.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		container, _ = res[uri].(map[string]any)
	}
	name := p.AttributePath.AttributeName
	switch {
	case p.ValueExpression != nil:
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || p.SubAttribute == nil {
			return ""
		}
		list, _ := container[name].([]any)
		for _, el := range list {
			m, _ := el.(map[string]any)
			if m != nil && strings.EqualFold(fmt.Sprint(m[e.AttributePath.AttributeName]), fmt.Sprint(e.CompareValue)) {
				s, _ := m[*p.SubAttribute].(string)
				return s
			}
		}
	case p.AttributePath.SubAttribute != nil:
		m, _ := container[name].(map[string]any)
		s, _ := m[*p.AttributePath.SubAttribute].(string)
		return s
	default:
		s, _ := container[name].(string)
		return s
	}
	return ""
}

func encodeView(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeView(s string) map[string]any {
	v := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &v)
	}
	return v
}
