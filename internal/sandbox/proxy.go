package sandbox

import "net/http"

// PLACEHOLDER: replaced by the authority helper.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "todo", http.StatusForbidden)
}
