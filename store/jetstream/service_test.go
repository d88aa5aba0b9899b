package jetstream

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// inbox is an internal client: it subscribes a subject on the router and
// collects what arrives.
type inbox struct {
	mu   sync.Mutex
	msgs []inMsg
	sig  chan struct{}
}

func (ib *inbox) Deliver(_ *router.Sub, subj, reply, hdr, data []byte) bool {
	ib.mu.Lock()
	ib.msgs = append(ib.msgs, inMsg{subject: string(subj), reply: string(reply), hdr: append([]byte(nil), hdr...), data: append([]byte(nil), data...)})
	ib.mu.Unlock()
	select {
	case ib.sig <- struct{}{}:
	default:
	}
	return false
}
func (ib *inbox) Flush() {}

func newInbox(t *testing.T, r *router.Router, subj string) *inbox {
	t.Helper()
	ib := &inbox{sig: make(chan struct{}, 1)}
	sub := &router.Sub{Subject: subj, Receiver: ib}
	if err := r.Subscribe(sub); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Unsubscribe(sub) })
	return ib
}

// wait returns the n-th message (0-based) within d, or fails.
func (ib *inbox) wait(t *testing.T, n int, d time.Duration) inMsg {
	t.Helper()
	deadline := time.After(d)
	for {
		ib.mu.Lock()
		if len(ib.msgs) > n {
			m := ib.msgs[n]
			ib.mu.Unlock()
			return m
		}
		ib.mu.Unlock()
		select {
		case <-ib.sig:
		case <-deadline:
			t.Fatalf("no message %d within %v", n, d)
		}
	}
}

func (ib *inbox) count() int {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return len(ib.msgs)
}

type env struct {
	t   *testing.T
	r   *router.Router
	svc *Service
	dir string
	seq int
}

func openEnv(t *testing.T, dir string) *env {
	t.Helper()
	r := router.New()
	svc, err := Open(Config{Dir: dir}, r)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, r: r, svc: svc, dir: dir}
	t.Cleanup(func() { _ = svc.Close() })
	return e
}

// request publishes data to subj with a fresh reply inbox and returns the
// answer.
func (e *env) request(subj string, data any) inMsg {
	e.t.Helper()
	e.seq++
	reply := fmt.Sprintf("_INBOX.test.%d", e.seq)
	ib := &inbox{sig: make(chan struct{}, 1)}
	sub := &router.Sub{Subject: reply, Receiver: ib}
	if err := e.r.Subscribe(sub); err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = e.r.Unsubscribe(sub) }()
	var body []byte
	switch v := data.(type) {
	case nil:
	case []byte:
		body = v
	case string:
		body = []byte(v)
	default:
		body, _ = json.Marshal(v)
	}
	e.r.Publish(&router.Publisher{}, []byte(subj), []byte(reply), nil, body)
	return ib.wait(e.t, 0, 5*time.Second)
}

func (e *env) api(subj string, req, resp any) {
	e.t.Helper()
	m := e.request("$JS.API."+subj, req)
	if err := json.Unmarshal(m.data, resp); err != nil {
		e.t.Fatalf("%s: %v: %s", subj, err, m.data)
	}
}

func (e *env) createStream(cfg jsapi.StreamConfig) {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.CREATE."+cfg.Name, cfg, &resp)
	if resp.Error != nil {
		e.t.Fatalf("create stream: %+v", resp.Error)
	}
}

func (e *env) publish(subj, data string) jsapi.PubAckResponse {
	e.t.Helper()
	m := e.request(subj, data)
	var ack jsapi.PubAckResponse
	if err := json.Unmarshal(m.data, &ack); err != nil {
		e.t.Fatalf("pub ack %q: %v", m.data, err)
	}
	return ack
}

// A PubAck is sent only after the message's transaction has committed:
// hold the commit back and no ack arrives; release it and the ack does.
func TestPubAckWaitsForCommit(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	file := e.svc.lookup("S").file
	file.SetBeforeCommit(func() {
		select {
		case held <- struct{}{}:
		default:
		}
		<-hold
	})
	reply := "_INBOX.held"
	ib := newInbox(t, e.r, reply)
	e.r.Publish(&router.Publisher{}, []byte("s.1"), []byte(reply), nil, []byte("x"))
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("commit never started")
	}
	time.Sleep(100 * time.Millisecond)
	if n := ib.count(); n != 0 {
		t.Fatalf("%d acks before the commit finished", n)
	}
	file.SetBeforeCommit(nil)
	close(hold)
	m := ib.wait(t, 0, 5*time.Second)
	if string(m.data) != `{"stream":"S","seq":1}` {
		t.Fatalf("ack %s", m.data)
	}
}

// Streams, messages and a durable consumer's acknowledged position come
// back after a restart.
func TestRecoverAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxMsgsPer: 2})
	for i := 0; i < 5; i++ {
		if ack := e.publish("s.a", fmt.Sprint(i)); ack.Error != nil || ack.Sequence != uint64(i+1) {
			t.Fatalf("publish %d: %+v %+v", i, ack.Error, ack.PubAck)
		}
	}
	var cresp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE.S.D", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit}}, &cresp)
	if cresp.Error != nil {
		t.Fatalf("create consumer: %+v", cresp.Error)
	}
	// Fetch both stored messages (4 and 5) and ack the first with an
	// ack-sync: its reply comes once the ack is durable.
	inboxSubj := "_INBOX.fetch"
	ib := newInbox(t, e.r, inboxSubj)
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.S.D"), []byte(inboxSubj), nil, []byte(`{"batch":2}`))
	first := ib.wait(t, 0, 5*time.Second)
	ib.wait(t, 1, 5*time.Second)
	if string(first.data) != "3" || !strings.HasPrefix(first.reply, "$JS.ACK.S.D.1.4.1.") {
		t.Fatalf("first delivery %q reply %q", first.data, first.reply)
	}
	if m := e.request(first.reply, "+ACK"); len(m.data) != 0 {
		t.Fatalf("ack-sync answered %q", m.data)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}

	e = openEnv(t, dir)
	var sresp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.S", nil, &sresp)
	if sresp.Error != nil || sresp.State.Msgs != 2 || sresp.State.FirstSeq != 4 || sresp.State.LastSeq != 5 || sresp.Config.MaxMsgsPer != 2 {
		t.Fatalf("after restart: %+v %+v", sresp.Error, sresp.StreamInfo)
	}
	e.api("CONSUMER.INFO.S.D", nil, &cresp)
	if cresp.Error != nil || cresp.AckFloor.Stream != 4 || cresp.NumAckPending != 1 || cresp.Delivered.Stream != 5 {
		t.Fatalf("consumer after restart: %+v %+v", cresp.Error, cresp.ConsumerInfo)
	}
	if ack := e.publish("s.b", "new"); ack.Error != nil || ack.Sequence != 6 {
		t.Fatalf("publish after restart: %+v %+v", ack.Error, ack.PubAck)
	}
}

// A message published with Nats-TTL is removed when it expires; one
// without stays.
func TestMessageTTL(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowMsgTTL: true})
	reply := "_INBOX.ttl"
	ib := newInbox(t, e.r, reply)
	e.r.Publish(&router.Publisher{}, []byte("t.short"), []byte(reply), []byte("NATS/1.0\r\nNats-TTL: 1s\r\n\r\n"), []byte("bye"))
	if m := ib.wait(t, 0, 5*time.Second); !strings.Contains(string(m.data), `"seq":1`) {
		t.Fatalf("ack %s", m.data)
	}
	if ack := e.publish("t.keep", "stay"); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var resp struct {
			jsapi.Response
			jsapi.StreamInfo
		}
		e.api("STREAM.INFO.T", nil, &resp)
		if resp.State.Msgs == 1 && resp.State.FirstSeq == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired message still there: %+v", resp.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Without allow_msg_ttl the header is refused.
	e.createStream(jsapi.StreamConfig{Name: "N", Subjects: []string{"n"}})
	reply2 := "_INBOX.nottl"
	ib2 := newInbox(t, e.r, reply2)
	e.r.Publish(&router.Publisher{}, []byte("n"), []byte(reply2), []byte("NATS/1.0\r\nNats-TTL: 1s\r\n\r\n"), []byte("x"))
	if m := ib2.wait(t, 0, 5*time.Second); !strings.Contains(string(m.data), `"err_code":10166`) {
		t.Fatalf("TTL without allow_msg_ttl: %s", m.data)
	}
}

// A push consumer with rate_limit_bps spreads its deliveries out.
func TestPushRateLimit(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "R", Subjects: []string{"r"}})
	for i := 0; i < 10; i++ {
		if ack := e.publish("r", strings.Repeat("x", 1000)); ack.Error != nil {
			t.Fatal(ack.Error)
		}
	}
	ib := newInbox(t, e.r, "deliver.r")
	start := time.Now()
	var resp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	// 10 messages of ~1000 bytes at 40 kbit/s: about 2 s.
	e.api("CONSUMER.CREATE.R.P", jsapi.CreateConsumerRequest{Stream: "R", Config: jsapi.ConsumerConfig{
		Durable: "P", DeliverSubject: "deliver.r", AckPolicy: jsapi.AckNone, RateLimit: 40_000}}, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	ib.wait(t, 9, 10*time.Second)
	if el := time.Since(start); el < 1500*time.Millisecond {
		t.Fatalf("10 KB at 40 kbit/s arrived in %v", el)
	}
}

// replay_policy original keeps the messages' original spacing.
func TestReplayOriginal(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "O", Subjects: []string{"o"}})
	e.publish("o", "1")
	time.Sleep(600 * time.Millisecond)
	e.publish("o", "2")
	ib := newInbox(t, e.r, "deliver.o")
	var resp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	start := time.Now()
	e.api("CONSUMER.CREATE.O.P", jsapi.CreateConsumerRequest{Stream: "O", Config: jsapi.ConsumerConfig{
		Durable: "P", DeliverSubject: "deliver.o", AckPolicy: jsapi.AckNone, ReplayPolicy: jsapi.ReplayOriginal}}, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	ib.wait(t, 1, 5*time.Second)
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Fatalf("second message after %v, originally 600ms apart", el)
	}
}

// Past the configured file store limit, publishes fail with nats-server's
// "insufficient storage resources" error and nothing is stored.
func TestAccountStoreLimit(t *testing.T) {
	r := router.New()
	svc, err := Open(Config{Dir: t.TempDir(), MaxStore: 4096}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	e := &env{t: t, r: r, svc: svc}
	e.createStream(jsapi.StreamConfig{Name: "L", Subjects: []string{"l"}})
	var last jsapi.PubAckResponse
	for i := 0; i < 100; i++ {
		last = e.publish("l", strings.Repeat("x", 200))
		if last.Error != nil {
			break
		}
	}
	if last.Error == nil || last.Error.ErrCode != 10047 {
		t.Fatalf("publishing past max_file_store: %+v", last.Error)
	}
	var info struct {
		jsapi.Response
		jsapi.AccountInfo
	}
	e.api("INFO", nil, &info)
	// The server-wide limit is not the account's: nats-server reports -1.
	if info.Store > 4096 || info.Limits.MaxStore != -1 || info.Limits.MaxMemory != -1 {
		t.Fatalf("account info: storage %d limits %+v", info.Store, info.Limits)
	}
}

// Deleting a stream takes every subscription it and its consumers made
// off the router: none is left to collect requests nobody will read (the
// leak FuzzAPI found: pull requests piled up in a deleted stream's
// mailbox).
func TestStreamDeleteReleasesSubscriptions(t *testing.T) {
	e := openEnv(t, t.TempDir())
	base := e.r.Count()
	for round := 0; round < 3; round++ {
		e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}, AllowDirect: true})
		for _, c := range []string{"A", "B"} {
			var resp jsapi.Response
			e.api("CONSUMER.CREATE.S."+c, map[string]any{"stream_name": "S", "config": map[string]any{"durable_name": c, "ack_policy": "explicit"}}, &resp)
			if resp.Error != nil {
				t.Fatalf("create consumer %s: %+v", c, resp.Error)
			}
		}
		if e.r.Count() <= base {
			t.Fatalf("round %d: no subscriptions added (%d)", round, e.r.Count())
		}
		var resp jsapi.Response
		e.api("STREAM.DELETE.S", nil, &resp)
		if resp.Error != nil {
			t.Fatalf("delete: %+v", resp.Error)
		}
		if got := e.r.Count(); got != base {
			t.Fatalf("round %d: %d subscriptions after deleting the stream, %d before creating it", round, got, base)
		}
	}
}

// The service's usage follows its streams' bytes through publishes,
// purges, deletes and a restart, without visiting the streams.
func TestUsageFollowsStreams(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "F", Subjects: []string{"f"}})
	e.createStream(jsapi.StreamConfig{Name: "M", Subjects: []string{"m"}, Storage: jsapi.MemoryStorage})
	for i := 0; i < 10; i++ {
		e.publish("f", "file")
		e.publish("m", "memory")
	}
	sum := func() (mem, file uint64) {
		for _, st := range e.svc.sortedStreams() {
			if st.memory() {
				mem += st.store.State().Bytes
			} else {
				file += st.store.State().Bytes
			}
		}
		return mem, file
	}
	check := func(what string) {
		t.Helper()
		wm, wf := sum()
		if m, f := e.svc.usage(); m != wm || f != wf {
			t.Fatalf("%s: usage mem %d file %d, streams hold %d and %d", what, m, f, wm, wf)
		}
	}
	check("after publishing")
	if m, f := e.svc.usage(); m == 0 || f == 0 {
		t.Fatalf("usage not counted: mem %d file %d", m, f)
	}
	var resp jsapi.Response
	e.api("STREAM.PURGE.F", map[string]any{"keep": 3}, &resp)
	check("after a purge")
	e.api("STREAM.DELETE.M", nil, &resp)
	check("after deleting the memory stream")
	if m, _ := e.svc.usage(); m != 0 {
		t.Fatalf("memory usage %d with no memory stream", m)
	}
	_ = e.svc.Close()
	e = openEnv(t, dir)
	check("after a restart")
	if _, f := e.svc.usage(); f == 0 {
		t.Fatal("recovered stream not counted")
	}
}
