package server

import (
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
)

// The server serves /leafz.
var _ monitor.LeafzSource = (*Server)(nil)

// leafzSource boxes the function for atomic.Pointer.
type leafzSource struct {
	fn func(monitor.LeafzOptions) *monitor.Leafz
}

// SetLeafz gives /leafz (and /varz's leafnode count) the links' state:
// fn fills everything but the server id and time. The server knows
// nothing else about the links; their owner attaches them to the router.
func (s *Server) SetLeafz(fn func(monitor.LeafzOptions) *monitor.Leafz) {
	s.leafz.Store(&leafzSource{fn})
}

// Leafz reports the leafnode links, as nats-server's /leafz.
func (s *Server) Leafz(opts monitor.LeafzOptions) (*monitor.Leafz, error) {
	lz := &monitor.Leafz{}
	if src := s.leafz.Load(); src != nil {
		lz = src.fn(opts)
	}
	if lz.Leafs == nil {
		lz.Leafs = []*monitor.LeafInfo{}
	}
	lz.ID, lz.Now, lz.NumLeafs = s.id, time.Now().UTC(), len(lz.Leafs)
	return lz, nil
}

// leafCount is the number of connected links, for /varz.
func (s *Server) leafCount() int {
	if src := s.leafz.Load(); src != nil {
		return len(src.fn(monitor.LeafzOptions{}).Leafs)
	}
	return 0
}
