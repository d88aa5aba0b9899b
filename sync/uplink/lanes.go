package uplink

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/msgstore"
)

// Sending, in two lanes while catching up.
//
// The backlog lane reads the stream in order from next, paced by
// Config.Rate. When the uplink finds itself behind (more than a window of
// messages unsent), what is stored from then on (from liveFrom) is live:
// the live lane reads it as it comes and sends a message at once when its
// subject has nothing of the backlog left unacknowledged; otherwise the
// message waits, with everything after it on its subject, until that
// subject's backlog is acknowledged. So the hub sees every subject in
// order, and live traffic on subjects that had no backlog, or whose
// backlog is through, is not held behind the rest. Once the backlog lane
// reaches liveFrom the lanes merge: the cursor skips what the live lane
// sent.
//
// The confirmed position is the acknowledged prefix in stream order: the
// first sequence not acknowledged, in flight or not yet sent, less one.
type lanes struct {
	next     uint64         // backlog cursor: the next sequence to send in order
	buf      []msgstore.Msg // read ahead of next
	inflight map[uint64]sent
	ahead    map[uint64]bool // sent by the live lane, for the cursor to skip
	acked    []uint64        // acknowledged, for work-queue removal once confirmed
	// order holds each lane's sends, in increasing sequence: the cursor's
	// (0) and the live lane's (1). With it the first unacknowledged
	// sequence is found without a scan.
	order    [2][]uint64
	nUnacked int

	// Catching up (liveFrom > 0).
	liveFrom uint64
	liveNext uint64
	liveBuf  []msgstore.Msg
	blocked  map[string]uint64   // subject → its last backlog sequence
	deferred map[string][]uint64 // subject → live sequences waiting for its backlog
}

type sent struct {
	at    time.Time
	acked bool
}

func (l *lanes) init() {
	l.inflight = map[uint64]sent{}
	l.ahead = map[uint64]bool{}
}

// firstUnacked is the lowest sequence not acknowledged: in flight, or
// the backlog cursor's next.
func (l *lanes) firstUnacked() uint64 {
	low := l.next
	for i := range l.order {
		q := l.order[i]
		for len(q) > 0 {
			if s, ok := l.inflight[q[0]]; !ok || s.acked {
				q = q[1:]
				continue
			}
			low = min(low, q[0])
			break
		}
		l.order[i] = q
	}
	return low
}

// oldestSend is when the longest-waiting message in flight was sent.
func (l *lanes) oldestSend() (time.Time, uint64) {
	var at time.Time
	var seq uint64
	for q, s := range l.inflight {
		if !s.acked && (at.IsZero() || s.at.Before(at)) {
			at, seq = s.at, q
		}
	}
	return at, seq
}

func (l *lanes) unacked() int { return l.nUnacked }

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
	u.checkSession()
	if u.liveFrom == 0 {
		u.startCatchUp()
	}
	if u.liveFrom > 0 {
		u.fillLive(now)
	}
	u.fillBacklog(now)
	u.commitBatch()
}

// startCatchUp opens the live lane when more than a window is unsent.
func (u *Uplink) startCatchUp() {
	// Behind: more unsent than a window, or than the pace's burst.
	threshold := uint64(u.cfg.MaxInflight)
	if u.cfg.Rate > 0 {
		threshold = min(threshold, uint64(u.cfg.Rate)/10+1)
	}
	last := u.ob.LastSeq()
	if last < u.next || last-u.next < threshold {
		return
	}
	u.retryBatches(time.Now())
	u.liveFrom = last + 1
	u.liveNext = u.liveFrom
	u.blocked = u.ob.LastBySubject(u.next)
	u.deferred = map[string][]uint64{}
	u.log.Info("uplink catching up", "from_seq", u.next, "to_seq", last, "subjects", len(u.blocked))
}

// fillBacklog sends from the cursor, in order.
func (u *Uplink) fillBacklog(now time.Time) {
	for u.unacked() < u.cfg.MaxInflight {
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
		if s, ok := u.inflight[m.Seq]; u.ahead[m.Seq] || ok && s.acked {
			// The live lane sent it, or it was acknowledged before a
			// resend.
			delete(u.ahead, m.Seq)
			u.next = m.Seq + 1
			u.buf = u.buf[1:]
			continue
		}
		backlog := u.liveFrom > 0 && m.Seq < u.liveFrom
		if backlog && u.cfg.Rate > 0 && u.tokens < 1 {
			return
		}
		inBatch := backlog && u.batched()
		if b := u.batch; b != nil && (!inBatch || !b.known || b.committing) {
			// Until the hub has taken the open batch (its answer to the
			// first message), and while it commits, nothing more goes:
			// a message sent now could be stored before batch messages
			// the hub then refuses, and overtake them on their subject.
			return
		}
		if !u.send(m, now, 0, inBatch) {
			// Read again when the hub is back: limits may take some of
			// what was read meanwhile (counted as dropped, not sent).
			u.buf = nil
			return
		}
		if backlog {
			u.tokens--
		}
		u.next = m.Seq + 1
		u.buf = u.buf[1:]
		if u.liveFrom > 0 && u.next >= u.liveFrom {
			u.endCatchUp()
		}
	}
}

// fillLive sends what is stored from liveFrom on, subject by subject.
func (u *Uplink) fillLive(now time.Time) {
	for u.unacked() < u.cfg.MaxInflight && u.liveFrom > 0 {
		if len(u.liveBuf) == 0 {
			msgs, err := u.ob.Read(u.liveNext, readBatch)
			if err != nil || len(msgs) == 0 {
				return
			}
			u.liveBuf = msgs
		}
		m := &u.liveBuf[0]
		if _, waits := u.deferred[m.Subject]; waits || u.blocked[m.Subject] >= u.firstUnacked() {
			u.deferred[m.Subject] = append(u.deferred[m.Subject], m.Seq)
		} else {
			delete(u.blocked, m.Subject)
			if !u.send(m, now, 1, false) {
				u.liveBuf = nil
				return
			}
			u.ahead[m.Seq] = true
		}
		u.liveNext = m.Seq + 1
		u.liveBuf = u.liveBuf[1:]
	}
}

// release sends the waiting live messages of subjects whose backlog is
// now acknowledged.
func (u *Uplink) release(now time.Time) {
	if u.liveFrom == 0 || len(u.deferred) == 0 {
		return
	}
	low := u.firstUnacked()
	for subj, seqs := range u.deferred {
		if u.blocked[subj] >= low {
			continue
		}
		for len(seqs) > 0 && u.unacked() < u.cfg.MaxInflight {
			msgs, err := u.ob.Read(seqs[0], 1)
			if err != nil || len(msgs) == 0 || msgs[0].Seq != seqs[0] {
				seqs = seqs[1:] // gone (a limit took it)
				continue
			}
			if !u.send(&msgs[0], now, 1, false) {
				break
			}
			u.ahead[seqs[0]] = true
			seqs = seqs[1:]
		}
		if len(seqs) == 0 {
			delete(u.deferred, subj)
			delete(u.blocked, subj)
		} else {
			u.deferred[subj] = seqs
		}
	}
}

// endCatchUp merges the lanes: the cursor has reached what was live.
func (u *Uplink) endCatchUp() {
	u.log.Info("uplink caught up", "seq", u.next-1)
	u.liveFrom, u.liveNext, u.liveBuf = 0, 0, nil
	u.blocked, u.deferred = nil, nil
}

// send publishes one message to the hub; false when the hub has no
// interest in its subject (the link is down, or no stream captures it).
// In a batch (inBatch) its reply places it in the open fast batch.
func (u *Uplink) send(m *msgstore.Msg, now time.Time, lane int, inBatch bool) bool {
	subj := m.Subject
	if u.cfg.Transform != nil {
		if t, ok := u.cfg.Transform.Apply(subj); ok {
			subj = t
		}
	}
	u.subjBuf = append(u.subjBuf[:0], subj...)
	if !u.r.HasRemoteInterest(u.subjBuf) {
		if u.linkUp {
			u.linkUp = false
			u.log.Warn("uplink waiting: no interest from the hub", "subject", subj, "next_seq", m.Seq)
		}
		return false
	}
	if !u.linkUp {
		u.linkUp = true
		u.log.Info("uplink sending", "from_seq", m.Seq, "confirmed_seq", u.confirmed)
	}
	// The buffers are reused: the router hands the message to the link,
	// which copies it into its output, before Publish returns.
	u.idBuf = strconv.AppendUint(append(append(append(append(u.idBuf[:0], u.cfg.Gateway...), '.'), u.cfg.Stream...), '.'), m.Seq, 10)
	u.hdrBuf = appendMsgID(u.hdrBuf[:0], m.Header, u.idBuf)
	if inBatch {
		u.replyBuf = u.batchReply(m.Seq)
	} else {
		u.replyBuf = strconv.AppendUint(append(u.replyBuf[:0], u.inbox...), m.Seq, 10)
	}
	u.r.Publish(&u.pub, u.subjBuf, u.replyBuf, u.hdrBuf, m.Data)
	u.inflight[m.Seq] = sent{at: now}
	u.order[lane] = append(u.order[lane], m.Seq)
	u.nUnacked++
	u.mu.Lock()
	u.status.Sent++
	u.mu.Unlock()
	return true
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

func (u *Uplink) onAck(a ack) {
	s, ok := u.inflight[a.seq]
	if !ok || s.acked {
		return // from before a resend
	}
	dup := a.dup
	if !a.parsed && !u.slowAck(a, &dup) {
		return
	}
	u.ackOne(a.seq, s, dup)
}

// ackOne marks in-flight message seq acknowledged.
func (u *Uplink) ackOne(seq uint64, s sent, dup bool) {
	s.acked = true
	u.inflight[seq] = s
	u.nUnacked--
	if u.cfg.WorkQueue {
		u.acked = append(u.acked, seq)
	}
	u.mu.Lock()
	u.status.Acked++
	if dup {
		u.status.Duplicates++
	}
	u.status.LastAck = time.Now().UTC()
	u.mu.Unlock()
}

// slowAck reads an answer the fast parser did not take (a status, an
// error, an unusual form): whether it acknowledges, and as a duplicate.
func (u *Uplink) slowAck(a ack, dup *bool) bool {
	if status := proto.HeaderStatus(a.hdr); len(status) > 0 && len(a.data) == 0 {
		// 503 No Responders: no hub stream captures the subject.
		u.fail("publish " + strconv.FormatUint(a.seq, 10) + ": status " + string(status))
		u.goBack("no stream answered")
		return false
	}
	var pa pubAck
	if err := json.Unmarshal(a.data, &pa); err != nil {
		u.fail("bad publish acknowledgement: " + err.Error())
		return false
	}
	if pa.Error != nil {
		u.fail(fmt.Sprintf("publish %d: %s (%d)", a.seq, pa.Error.Description, pa.Error.ErrCode))
		u.goBack("refused by the hub")
		return false
	}
	*dup = pa.Duplicate
	return true
}

// settle drops what is acknowledged below the first unacknowledged
// sequence and lets waiting live messages go.
func (u *Uplink) settle(now time.Time) {
	low := u.firstUnacked()
	for seq, s := range u.inflight {
		if s.acked && seq < low {
			delete(u.inflight, seq)
		}
	}
	u.release(now)
}

// confirm records the acknowledged prefix in the outbox (and, in
// work-queue mode, removes what it covers).
func (u *Uplink) confirm() {
	upto := u.firstUnacked() - 1
	if upto <= u.confirmed {
		return
	}
	var rm []uint64
	if u.cfg.WorkQueue {
		keep := u.acked[:0]
		for _, seq := range u.acked {
			if seq <= upto {
				rm = append(rm, seq)
			} else {
				keep = append(keep, seq)
			}
		}
		u.acked = keep
	}
	if u.ob.Confirm(upto, rm) {
		u.confirmed = upto
	}
}

// checkStall resends at once when a new leafnode session came up (what
// was in flight on the one before was lost with it), or when the first
// unacknowledged message has held the uplink still too long with the
// link up (a lost message or acknowledgement): at once without a probe,
// else once a round trip behind it came back and the acknowledgement
// still did not.
func (u *Uplink) checkStall(now time.Time) {
	u.checkSession()
	if !u.linkUp {
		u.probe = nil
		return
	}
	seq, waited, ok := u.stalled(now)
	if !ok {
		u.probe = nil
		return
	}
	if u.cfg.Probe != nil {
		switch {
		case u.probe == nil || u.probeSeq != seq:
			u.probe, u.probeSeq, u.probeSince = u.cfg.Probe(), seq, time.Time{}
			return
		case !u.probe():
			return // the hub has not read that far yet: a slow link
		case u.probeSince.IsZero():
			u.probeSince = now
			return
		case now.Sub(u.probeSince) < ackGrace(u.cfg.AckWait):
			return
		}
	}
	u.probe = nil
	u.mu.Lock()
	u.status.Stalls++
	u.mu.Unlock()
	u.log.Warn("uplink stalled: no acknowledgement, resending", "seq", seq, "waited", waited.Round(time.Millisecond))
	u.goBack("stalled")
}

// ackGrace is how long an acknowledgement may trail the PONG of a probe
// sent after its publish: the hub answers the PING as it reads it, and
// the publish's acknowledgement once its stream stored it.
func ackGrace(ackWait time.Duration) time.Duration { return min(ackWait, time.Second) }

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

// goBack forgets what is in flight and resends, in order, from the first
// message not acknowledged (the hub deduplicates what it had); the live
// lane starts again from there too.
func (u *Uplink) goBack(why string) {
	n := u.unacked()
	if n == 0 {
		return
	}
	from := u.firstUnacked()
	u.mu.Lock()
	u.status.Resent += uint64(n)
	u.mu.Unlock()
	u.log.Debug("uplink resending", "from_seq", from, "why", why)
	u.batch = nil // the hub drops it after 10 s
	for seq, s := range u.inflight {
		if !s.acked {
			delete(u.inflight, seq)
			delete(u.ahead, seq)
		}
	}
	u.nUnacked = 0
	u.order[0], u.order[1] = u.order[0][:0], u.order[1][:0]
	u.buf = nil
	u.next = from
	if u.liveFrom > 0 {
		u.endCatchUp()
	}
}

// parsePubAck reads the common acknowledgement without encoding/json (an
// uplink reads one per message): nats-server's
// {"stream":"S","domain":"D","seq":N} (the domain when the hub has one),
// ending in ,"duplicate": true} for a duplicate. Anything else is left to
// json.
func parsePubAck(b []byte, pa *pubAck) bool {
	const pre = `{"stream":"`
	if len(b) < len(pre) || string(b[:len(pre)]) != pre {
		return false
	}
	stream, rest, ok := quoted(b[len(pre):])
	if !ok {
		return false
	}
	const domainKey = `,"domain":"`
	if len(rest) >= len(domainKey) && string(rest[:len(domainKey)]) == domainKey {
		if _, rest, ok = quoted(rest[len(domainKey):]); !ok {
			return false
		}
	}
	const seqKey = `,"seq":`
	if len(rest) < len(seqKey) || string(rest[:len(seqKey)]) != seqKey {
		return false
	}
	rest = rest[len(seqKey):]
	var seq uint64
	j := 0
	for j < len(rest) && j < 19 && rest[j] >= '0' && rest[j] <= '9' {
		seq = seq*10 + uint64(rest[j]-'0')
		j++
	}
	if j == 0 || j > 1 && rest[0] == '0' {
		return false
	}
	dup := false
	switch string(rest[j:]) {
	case `}`:
	case `,"duplicate": true}`, `,"duplicate":true}`:
		dup = true
	default:
		return false
	}
	if pa.Stream != string(stream) {
		pa.Stream = string(stream)
	}
	pa.Seq, pa.Duplicate = seq, dup
	return true
}

// quoted reads a JSON string's plain-ASCII body up to its closing quote
// (b starts after the opening one) and what follows it; false for escapes
// and anything json would read differently.
func quoted(b []byte) (body, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	if i == len(b) || b[i] != '"' || !printable(b[:i]) {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

// printable reports whether b is plain ASCII that JSON reads as is.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
