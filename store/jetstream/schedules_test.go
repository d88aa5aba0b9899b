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

// pubHdr publishes with a header block and returns the PubAck answer.
func (e *env) pubHdr(subj string, hdr map[string]string, data string) jsapi.PubAckResponse {
	e.t.Helper()
	h := "NATS/1.0\r\n"
	for k, v := range hdr {
		h += k + ": " + v + "\r\n"
	}
	h += "\r\n"
	e.seq++
	reply := fmt.Sprintf("_INBOX.pubhdr.%d", e.seq)
	ib := newInbox(e.t, e.r, reply)
	e.r.Publish(&router.Publisher{}, []byte(subj), []byte(reply), []byte(h), []byte(data))
	m := ib.wait(e.t, 0, 5*time.Second)
	var ack jsapi.PubAckResponse
	if err := json.Unmarshal(m.data, &ack); err != nil {
		e.t.Fatalf("pub ack %q: %v", m.data, err)
	}
	return ack
}

// lastMsg is the newest message on subj, or nil.
func (e *env) lastMsg(stream, subj string) *jsapi.StoredMsg {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		Message *jsapi.StoredMsg `json:"message"`
	}
	e.api("STREAM.MSG.GET."+stream, jsapi.MsgGetRequest{LastFor: subj}, &resp)
	return resp.Message
}

// waitMsg waits for a message on subj with a sequence above after.
func (e *env) waitMsg(stream, subj string, after uint64, d time.Duration) *jsapi.StoredMsg {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := e.lastMsg(stream, subj); m != nil && m.Sequence > after {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no message on %s after seq %d within %v", subj, after, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func schedStream(e *env) {
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"sched.>", "out.>"}, AllowMsgSchedules: true, AllowMsgTTL: true})
}

// An @at schedule fires once: its message lands on the target with the
// schedule headers replaced by Nats-Scheduler and Nats-Schedule-Next:
// purge, and the schedule itself is removed.
func TestScheduleAtFiresOnce(t *testing.T) {
	e := openEnv(t, t.TempDir())
	schedStream(e)
	at := time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	ack := e.pubHdr("sched.a", map[string]string{
		"Nats-Schedule": "@at " + at, "Nats-Schedule-Target": "out.a", "Nats-Schedule-TTL": "5m",
		"Nats-Msg-Id": "m1", "Foo": "bar",
	}, "hello")
	if ack.Error != nil {
		t.Fatalf("publish schedule: %+v", ack.Error)
	}
	sm := e.lastMsg("S", "sched.a")
	if sm == nil || string(proto.HeaderGet(sm.Header, "Nats-Rollup")) != "sub" {
		t.Fatalf("stored schedule %+v lacks Nats-Rollup: sub", sm)
	}
	m := e.waitMsg("S", "out.a", 0, 10*time.Second)
	got := map[string]string{}
	for _, k := range []string{"Nats-Scheduler", "Nats-Schedule-Next", "Nats-TTL", "Foo", "Nats-Schedule", "Nats-Schedule-Target", "Nats-Msg-Id", "Nats-Rollup", "Nats-Schedule-TTL"} {
		if v := proto.HeaderGet(m.Header, k); v != nil {
			got[k] = string(v)
		}
	}
	want := map[string]string{"Nats-Scheduler": "sched.a", "Nats-Schedule-Next": "purge", "Nats-TTL": "5m", "Foo": "bar"}
	if len(got) != len(want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("headers %v, want %v", got, want)
		}
	}
	if string(m.Data) != "hello" {
		t.Fatalf("data %q", m.Data)
	}
	if sm := e.lastMsg("S", "sched.a"); sm != nil {
		t.Fatalf("schedule not purged: %+v", sm)
	}
	if keys := e.svc.lookup("S").store.IndexScan(schedPrefix, -1); len(keys) != 0 {
		t.Fatalf("index keeps %d schedule keys after the purge", len(keys))
	}
	time.Sleep(1500 * time.Millisecond)
	if m2 := e.lastMsg("S", "out.a"); m2 == nil || m2.Sequence != m.Sequence {
		t.Fatalf("fired again: %+v", m2)
	}
}

// An @every schedule keeps firing, and picks up again after a restart from
// the stream's index.
func TestScheduleEveryRecoversAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	schedStream(e)
	if ack := e.pubHdr("sched.tick", map[string]string{"Nats-Schedule": "@every 1s", "Nats-Schedule-Target": "out.tick"}, "t"); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	m1 := e.waitMsg("S", "out.tick", 0, 10*time.Second)
	next, err := time.Parse(time.RFC3339Nano, string(proto.HeaderGet(m1.Header, "Nats-Schedule-Next")))
	if err != nil || !next.After(m1.Time.Add(-time.Second)) {
		t.Fatalf("Nats-Schedule-Next %q (%v) after a fire at %s", proto.HeaderGet(m1.Header, "Nats-Schedule-Next"), err, m1.Time)
	}
	m2 := e.waitMsg("S", "out.tick", m1.Sequence, 10*time.Second)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	m3 := e.waitMsg("S", "out.tick", m2.Sequence, 10*time.Second)
	if sm := e.lastMsg("S", "sched.tick"); sm == nil {
		t.Fatalf("repeating schedule gone after firing (last fired %d)", m3.Sequence)
	}
	// A plain message on the schedule's subject cancels it.
	if ack := e.publish("sched.tick", "stop"); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	last := e.lastMsg("S", "out.tick").Sequence
	time.Sleep(2500 * time.Millisecond)
	if m := e.lastMsg("S", "out.tick"); m.Sequence != last {
		t.Fatalf("cancelled schedule fired: %d after %d", m.Sequence, last)
	}
}

// Nats-Schedule-Source sends the newest message on another subject; a
// client can purge a schedule with Nats-Schedule-Next: purge.
func TestScheduleSourceAndClientPurge(t *testing.T) {
	e := openEnv(t, t.TempDir())
	schedStream(e)
	e.pubHdr("sched.src", map[string]string{"Src": "1"}, "latest")
	at := time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	if ack := e.pubHdr("sched.s", map[string]string{"Nats-Schedule": "@at " + at, "Nats-Schedule-Target": "out.s", "Nats-Schedule-Source": "sched.src"}, "own"); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	m := e.waitMsg("S", "out.s", 0, 10*time.Second)
	if string(m.Data) != "latest" || string(proto.HeaderGet(m.Header, "Src")) != "1" {
		t.Fatalf("sourced message %q %q", m.Data, m.Header)
	}
	far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if ack := e.pubHdr("sched.p", map[string]string{"Nats-Schedule": "@at " + far, "Nats-Schedule-Target": "out.p"}, ""); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	if ack := e.pubHdr("out.purger", map[string]string{"Nats-Schedule-Next": "purge", "Nats-Scheduler": "sched.p"}, ""); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	if sm := e.lastMsg("S", "sched.p"); sm != nil {
		t.Fatalf("schedule not purged by the client: %+v", sm)
	}
}

func TestSchedulePublishErrors(t *testing.T) {
	e := openEnv(t, t.TempDir())
	schedStream(e)
	e.createStream(jsapi.StreamConfig{Name: "OFF", Subjects: []string{"off.>"}})
	e.createStream(jsapi.StreamConfig{Name: "NOTTL", Subjects: []string{"nottl.>"}, AllowMsgSchedules: true})
	at := "@at " + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		subj string
		hdr  map[string]string
		code int
	}{
		{"off.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "off.b"}, 10188},
		{"off.a", map[string]string{"Nats-Schedule": "bogus"}, 10188},
		{"sched.a", map[string]string{"Nats-Schedule": "bogus", "Nats-Schedule-Target": "out.b"}, 10189},
		{"sched.a", map[string]string{"Nats-Schedule": "@every 10ms", "Nats-Schedule-Target": "out.b"}, 10189},
		{"sched.a", map[string]string{"Nats-Schedule": "0 0 0 30 2 *", "Nats-Schedule-Target": "out.b"}, 10189},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Time-Zone": "Europe/Amsterdam", "Nats-Schedule-Target": "out.b"}, 10189},
		{"sched.a", map[string]string{"Nats-Schedule": "@daily", "Nats-Schedule-Time-Zone": "Mars/Olympus", "Nats-Schedule-Target": "out.b"}, 10223},
		{"sched.a", map[string]string{"Nats-Schedule": at}, 10190},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "sched.a"}, 10190},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.*"}, 10190},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "elsewhere"}, 10190},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.b", "Nats-Schedule-Source": "out.b"}, 10203},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.b", "Nats-Schedule-Source": "elsewhere"}, 10203},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.b", "Nats-Schedule-TTL": "1ms"}, 10191},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.b", "Nats-Schedule-Rollup": "all"}, 10192},
		{"sched.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "out.b", "Nats-Rollup": "all"}, 10192},
		{"nottl.a", map[string]string{"Nats-Schedule": at, "Nats-Schedule-Target": "nottl.b", "Nats-Schedule-TTL": "1m"}, 10166},
		{"sched.a", map[string]string{"Nats-Scheduler": "sched.x"}, 10212},
		{"sched.a", map[string]string{"Nats-Schedule-Next": "soon", "Nats-Scheduler": "sched.x"}, 10212},
		{"sched.a", map[string]string{"Nats-Schedule-Next": "purge"}, 10212},
		{"sched.a", map[string]string{"Nats-Schedule-Next": "purge", "Nats-Scheduler": "sched.a"}, 10212},
		{"off.a", map[string]string{"Nats-Schedule-Next": "purge", "Nats-Scheduler": "off.x"}, 10188},
	} {
		ack := e.pubHdr(tc.subj, tc.hdr, "")
		if ack.Error == nil || int(ack.Error.ErrCode) != tc.code {
			t.Errorf("%s %v: %+v, want %d", tc.subj, tc.hdr, ack.Error, tc.code)
		}
	}
	// Purging a subject that holds a plain message is refused.
	e.publish("sched.plain", "x")
	if ack := e.pubHdr("sched.a", map[string]string{"Nats-Schedule-Next": "purge", "Nats-Scheduler": "sched.plain"}, ""); ack.Error == nil || ack.Error.ErrCode != 10212 {
		t.Errorf("purge of a plain subject: %+v", ack.Error)
	}
}

func TestScheduleStreamConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  jsapi.StreamConfig
		code int
		msg  string
	}{
		{"discard new", jsapi.StreamConfig{AllowMsgSchedules: true, Discard: jsapi.DiscardNew}, 10052, "message scheduling cannot use discard new"},
		{"mirror", jsapi.StreamConfig{AllowMsgSchedules: true, Mirror: &jsapi.StreamSource{Name: "O"}}, 10186, ""},
		{"sources", jsapi.StreamConfig{AllowMsgSchedules: true, Sources: []*jsapi.StreamSource{{Name: "O"}}}, 10187, ""},
	} {
		tc.cfg.Name = "X"
		_, e := checkStreamConfig(tc.cfg)
		if e == nil || int(e.ErrCode) != tc.code || !strings.Contains(e.Description, tc.msg) {
			t.Errorf("%s: %+v", tc.name, e)
		}
	}
	cfg, e := checkStreamConfig(jsapi.StreamConfig{Name: "X", AllowMsgSchedules: true, DenyPurge: true})
	if e != nil || !cfg.AllowRollup || cfg.DenyPurge {
		t.Fatalf("schedules turn roll-ups on: %+v %+v", e, cfg)
	}
	off, _ := checkStreamConfig(jsapi.StreamConfig{Name: "X"})
	if e := checkStreamUpdate(cfg, off); e == nil || !strings.Contains(e.Description, "message schedules can not be disabled") {
		t.Fatalf("disabling schedules: %+v", e)
	}
}

// Schedules work the same on a memory stream.
func TestScheduleMemoryStream(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "M", Subjects: []string{"m.>"}, Storage: jsapi.MemoryStorage, AllowMsgSchedules: true})
	if ack := e.pubHdr("m.s", map[string]string{"Nats-Schedule": "@every 1s", "Nats-Schedule-Target": "m.out"}, "x"); ack.Error != nil {
		t.Fatal(ack.Error)
	}
	m1 := e.waitMsg("M", "m.out", 0, 10*time.Second)
	e.waitMsg("M", "m.out", m1.Sequence, 10*time.Second)
	// Deleting the schedule's message ends it.
	var del struct {
		jsapi.Response
		Success bool `json:"success"`
	}
	e.api("STREAM.MSG.DELETE.M", jsapi.MsgDeleteRequest{Seq: 1}, &del)
	if !del.Success {
		t.Fatalf("delete: %+v", del.Error)
	}
	last := e.lastMsg("M", "m.out").Sequence
	time.Sleep(2500 * time.Millisecond)
	if m := e.lastMsg("M", "m.out"); m.Sequence != last {
		t.Fatalf("deleted schedule fired: %d after %d", m.Sequence, last)
	}
}

// FuzzStripScheduleHeaders: whatever the header block, the copy a fired
// message carries is a well-formed block without schedule, expected, id,
// TTL or rollup headers.
func FuzzStripScheduleHeaders(f *testing.F) {
	f.Add([]byte("NATS/1.0\r\nNats-Schedule: @every 1s\r\nFoo: bar\r\nNats-Expected-Stream: S\r\nNats-Msg-Id: x\r\n\r\n"))
	f.Add([]byte("NATS/1.0\r\nNats-Scheduler: a\r\nNats-Rollup: sub\r\nNats-TTL: 1s\r\n\r\n"))
	f.Add([]byte("NATS/1.0 503\r\n\r\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		out := stripScheduleHeaders(hdr)
		if out == nil {
			return
		}
		if !strings.HasSuffix(string(out), "\r\n\r\n") {
			t.Fatalf("not terminated: %q", out)
		}
		for _, k := range []string{hdrSchedule, hdrScheduler, hdrScheduleTarget, "Nats-Msg-Id", "Nats-TTL", "Nats-Rollup"} {
			if proto.HeaderGet(out, k) != nil {
				t.Fatalf("%s left in %q", k, out)
			}
		}
	})
}
