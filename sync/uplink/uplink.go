// Package uplink forwards a local stream into whatever hub stream captures
// its subjects, across the leafnode link, losing nothing leafgate
// acknowledged and duplicating nothing: every message goes up as a
// JetStream publish with Nats-Msg-Id "<gateway>.<stream>.<seq>" (the hub's
// stream deduplicates a resend), a bounded window of them in flight, and
// the last sequence the hub acknowledged is confirmed into the local
// stream's outbox, which commits with the stream. After an outage, a
// restart or a power cut the uplink resumes just after it. A fleet needs
// no per-gateway configuration at the hub: one stream capturing
// telemetry.> receives every gateway's uplink.
//
// The subjects an uplink carries are reserved in the router: ordinary
// publishes on them stay local, so the hub gets each message once, from
// the uplink, and never also as a core message over the link.
//
// Ordering: the hub receives an uplink's messages in local stream order,
// so per-subject order holds. Catching up after an outage is paced by
// Config.Rate; while it does, messages published since the link came
// back go up ahead of the backlog on subjects that have none (live
// traffic is not starved), and behind it on subjects that do (their order
// holds).
package uplink

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
)

// Config is one uplink.
type Config struct {
	// Name names the uplink (its outbox in the stream); default Stream.
	Name string
	// Stream is the local stream forwarded.
	Stream string
	// Filter selects the stream's subjects forwarded; default all.
	Filter string
	// Transform maps a local subject to the one published at the hub
	// (e.g. telemetry.> to telemetry.gw1.>); nil keeps it.
	Transform *subject.Transform
	// Gateway identifies this gateway in Nats-Msg-Id.
	Gateway string
	// MaxInflight bounds the messages sent and not yet acknowledged;
	// default 1024.
	MaxInflight int
	// Rate caps catching up, in messages per second; 0 for no cap.
	Rate int
	// WorkQueue removes a local message once the hub acknowledged it.
	WorkQueue bool
	// AckWait is how long the first unacknowledged message may hold the
	// uplink still, with the link up, before the uplink counts as stalled
	// and resends; default 10 s. It runs from when the message was sent
	// or, if later, from when the message before it was acknowledged: a
	// slow link that takes longer than AckWait to carry a window is
	// making progress, not stalled.
	AckWait time.Duration
	// Sessions counts the leafnode sessions established so far
	// (leafnode.Set.Sessions); when it changes, what was in flight is
	// resent at once instead of after AckWait. nil: AckWait only.
	Sessions func() uint64
	// FastBatch says whether the backlog goes up, while catching up, in
	// nats-server 2.14 fast batches (batch.go; the hub stream needs
	// allow_batched). Off, or refused by the hub, every message is its
	// own publish.
	FastBatch BatchMode
	// Probe (leafnode.Set.Probe) asks the links for a round trip behind
	// what they have queued. A stalled uplink resends only once its probe
	// came back and the acknowledgement still did not (after ackGrace): a
	// link slow to carry what is ahead of the acknowledgements (a large
	// catch-up the other way) is not a lost message. nil: resend at once.
	Probe func() (answered func() bool)

	// carries is told the subjects the uplink carries once its stream is
	// open (Set reserves them).
	carries func(name string, subjects []string)
}

// Defaults.
const (
	DefaultMaxInflight = 1024
	DefaultAckWait     = 10 * time.Second
	tick               = 100 * time.Millisecond
	readBatch          = 256
)

// Status is an uplink's state, for /uplinkz and logs.
type Status struct {
	Name      string `json:"name"`
	Stream    string `json:"stream"`
	Filter    string `json:"filter,omitempty"`
	State     string `json:"state"` // "waiting for stream", "link down", "sending", "idle", "stalled"
	Confirmed uint64 `json:"confirmed_seq"`
	// Next is the next stream sequence to send.
	Next     uint64 `json:"next_seq"`
	Inflight int    `json:"inflight"`
	// Backlog is what is not confirmed yet; Lag the same in sequences.
	BacklogMsgs uint64                `json:"backlog_msgs"`
	BacklogAge  time.Duration         `json:"backlog_age"`
	Oldest      time.Time             `json:"oldest_unsent,omitzero"`
	Lag         uint64                `json:"lag"`
	Sent        uint64                `json:"sent"`
	Acked       uint64                `json:"acked"`
	Duplicates  uint64                `json:"duplicates"`
	Resent      uint64                `json:"resent"`
	Stalls      uint64                `json:"stalls"`
	Batches     uint64                `json:"batches"` // fast batches committed
	Errors      uint64                `json:"errors"`
	LastError   string                `json:"last_error,omitempty"`
	LastAck     time.Time             `json:"last_ack,omitzero"`
	Dropped     jetstream.OutboxDrops `json:"dropped"`
}

// Uplink forwards one stream. Its goroutine owns everything below mu.
type Uplink struct {
	cfg   Config
	js    *jetstream.Service
	r     *router.Router
	log   *slog.Logger
	inbox string
	// bprefix is where its fast batches' answers go: inbox + "b.".
	bprefix string

	mu     sync.Mutex
	acks   []ack
	spare  []ack // the uplink goroutine's: the list before, reused
	status Status

	sig       chan struct{}
	quit      chan struct{}
	done      chan struct{}
	refresh   chan struct{}
	refreshed chan struct{}

	ob        *jetstream.Outbox
	confirmed uint64 // last sequence confirmed into the outbox
	lanes            // what is sent, in flight and acknowledged (lanes.go)
	linkUp    bool
	sessions  uint64
	// The first unacknowledged sequence, and when it became the first.
	headSeq   uint64
	headSince time.Time
	// The open fast batch, and whether the hub refused batches.
	batch      *batch
	batchOff   bool      // the hub refused batches: single publishes
	batchRetry time.Time // until this catch-up start
	batchWhy   string    // the last refusal logged
	// Reused for each publish (send).
	pub                              router.Publisher
	subjBuf, idBuf, hdrBuf, replyBuf []byte
	// The probe a stall sent (Config.Probe), for which head, and when it
	// was found answered.
	probe      func() bool
	probeSeq   uint64
	probeSince time.Time
	tokens     float64
	lastFill   time.Time
}

// ack is an answer to publish seq: read by the fast parser (parsed,
// dup), or kept whole for slowAck.
type ack struct {
	seq    uint64
	parsed bool
	dup    bool
	hdr    []byte
	data   []byte
	// batch is set for a fast batch's answer (batch.go): rare, so the
	// per-message acks carry only a pointer.
	batch *batchAnswer
}

// Start runs an uplink until Close.
func Start(cfg Config, js *jetstream.Service, r *router.Router, log *slog.Logger) *Uplink {
	if cfg.Name == "" {
		cfg.Name = cfg.Stream
	}
	if cfg.Filter == "" {
		cfg.Filter = ">"
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{
		cfg: cfg, js: js, r: r, log: log.With("uplink", cfg.Name, "stream", cfg.Stream),
		inbox: "_INBOX.upl" + inbox.Token(10) + ".",
		sig:   make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		refresh: make(chan struct{}), refreshed: make(chan struct{}),
		pub: router.Publisher{Upstream: true},
	}
	u.bprefix = u.inbox + "b."
	u.lanes.init()
	u.status = Status{Name: cfg.Name, Stream: cfg.Stream, Filter: cfg.Filter, State: "waiting for stream"}
	go u.run()
	return u
}

// Close stops the uplink; what it confirmed stays confirmed.
func (u *Uplink) Close() {
	select {
	case <-u.quit:
	default:
		close(u.quit)
	}
	<-u.done
}

// Status reports the uplink's state.
func (u *Uplink) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status
}

func (u *Uplink) run() {
	defer close(u.done)
	// What it carries is reserved from the start when the filter says
	// so; otherwise once the stream exists (its subjects).
	if u.cfg.carries != nil && u.cfg.Filter != ">" {
		u.cfg.carries(u.cfg.Name, []string{u.cfg.Filter})
		defer u.cfg.carries(u.cfg.Name, nil)
	}
	// Wait for the stream.
	for u.ob == nil {
		ob, err := u.js.OpenOutbox(u.cfg.Stream, u.cfg.Name, u.cfg.Filter, u.cfg.WorkQueue)
		if err == nil {
			u.ob = ob
			break
		}
		select {
		case <-u.quit:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer u.ob.Close()
	if u.cfg.carries != nil && u.cfg.Filter == ">" {
		u.cfg.carries(u.cfg.Name, u.ob.Subjects())
		defer u.cfg.carries(u.cfg.Name, nil)
	}
	if u.cfg.Sessions != nil {
		u.sessions = u.cfg.Sessions()
	}
	sub := &router.Sub{Subject: u.inbox + "*", Receiver: ackReceiver{u}}
	if err := u.r.Subscribe(sub); err != nil {
		u.log.Error("uplink: subscribe acks", "err", err)
		return
	}
	defer func() { _ = u.r.Unsubscribe(sub) }()
	if u.cfg.FastBatch != BatchOff {
		bsub := &router.Sub{Subject: u.bprefix + ">", Receiver: ackReceiver{u}}
		if err := u.r.Subscribe(bsub); err != nil {
			u.log.Error("uplink: subscribe batch answers", "err", err)
			return
		}
		defer func() { _ = u.r.Unsubscribe(bsub) }()
	}
	st, _ := u.ob.State()
	u.confirmed = st.Confirmed
	u.next = st.Confirmed + 1
	u.log.Info("uplink started", "confirmed_seq", u.confirmed, "backlog_msgs", st.BacklogMsgs)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastStatus := time.Time{}
	for {
		select {
		case <-u.quit:
			u.confirm()
			return
		case <-u.ob.Done():
			u.log.Warn("uplink: stream stopped")
			return
		case <-u.sig:
			u.takeAcks()
			u.settle(time.Now())
		case <-u.ob.Notify():
		case <-u.refresh:
			u.confirm()
			u.updateStatus(time.Now())
			u.refreshed <- struct{}{}
		case now := <-t.C:
			u.checkStall(now)
			u.confirm()
			if now.Sub(lastStatus) >= time.Second {
				lastStatus = now
				u.updateStatus(now)
			}
		}
		u.fill(time.Now())
	}
}

func (u *Uplink) takeAcks() {
	u.mu.Lock()
	acks := u.acks
	u.acks = u.spare[:0]
	u.mu.Unlock()
	for _, a := range acks {
		if a.batch != nil {
			u.onBatchAnswer(a)
		} else {
			u.onAck(a)
		}
	}
	clear(acks) // the kept answers' bytes
	u.spare = acks[:0]
}

func (u *Uplink) fail(msg string) {
	u.mu.Lock()
	u.status.Errors++
	u.status.LastError = msg
	u.mu.Unlock()
}

// stalled reports whether the first unacknowledged message has held the
// uplink still for longer than AckWait (see Config.AckWait), and which.
func (u *Uplink) stalled(now time.Time) (seq uint64, waited time.Duration, ok bool) {
	head := u.firstUnacked()
	if head != u.headSeq {
		u.headSeq, u.headSince = head, now
	}
	at, _ := u.oldestSend()
	if at.IsZero() {
		return 0, 0, false
	}
	if u.headSince.After(at) {
		at = u.headSince
	}
	waited = now.Sub(at)
	return head, waited, waited > u.cfg.AckWait
}

// updateStatusNow refreshes Status from the uplink's goroutine.
func (u *Uplink) updateStatusNow() {
	select {
	case u.refresh <- struct{}{}:
		<-u.refreshed
	case <-u.done:
	}
}

func (u *Uplink) updateStatus(now time.Time) {
	st, ok := u.ob.State()
	if !ok {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := &u.status
	s.Confirmed = u.confirmed
	s.Next = u.next
	s.Inflight = u.unacked()
	s.BacklogMsgs = st.BacklogMsgs
	s.Oldest = st.Oldest
	s.BacklogAge = 0
	if !st.Oldest.IsZero() {
		s.BacklogAge = now.Sub(st.Oldest).Round(time.Millisecond)
	}
	s.Lag = st.LastSeq - u.confirmed
	s.Dropped = st.Dropped
	_, _, stalled := u.stalled(now)
	switch {
	case stalled:
		s.State = "stalled"
	case !u.linkUp && st.BacklogMsgs > 0:
		s.State = "link down"
	case st.BacklogMsgs > 0:
		s.State = "sending"
	default:
		s.State = "idle"
	}
}

// ackReceiver takes the hub's acknowledgements to the uplink's goroutine.
type ackReceiver struct{ u *Uplink }

func (r ackReceiver) Deliver(_ *router.Sub, subj, _, hdr, data []byte) bool {
	if a, ok := parseBatchAnswer(subj, hdr, data); ok {
		r.u.postAck(a)
		return false
	}
	i := len(subj) - 1
	for i >= 0 && subj[i] != '.' {
		i--
	}
	seq, err := strconv.ParseUint(string(subj[i+1:]), 10, 64)
	if err != nil {
		return false
	}
	// The common answer is read here, on the link's goroutine, so it needs
	// no copy; anything else is kept for the uplink's goroutine.
	a := ack{seq: seq}
	var pa pubAck
	if len(hdr) == 0 && parsePubAck(data, &pa) {
		a.parsed, a.dup = true, pa.Duplicate
	} else {
		a.hdr, a.data = append([]byte(nil), hdr...), append([]byte(nil), data...)
	}
	r.u.postAck(a)
	return false
}

// postAck hands an answer to the uplink's goroutine.
func (u *Uplink) postAck(a ack) {
	u.mu.Lock()
	u.acks = append(u.acks, a)
	u.mu.Unlock()
	select {
	case u.sig <- struct{}{}:
	default:
	}
}

func (ackReceiver) Flush() {}

// appendMsgID appends hdr to dst with Nats-Msg-Id set to id (replacing one
// the publisher set: the hub must deduplicate by the uplink's).
func appendMsgID(dst, hdr, id []byte) []byte {
	dst = append(dst, "NATS/1.0\r\n"...)
	for line := range proto.HeaderLines(hdr) {
		if len(line) > 12 && string(line[:12]) == "Nats-Msg-Id:" {
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Nats-Msg-Id: "...)
	dst = append(dst, id...)
	return append(dst, "\r\n\r\n"...)
}
