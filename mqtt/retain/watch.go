package retain

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// The watch is how the index follows the bucket: an ephemeral push
// consumer, as nats.go's KV watcher uses (deliver last per subject, ack
// none, idle heartbeats), whose deliveries come to a private subject of
// the router. It delivers the last value of every key, then every new
// write, in stream order, each with its stream sequence in the ack reply
// subject; the index relies on that order (see index).
//
// If the consumer goes (deleted by an operator, JetStream restarted) the
// heartbeats stop, or a gap in its delivery sequence shows a lost message;
// then the watch starts again with a new consumer, and keys it no longer
// delivers are dropped at the end of that sync (index.endSync).

// watch is the state of the current consumer, owned by the watch
// goroutine (and by Open before that starts).
type watch struct {
	cid     uint64 // generation: deliveries of older consumers are dropped
	name    string // consumer name
	sub     *router.Sub
	dseq    uint64    // last consumer sequence delivered
	pending uint64    // num_pending when the consumer was created
	got     uint64    // deliveries since
	synced  bool      // the whole bucket has been delivered
	active  time.Time // last delivery or heartbeat
	loaded  chan struct{}
}

// item is one piece of work for the watch goroutine: a delivery for
// consumer generation cid, or a callback to run.
type item struct {
	cid         uint64
	subj, reply string
	hdr, data   []byte
	fn          func()
}

// work is the watch goroutine's queue. Router deliveries run on the
// publisher's goroutine and must not block, so they copy into it and
// return; it grows as needed (the initial load of a large bucket arrives
// at once).
type work struct {
	mu     sync.Mutex
	items  []item
	closed bool
	wake   chan struct{} // cap 1
}

func newWork() work { return work{wake: make(chan struct{}, 1)} }

// put queues it, reporting false after close.
func (w *work) put(it item) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.items = append(w.items, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// take swaps the queue for buf (emptied).
func (w *work) take(buf []item) []item {
	w.mu.Lock()
	defer w.mu.Unlock()
	items := w.items
	w.items = buf[:0]
	return items
}

// close stops the queue and returns the callbacks still in it.
func (w *work) close() []func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	var fns []func()
	for _, it := range w.items {
		if it.fn != nil {
			fns = append(fns, it.fn)
		}
	}
	w.items = nil
	return fns
}

// receiver delivers one consumer's messages into the work queue.
type receiver struct {
	s   *Store
	cid uint64
}

func (rc *receiver) Deliver(_ *router.Sub, subj, reply, hdr, data []byte) bool {
	// The payload gets its own allocation: the index keeps it.
	it := item{cid: rc.cid, subj: string(subj), reply: string(reply), data: append([]byte(nil), data...)}
	if len(hdr) > 0 {
		it.hdr = append([]byte(nil), hdr...)
	}
	rc.s.work.put(it)
	return false
}

func (*receiver) Flush() {}

// loop is the watch goroutine.
func (s *Store) loop() {
	defer s.wg.Done()
	dog := time.NewTicker(s.hb)
	defer dog.Stop()
	exp := time.NewTimer(time.Hour)
	defer exp.Stop()
	s.armExpiry(exp)
	var buf []item
	for {
		select {
		case <-s.quit:
			return
		case <-s.work.wake:
			buf = s.work.take(buf)
			s.handle(buf)
			clear(buf)
		case <-s.kick:
		case <-exp.C:
			s.mu.Lock()
			s.ix.expire(time.Now().UnixNano())
			s.mu.Unlock()
		case <-dog.C:
			// Deliveries and heartbeats already queued count.
			buf = s.work.take(buf)
			s.handle(buf)
			clear(buf)
			if time.Since(s.w.active) > 3*s.hb {
				s.log.Warn("mqtt retained messages: the bucket watch went quiet; starting it again", "bucket", s.bucket, "consumer", s.w.name)
				s.restartWatch()
			}
		}
		s.armExpiry(exp)
	}
}

// armExpiry sets t for the next expiry.
func (s *Store) armExpiry(t *time.Timer) {
	s.mu.RLock()
	next := s.ix.nextExpiry()
	s.mu.RUnlock()
	d := time.Hour
	if next != 0 {
		d = max(time.Until(time.Unix(0, next)), 0)
	}
	t.Reset(d)
}

// restartWatch replaces the consumer, on the watch goroutine.
func (s *Store) restartWatch() {
	s.stopWatch()
	if err := s.startWatch(context.Background()); err != nil {
		// The watchdog tries again.
		s.log.Warn("mqtt retained messages: cannot watch the bucket", "bucket", s.bucket, "err", err)
	}
}

// startWatch subscribes a fresh deliver subject and creates a consumer
// delivering to it, from the last value of every key.
func (s *Store) startWatch(ctx context.Context) error {
	s.w.cid++
	s.w.dseq, s.w.got, s.w.pending, s.w.synced = 0, 0, 0, false
	s.w.name = ""
	s.w.active = time.Now()
	deliver := "_INBOX." + rand.Text()
	s.w.sub = &router.Sub{Subject: deliver, Receiver: &receiver{s: s, cid: s.w.cid}, Local: true}
	if err := s.r.Subscribe(s.w.sub); err != nil {
		s.w.sub = nil
		return err
	}
	s.mu.Lock()
	s.ix.startSync()
	s.mu.Unlock()
	req := jsapi.CreateConsumerRequest{
		Stream: s.stream,
		Config: jsapi.ConsumerConfig{
			Description:    "mqtt retained messages watch",
			DeliverPolicy:  jsapi.DeliverLastPerSubject,
			AckPolicy:      jsapi.AckNone,
			FilterSubject:  s.prefix + ">",
			ReplayPolicy:   jsapi.ReplayInstant,
			DeliverSubject: deliver,
			Heartbeat:      s.hb,
			MemoryStorage:  true,
			Replicas:       1,
		},
		Action: jsapi.ActionCreate,
	}
	var resp consumerResp
	if err := s.api(ctx, "CONSUMER.CREATE."+s.stream, req, &resp); err != nil {
		return fmt.Errorf("watch bucket %s: %w", s.bucket, err)
	}
	s.w.name = resp.Name
	s.w.pending = resp.NumPending
	if s.w.pending == 0 {
		s.synced()
	}
	return nil
}

type consumerResp struct {
	jsapi.Response
	jsapi.ConsumerInfo
}

func (r *consumerResp) apiError() *jsapi.Error { return r.Error }

// stopWatch drops the current consumer's subscription and deletes it
// (without waiting: an ephemeral consumer nobody listens to goes by
// itself soon anyway).
func (s *Store) stopWatch() {
	if s.w.sub != nil {
		_ = s.r.Unsubscribe(s.w.sub)
		s.w.sub = nil
	}
	if s.w.name != "" {
		s.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.DELETE."+s.stream+"."+s.w.name), nil, nil, nil)
		s.w.name = ""
	}
}

// synced ends the current sync: the index holds the whole bucket.
func (s *Store) synced() {
	if s.w.synced {
		return
	}
	s.w.synced = true
	s.mu.Lock()
	s.ix.endSync()
	s.mu.Unlock()
	if s.w.loaded != nil {
		close(s.w.loaded)
		s.w.loaded = nil
	}
}

// handle processes a batch of work in order.
func (s *Store) handle(items []item) {
	for i := range items {
		it := &items[i]
		switch {
		case it.fn != nil:
			it.fn()
		case it.cid != s.w.cid:
			// From a consumer replaced since.
		case !strings.HasPrefix(it.subj, s.prefix):
			s.control(it)
		default:
			s.delivered(it)
		}
	}
}

// control handles a status message on the deliver subject: an idle
// heartbeat (the consumer is alive and has nothing more to deliver) or a
// flow control request.
func (s *Store) control(it *item) {
	s.w.active = time.Now()
	if it.reply != "" {
		// Flow control: answer so delivery goes on.
		s.r.Publish(&router.Publisher{}, []byte(it.reply), nil, nil, nil)
	}
	if last := proto.HeaderGet(it.hdr, "Nats-Last-Consumer"); last != nil {
		if n, err := strconv.ParseUint(string(last), 10, 64); err == nil && n > s.w.dseq {
			s.log.Warn("mqtt retained messages: the bucket watch missed messages; starting it again", "bucket", s.bucket, "delivered", s.w.dseq, "consumer_seq", n)
			s.restartWatch()
			return
		}
	}
	if !s.w.synced && bytes.Contains(it.hdr, []byte("Idle Heartbeat")) {
		s.checkSynced()
	}
}

// checkSynced asks the consumer whether it has delivered everything, for
// a sync whose pending count does not add up (the initial count includes
// values removed before they could be delivered). A heartbeat alone does
// not say so: the first one may come before the first delivery.
func (s *Store) checkSynced() {
	var info consumerResp
	if err := s.api(context.Background(), "CONSUMER.INFO."+s.stream+"."+s.w.name, nil, &info); err != nil {
		s.log.Debug("mqtt retained messages: watch consumer info", "bucket", s.bucket, "err", err)
		return
	}
	if info.NumPending == 0 && info.Delivered.Consumer == s.w.dseq {
		s.synced()
	}
}

// delivered applies one stored message the consumer delivered.
func (s *Store) delivered(it *item) {
	s.w.active = time.Now()
	md, ok := parseAckReply(it.reply)
	if !ok {
		s.log.Warn("mqtt retained messages: delivery without metadata", "bucket", s.bucket, "subject", it.subj, "reply", it.reply)
		return
	}
	if md.dseq != s.w.dseq+1 {
		s.log.Warn("mqtt retained messages: the bucket watch skipped messages; starting it again", "bucket", s.bucket, "want", s.w.dseq+1, "got", md.dseq)
		s.restartWatch()
		return
	}
	s.w.dseq = md.dseq
	key := it.subj[len(s.prefix):]
	if topic, ok := TopicOf(key); ok {
		e := &entry{key: key, topic: topic, seq: md.sseq, hi: -1}
		if deleted(it.hdr) {
			e.gone = true
		} else {
			e.expires = storedExpiry(it.hdr, md.ts)
			e.hdr = handedHeader(userHeader(it.hdr), e.expires)
			e.payload = it.data
		}
		s.mu.Lock()
		s.ix.fromWatch(e, time.Now().UnixNano())
		if len(s.ix.tombs) > 0 {
			s.ix.pruneTombs()
		}
		s.mu.Unlock()
	} else {
		s.log.Debug("mqtt retained messages: key is no MQTT topic's; ignored", "bucket", s.bucket, "key", key)
		s.mu.Lock()
		s.ix.seen = max(s.ix.seen, md.sseq)
		s.mu.Unlock()
	}
	s.w.got++
	if !s.w.synced && (md.pending == 0 || s.w.pending > 0 && s.w.got >= s.w.pending) {
		s.synced()
	}
}

// ackMeta is what a delivery's ack reply subject says.
type ackMeta struct {
	sseq, dseq uint64
	ts         int64
	pending    uint64
}

// parseAckReply reads $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.
// <dseq>.<ts>.<pending>, or the newer form with domain and account hash
// after $JS.ACK (and perhaps a random token at the end).
func parseAckReply(reply string) (ackMeta, bool) {
	toks := strings.Split(reply, ".")
	var base int
	switch {
	case len(toks) == 9:
		base = 4
	case len(toks) >= 11:
		base = 6
	default:
		return ackMeta{}, false
	}
	if toks[0] != "$JS" || toks[1] != "ACK" {
		return ackMeta{}, false
	}
	var n [4]uint64
	for i := range n {
		v, err := strconv.ParseUint(toks[base+1+i], 10, 64)
		if err != nil {
			return ackMeta{}, false
		}
		n[i] = v
	}
	return ackMeta{sseq: n[0], dseq: n[1], ts: int64(n[2]), pending: n[3]}, true
}
