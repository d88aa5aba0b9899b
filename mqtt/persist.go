package mqtt

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/sessstore"
	"github.com/leafgate/leafgate/mqtt/topic"
)

// Persistent sessions are kept durable in a sessstore.Store: the session
// record (subscriptions, expiry) whenever it changes, every QoS 1 and 2
// message queued for the session (its body stored once however many
// sessions it fans out to), the packet identifier a message is sent with
// (before it is sent, so a resend after a restart uses the same one
// [MQTT-4.4.0-1]), its release and removal, and the inbound QoS 2 packet
// identifiers not yet released (exactly-once across a restart). A PUBACK or
// PUBREC to a publisher waits, through router.Confirm, for every session
// queue its message went into; a SUBACK waits for the subscription.

// persistentLocked reports whether the session is kept in the store.
func (s *session) storedLocked() bool { return s.expiry > 0 && s.b.stp.Load() != nil }

// record is the session's store record.
func (s *session) recordLocked(disconnected int64) *sessstore.Session {
	rec := &sessstore.Session{ClientID: s.id, Version: byte(s.v), Expiry: s.expiry, Disconnected: disconnected}
	for _, sub := range s.subs {
		rec.Subs = append(rec.Subs, sessstore.Sub{Filter: sub.filter, QoS: sub.qos, NoLocal: sub.noLocal,
			RetainAsPublished: sub.rap, RetainHandling: sub.rh, ID: sub.id})
	}
	return rec
}

// persister gathers the changes of all sessions into one batch that a
// goroutine of its own hands to the store, so a delivery on a publisher's
// goroutine (which holds its session's lock) never waits for the store,
// and a message fanned out to many sessions costs one store request, not
// one per session.
type persister struct {
	st    *sessstore.Store
	log   *slog.Logger
	mu    sync.Mutex // held from batch() to apply()
	cur   *sessstore.Batch
	dones []func(error)
	sig   chan struct{}
	quit  chan struct{}
	done  chan struct{}
}

func newPersister(st *sessstore.Store, log *slog.Logger) *persister {
	p := &persister{st: st, log: log, cur: st.NewBatch(), sig: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *persister) run() {
	defer close(p.done)
	for {
		select {
		case <-p.sig:
		case <-p.quit:
			p.flush()
			return
		}
		p.flush()
	}
}

// flush submits what has gathered.
func (p *persister) flush() {
	p.mu.Lock()
	if p.cur.Len() == 0 && len(p.dones) == 0 {
		p.mu.Unlock()
		return
	}
	b, dones := p.cur, p.dones
	p.cur, p.dones = p.st.NewBatch(), nil
	p.mu.Unlock()
	p.st.Apply(b, func(err error) {
		if err != nil {
			p.log.Error("mqtt: session store write failed", "err", err)
		}
		for _, fn := range dones {
			fn(err)
		}
	})
}

// close submits what is left and stops the goroutine.
func (p *persister) close() {
	close(p.quit)
	<-p.done
}

// batch returns the gathering batch, locked until apply.
func (b *Broker) batch() *sessstore.Batch {
	p := b.persp.Load()
	p.mu.Lock()
	return p.cur
}

// apply releases the batch taken with batch(); done (nil: none) runs once
// the changes are durable, on the store's committer goroutine.
func (b *Broker) apply(_ *sessstore.Batch, done func(error)) {
	p := b.persp.Load()
	if done != nil {
		p.dones = append(p.dones, done)
	}
	p.mu.Unlock()
	select {
	case p.sig <- struct{}{}:
	default:
	}
}

// saveLocked writes the session record (and, with clean, drops what the
// store had of it first).
func (s *session) saveLocked(clean bool, disconnected int64, done func(error)) {
	batch := s.b.batch()
	if clean && s.inStore {
		batch.DeleteSession(s.id)
	}
	batch.PutSession(s.recordLocked(disconnected))
	s.inStore = true
	s.b.apply(batch, done)
}

// forgetLocked removes the session from the store.
func (s *session) forgetLocked() {
	s.marks = nil
	if s.b.stp.Load() == nil || !s.inStore {
		return
	}
	s.inStore = false
	batch := s.b.batch()
	batch.DeleteSession(s.id)
	s.b.apply(batch, nil)
}

const entryRetain = 0x01

// sharedBody is what the deliveries of one publish share through its
// router.Confirm: the body stored for the first persistent session, which
// the others reference when theirs would be identical.
type sharedBody struct {
	id    sessstore.BodyID
	subID uint32
}

// persistEnqueueLocked makes m durable in the session's queue. The
// publisher's Confirm (if any) waits for it; m goes out once committed.
//
// markKey, when set, records p's Mark with it (see session.marks).
func (s *session) persistEnqueueLocked(p *router.Publisher, m *outMsg, markKey string) {
	s.seq++
	m.seq = s.seq
	m.ready = false
	batch := s.b.batch()
	var body sessstore.BodyID
	if p != nil && p.Confirm != nil {
		if sb, ok := p.Confirm.Shared.(*sharedBody); ok && sb.subID == m.subID && sb.id != 0 {
			body = sb.id
		}
	}
	if body == 0 {
		body = batch.AddBody(encodeBody(nil, m))
		if p != nil && p.Confirm != nil {
			p.Confirm.Shared = &sharedBody{id: body, subID: m.subID}
		}
	}
	m.body = body
	var flags byte
	if m.retain {
		flags |= entryRetain
	}
	batch.Enqueue(s.id, sessstore.Entry{Seq: m.seq, Body: body, QoS: m.qos, Flags: flags})
	var prevMark, markSeq uint64
	if markKey != "" {
		markSeq = p.Mark.Seq
		batch.PutMark(s.id, markKey, markSeq)
		if s.marks == nil {
			s.marks = map[string]uint64{}
		}
		prevMark = s.marks[markKey]
		s.marks[markKey] = markSeq
	}
	var conf *router.Confirm
	if p != nil && p.Confirm != nil {
		conf = p.Confirm
		conf.Add()
	}
	s.b.apply(batch, func(err error) {
		s.mu.Lock()
		if err == nil {
			m.ready = true
			s.sendQueuedLocked()
			if c := s.c; c != nil {
				c.mu.Lock()
				c.kickLocked()
				c.mu.Unlock()
			}
		} else {
			s.dropQueuedLocked(m)
			if markKey != "" && s.marks[markKey] == markSeq {
				s.marks[markKey] = prevMark // not stored: a replay may bring it
			}
		}
		s.mu.Unlock()
		if conf != nil {
			conf.Done(err)
		}
	})
}

// dropQueuedLocked removes m from the queue after its store failed.
func (s *session) dropQueuedLocked(m *outMsg) {
	for i, x := range s.queue {
		if x == m {
			copy(s.queue[i:], s.queue[i+1:])
			s.queue[len(s.queue)-1] = nil
			s.queue = s.queue[:len(s.queue)-1]
			s.queuedBytes -= m.size()
			return
		}
	}
}

// persistSendLocked records the packet identifier m is about to be sent
// with; the PUBLISH is written once that is durable.
func (s *session) persistSendLocked(m *outMsg) {
	m.ready = false
	batch := s.b.batch()
	var flags byte
	if m.retain {
		flags |= entryRetain
	}
	batch.Update(s.id, sessstore.Entry{Seq: m.seq, Body: m.body, QoS: m.qos, Flags: flags, PacketID: m.pid})
	s.b.apply(batch, func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			return // stays unsent in flight; resent on the next connection
		}
		m.ready = true
		c := s.c
		if c == nil || s.byPID[m.pid] != m {
			return
		}
		c.mu.Lock()
		if !s.loadLocked(m) || !c.appendPublishLocked(m) {
			s.completeLocked(m)
		}
		c.kickLocked()
		c.mu.Unlock()
	})
}

// persistAckLocked records the end (or, released, the PUBREC) of an
// outbound message.
func (s *session) persistAckLocked(m *outMsg, released bool) {
	if m.seq == 0 || !s.storedLocked() {
		return
	}
	batch := s.b.batch()
	if released {
		batch.Update(s.id, sessstore.Entry{Seq: m.seq, Body: m.body, QoS: m.qos, PacketID: m.pid, Released: true})
	} else {
		batch.Remove(s.id, m.seq)
	}
	s.b.apply(batch, nil)
}

// loadLocked makes sure m's body is in memory (messages restored from the
// store are read back when they are sent).
func (s *session) loadLocked(m *outMsg) bool {
	if m.buf != nil || m.body == 0 {
		return m.buf != nil
	}
	raw, err := s.b.stp.Load().Body(m.body)
	if err != nil {
		s.b.log.Error("mqtt: stored message unreadable; dropped", "client_id", s.id, "err", err)
		return false
	}
	if err := decodeBody(raw, m); err != nil {
		s.b.log.Error("mqtt: stored message corrupt; dropped", "client_id", s.id, "err", err)
		return false
	}
	return true
}

// completeLocked ends an in-flight message as if acknowledged.
func (s *session) completeLocked(m *outMsg) {
	s.persistAckLocked(m, false)
	s.removeInflightLocked(m)
}

// encodeBody is a stored message body: version 1, the subscription id,
// then the topic, header, reply and payload lengths and bytes.
func encodeBody(dst []byte, m *outMsg) []byte {
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(m.subID))
	dst = binary.AppendUvarint(dst, uint64(m.topicLen))
	dst = binary.AppendUvarint(dst, uint64(m.hdrLen))
	dst = binary.AppendUvarint(dst, uint64(m.replyLen))
	return append(dst, m.buf...)
}

var errBody = errors.New("mqtt: bad stored message body")

// decodeBody fills m's body fields from a stored body.
func decodeBody(b []byte, m *outMsg) error {
	if len(b) < 1 || b[0] != 1 {
		return errBody
	}
	b = b[1:]
	var v [4]uint64
	for i := range v {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return errBody
		}
		v[i], b = x, b[n:]
	}
	if v[0] > 268435455 || v[1]+v[2]+v[3] > uint64(len(b)) {
		return errBody
	}
	m.subID = uint32(v[0])
	m.topicLen, m.hdrLen, m.replyLen = int(v[1]), int(v[2]), int(v[3])
	m.buf = append([]byte(nil), b...)
	meta, _ := natshdr.Parse(m.hdr(), nil, nil)
	m.expires = meta.Expires
	return nil
}

// restore recreates the stored sessions at start-up, offline, with their
// subscriptions registered so messages queue for them from now on.
func (b *Broker) restore() error {
	now := time.Now()
	marks, err := b.stp.Load().Marks()
	if err != nil {
		return err
	}
	return b.stp.Load().Load(func(rec *sessstore.Session, queue []sessstore.Entry, incoming []uint16) error {
		b.mu.Lock()
		s := b.newSessionLocked(rec.ClientID)
		b.mu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.v = packet.Version(rec.Version)
		s.expiry = rec.Expiry
		s.inStore = true
		s.marks = marks[rec.ClientID]
		for _, sub := range rec.Subs {
			ts, err := topic.ParseFilter([]byte(sub.Filter))
			if err != nil {
				b.log.Warn("mqtt: stored subscription no longer valid; dropped", "client_id", rec.ClientID, "filter", sub.Filter, "err", err)
				continue
			}
			f := packet.Subscription{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling}
			ns := &subscription{s: s, filter: sub.Filter, qos: min(f.QoS, 2), noLocal: f.NoLocal,
				rap: f.RetainAsPublished, rh: f.RetainHandling, id: sub.ID, noDollar: ts.NoDollar, share: ts.Share}
			if err := ns.attach(ts); err != nil {
				return err
			}
			s.subs[sub.Filter] = ns
		}
		for _, e := range queue {
			m := &outMsg{seq: e.Seq, body: e.Body, qos: e.QoS, retain: e.Flags&entryRetain != 0,
				pid: e.PacketID, released: e.Released, ready: true}
			s.seq = max(s.seq, e.Seq)
			if e.PacketID != 0 {
				m.dup = true
				s.byPID[m.pid] = m
				s.inflight = append(s.inflight, m)
				continue
			}
			s.queue = append(s.queue, m)
			s.queuedBytes += m.size()
		}
		for _, pid := range incoming {
			s.incoming[pid] = struct{}{}
		}
		if s.expiry != neverExpires {
			since := now
			if rec.Disconnected > 0 {
				since = time.Unix(0, rec.Disconnected)
			}
			s.offlineSince = since
			left := time.Duration(s.expiry)*time.Second - now.Sub(since)
			s.expTimer = time.AfterFunc(max(left, 0), s.expire)
		}
		return nil
	})
}

// persistIncoming records (add) or clears an inbound QoS 2 packet id of a
// stored session; conf, if set, waits for it.
func (s *session) persistIncoming(pid uint16, add bool, conf *router.Confirm) {
	s.mu.Lock()
	stored := s.storedLocked() && s.inStore
	s.mu.Unlock()
	if !stored {
		return
	}
	batch := s.b.batch()
	if add {
		batch.AddIncoming(s.id, pid)
	} else {
		batch.RemoveIncoming(s.id, pid)
	}
	var done func(error)
	if conf != nil {
		conf.Add()
		done = conf.Done
	}
	s.b.apply(batch, done)
}
