package jetstream

import (
	crand "crypto/rand"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Advisories: JetStream tells operators and tools (nats events, jsm.go)
// what happened on $JS.EVENT.ADVISORY.> and $JS.EVENT.METRIC.>, with
// nats-server's subjects and JSON (store/jsapi/advisory.go). Like
// nats-server, leafgate builds an advisory only when something subscribes
// to its subject: one cached router match, no JSON, no id.
//
// Advisories are published on the goroutine that made the change (the API
// goroutine or the stream's), never under a mutex.

// eventSubject writes prefix[.tok...] into buf (reusing its space), so
// that interest can be checked without building a string.
func eventSubject(buf []byte, prefix string, toks ...string) []byte {
	buf = append(buf[:0], prefix...)
	for _, t := range toks {
		buf = append(buf, '.')
		buf = append(buf, t...)
	}
	return buf
}

// listening reports whether anything subscribes to an advisory subject.
func (s *Service) listening(subj []byte) bool { return s.r.HasInterest(subj) }

// event is an advisory's head: type, a new unique id, and now in UTC.
func (s *Service) event(typ string) jsapi.Event {
	return jsapi.Event{Type: typ, ID: s.ids.next(), Time: s.now().UTC()}
}

// sendEvent encodes and publishes one advisory.
func (s *Service) sendEvent(subj []byte, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("jetstream: encode advisory", "subject", string(subj), "err", err)
		return
	}
	// A copy, so that callers' stack buffers do not escape: the router's
	// receivers may keep what they are handed.
	s.r.Publish(&router.Publisher{}, append([]byte(nil), subj...), nil, nil, b)
}

// adviseStream sends a stream_action advisory.
func (s *Service) adviseStream(prefix, stream, action string) {
	subj := eventSubject(nil, prefix, stream)
	if !s.listening(subj) {
		return
	}
	s.sendEvent(subj, &jsapi.StreamAction{
		Event: s.event(jsapi.TypeStreamAction), Stream: stream, Action: action, Domain: s.cfg.Domain,
	})
}

// adviseConsumer sends a consumer_action advisory.
func (s *Service) adviseConsumer(prefix, stream, consumer, action string) {
	subj := eventSubject(nil, prefix, stream, consumer)
	if !s.listening(subj) {
		return
	}
	s.sendEvent(subj, &jsapi.ConsumerAction{
		Event: s.event(jsapi.TypeConsumerAction), Stream: stream, Consumer: consumer, Action: action, Domain: s.cfg.Domain,
	})
}

// audit sends the api_audit advisory for an answered API request.
func (s *Service) audit(m *inMsg, response []byte) {
	subj := []byte(jsapi.AdvisoryAPI)
	if !s.listening(subj) {
		return
	}
	ci := &jsapi.ClientInfo{Account: globalAccount, Server: s.cfg.ServerName}
	if d, ok := m.origin.(router.Describer); ok {
		o := d.Describe()
		start := o.Start.UTC()
		ci.Start, ci.Host, ci.ID, ci.User, ci.Name = &start, o.Host, o.ID, o.User, o.Name
		ci.Lang, ci.Version, ci.RTT, ci.Kind, ci.ClientType = o.Lang, o.Version, o.RTT, o.Kind, o.Type
	}
	s.sendEvent(subj, &jsapi.APIAudit{
		Event:    s.event(jsapi.TypeAPIAudit),
		Server:   s.cfg.ServerName,
		Client:   ci,
		Subject:  m.subject,
		Request:  string(m.data),
		Response: string(response),
		Domain:   s.cfg.Domain,
	})
}

// apiReceiver queues API requests with the client that sent them, for
// the audit advisory.
type apiReceiver struct{ box *mailbox }

func (r apiReceiver) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	return r.DeliverFrom(&router.Publisher{}, sub, subj, reply, hdr, payload)
}

func (r apiReceiver) DeliverFrom(p *router.Publisher, sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	m := copyIn(sub, subj, reply, hdr, payload)
	m.origin = p.Origin
	r.box.put(m)
	return false
}

func (apiReceiver) Flush() {}

// eventIDs makes advisory ids as nats-server's nuid does: 22 base62
// characters, a random 12-character prefix and a 10-character sequence
// that grows by a random step, so ids are unique without coordination.
type eventIDs struct {
	mu       sync.Mutex
	pre      [idPreLen]byte
	seq, inc int64
	init     bool
}

const (
	idDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	idPreLen = 12
	idSeqLen = 10
	idMaxSeq = int64(839299365868340224) // 62^10
	idMinInc = int64(33)
	idMaxInc = int64(333)
)

func (g *eventIDs) reset() {
	var rb [idPreLen]byte
	_, _ = crand.Read(rb[:])
	for i, b := range rb {
		g.pre[i] = idDigits[int(b)%len(idDigits)]
	}
	g.seq = rand.Int64N(idMaxSeq)
	g.inc = idMinInc + rand.Int64N(idMaxInc-idMinInc)
	g.init = true
}

func (g *eventIDs) next() string {
	g.mu.Lock()
	if !g.init {
		g.reset()
	}
	g.seq += g.inc
	if g.seq >= idMaxSeq {
		g.reset()
	}
	var b [idPreLen + idSeqLen]byte
	copy(b[:], g.pre[:])
	seq := g.seq
	g.mu.Unlock()
	for i := len(b) - 1; i >= idPreLen; i-- {
		b[i] = idDigits[seq%62]
		seq /= 62
	}
	return string(b[:])
}

// The consumer advisories below run on the stream's goroutine.

// consumerEvent returns the consumer's advisory subject under prefix, or
// nil when nobody listens. It is built in the stream's buffer, so that a
// check finding no listener allocates nothing; valid until the next call.
func (c *consumer) consumerEvent(prefix string) []byte {
	c.ms.evBuf = eventSubject(c.ms.evBuf, prefix, c.ms.name, c.name)
	if !c.ms.svc.listening(c.ms.evBuf) {
		return nil
	}
	return c.ms.evBuf
}

// adviseDelivery reports a naked or terminated delivery, as the ack
// subject describes it.
func (c *consumer) adviseDelivery(prefix, typ string, ai ackInfo, reason string) {
	subj := c.consumerEvent(prefix)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	svc.sendEvent(subj, &jsapi.DeliveryAdvisory{
		Event: svc.event(typ), Stream: c.ms.name, Consumer: c.name,
		ConsumerSeq: ai.cseq, StreamSeq: ai.sseq, Deliveries: ai.delivered, Reason: reason, Domain: svc.cfg.Domain,
	})
}

// adviseMaxDeliver reports a message given up on after deliveries.
func (c *consumer) adviseMaxDeliver(sseq, deliveries uint64) {
	subj := c.consumerEvent(jsapi.AdvisoryMaxDeliveries)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	svc.sendEvent(subj, &jsapi.MaxDeliver{
		Event: svc.event(jsapi.TypeMaxDeliver), Stream: c.ms.name, Consumer: c.name,
		StreamSeq: sseq, Deliveries: deliveries, Domain: svc.cfg.Domain,
	})
}

// advisePause reports the consumer's pause deadline: paused while it is
// in the future; the zero time when resumed.
func (c *consumer) advisePause(until time.Time) {
	subj := c.consumerEvent(jsapi.AdvisoryConsumerPause)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	svc.sendEvent(subj, &jsapi.ConsumerPause{
		Event: svc.event(jsapi.TypeConsumerPauseAdvisory), Stream: c.ms.name, Consumer: c.name,
		Paused: c.ms.svc.now().Before(until), PauseUntil: until, Domain: svc.cfg.Domain,
	})
}

// sampleAck sends the ack metric for an explicit ack of a pending
// message, for the share of acks sample_freq asks for.
func (c *consumer) sampleAck(ai ackInfo, p *pendingMsg) {
	if c.cfg.SampleFrequency == "" {
		// The usual case, on every ack: parsing "" would allocate the
		// error strconv returns.
		return
	}
	freq, err := sampleFreq(c.cfg.SampleFrequency)
	if err != nil || freq <= 0 || freq < 100 && rand.IntN(100) > freq {
		return
	}
	subj := c.consumerEvent(jsapi.MetricConsumerAck)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	t := c.ms.svc.now()
	svc.sendEvent(subj, &jsapi.AckMetric{
		Event:  jsapi.Event{Type: jsapi.TypeConsumerAckMetric, ID: svc.ids.next(), Time: t.UTC()},
		Stream: c.ms.name, Consumer: c.name, ConsumerSeq: ai.cseq, StreamSeq: ai.sseq,
		AckTime: t.UnixNano() - p.ts, Deliveries: ai.delivered, Domain: svc.cfg.Domain,
	})
}
