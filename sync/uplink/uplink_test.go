package uplink

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/sync/fastbatch"
)

// fakeHub stands in for a hub stream across the link: a Remote
// subscription on telemetry.> that stores what it gets once per
// Nats-Msg-Id and answers each publish with a PubAck, as nats-server's
// stream does; it can drop acknowledgements.
type fakeHub struct {
	r        *router.Router
	mu       sync.Mutex
	ids      map[string]bool
	stored   []string // payloads, in arrival order
	subjects []string
	dropAcks atomic.Int64
	got      atomic.Int64
	// slow, when set, carries the acknowledgements to one goroutine that
	// answers them in order, one per ackGap: a slow link.
	slow   chan func()
	ackGap time.Duration
	// Fast batches, as nats-server takes them with gap "fail" (a sketch
	// of it: flow acks, gaps, the commit's PubAck). loseSeq, when set,
	// loses the batch message with that batch sequence once.
	batches map[string]*fakeBatch
	loseSeq atomic.Uint64
	// noBatches: a hub before nats-server 2.14, which takes a batch's
	// messages as single publishes.
	noBatches atomic.Bool
	// refuseBatches: a stream without allow_batched, which refuses every
	// batch message with 10205 and stores none.
	refuseBatches atomic.Bool
}

type fakeBatch struct {
	lseq uint64
	dead bool
}

// batchMsg takes one fast batch message; false when reply is not one.
func (h *fakeHub) batchMsg(subj, reply, hdr, data []byte) bool {
	_, r, ok := fastbatch.ParseReply(string(reply))
	if !ok || h.noBatches.Load() {
		return false
	}
	answer := func(b []byte) {
		rep := append([]byte(nil), reply...)
		go h.r.Publish(&router.Publisher{}, rep, nil, nil, b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.batches == nil {
		h.batches = map[string]*fakeBatch{}
	}
	b := h.batches[r.ID]
	if b == nil {
		b = &fakeBatch{}
		h.batches[r.ID] = b
	}
	if b.dead {
		return true
	}
	if h.refuseBatches.Load() {
		answer([]byte(`{"error":{"code":400,"err_code":10205,"description":"batch publish is disabled"}}`))
		return true
	}
	if r.Op == fastbatch.CommitEOB {
		answer(fmt.Appendf(nil, `{"stream":"HUB","seq":%d,"batch":%q,"count":%d}`, len(h.stored), r.ID, b.lseq))
		delete(h.batches, r.ID)
		return true
	}
	if h.loseSeq.Load() == r.Seq {
		h.loseSeq.Store(0)
		return true // lost on the way
	}
	if r.Seq != b.lseq+1 {
		answer(fmt.Appendf(nil, `{"type":"gap","last_seq":%d,"seq":%d}`, b.lseq+1, r.Seq))
		b.dead = true
		return true
	}
	b.lseq++
	id := string(proto.HeaderGet(hdr, "Nats-Msg-Id"))
	if !h.ids[id] {
		h.ids[id] = true
		h.stored = append(h.stored, string(data))
		h.subjects = append(h.subjects, string(subj))
	}
	switch {
	case r.Seq == 1:
		answer(fmt.Appendf(nil, `{"type":"ack","seq":0,"msgs":%d}`, r.Flow))
	case b.lseq%uint64(r.Flow) == 0:
		answer(fmt.Appendf(nil, `{"type":"ack","seq":%d,"msgs":%d}`, b.lseq, r.Flow))
	}
	return true
}

// slowAcks makes the hub answer in order, one acknowledgement per gap.
func (h *fakeHub) slowAcks(t *testing.T, gap time.Duration) {
	h.slow, h.ackGap = make(chan func(), 1<<16), gap
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case f := <-h.slow:
				time.Sleep(h.ackGap)
				f()
			}
		}
	}()
}

func (h *fakeHub) Deliver(_ *router.Sub, subj, reply, hdr, data []byte) bool {
	return h.DeliverLink(nil, subj, subj, reply, hdr, data, nil)
}

func (h *fakeHub) DeliverLink(_ *router.Publisher, _, subj, reply, hdr, data []byte, _ []string) bool {
	h.got.Add(1)
	if h.batchMsg(subj, reply, hdr, data) {
		return false
	}
	id := string(proto.HeaderGet(hdr, "Nats-Msg-Id"))
	h.mu.Lock()
	dup := h.ids[id]
	if !dup {
		h.ids[id] = true
		h.stored = append(h.stored, string(data))
		h.subjects = append(h.subjects, string(subj))
	}
	seq := len(h.stored)
	h.mu.Unlock()
	if h.dropAcks.Add(-1) >= 0 {
		return false
	}
	// nats-server's form: the fields in its order, duplicate only when set.
	ack := fmt.Appendf(nil, `{"stream":"HUB","seq":%d}`, seq)
	if dup {
		ack = fmt.Appendf(nil, `{"stream":"HUB","seq":%d,"duplicate": true}`, seq)
	}
	// Answer from another goroutine, as the link's reader would.
	rep := append([]byte(nil), reply...)
	if h.slow != nil {
		h.slow <- func() { h.r.Publish(&router.Publisher{}, rep, nil, nil, ack) }
		return false
	}
	go h.r.Publish(&router.Publisher{}, rep, nil, nil, ack)
	return false
}

func (*fakeHub) Flush() {}

func (h *fakeHub) payloads() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.stored...)
}

type env struct {
	t   testing.TB
	r   *router.Router
	js  *jetstream.Service
	hub *fakeHub
	// hubSub is the hub's interest: unsubscribed, the link is down.
	hubSub *router.Sub
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil, 0)
}

// newEnvWith opens the store on clock (nil: time.Now), with stream T's
// max_age, and the hub's interest in place (the link up).
func newEnvWith(t testing.TB, clock func() time.Time, maxAge time.Duration) *env {
	t.Helper()
	r := router.New()
	js, err := jetstream.Open(jetstream.Config{Dir: t.TempDir(), Clock: clock}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	e := &env{t: t, r: r, js: js, hub: &fakeHub{r: r, ids: map[string]bool{}}}
	e.hubSub = &router.Sub{Subject: "telemetry.>", Receiver: e.hub, Remote: true}
	if err := r.Subscribe(e.hubSub); err != nil {
		t.Fatal(err)
	}
	e.request("$JS.API.STREAM.CREATE.T", jsapi.StreamConfig{Name: "T", Subjects: []string{"telemetry.>"}, MaxAge: maxAge})
	return e
}

// streamMsgs is how many messages stream T holds.
func (e *env) streamMsgs() uint64 {
	e.t.Helper()
	var info jsapi.StreamInfo
	if err := json.Unmarshal(e.request("$JS.API.STREAM.INFO.T", ""), &info); err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

type replyInbox struct{ ch chan []byte }

func (i replyInbox) Deliver(_ *router.Sub, _, _, _, data []byte) bool {
	i.ch <- append([]byte(nil), data...)
	return false
}
func (replyInbox) Flush() {}

func (e *env) request(subj string, body any) []byte {
	e.t.Helper()
	ib := replyInbox{ch: make(chan []byte, 1)}
	sub := &router.Sub{Subject: "_INBOX.test", Receiver: ib}
	if err := e.r.Subscribe(sub); err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = e.r.Unsubscribe(sub) }()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	e.r.Publish(&router.Publisher{}, []byte(subj), []byte("_INBOX.test"), nil, b)
	select {
	case m := <-ib.ch:
		return m
	case <-time.After(5 * time.Second):
		e.t.Fatalf("%s: no answer", subj)
		return nil
	}
}

// publish stores n messages in T (the local publishes stay local: the
// subjects are reserved once the uplink runs).
func (e *env) publish(from, n int) {
	e.t.Helper()
	for i := from; i < from+n; i++ {
		e.request(fmt.Sprintf("telemetry.d%d", i%3), fmt.Sprint(i))
	}
}

func (e *env) waitHub(n int) []string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.hub.payloads()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("hub stored %d of %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func inOrder(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("hub stored %d, want %d", len(got), n)
	}
	for i, p := range got {
		if p != fmt.Sprint(i) {
			t.Fatalf("hub message %d is %q", i, p)
		}
	}
}

func (e *env) waitStatus(u *Uplink, cond func(Status) bool) Status {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.updateStatusNow()
		st := u.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("status %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Local publishes on the uplink's subjects do not reach the hub as core
// messages; the uplink's do, once each, in order; work-queue mode removes
// what the hub acknowledged.
func TestUplinkWorkQueue(t *testing.T) {
	e := newEnv(t)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", WorkQueue: true}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	e.waitStatus(u, func(Status) bool { return e.r.Reserved([]byte("telemetry.x")) })
	e.publish(0, 50)
	inOrder(t, e.waitHub(50), 50)
	e.waitStatus(u, func(s Status) bool { return s.Confirmed == 50 })
	deadline := time.Now().Add(5 * time.Second)
	for {
		var si struct {
			jsapi.StreamInfo
		}
		_ = json.Unmarshal(e.request("$JS.API.STREAM.INFO.T", ""), &si)
		if si.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("T still holds %d after the hub acknowledged everything", si.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.hub.got.Load(); got != 50 {
		t.Fatalf("hub got %d deliveries, want 50 (no core copies, no resends)", got)
	}
}

// Acknowledgements lost with the link up: the uplink finds itself stalled
// after ack_wait, resends, and the hub's deduplication keeps one copy.
func TestUplinkStallResends(t *testing.T) {
	e := newEnv(t)
	e.hub.dropAcks.Store(5)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", AckWait: 300 * time.Millisecond}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	e.publish(0, 20)
	st := e.waitStatus(u, func(s Status) bool { return s.Confirmed == 20 })
	if st.Stalls == 0 || st.Resent == 0 || st.Duplicates == 0 {
		t.Fatalf("status %+v: want a stall, resends and duplicates", st)
	}
	inOrder(t, e.hub.payloads(), 20)
}

// With a probe (the links' round trip), a stalled uplink resends only
// once the probe came back: until then the hub may not have read the
// publish (a slow link); after it, and a grace, the acknowledgement was
// lost.
func TestUplinkStallWaitsForProbe(t *testing.T) {
	e := newEnv(t)
	e.hub.dropAcks.Store(1)
	var answered atomic.Bool
	probes := atomic.Int64{}
	probe := func() func() bool {
		probes.Add(1)
		return answered.Load
	}
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", AckWait: 200 * time.Millisecond, Probe: probe}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	e.publish(0, 5)
	time.Sleep(time.Second) // five ack_waits, the probe unanswered
	if st := u.Status(); st.Stalls != 0 || st.Resent != 0 || st.Confirmed != 0 || probes.Load() == 0 {
		t.Fatalf("status %+v, %d probes: want a probe and no resend while it is out", st, probes.Load())
	}
	answered.Store(true)
	st := e.waitStatus(u, func(s Status) bool { return s.Confirmed == 5 })
	if st.Stalls != 1 || st.Resent == 0 {
		t.Fatalf("status %+v: want one stall and the lost message resent", st)
	}
	inOrder(t, e.hub.payloads(), 5)
}

// A device without a real-time clock: telemetry stored before NTP synced
// is stamped ten years behind, while the link is down. NTP syncs (the
// clock jumps ten years ahead) with max_age 1 h: the stream keeps the
// unsent backlog, and the uplink sends every message once the link is
// back. Once confirmed, the messages age out as usual.
func TestUplinkClockJump(t *testing.T) {
	var offset atomic.Int64
	offset.Store(int64(-10 * 365 * 24 * time.Hour))
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnvWith(t, clock, time.Hour)
	if err := e.r.Unsubscribe(e.hubSub); err != nil { // the link is down
		t.Fatal(err)
	}
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw"}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	e.waitStatus(u, func(s Status) bool { return s.State != "waiting for stream" })
	e.publish(0, 50)

	offset.Store(0)  // NTP: ten years pass at once
	e.publish(50, 1) // a message stored now: the stream looks again
	time.Sleep(300 * time.Millisecond)
	if n := e.streamMsgs(); n != 51 {
		t.Fatalf("after the clock jump the stream holds %d, want the 51 unsent", n)
	}
	if st := e.waitStatus(u, func(s Status) bool { return s.BacklogMsgs == 51 }); st.Dropped.Msgs != 0 {
		t.Fatalf("dropped %+v", st.Dropped)
	}

	if err := e.r.Subscribe(e.hubSub); err != nil { // the link is back
		t.Fatal(err)
	}
	e.waitStatus(u, func(s Status) bool { return s.Confirmed == 51 })
	inOrder(t, e.hub.payloads(), 51)
	// Confirmed, the fifty stamped ten years ago are past max_age.
	deadline := time.Now().Add(10 * time.Second)
	for e.streamMsgs() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d once they were sent, want 1 (the fifty aged out)", e.streamMsgs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Fast batches: a backlog goes up in batches, acknowledged by flow acks
// and commits. A message lost inside a batch makes the hub report a gap
// and drop the batch; the uplink goes back, starts a new batch, and the
// hub ends with every message once, in order.
func TestUplinkFastBatchGap(t *testing.T) {
	e := newEnv(t)
	e.hub.loseSeq.Store(50)
	e.r.ReserveUpstream([]string{"telemetry.>"}) // a backlog the hub did not get
	e.publish(0, 3000)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", FastBatch: BatchOn}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	st := e.waitStatus(u, func(s Status) bool { return s.Confirmed == 3000 })
	if st.Batches == 0 || st.Resent == 0 || e.hub.loseSeq.Load() != 0 {
		t.Fatalf("status %+v: want batches committed and the lost message's batch resent", st)
	}
	t.Logf("status %+v", st)
	inOrder(t, e.hub.payloads(), 3000)
}

// Under BatchAuto a broken batch (here a lost message; in the field, an
// uplink whose subjects go into several hub streams) ends batching for
// the catch-up instead of being resent as a batch: every message once,
// in order.
func TestUplinkFastBatchAutoGap(t *testing.T) {
	e := newEnv(t)
	e.hub.loseSeq.Store(50)
	e.r.ReserveUpstream([]string{"telemetry.>"})
	e.publish(0, 3000)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", FastBatch: BatchAuto}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	st := e.waitStatus(u, func(s Status) bool { return s.Confirmed == 3000 })
	if st.Batches != 0 || st.Resent == 0 || e.hub.loseSeq.Load() != 0 {
		t.Fatalf("status %+v: want the broken batch resent one by one, and no batch committed", st)
	}
	inOrder(t, e.hub.payloads(), 3000)
}

// A hub that does not know fast batches (before nats-server 2.14) answers
// each as a single publish: the uplink turns batching off, resends one by
// one, and never sends an end-of-batch commit (which that hub would store
// as an empty message). With fast_batch true it says why in its status;
// unset (BatchAuto) it reports no error. Batches are tried again only at
// a catch-up after the retry time.
func TestUplinkFastBatchOldHub(t *testing.T) {
	for _, tc := range []struct {
		mode    BatchMode
		wantErr string
	}{
		{BatchOn, "does not know fast batches"},
		{BatchAuto, ""},
	} {
		e := newEnv(t)
		e.hub.noBatches.Store(true)
		e.r.ReserveUpstream([]string{"telemetry.>"})
		e.publish(0, 3000)
		set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", FastBatch: tc.mode}}, e.js, e.r, nil)
		st := e.waitStatus(set.uplinks[0], func(s Status) bool { return s.Confirmed == 3000 })
		set.Close()
		if st.Batches != 0 || tc.wantErr == "" && st.LastError != "" || !strings.Contains(st.LastError, tc.wantErr) {
			t.Fatalf("mode %d: status %+v: want batching turned off, and last error %q", tc.mode, st, tc.wantErr)
		}
		inOrder(t, e.hub.payloads(), 3000) // no empty commit message among them
	}
}

// A slow link: the hub's acknowledgements come in order but a window of
// them takes several times ack_wait. The uplink is making progress, so it
// does not count a stall nor resend anything.
func TestUplinkSlowLinkNoStall(t *testing.T) {
	e := newEnv(t)
	e.hub.slowAcks(t, 5*time.Millisecond) // 200 acks: 1 s
	e.r.ReserveUpstream([]string{"telemetry.>"})
	e.publish(0, 200)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", AckWait: 250 * time.Millisecond}}, e.js, e.r, nil)
	defer set.Close()
	u := set.uplinks[0]
	st := e.waitStatus(u, func(s Status) bool { return s.Confirmed == 200 })
	if st.Stalls != 0 || st.Resent != 0 || e.hub.got.Load() != 200 {
		t.Fatalf("status %+v, %d publishes: a slow link taken for a stall", st, e.hub.got.Load())
	}
	inOrder(t, e.hub.payloads(), 200)
}

// The rate caps catching up: with 100 messages/s, half a second sends at
// most about 60 of a 500-message backlog (an upper bound: a slow machine
// sends fewer, never more).
func TestUplinkRate(t *testing.T) {
	e := newEnv(t)
	e.r.ReserveUpstream([]string{"telemetry.>"}) // a backlog the hub did not get
	e.publish(0, 500)
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", Rate: 100}}, e.js, e.r, nil)
	defer set.Close()
	time.Sleep(500 * time.Millisecond)
	if got := e.hub.got.Load(); got > 70 {
		t.Fatalf("%d sent in 0.5 s at 100/s", got)
	}
}

// While a paced backlog drains, live messages on a subject that has no
// backlog reach the hub at once; live ones on a backlogged subject come
// after that subject's backlog; every subject stays in order.
func TestUplinkLiveNotStarved(t *testing.T) {
	e := newEnv(t)
	e.r.ReserveUpstream([]string{"telemetry.>"})
	e.publish(0, 600) // telemetry.d0..d2
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", Rate: 200, MaxInflight: 16}}, e.js, e.r, nil)
	defer set.Close()
	time.Sleep(200 * time.Millisecond)
	e.request("telemetry.new", "live-1")
	e.request("telemetry.d0", "live-d0")
	e.request("telemetry.new", "live-2")
	// The live messages on telemetry.new arrive long before the backlog
	// (600 at 200/s: about 3 s) is through.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.hub.mu.Lock()
		n, seen := len(e.hub.stored), 0
		for _, p := range e.hub.stored {
			if p == "live-1" || p == "live-2" {
				seen++
			}
		}
		e.hub.mu.Unlock()
		if seen == 2 {
			if n >= 500 {
				t.Fatalf("live messages arrived only after %d backlog ones", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("live messages never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := e.waitHub(603)
	e.hub.mu.Lock()
	subjects := append([]string(nil), e.hub.subjects...)
	e.hub.mu.Unlock()
	// Per subject, in publish order.
	last := map[string]int{}
	for i, p := range got {
		subj := subjects[i]
		if p == "live-d0" {
			if last["telemetry.d0"] != 597 {
				t.Fatalf("live-d0 arrived after d0's message %d, want after its last backlog one (597)", last["telemetry.d0"])
			}
			continue
		}
		var v int
		if _, err := fmt.Sscan(p, &v); err != nil {
			continue // live-1, live-2
		}
		if prev, ok := last[subj]; ok && v <= prev {
			t.Fatalf("%s: %d after %d", subj, v, prev)
		}
		last[subj] = v
	}
	st := e.waitStatus(set.uplinks[0], func(s Status) bool { return s.Confirmed == 603 })
	if st.Sent != 603 {
		t.Fatalf("sent %d, want 603 (nothing twice)", st.Sent)
	}
}

func TestParsePubAck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want pubAck
	}{
		{`{"stream":"HUB","seq":42}`, true, pubAck{Stream: "HUB", Seq: 42}},
		{`{"stream":"HUB","domain":"hub","seq":42}`, true, pubAck{Stream: "HUB", Seq: 42}}, // nats-server with a domain
		{`{"stream":"HUB","domain":"hub","seq":42,"duplicate": true}`, true, pubAck{Stream: "HUB", Seq: 42, Duplicate: true}},
		{`{"stream":"HUB","seq":42,"domain":"hub"}`, false, pubAck{}}, // not nats-server's order: json reads it
		{`{"stream":"HUB","seq":42,"duplicate":true}`, true, pubAck{Stream: "HUB", Seq: 42, Duplicate: true}},
		{`{"stream":"HUB","seq":42,"duplicate": true}`, true, pubAck{Stream: "HUB", Seq: 42, Duplicate: true}}, // nats-server's
		{`{"stream":"HUB","seq":42,"duplicate": true,"batch":"b","count":3}`, false, pubAck{}},
		{`{"error":{"code":503,"description":"x"}}`, false, pubAck{}},
		{`{"stream":"H\"UB","seq":1}`, false, pubAck{}},
		{`{"stream":"HUB","seq":}`, false, pubAck{}},
		{`{"stream":"HUB","seq":1,"batch":"x"}`, false, pubAck{}},
		{`{"stream":"HUB","seq":1`, false, pubAck{}},
	} {
		var pa pubAck
		ok := parsePubAck([]byte(tc.in), &pa)
		if ok != tc.ok || (ok && (pa.Stream != tc.want.Stream || pa.Seq != tc.want.Seq || pa.Duplicate != tc.want.Duplicate)) {
			t.Errorf("%s: %v %+v", tc.in, ok, pa)
		}
		if ok {
			var js pubAck
			if err := json.Unmarshal([]byte(tc.in), &js); err != nil || js.Stream != pa.Stream || js.Seq != pa.Seq || js.Duplicate != pa.Duplicate {
				t.Errorf("%s: fast %+v, json %+v %v", tc.in, pa, js, err)
			}
		}
	}
}

// Whatever the hub sends, the fast parser agrees with encoding/json when
// it accepts.
func FuzzParsePubAck(f *testing.F) {
	for _, s := range []string{`{"stream":"HUB","seq":42}`, `{"stream":"HUB","domain":"hub","seq":42,"duplicate": true}`, `{"stream":"HUB","seq":42,"duplicate": true}`, `{"error":{}}`, `{"stream":"","seq":0}`, `{"stream":"","seq":00}`, "{\"stream\":\"\xa2\",\"seq\":0}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pa pubAck
		if !parsePubAck(b, &pa) {
			return
		}
		var js pubAck
		if err := json.Unmarshal(b, &js); err != nil || js.Stream != pa.Stream || js.Seq != pa.Seq || js.Duplicate != pa.Duplicate {
			t.Fatalf("%q: fast %+v, json %+v %v", b, pa, js, err)
		}
	})
}

// BenchmarkUplinkCatchUp drains a backlog into a stand-in hub that
// acknowledges at once: the uplink's own cost per message (and the
// stand-in's, which a profile tells apart).
func BenchmarkUplinkCatchUp(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnvWith(b, nil, 0)
		e.r.ReserveUpstream([]string{"telemetry.>"})
		const n = 20_000
		e.publishFast(n)
		b.StartTimer()
		set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw"}}, e.js, e.r, nil)
		u := set.uplinks[0]
		for {
			u.updateStatusNow()
			if u.Status().Confirmed == n {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		set.Close()
		b.ReportMetric(float64(n), "msgs/op")
	}
}

// publishFast stores n messages without waiting for each acknowledgement.
func (e *env) publishFast(n int) {
	e.t.Helper()
	payload := make([]byte, 128)
	for i := range n {
		e.r.Publish(&router.Publisher{}, []byte(fmt.Sprintf("telemetry.d%d", i%100)), nil, nil, payload)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.streamMsgs() < uint64(n) {
		if time.Now().After(deadline) {
			e.t.Fatalf("stored %d of %d", e.streamMsgs(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Answers on a batch reply subject: the hub's JSON, and a status without
// a body, which is an error (not dropped, so the uplink says why and goes
// back at once); anything else is not a batch answer.
func TestParseBatchAnswer(t *testing.T) {
	reply := string(fastbatch.AppendReply(nil, "_INBOX.upl.b.", fastbatch.Reply{ID: "B1", Flow: 128, Seq: 3, Op: fastbatch.Append}))
	for _, tc := range []struct {
		subj, hdr, data string
		ok              bool
		kind            fastbatch.Kind
		err             bool
	}{
		{reply, "", `{"type":"ack","seq":3,"msgs":128}`, true, fastbatch.FlowAck, false},
		{reply, "NATS/1.0 503\r\n\r\n", "", true, fastbatch.PubAck, true},
		{reply, "", "", false, 0, false},
		{"_INBOX.upl.7", "", `{"stream":"S","seq":1}`, false, 0, false},
	} {
		a, ok := parseBatchAnswer([]byte(tc.subj), []byte(tc.hdr), []byte(tc.data))
		if ok != tc.ok || ok && (a.batch.id != "B1" || a.batch.Kind != tc.kind || (a.batch.Error != nil) != tc.err) {
			t.Errorf("%q %q %q: %+v %v", tc.subj, tc.hdr, tc.data, a, ok)
		}
	}
}

func TestRetryBatches(t *testing.T) {
	u := &Uplink{}
	t0 := time.Now()
	u.batchOff, u.batchRetry = true, t0
	if u.retryBatches(t0.Add(-time.Second)); !u.batchOff {
		t.Fatal("batches tried again before the retry time")
	}
	if u.retryBatches(t0); u.batchOff {
		t.Fatal("batches not tried again at the retry time")
	}
}

// A hub stream that refuses batches. While the link is down a catch-up
// starts, and the stream's max_msgs then drops most of its backlog, so
// when the link returns the backlog left is less than a window: the
// cursor reaches the live messages before the hub's refusal of the batch
// comes back. Nothing may go before the refused batch messages are resent
// (a single publish sent then overtook them): every subject reaches the
// hub in order, and nothing the limit kept is lost.
func TestUplinkRefusedBatchKeepsSubjectOrder(t *testing.T) {
	e := newEnv(t)
	e.hub.refuseBatches.Store(true)
	e.r.ReserveUpstream([]string{"telemetry.>"})
	e.request("$JS.API.STREAM.UPDATE.T", jsapi.StreamConfig{Name: "T", Subjects: []string{"telemetry.>"}, MaxMsgs: 1000})
	if err := e.r.Unsubscribe(e.hubSub); err != nil { // the link is down
		t.Fatal(err)
	}
	e.publish(0, 2000) // max_msgs keeps 1001..2000
	set := StartSet([]Config{{Stream: "T", Filter: "telemetry.>", Gateway: "gw", FastBatch: BatchAuto}}, e.js, e.r, testLog(t))
	defer set.Close()
	u := set.uplinks[0]
	// The uplink finds itself behind: a catch-up, live from 2001 on.
	// max_msgs then keeps 1501..2500: a backlog of 500.
	e.waitStatus(u, func(s Status) bool { return s.State == "link down" })
	e.publish(2000, 500)
	if err := e.r.Subscribe(e.hubSub); err != nil { // the link is back
		t.Fatal(err)
	}
	e.waitStatus(u, func(s Status) bool { return s.Confirmed == 2500 })
	got := e.hub.payloads()
	e.hub.mu.Lock()
	subjects := append([]string(nil), e.hub.subjects...)
	e.hub.mu.Unlock()
	if len(got) != 1000 {
		t.Fatalf("hub stored %d, want 1000", len(got))
	}
	last := map[string]int{}
	for i, p := range got {
		v, _ := strconv.Atoi(p)
		if prev, ok := last[subjects[i]]; ok && v < prev || v < 1500 {
			t.Fatalf("%s: %d stored after %d (of %q)", subjects[i], v, prev, got)
		}
		last[subjects[i]] = v
	}
}

// testLog logs to the test.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
