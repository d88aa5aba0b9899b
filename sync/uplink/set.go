package uplink

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jetstream"
)

// Set runs a gateway's uplinks and reserves their subjects in the router
// (router.ReserveUpstream), so those reach the hub only through them.
type Set struct {
	r       *router.Router
	uplinks []*Uplink
	mu      sync.Mutex
	carried map[string][]string // by uplink name: the subjects it carries
}

// StartSet starts every uplink in cfgs.
func StartSet(cfgs []Config, js *jetstream.Service, r *router.Router, log *slog.Logger) *Set {
	s := &Set{r: r, carried: map[string][]string{}}
	for _, c := range cfgs {
		c.carries = s.carries
		if c.Filter != "" && c.Filter != ">" {
			// Reserved before anything can be published on it.
			name := c.Name
			if name == "" {
				name = c.Stream
			}
			s.carries(name, []string{c.Filter})
		}
		s.uplinks = append(s.uplinks, Start(c, js, r, log))
	}
	return s
}

// carries records the subjects an uplink carries (its filter, or its
// stream's subjects once the stream exists) and reserves them all.
func (s *Set) carries(name string, subjects []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.carried[name] = subjects
	var all []string
	for _, subs := range s.carried {
		all = append(all, subs...)
	}
	s.r.ReserveUpstream(slices.Compact(slices.Sorted(slices.Values(all))))
}

// Close stops the uplinks and lifts the reservation.
func (s *Set) Close() {
	for _, u := range s.uplinks {
		u.Close()
	}
	s.r.ReserveUpstream(nil)
}

// Statuses reports every uplink's state.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.uplinks))
	for _, u := range s.uplinks {
		out = append(out, u.Status())
	}
	return out
}
