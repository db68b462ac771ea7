package provisioning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// TestConnection is Entra's Test Connection: it looks up a random user and a random group, which a
// SCIM endpoint answers with 200 and an empty ListResponse each. The error says why it failed and
// never contains the token.
func (e *Engine) TestConnection(ctx context.Context, baseURL, token string) error {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New(redact(fmt.Sprintf("the Tenant URL %q is not a valid URL", baseURL), token))
	}
	if u.Scheme != "https" {
		return errors.New(redact(fmt.Sprintf("the Tenant URL %s must use https", baseURL), token))
	}
	c := &scimClient{ctx: ctx, hc: e.client, base: strings.TrimRight(u.String(), "/"), token: token}
	for _, probe := range []struct {
		path  string
		query url.Values
	}{
		{"/Users", url.Values{"filter": {"userName eq " + scimString(uuid.NewString())}}},
		{"/Groups", url.Values{"excludedAttributes": {"members"}, "filter": {"displayName eq " + scimString(uuid.NewString())}}},
	} {
		if err := probeSCIM(c, probe.path, probe.query); err != nil {
			return err
		}
	}
	return nil
}

// probeSCIM sends one of Test Connection's lookups and says what is wrong with its answer.
func probeSCIM(c *scimClient, path string, q url.Values) error {
	st, body, err := c.do(http.MethodGet, path, q, nil)
	if err != nil {
		return errors.New(redact(describeTransportError(c.base, err), c.token))
	}
	var msg string
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		msg = fmt.Sprintf("the SCIM endpoint %s rejected the Secret Token (HTTP %d%s): the token is invalid, expired or revoked", c.base, st, detailSuffix(c.lastDetail))
	case st == http.StatusNotFound:
		msg = fmt.Sprintf("%s is not a SCIM endpoint: GET %s answered HTTP 404 (check the Tenant URL; Netskope's ends in /api/v2/scim)", c.base, path)
	case st != http.StatusOK:
		msg = fmt.Sprintf("the SCIM endpoint %s answered HTTP %d to GET %s", c.base, st, path)
	case !isListResponse(body):
		msg = fmt.Sprintf("%s is not a SCIM endpoint: GET %s did not answer with a SCIM ListResponse", c.base, path)
	default:
		return nil
	}
	return errors.New(redact(msg, c.token))
}

func isListResponse(body map[string]any) bool {
	schemas, _ := body["schemas"].([]any)
	if !slices.Contains(schemas, any(scimListSchema)) {
		return false
	}
	_, ok := body["totalResults"].(float64)
	return ok
}

// describeTransportError says, in an administrator's words, why a SCIM endpoint could not be reached.
func describeTransportError(base string, err error) string {
	host := base
	if u, perr := url.Parse(base); perr == nil {
		host = u.Host
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the SCIM endpoint is unreachable: the host name %q could not be resolved (DNS)", dnsErr.Name)
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr):
		return fmt.Sprintf("TLS failure talking to %s: its certificate is not issued by a trusted certificate authority", host)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS failure talking to %s: its certificate does not match the host name", host)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS failure talking to %s: its certificate is invalid or expired", host)
	case errors.As(err, &recordErr), errors.As(err, &alert):
		return fmt.Sprintf("TLS failure talking to %s: the TLS handshake failed (does the server speak https?)", host)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("the SCIM endpoint %s is unreachable: the connection timed out", host)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("the SCIM endpoint %s is unreachable: the connection was refused or failed", host)
	case errors.Is(err, context.Canceled):
		return fmt.Sprintf("the request to %s was cancelled", host)
	}
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return fmt.Sprintf("TLS failure talking to %s: %v", host, errors.Unwrap(err))
	}
	return fmt.Sprintf("the SCIM endpoint %s is unreachable: %v", host, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redact removes a secret from text that may end up in an error or a log.
func redact(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "***")
}
