package server

import "github.com/leafgate/leafgate/leaf/auth"

// Authenticate checks credentials presented on another protocol's
// listener (MQTT's user name and password) against the server's current
// authorization, which a reload may have changed: the same users, tokens
// and permissions as the NATS port. Without configured authentication
// everyone gets an identity with no permission limits.
func (s *Server) Authenticate(c auth.Credentials) (*auth.Identity, error) {
	return s.conf.Load().auth.Authenticate(c, "")
}
