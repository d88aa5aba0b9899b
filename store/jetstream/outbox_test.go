package jetstream

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/store/jsapi"
)

func openOutbox(t *testing.T, e *env, name string, wq bool) *Outbox {
	t.Helper()
	o, err := e.svc.OpenOutbox("S", name, "s.>", wq)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// The confirmed sequence survives a restart; work-queue mode removes what
// was confirmed; reads start after it.
func TestOutboxConfirm(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>", "other"}})
	o := openOutbox(t, e, "up", false)
	for i := range 10 {
		e.publish("s.a", fmt.Sprint(i))
	}
	e.publish("other", "not mine")
	msgs, err := o.Read(1, 100)
	if err != nil || len(msgs) != 10 {
		t.Fatalf("read %d: %v", len(msgs), err)
	}
	if !o.Confirm(5, nil) {
		t.Fatal("stream stopped")
	}
	st, _ := o.State()
	if st.Confirmed != 5 || st.BacklogMsgs != 5 || st.Oldest.IsZero() {
		t.Fatalf("state %+v", st)
	}
	e.publish("s.a", "sync") // commits the confirmation with it
	_ = e.svc.Close()

	e = openEnv(t, dir)
	o = openOutbox(t, e, "up", true)
	st, _ = o.State()
	if st.Confirmed != 5 {
		t.Fatalf("confirmed after restart %d, want 5", st.Confirmed)
	}
	if !o.Confirm(8, []uint64{6, 7, 8}) {
		t.Fatal("stream stopped")
	}
	waitMsgs(t, e, "S", 9) // 12 - 6,7,8
}

// A clock jump does not age out what an uplink has not sent; once sent
// (confirmed) it ages out as usual. Limits that drop unsent messages
// count them.
func TestOutboxClockJumpAndDrops(t *testing.T) {
	var offset atomic.Int64
	dir := t.TempDir()
	e := openEnvConfig(t, Config{Dir: dir, Clock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})

	// Before NTP: the device's clock is ten years behind.
	offset.Store(int64(-10 * 365 * 24 * time.Hour))
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxAge: time.Hour})
	o := openOutbox(t, e, "up", false)
	for i := range 5 {
		e.publish("s.a", fmt.Sprint(i))
	}
	// NTP syncs: ten years pass at once.
	offset.Store(0)
	ms := e.svc.lookup("S")
	ms.do(ms.tick)
	if n := e.streamMsgs("S"); n != 5 {
		t.Fatalf("%d messages after the clock jump, want all 5 kept for the uplink", n)
	}
	st, _ := o.State()
	if st.Dropped.Msgs != 0 {
		t.Fatalf("drops %+v", st.Dropped)
	}
	// Sent and confirmed: now max_age applies.
	o.Confirm(5, nil)
	ms.do(ms.tick)
	waitMsgs(t, e, "S", 0)

	// max_msgs takes unsent messages: counted, with the range and why.
	var resp jsapi.Response
	cfg := ms.config()
	cfg.MaxMsgs = 3
	e.api("STREAM.UPDATE.S", cfg, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	for i := range 5 {
		e.publish("s.a", fmt.Sprint(i))
	}
	st, _ = o.State()
	if d := st.Dropped; d.Msgs != 2 || d.FirstSeq != 6 || d.LastSeq != 7 || d.LastReason != "max_msgs" || d.Bytes == 0 || d.Last.IsZero() {
		t.Fatalf("drops %+v", d)
	}
	// Discard new refuses instead: counted too.
	cfg.Discard = jsapi.DiscardNew
	e.api("STREAM.UPDATE.S", cfg, &resp)
	m := e.request("s.a", "refused")
	if len(m.data) == 0 {
		t.Fatal("no answer")
	}
	st, _ = o.State()
	if st.Dropped.Refused != 1 {
		t.Fatalf("refused %+v", st.Dropped)
	}
	// A failed expectation is what its publisher asked for, not a loss.
	if ack := e.pubHdr("s.a", map[string]string{"Nats-Expected-Last-Sequence": "1"}, "x"); ack.Error == nil {
		t.Fatalf("expectation met: %+v", ack)
	}
	if st, _ = o.State(); st.Dropped.Refused != 1 {
		t.Fatalf("a failed expectation counted as refused: %+v", st.Dropped)
	}
}

// waitMsgs waits for a change in the batch being committed to be durable.
func waitMsgs(t *testing.T, e *env, stream string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.streamMsgs(stream) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages, want %d", stream, e.streamMsgs(stream), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
