package sandbox

import (
	"errors"
	"net/http"
)

// PLACEHOLDER: replaced by the SCIM helper.
type netskope struct{}

func newNetskope(s *Server, tenants []string) *netskope             { return &netskope{} }
func (n *netskope) tenantHandler(tenant string) http.Handler        { return http.NotFoundHandler() }
func (n *netskope) token(tenant string) string                      { return "" }
func (s *Server) RevokeSCIMToken(tenant string) error               { return errors.New("todo") }
func (s *Server) RotateSCIMToken(tenant string) (string, error)     { return "", errors.New("todo") }
func (s *Server) SCIMUsers(tenant string) ([]map[string]any, error) { return nil, errors.New("todo") }
func (s *Server) SCIMGroups(tenant string) ([]map[string]any, error) {
	return nil, errors.New("todo")
}
