package jetstream

import (
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/store/jsapi"
)

// The status messages the service sends, byte for byte: clients parse the
// status line ("NATS/1.0 <code> <description>") and the headers after it.

func TestDirectGetStatusBytes(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}, AllowDirect: true})
	e.publish("s.a", "one")
	for _, tc := range []struct{ body, want string }{
		{"", "NATS/1.0 408 Empty Request\r\n\r\n"},
		{"{", "NATS/1.0 408 Malformed Request\r\n\r\n"},
		{"{}", "NATS/1.0 408 Empty Request\r\n\r\n"},
		{`{"seq":1,"last_by_subj":"s.a"}`, "NATS/1.0 408 Bad Request\r\n\r\n"},
		{`{"seq":99}`, "NATS/1.0 404 Message Not Found\r\n\r\n"},
	} {
		m := e.request("$JS.API.DIRECT.GET.S", tc.body)
		if string(m.hdr) != tc.want || len(m.data) != 0 {
			t.Errorf("direct get %q: header %q data %q, want %q and no data", tc.body, m.hdr, m.data, tc.want)
		}
	}
}

func TestConsumerDeletedStatusBytes(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	var resp jsapi.Response
	e.api("CONSUMER.CREATE.S.D", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit}}, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	ib := newInbox(t, e.r, "pull.1")
	e.pull("pull.1", 1)
	e.waitWaiting("S", "D", 1) // no messages: the request waits
	e.api("CONSUMER.DELETE.S.D", nil, &resp)
	m := ib.wait(t, 0, 10*time.Second)
	if want := "NATS/1.0 409 Consumer Deleted\r\n\r\n"; string(m.hdr) != want || len(m.data) != 0 {
		t.Fatalf("header %q data %q, want %q", m.hdr, m.data, want)
	}
}

func TestHeartbeatAndFlowControlBytes(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	dlv := newInbox(t, e.r, "dlv")
	var resp jsapi.Response
	e.api("CONSUMER.CREATE.S.P", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{
		Durable: "P", DeliverSubject: "dlv", AckPolicy: jsapi.AckNone, FlowControl: true, Heartbeat: 100 * time.Millisecond,
	}}, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	hb := dlv.wait(t, 0, 10*time.Second)
	if want := "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n"; string(hb.hdr) != want || hb.reply != "" {
		t.Fatalf("heartbeat header %q reply %q, want %q", hb.hdr, hb.reply, want)
	}
	// Deliveries past half the first window (1 MiB of 2) ask for flow
	// control.
	e.publish("s.a", strings.Repeat("x", 600<<10))
	e.publish("s.a", strings.Repeat("x", 600<<10))
	var fc inMsg
	for i := 1; ; i++ {
		fc = dlv.wait(t, i, 10*time.Second)
		if fc.subject == "dlv" && len(fc.data) == 0 && strings.HasPrefix(fc.reply, "$JS.FC.") {
			break
		}
	}
	if want := "NATS/1.0 100 FlowControl Request\r\n\r\n"; string(fc.hdr) != want {
		t.Fatalf("flow control header %q, want %q", fc.hdr, want)
	}
	// Until it is answered, heartbeats name the stalled reply.
	for i := dlv.count(); ; i++ {
		m := dlv.wait(t, i, 10*time.Second)
		if !strings.Contains(string(m.hdr), "Idle Heartbeat") {
			continue
		}
		want := "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 2\r\nNats-Consumer-Stalled: " + fc.reply + "\r\n\r\n"
		if string(m.hdr) != want {
			t.Fatalf("stalled heartbeat header %q, want %q", m.hdr, want)
		}
		break
	}
}
