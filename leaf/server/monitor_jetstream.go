package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
)

// The server serves /jsz.
var _ monitor.JszSource = (*Server)(nil)

// jetStreamSource boxes the interface for atomic.Pointer.
type jetStreamSource struct{ src monitor.JetStreamSource }

// SetJetStream gives the monitoring endpoint the JetStream service's data
// for /jsz and /varz; nil detaches it. The server knows nothing else about
// JetStream: the service is attached to the router by its owner.
func (s *Server) SetJetStream(src monitor.JetStreamSource) {
	if src == nil {
		s.jetStream.Store(nil)
		return
	}
	s.jetStream.Store(&jetStreamSource{src})
}

// Jsz reports JetStream, or that it is disabled, as nats-server's /jsz.
func (s *Server) Jsz(opts monitor.JszOptions) (*monitor.JSInfo, error) {
	now := time.Now().UTC()
	js := s.jetStream.Load()
	if js == nil {
		return &monitor.JSInfo{ID: s.id, Now: now, Disabled: true}, nil
	}
	info, err := js.src.Jsz(opts)
	if err != nil {
		return nil, fmt.Errorf("jsz: %w", err)
	}
	if info == nil {
		return nil, errors.New("jsz: JetStream source returned nothing")
	}
	info.ID, info.Now = s.id, now
	// This server leads every stream, as a standalone nats-server reports.
	for _, a := range info.AccountDetails {
		for i := range a.Streams {
			a.Streams[i].Cluster = &monitor.ClusterInfo{Leader: s.name}
		}
	}
	return info, nil
}
