package sourcing

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
)

// tick is how often a follower looks at its sources: requests waiting for
// the origin's interest, timeouts, stalls, the status STREAM.INFO shows.
const tick = 250 * time.Millisecond

// Kinds of events a follower's goroutine handles.
type eventKind uint8

const (
	evDeliver eventKind = iota // a message on a source's deliver subject
	evAnswer                   // the answer to a create or reset request
	evStored                   // an Append completed
)

type event struct {
	kind        eventKind
	src         *source
	gen         uint64
	subj, reply string
	hdr, data   []byte
	rec         *appendRec
	err         error
}

// appendRec is one Append in flight: its number, and how far each of its
// sources' messages go.
type appendRec struct {
	n    uint64
	upto map[*source]uint64
}

// fcReply is a flow-control reply (or an answer to a stalled heartbeat)
// held until the stores issued before it are durable.
type fcReply struct {
	src     *source
	gen     uint64
	subject string
	hdr     []byte
	need    uint64
}

// replica is the store side of a stream a follower replicates into
// (*jetstream.Replica; tests hold its stores back).
type replica interface {
	Name() string
	Config() jsapi.StreamConfig
	Domain() string
	Position() (last uint64, sources map[string]uint64, ok bool)
	Append(msgs []jetstream.ReplMsg, done func(error))
	ResetPosition(source string)
	Identities() map[string]string
	SetIdentity(source, identity string)
	SetStatus(mirror *jsapi.StreamSourceInfo, sources []*jsapi.StreamSourceInfo)
}

// follower replicates into one stream; its goroutine owns every field
// below mu.
type follower struct {
	rep     replica
	r       *router.Router
	log     *slog.Logger
	account string
	name    string
	cfg     jsapi.StreamConfig

	mu   sync.Mutex
	evs  []event
	sig  chan struct{}
	quit chan struct{}
	done chan struct{}

	srcs      []*source
	batch     []jetstream.ReplMsg
	upto      map[*source]uint64
	issued    uint64          // Appends issued
	completed uint64          // Appends completed, in order
	doneAhead map[uint64]bool // completed beyond the in-order prefix
	fcq       []fcReply
	lastInfo  time.Time
}

func newFollower(rep replica, r *router.Router, log *slog.Logger, account string) (*follower, error) {
	f := &follower{
		rep: rep, r: r, log: log, account: account, name: rep.Name(), cfg: rep.Config(),
		sig: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		upto: map[*source]uint64{},
	}
	if m := f.cfg.Mirror; m != nil {
		s, err := newSource(f.name, *m, true)
		if err != nil {
			return nil, err
		}
		f.srcs = append(f.srcs, s)
	}
	for _, ss := range f.cfg.Sources {
		s, err := newSource(f.name, *ss, false)
		if err != nil {
			return nil, err
		}
		f.srcs = append(f.srcs, s)
	}
	last, positions, ok := rep.Position()
	if !ok {
		return nil, errors.New("stream stopped")
	}
	idents := rep.Identities()
	for _, s := range f.srcs {
		if s.mirror {
			s.stored = last
		} else {
			s.stored = positions[s.iname]
			s.ident = idents[s.iname]
		}
		s.sseq = s.stored
	}
	return f, nil
}

func (f *follower) post(ev event) {
	f.mu.Lock()
	f.evs = append(f.evs, ev)
	f.mu.Unlock()
	select {
	case f.sig <- struct{}{}:
	default:
	}
}

func (f *follower) run() {
	defer close(f.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	f.onTick(time.Now())
	var evs []event
	for {
		select {
		case <-f.quit:
			f.stop()
			return
		case <-f.sig:
			f.mu.Lock()
			evs, f.evs = f.evs, evs[:0]
			f.mu.Unlock()
			for i := range evs {
				f.handle(&evs[i])
				evs[i] = event{}
			}
			f.flush()
		case now := <-t.C:
			f.onTick(now)
		}
	}
}

// stop cancels every source and waits (a bounded time) for stores in
// flight, so a follower started after it reads settled positions.
func (f *follower) stop() {
	for _, s := range f.srcs {
		f.cancel(s)
	}
	f.flush()
	deadline := time.After(5 * time.Second)
	for f.completed < f.issued {
		select {
		case <-f.sig:
			f.mu.Lock()
			evs := f.evs
			f.evs = nil
			f.mu.Unlock()
			for i := range evs {
				if evs[i].kind == evStored {
					f.onStored(evs[i].rec, evs[i].err)
				}
			}
		case <-deadline:
			return
		}
	}
}

func (f *follower) handle(ev *event) {
	switch ev.kind {
	case evStored:
		f.onStored(ev.rec, ev.err)
	case evAnswer:
		if ev.gen == ev.src.gen && ev.src.state == creating {
			f.onAnswer(ev.src, ev.hdr, ev.data)
		}
	case evDeliver:
		// Deliveries can overtake the create's answer (the consumer
		// starts as soon as it exists): they count from the start.
		if ev.gen == ev.src.gen && (ev.src.state == active || ev.src.state == creating) {
			f.onDeliver(ev.src, ev)
		}
	}
}

// --- requests

// onTick moves sources on: a request once the origin's API can hear it,
// timeouts, stalls; and refreshes the status STREAM.INFO reports.
func (f *follower) onTick(now time.Time) {
	for _, s := range f.srcs {
		switch s.state {
		case draining:
			if f.completed == f.issued {
				s.state = idle
				s.sseq = s.stored
			}
		case idle:
			if !now.Before(s.retryAt) && !now.Before(s.lastReq.Add(minRequestGap)) {
				f.request(s, now)
			}
		case creating:
			if now.After(s.deadline) {
				f.fail(s, now, jsapi.ErrSourceConsumerSetupFailedF.With("err", "no answer from the origin's JetStream"))
			}
		case active:
			if now.Sub(s.lastRecv) > stallAfter {
				f.log.Warn("jetstream: source stalled, creating its consumer again", "stream", f.name, "source", s.cfg.Name, "seq", s.stored)
				f.restart(s, now)
			}
		}
	}
	if now.Sub(f.lastInfo) >= time.Second {
		f.lastInfo = now
		f.report(now)
	}
}

// request asks the origin for a consumer, when its API has interest here
// (the link is up and the hub's JetStream reachable): otherwise the
// source waits, and asks on the first tick after it has.
func (f *follower) request(s *source, now time.Time) {
	filters := s.filters()
	name := s.consumerName()
	subj := s.requestSubject(name, filters)
	if !f.r.HasInterest([]byte(subj)) {
		return
	}
	s.gen++
	s.dseq = 0
	s.cname = ""
	s.deliver = s.deliverSubject()
	gen := s.gen
	var err error
	if s.sub, err = subscribe(f.r, s.deliver, func(subj, reply, hdr, data []byte) {
		f.post(event{kind: evDeliver, src: s, gen: gen, subj: string(subj), reply: string(reply), hdr: clone(hdr), data: clone(data)})
	}); err != nil {
		f.fail(s, now, jsapi.ErrSourceConsumerSetupFailedF.WithErr(err))
		return
	}
	replyTo := "$JSC.R." + inbox.Token(12)
	if s.reply, err = subscribe(f.r, replyTo, func(_, _, hdr, data []byte) {
		f.post(event{kind: evAnswer, src: s, gen: gen, hdr: clone(hdr), data: clone(data)})
	}); err != nil {
		f.fail(s, now, jsapi.ErrSourceConsumerSetupFailedF.WithErr(err))
		return
	}
	s.state = creating
	s.lastReq = now
	s.deadline = now.Add(createTimeout)
	f.send(s, subj, replyTo, name, filters)
}

// send publishes the create (or reset) request at the source's level.
func (f *follower) send(s *source, subj, inbox, name string, filters []string) {
	level := s.level
	var body []byte
	if s.cfg.Consumer == nil {
		body = s.createRequest(f.name, f.account, f.rep.Domain(), filters, name, time.Time{})
	}
	f.r.Publish(&router.Publisher{}, []byte(subj), []byte(inbox), requestHeader(level, s.ident), body)
}

type createAnswer struct {
	Error *jsapi.Error `json:"error,omitempty"`
	Name  string       `json:"name"`
	Cfg   *struct {
		AckPolicy jsapi.AckPolicy `json:"ack_policy"`
	} `json:"config"`
}

// onAnswer takes the origin's answer to a create or reset.
func (f *follower) onAnswer(s *source, hdr, data []byte) {
	now := time.Now()
	var a createAnswer
	if err := json.Unmarshal(data, &a); err != nil || (a.Error == nil && a.Cfg == nil) {
		if isControl(hdr, nil) || len(proto.HeaderStatus(hdr)) > 0 {
			// 503 No Responders: the origin's API went away.
			f.fail(s, now, jsapi.ErrSourceConsumerSetupFailedF.With("err", "no responders"))
			return
		}
		f.fail(s, now, jsapi.ErrSourceConsumerSetupFailedF.With("err", "invalid consumer create response"))
		return
	}
	if e := a.Error; e != nil {
		switch {
		case e.ErrCode == jsapi.ErrConsumerStreamIdentityMismatchF.ErrCode:
			f.recreated(s, now)
		case (e.ErrCode == jsapi.ErrRequiredApiLevel.ErrCode || e.ErrCode == jsapi.ErrInvalidJSON.ErrCode) && s.level > 0:
			// An origin that does not serve this level: step down, as
			// nats-server's sources do (5, 4, then without).
			if s.level == 5 {
				s.level = 4
			} else {
				s.level = 0
			}
			f.releaseReply(s)
			s.state = idle
			s.retryAt = now
			s.lastReq = time.Time{}
		default:
			f.fail(s, now, e)
		}
		return
	}
	if s.cfg.Consumer != nil && a.Cfg.AckPolicy != jsapi.AckFlowControl {
		if s.mirror {
			f.fail(s, now, jsapi.ErrMirrorConsumerRequiresAckFC)
		} else {
			f.fail(s, now, jsapi.ErrSourceConsumerRequiresAckFC)
		}
		return
	}
	ident := string(proto.HeaderGet(hdr, hdrStreamIdentity))
	if ident != "" && s.ident != "" && ident != s.ident {
		f.recreated(s, now)
		return
	}
	if ident != "" && ident != s.ident {
		s.ident = ident
		if !s.mirror {
			f.rep.SetIdentity(s.iname, ident)
		}
	}
	f.releaseReply(s)
	s.state = active
	s.cname = a.Name
	s.lastRecv = now
	s.fails = 0
	s.err = nil
	// nats-server moves its source past the consumer's delivered stream
	// sequence here. Not leafgate: a durable sourcing consumer answers
	// with where it had delivered to before the create reset it to its
	// ack floor, and skipping to there would drop what was delivered but
	// never stored — and then acknowledge it (found by killing leafgate
	// mid-stream: the hub's work queue emptied, 100 messages short). The
	// first delivery says where the consumer really starts.
}

// recreated starts a source over from the origin's start: its stream was
// deleted and created again (nats-server #6206).
func (f *follower) recreated(s *source, now time.Time) {
	f.log.Warn("jetstream: origin stream was created again, sourcing it from its start", "stream", f.name, "source", s.cfg.Name)
	f.cancel(s)
	if !s.mirror {
		f.rep.ResetPosition(s.iname)
		s.stored, s.sseq = 0, 0
	}
	s.ident = ""
	s.state = idle
	s.retryAt = now
	s.lastReq = time.Time{}
}

// fail gives up on the request in flight and waits before the next.
func (f *follower) fail(s *source, now time.Time, e *jsapi.Error) {
	f.cancel(s)
	s.fails++
	s.err = e
	s.state = idle
	s.retryAt = now.Add(backoff(s.fails))
	f.log.Debug("jetstream: source consumer setup failed", "stream", f.name, "source", s.cfg.Name, "err", e.Error())
}

// restart drops the consumer and creates another from what was stored,
// once the stores in flight are done.
func (f *follower) restart(s *source, now time.Time) {
	f.cancel(s)
	s.epoch++
	s.state = draining
	s.retryAt = now
	if f.completed == f.issued {
		s.state = idle
		s.sseq = s.stored
	}
}

// cancel stops listening to the source's consumer.
func (f *follower) cancel(s *source) {
	s.gen++
	if s.sub != nil {
		s.sub.close()
		s.sub = nil
	}
	f.releaseReply(s)
}

func (f *follower) releaseReply(s *source) {
	if s.reply != nil {
		s.reply.close()
		s.reply = nil
	}
}

// --- deliveries

func (f *follower) onDeliver(s *source, ev *event) {
	now := time.Now()
	s.lastRecv = now
	if isControl(ev.hdr, ev.data) {
		if ev.reply != "" { // a flow-control request
			f.queueFC(s, ev.reply)
			return
		}
		// An idle heartbeat: did we miss anything?
		if last := headerUint(ev.hdr, hdrLastConsumer); last > 0 && last != s.dseq {
			f.restart(s, now)
			return
		}
		if st := proto.HeaderGet(ev.hdr, hdrConsumerStalled); len(st) > 0 {
			f.queueFC(s, string(st))
		}
		return
	}
	m, ok := parseAckReply(ev.reply)
	if !ok || m.dc > 1 {
		return
	}
	if m.sseq <= s.sseq {
		// Had it already; only the delivered count moves.
		if m.dseq == s.dseq+1 {
			s.dseq++
		}
		return
	}
	if m.dseq != s.dseq+1 {
		f.restart(s, now) // missed deliveries
		return
	}
	// In order. For a mirror, a higher origin sequence than the next
	// means the origin no longer has the ones between: they are skipped,
	// so the mirror's sequences stay the origin's.
	s.dseq, s.sseq = m.dseq, m.sseq
	s.lag = 0
	if m.pending > 0 {
		s.lag = m.pending - 1
	}
	rm := jetstream.ReplMsg{Source: s.iname, OriginSeq: m.sseq, Time: m.ts, Epoch: s.epoch, Data: ev.data}
	rm.Subject = s.transform(ev.subj)
	if s.mirror {
		rm.Header = ev.hdr
	} else {
		rm.Header = sourcedHeader(nil, ev.hdr, sourceHeader(s.iname, m.sseq, ev.subj, s.ident))
	}
	f.batch = append(f.batch, rm)
	f.upto[s] = m.sseq
}

// flush hands the messages taken from one round of events to the store.
func (f *follower) flush() {
	if len(f.batch) == 0 {
		return
	}
	f.issued++
	rec := &appendRec{n: f.issued, upto: f.upto}
	f.upto = map[*source]uint64{}
	batch := f.batch
	f.batch = nil
	f.rep.Append(batch, func(err error) {
		f.post(event{kind: evStored, rec: rec, err: err})
	})
}

func (f *follower) onStored(rec *appendRec, err error) {
	// Appends usually complete in order, but one refused at once (a full
	// or closed mailbox) can overtake one still committing: completed
	// moves over the contiguous prefix only, so a flow-control reply never
	// confirms what is not yet durable.
	if f.doneAhead == nil {
		f.doneAhead = map[uint64]bool{}
	}
	f.doneAhead[rec.n] = true
	for f.doneAhead[f.completed+1] {
		delete(f.doneAhead, f.completed+1)
		f.completed++
	}
	now := time.Now()
	for s, seq := range rec.upto {
		if err == nil {
			s.stored = max(s.stored, seq)
			continue
		}
		f.log.Warn("jetstream: source message not stored, creating its consumer again", "stream", f.name, "source", s.cfg.Name, "seq", s.stored, "err", err)
		s.err = jsapi.ErrSourceConsumerSetupFailedF.WithErr(err)
		if s.state == active || s.state == creating {
			f.restart(s, now)
		}
	}
	f.sendFC()
	for _, s := range f.srcs {
		if s.state == draining && f.completed == f.issued {
			s.state = idle
			s.sseq = s.stored
		}
	}
}

// queueFC answers a flow-control request (or a stalled heartbeat) once
// everything taken before it is durable: under the flow_control ack
// policy the answer acknowledges it, and the origin may delete it.
func (f *follower) queueFC(s *source, subject string) {
	f.flush()
	f.fcq = append(f.fcq, fcReply{src: s, gen: s.gen, subject: subject, hdr: fcReplyHeader(s.dseq, s.sseq), need: f.issued})
	f.sendFC()
}

func (f *follower) sendFC() {
	i := 0
	for ; i < len(f.fcq); i++ {
		fc := f.fcq[i]
		if fc.need > f.completed {
			break
		}
		if fc.gen != fc.src.gen || fc.src.state != active {
			continue // its consumer is gone; the new one starts afresh
		}
		f.r.Publish(&router.Publisher{}, []byte(fc.subject), nil, fc.hdr, nil)
	}
	f.fcq = append(f.fcq[:0], f.fcq[i:]...)
}

// report publishes the sources' status for STREAM.INFO.
func (f *follower) report(now time.Time) {
	var mirror *jsapi.StreamSourceInfo
	var sources []*jsapi.StreamSourceInfo
	for _, s := range f.srcs {
		if s.mirror {
			mirror = s.info(now)
		} else {
			sources = append(sources, s.info(now))
		}
	}
	f.rep.SetStatus(mirror, sources)
}

// --- router plumbing

// subscription is an internal subscription delivering to a func.
type subscription struct {
	r   *router.Router
	sub *router.Sub
}

type funcReceiver func(subj, reply, hdr, data []byte)

func (fn funcReceiver) Deliver(_ *router.Sub, subj, reply, hdr, data []byte) bool {
	fn(subj, reply, hdr, data)
	return false
}

func (funcReceiver) Flush() {}

func subscribe(r *router.Router, subj string, fn func(subj, reply, hdr, data []byte)) (*subscription, error) {
	sub := &router.Sub{Subject: subj, Receiver: funcReceiver(fn)}
	if err := r.Subscribe(sub); err != nil {
		return nil, err
	}
	return &subscription{r: r, sub: sub}, nil
}

func (s *subscription) close() { _ = s.r.Unsubscribe(s.sub) }

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
