package sandbox

import "net/http"

// PLACEHOLDER: replaced by the authority helper.
func (s *Server) serveAuthority(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) serveOIDC(w http.ResponseWriter, r *http.Request)      { http.NotFound(w, r) }
