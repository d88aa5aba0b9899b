package mqtt

import (
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/sessstore"
	"github.com/leafgate/leafgate/mqtt/topic"
)

// subscription is one topic filter of a session. It is the router
// Receiver of the filter's router subscriptions (the subject, and the
// parent level of a "…/#" filter), so a delivery finds the granted QoS
// and options without a lookup. Its fields are guarded by the session's
// mu.
type subscription struct {
	s        *session
	filter   string
	qos      byte
	noLocal  bool
	rap      bool // Retain As Published
	rh       byte // Retain Handling
	id       uint32
	noDollar bool
	share    string
	rsubs    [2]*router.Sub
}

func (sub *subscription) unsubscribe() {
	for i, rs := range sub.rsubs {
		if rs != nil {
			_ = sub.s.b.r.Unsubscribe(rs)
			sub.rsubs[i] = nil
		}
	}
}

// Deliver implements router.Receiver; the router calls DeliverFrom.
func (sub *subscription) Deliver(rs *router.Sub, subj, reply, hdr, payload []byte) bool {
	return sub.DeliverFrom(&router.Publisher{}, rs, subj, reply, hdr, payload)
}

// DeliverFrom implements router.OriginAware: it maps one NATS message to
// an MQTT PUBLISH for this subscription's session. It runs on the
// publisher's goroutine and never blocks on I/O.
func (sub *subscription) DeliverFrom(p *router.Publisher, _ *router.Sub, subj, reply, hdr, payload []byte) bool {
	s := sub.s
	if topic.SkipForDollar(sub.noDollar, subj) { // [MQTT-4.7.2-1]
		return false
	}
	meta, _ := natshdr.Parse(hdr, nil, nil)
	if !meta.Expires.IsZero() && !time.Now().Before(meta.Expires) {
		return false // expired while it waited (3.3.2.3.3)
	}
	qos := *s.b.opts.NATSQoS
	if meta.HasQoS {
		qos = meta.QoS
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.noLocal { // [MQTT-3.8.3-3]
		if oc, ok := p.Origin.(*conn); ok && oc.s == s {
			return false
		}
	}
	if s.gone || s.subs[sub.filter] != sub {
		return false
	}
	c := s.c
	if c != nil && c.perms != nil && c.perms.DeliveryDenied(string(subj)) {
		return false
	}
	qos = min(qos, sub.qos)
	retain := sub.rap && meta.Retain
	tp, err := topic.AppendTopic(s.topicBuf[:0], subj)
	if err != nil {
		return false // a subject no MQTT topic expresses
	}
	s.topicBuf = tp
	if qos == 0 {
		if c == nil {
			return false // QoS 0 is not queued for an offline session
		}
		return c.sendQoS0(tp, hdr, reply, payload, retain, sub.id)
	}
	var markKey string
	if p.Mark != nil && s.storedLocked() {
		// A replay (a downlink after a crash) of what this session,
		// through this subscription, already stored.
		markKey = p.Mark.Key + "\x00" + sub.filter
		if s.marks[markKey] >= p.Mark.Seq {
			return false
		}
	}
	m := newOutMsg(tp, hdr, reply, payload, qos, retain, sub.id)
	m.expires = meta.Expires
	if !s.enqueueLocked(m) {
		return false
	}
	if s.storedLocked() {
		s.persistEnqueueLocked(p, m, markKey) // sent once durable
		return false
	}
	if c == nil {
		return false
	}
	return s.sendQueuedLocked()
}

// Flush implements router.Receiver.
func (sub *subscription) Flush() {
	s := sub.s
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.flushPending = false
		c.kickLocked()
		c.mu.Unlock()
	}
}

// Stall and Waited implement router.Pacer through the session's
// connection.
func (sub *subscription) Stall() (<-chan struct{}, int64) {
	if c := sub.s.conn(); c != nil {
		return c.Stall()
	}
	return nil, 0
}

func (sub *subscription) Waited(ch <-chan struct{}, progress int64) {
	if c := sub.s.conn(); c != nil {
		c.Waited(ch, progress)
	}
}

func (s *session) conn() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// outMsg is a QoS 1 or 2 message on its way to one session.
type outMsg struct {
	buf                          []byte // topic | hdr | reply | payload
	topicLen, hdrLen, replyLen   int
	qos                          byte
	retain, dup, released, ready bool
	pid                          uint16
	subID                        uint32
	expires                      time.Time        // the header's Nmqtt-Expires, parsed once
	seq                          uint64           // session queue sequence, when stored
	body                         sessstore.BodyID // its stored body
}

func newOutMsg(tp, hdr, reply, payload []byte, qos byte, retain bool, subID uint32) *outMsg {
	buf := make([]byte, 0, len(tp)+len(hdr)+len(reply)+len(payload))
	buf = append(buf, tp...)
	buf = append(buf, hdr...)
	buf = append(buf, reply...)
	buf = append(buf, payload...)
	return &outMsg{buf: buf, topicLen: len(tp), hdrLen: len(hdr), replyLen: len(reply),
		qos: qos, retain: retain, subID: subID, ready: true}
}

func (m *outMsg) topic() []byte { return m.buf[:m.topicLen] }
func (m *outMsg) hdr() []byte   { return m.buf[m.topicLen : m.topicLen+m.hdrLen] }
func (m *outMsg) reply() []byte {
	return m.buf[m.topicLen+m.hdrLen : m.topicLen+m.hdrLen+m.replyLen]
}
func (m *outMsg) payload() []byte { return m.buf[m.topicLen+m.hdrLen+m.replyLen:] }
func (m *outMsg) size() int       { return len(m.buf) + 64 }

// release drops the message body once it is no longer needed (a QoS 2
// message after PUBREC only needs its packet id).
func (m *outMsg) release() { m.buf = nil }

// enqueueLocked adds m to the session's queue, or drops it (counted) when
// the queue is full.
func (s *session) enqueueLocked(m *outMsg) bool {
	o := &s.b.opts
	if len(s.queue) >= o.MaxQueued || s.queuedBytes+m.size() > o.MaxQueuedBytes {
		s.b.stats.Dropped.Add(1)
		s.dropped++
		if s.dropped == 1 || s.dropped%1000 == 0 {
			s.b.log.Warn("mqtt session queue full: message dropped", "client_id", s.id,
				"dropped", s.dropped, "max_queued", o.MaxQueued, "max_queued_bytes", o.MaxQueuedBytes)
		}
		return false
	}
	s.queue = append(s.queue, m)
	s.queuedBytes += m.size()
	return true
}

// sendQueuedLocked moves queued messages into the in-flight window of the
// attached connection. It reports whether the connection needs a flush.
func (s *session) sendQueuedLocked() bool {
	c := s.c
	if c == nil || len(s.queue) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := false
	n := 0
	for n < len(s.queue) && len(s.inflight) < c.sendQuota {
		m := s.queue[n]
		if !m.ready {
			break // not yet durable: keep the order
		}
		n++
		s.queuedBytes -= m.size()
		if !s.loadLocked(m) {
			s.persistAckLocked(m, false)
			continue
		}
		if !m.expires.IsZero() && !time.Now().Before(m.expires) {
			s.persistAckLocked(m, false)
			continue
		}
		m.pid = s.nextPIDLocked()
		s.byPID[m.pid] = m
		s.inflight = append(s.inflight, m)
		if m.seq != 0 && s.storedLocked() {
			s.persistSendLocked(m) // written once its packet id is durable
			continue
		}
		if !c.appendPublishLocked(m) {
			s.completeLocked(m) // too big for the client: as if delivered [MQTT-3.1.2-25]
			continue
		}
		sent = true
	}
	if n > 0 {
		rest := copy(s.queue, s.queue[n:])
		clear(s.queue[rest:])
		s.queue = s.queue[:rest]
	}
	if !sent {
		return false
	}
	need := !c.flushPending
	c.flushPending = true
	return need
}

// nextPIDLocked picks the next free packet identifier [MQTT-2.2.1-4].
func (s *session) nextPIDLocked() uint16 {
	for {
		s.lastPID++
		if s.lastPID == 0 {
			s.lastPID = 1
		}
		if _, used := s.byPID[s.lastPID]; !used {
			return s.lastPID
		}
	}
}

// removeInflightLocked forgets a completed outbound message.
func (s *session) removeInflightLocked(m *outMsg) {
	delete(s.byPID, m.pid)
	for i, x := range s.inflight {
		if x == m {
			copy(s.inflight[i:], s.inflight[i+1:])
			s.inflight[len(s.inflight)-1] = nil
			s.inflight = s.inflight[:len(s.inflight)-1]
			break
		}
	}
	m.release()
}

// onAck handles PUBACK, PUBREC, PUBREL and PUBCOMP from the client.
func (c *conn) onAck(a *packet.Ack) error {
	s := c.s
	switch a.PacketType {
	case packet.PUBREL:
		return c.onPubrel(a.PacketID)
	case packet.PUBACK, packet.PUBCOMP:
		s.mu.Lock()
		m := s.byPID[a.PacketID]
		if m != nil && (a.PacketType == packet.PUBACK) == (m.qos == 1) && (a.PacketType == packet.PUBACK || m.released) {
			s.completeLocked(m)
			s.sendQueuedLocked()
		}
		s.mu.Unlock()
	case packet.PUBREC:
		s.mu.Lock()
		m := s.byPID[a.PacketID]
		switch {
		case m == nil || m.qos != 2:
			if c.v == packet.V5 {
				r := packet.Ack{PacketType: packet.PUBREL, PacketID: a.PacketID, Code: packet.PacketIdentifierNotFound}
				c.mu.Lock()
				c.out = r.Append(c.out, c.v)
				c.mu.Unlock()
			}
		case a.Code.IsError():
			s.completeLocked(m) // the flow ends here (4.3.3)
			s.sendQueuedLocked()
		default:
			m.released = true
			m.release()
			s.persistAckLocked(m, true)
			r := packet.Ack{PacketType: packet.PUBREL, PacketID: a.PacketID} // [MQTT-4.3.3-4]
			c.mu.Lock()
			c.out = r.Append(c.out, c.v)
			c.mu.Unlock()
		}
		s.mu.Unlock()
	}
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// sendQoS0 writes a QoS 0 PUBLISH straight to the output, or drops it
// (counted) when the connection is over MaxPending. Called with the
// session's mu held.
func (c *conn) sendQoS0(tp, hdr, reply, payload []byte, retain bool, subID uint32) bool {
	m := outMsg{qos: 0, retain: retain, subID: subID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.roomLocked(len(tp) + len(payload) + 16) {
		if !c.closed {
			c.b.stats.DroppedQoS0.Add(1)
		}
		return false
	}
	if !c.appendPublishParts(tp, hdr, reply, payload, &m) {
		return false
	}
	need := !c.flushPending || (c.stall != nil && !c.stallShown)
	c.flushPending = true
	if c.stall != nil {
		c.stallShown = true
	}
	return need
}

// appendPublishLocked encodes m as a PUBLISH onto the output. It reports
// false when the packet exceeds the client's Maximum Packet Size.
func (c *conn) appendPublishLocked(m *outMsg) bool {
	return c.appendPublishParts(m.topic(), m.hdr(), m.reply(), m.payload(), m)
}

func (c *conn) appendPublishParts(tp, hdr, reply, payload []byte, m *outMsg) bool {
	pub := packet.Publish{QoS: m.qos, Dup: m.dup, Retain: m.retain, PacketID: m.pid, Topic: tp, Payload: payload}
	c.st.outMsgs.Add(1)
	var newAlias uint16
	if c.v == packet.V5 {
		meta, corr := natshdr.Parse(hdr, &c.propsOut, c.corrBuf[:0])
		c.corrBuf = corr
		pub.Props = c.propsOut
		if packet.CheckPayloadFormat(&pub.Props, payload) != nil {
			// A NATS publisher claimed UTF-8 for bytes that are not: say
			// nothing rather than make the client close (0x99).
			pub.Props.Clear(packet.PropPayloadFormat)
		}
		if !meta.Expires.IsZero() {
			left := time.Until(meta.Expires)
			secs := uint32((left + time.Second - 1) / time.Second) // [MQTT-3.3.2-6]
			pub.Props.MessageExpiry = max(secs, 1)
			pub.Props.Set(packet.PropMessageExpiry)
		}
		if !pub.Props.Has(packet.PropResponseTopic) && len(reply) > 0 {
			if rt, err := topic.AppendTopic(c.scratch[:0], reply); err == nil {
				c.scratch = rt
				pub.Props.ResponseTopic = rt
				pub.Props.Set(packet.PropResponseTopic)
			}
		}
		if m.subID != 0 {
			pub.Props.SubscriptionIDs = append(pub.Props.SubscriptionIDs[:0], m.subID)
		}
		if c.aliasMax > 0 {
			if a, ok := c.aliasOut[string(tp)]; ok {
				pub.Topic = nil
				pub.Props.TopicAlias = a
				pub.Props.Set(packet.PropTopicAlias)
			} else if len(c.aliasOut) < int(c.aliasMax) {
				newAlias = uint16(len(c.aliasOut) + 1)
				pub.Props.TopicAlias = newAlias
				pub.Props.Set(packet.PropTopicAlias)
			}
		}
		c.propsOut = pub.Props // keep the grown slices
	}
	if c.maxOut > 0 && pub.Len(c.v) > c.maxOut {
		c.b.stats.DroppedTooBig.Add(1)
		return false
	}
	if newAlias != 0 {
		if c.aliasOut == nil {
			c.aliasOut = make(map[string]uint16)
		}
		c.aliasOut[string(tp)] = newAlias
	}
	c.out = pub.Append(c.out, c.v)
	c.b.stats.OutMsgs.Add(1)
	return true
}
