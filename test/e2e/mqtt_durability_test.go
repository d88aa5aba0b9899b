package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT durability: whatever leafgate acknowledged to an MQTT publisher
// (PUBACK, PUBCOMP) is still there after kill -9, for the persistent
// sessions it was queued for and in the streams that captured it.

// A persistent session's queued QoS 1 and QoS 2 messages come back after
// kill -9, once each and in order.
func TestMQTTPersistentQueueKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	b := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{})
	sub, _ := pahoConnect(t, b, "kill9-sub", false, nil)
	waitToken(t, "subscribe", sub.Subscribe("kill9/#", 2, nil))
	sub.Disconnect(250)

	pub, _ := pahoConnect(t, b, "kill9-pub", true, nil)
	const n = 200
	var want []string
	for i := range n {
		qos := byte(1 + i%2)
		waitToken(t, "publish", pub.Publish("kill9/x", qos, false, strconv.Itoa(i)))
		want = append(want, fmt.Sprintf("kill9/x %d %d", qos, i))
	}
	pub.Disconnect(0)
	b.Crash(t)

	in := newInbox()
	_, present := pahoConnect(t, b, "kill9-sub", false, in.handler)
	if !present {
		t.Fatal("persistent session lost in the kill")
	}
	got := in.wait(t, n)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after kill -9 got %d messages %q...\nwant %d %q...", len(got), head(got), len(want), head(want))
	}
	// Nothing more arrives (no duplicates).
	time.Sleep(300 * time.Millisecond)
	in.mu.Lock()
	extra := len(in.msgs) - n
	in.mu.Unlock()
	if extra != 0 {
		t.Fatalf("%d duplicate deliveries", extra)
	}
}

func head(s []string) []string { return s[:min(5, len(s))] }

// Publishers keep publishing QoS 1 while leafgate is killed, three times.
// Every message leafgate PUBACKed reaches the persistent subscriber after
// the restarts, and is in the stream that captures its subject.
func TestMQTTAckedSurvivesKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	b := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{})
	nc, err := nats.Connect(b.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LOAD", Subjects: []string{"load.>"}}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	sub, _ := pahoConnect(t, b, "load-sub", false, nil)
	waitToken(t, "subscribe", sub.Subscribe("load/#", 1, nil))
	sub.Disconnect(250)

	var mu sync.Mutex
	acked := map[string]bool{}
	for round := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for p := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := mqtt.NewClientOptions().AddBroker(b.TCPURL()).SetClientID(fmt.Sprintf("load-pub-%d-%d", round, p)).
					SetAutoReconnect(false).SetConnectTimeout(mqttWait).SetProtocolVersion(4)
				c := mqtt.NewClient(o)
				if tok := c.Connect(); !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
					return
				}
				defer c.Disconnect(0)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					payload := fmt.Sprintf("r%d-p%d-%d", round, p, i)
					tok := c.Publish("load/x", 1, false, payload)
					if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
						return // the kill: not acknowledged
					}
					mu.Lock()
					acked[payload] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(700 * time.Millisecond)
		b.Crash(t)
		close(stop)
		wg.Wait()
	}
	mu.Lock()
	total := len(acked)
	mu.Unlock()
	if total == 0 {
		t.Fatal("nothing was acknowledged")
	}
	// In the stream.
	nc, err = nats.Connect(b.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	cons, err := js.OrderedConsumer(ctx, "LOAD", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	inStream := map[string]bool{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			inStream[string(m.Data())] = true
			n++
		}
		if n == 0 {
			break
		}
	}
	// At the persistent subscriber.
	in := newInbox()
	_, present := pahoConnect(t, b, "load-sub", false, in.handler)
	if !present {
		t.Fatal("persistent session lost")
	}
	got := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		in.mu.Lock()
		for _, m := range in.msgs {
			got[m[strings.LastIndexByte(m, ' ')+1:]] = true
		}
		in.mu.Unlock()
		missing := 0
		for p := range acked {
			if !got[p] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-in.more:
		case <-time.After(time.Second):
		}
	}
	var lostStream, lostSession []string
	for p := range acked {
		if !inStream[p] {
			lostStream = append(lostStream, p)
		}
		if !got[p] {
			lostSession = append(lostSession, p)
		}
	}
	t.Logf("%d messages acknowledged over 3 kills; %d in the stream, %d delivered", total, len(inStream), len(got))
	if len(lostStream) > 0 || len(lostSession) > 0 {
		t.Fatalf("acknowledged but lost: %d from the stream (%q), %d from the session (%q)",
			len(lostStream), head(lostStream), len(lostSession), head(lostSession))
	}
}

// Retained messages live in the KV bucket mqtt_retained: set by MQTT, seen
// by nats.go's KV API, delivered on subscribe, kept across kill -9, and
// cleared by an empty retained publish.
func TestMQTTRetainedInKV(t *testing.T) {
	b := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{})
	pub, _ := pahoConnect(t, b, "ret-pub", true, nil)
	waitToken(t, "retain", pub.Publish("ret/room1/temp", 1, true, "21.5"))
	waitToken(t, "retain", pub.Publish("ret/room2/temp", 1, true, "19"))
	pub.Disconnect(0)

	nc, err := nats.Connect(b.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	kv, err := js.KeyValue(ctx, "mqtt_retained")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "ret.room1.temp")
	if err != nil || string(e.Value()) != "21.5" {
		t.Fatalf("KV get: %v %v", e, err)
	}
	nc.Close()

	b.Crash(t)

	in := newInbox()
	sub, _ := pahoConnect(t, b, "ret-sub", true, func(_ mqtt.Client, m mqtt.Message) {
		in.add(fmt.Sprintf("%s %v %s", m.Topic(), m.Retained(), m.Payload()))
	})
	waitToken(t, "subscribe", sub.Subscribe("ret/+/temp", 1, nil))
	got := in.wait(t, 2)
	if !(strings.Join(got, "|") == "ret/room1/temp true 21.5|ret/room2/temp true 19" ||
		strings.Join(got, "|") == "ret/room2/temp true 19|ret/room1/temp true 21.5") {
		t.Fatalf("retained after kill -9: %q", got)
	}

	// An empty retained publish clears it, in the KV bucket too.
	pub2, _ := pahoConnect(t, b, "ret-pub2", true, nil)
	waitToken(t, "clear", pub2.Publish("ret/room1/temp", 1, true, ""))
	nc, err = nats.Connect(b.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	kv, err = js.KeyValue(ctx, "mqtt_retained")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "ret.room1.temp"); err == nil {
		t.Fatal("cleared retained message still in the KV bucket")
	}
	in2 := newInbox()
	sub2, _ := pahoConnect(t, b, "ret-sub2", true, func(_ mqtt.Client, m mqtt.Message) {
		in2.add(fmt.Sprintf("%s %v %s", m.Topic(), m.Retained(), m.Payload()))
	})
	waitToken(t, "subscribe", sub2.Subscribe("ret/#", 1, nil))
	if got := in2.wait(t, 1); got[0] != "ret/room2/temp true 19" {
		t.Fatalf("after clear: %q", got)
	}
}
