package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT and JetStream: a QoS 1 publish onto a subject a stream captures
// is acknowledged only once the stream has it, a stream that refuses it
// gets the 5.0 client 0x97 Quota exceeded and the 3.1.1 client no PUBACK,
// and what NATS publishes into a stream's subjects reaches MQTT
// subscribers at QoS 1.

func jsStream(t *testing.T, ctx context.Context, b *mqttpeer.Broker, cfg jetstream.StreamConfig) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js, err := jetstream.New(natsConnect(t, b))
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, cfg)
	if err != nil {
		t.Fatalf("create stream %s: %v", cfg.Name, err)
	}
	return js, st
}

// lastMsg reads the stream's last message on subj, right away: no waiting.
func lastMsg(t *testing.T, ctx context.Context, st jetstream.Stream, subj string) *jetstream.RawStreamMsg {
	t.Helper()
	m, err := st.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatalf("last message on %s right after the PUBACK: %v", subj, err)
	}
	return m
}

func TestMQTTLeafgateJetStreamPubAck(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	js, st := jsStream(t, ctx, b, jetstream.StreamConfig{Name: "TELE", Subjects: []string{"tele.>"}})

	// The message is in the stream when the PUBACK returns.
	v3 := v3Connect(t, b, v3Opts{clientID: "tele-v3"})
	v5 := v5Connect(t, b, v5Opts{clientID: "tele-v5"})
	for i := range 5 {
		v3.pub(t, "tele/a", 1, fmt.Sprintf("v3-%d", i))
		m := lastMsg(t, ctx, st, "tele.a")
		if string(m.Data) != fmt.Sprintf("v3-%d", i) || m.Header.Get("Nmqtt-Pub") != "1" || m.Sequence != uint64(2*i+1) {
			t.Fatalf("3.1.1 publish %d: stream has seq %d %q %v", i, m.Sequence, m.Data, m.Header)
		}
		if code := v5.pub(t, &paho.Publish{Topic: "tele/b", QoS: 1, Payload: fmt.Appendf(nil, "v5-%d", i)}); code >= 0x80 {
			t.Fatalf("5.0 publish %d: PUBACK 0x%02x", i, code)
		}
		m = lastMsg(t, ctx, st, "tele.b")
		if string(m.Data) != fmt.Sprintf("v5-%d", i) || m.Sequence != uint64(2*i+2) {
			t.Fatalf("5.0 publish %d: stream has seq %d %q", i, m.Sequence, m.Data)
		}
	}

	// NATS into the stream's subjects: the MQTT subscriber gets QoS 1.
	sub := v3Connect(t, b, v3Opts{clientID: "tele-sub"})
	if q := sub.sub(t, "tele/cmd/+", 1); q != 1 {
		t.Fatalf("granted %d", q)
	}
	if _, err := js.Publish(ctx, "tele.cmd.js", []byte("via js")); err != nil {
		t.Fatal(err)
	}
	if m := sub.next(t, "JetStream publish"); mqttMsgString(m) != "tele/cmd/js 1 via js" {
		t.Fatalf("MQTT subscriber got %s", mqttMsgString(m))
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 11 {
		t.Fatalf("stream info %+v, %v; want 11 messages", info, err)
	}
}

// A stream with max_msgs 1 and discard new refuses the second message:
// the 5.0 publisher gets PUBACK 0x97, the 3.1.1 publisher no PUBACK at all
// (so it would send it again), while acks for later publishes still come.
func TestMQTTLeafgateJetStreamQuota(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	_, st := jsStream(t, ctx, b, jetstream.StreamConfig{Name: "LIM", Subjects: []string{"lim.>"},
		MaxMsgs: 1, Discard: jetstream.DiscardNew})

	v5 := v5Connect(t, b, v5Opts{clientID: "lim-v5"})
	if code := v5.pub(t, &paho.Publish{Topic: "lim/a", QoS: 1, Payload: []byte("first")}); code >= 0x80 {
		t.Fatalf("first 5.0 publish: PUBACK 0x%02x", code)
	}
	if code := v5.pub(t, &paho.Publish{Topic: "lim/a", QoS: 1, Payload: []byte("second")}); code != 0x97 {
		t.Errorf("5.0 publish into a full stream: PUBACK 0x%02x, want 0x97 Quota exceeded", code)
	}
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}

	v3 := v3Connect(t, b, v3Opts{clientID: "lim-v3"})
	v3.pub(t, "lim/a", 1, "first")
	refused := v3.Publish("lim/a", 1, false, "second")
	// Acks go out in the order the publishes came in: once the PUBACK of
	// a later publish is here, the refused one's would have been too.
	v3.pub(t, "free/x", 1, "later")
	select {
	case <-refused.Done():
		t.Fatalf("3.1.1 publish into a full stream was acknowledged (err %v)", refused.Error())
	case <-v3.lost:
		t.Fatal("3.1.1 connection closed")
	case <-time.After(mqttGrace):
	}
	m := lastMsg(t, ctx, st, "lim.a")
	if string(m.Data) != "first" {
		t.Fatalf("stream holds %q", m.Data)
	}
}
