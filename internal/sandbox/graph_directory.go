package sandbox

// PLACEHOLDER: replaced by the directory helper.
func (s *Server) registerDirectoryRoutes(g *graphRouter) {}
