package leafnode

import (
	"time"

	"github.com/leafgate/leafgate/leaf/router"
)

// The Link is the router's Receiver for every Remote subscription it made,
// and the Origin of every message it publishes.
var (
	_ router.LinkReceiver = (*Link)(nil)
	_ router.Describer    = (*Link)(nil)
)

// DeliverLink implements router.LinkReceiver: one message for the hub, with
// the hub's queue groups that were chosen for it.
func (l *Link) DeliverLink(_ *router.Publisher, route, subj, reply, hdr, payload []byte, queues []string) bool {
	s := l.cur.Load()
	if s == nil {
		return false
	}
	return s.send(route, subj, reply, hdr, payload, queues)
}

// Deliver implements router.Receiver; the router calls DeliverLink for
// Remote subscriptions, so this only serves a plain delivery, if any.
func (l *Link) Deliver(_ *router.Sub, subj, reply, hdr, payload []byte) bool {
	return l.DeliverLink(nil, subj, subj, reply, hdr, payload, nil)
}

// Flush implements router.Receiver: a batch of publishes ended.
func (l *Link) Flush() {
	if s := l.cur.Load(); s != nil {
		s.kickWriter()
	}
}

// Describe implements router.Describer for messages the hub sent.
func (l *Link) Describe() router.Origin {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := router.Origin{Kind: "Leafnode", Type: "leafnode", Name: l.status.HubServer, Start: l.status.Since}
	if s := l.sess; s != nil {
		o.Host = s.url.Hostname()
		o.RTT = time.Duration(s.rtt.Load())
	}
	return o
}

// onInterest follows the router's exported interest (called with the
// router's interest lock held): the mirror a new session advertises, and
// the change for the current one, in order.
func (l *Link) onInterest(in router.Interest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := interestKey{in.Subject, in.Queue}
	if in.Weight == 0 {
		delete(l.local, k)
	} else {
		l.local[k] = in.Weight
	}
	if s := l.sess; s != nil {
		s.advertise(in)
	}
}
