package sandbox

import "context"

// PLACEHOLDER: replaced by the SCIM helper.
type engine struct{}

type CycleResult struct{}

func newEngine(s *Server) *engine                                      { return &engine{} }
func (e *engine) run(ctx context.Context)                              { <-ctx.Done() }
func (s *Server) RunCycles(ctx context.Context) ([]CycleResult, error) { return nil, nil }
