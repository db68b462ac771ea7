package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// raw sends a request the SDK lacks or gets wrong (GET secrets, schema PUT) through the same
// middleware and retry stack, signed with the same credential. path is relative to /v1.0.
func (c *Client) raw(ctx context.Context, method, path string, in, out any, op, object, permission string) error {
	_, err := c.rawHeader(ctx, method, path, in, out, op, object, permission)
	return err
}

// rawHeader is raw that also returns the answer's headers (Graph's Date, for one).
func (c *Client) rawHeader(ctx context.Context, method, path string, in, out any, op, object, permission string) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/"+strings.TrimPrefix(path, "/"), body)
	if err != nil {
		return nil, err
	}
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		return nil, fmt.Errorf("could not %s: signing in to Microsoft Entra ID failed: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not %s (%s): %w", op, object, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return resp.Header, errorFromBody(resp, data, op, object, permission)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("could not %s (%s): unexpected answer from Graph: %w", op, object, err)
		}
	}
	return resp.Header, nil
}

func errorFromBody(resp *http.Response, data []byte, op, object, permission string) error {
	e := &Error{Op: op, Object: object, Status: resp.StatusCode, RequestID: resp.Header.Get("request-id")}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if env.Error.InnerError.RequestID != "" {
			e.RequestID = env.Error.InnerError.RequestID
		}
	} else {
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "..."
		}
	}
	e.unpackServiceError()
	e.explain(permission)
	return e
}

// fetchActionsIDToken asks a GitHub Actions ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL) for a
// token with Entra's federation audience.
func fetchActionsIDToken(ctx context.Context, doer policy.Transporter, requestURL, requestToken string) (string, error) {
	if requestURL == "" || requestToken == "" {
		return "", errors.New("OIDC: oidc_request_url and oidc_request_token are both needed to request a token")
	}
	sep := "&"
	if !strings.Contains(requestURL, "?") {
		sep = "?"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, requestURL+sep+"audience=api://AzureADTokenExchange", nil)
	if err != nil {
		return "", fmt.Errorf("OIDC: bad oidc_request_url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := doer.Do(req)
	if err != nil {
		return "", fmt.Errorf("OIDC: requesting an ID token: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OIDC: the ID-token endpoint answered %d", resp.StatusCode)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Value == "" {
		return "", errors.New("OIDC: the ID-token endpoint's answer has no token in \"value\"")
	}
	return out.Value, nil
}

// Do sends one Graph request (path relative to /v1.0) with the client's credential, retries and
// middleware, decoding a JSON answer into out. It is for diagnostic tools (the probe), which record
// how the service answers; resources and data sources use typed functions. A non-2xx answer is an
// *Error carrying Graph's status, code and message.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.raw(ctx, method, path, in, out, method+" "+path, "", "")
}
