package entra

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The sandbox's machine has one user-assigned managed identity and no system-assigned one, served the
// way Azure App Service serves managed identities: GET $IDENTITY_ENDPOINT?api-version=2019-08-01
// &resource=...&client_id=... with the X-IDENTITY-HEADER secret from $IDENTITY_HEADER. Asking without a
// client_id asks for the system-assigned identity, which this machine lacks: that is the mistake a
// person makes on a machine with only user-assigned identities, and App Service answers it with 400.
// The exact body of that 400 is a guess (App Service documents the status, not the body).

// ManagedIdentityHeader is the IDENTITY_HEADER secret the endpoint expects. It is derived from the
// signing key, so it differs for every sandbox and needs no state of its own.
func (s *Authority) ManagedIdentityHeader() string {
	mac := hmac.New(sha256.New, s.signer.key.D.Bytes())
	mac.Write([]byte("IDENTITY_HEADER"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// SetManagedIdentity makes the registered client appID the machine's user-assigned managed identity.
func (s *Authority) SetManagedIdentity(appID string) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	s.managedIdentity = appID
}

// ServeManagedIdentity answers the App Service-style managed identity endpoint.
func (s *Authority) ServeManagedIdentity(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeAuthorityJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": strconv.FormatInt(time.Now().UnixNano(), 36)})
	}
	if r.Method != http.MethodGet {
		fail(http.StatusMethodNotAllowed, "Only GET is supported.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(s.ManagedIdentityHeader())) != 1 {
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" {
		fail(http.StatusBadRequest, "api-version 2019-08-01 is required.")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		fail(http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	s.clientsMu.RLock()
	mi := s.managedIdentity
	s.clientsMu.RUnlock()
	clientID := q.Get("client_id")
	switch {
	case clientID == "":
		fail(http.StatusBadRequest, "No system-assigned managed identity is enabled on this resource. Name a user-assigned identity with client_id.")
		return
	case !strings.EqualFold(clientID, mi):
		fail(http.StatusBadRequest, "No user-assigned managed identity with client id "+clientID+" is assigned to this resource.")
		return
	}
	c, ok := s.Client(mi)
	if !ok {
		fail(http.StatusInternalServerError, "The managed identity is not registered.")
		return
	}
	tok, lifetime, err := s.IssueAccessToken(c, strings.TrimSuffix(resource, "/")+"/.default")
	if err != nil {
		fail(http.StatusInternalServerError, "Could not issue a token.")
		return
	}
	writeAuthorityJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_on": strconv.FormatInt(time.Now().Add(lifetime).Unix(), 10),
		"resource": resource, "token_type": "Bearer", "client_id": mi,
	})
}
