package server

import (
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
)

// The server serves /uplinkz.
var _ monitor.UplinkzSource = (*Server)(nil)

type uplinkzSource struct{ fn func() any }

// SetUplinkz gives /uplinkz the uplinks' states (sync/uplink owns them).
func (s *Server) SetUplinkz(fn func() any) { s.uplinkz.Store(&uplinkzSource{fn}) }

// Uplinkz reports the uplinks; an empty list when there are none.
func (s *Server) Uplinkz() (*monitor.Uplinkz, error) {
	uz := &monitor.Uplinkz{ID: s.id, Now: time.Now().UTC(), Uplinks: []any{}}
	if src := s.uplinkz.Load(); src != nil {
		uz.Uplinks = src.fn()
	}
	return uz, nil
}
