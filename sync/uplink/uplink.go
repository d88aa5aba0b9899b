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
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/msgstore"
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
	// default 256.
	MaxInflight int
	// Rate caps catching up, in messages per second; 0 for no cap.
	Rate int
	// WorkQueue removes a local message once the hub acknowledged it.
	WorkQueue bool
	// AckWait is how long a sent message may go unacknowledged, with the
	// link up, before the uplink counts as stalled and resends; default
	// 10 s.
	AckWait time.Duration
	// Sessions counts the leafnode sessions established so far
	// (leafnode.Set.Sessions); when it changes, what was in flight is
	// resent at once instead of after AckWait. nil: AckWait only.
	Sessions func() uint64

	// carries is told the subjects the uplink carries once its stream is
	// open (Set reserves them).
	carries func(name string, subjects []string)
}

// Defaults.
const (
	DefaultMaxInflight = 256
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
	Oldest      time.Time             `json:"oldest_unsent,omitempty"`
	Lag         uint64                `json:"lag"`
	Sent        uint64                `json:"sent"`
	Acked       uint64                `json:"acked"`
	Duplicates  uint64                `json:"duplicates"`
	Resent      uint64                `json:"resent"`
	Stalls      uint64                `json:"stalls"`
	Errors      uint64                `json:"errors"`
	LastError   string                `json:"last_error,omitempty"`
	LastAck     time.Time             `json:"last_ack,omitempty"`
	Dropped     jetstream.OutboxDrops `json:"dropped"`
}

// Uplink forwards one stream. Its goroutine owns everything below mu.
type Uplink struct {
	cfg   Config
	js    *jetstream.Service
	r     *router.Router
	log   *slog.Logger
	inbox string

	mu     sync.Mutex
	acks   []ack
	status Status

	sig       chan struct{}
	quit      chan struct{}
	done      chan struct{}
	refresh   chan struct{}
	refreshed chan struct{}

	ob        *jetstream.Outbox
	confirmed uint64 // last sequence confirmed into the outbox
	next      uint64 // next sequence to read
	buf       []msgstore.Msg
	inflight  []*sent // in sequence order
	byseq     map[uint64]*sent
	ackedTo   uint64 // acknowledged prefix not yet confirmed into the outbox
	wqSeqs    []uint64
	linkUp    bool
	sessions  uint64
	tokens    float64
	lastFill  time.Time
	lastError string
}

type sent struct {
	seq   uint64
	at    time.Time
	acked bool
}

type ack struct {
	seq  uint64
	hdr  []byte
	data []byte
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
		inbox: "_INBOX.upl" + randToken(10) + ".",
		sig:   make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		refresh: make(chan struct{}), refreshed: make(chan struct{}),
		byseq: map[uint64]*sent{},
	}
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
	st, _ := u.ob.State()
	u.confirmed = st.Confirmed
	u.ackedTo = st.Confirmed
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

// fill sends what the window, the pace and the link allow.
func (u *Uplink) fill(now time.Time) {
	if u.cfg.Rate > 0 {
		if !u.lastFill.IsZero() {
			u.tokens = min(u.tokens+now.Sub(u.lastFill).Seconds()*float64(u.cfg.Rate), float64(u.cfg.Rate)/10+1)
		} else {
			u.tokens = 1
		}
		u.lastFill = now
	}
	for len(u.inflight) < u.cfg.MaxInflight {
		if u.cfg.Rate > 0 && u.tokens < 1 {
			return
		}
		// Nothing goes out on a new leafnode session before what was in
		// flight on the old one is resent: the hub would store it out of
		// order (checked before each send; a session cannot come up
		// between this and the publish, which would otherwise be
		// dropped with no session and resent like the others).
		u.checkSession()
		if len(u.buf) == 0 {
			msgs, err := u.ob.Read(u.next, readBatch)
			if err != nil {
				u.fail("read: " + err.Error())
				return
			}
			if len(msgs) == 0 {
				return
			}
			u.buf = msgs
		}
		m := &u.buf[0]
		subj := m.Subject
		if u.cfg.Transform != nil {
			if t, ok := u.cfg.Transform.Apply(subj); ok {
				subj = t
			}
		}
		if !u.r.HasRemoteInterest([]byte(subj)) {
			// The link is down, or no hub stream captures it yet.
			if u.linkUp {
				u.linkUp = false
				u.log.Warn("uplink waiting: no interest from the hub", "subject", subj, "next_seq", m.Seq)
			}
			return
		}
		if !u.linkUp {
			u.linkUp = true
			u.log.Info("uplink sending", "from_seq", m.Seq, "confirmed_seq", u.confirmed)
		}
		hdr := withMsgID(m.Header, u.cfg.Gateway+"."+u.cfg.Stream+"."+strconv.FormatUint(m.Seq, 10))
		reply := u.inbox + strconv.FormatUint(m.Seq, 10)
		u.r.Publish(&router.Publisher{Upstream: true}, []byte(subj), []byte(reply), hdr, m.Data)
		s := &sent{seq: m.Seq, at: now}
		u.inflight = append(u.inflight, s)
		u.byseq[m.Seq] = s
		u.next = m.Seq + 1
		u.buf = u.buf[1:]
		u.tokens--
		u.mu.Lock()
		u.status.Sent++
		u.mu.Unlock()
	}
}

// pubAck is the hub's answer to a JetStream publish.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func (u *Uplink) takeAcks() {
	u.mu.Lock()
	acks := u.acks
	u.acks = nil
	u.mu.Unlock()
	for _, a := range acks {
		u.onAck(a)
	}
}

func (u *Uplink) onAck(a ack) {
	s := u.byseq[a.seq]
	if s == nil || s.acked {
		return // from before a resend
	}
	if status := proto.HeaderStatus(a.hdr); len(status) > 0 && len(a.data) == 0 {
		// 503 No Responders: no hub stream captures the subject.
		u.fail("publish " + strconv.FormatUint(a.seq, 10) + ": status " + string(status))
		u.goBack("no stream answered")
		return
	}
	var pa pubAck
	if err := json.Unmarshal(a.data, &pa); err != nil {
		u.fail("bad publish acknowledgement: " + err.Error())
		return
	}
	if pa.Error != nil {
		u.fail(fmt.Sprintf("publish %d: %s (%d)", a.seq, pa.Error.Description, pa.Error.ErrCode))
		u.goBack("refused by the hub")
		return
	}
	s.acked = true
	u.mu.Lock()
	u.status.Acked++
	if pa.Duplicate {
		u.status.Duplicates++
	}
	u.status.LastAck = time.Now().UTC()
	u.mu.Unlock()
	// The acknowledged prefix.
	i := 0
	for ; i < len(u.inflight) && u.inflight[i].acked; i++ {
		seq := u.inflight[i].seq
		delete(u.byseq, seq)
		u.ackedTo = seq
		if u.cfg.WorkQueue {
			u.wqSeqs = append(u.wqSeqs, seq)
		}
	}
	u.inflight = append(u.inflight[:0], u.inflight[i:]...)
	if len(u.inflight) == 0 && len(u.buf) == 0 {
		// Everything read is acknowledged: whatever the filter skipped
		// up to the read position is confirmed too.
		u.ackedTo = max(u.ackedTo, u.next-1)
	}
}

// confirm records the acknowledged prefix in the outbox.
func (u *Uplink) confirm() {
	if u.ackedTo <= u.confirmed {
		return
	}
	if u.ob.Confirm(u.ackedTo, u.wqSeqs) {
		u.confirmed = u.ackedTo
		u.wqSeqs = u.wqSeqs[:0]
	}
}

// checkStall resends at once when a new leafnode session came up (what
// was in flight on the one before was lost with it), or when the oldest
// message in flight has waited too long with the link up (a lost message
// or acknowledgement).
func (u *Uplink) checkStall(now time.Time) {
	u.checkSession()
	if len(u.inflight) == 0 || !u.linkUp {
		return
	}
	if now.Sub(u.inflight[0].at) > u.cfg.AckWait {
		u.mu.Lock()
		u.status.Stalls++
		u.mu.Unlock()
		u.log.Warn("uplink stalled: no acknowledgement, resending", "seq", u.inflight[0].seq, "waited", now.Sub(u.inflight[0].at).Round(time.Millisecond))
		u.goBack("stalled")
	}
}

// checkSession resends what was in flight when a new leafnode session
// came up since it was sent.
func (u *Uplink) checkSession() {
	if u.cfg.Sessions == nil {
		return
	}
	if n := u.cfg.Sessions(); n != u.sessions {
		u.sessions = n
		u.goBack("new leafnode session")
	}
}

// goBack forgets what is in flight and resends from the first message
// not acknowledged (the hub deduplicates what it had).
func (u *Uplink) goBack(why string) {
	if len(u.inflight) == 0 {
		return
	}
	from := u.inflight[0].seq
	u.mu.Lock()
	u.status.Resent += uint64(len(u.inflight))
	u.mu.Unlock()
	u.log.Debug("uplink resending", "from_seq", from, "why", why)
	clear(u.byseq)
	u.inflight = u.inflight[:0]
	u.buf = nil
	u.next = from
}

func (u *Uplink) fail(msg string) {
	u.lastError = msg
	u.mu.Lock()
	u.status.Errors++
	u.status.LastError = msg
	u.mu.Unlock()
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
	s.Inflight = len(u.inflight)
	s.BacklogMsgs = st.BacklogMsgs
	s.Oldest = st.Oldest
	s.BacklogAge = 0
	if !st.Oldest.IsZero() {
		s.BacklogAge = now.Sub(st.Oldest).Round(time.Millisecond)
	}
	s.Lag = st.LastSeq - u.confirmed
	s.Dropped = st.Dropped
	switch {
	case len(u.inflight) > 0 && now.Sub(u.inflight[0].at) > u.cfg.AckWait:
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
	u := r.u
	i := len(subj) - 1
	for i >= 0 && subj[i] != '.' {
		i--
	}
	seq, err := strconv.ParseUint(string(subj[i+1:]), 10, 64)
	if err != nil {
		return false
	}
	u.mu.Lock()
	u.acks = append(u.acks, ack{seq: seq, hdr: append([]byte(nil), hdr...), data: append([]byte(nil), data...)})
	u.mu.Unlock()
	select {
	case u.sig <- struct{}{}:
	default:
	}
	return false
}

func (ackReceiver) Flush() {}

// withMsgID returns hdr with Nats-Msg-Id set to id (replacing one the
// publisher set: the hub must deduplicate by the uplink's).
func withMsgID(hdr []byte, id string) []byte {
	out := make([]byte, 0, len(hdr)+len(id)+32)
	out = append(out, "NATS/1.0\r\n"...)
	for line := range proto.HeaderLines(hdr) {
		if len(line) > 12 && string(line[:12]) == "Nats-Msg-Id:" {
			continue
		}
		out = append(out, line...)
		out = append(out, "\r\n"...)
	}
	out = append(out, "Nats-Msg-Id: "...)
	out = append(out, id...)
	return append(out, "\r\n\r\n"...)
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
