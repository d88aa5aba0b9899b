package jetstream

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// Defaults nats-server applies to consumers.
const (
	defaultAckWait       = 30 * time.Second
	defaultMaxAckPending = 1000
	defaultMaxWaiting    = 512
	defaultEphemeralIdle = 5 * time.Second
	// Flow control as nats-server's: a window of delivered bytes not yet
	// confirmed that starts at fcMaxPending/16 and doubles with each reply
	// up to fcMaxPending. A request goes out past half the window, and
	// delivery waits past all of it.
	fcMaxPending = 32 << 20
	// sourceHeartbeat is the idle heartbeat of the consumers a sourcing
	// stream creates, the only one the flow_control ack policy allows.
	sourceHeartbeat         = time.Second
	consumerStateVersion    = 2
	maxRedeliveryScanPeriod = time.Second
)

// consumer is one consumer of a stream, owned by the stream's goroutine.
type consumer struct {
	ms      *stream
	name    string
	cfg     jsapi.ConsumerConfig
	created time.Time
	filters []string
	subs    []*router.Sub // its MSG.NEXT subjects
	watched string        // deliver subject registered with watchPush

	// Delivery state.
	dseq      uint64 // last consumer sequence handed out
	sseq      uint64 // cursor: new messages are those after it
	lastS     uint64 // stream sequence of the last delivery, as info reports
	floorC    uint64 // ack floor, consumer sequence
	floorS    uint64 // ack floor, stream sequence
	pending   map[uint64]*pendingMsg
	rdq       []uint64 // stream sequences due for redelivery, in order
	rdc       map[uint64]uint64
	lastSeqs  []uint64 // deliver last_per_subject: initial sequences left
	numPend   uint64   // messages after sseq matching the filter
	pendKnown bool
	lastDel   time.Time
	floorLast time.Time // last ack, reported as ack_floor.last_active

	waiting []*pullRequest // in serving order (see addWaiting, served)
	ahead   []msgstore.Msg // read ahead of sseq, in order

	// Pinned-client priority group state (priority.go).
	pinID      string    // the current pin, "" when none
	pinGroup   string    // the group it was given for
	pinnedTS   time.Time // when it was given
	pinExpires time.Time // priority_timeout: when it goes unless renewed

	// Push delivery.
	active     bool
	fcReply    string // outstanding flow-control request, "" when none
	fcN        uint64 // flow-control requests sent, to make each reply subject unique
	pbytes     int    // bytes delivered and not yet confirmed by a flow-control reply
	maxpb      int    // the window: delivery waits while pbytes is above it
	fcsz       int    // the bytes the outstanding request confirms
	lastHB     time.Time
	lastActive time.Time // pull request or push interest, for inactive_threshold
	pauseUntil time.Time
	rlNext     time.Time // rate_limit_bps: when the next delivery may go
	replayMsg  int64     // replay original: the last delivered message's time
	replayWall time.Time // and when it was delivered
	dirty      bool
	needKick   bool     // acks made room: deliver after the current batch
	syncAcks   []string // ack-sync replies to answer once the state is durable
	deleted    bool
}

type pendingMsg struct {
	cseq uint64
	ts   int64 // last delivery, unix nanoseconds
}

type pullRequest struct {
	reply    string
	n        int // messages still wanted
	maxBytes int // bytes still allowed, 0: no limit
	limitB   bool
	noWait   bool
	expires  time.Time
	hb       time.Duration
	lastHB   time.Time
	sent     int
	pg       jsapi.PriorityGroup // a JSON request's priority group fields
	hasPG    bool                // the request was JSON (a bare batch size has none)
}

func (c *consumer) isPull() bool { return c.cfg.DeliverSubject == "" }

// watch registers a push consumer's deliver subject for interest wake-ups
// (again after an update changed it).
func (c *consumer) watch() {
	if c.watched == c.cfg.DeliverSubject {
		return
	}
	if c.watched != "" {
		c.ms.svc.unwatchPush(c.watched, c.ms)
	}
	c.watched = c.cfg.DeliverSubject
	if c.watched != "" {
		c.ms.svc.watchPush(c.watched, c.ms)
	}
}
func (c *consumer) ackNone() bool   { return c.cfg.AckPolicy == jsapi.AckNone }
func (c *consumer) ephemeral() bool { return c.cfg.Durable == "" }

func (c *consumer) matches(subj string) bool {
	if len(c.filters) == 0 {
		return true
	}
	for _, f := range c.filters {
		if subject.Matches(f, subj) {
			return true
		}
	}
	return false
}

// setStart positions a new consumer by its deliver policy.
func (c *consumer) setStart() {
	ms := c.ms
	st := ms.store.State()
	switch c.cfg.DeliverPolicy {
	case jsapi.DeliverAll, "":
		c.sseq = st.FirstSeq - 1
	case jsapi.DeliverLast:
		c.sseq = st.LastSeq
		if st.LastSeq > 0 {
			last := uint64(0)
			for _, f := range c.filterList() {
				for _, seq := range ms.store.LastSeqs(f, 0) {
					last = max(last, seq)
				}
			}
			if last > 0 {
				c.sseq = last - 1
			}
		}
	case jsapi.DeliverNew:
		c.sseq = st.LastSeq
	case jsapi.DeliverByStartSeq:
		c.sseq = max(c.cfg.OptStartSeq, 1) - 1
	case jsapi.DeliverByStartTime:
		c.sseq = st.LastSeq
		if t := c.cfg.OptStartTime; t != nil {
			c.sseq = ms.seqAtTime(t.UnixNano()) - 1
		}
	case jsapi.DeliverLastPerSubject:
		var seqs []uint64
		for _, f := range c.filterList() {
			seqs = append(seqs, ms.store.LastSeqs(f, 0)...)
		}
		slices.Sort(seqs)
		c.lastSeqs = slices.Compact(seqs)
		c.sseq = st.LastSeq
	}
	c.lastS = c.sseq
	if len(c.lastSeqs) > 0 {
		c.lastS = c.lastSeqs[0] - 1
	}
	c.floorS = c.lastS
}

func (c *consumer) filterList() []string {
	if len(c.filters) == 0 {
		return []string{">"}
	}
	return c.filters
}

// pendingCount is num_pending: matching messages not yet delivered.
func (c *consumer) pendingCount() uint64 {
	if !c.pendKnown {
		var n uint64
		for _, f := range c.filterList() {
			n += c.ms.store.Count(f, c.sseq+1)
		}
		c.numPend = n
		c.pendKnown = true
	}
	return c.numPend + uint64(len(c.lastSeqs))
}

// onStored is told about newly durable messages.
func (c *consumer) onStored(msgs []msgstore.Msg) {
	if c.pendKnown {
		for i := range msgs {
			if msgs[i].Seq > c.sseq && c.matches(msgs[i].Subject) {
				c.numPend++
			}
		}
	}
	c.kick()
}

// termUnackedDeleted is the terminated advisory's reason for a delivered
// message removed from the stream before it was acknowledged.
const termUnackedDeleted = "Unacknowledged message was deleted"

// onRemoved is told about a message removed from the stream.
func (c *consumer) onRemoved(m msgstore.Msg) {
	for i := range c.ahead {
		if c.ahead[i].Seq == m.Seq {
			c.ahead = append(c.ahead[:i:i], c.ahead[i+1:]...)
			break
		}
	}
	if c.pendKnown && m.Seq > c.sseq && c.matches(m.Subject) && c.numPend > 0 {
		c.numPend--
	}
	if p, ok := c.pending[m.Seq]; ok {
		// Given up as a terminated delivery, as nats-server's
		// decStreamPending; its delivery count is the redelivery count
		// (at least 1), as nats-server reports it.
		ai := ackInfo{sseq: m.Seq, cseq: p.cseq, delivered: max(c.rdc[m.Seq], 1)}
		c.adviseDelivery(jsapi.AdvisoryMsgTerminated, jsapi.TypeTerminated, ai, termUnackedDeleted)
		delete(c.pending, m.Seq)
		delete(c.rdc, m.Seq)
		c.updateFloor()
		c.dirty = true
	}
}

// kick tries to deliver whatever can be delivered now.
func (c *consumer) kick() {
	if c.deleted {
		return
	}
	if !c.pauseUntil.IsZero() {
		if c.ms.svc.now().Before(c.pauseUntil) {
			c.ms.armWake(c.pauseUntil)
			return
		}
		c.advisePause(c.pauseUntil.UTC()) // the pause ended
		c.pauseUntil = time.Time{}
	}
	if c.isPull() {
		c.deliverPull()
	} else {
		c.deliverPush()
	}
}

func (c *consumer) maxAckPending() int {
	if c.ackNone() {
		return -1
	}
	if c.cfg.MaxAckPending <= 0 {
		return -1
	}
	return c.cfg.MaxAckPending
}

func (c *consumer) blockedOnAcks() bool {
	m := c.maxAckPending()
	return m > 0 && len(c.pending) >= m
}

// Kinds of delivery next returns.
const (
	deliverNew     = iota // the next message after the cursor
	deliverRedo           // a redelivery
	deliverLastPer        // one of the initial last-per-subject messages
)

// next returns the next message to deliver: a due redelivery first, then
// the initial last-per-subject messages, then the next new one. ok is
// false when there is none.
func (c *consumer) next() (m msgstore.Msg, kind int, ok bool) {
	for len(c.rdq) > 0 {
		seq := c.rdq[0]
		c.rdq = c.rdq[1:]
		if _, still := c.pending[seq]; !still {
			continue
		}
		if !c.canRedeliver(seq) {
			c.giveUp(seq)
			c.updateFloor()
			continue
		}
		m, err := c.ms.store.Load(seq)
		if err != nil {
			delete(c.pending, seq)
			delete(c.rdc, seq)
			c.updateFloor()
			continue
		}
		return m, deliverRedo, true
	}
	if c.blockedOnAcks() {
		return m, deliverNew, false
	}
	for len(c.lastSeqs) > 0 {
		seq := c.lastSeqs[0]
		c.lastSeqs = c.lastSeqs[1:]
		if m, err := c.ms.store.Load(seq); err == nil {
			return m, deliverLastPer, true
		}
	}
	if len(c.filters) <= 1 {
		return c.nextAhead()
	}
	best := msgstore.Msg{}
	found := false
	for _, f := range c.filterList() {
		m, err := c.ms.store.LoadNext(f, c.sseq+1)
		if err == nil && (!found || m.Seq < best.Seq) {
			best, found = m, true
		}
	}
	return best, deliverNew, found
}

// readAhead is how many messages one store read fetches for delivery.
const readAhead = 256

// nextAhead returns the next new message from the read-ahead buffer,
// refilling it from the store in one read when it runs dry.
func (c *consumer) nextAhead() (msgstore.Msg, int, bool) {
	for len(c.ahead) > 0 && c.ahead[0].Seq <= c.sseq {
		c.ahead = c.ahead[1:]
	}
	if len(c.ahead) == 0 {
		filter := ">"
		if len(c.filters) == 1 {
			filter = c.filters[0]
		}
		batch, err := c.ms.store.LoadBatch(filter, c.sseq+1, readAhead)
		if err != nil || len(batch) == 0 {
			c.ahead = nil
			return msgstore.Msg{}, deliverNew, false
		}
		c.ahead = batch
	}
	m := c.ahead[0]
	c.ahead = c.ahead[1:]
	return m, deliverNew, true
}

// unread puts back a message next returned but that was not delivered.
func (c *consumer) unread(m msgstore.Msg, kind int) {
	switch kind {
	case deliverRedo:
		c.rdq = append([]uint64{m.Seq}, c.rdq...)
	case deliverLastPer:
		c.lastSeqs = append([]uint64{m.Seq}, c.lastSeqs...)
	default:
		c.ahead = append([]msgstore.Msg{m}, c.ahead...)
	}
}

// replayHold reports whether replay_policy original makes m wait, and
// arms the timer for when it may go: messages keep their original spacing.
func (c *consumer) replayHold(m *msgstore.Msg) bool {
	if c.cfg.ReplayPolicy != jsapi.ReplayOriginal || c.replayMsg == 0 {
		return false
	}
	due := c.replayWall.Add(time.Duration(m.Time - c.replayMsg))
	if due.After(c.ms.svc.now()) {
		c.ms.armWake(due)
		return true
	}
	return false
}

// record notes a delivery and returns its ack reply subject.
func (c *consumer) record(m *msgstore.Msg, kind int) string {
	ts := c.ms.svc.now()
	c.dseq++
	dc := uint64(1)
	switch kind {
	case deliverRedo:
		c.rdc[m.Seq]++
		dc = c.rdc[m.Seq] + 1
	case deliverNew:
		c.sseq = m.Seq
		if c.pendKnown && c.numPend > 0 {
			c.numPend--
		}
		c.lastS = m.Seq
	case deliverLastPer:
		c.lastS = m.Seq
	}
	if c.ackNone() {
		c.floorC, c.floorS = c.dseq, c.lastS
	} else {
		// A redelivery keeps the first delivery's consumer sequence, as
		// nats-server's pending records do: the ack floor moves by it.
		p := c.pending[m.Seq]
		if p == nil {
			p = &pendingMsg{cseq: c.dseq}
			c.pending[m.Seq] = p
		}
		p.ts = ts.UnixNano()
		c.ms.armWake(ts.Add(c.ackWait(dc)))
	}
	c.lastDel = ts
	c.replayMsg, c.replayWall = m.Time, ts
	c.dirty = true
	return c.ackReply(dc, m.Seq, c.dseq, m.Time, c.pendingCount())
}

// ackReply is the $JS.ACK reply subject carrying a delivery's metadata.
func (c *consumer) ackReply(dc, sseq, dseq uint64, ts int64, pending uint64) string {
	var b strings.Builder
	b.Grow(48 + len(c.ms.name) + len(c.name))
	b.WriteString("$JS.ACK.")
	b.WriteString(c.ms.name)
	b.WriteByte('.')
	b.WriteString(c.name)
	for _, n := range []uint64{dc, sseq, dseq, uint64(ts), pending} {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(n, 10))
	}
	return b.String()
}

func (c *consumer) ackWait(deliveries uint64) time.Duration {
	if n := len(c.cfg.BackOff); n > 0 {
		i := int(deliveries) - 1
		if i >= n {
			i = n - 1
		}
		if i < 0 {
			i = 0
		}
		return c.cfg.BackOff[i]
	}
	if c.cfg.AckWait > 0 {
		return c.cfg.AckWait
	}
	return defaultAckWait
}

// deliveryHeader is the header block delivered with m.
func (c *consumer) deliveryHeader(m *msgstore.Msg) []byte {
	if !c.cfg.HeadersOnly {
		return m.Header
	}
	return appendHeaderLine(nil, m.Header, "Nats-Msg-Size", strconv.Itoa(len(m.Data)))
}

func (c *consumer) deliveryData(m *msgstore.Msg) []byte {
	if c.cfg.HeadersOnly {
		return nil
	}
	return m.Data
}

// --- push

func (c *consumer) deliverPush() {
	c.active = c.ms.svc.r.HasInterest([]byte(c.cfg.DeliverSubject))
	if !c.active {
		return
	}
	c.lastActive = c.ms.svc.now()
	if c.cfg.FlowControl && c.maxpb == 0 {
		c.maxpb = fcMaxPending / 16
	}
	for !c.cfg.FlowControl || c.pbytes <= c.maxpb {
		if c.cfg.RateLimit > 0 {
			if t := c.ms.svc.now(); c.rlNext.After(t) {
				c.ms.armWake(c.rlNext)
				return
			}
		}
		m, kind, ok := c.next()
		if !ok {
			return
		}
		if c.replayHold(&m) {
			c.unread(m, kind)
			return
		}
		if rl := c.cfg.RateLimit; rl > 0 {
			// Space deliveries so the payload rate stays under the limit.
			bits := uint64(len(m.Subject)+len(m.Header)+len(m.Data)) * 8
			start := c.ms.svc.now()
			if c.rlNext.After(start) {
				start = c.rlNext
			}
			c.rlNext = start.Add(time.Duration(bits * uint64(time.Second) / rl))
		}
		// The reply carries the metadata clients read (ordered
		// consumers detect gaps with it), whatever the ack policy.
		reply := c.record(&m, kind)
		c.ms.svc.deliver(c.cfg.DeliverSubject, m.Subject, reply, c.deliveryHeader(&m), c.deliveryData(&m))
		c.lastHB = c.ms.svc.now()
		if c.cfg.FlowControl {
			sz := len(c.cfg.DeliverSubject) + len(reply) + len(m.Header) + len(m.Data)
			c.pbytes += sz
			if c.needFlowControl(sz) {
				c.sendFlowControl()
			}
		}
	}
}

// needFlowControl is nats-server's: a request when more than half the
// window is unconfirmed, or when a flow_control-acked consumer reached
// max_ack_pending (only a reply can ack, so it would wait for ever). While
// one is outstanding, bytes beyond a window past it are added to what it
// confirms.
func (c *consumer) needFlowControl(sz int) bool {
	if c.fcReply == "" {
		if c.pbytes > c.maxpb/2 {
			return true
		}
		return c.cfg.AckPolicy == jsapi.AckFlowControl && c.blockedOnAcks()
	}
	if c.pbytes-c.fcsz >= c.maxpb {
		c.fcsz += sz
	}
	return false
}

func (c *consumer) sendFlowControl() {
	c.fcN++
	c.fcReply = "$JS.FC." + c.ms.name + "." + c.name + "." + strconv.FormatUint(c.fcN, 36)
	c.fcsz = c.pbytes
	c.ms.svc.publish(c.cfg.DeliverSubject, c.fcReply, proto.AppendStatusHeader(nil, 100, "FlowControl Request"), nil)
}

// onFlowControl takes the reply to the outstanding flow-control request
// (any other is stale): the window grows, the bytes it confirms leave
// it, and under the flow_control ack policy it acknowledges everything up
// to the stream sequence it names (Nats-Last-Stream) — the source stored
// those.
func (c *consumer) onFlowControl(subj string, hdr []byte) {
	if subj != c.fcReply {
		return
	}
	c.maxpb = min(c.maxpb*2, fcMaxPending)
	c.pbytes = max(c.pbytes-c.fcsz, 0)
	c.fcReply, c.fcsz = "", 0
	if c.cfg.AckPolicy == jsapi.AckFlowControl {
		if lsseq, err := strconv.ParseUint(string(proto.HeaderGet(hdr, "Nats-Last-Stream")), 10, 64); err == nil && lsseq > 0 {
			c.ack(lsseq, 0)
			c.dirty = true
		}
	}
	c.needKick = true
}

func (c *consumer) sendHeartbeat(to string) {
	hdr := proto.AppendStatusLine(make([]byte, 0, 96+len(c.fcReply)), 100, "Idle Heartbeat")
	hdr = append(hdr, "Nats-Last-Consumer: "...)
	hdr = strconv.AppendUint(hdr, c.dseq, 10)
	hdr = append(hdr, "\r\nNats-Last-Stream: "...)
	hdr = strconv.AppendUint(hdr, c.lastS, 10)
	hdr = append(hdr, "\r\n"...)
	if c.fcReply != "" {
		hdr = append(hdr, "Nats-Consumer-Stalled: "...)
		hdr = append(hdr, c.fcReply...)
		hdr = append(hdr, "\r\n"...)
	}
	hdr = append(hdr, "\r\n"...)
	c.ms.svc.publish(to, "", hdr, nil)
}

// --- pull

func (c *consumer) deliverPull() {
	for len(c.waiting) > 0 {
		wr := c.waiting[0]
		if !c.ms.svc.r.HasInterest([]byte(wr.reply)) {
			c.waiting = c.waiting[1:]
			continue
		}
		m, kind, ok := c.next()
		if !ok {
			// Out of messages (not merely held back by max_ack_pending):
			// no_wait requests are done.
			if !c.blockedOnAcks() {
				c.endNoWait()
			}
			return
		}
		if c.replayHold(&m) {
			c.unread(m, kind)
			return
		}
		hdr, data := c.deliveryHeader(&m), c.deliveryData(&m)
		// Counted as nats-server counts it: subject, ack reply (with the
		// delivery count and pending count it will carry), and header
		// and payload as delivered (headers_only: the Nats-Msg-Size
		// header and no payload), before any Nats-Pin-Id header.
		dc, pend := c.nextDelivery(&m, kind)
		size := len(m.Subject) + c.ackReplyLen(dc, m.Seq, c.dseq+1, m.Time, pend) + len(hdr) + len(data)
		wr = c.nextWaiting(size, pend)
		if wr == nil {
			// No waiting request may take it (pinned to another
			// client, under the overflow thresholds).
			c.unread(m, kind)
			c.endNoWait()
			return
		}
		reply := c.record(&m, kind)
		if c.cfg.PriorityPolicy == jsapi.PriorityPinnedClient {
			hdr = appendHeaderLine(nil, hdr, pinIDHeader, c.pinID)
		}
		c.ms.svc.deliver(wr.reply, m.Subject, reply, hdr, data)
		wr.n--
		wr.sent++
		wr.lastHB = c.ms.svc.now()
		c.served(wr)
		if wr.n <= 0 && wr.limitB && wr.maxBytes > 0 {
			// The batch is complete with bytes to spare: nats-server
			// says so, with the pending counts.
			c.ms.svc.publish(wr.reply, "", pullStatus(409, "Batch Completed", wr, true), nil)
		}
	}
}

// nextDelivery returns the delivery count and the pending count the ack
// reply of m will carry once record delivers it.
func (c *consumer) nextDelivery(m *msgstore.Msg, kind int) (dc, pend uint64) {
	pend = c.pendingCount()
	switch kind {
	case deliverRedo:
		return c.rdc[m.Seq] + 2, pend
	case deliverNew:
		if c.numPend > 0 {
			pend--
		}
	}
	return 1, pend
}

// ackReplyLen is len(c.ackReply(...)) without building it.
func (c *consumer) ackReplyLen(dc, sseq, dseq uint64, ts int64, pending uint64) int {
	return len("$JS.ACK.") + len(c.ms.name) + 1 + len(c.name) + 5 +
		decimalLen(dc) + decimalLen(sseq) + decimalLen(dseq) + decimalLen(uint64(ts)) + decimalLen(pending)
}

func decimalLen(n uint64) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// endNoWait answers the no_wait requests that can get nothing more now
// with 404 No Messages, as nats-server does each time its delivery loop
// runs dry: those without expires, and those that got some messages. A
// no_wait request with expires that got nothing waits for its expiry.
func (c *consumer) endNoWait() {
	kept := c.waiting[:0]
	for _, wr := range c.waiting {
		if wr.noWait && (wr.expires.IsZero() || wr.sent > 0) {
			c.ms.svc.publish(wr.reply, "", pullStatus(404, "No Messages", wr, false), nil)
			continue
		}
		kept = append(kept, wr)
	}
	clear(c.waiting[len(kept):])
	c.waiting = kept
}

// endRequest answers and removes the first waiting request.
func (c *consumer) endRequest(wr *pullRequest, code int, desc string, pendingHdrs bool) {
	c.waiting = c.waiting[1:]
	c.ms.svc.publish(wr.reply, "", pullStatus(code, desc, wr, pendingHdrs), nil)
}

func pullStatus(code int, desc string, wr *pullRequest, pendingHdrs bool) []byte {
	hdr := proto.AppendStatusHeader(nil, code, desc)
	if !pendingHdrs {
		return hdr
	}
	hdr = hdr[:len(hdr)-2]
	hdr = append(hdr, "Nats-Pending-Messages: "...)
	hdr = strconv.AppendInt(hdr, int64(wr.n), 10)
	hdr = append(hdr, "\r\nNats-Pending-Bytes: "...)
	hdr = strconv.AppendInt(hdr, int64(max(wr.maxBytes, 0)), 10)
	return append(hdr, "\r\n\r\n"...)
}

// onPullRequest handles $JS.API.CONSUMER.MSG.NEXT.
func (c *consumer) onPullRequest(reply string, body []byte) {
	sendErr := func(code int, desc string) {
		c.ms.svc.publish(reply, "", proto.AppendStatusHeader(nil, code, desc), nil)
	}
	if reply == "" {
		return
	}
	if !c.isPull() {
		sendErr(409, "Consumer is push based")
		return
	}
	req, err := parseNextRequest(body)
	if err != nil {
		sendErr(400, "Bad Request - "+err.Error())
		return
	}
	if m := c.cfg.MaxRequestBatch; m > 0 && req.Batch > m {
		sendErr(409, "Exceeded MaxRequestBatch of "+strconv.Itoa(m))
		return
	}
	if m := c.cfg.MaxRequestExpires; m > 0 && req.Expires > m {
		sendErr(409, "Exceeded MaxRequestExpires of "+m.String())
		return
	}
	if m := c.cfg.MaxRequestMaxBytes; m > 0 && req.MaxBytes > m {
		sendErr(409, "Exceeded MaxRequestMaxBytes of "+strconv.Itoa(m))
		return
	}
	// Only a JSON request has a priority group, even an empty one.
	hasPG := isJSONRequest(body)
	if hasPG {
		if code, desc := c.checkPullPriority(&req.PriorityGroup); code != 0 {
			sendErr(code, desc)
			return
		}
	}
	t := c.ms.svc.now()
	c.lastActive = t
	wr := &pullRequest{reply: reply, n: req.Batch, maxBytes: req.MaxBytes, limitB: req.MaxBytes > 0, noWait: req.NoWait, hb: req.Heartbeat, lastHB: t, pg: req.PriorityGroup, hasPG: hasPG}
	if req.Expires > 0 {
		wr.expires = t.Add(req.Expires)
		c.ms.armWake(wr.expires)
	}
	if wr.hb > 0 {
		c.ms.armWake(t.Add(wr.hb))
	}
	if req.NoWait && len(c.rdq) == 0 && (c.pendingCount() == 0 || c.blockedOnAcks()) && req.Expires == 0 {
		sendErr(404, "No Messages")
		return
	}
	maxWaiting := c.cfg.MaxWaiting
	if maxWaiting <= 0 {
		maxWaiting = defaultMaxWaiting
	}
	if len(c.waiting) >= maxWaiting {
		c.expireRequests(t)
		if len(c.waiting) >= maxWaiting {
			if wr.hb == 0 {
				sendErr(409, "Exceeded MaxWaiting")
			}
			return
		}
	}
	c.addWaiting(wr)
	c.kick()
	// A no-wait request that found some but not all messages ends now.
	if i := slices.Index(c.waiting, wr); wr.noWait && i >= 0 && wr.sent > 0 {
		c.waiting = slices.Delete(c.waiting, i, i+1)
		c.ms.svc.publish(wr.reply, "", proto.AppendStatusHeader(nil, 404, "No Messages"), nil)
	}
}

// parseNextRequest reads a MSG.NEXT body: empty (one message), a batch
// size, or a JSON request.
func parseNextRequest(body []byte) (jsapi.NextRequest, error) {
	var req jsapi.NextRequest
	body = []byte(strings.TrimSpace(string(body)))
	switch {
	case len(body) == 0:
		req.Batch = 1
	case body[0] == '{':
		if err := json.Unmarshal(body, &req); err != nil {
			return req, err
		}
		// Heartbeats must fit twice in the request's life, as
		// nats-server's nextReqFromMsg demands.
		if req.Heartbeat > 0 && req.Heartbeat*2 > req.Expires {
			return req, errors.New("heartbeat value too large")
		}
	default:
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return req, err
		}
		req.Batch = n
	}
	if req.Batch <= 0 {
		req.Batch = 1
	}
	if req.Expires < 0 || req.MaxBytes < 0 || req.Heartbeat < 0 {
		return req, errors.New("negative value")
	}
	return req, nil
}

func isJSONRequest(body []byte) bool {
	body = bytes.TrimSpace(body)
	return len(body) > 0 && body[0] == '{'
}

// expireRequests ends expired pull requests and sends due heartbeats.
func (c *consumer) expireRequests(t time.Time) {
	kept := c.waiting[:0]
	for _, wr := range c.waiting {
		if !wr.expires.IsZero() && !t.Before(wr.expires) {
			c.ms.svc.publish(wr.reply, "", pullStatus(408, "Request Timeout", wr, true), nil)
			c.lastActive = t
			continue
		}
		if !wr.expires.IsZero() {
			c.ms.armWake(wr.expires)
		}
		if wr.hb > 0 {
			if t.Sub(wr.lastHB) >= wr.hb {
				c.sendHeartbeat(wr.reply)
				wr.lastHB = t
			}
			c.ms.armWake(wr.lastHB.Add(wr.hb))
		}
		kept = append(kept, wr)
	}
	clear(c.waiting[len(kept):])
	c.waiting = kept
}

// --- acks

// onAck applies an ack message; it reports whether the state changed.
func (c *consumer) onAck(ai ackInfo, body []byte, reply string) {
	kind, rest := ackKind(body)
	switch kind {
	case "+ACK", "+NXT":
		if c.cfg.SampleFrequency != "" && c.cfg.AckPolicy == jsapi.AckExplicit {
			if p := c.pending[ai.sseq]; p != nil {
				c.sampleAck(ai, p)
			}
		}
		c.ack(ai.sseq, ai.cseq)
	case "+TERM":
		c.ack(ai.sseq, ai.cseq)
		// Sent whether or not the message was pending, as nats-server.
		c.adviseDelivery(jsapi.AdvisoryMsgTerminated, jsapi.TypeTerminated, ai, string(rest))
	case "+WPI":
		if p := c.pending[ai.sseq]; p != nil {
			p.ts = c.ms.svc.now().UnixNano()
			c.ms.armWake(c.ms.svc.now().Add(c.ackWait(c.rdc[ai.sseq] + 1)))
		}
		if reply != "" {
			c.ms.svc.publish(reply, "", nil, nil)
		}
		return
	case "-NAK":
		if p := c.pending[ai.sseq]; p != nil {
			c.adviseDelivery(jsapi.AdvisoryMsgNaked, jsapi.TypeNak, ai, "")
			var delay time.Duration
			if len(rest) > 0 {
				var nd struct {
					Delay time.Duration `json:"delay"`
				}
				if json.Unmarshal(rest, &nd) == nil {
					delay = nd.Delay
				} else if d, err := time.ParseDuration(strings.TrimSpace(string(rest))); err == nil {
					delay = d
				}
			}
			if delay > 0 {
				// Redeliver once the delay passes: pretend the ack
				// wait started so that it ends then.
				p.ts = c.ms.svc.now().Add(delay - c.ackWait(c.rdc[ai.sseq]+1)).UnixNano()
				c.ms.armWake(c.ms.svc.now().Add(delay))
			} else if !slices.Contains(c.rdq, ai.sseq) {
				// Queued even past max_deliver, as nats-server: next
				// gives it up, with the advisory, when it comes round.
				c.rdq = append(c.rdq, ai.sseq)
			}
		}
		if reply != "" {
			c.ms.svc.publish(reply, "", nil, nil)
		}
		c.needKick = true
		return
	default:
		return
	}
	c.dirty = true
	if kind == "+NXT" && reply != "" {
		c.onPullRequest(reply, rest)
	} else if reply != "" {
		c.syncAcks = append(c.syncAcks, reply)
	}
	// Deliveries the acks make room for go out once the whole batch of
	// control messages is applied.
	c.needKick = true
}

func ackKind(body []byte) (string, []byte) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "+ACK", nil
	}
	for _, k := range []string{"+ACK", "+NXT", "+TERM", "+WPI", "-NAK"} {
		if bytes.HasPrefix(body, []byte(k)) {
			return k, bytes.TrimSpace(body[len(k):])
		}
	}
	return "", nil
}

func (c *consumer) ack(sseq, _ uint64) {
	if c.ackNone() {
		return
	}
	var acked []uint64
	if c.cfg.AckPolicy == jsapi.AckAll || c.cfg.AckPolicy == jsapi.AckFlowControl {
		for seq := range c.pending {
			if seq <= sseq {
				acked = append(acked, seq)
			}
		}
		slices.Sort(acked)
	} else if _, ok := c.pending[sseq]; ok {
		acked = append(acked, sseq)
	}
	if len(acked) > 0 {
		c.floorLast = c.ms.svc.now()
	}
	for _, seq := range acked {
		p := c.pending[seq]
		delete(c.pending, seq)
		delete(c.rdc, seq)
		c.moveFloor(seq, p.cseq)
	}
	if len(acked) > 0 {
		c.ms.onConsumerAcked(c, acked)
	}
}

// moveFloor updates the ack floor after the message (sseq, cseq) was
// acknowledged, as nats-server does: the floor moves only when the ack is
// for the message just above it, then up to below the next pending one.
// The floor only rises, so the walk is O(1) per message over time.
func (c *consumer) moveFloor(sseq, cseq uint64) {
	if len(c.pending) == 0 {
		c.floorS, c.floorC = c.lastS, c.dseq
		return
	}
	if cseq != c.floorC+1 {
		return
	}
	c.floorC, c.floorS = cseq, sseq
	for s := sseq + 1; s <= c.lastS; s++ {
		if p := c.pending[s]; p != nil {
			c.floorC, c.floorS = p.cseq-1, s-1
			return
		}
	}
}

// updateFloor recomputes the ack floor from the pending set.
func (c *consumer) updateFloor() {
	if len(c.pending) == 0 {
		c.floorS, c.floorC = c.lastS, c.dseq
		return
	}
	lowS, lowC := uint64(0), uint64(0)
	for seq, p := range c.pending {
		if lowS == 0 || seq < lowS {
			lowS, lowC = seq, p.cseq
		}
	}
	c.floorS, c.floorC = lowS-1, lowC-1
}

// giveUp stops tracking a message delivered max_deliver times, with the
// max_deliver advisory. The caller updates the ack floor.
func (c *consumer) giveUp(seq uint64) {
	c.adviseMaxDeliver(seq, c.rdc[seq]+1)
	delete(c.pending, seq)
	delete(c.rdc, seq)
	c.dirty = true
}

func (c *consumer) canRedeliver(seq uint64) bool {
	if c.cfg.MaxDeliver > 0 && c.rdc[seq]+1 >= uint64(c.cfg.MaxDeliver) {
		return false
	}
	return true
}

// tick redelivers unacknowledged messages whose ack wait ran out, expires
// pull requests, sends heartbeats, and reports whether an ephemeral
// consumer has been idle past its threshold.
func (c *consumer) tick() (idle bool) {
	t := c.ms.svc.now()
	// A flow_control-acked consumer does not redeliver by time: the
	// source resets it to its ack floor when it comes back.
	if !c.ackNone() && c.cfg.AckPolicy != jsapi.AckFlowControl && len(c.pending) > 0 {
		queued := make(map[uint64]bool, len(c.rdq))
		for _, seq := range c.rdq {
			queued[seq] = true
		}
		var due []uint64
		next := time.Time{}
		for seq, p := range c.pending {
			if queued[seq] {
				continue
			}
			deadline := time.Unix(0, p.ts).Add(c.ackWait(c.rdc[seq] + 1))
			if !t.Before(deadline) {
				if c.canRedeliver(seq) {
					due = append(due, seq)
				} else {
					c.giveUp(seq)
				}
				continue
			}
			if next.IsZero() || deadline.Before(next) {
				next = deadline
			}
		}
		slices.Sort(due)
		c.rdq = append(c.rdq, due...)
		if !next.IsZero() {
			c.ms.armWake(next)
		}
		c.updateFloor()
	}
	c.expireRequests(t)
	c.expirePin(t)
	if !c.isPull() && c.cfg.Heartbeat > 0 {
		if c.active || c.ms.svc.r.HasInterest([]byte(c.cfg.DeliverSubject)) {
			if t.Sub(c.lastHB) >= c.cfg.Heartbeat {
				c.sendHeartbeat(c.cfg.DeliverSubject)
				c.lastHB = t
				// Under the flow_control ack policy an idle consumer
				// asks for the reply that acks what it delivered.
				if c.cfg.AckPolicy == jsapi.AckFlowControl && len(c.pending) > 0 && c.fcReply == "" {
					c.sendFlowControl()
				}
			}
		}
		c.ms.armWake(c.lastHB.Add(c.cfg.Heartbeat))
	}
	if !c.isPull() {
		if c.ms.svc.r.HasInterest([]byte(c.cfg.DeliverSubject)) {
			c.lastActive = t
		}
	} else if len(c.waiting) > 0 {
		c.lastActive = t
	}
	if th := c.inactiveThreshold(); th > 0 {
		if t.Sub(c.lastActive) >= th {
			return true
		}
		c.ms.armWake(c.lastActive.Add(th))
	}
	c.kick()
	return false
}

func (c *consumer) inactiveThreshold() time.Duration {
	if c.cfg.InactiveThreshold > 0 {
		return c.cfg.InactiveThreshold
	}
	if c.ephemeral() {
		return defaultEphemeralIdle
	}
	return 0
}

// info builds the consumer's info.
func (c *consumer) info() *jsapi.ConsumerInfo {
	cfg := c.cfg
	ci := &jsapi.ConsumerInfo{
		Stream:         c.ms.name,
		Name:           c.name,
		Created:        c.created.UTC(),
		Config:         &cfg,
		Delivered:      jsapi.SequenceInfo{Consumer: c.dseq, Stream: c.lastS},
		AckFloor:       jsapi.SequenceInfo{Consumer: c.floorC, Stream: c.floorS},
		NumAckPending:  len(c.pending),
		NumRedelivered: len(c.rdc),
		NumWaiting:     len(c.waiting),
		NumPending:     c.pendingCount(),
		TimeStamp:      c.ms.svc.now().UTC(),
		PriorityGroups: c.priorityGroupsInfo(),
	}
	if !c.lastDel.IsZero() {
		t := c.lastDel.UTC()
		ci.Delivered.Last = &t
	}
	if !c.floorLast.IsZero() {
		t := c.floorLast.UTC()
		ci.AckFloor.Last = &t
	}
	if !c.isPull() {
		ci.PushBound = c.ms.svc.r.HasInterest([]byte(c.cfg.DeliverSubject))
	}
	if !c.pauseUntil.IsZero() && c.ms.svc.now().Before(c.pauseUntil) {
		ci.Paused = true
		ci.PauseRemaining = c.pauseUntil.Sub(c.ms.svc.now())
	}
	return ci
}

// --- persisted state

// encodeState is the consumer's durable position: version, dseq, sseq,
// floors, then each pending message (sseq, cseq, ts, redeliveries).
func (c *consumer) encodeState() []byte {
	b := make([]byte, 0, 48+len(c.pending)*32)
	b = binary.AppendUvarint(b, consumerStateVersion)
	for _, v := range []uint64{c.dseq, c.sseq, c.lastS, c.floorC, c.floorS, uint64(len(c.pending))} {
		b = binary.AppendUvarint(b, v)
	}
	for seq, p := range c.pending {
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, p.cseq)
		b = binary.AppendVarint(b, p.ts)
		b = binary.AppendUvarint(b, c.rdc[seq])
	}
	return b
}

var errBadConsumerState = errors.New("corrupt consumer state")

func (c *consumer) decodeState(b []byte) error {
	next := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	if next() != consumerStateVersion {
		return errBadConsumerState
	}
	c.dseq, c.sseq, c.lastS, c.floorC, c.floorS = next(), next(), next(), next(), next()
	n := next()
	if b == nil && n > 0 {
		return errBadConsumerState
	}
	for i := uint64(0); i < n; i++ {
		seq, cseq := next(), next()
		ts, k := binary.Varint(b)
		if k <= 0 {
			return errBadConsumerState
		}
		b = b[k:]
		rd := next()
		if b == nil {
			return errBadConsumerState
		}
		c.pending[seq] = &pendingMsg{cseq: cseq, ts: ts}
		if rd > 0 {
			c.rdc[seq] = rd
		}
	}
	// Everything pending is redelivered after a restart, as nats-server
	// does, once its ack wait passes.
	return nil
}
