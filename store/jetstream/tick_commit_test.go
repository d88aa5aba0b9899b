package jetstream

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Timed work waits for the batch in flight: the projected state does not
// see that batch, so a tick during its commit (here a push consumer's
// heartbeat) expired the same message again, writing a second subject
// delete marker with the sequence of the first. The batch holding it
// failed, and with it every publish that joined it.
func TestTickWaitsForCommit(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "T", Subjects: []string{"t.>"}, SubjectDeleteMarkerTTL: time.Minute})
	// Once armed, hold the first commit after t.a expires: the marker's.
	// (Installed before the stream's file is in concurrent use.)
	var armed atomic.Bool
	var expires atomic.Int64
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	e.svc.lookup("T").file.SetBeforeCommit(func() {
		if !armed.Load() || time.Now().UnixNano() < expires.Load() {
			return
		}
		select {
		case held <- struct{}{}:
			<-hold
		default:
		}
	})
	newInbox(t, e.r, "hb.T") // interest, so the consumer's heartbeats tick the stream
	var cresp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE.T", jsapi.CreateConsumerRequest{Stream: "T", Config: jsapi.ConsumerConfig{
		DeliverSubject: "hb.T", AckPolicy: jsapi.AckNone, Heartbeat: 100 * time.Millisecond,
	}}, &cresp)
	if cresp.Error != nil {
		t.Fatal(cresp.Error)
	}
	ib := newInbox(t, e.r, "_INBOX.acks")
	e.r.Publish(&router.Publisher{}, []byte("t.a"), []byte("_INBOX.acks"), []byte("NATS/1.0\r\nNats-TTL: 1\r\n\r\n"), []byte("x"))
	expires.Store(time.Now().Add(time.Second).UnixNano())
	if m := ib.wait(t, 0, 5*time.Second); !strings.Contains(string(m.data), `"seq":1`) {
		t.Fatalf("ack %s", m.data)
	}

	armed.Store(true)
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("no commit when t.a expired")
	}
	// Heartbeats tick the stream meanwhile; a publish joins the next
	// batch.
	time.Sleep(350 * time.Millisecond)
	e.r.Publish(&router.Publisher{}, []byte("t.b"), []byte("_INBOX.acks"), nil, []byte("y"))
	armed.Store(false)
	close(hold)
	if m := ib.wait(t, 1, 5*time.Second); string(m.data) != `{"stream":"T","seq":3}` {
		t.Fatalf("publish after the expiry: %s", m.data)
	}
	var sresp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.T", nil, &sresp)
	if st := sresp.State; st.Msgs != 2 || st.FirstSeq != 2 || st.LastSeq != 3 {
		t.Fatalf("state %+v, want the marker (2) and t.b (3)", st)
	}
}
