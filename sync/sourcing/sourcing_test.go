package sourcing

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
)

// One router and JetStream service: an origin stream, a stream sourcing
// it and one mirroring it, all local (the same code serves a hub's
// streams across the leafnode link: only the API prefix differs).

type env struct {
	t   *testing.T
	r   *router.Router
	js  *jetstream.Service
	m   *Manager
	dir string
	n   int
}

func openEnv(t *testing.T, dir string) *env {
	t.Helper()
	r := router.New()
	m := New(r, "", nil)
	js, err := jetstream.Open(jetstream.Config{Dir: dir, Follower: m}, r)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, r: r, js: js, m: m, dir: dir}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.m.Close()
	_ = e.js.Close()
}

type box struct {
	mu   sync.Mutex
	msgs []msg
	sig  chan struct{}
}

type msg struct {
	subj, reply string
	hdr, data   []byte
}

func (b *box) Deliver(_ *router.Sub, subj, reply, hdr, data []byte) bool {
	b.mu.Lock()
	b.msgs = append(b.msgs, msg{string(subj), string(reply), clone(hdr), clone(data)})
	b.mu.Unlock()
	select {
	case b.sig <- struct{}{}:
	default:
	}
	return false
}

func (*box) Flush() {}

func (e *env) request(subj string, hdr []byte, body any) msg {
	e.t.Helper()
	e.n++
	inbox := fmt.Sprintf("_INBOX.t.%d", e.n)
	b := &box{sig: make(chan struct{}, 1)}
	sub := &router.Sub{Subject: inbox, Receiver: b}
	if err := e.r.Subscribe(sub); err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = e.r.Unsubscribe(sub) }()
	var data []byte
	switch v := body.(type) {
	case nil:
	case string:
		data = []byte(v)
	default:
		data, _ = json.Marshal(v)
	}
	e.r.Publish(&router.Publisher{}, []byte(subj), []byte(inbox), hdr, data)
	select {
	case <-b.sig:
	case <-time.After(5 * time.Second):
		e.t.Fatalf("%s: no answer", subj)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.msgs[0]
}

func (e *env) api(subj string, req, resp any) {
	e.t.Helper()
	m := e.request("$JS.API."+subj, nil, req)
	if err := json.Unmarshal(m.data, resp); err != nil {
		e.t.Fatalf("%s: %v %s", subj, err, m.data)
	}
}

type infoResp struct {
	jsapi.Response
	jsapi.StreamInfo
}

func (e *env) stream(cfg jsapi.StreamConfig) {
	e.t.Helper()
	var r infoResp
	e.api("STREAM.CREATE."+cfg.Name, cfg, &r)
	if r.Error != nil {
		e.t.Fatalf("create %s: %+v", cfg.Name, r.Error)
	}
}

func (e *env) info(name string) infoResp {
	e.t.Helper()
	var r infoResp
	e.api("STREAM.INFO."+name, nil, &r)
	if r.Error != nil {
		e.t.Fatalf("info %s: %+v", name, r.Error)
	}
	return r
}

func (e *env) publish(subj, data string, hdr []byte) {
	e.t.Helper()
	m := e.request(subj, hdr, data)
	var ack jsapi.PubAckResponse
	if err := json.Unmarshal(m.data, &ack); err != nil || ack.Error != nil {
		e.t.Fatalf("publish %s: %v %s", subj, err, m.data)
	}
}

func (e *env) waitMsgs(name string, n uint64) infoResp {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		si := e.info(name)
		if si.State.Msgs == n {
			return si
		}
		if time.Now().After(deadline) {
			var seqs []uint64
			for seq := si.State.FirstSeq; seq <= si.State.LastSeq; seq++ {
				var r struct {
					jsapi.Response
					Message *jsapi.StoredMsg `json:"message"`
				}
				e.api("STREAM.MSG.GET."+name, jsapi.MsgGetRequest{Seq: seq}, &r)
				if r.Message == nil {
					seqs = append(seqs, seq)
				}
			}
			e.t.Fatalf("%s holds %d messages (%d..%d, missing %v), want %d (%+v %+v)", name, si.State.Msgs, si.State.FirstSeq, si.State.LastSeq, seqs, n, si.Mirror, si.Sources)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) get(stream string, seq uint64) *jsapi.StoredMsg {
	e.t.Helper()
	var r struct {
		jsapi.Response
		Message *jsapi.StoredMsg `json:"message"`
	}
	e.api("STREAM.MSG.GET."+stream, jsapi.MsgGetRequest{Seq: seq}, &r)
	if r.Error != nil {
		e.t.Fatalf("get %s %d: %+v", stream, seq, r.Error)
	}
	return r.Message
}

func TestSourceAndMirrorLocal(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.stream(jsapi.StreamConfig{Name: "ORIGIN", Subjects: []string{"o.>"}})
	for i := range 10 {
		e.publish(fmt.Sprintf("o.%d", i%2), fmt.Sprint(i), []byte("NATS/1.0\r\nNats-Expected-Stream: ORIGIN\r\nX: y\r\n\r\n"))
	}
	// The origin loses seq 4 before anyone copies it.
	var del struct {
		jsapi.Response
		Success bool `json:"success"`
	}
	e.api("STREAM.MSG.DELETE.ORIGIN", jsapi.MsgDeleteRequest{Seq: 4}, &del)
	if !del.Success {
		t.Fatalf("delete: %+v", del.Error)
	}
	e.stream(jsapi.StreamConfig{Name: "COPY", Sources: []*jsapi.StreamSource{{Name: "ORIGIN", SubjectTransforms: []jsapi.SubjectTransformConfig{{Source: "o.>", Destination: "c.>"}}}}})
	e.stream(jsapi.StreamConfig{Name: "MIR", Mirror: &jsapi.StreamSource{Name: "ORIGIN"}})
	e.waitMsgs("COPY", 9)
	mi := e.waitMsgs("MIR", 9)
	if mi.State.FirstSeq != 1 || mi.State.LastSeq != 10 {
		t.Fatalf("mirror holds %d..%d, want 1..10", mi.State.FirstSeq, mi.State.LastSeq)
	}
	m := e.get("MIR", 5)
	if m.Subject != "o.0" || string(m.Data) != "4" {
		t.Fatalf("mirror seq 5: %s %q", m.Subject, m.Data)
	}
	c := e.get("COPY", 4) // origin seq 5: the one after the deleted one
	if c.Subject != "c.0" || string(c.Data) != "4" {
		t.Fatalf("source seq 4: %s %q", c.Subject, c.Data)
	}
	if got := string(proto.HeaderGet(c.Header, hdrStreamSource)); !strings.HasPrefix(got, "ORIGIN 5 o.> c.> o.0 ") || len(strings.Fields(got)) != 6 {
		t.Fatalf("Nats-Stream-Source %q", got)
	}
	if proto.HeaderGet(c.Header, "Nats-Expected-Stream") != nil || string(proto.HeaderGet(c.Header, "X")) != "y" {
		t.Fatalf("sourced header %q", c.Header)
	}
	// Live messages follow; info reports the source active without lag.
	e.publish("o.1", "10", nil)
	e.waitMsgs("COPY", 10)
	e.waitMsgs("MIR", 10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		si := e.info("COPY")
		if len(si.Sources) == 1 && si.Sources[0].Error == nil && si.Sources[0].Active >= 0 && si.Sources[0].Active < 5*time.Second && si.Sources[0].Lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("source info %+v", si.Sources)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A restart resumes each source where it stopped: nothing twice, nothing
// missed, including what the origin got while leafgate was down.
func TestSourceResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.stream(jsapi.StreamConfig{Name: "ORIGIN", Subjects: []string{"o.>"}})
	e.stream(jsapi.StreamConfig{Name: "COPY", Sources: []*jsapi.StreamSource{{Name: "ORIGIN"}}})
	e.stream(jsapi.StreamConfig{Name: "MIR", Mirror: &jsapi.StreamSource{Name: "ORIGIN"}})
	for i := range 50 {
		e.publish("o.x", fmt.Sprint(i), nil)
	}
	e.waitMsgs("COPY", 50)
	e.waitMsgs("MIR", 50)
	e.close()

	e = openEnv(t, dir)
	for i := 50; i < 80; i++ {
		e.publish("o.x", fmt.Sprint(i), nil)
	}
	e.waitMsgs("COPY", 80)
	e.waitMsgs("MIR", 80)
	time.Sleep(300 * time.Millisecond)
	e.waitMsgs("COPY", 80)
	for seq := uint64(1); seq <= 80; seq++ {
		if m := e.get("COPY", seq); string(m.Data) != fmt.Sprint(seq-1) {
			t.Fatalf("COPY seq %d holds %q", seq, m.Data)
		}
	}
}

// heldReplica stores nothing until the test releases each Append: a store
// whose sync is held back.
type heldReplica struct {
	cfg     jsapi.StreamConfig
	mu      sync.Mutex
	held    []func(error)
	msgs    []jetstream.ReplMsg
	appends chan struct{}
}

func (h *heldReplica) Name() string               { return h.cfg.Name }
func (h *heldReplica) Config() jsapi.StreamConfig { return h.cfg }
func (h *heldReplica) Domain() string             { return "" }
func (h *heldReplica) Position() (uint64, map[string]uint64, bool) {
	return 0, map[string]uint64{}, true
}
func (h *heldReplica) ResetPosition(string)                                         {}
func (h *heldReplica) Identities() map[string]string                                { return nil }
func (h *heldReplica) SetIdentity(string, string)                                   {}
func (h *heldReplica) SetStatus(*jsapi.StreamSourceInfo, []*jsapi.StreamSourceInfo) {}
func (h *heldReplica) Append(msgs []jetstream.ReplMsg, done func(error)) {
	h.mu.Lock()
	h.msgs = append(h.msgs, msgs...)
	h.held = append(h.held, done)
	h.mu.Unlock()
	h.appends <- struct{}{}
}

// release completes every Append held so far.
func (h *heldReplica) release() {
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, done := range held {
		done(nil)
	}
}

// A flow-control reply confirms messages (under the flow_control ack
// policy it acknowledges them, and a work-queue origin deletes them): it
// must not go out before they are durable. The origin here is played by
// the test on the router: it answers the create request, delivers two
// messages and asks for flow control.
func TestFlowControlReplyWaitsForStore(t *testing.T) {
	r := router.New()
	rep := &heldReplica{cfg: jsapi.StreamConfig{Name: "COPY", Sources: []*jsapi.StreamSource{{Name: "ORIGIN"}}}, appends: make(chan struct{}, 16)}
	f, err := newFollower(rep, r, slog.New(slog.DiscardHandler), "$G")
	if err != nil {
		t.Fatal(err)
	}
	reqs := &box{sig: make(chan struct{}, 16)}
	for _, subj := range []string{"$JS.API.CONSUMER.CREATE.ORIGIN", "$JS.API.CONSUMER.CREATE.ORIGIN.>"} {
		if err := r.Subscribe(&router.Sub{Subject: subj, Receiver: reqs}); err != nil {
			t.Fatal(err)
		}
	}
	fcReplies := &box{sig: make(chan struct{}, 16)}
	if err := r.Subscribe(&router.Sub{Subject: "$JS.FC.ORIGIN.>", Receiver: fcReplies}); err != nil {
		t.Fatal(err)
	}
	go f.run()
	defer func() { close(f.quit); <-f.done }()

	select {
	case <-reqs.sig:
	case <-time.After(5 * time.Second):
		t.Fatal("no create request")
	}
	reqs.mu.Lock()
	req := reqs.msgs[0]
	reqs.mu.Unlock()
	var cr jsapi.CreateConsumerRequest
	if err := json.Unmarshal(req.data, &cr); err != nil || !cr.Config.FlowControl || cr.Config.DeliverSubject == "" {
		t.Fatalf("create request %s: %v", req.data, err)
	}
	if got := string(proto.HeaderGet(req.hdr, hdrRequiredLevel)); got != "5" {
		t.Fatalf("request level %q", got)
	}
	answer, _ := json.Marshal(map[string]any{"type": jsapi.TypeConsumerCreate, "name": cr.Config.Name, "config": cr.Config})
	r.Publish(&router.Publisher{}, []byte(req.reply), nil, nil, answer)
	dlv := []byte(cr.Config.DeliverSubject)
	for i := uint64(1); i <= 2; i++ {
		r.PublishAs(&router.Publisher{}, dlv, []byte("o.x"), []byte(fmt.Sprintf("$JS.ACK.ORIGIN.%s.1.%d.%d.1700000000000000000.%d", cr.Config.Name, i, i, 2-i)), nil, []byte("m"))
	}
	r.Publish(&router.Publisher{}, dlv, []byte("$JS.FC.ORIGIN."+cr.Config.Name+".abcd"), []byte("NATS/1.0 100 FlowControl Request\r\n\r\n"), nil)
	select {
	case <-rep.appends:
	case <-time.After(5 * time.Second):
		t.Fatal("messages never handed to the store")
	}
	// Held: no reply, however long we wait.
	time.Sleep(300 * time.Millisecond)
	fcReplies.mu.Lock()
	early := len(fcReplies.msgs)
	fcReplies.mu.Unlock()
	if early != 0 {
		t.Fatal("flow-control reply sent before the messages were stored")
	}
	rep.release()
	select {
	case <-fcReplies.sig:
	case <-time.After(5 * time.Second):
		t.Fatal("no flow-control reply after the store completed")
	}
	fcReplies.mu.Lock()
	fc := fcReplies.msgs[0]
	fcReplies.mu.Unlock()
	if headerUint(fc.hdr, hdrLastStream) != 2 || headerUint(fc.hdr, hdrLastConsumer) != 2 {
		t.Fatalf("flow-control reply header %q", fc.hdr)
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if len(rep.msgs) != 2 || rep.msgs[1].OriginSeq != 2 || !strings.HasPrefix(string(proto.HeaderGet(rep.msgs[1].Header, hdrStreamSource)), "ORIGIN 2 > > o.x") {
		t.Fatalf("stored %+v", rep.msgs)
	}
}

// An origin deleted and created again while its follower was not
// running is noticed when it runs again (the identity is kept with the
// position, across restarts) and sourced from its start, instead of its
// first messages being taken for ones already stored.
func TestSourceOriginRecreatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.stream(jsapi.StreamConfig{Name: "ORIGIN", Subjects: []string{"o.>"}})
	src := []*jsapi.StreamSource{{Name: "ORIGIN"}}
	e.stream(jsapi.StreamConfig{Name: "COPY", Sources: src})
	for i := range 5 {
		e.publish("o.x", fmt.Sprint(i), nil)
	}
	e.waitMsgs("COPY", 5)
	e.close()

	// Restarted with the source taken off COPY: the origin is deleted
	// and created again, with fewer messages, while nothing follows it.
	e = openEnv(t, dir)
	var r infoResp
	e.api("STREAM.UPDATE.COPY", jsapi.StreamConfig{Name: "COPY", Subjects: []string{"copy"}}, &r)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	var del jsapi.Response
	e.api("STREAM.DELETE.ORIGIN", nil, &del)
	e.stream(jsapi.StreamConfig{Name: "ORIGIN", Subjects: []string{"o.>"}})
	e.publish("o.x", "new-1", nil)
	e.publish("o.x", "new-2", nil)
	e.close()

	e = openEnv(t, dir)
	e.api("STREAM.UPDATE.COPY", jsapi.StreamConfig{Name: "COPY", Subjects: []string{"copy"}, Sources: src}, &r)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	e.waitMsgs("COPY", 7)
	if m := e.get("COPY", 7); string(m.Data) != "new-2" {
		t.Fatalf("COPY seq 7 holds %q", m.Data)
	}
}
