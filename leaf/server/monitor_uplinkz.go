package server

import (
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
)

// The server serves /uplinkz.
var _ monitor.UplinkzSource = (*Server)(nil)

type uplinkzSource struct {
	fn func() (uplinks, downlinks any)
}

// SetUplinkz gives /uplinkz the uplinks' and downlinks' states (sync/
// owns them).
func (s *Server) SetUplinkz(fn func() (uplinks, downlinks any)) {
	s.uplinkz.Store(&uplinkzSource{fn})
}

// Uplinkz reports the uplinks and downlinks; empty lists when none.
func (s *Server) Uplinkz() (*monitor.Uplinkz, error) {
	uz := &monitor.Uplinkz{ID: s.id, Now: time.Now().UTC(), Uplinks: []any{}, Downlinks: []any{}}
	if src := s.uplinkz.Load(); src != nil {
		uz.Uplinks, uz.Downlinks = src.fn()
	}
	return uz, nil
}
