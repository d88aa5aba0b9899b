package mqtt

import (
	"sync"
	"time"

	"github.com/leafgate/leafgate/mqtt/packet"
)

// session is an MQTT session: its subscriptions and its outbound QoS 1/2
// state, which outlive a connection when the session is persistent. mu
// guards everything below it; lock order is session.mu before conn.mu.
type session struct {
	b  *Broker
	id string

	mu     sync.Mutex
	c      *conn // attached connection, nil while offline
	v      packet.Version
	expiry uint32 // Session Expiry Interval, seconds
	gone   bool   // removed from the broker
	// inStore: the store holds a record of this session.
	inStore bool
	// offlineSince is when the last connection ended (zero: never
	// connected, or connected now).
	offlineSince time.Time
	subs         map[string]*subscription

	// Outbound QoS 1 and 2. inflight holds messages sent and not yet
	// completed, in the order they were first sent, so they are resent
	// in that order on reconnect; queue holds those not yet sent.
	lastPID     uint16
	inflight    []*outMsg
	byPID       map[uint16]*outMsg
	queue       []*outMsg
	queuedBytes int
	seq         uint64
	dropped     uint64 // messages dropped because the queue was full
	topicBuf    []byte // delivery scratch

	// Inbound QoS 2: packet ids PUBRECed and not yet released.
	incoming map[uint16]struct{}
	// marks are the replaying publishers' positions (router.Mark) this
	// session stored, by publisher key and subscription filter.
	marks map[string]uint64

	will      *will
	willTimer *time.Timer
	expTimer  *time.Timer
}

// attach binds c to the session of clientID, creating it, resuming it or
// taking it over from another connection. It reports whether an existing
// session was resumed (CONNACK's Session Present).
func (b *Broker) attach(c *conn, clientID string, clean bool, expiry uint32, w *will) (*session, bool) {
	if expiry > 0 {
		b.ensureStore()
	}
	b.mu.Lock()
	s := b.sessions[clientID]
	if s == nil {
		s = b.newSessionLocked(clientID)
	}
	b.mu.Unlock()

	s.mu.Lock()
	old := s.c
	s.mu.Unlock()
	if old != nil {
		// [MQTT-3.1.4-3]: the existing connection is closed first; its
		// read loop detaches it (and may schedule its will).
		old.takeover()
	}

	s.mu.Lock()
	s.cancelWillLocked() // a new connection before the will's delay [MQTT-3.1.3-9]
	if s.expTimer != nil {
		s.expTimer.Stop()
		s.expTimer = nil
	}
	present := !clean && !s.gone && s.persistedLocked()
	if clean || s.gone {
		s.clearLocked()
		if s.gone {
			s.gone = false
			b.mu.Lock()
			b.sessions[clientID] = s
			b.mu.Unlock()
		}
	}
	wasStored := s.storedLocked()
	s.c = c
	s.v = c.v
	s.expiry = expiry
	s.will = w
	switch {
	case s.storedLocked():
		s.saveLocked(clean, 0, nil)
	case wasStored || clean:
		s.forgetLocked()
	}
	s.mu.Unlock()
	return s, present
}

func (b *Broker) newSessionLocked(id string) *session {
	s := &session{
		b:        b,
		id:       id,
		subs:     make(map[string]*subscription),
		byPID:    make(map[uint16]*outMsg),
		incoming: make(map[uint16]struct{}),
	}
	b.sessions[id] = s
	return s
}

// persistedLocked: the session existed before this CONNECT and was kept
// (CONNACK's Session Present).
func (s *session) persistedLocked() bool {
	return len(s.subs) > 0 || len(s.inflight) > 0 || len(s.queue) > 0 || len(s.incoming) > 0 || s.expiry > 0
}

// clearLocked drops the session's state (clean start).
func (s *session) clearLocked() {
	for _, sub := range s.subs {
		sub.unsubscribe()
	}
	clear(s.subs)
	for _, m := range s.inflight {
		m.release()
	}
	for _, m := range s.queue {
		m.release()
	}
	s.inflight = nil
	s.queue = nil
	s.queuedBytes = 0
	clear(s.byPID)
	clear(s.incoming)
}

// detach unbinds c after its connection ended; publishWill says the will
// is due (no normal DISCONNECT, or DISCONNECT 0x04).
func (s *session) detach(c *conn, publishWill, takenOver bool) {
	s.mu.Lock()
	if s.c != c {
		s.mu.Unlock()
		return
	}
	s.c = nil
	s.offlineSince = time.Now()
	w := s.will
	s.will = nil
	expiry := s.expiry
	if w != nil && publishWill {
		delay := min(w.delay, expiry)
		if delay == 0 {
			s.mu.Unlock()
			s.b.publishWill(w)
			s.mu.Lock()
		} else {
			s.willTimer = time.AfterFunc(time.Duration(delay)*time.Second, func() { s.willDue(w) })
		}
	}
	switch {
	case s.c != nil:
	case takenOver && expiry == 0:
		s.clearLocked() // the new connection starts afresh
	case takenOver:
	case expiry == 0:
		s.endLocked()
	case expiry != neverExpires:
		s.expTimer = time.AfterFunc(time.Duration(expiry)*time.Second, s.expire)
	}
	if s.c == nil && !s.gone && s.storedLocked() {
		s.saveLocked(false, time.Now().UnixNano(), nil) // expiry counts from now, across restarts too
	}
	s.mu.Unlock()
}

// willDue publishes a delayed will unless a connection came back.
func (s *session) willDue(w *will) {
	s.mu.Lock()
	if s.willTimer == nil || s.c != nil {
		s.mu.Unlock()
		return
	}
	s.willTimer = nil
	s.mu.Unlock()
	s.b.publishWill(w)
}

func (s *session) cancelWillLocked() {
	if s.willTimer != nil {
		s.willTimer.Stop()
		s.willTimer = nil
	}
}

// expire ends an offline session whose expiry interval has passed.
func (s *session) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil || s.gone {
		return
	}
	// A will still waiting for its delay is sent when the session ends
	// (3.1.3.2.2).
	if s.willTimer != nil {
		s.willTimer.Stop()
		s.willTimer = nil
	}
	s.endLocked()
}

// endLocked removes the session from the broker.
func (s *session) endLocked() {
	s.forgetLocked()
	s.clearLocked()
	s.gone = true
	s.b.mu.Lock()
	if s.b.sessions[s.id] == s {
		delete(s.b.sessions, s.id)
	}
	s.b.mu.Unlock()
}

// setExpiry changes the expiry interval (DISCONNECT's property).
func (s *session) setExpiry(e uint32) {
	s.mu.Lock()
	s.expiry = e
	s.mu.Unlock()
}

func (s *session) stopTimers() {
	s.mu.Lock()
	if s.willTimer != nil {
		s.willTimer.Stop()
	}
	if s.expTimer != nil {
		s.expTimer.Stop()
	}
	s.mu.Unlock()
}

// resume resends unacknowledged messages in their original order, with
// DUP set for PUBLISHes [MQTT-4.4.0-1], then sends what is queued.
func (s *session) resume(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != c {
		return
	}
	c.mu.Lock()
	for _, m := range append([]*outMsg(nil), s.inflight...) {
		if m.released {
			a := packet.Ack{PacketType: packet.PUBREL, PacketID: m.pid}
			c.out = a.Append(c.out, c.v)
			continue
		}
		if !m.ready {
			continue // written when its packet id is durable
		}
		m.dup = true
		if !s.loadLocked(m) || !c.appendPublishLocked(m) {
			s.completeLocked(m)
		}
	}
	c.mu.Unlock()
	s.sendQueuedLocked()
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
}
