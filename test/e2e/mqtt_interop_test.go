package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT interop: real MQTT clients (paho.mqtt.golang for 3.1.1, paho.golang
// for 5.0, mosquitto_pub/mosquitto_sub, MQTT.js) against every broker of
// mqttpeer.Targets — mosquitto and nats-server as references, and leafgate
// once its MQTT listener starts there.

const mqttWait = 15 * time.Second // generous: CI is a busy 2-core machine

// pahoConnect connects a paho.mqtt.golang (MQTT 3.1.1) client that does not
// reconnect by itself and sends every message to onMsg.
func pahoConnect(t *testing.T, b *mqttpeer.Broker, clientID string, clean bool, onMsg mqtt.MessageHandler) (mqtt.Client, bool) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(b.TCPURL()).SetClientID(clientID).SetCleanSession(clean).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(mqttWait).SetOrderMatters(true)
	if onMsg != nil {
		o.SetDefaultPublishHandler(onMsg)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, tok.(*mqtt.ConnectToken).SessionPresent()
}

func waitToken(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(mqttWait) {
		t.Fatalf("%s: no answer within %v", what, mqttWait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// inbox collects messages from a client's callbacks.
type inbox struct {
	mu   sync.Mutex
	msgs []string // "topic qos payload"
	more chan struct{}
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1)} }

func (in *inbox) add(s string) {
	in.mu.Lock()
	in.msgs = append(in.msgs, s)
	in.mu.Unlock()
	select {
	case in.more <- struct{}{}:
	default:
	}
}

func (in *inbox) handler(_ mqtt.Client, m mqtt.Message) {
	in.add(fmt.Sprintf("%s %d %s", m.Topic(), m.Qos(), m.Payload()))
}

// wait returns the first n messages, failing the test if they do not
// arrive in time.
func (in *inbox) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(mqttWait)
	for {
		in.mu.Lock()
		got := append([]string(nil), in.msgs...)
		in.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-in.more:
		case <-deadline:
			t.Fatalf("received %d of %d messages, the last: %q", len(got), n, got[max(0, len(got)-3):])
		}
	}
}

// QoS 1 publishes are acknowledged and delivered once each, in order,
// through a single-level wildcard.
func TestMQTTPahoQoS1(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		in := newInbox()
		sub, _ := pahoConnect(t, b, "e2e-qos1-sub", true, nil)
		waitToken(t, "subscribe", sub.Subscribe("e2e/qos1/+", 1, in.handler))
		pub, _ := pahoConnect(t, b, "e2e-qos1-pub", true, nil)
		var want []string
		for i := 0; i < 20; i++ {
			waitToken(t, "publish", pub.Publish("e2e/qos1/a", 1, false, fmt.Sprintf("m%d", i)))
			want = append(want, fmt.Sprintf("e2e/qos1/a 1 m%d", i))
		}
		got := in.wait(t, len(want))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got %q\nwant %q", got, want)
		}
	})
}

// A persistent session (clean session 0) keeps its subscription and the
// QoS 1 messages published while its client is away, across a broker
// restart too.
func TestMQTTPahoPersistentSession(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		c, present := pahoConnect(t, b, "e2e-persist", false, nil)
		if present {
			t.Fatal("new session reported present")
		}
		waitToken(t, "subscribe", c.Subscribe("e2e/persist", 1, nil))
		c.Disconnect(250)

		pub, _ := pahoConnect(t, b, "e2e-persist-pub", true, nil)
		waitToken(t, "publish", pub.Publish("e2e/persist", 1, false, "before restart"))
		pub.Disconnect(250)

		b.Restart(t)

		in := newInbox()
		_, present = pahoConnect(t, b, "e2e-persist", false, in.handler)
		if !present {
			t.Fatal("session not present after restart")
		}
		if got := in.wait(t, 1); got[0] != "e2e/persist 1 before restart" {
			t.Fatalf("queued message: %q", got)
		}
	})
}

// MQTT 5.0 with paho.golang: user properties and content type travel with
// a QoS 1 message, and the PUBACK carries reason code 0.
func TestMQTTPahoV5(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		if !b.V5 {
			t.Skipf("%s speaks MQTT 3.1.1 only", b.Name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
		defer cancel()
		got := make(chan *paho.Publish, 1)
		sub := pahoV5(t, ctx, b, "e2e-v5-sub", func(pr paho.PublishReceived) (bool, error) {
			got <- pr.Packet
			return true, nil
		})
		sa, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "e2e/v5/#", QoS: 1}}})
		if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 1 {
			t.Fatalf("subscribe: %+v, %v", sa, err)
		}
		pub := pahoV5(t, ctx, b, "e2e-v5-pub", nil)
		props := &paho.PublishProperties{ContentType: "application/json"}
		props.User.Add("k", "v")
		resp, err := pub.Publish(ctx, &paho.Publish{Topic: "e2e/v5/x", QoS: 1, Payload: []byte(`{}`), Properties: props})
		if err != nil || resp.ReasonCode != 0 {
			t.Fatalf("publish: %+v, %v", resp, err)
		}
		select {
		case m := <-got:
			if m.Topic != "e2e/v5/x" || m.QoS != 1 || string(m.Payload) != "{}" || m.Properties == nil ||
				m.Properties.ContentType != "application/json" || m.Properties.User.Get("k") != "v" {
				t.Fatalf("received %+v (properties %+v)", m, m.Properties)
			}
		case <-ctx.Done():
			t.Fatal("message not received")
		}
	})
}

func pahoV5(t *testing.T, ctx context.Context, b *mqttpeer.Broker, clientID string, onPub func(paho.PublishReceived) (bool, error)) *paho.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", b.Addr, mqttWait)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, ClientID: clientID}
	if onPub != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onPub}
	}
	c := paho.NewClient(cfg)
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30})
	if err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %s: %+v, %v", clientID, ca, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// mosquitto_sub and mosquitto_pub: QoS is downgraded to the
// subscription's, and with MQTT 5.0 where the broker speaks it.
func TestMQTTMosquittoClients(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		versions := []string{"mqttv311"}
		if b.V5 {
			versions = append(versions, "mqttv5")
		}
		for _, v := range versions {
			t.Run(v, func(t *testing.T) {
				topic := "e2e/cli/" + v
				sub := mqttpeer.StartSub(t, b, "-V", v, "-t", topic+"/#", "-q", "1", "-C", "3")
				mqttpeer.Pub(t, b, "-V", v, "-t", topic+"/q0", "-q", "0", "-m", "zero")
				mqttpeer.Pub(t, b, "-V", v, "-t", topic+"/q1", "-q", "1", "-m", "one")
				mqttpeer.Pub(t, b, "-V", v, "-t", topic+"/q2", "-q", "2", "-m", "two")
				got := sub.Wait(t, mqttWait)
				want := []mqttpeer.SubMessage{
					{Topic: topic + "/q0", QoS: 0, Payload: "zero"},
					{Topic: topic + "/q1", QoS: 1, Payload: "one"},
					{Topic: topic + "/q2", QoS: 1, Payload: "two"}, // granted QoS 1
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %+v\nwant %+v\n%s", got, want, sub.Log())
				}
			})
		}
	})
}

// MQTT.js (test/js/mqtt_interop.mjs): QoS 0 and 1, wildcards, a persistent
// session, and 5.0 properties where the broker speaks 5.0.
func TestMQTTJS(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		args := []string{b.MQTTURL()}
		checks := []string{"qos1 round trip", "qos0", "multi-level wildcard", "persistent session"}
		if b.V5 {
			args = append(args, "--v5")
			checks = append(checks, "v5 properties")
		}
		out := mqttpeer.RunMQTTJS(t, 60*time.Second, "mqtt_interop.mjs", args...)
		for _, c := range checks {
			if !strings.Contains(out, "ok "+c+"\n") {
				t.Errorf("MQTT.js check %q did not pass:\n%s", c, out)
			}
		}
	})
}

// More QoS 1 messages than a broker keeps in flight to one subscriber
// (leafgate's mqtt.max_inflight is 256, mosquitto's 20) are queued, and
// every one is delivered, in order, burst after burst. (leafgate once
// stopped delivering after its first queued burst had drained; found by
// the MQTT bench.)
func TestMQTTQoS1Bursts(t *testing.T) {
	mqttpeer.ForEach(t, func(t *testing.T, b *mqttpeer.Broker) {
		in := newInbox()
		sub, _ := pahoConnect(t, b, "e2e-burst-sub", true, in.handler)
		waitToken(t, "subscribe", sub.Subscribe("e2e/burst", 1, nil))
		pub, _ := pahoConnect(t, b, "e2e-burst-pub", true, nil)
		const burst = 600
		var want []string
		for round := 0; round < 3; round++ {
			toks := make([]mqtt.Token, 0, burst)
			for i := 0; i < burst; i++ {
				m := fmt.Sprintf("r%d-%d", round, i)
				toks = append(toks, pub.Publish("e2e/burst", 1, false, m))
				want = append(want, "e2e/burst 1 "+m)
			}
			for _, tok := range toks {
				waitToken(t, "publish", tok)
			}
			got := in.wait(t, len(want))
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("round %d: received %d messages, not the %d published in order", round, len(got), len(want))
			}
		}
	})
}
