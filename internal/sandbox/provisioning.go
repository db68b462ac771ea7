package sandbox

import (
	"context"
	"errors"
)

// PLACEHOLDER: replaced by the SCIM/provisioning helper.
type engine struct{}

type CycleResult struct{}

func newEngine(s *Server) *engine                                      { return &engine{} }
func (e *engine) run(ctx context.Context)                              { <-ctx.Done() }
func (e *engine) jobStarted(servicePrincipalID, jobID string)          {}
func (s *Server) RunCycles(ctx context.Context) ([]CycleResult, error) { return nil, nil }
func (s *Server) registerProvisioningRoutes(g *graphRouter)            {}
func (s *Server) testSCIMConnection(ctx context.Context, baseURL, token string) error {
	return errors.New("todo")
}
