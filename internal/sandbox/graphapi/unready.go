package graphapi

import (
	"net/http"
	"strings"
	"time"
)

// Right after instantiate, Entra's synchronization API may not know the new service principal yet:
// azuread retries every synchronization call on 403 and 409 for that reason. Faults.SyncUnreadyMS
// models that window. Guesses, since Entra documents none of it: the window runs from instantiate,
// covers every synchronization route of that service principal alike, and answers with the bodies
// below; a 403 looks exactly like a missing permission (the stricter guess: a client cannot tell
// the two apart by the answer).

// syncRoutes is the prefix of every synchronization route.
const syncRoutes = "/servicePrincipals/{id}/synchronization"

// markInstantiated starts the window of a service principal made by instantiate.
func (fs *faultState) markInstantiated(spID string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.instantiated[spID] = time.Now()
}

// unready reports the status a synchronization call on spID answers while its window lasts.
func (fs *faultState) unready(spID string) (int, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f.SyncUnreadyMS <= 0 {
		return 0, false
	}
	at, ok := fs.instantiated[spID]
	if !ok || time.Since(at) >= time.Duration(fs.f.SyncUnreadyMS)*time.Millisecond {
		return 0, false
	}
	if fs.f.SyncUnreadyStatus == http.StatusConflict {
		return http.StatusConflict, true
	}
	return http.StatusForbidden, true
}

// syncUnready answers a synchronization call inside the window and reports whether it did.
func (s *API) syncUnready(c *gctx) bool {
	if !strings.HasPrefix(c.route.template, syncRoutes) {
		return false
	}
	status, ok := s.faults.unready(c.param("id"))
	if !ok {
		return false
	}
	if status == http.StatusConflict {
		c.error(http.StatusConflict, "Conflict",
			"The synchronization configuration of this service principal is still being created. Retry the request later.")
	} else {
		c.error(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	return true
}
