package jetstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// stream is one stream: its configuration, its store and its consumers,
// owned by one goroutine (run). Publishes arrive in the in mailbox; acks,
// flow-control replies and pull requests in ctl; API operations as
// functions on ops. At most one store batch is in flight: while it
// commits, new publishes wait in the mailbox and the next batch collects
// them all (group commit without a timer).
type stream struct {
	svc     *Service
	name    string
	store   msgstore.Store
	file    *msgstore.Bolt // the stream's own file; nil for memory storage
	created time.Time

	mu  sync.RWMutex // guards cfg for readers off the owner goroutine
	cfg jsapi.StreamConfig

	subs      []*router.Sub
	evBuf     []byte // advisory subjects being built; the owner goroutine's
	transform *subject.Transform
	republish *subject.Transform

	in        *mailbox        // publishes, bounded (newIngestBox)
	rcv       *streamReceiver // the subscriptions' receiver, filling in
	ctl       *mailbox
	ops       chan func()
	committed chan commitResult
	quit      chan struct{}
	exited    chan struct{}
	stopOnce  sync.Once
	started   bool        // run was started (set before, read after, the goroutine)
	deleting  atomic.Bool // stopped for good, not just for a shutdown
	counted   uint64      // bytes added to the service's usage (see account)
	// countedDisk is the file's size added to the service's fileDisk;
	// fileFree its free pages, which publishes fill before it grows.
	countedDisk, fileFree int64

	// Owned by run.
	committing bool
	batch      *pending // being built while another batch commits
	dedup      map[string]uint64
	dedupQ     []dedupEntry
	lastMsgID  string
	consumers  map[string]*consumer
	persistAt  time.Time // when dirty consumer state is next written
	wake       *time.Timer
	wakeAt     time.Time
	// ageHeldUntil: max_age holds the first message for an outbox until
	// then (tick sets it; zero when nothing is held).
	ageHeldUntil time.Time
	schedules    map[string]*schedEntry // pending message schedules by subject (schedules.go)
	schedNext    int64                  // earliest schedule, valid unless schedDirty
	schedDirty   bool
	// tickDue: the wake timer fired during a commit; tick after it.
	tickDue bool
	// A mirror's or source's replication (replica.go): each source's
	// committed position by index name, and the epoch (plus one) whose
	// messages are refused after one was.
	srcPos     map[string]uint64
	srcIdent   map[string]string
	replFailed map[string]uint64

	replStatus atomic.Pointer[replStatus] // the Follower's last report

	// Uplinks reading the stream (outbox.go), and when this process
	// started holding its messages (for max_age on a clock jump).
	outboxes map[string]*Outbox
	marks    []heldMark
}

type dedupEntry struct {
	id  string
	seq uint64
	ts  int64
}

// pending is a store batch with what its commit must answer.
type pending struct {
	b         msgstore.Batch
	acks      []pendingAck
	after     []func(error)
	removed   map[uint64]bool          // removed in this batch
	subj      map[string]*subjectDelta // per-subject changes in this batch
	msgs      int64                    // net message count change
	bytes     int64                    // net byte change
	last      uint64                   // highest sequence appended or skipped
	appends   []msgstore.Msg           // for republish and the consumers' fast path
	msgIDs    []string                 // dedup entries to forget if the commit fails
	repubPrev map[uint64]uint64        // republish: the subject's previous sequence
	prevID    string                   // the last msg id before this batch
	srcPos    map[string]uint64        // sources' positions this batch reaches
}

type subjectDelta struct {
	count int64
	last  uint64
}

// pendingAck is a publish answered when its batch has committed: a PubAck
// to reply, and its publisher's Confirm told. Either may be absent.
type pendingAck struct {
	reply   string
	seq     uint64
	dup     bool
	confirm *router.Confirm
}

type commitResult struct {
	p   *pending
	err error
}

func (s *Service) newStream(cfg jsapi.StreamConfig, created time.Time, st msgstore.Store) (*stream, error) {
	ms := &stream{
		svc:       s,
		name:      cfg.Name,
		store:     st,
		created:   created,
		cfg:       cfg,
		in:        newIngestBox(s.cfg.IngestHighWater, s.cfg.IngestLimit),
		ctl:       newMailbox(),
		ops:       make(chan func()),
		committed: make(chan commitResult, 1),
		quit:      make(chan struct{}),
		exited:    make(chan struct{}),
		dedup:     make(map[string]uint64),
		consumers: make(map[string]*consumer),
	}
	ms.rcv = &streamReceiver{ms: ms}
	if err := ms.compile(cfg); err != nil {
		return nil, err
	}
	return ms, nil
}

func (ms *stream) compile(cfg jsapi.StreamConfig) error {
	ms.transform, ms.republish = nil, nil
	if tr := cfg.SubjectTransform; tr != nil && tr.Destination != "" {
		t, err := subject.NewTransform(tr.Source, tr.Destination)
		if err != nil {
			return err
		}
		ms.transform = t
	}
	if rp := cfg.RePublish; rp != nil {
		t, err := subject.NewTransform(rp.Source, rp.Destination)
		if err != nil {
			return err
		}
		ms.republish = t
	}
	return nil
}

// start subscribes the stream's subjects and runs its goroutine.
func (ms *stream) start() error {
	if err := ms.subscribe(ms.config()); err != nil {
		return err
	}
	ms.account()
	ms.loadSchedules()
	ms.started = true
	go ms.run()
	return nil
}

// subscribe takes the stream's subjects and, with allow_direct, its direct
// get subjects (answered by the API goroutine). Without allow_direct there
// is no responder there, as with nats-server.
func (ms *stream) subscribe(cfg jsapi.StreamConfig) error {
	add := func(subj string, rcv router.Receiver) error {
		sub := &router.Sub{Subject: subj, Receiver: rcv}
		if err := ms.svc.r.Subscribe(sub); err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
		ms.subs = append(ms.subs, sub)
		return nil
	}
	for _, subj := range cfg.Subjects {
		if err := add(subj, ms.rcv); err != nil {
			return err
		}
	}
	// Acks and flow-control replies for this stream's consumers, as
	// nats-server's consumers subscribe them: a leafnode link advertises
	// these, so the hub sends only what is meant for leafgate's streams,
	// not every ack in the account.
	for _, subj := range []string{"$JS.ACK." + ms.name + ".>", "$JS.FC." + ms.name + ".>"} {
		if err := add(subj, boxReceiver{ms.ctl}); err != nil {
			return err
		}
	}
	if cfg.AllowDirect {
		for _, prefix := range ms.svc.apiPrefixes() {
			for _, subj := range []string{prefix + "DIRECT.GET." + ms.name, prefix + "DIRECT.GET." + ms.name + ".>"} {
				if err := add(subj, boxReceiver{ms.svc.api}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (ms *stream) unsubscribe() {
	for _, sub := range ms.subs {
		_ = ms.svc.r.Unsubscribe(sub)
	}
	ms.subs = nil
}

// delete stops the stream for good: its consumers' pull requests end with
// 409 Consumer Deleted, as nats-server ends them.
func (ms *stream) delete() {
	ms.deleting.Store(true)
	ms.stop()
}

// stop unsubscribes, finishes the batch in flight, ends the goroutine and
// closes the stream's file. Publishes still queued are not stored: their
// Confirms are told so (ErrStreamStopped), as are those of publishes that
// arrive later (a publisher that matched the subscription just before it
// went).
func (ms *stream) stop() {
	ms.stopOnce.Do(func() {
		ms.unsubscribe()
		close(ms.quit)
		if !ms.started {
			close(ms.exited)
		}
		<-ms.exited
		left := ms.in.close()
		for i := range left {
			if c := left[i].confirm; c != nil {
				c.Done(ErrStreamStopped)
			}
		}
		ms.usage(-int64(ms.counted))
		ms.counted = 0
		ms.svc.fileDisk.Add(-ms.countedDisk)
		ms.countedDisk = 0
		if ms.file != nil {
			if err := ms.file.Close(); err != nil {
				ms.svc.log.Warn("jetstream: close stream file", "stream", ms.name, "err", err)
			}
		}
	})
	<-ms.exited
}

func (ms *stream) config() jsapi.StreamConfig {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	return ms.cfg
}

func (ms *stream) memory() bool { return ms.config().Storage == jsapi.MemoryStorage }

// msgSize is what m counts for in this stream's byte totals and limits,
// the way nats-server's store of the same kind counts it.
func (ms *stream) msgSize(m *msgstore.Msg) uint64 {
	if ms.memory() {
		return m.Size()
	}
	return m.FileSize()
}

// do runs fn on the stream's goroutine and waits for it. It reports false
// when the stream has stopped.
func (ms *stream) do(fn func()) bool {
	done := make(chan struct{})
	select {
	case ms.ops <- func() { fn(); close(done) }:
	case <-ms.exited:
		return false
	}
	select {
	case <-done:
		return true
	case <-ms.exited:
		return false
	}
}

// run is the stream's owner goroutine.
func (ms *stream) run() {
	defer close(ms.exited)
	ms.wake = time.NewTimer(time.Hour)
	ms.wake.Stop()
	ms.scheduleAge()
	ms.scheduleTTL()
	ms.armSchedules()
	for _, c := range ms.consumers {
		c.kick()
	}
	var inBatch, ctlBatch []inMsg
	for {
		ops := ms.ops
		if ms.committing {
			ops = nil // API operations see a settled store
		}
		select {
		case <-ms.quit:
			ms.persistConsumers(true)
			ms.drainCommit()
			ms.releaseConsumers()
			return
		case <-ms.in.sig:
			if !ms.committing {
				inBatch = ms.in.take(inBatch)
				ms.ingest(inBatch)
			}
		case <-ms.ctl.sig:
			ctlBatch = ms.ctl.take(ctlBatch)
			for i := range ctlBatch {
				ms.control(&ctlBatch[i])
			}
			for _, c := range ms.consumers {
				if c.needKick {
					c.needKick = false
					c.kick()
				}
			}
		case fn := <-ops:
			fn()
		case res := <-ms.committed:
			ms.committing = false
			ms.finish(res)
			if ms.tickDue {
				ms.tickDue = false
				ms.tick()
			}
			if ms.in.len() > 0 {
				inBatch = ms.in.take(inBatch)
				ms.ingest(inBatch)
			}
		case <-ms.wake.C:
			ms.wakeAt = time.Time{}
			if ms.committing {
				// Expiry, markers and schedules assign sequences, which
				// must follow the batch in flight: after its commit.
				ms.tickDue = true
			} else {
				ms.tick()
			}
		}
		ms.persistConsumers(false)
		ms.flush()
	}
}

// drainCommit waits for the batch in flight, then commits what is left,
// consumer state included.
func (ms *stream) drainCommit() {
	for range 2 {
		if ms.committing {
			ms.finish(<-ms.committed)
			ms.committing = false
		}
		ms.persistConsumers(true)
		ms.flush()
	}
	if ms.committing {
		ms.finish(<-ms.committed)
		ms.committing = false
	}
}

// cur returns the batch being built.
func (ms *stream) cur() *pending {
	if ms.batch == nil {
		ms.batch = &pending{prevID: ms.lastMsgID}
	}
	return ms.batch
}

// commitNow commits the batch being built and waits for it; it runs on
// the stream's goroutine.
func (ms *stream) commitNow() error {
	if ms.committing {
		ms.finish(<-ms.committed)
		ms.committing = false
	}
	ms.flush()
	if !ms.committing {
		return nil // nothing to write
	}
	res := <-ms.committed
	ms.committing = false
	ms.finish(res)
	return res.err
}

// flush submits the batch being built when nothing is in flight.
func (ms *stream) flush() {
	p := ms.batch
	if ms.committing || p == nil {
		return
	}
	ms.batch = nil
	if p.b.Len() == 0 {
		for _, fn := range p.after {
			fn(nil)
		}
		ms.finishAcks(p, nil)
		return
	}
	ms.writePositions(p)
	ms.committing = true
	ms.store.Apply(&p.b, func(err error) {
		ms.committed <- commitResult{p: p, err: err}
	})
}

// finish answers a committed (or failed) batch and lets consumers see it.
func (ms *stream) finish(res commitResult) {
	ms.account()
	if res.err != nil {
		ms.svc.log.Error("jetstream: store write failed", "stream", ms.name, "err", res.err)
		// Nothing in the batch was stored: forget its message ids so a
		// retry is not taken for a duplicate, and let consumers recount.
		for _, id := range res.p.msgIDs {
			delete(ms.dedup, id)
		}
		ms.lastMsgID = res.p.prevID
		for _, c := range ms.consumers {
			c.pendKnown = false
		}
		ms.loadSchedules() // back to what the store holds
	}
	ms.finishAcks(res.p, res.err)
	for _, fn := range res.p.after {
		fn(res.err)
	}
	if res.err != nil {
		return
	}
	ms.positionsCommitted(res.p)
	if len(res.p.appends) > 0 && len(ms.outboxes) > 0 {
		ms.noteHeld(res.p.last)
		ms.signalOutboxes()
	}
	ms.doRepublish(res.p.appends, res.p.repubPrev)
	for _, c := range ms.consumers {
		c.onStored(res.p.appends)
	}
	ms.scheduleAge()
	ms.scheduleTTL()
	ms.armSchedules()
}

func (ms *stream) finishAcks(p *pending, err error) {
	if len(p.acks) == 0 {
		return
	}
	domain := ms.svc.cfg.Domain
	var failed *jsapi.Error
	if err != nil {
		failed = jsapi.ErrStreamStoreFailedF.WithErr(err)
	}
	var buf []byte
	for _, a := range p.acks {
		if a.confirm != nil {
			if failed != nil {
				a.confirm.Done(failed)
			} else {
				a.confirm.Done(nil)
			}
		}
		if a.reply == "" {
			continue
		}
		buf = buf[:0]
		if failed != nil {
			buf = appendPubAckError(buf, ms.name, failed)
		} else {
			buf = appendPubAck(buf, ms.name, domain, a.seq, a.dup)
		}
		ms.svc.publish(a.reply, "", nil, buf)
	}
}

// --- projected state: durable store state plus the batch being built.

func (ms *stream) lastSeq() uint64 {
	last := ms.store.State().LastSeq
	if ms.batch != nil && ms.batch.last > last {
		last = ms.batch.last
	}
	return last
}

func (ms *stream) numMsgs() int64 {
	n := int64(ms.store.State().Msgs)
	if ms.batch != nil {
		n += ms.batch.msgs
	}
	return n
}

func (ms *stream) numBytes() int64 {
	n := int64(ms.store.State().Bytes)
	if ms.batch != nil {
		n += ms.batch.bytes
	}
	return n
}

// subjectState is a literal subject's projected count and last sequence.
func (ms *stream) subjectState(subj string) (count int64, last uint64) {
	ss := ms.store.SubjectState(subj)
	count, last = int64(ss.Msgs), ss.Last
	if p := ms.batch; p != nil {
		if p.removed[last] {
			last = 0
		}
		if d := p.subj[subj]; d != nil {
			count += d.count
			if d.last != 0 {
				last = d.last
			}
		}
	}
	if count <= 0 {
		return 0, 0
	}
	return count, last
}

// loadProjected loads a message that is either durable or appended to the
// batch being built, unless removed in it.
func (ms *stream) loadProjected(seq uint64) (msgstore.Msg, bool) {
	if p := ms.batch; p != nil {
		if p.removed[seq] {
			return msgstore.Msg{}, false
		}
		for i := range p.appends {
			if p.appends[i].Seq == seq {
				return p.appends[i], true
			}
		}
	}
	m, err := ms.store.Load(seq)
	return m, err == nil
}

// nextProjected is the first live message at or after seq matching filter.
func (ms *stream) nextProjected(filter string, seq uint64) (msgstore.Msg, bool) {
	for {
		m, err := ms.store.LoadNext(filter, seq)
		if err != nil {
			break
		}
		if ms.batch == nil || !ms.batch.removed[m.Seq] {
			return m, true
		}
		seq = m.Seq + 1
	}
	if p := ms.batch; p != nil {
		for i := range p.appends {
			m := p.appends[i]
			if m.Seq >= seq && !p.removed[m.Seq] && (filter == "" || subject.Matches(filter, m.Subject)) {
				return m, true
			}
		}
	}
	return msgstore.Msg{}, false
}

func (ms *stream) firstSeq() uint64 {
	m, ok := ms.nextProjected("", ms.store.State().FirstSeq)
	if !ok {
		return ms.lastSeq() + 1
	}
	return m.Seq
}

// appendMsg adds a message to the batch being built.
func (ms *stream) appendMsg(m msgstore.Msg) {
	p := ms.cur()
	p.b.Append(m)
	p.appends = append(p.appends, m)
	p.msgs++
	p.bytes += int64(ms.msgSize(&m))
	p.last = m.Seq
	d := p.subjDelta(m.Subject)
	d.count++
	d.last = m.Seq
}

// removeMsg removes a live message in the batch being built; it reports
// whether there was one.
func (ms *stream) removeMsg(seq uint64) (msgstore.Msg, bool) {
	m, ok := ms.loadProjected(seq)
	if !ok {
		return m, false
	}
	p := ms.cur()
	p.b.Remove(seq)
	if len(m.Header) > 0 {
		if v := proto.HeaderGet(m.Header, "Nats-TTL"); v != nil {
			if d, err := parseTTL(string(v)); err == nil && d > 0 {
				p.b.IndexDelete(ttlKey(m.Time+int64(d), seq))
			}
		}
	}
	if p.removed == nil {
		p.removed = make(map[uint64]bool)
	}
	p.removed[seq] = true
	ms.unschedule(&m)
	for _, c := range ms.consumers {
		c.onRemoved(m)
	}
	p.msgs--
	p.bytes -= int64(ms.msgSize(&m))
	d := p.subjDelta(m.Subject)
	d.count--
	if d.last == seq {
		d.last = 0
	}
	return m, true
}

func (p *pending) subjDelta(subj string) *subjectDelta {
	if p.subj == nil {
		p.subj = make(map[string]*subjectDelta)
	}
	d := p.subj[subj]
	if d == nil {
		d = &subjectDelta{}
		p.subj[subj] = d
	}
	return d
}

// --- publishing

// ingest turns queued publishes into one batch.
func (ms *stream) ingest(msgs []inMsg) {
	cfg := ms.config()
	ts := ms.svc.now().UnixNano()
	for i := range msgs {
		m := &msgs[i]
		if m.repl != nil {
			ms.ingestRepl(&cfg, m, ts)
			continue
		}
		if m.sub == nil && !m.marker {
			continue
		}
		if cfg.NoAck {
			m.reply = "" // no PubAck, nor an error, as nats-server's no_ack
		}
		if err := ms.store1(&cfg, m, ts); err != nil {
			if len(ms.outboxes) > 0 && isLimitRefusal(err) {
				ms.noteRefused(m.subject)
			}
			if m.confirm != nil {
				m.confirm.Done(err)
			}
			if m.reply != "" {
				ms.svc.publish(m.reply, "", nil, appendPubAckError(nil, ms.name, err))
			}
		}
	}
	ms.flush()
}

// store1 checks one publish and adds it to the batch; a nil error means
// stored (or a duplicate) and its ack (a PubAck to its reply, its Confirm
// told) queued for when the batch commits.
func (ms *stream) store1(cfg *jsapi.StreamConfig, m *inMsg, ts int64) *jsapi.Error {
	if cfg.Sealed {
		return jsapi.ErrStreamSealed
	}
	subj := m.subject
	if ms.transform != nil && !m.marker {
		if t, ok := ms.transform.Apply(subj); ok {
			subj = t
		}
	}
	size := int(ms.msgSize(&msgstore.Msg{Subject: subj, Header: m.hdr, Data: m.data}))
	if cfg.MaxMsgSize > 0 && len(m.hdr)+len(m.data) > int(cfg.MaxMsgSize) {
		return jsapi.ErrStreamMessageExceedsMaximum
	}
	var msgID string
	var ttl time.Duration
	hdr := m.hdr
	if len(hdr) > 0 {
		if v := proto.HeaderGet(hdr, "Nats-Expected-Stream"); v != nil && string(v) != ms.name {
			return jsapi.ErrStreamNotMatch
		}
		if v := proto.HeaderGet(hdr, "Nats-TTL"); v != nil {
			if !cfg.AllowMsgTTL {
				return jsapi.ErrMessageTTLDisabled
			}
			d, err := parseTTL(string(v))
			if err != nil {
				return jsapi.ErrMessageTTLInvalid
			}
			ttl = d
		}
		msgID = string(proto.HeaderGet(hdr, "Nats-Msg-Id"))
		if msgID != "" {
			ms.expireDedup(ts, cfg.Duplicates)
			if seq, ok := ms.dedup[msgID]; ok {
				ms.queueAck(m, seq, true)
				return nil
			}
		}
		if v := proto.HeaderGet(hdr, "Nats-Expected-Last-Sequence"); v != nil {
			want, _ := strconv.ParseUint(string(v), 10, 64)
			if last := ms.lastSeq(); want != last {
				return jsapi.ErrStreamWrongLastSequenceF.With("seq", strconv.FormatUint(last, 10))
			}
		}
		if v := proto.HeaderGet(hdr, "Nats-Expected-Last-Subject-Sequence"); v != nil {
			want, _ := strconv.ParseUint(string(v), 10, 64)
			check := subj
			if o := proto.HeaderGet(hdr, "Nats-Expected-Last-Subject-Sequence-Subject"); len(o) > 0 {
				check = string(o)
			}
			if _, last := ms.subjectState(check); want != last {
				return jsapi.ErrStreamWrongLastSequenceF.With("seq", strconv.FormatUint(last, 10))
			}
		}
		if v := proto.HeaderGet(hdr, "Nats-Expected-Last-Msg-Id"); v != nil && string(v) != ms.lastMsgID {
			return jsapi.ErrStreamWrongLastMsgIDF.With("id", ms.lastMsgID)
		}
	}
	var firstFire time.Time
	if !m.scheduled && !m.marker {
		var e *jsapi.Error
		if hdr, firstFire, e = ms.checkSchedule(cfg, subj, hdr, ts); e != nil {
			return e
		}
	}
	rollup := ""
	if v := proto.HeaderGet(hdr, "Nats-Rollup"); v != nil {
		if !cfg.AllowRollup || cfg.DenyPurge {
			return jsapi.ErrStreamRollupFailedF.WithErr(errors.New("rollup not permitted"))
		}
		switch string(v) {
		case "sub", "all":
			rollup = string(v)
		default:
			return jsapi.ErrStreamRollupFailedF.WithErr(fmt.Errorf("rollup value invalid: %q", v))
		}
	}
	// A schedule's rollup is the server's own: like nats-server, an
	// interest stream without consumers does not keep the schedule.
	if cfg.Retention == jsapi.InterestPolicy && len(ms.consumers) == 0 && (rollup == "" || !firstFire.IsZero()) {
		// Nobody is interested: acknowledged, assigned a sequence, not kept.
		seq := ms.lastSeq() + 1
		ms.cur().b.Skip(seq)
		ms.cur().last = seq
		ms.remember(msgID, seq, ts)
		ms.afterStore(cfg, subj, hdr, 0, time.Time{})
		ms.queueAck(m, seq, false)
		return nil
	}
	if err := ms.enforceLimitsBefore(cfg, subj, size, rollup != ""); err != nil {
		return err
	}
	if err := ms.checkAccountLimit(size); err != nil {
		return err
	}
	seq := ms.lastSeq() + 1
	if seq < cfg.FirstSeq {
		seq = cfg.FirstSeq
	}
	var prevLast uint64
	if cfg.MaxMsgsPer == 1 || ms.republish != nil {
		_, prevLast = ms.subjectState(subj)
	}
	if ms.republish != nil {
		p := ms.cur()
		if p.repubPrev == nil {
			p.repubPrev = make(map[uint64]uint64)
		}
		p.repubPrev[ms.lastSeq()+1] = prevLast
	}
	msg := msgstore.Msg{Seq: seq, Subject: subj, Header: hdr, Data: m.data, Time: ts}
	ms.appendMsg(msg)
	if ttl > 0 {
		ms.cur().b.IndexPut(ttlKey(ts+int64(ttl), seq))
	}
	switch rollup {
	case "sub":
		if cfg.MaxMsgsPer == 1 && prevLast != 0 {
			ms.removeMsg(prevLast) // the only older one: no search
			prevLast = 0
		}
		for {
			if n, _ := ms.subjectState(subj); n <= 1 {
				break // only the new message is left
			}
			old, ok := ms.nextProjected(subj, 0)
			if !ok || old.Seq >= seq {
				break
			}
			ms.removeMsg(old.Seq)
		}
	case "all":
		if first := ms.firstSeq(); first < seq {
			ms.removeRange(first, seq-1)
		}
	}
	ms.enforceLimitsAfter(cfg, subj, prevLast)
	if p := ms.cur(); !p.removed[seq] {
		ms.afterStore(cfg, subj, hdr, seq, firstFire)
	}
	ms.remember(msgID, seq, ts)
	ms.queueAck(m, seq, false)
	return nil
}

// queueAck answers m when the batch being built commits.
func (ms *stream) queueAck(m *inMsg, seq uint64, dup bool) {
	if m.reply != "" || m.confirm != nil {
		ms.cur().acks = append(ms.cur().acks, pendingAck{reply: m.reply, seq: seq, dup: dup, confirm: m.confirm})
	}
}

// remember records a message id for dedup and as the last msg id.
func (ms *stream) remember(msgID string, seq uint64, ts int64) {
	if msgID == "" {
		return
	}
	ms.lastMsgID = msgID
	ms.dedup[msgID] = seq
	ms.cur().msgIDs = append(ms.cur().msgIDs, msgID)
	ms.cur().b.IndexPut(dedupKey(ts, seq, msgID))
	ms.dedupQ = append(ms.dedupQ, dedupEntry{id: msgID, seq: seq, ts: ts})
}

func (ms *stream) expireDedup(ts int64, window time.Duration) {
	cut := ts - int64(window)
	i := 0
	for i < len(ms.dedupQ) && ms.dedupQ[i].ts <= cut {
		e := ms.dedupQ[i]
		if ms.dedup[e.id] == e.seq {
			delete(ms.dedup, e.id)
		}
		ms.cur().b.IndexDelete(dedupKey(e.ts, e.seq, e.id))
		i++
	}
	if i > 0 {
		ms.dedupQ = append(ms.dedupQ[:0], ms.dedupQ[i:]...)
	}
}

// removeRange removes every live message in [first, last].
func (ms *stream) removeRange(first, last uint64) uint64 {
	return ms.removeMatching("", first, last)
}

// removeMatching removes every live message in [first, last] whose
// subject matches filter ("" for all), returning how many.
func (ms *stream) removeMatching(filter string, first, last uint64) uint64 {
	var n uint64
	for seq := first; seq <= last; {
		m, ok := ms.nextProjected(filter, seq)
		if !ok || m.Seq > last {
			break
		}
		ms.removeMsg(m.Seq)
		n++
		seq = m.Seq + 1
	}
	return n
}

// enforceLimitsBefore applies discard-new limits to a message about to be
// stored.
func (ms *stream) enforceLimitsBefore(cfg *jsapi.StreamConfig, subj string, size int, rollup bool) *jsapi.Error {
	if cfg.Discard != jsapi.DiscardNew || rollup {
		if cfg.MaxMsgsPer > 0 && cfg.DiscardNewPer {
			if n, _ := ms.subjectState(subj); n >= cfg.MaxMsgsPer {
				return jsapi.ErrStreamStoreFailedF.With("err", "maximum messages per subject exceeded")
			}
		}
		return nil
	}
	if cfg.MaxMsgs > 0 && ms.numMsgs() >= cfg.MaxMsgs {
		return jsapi.ErrStreamStoreFailedF.With("err", "maximum messages exceeded")
	}
	if cfg.MaxBytes > 0 && ms.numBytes()+int64(size) > cfg.MaxBytes {
		return jsapi.ErrStreamStoreFailedF.With("err", "maximum bytes exceeded")
	}
	if cfg.MaxMsgsPer > 0 && cfg.DiscardNewPer {
		if n, _ := ms.subjectState(subj); n >= cfg.MaxMsgsPer {
			return jsapi.ErrStreamStoreFailedF.With("err", "maximum messages per subject exceeded")
		}
	}
	return nil
}

// enforceLimitsAfter removes the oldest messages over the stream's limits
// after a message was appended (discard old, and per-subject limits).
// prevLast is the subject's newest message before the append: with one
// message per subject (KV with history 1) it is the one to remove, found
// without a scan.
func (ms *stream) enforceLimitsAfter(cfg *jsapi.StreamConfig, subj string, prevLast uint64) {
	if cfg.MaxMsgsPer == 1 && prevLast != 0 {
		ms.limitRemove(prevLast, "max_msgs_per_subject")
	}
	if cfg.MaxMsgsPer > 0 {
		for {
			n, _ := ms.subjectState(subj)
			if n <= cfg.MaxMsgsPer {
				break
			}
			old, ok := ms.nextProjected(subj, 0)
			if !ok {
				break
			}
			ms.limitRemove(old.Seq, "max_msgs_per_subject")
		}
	}
	if cfg.Discard == jsapi.DiscardNew {
		return
	}
	for cfg.MaxMsgs > 0 && ms.numMsgs() > cfg.MaxMsgs {
		if !ms.removeFirstFor("max_msgs") {
			break
		}
	}
	for cfg.MaxBytes > 0 && ms.numBytes() > cfg.MaxBytes {
		if !ms.removeFirstFor("max_bytes") {
			break
		}
	}
}

func (ms *stream) removeFirst() bool {
	m, ok := ms.nextProjected("", ms.store.State().FirstSeq)
	if !ok {
		return false
	}
	_, ok = ms.removeMsg(m.Seq)
	return ok
}

// removeFirstFor removes the first message because the limit why took it.
func (ms *stream) removeFirstFor(why string) bool {
	m, ok := ms.nextProjected("", ms.store.State().FirstSeq)
	if !ok {
		return false
	}
	return ms.limitRemove(m.Seq, why)
}

// account brings the service's usage up to date with the stream's stored
// bytes. Only the stream's goroutine calls it (and start, before that
// goroutine runs).
func (ms *stream) account() {
	b := ms.store.State().Bytes
	ms.usage(int64(b) - int64(ms.counted))
	ms.counted = b
	if ms.file != nil {
		var d int64
		d, ms.fileFree = ms.file.DiskUsage()
		ms.svc.fileDisk.Add(d - ms.countedDisk)
		ms.countedDisk = d
	}
}

func (ms *stream) usage(delta int64) {
	switch {
	case delta == 0:
	case ms.memory():
		ms.svc.memUsed.Add(delta)
	default:
		ms.svc.fileUsed.Add(delta)
	}
}

// checkAccountLimit rejects a message that would take the service over
// its configured store limit. File storage counts its files' real sizes
// (Service.fileDiskUsage) as of the last commit, so the limit holds for
// the disk and not only for message bytes; the free pages of the stream's
// own file beyond freeChurn are subtracted, since a message fills them
// before the file grows.
func (ms *stream) checkAccountLimit(size int) *jsapi.Error {
	limit := ms.svc.cfg.MaxStore
	if ms.memory() {
		limit = ms.svc.cfg.MaxMemory
	}
	if limit <= 0 {
		return nil
	}
	mem, _ := ms.svc.usage()
	used := mem
	if !ms.memory() {
		// What the disk holds after the message: the files, less the
		// free pages of this stream's file that it fills first.
		reusable := max(ms.fileFree-freeChurn, 0)
		used = uint64(max(ms.svc.fileDiskUsage()-reusable+commitSlack, 0))
	}
	if ms.batch != nil {
		used = uint64(int64(used) + ms.batch.bytes)
	}
	if int64(used)+int64(size) > limit {
		if ms.memory() {
			return jsapi.ErrMemoryResourcesExceeded
		}
		return jsapi.ErrStorageResourcesExceeded
	}
	return nil
}

// commitSlack is what a commit may add to a file beyond its messages: the
// pages it copies (leaf, branches, bucket roots) and the free-page list
// are written before the pages they replace are free.
const commitSlack = 32 << 10

// freeChurn is how much of a file's free pages is not counted as room for
// new messages: pages the last commits freed (held while readers use them)
// and runs too short for a message spanning pages. Beyond it, free pages
// (a stream drained by expiry, say) are room, so a file emptied without a
// compaction does not hold publishing back.
const freeChurn = 256 << 10

// --- max age

// scheduleAge arms the timer for the oldest message's expiry.
func (ms *stream) scheduleAge() {
	cfg := ms.config()
	if cfg.MaxAge <= 0 {
		return
	}
	st := ms.store.State()
	if st.Msgs == 0 {
		return
	}
	at := time.Unix(0, st.FirstTime).Add(cfg.MaxAge)
	if at.Before(ms.ageHeldUntil) {
		at = ms.ageHeldUntil // the first message is held for an outbox
	}
	ms.armWake(at)
}

// armWake makes the timer fire no later than at, by the service's clock.
// The timer runs on the monotonic clock: after the wall clock jumps ahead
// (NTP on a device without a real-time clock) a wake that is already due
// by the wall clock is re-armed to fire at once, not when the timer says.
func (ms *stream) armWake(at time.Time) {
	now := ms.svc.now()
	if !ms.wakeAt.IsZero() && !at.Before(ms.wakeAt) && ms.wakeAt.After(now) {
		return
	}
	ms.wakeAt = at
	ms.wake.Reset(max(at.Sub(now), time.Millisecond))
}

// tick runs timed work: max age, consumer redelivery, heartbeats, expiry.
func (ms *stream) tick() {
	cfg := ms.config()
	ms.ageHeldUntil = time.Time{}
	if cfg.MaxAge > 0 {
		cut := ms.svc.now().Add(-cfg.MaxAge).UnixNano()
		held := false
		for {
			m, ok := ms.nextProjected("", ms.store.State().FirstSeq)
			if !ok || m.Time > cut {
				break
			}
			// An uplink's unsent message waits until this process has
			// held it for max_age too (a clock jump is not age).
			if until, hold := ms.ageHold(&m, cfg.MaxAge); hold {
				ms.ageHeldUntil = ms.svc.now().Add(time.Until(until)) // monotonic to the wall clock
				ms.armWake(ms.ageHeldUntil)
				held = true
				break
			}
			ms.expire(&cfg, m)
		}
		switch {
		case held:
		case ms.batch != nil && ms.batch.b.Len() > 0:
			ms.cur().after = append(ms.cur().after, func(error) { ms.scheduleAge() })
		default:
			ms.scheduleAge()
		}
	}
	ms.expireTTL()
	ms.fireSchedules()
	ms.armSchedules()
	for name, c := range ms.consumers {
		if c.tick() {
			ms.deleteConsumer(name)
		}
	}
}

// --- per-message TTL (Nats-TTL)

// Index key prefixes: expiring messages and message ids.
var (
	ttlPrefix   = []byte{'t'}
	dedupPrefix = []byte{'d'}
)

// ttlKey orders expiring messages in the store's index by expiry time:
// 't', expiry, sequence.
func ttlKey(expires int64, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 17), ttlPrefix...), uint64(expires))
	return binary.BigEndian.AppendUint64(k, seq)
}

// dedupKey records a message id in the store's index beside its message:
// 'd', time, sequence, id. Start-up rebuilds the duplicate window from
// these keys alone.
func dedupKey(ts int64, seq uint64, id string) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 17+len(id)), dedupPrefix...), uint64(ts))
	k = binary.BigEndian.AppendUint64(k, seq)
	return append(k, id...)
}

// scheduleTTL arms the timer for the next message expiry.
func (ms *stream) scheduleTTL() {
	if keys := ms.store.IndexScan(ttlPrefix, 1); len(keys) == 1 && len(keys[0]) == 17 {
		ms.armWake(time.Unix(0, int64(binary.BigEndian.Uint64(keys[0][1:]))))
	}
}

// expireTTL removes messages whose Nats-TTL has passed, up to 256 per
// tick; if there are more, the timer fires again once they commit.
func (ms *stream) expireTTL() {
	cut := ms.svc.now().UnixNano()
	for _, k := range ms.store.IndexScan(ttlPrefix, 256) {
		if len(k) != 17 || int64(binary.BigEndian.Uint64(k[1:])) > cut {
			break
		}
		seq := binary.BigEndian.Uint64(k[9:])
		if ms.batch != nil && ms.batch.removed[seq] {
			continue
		}
		m, ok := ms.loadProjected(seq)
		if !ok {
			ms.cur().b.IndexDelete(k) // its message went another way
			continue
		}
		cfg := ms.config()
		ms.expire(&cfg, m)
	}
	if ms.batch != nil && ms.batch.b.Len() > 0 {
		ms.cur().after = append(ms.cur().after, func(error) { ms.scheduleTTL() })
	} else {
		ms.scheduleTTL()
	}
}

// expire removes a message whose age or TTL ran out. With subject delete
// markers on and m the last message on its subject, a marker takes its
// place instead (a rollup of the subject), as nats-server does, so KV
// watchers see the key go.
func (ms *stream) expire(cfg *jsapi.StreamConfig, m msgstore.Msg) {
	if cfg.SubjectDeleteMarkerTTL > 0 && !isDeleteMarker(m.Header) {
		if n, _ := ms.subjectState(m.Subject); n == 1 {
			ttl := time.Duration(int64(cfg.SubjectDeleteMarkerTTL.Seconds())) * time.Second
			hdr := []byte("NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: " + ttl.String() + "\r\nNats-Rollup: sub\r\n\r\n")
			if err := ms.store1(cfg, &inMsg{subject: m.Subject, hdr: hdr, marker: true}, ms.svc.now().UnixNano()); err == nil {
				return
			}
		}
	}
	ms.limitRemove(m.Seq, "max_age")
}

// isDeleteMarker reports whether hdr marks a subject delete marker or a
// KV purge.
func isDeleteMarker(hdr []byte) bool {
	return len(hdr) > 0 && (proto.HeaderGet(hdr, "Nats-Marker-Reason") != nil || string(proto.HeaderGet(hdr, "KV-Operation")) == "PURGE")
}

// --- republish

func (ms *stream) doRepublish(msgs []msgstore.Msg, prev map[uint64]uint64) {
	if ms.republish == nil {
		return
	}
	cfg := ms.config()
	for i := range msgs {
		m := &msgs[i]
		dest, ok := ms.republish.Apply(m.Subject)
		if !ok {
			continue
		}
		hdr := appendHeaderLine(nil, m.Header, "Nats-Stream", ms.name)
		hdr = appendHeaderLine(hdr, nil, "Nats-Subject", m.Subject)
		hdr = appendHeaderLine(hdr, nil, "Nats-Sequence", strconv.FormatUint(m.Seq, 10))
		hdr = appendHeaderLine(hdr, nil, "Nats-Time-Stamp", time.Unix(0, m.Time).UTC().Format(time.RFC3339Nano))
		// The subject's previous sequence lets a lightweight subscriber
		// notice a gap, as nats-server's republish does.
		hdr = appendHeaderLine(hdr, nil, "Nats-Last-Sequence", strconv.FormatUint(prev[m.Seq], 10))
		data := m.Data
		if cfg.RePublish.HeadersOnly {
			hdr = appendHeaderLine(hdr, nil, "Nats-Msg-Size", strconv.Itoa(len(m.Data)))
			data = nil
		}
		ms.svc.publish(dest, "", hdr, data)
	}
}

// parseTTL parses a Nats-TTL value: a Go duration or whole seconds; "never"
// is -1.
func parseTTL(v string) (time.Duration, error) {
	if v == "never" {
		return -1, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 1 {
			return 0, errors.New("ttl must be at least 1s")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, errors.New("invalid ttl")
	}
	return d, nil
}

// seqAtTime is the first stored sequence with a time at or after ts (one
// past the last when none is): a binary search, since times rise with
// sequence.
func (ms *stream) seqAtTime(ts int64) uint64 {
	st := ms.store.State()
	lo, hi := st.FirstSeq, st.LastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := ms.store.LoadNext("", mid)
		if err != nil {
			hi = mid
			continue
		}
		if m.Time >= ts {
			hi = mid
		} else {
			lo = m.Seq + 1
		}
	}
	return lo
}

// rebuildDedup reloads the message ids published within the duplicate
// window from the store's index, so a retry after a restart is still
// recognised. It reads no messages; ids older than the window are
// dropped from the index.
func (ms *stream) rebuildDedup() {
	cfg := ms.config()
	cut := ms.svc.now().Add(-cfg.Duplicates).UnixNano()
	var stale msgstore.Batch
	for _, k := range ms.store.IndexScan(dedupPrefix, -1) {
		if len(k) < 17 {
			continue
		}
		ts, seq, id := int64(binary.BigEndian.Uint64(k[1:])), binary.BigEndian.Uint64(k[9:]), string(k[17:])
		if cfg.Duplicates <= 0 || ts <= cut {
			stale.IndexDelete(k)
			continue
		}
		ms.lastMsgID = id
		ms.dedup[id] = seq
		ms.dedupQ = append(ms.dedupQ, dedupEntry{id: id, seq: seq, ts: ts})
	}
	if stale.Len() > 0 {
		if err := applySync(ms.store, &stale); err != nil {
			ms.svc.log.Warn("jetstream: drop expired message ids", "stream", ms.name, "err", err)
		}
	}
}
