// Package server is leafgate's local NATS server: it accepts NATS client
// connections (plain or TLS), speaks the client protocol through leaf/proto,
// authenticates through leaf/auth, and attaches every connection to one
// leaf/router.Router that internal clients (JetStream, MQTT, the leafnode
// link) share. It knows nothing about those adapters.
package server

import (
	"context"
	"net"
	"time"
)

// Server is a running local NATS server.
type Server struct{}

// New validates opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) { panic("not implemented") }

// Start opens the listeners and starts accepting clients. It returns once the
// listeners are bound, so ClientAddr is valid when it returns nil.
func (s *Server) Start() error { panic("not implemented") }

// ClientAddr is the bound client listener address.
func (s *Server) ClientAddr() net.Addr { panic("not implemented") }

// MonitorAddr is the bound monitoring listener address, nil when disabled.
func (s *Server) MonitorAddr() net.Addr { panic("not implemented") }

// Shutdown stops accepting, flushes what clients have pending and closes them,
// waiting at most until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { panic("not implemented") }

// LameDuck stops accepting new clients, advertises ldm in INFO to connected
// clients, then closes them spread over Options.LameDuckDuration and shuts
// down. It returns when the server has shut down.
func (s *Server) LameDuck(ctx context.Context) error { panic("not implemented") }

// Done is closed when the server has shut down.
func (s *Server) Done() <-chan struct{} { panic("not implemented") }

var _ = time.Second
