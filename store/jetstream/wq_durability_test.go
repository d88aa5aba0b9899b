package jetstream

import (
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// A work-queue ack-sync is answered only once the transaction that holds
// both the consumer's new position and the message's removal from the
// stream has committed: hold the stream file's commit back and no answer
// comes; after a restart the acknowledged message is gone and the
// consumer's record agrees.
func TestWorkQueueAckDurableWithRemoval(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "Q", Subjects: []string{"q.>"}, Retention: jsapi.WorkQueuePolicy})
	for _, s := range []string{"a", "b", "c"} {
		if ack := e.publish("q."+s, s); ack.Error != nil {
			t.Fatalf("publish: %+v", ack.Error)
		}
	}
	var cresp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE.Q.W", jsapi.CreateConsumerRequest{Stream: "Q", Config: jsapi.ConsumerConfig{Durable: "W", AckPolicy: jsapi.AckExplicit}}, &cresp)
	if cresp.Error != nil {
		t.Fatalf("create consumer: %+v", cresp.Error)
	}
	ib := newInbox(t, e.r, "_INBOX.fetch")
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.Q.W"), []byte("_INBOX.fetch"), nil, []byte(`{"batch":2}`))
	first := ib.wait(t, 0, 5*time.Second)
	ib.wait(t, 1, 5*time.Second)

	hold, held := make(chan struct{}), make(chan struct{}, 1)
	file := e.svc.lookup("Q").file
	file.SetBeforeCommit(func() {
		select {
		case held <- struct{}{}:
		default:
		}
		<-hold
	})
	acked := newInbox(t, e.r, "_INBOX.acked")
	e.r.Publish(&router.Publisher{}, []byte(first.reply), []byte("_INBOX.acked"), nil, []byte("+ACK"))
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the ack's commit never started")
	}
	time.Sleep(50 * time.Millisecond)
	if n := acked.count(); n != 0 {
		t.Fatalf("ack-sync answered before its commit finished")
	}
	file.SetBeforeCommit(nil)
	close(hold)
	acked.wait(t, 0, 5*time.Second)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}

	e = openEnv(t, dir)
	var sresp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.Q", nil, &sresp)
	if sresp.State.Msgs != 2 || sresp.State.FirstSeq != 2 {
		t.Fatalf("after restart the stream holds %d messages from %d, want 2 from 2", sresp.State.Msgs, sresp.State.FirstSeq)
	}
	e.api("CONSUMER.INFO.Q.W", nil, &cresp)
	if cresp.Error != nil || cresp.AckFloor.Stream != 1 || cresp.NumAckPending != 1 {
		t.Fatalf("consumer after restart: %+v %+v", cresp.Error, cresp.ConsumerInfo)
	}
}

// Ephemeral consumers come back after a restart, as nats-server restores
// them, so clients pulling from or pushed to one do not stall.
func TestEphemeralConsumerRestored(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	var cresp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE.S", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{AckPolicy: jsapi.AckExplicit, InactiveThreshold: time.Minute}}, &cresp)
	if cresp.Error != nil {
		t.Fatalf("create consumer: %+v", cresp.Error)
	}
	name := cresp.Name
	e.publish("s.1", "x")
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	e.api("CONSUMER.INFO.S."+name, nil, &cresp)
	if cresp.Error != nil || cresp.Name != name || cresp.NumPending != 1 {
		t.Fatalf("ephemeral %s after restart: %+v %+v", name, cresp.Error, cresp.ConsumerInfo)
	}
	ib := newInbox(t, e.r, "_INBOX.pull")
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.S."+name), []byte("_INBOX.pull"), nil, nil)
	if m := ib.wait(t, 0, 5*time.Second); string(m.data) != "x" {
		t.Fatalf("delivered %q", m.data)
	}
}
