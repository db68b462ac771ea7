package graph

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// SignInError is a failed first token request, split into what a person acts on: Entra's AADSTS
// code and its description when Entra answered, the credential's own message otherwise. Err keeps
// azidentity's full error (for debug logs); it carries no secret.
type SignInError struct {
	Method AuthMethod
	// Code is Entra's error code, e.g. "AADSTS7000215"; empty when Entra did not answer.
	Code string
	// Description is Entra's description without its trace lines, or the credential's message.
	Description string
	Err         error
}

func (e *SignInError) Error() string {
	if e.Code != "" {
		return "signing in with " + e.Method.Phrase() + " failed: Entra answered " + e.Code + ": " + e.Description
	}
	return "signing in with " + e.Method.Phrase() + " failed: " + e.Description
}

func (e *SignInError) Unwrap() error { return e.Err }

// SignIn acquires the first Graph token, so that a wrong or missing credential fails once, up
// front, instead of on every call. The token is cached by the credential for the calls that follow.
func (c *Client) SignIn(ctx context.Context) error {
	_, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err == nil {
		return nil
	}
	return newSignInError(c.method, err)
}

var aadsts = regexp.MustCompile(`(AADSTS\d+): ([^\r\n"]*)`)

func newSignInError(method AuthMethod, err error) *SignInError {
	e := &SignInError{Method: method, Err: err}
	// What the service said when it is not Entra's token endpoint: a managed identity endpoint
	// answers {"message": ...} (App Service) or {"error_description": ...} (IMDS).
	said := ""
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if body, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
			var out struct {
				Description string `json:"error_description"`
				Message     string `json:"message"`
			}
			if json.Unmarshal(body, &out) == nil {
				if m := aadsts.FindStringSubmatch(out.Description); m != nil {
					e.Code, e.Description = m[1], strings.TrimSpace(m[2])
					return e
				}
				said = strings.TrimSpace(cmp.Or(out.Description, out.Message))
			}
		}
	}
	msg := err.Error()
	if m := aadsts.FindStringSubmatch(msg); m != nil {
		e.Code, e.Description = m[1], strings.TrimSpace(m[2])
		return e
	}
	// azidentity's messages span lines (troubleshooting links, response dumps): keep the first.
	first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	e.Description = strings.TrimSpace(first)
	if said != "" {
		e.Description += " It answered: " + said
	}
	return e
}
