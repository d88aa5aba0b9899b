package jetstream

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// The consumers a nats-server stream creates when it sources or mirrors a
// leafgate stream (server/stream.go trySetupSourceConsumer), and what they
// must do: leafgate is then the origin.

type createResp struct {
	jsapi.Response
	*jsapi.ConsumerInfo
}

// requestHdr is request with a header block.
func (e *env) requestHdr(subj string, hdr []byte, body any) inMsg {
	e.t.Helper()
	e.seq++
	reply := fmt.Sprintf("_INBOX.hdr.%d", e.seq)
	ib := newInbox(e.t, e.r, reply)
	b, _ := json.Marshal(body)
	e.r.Publish(&router.Publisher{}, []byte(subj), []byte(reply), hdr, b)
	return ib.wait(e.t, 0, 5*time.Second)
}

// sourceRequest is the create request of a 2.15 source, as the hub sends it.
func sourceRequest(stream, deliver string, startSeq uint64) jsapi.CreateConsumerRequest {
	cfg := jsapi.ConsumerConfig{
		Name: "JS_SRC_abcd1234", DeliverSubject: deliver, AckPolicy: jsapi.AckNone,
		AckWait: 22 * time.Hour, MaxDeliver: 1, Heartbeat: time.Second, FlowControl: true,
		Direct: true, Sourcing: true, InactiveThreshold: 10 * time.Second,
		Metadata: map[string]string{"_nats.src.stream": "AGG", "_nats.src.acc": "$G"},
	}
	if startSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jsapi.DeliverByStartSeq, startSeq
	}
	return jsapi.CreateConsumerRequest{Stream: stream, Config: cfg}
}

func levelHdr(level, identity string) []byte {
	h := "NATS/1.0\r\nNats-Required-Api-Level: " + level + "\r\n"
	if identity != "" {
		h += "Nats-Stream-Identity: " + identity + "\r\n"
	}
	return []byte(h + "\r\n")
}

func decodeCreate(t *testing.T, m inMsg) createResp {
	t.Helper()
	var r createResp
	if err := json.Unmarshal(m.data, &r); err != nil {
		t.Fatalf("%v: %s", err, m.data)
	}
	return r
}

func TestSourcingConsumerLevelsAndIdentity(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ident := e.svc.lookup("S").identity()
	if len(ident) != 8 {
		t.Fatalf("identity %q", ident)
	}
	subj := "$JS.API.CONSUMER.CREATE.S.JS_SRC_abcd1234"

	// Level 5 with the right identity: served, the name gets a suffix
	// (a limits stream), and the answer names the identity.
	m := e.requestHdr(subj, levelHdr("5", ident), sourceRequest("S", "$JS.S.one", 0))
	r := decodeCreate(t, m)
	if r.Error != nil {
		t.Fatalf("level 5: %+v", r.Error)
	}
	if !strings.HasPrefix(r.Name, "JS_SRC_abcd1234-") || r.Config.AckPolicy != jsapi.AckNone || !r.Config.Direct {
		t.Fatalf("consumer %q config %+v", r.Name, r.Config)
	}
	if got := string(proto.HeaderGet(m.hdr, "Nats-Stream-Identity")); got != ident {
		t.Fatalf("answer identity %q, want %q (header %q)", got, ident, m.hdr)
	}

	// Another identity: the stream was re-created as far as the source
	// knows. Refused with 10225, naming this stream's identity.
	r = decodeCreate(t, e.requestHdr(subj, levelHdr("5", "otherone"), sourceRequest("S", "$JS.S.two", 0)))
	if r.Error == nil || r.Error.ErrCode != 10225 || !strings.Contains(r.Error.Description, ident) {
		t.Fatalf("identity mismatch: %+v", r.Error)
	}

	// A level above 5 is refused with 10185, so the hub steps down.
	r = decodeCreate(t, e.requestHdr(subj, levelHdr("6", ""), sourceRequest("S", "$JS.S.three", 0)))
	if r.Error == nil || r.Error.ErrCode != 10185 {
		t.Fatalf("level 6: %+v", r.Error)
	}
	// An ordinary consumer still gets level 1 only.
	plain := jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{Durable: "P", AckPolicy: jsapi.AckExplicit}}
	r = decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.S.P", levelHdr("2", ""), plain))
	if r.Error == nil || r.Error.ErrCode != 10185 {
		t.Fatalf("plain consumer at level 2: %+v", r.Error)
	}
	// The legacy request (no level, not sourcing) is served too.
	legacy := sourceRequest("S", "$JS.S.four", 0)
	legacy.Config.Sourcing = false
	legacy.Config.Name = "JS_SRC_abcd1234_rand"
	r = decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.S.JS_SRC_abcd1234_rand", nil, legacy))
	if r.Error != nil || r.Name != "JS_SRC_abcd1234_rand" {
		t.Fatalf("legacy: %+v %+v", r.Error, r.ConsumerInfo)
	}

	// Direct consumers are not listed or counted.
	var names struct {
		jsapi.Response
		Consumers []string `json:"consumers"`
	}
	e.api("CONSUMER.NAMES.S", nil, &names)
	if len(names.Consumers) != 0 {
		t.Fatalf("names %v", names.Consumers)
	}
	var si struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.S", nil, &si)
	if si.State.Consumers != 0 {
		t.Fatalf("stream info counts %d consumers", si.State.Consumers)
	}
}

// A direct consumer is not stored: after a restart the source creates it
// again from what it stored.
func TestDirectConsumerNotStored(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	r := decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.S.JS_SRC_abcd1234", levelHdr("5", ""), sourceRequest("S", "$JS.S.one", 0)))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	name := r.Name
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	var info createResp
	e.api("CONSUMER.INFO.S."+name, nil, &info)
	if info.Error == nil || info.Error.ErrCode != 10014 {
		t.Fatalf("direct consumer after restart: %+v", info.Error)
	}
}

// The flow-control window: a request past half of it, delivery held past
// all of it, and each reply doubles it (2 MiB up to 32 MiB).
func TestFlowControlWindow(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	payload := strings.Repeat("x", 256<<10)
	for range 20 { // 5 MiB
		e.publish("s.a", payload)
	}
	dlv := newInbox(t, e.r, "$JS.S.win")
	r := decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.S.JS_SRC_abcd1234", levelHdr("5", ""), sourceRequest("S", "$JS.S.win", 0)))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	// Data until the window is full: 8 messages make 2 MiB plus subjects
	// and headers, which is past it, with one flow-control request once
	// 4 went (past 1 MiB). Counted once 8 arrived and after a pause in
	// which a 9th would have come: a slow machine delivers later, never
	// more.
	count := func() (data int, fcs []inMsg) {
		for i := 0; i < dlv.count(); i++ {
			m := dlv.wait(t, i, time.Second)
			switch {
			case strings.HasPrefix(m.reply, "$JS.FC."):
				fcs = append(fcs, m)
			case len(m.data) > 0:
				data++
			}
		}
		return data, fcs
	}
	waitData := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if d, _ := count(); d >= n {
				return
			}
			if time.Now().After(deadline) {
				d, _ := count()
				t.Fatalf("%d messages delivered, want %d", d, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitData(8)
	time.Sleep(500 * time.Millisecond)
	data, fcs := count()
	if len(fcs) != 1 || data != 8 {
		t.Fatalf("%d messages and %d flow-control requests before the window closed, want 8 and 1", data, len(fcs))
	}
	// The reply opens a window twice as large: the other 12 come.
	e.r.Publish(&router.Publisher{}, []byte(fcs[0].reply), nil, nil, nil)
	waitData(20)
}

// From a work-queue stream the source's consumer becomes a durable acked
// by flow-control replies: nothing is removed before the source confirms
// it stored it, and a reset after an outage delivers the rest again.
func TestWorkQueueSourcingAckFlowControl(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "WQ", Subjects: []string{"wq.>"}, Retention: jsapi.WorkQueuePolicy})
	for i := range 10 {
		e.publish("wq.a", fmt.Sprint(i))
	}
	dlv := newInbox(t, e.r, "$JS.S.wq1")
	r := decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.WQ.JS_SRC_abcd1234", levelHdr("5", ""), sourceRequest("WQ", "$JS.S.wq1", 0)))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if r.Name != "JS_SRC_abcd1234" || r.Config.Durable != "JS_SRC_abcd1234" || r.Config.AckPolicy != jsapi.AckFlowControl ||
		r.Config.Direct || r.Config.AckWait != 0 || r.Config.MaxAckPending != 1000 {
		t.Fatalf("consumer %q config %+v", r.Name, r.Config)
	}
	// All 10 arrive; nothing is removed yet.
	for i := range 10 {
		dlv.wait(t, i, 5*time.Second)
	}
	if n := e.streamMsgs("WQ"); n != 10 {
		t.Fatalf("%d messages left before any confirmation, want 10", n)
	}
	// The idle heartbeat is followed by a flow-control request; its reply
	// naming stream sequence 6 acks 1..6.
	var fc inMsg
	for i := 10; fc.reply == ""; i++ {
		if m := dlv.wait(t, i, 5*time.Second); strings.HasPrefix(m.reply, "$JS.FC.") {
			fc = m
		}
	}
	e.r.Publish(&router.Publisher{}, []byte(fc.reply), nil, []byte("NATS/1.0\r\nNats-Last-Consumer: 6\r\nNats-Last-Stream: 6\r\n\r\n"), nil)
	deadline := time.Now().Add(5 * time.Second)
	for e.streamMsgs("WQ") != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages left after confirming 6, want 4", e.streamMsgs("WQ"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The source comes back (a reset to the ack floor): 7..10 again.
	dlv2 := newInbox(t, e.r, "$JS.S.wq2")
	var reset struct {
		jsapi.Response
		ResetSeq uint64 `json:"reset_seq"`
	}
	m := e.requestHdr("$JS.API.CONSUMER.RESET.WQ.JS_SRC_abcd1234", levelHdr("5", "x"), nil)
	if err := json.Unmarshal(m.data, &reset); err != nil || reset.Error != nil || reset.ResetSeq != 7 {
		t.Fatalf("reset: %v %+v %s", err, reset.Error, m.data)
	}
	if got := string(proto.HeaderGet(m.hdr, "Nats-Stream-Identity")); got != e.svc.lookup("WQ").identity() {
		t.Fatalf("reset answer identity %q", got)
	}
	// Re-created under a new deliver subject, as a source does: resumes
	// at the ack floor too.
	r = decodeCreate(t, e.requestHdr("$JS.API.CONSUMER.CREATE.WQ.JS_SRC_abcd1234", levelHdr("5", ""), sourceRequest("WQ", "$JS.S.wq2", 0)))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	for i := 0; ; i++ {
		m := dlv2.wait(t, i, 5*time.Second)
		if len(m.data) == 0 {
			continue
		}
		if string(m.data) != "6" {
			t.Fatalf("first delivery after the reset %q, want 6 (stream seq 7)", m.data)
		}
		break
	}
}
