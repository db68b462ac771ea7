package sandbox

// PLACEHOLDER: replaced by the applications helper.
func (s *Server) seedGallery()                     {}
func (s *Server) registerAppRoutes(g *graphRouter) {}
