package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT over WebSocket (ws://host:port/mqtt) with paho.mqtt.golang,
// paho.golang and MQTT.js, against leafgate and nats-server's MQTT-over-
// WebSocket; the MQTT semantics are the same as over TCP.

// paho.mqtt.golang (3.1.1) over ws://.../mqtt: QoS 0, 1 and 2 delivered
// at the publish's QoS, a retained message given to a later subscriber
// with the retain flag, a will published when a client's connection dies
// and not when it disconnects cleanly; on leafgate also paho.golang with
// MQTT 5.0 user properties.
func TestWSMQTTPaho(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		url := wsURL(b, "ws", "/mqtt")
		sub := v3Connect(t, b, v3Opts{clientID: "wsp-sub", wsURL: url})
		if q := sub.sub(t, "wsp/q/+", 2); q != 2 {
			t.Fatalf("subscribe QoS 2 granted %d", q)
		}
		pub := v3Connect(t, b, v3Opts{clientID: "wsp-pub", wsURL: url})

		t.Run("qos 0 1 2", func(t *testing.T) {
			for _, q := range []byte{0, 1, 2} {
				pub.pub(t, "wsp/q/"+string('0'+q), q, "qos"+string('0'+q))
			}
			for _, want := range []string{"wsp/q/0 0 qos0", "wsp/q/1 1 qos1", "wsp/q/2 2 qos2"} {
				if got := mqttMsgString(sub.next(t, "subscriber")); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
		})

		t.Run("retained", func(t *testing.T) {
			waitToken(t, "retained publish", pub.Publish("wsp/ret/x", 1, true, "kept"))
			late := v3Connect(t, b, v3Opts{clientID: "wsp-late", wsURL: url})
			late.sub(t, "wsp/ret/#", 1)
			m := late.next(t, "late subscriber")
			if m.Topic() != "wsp/ret/x" || string(m.Payload()) != "kept" || !m.Retained() || m.Qos() != 1 {
				t.Fatalf("late subscriber got %s %q retained %v qos %d", m.Topic(), m.Payload(), m.Retained(), m.Qos())
			}
			// An empty retained message clears it.
			waitToken(t, "clear retained", pub.Publish("wsp/ret/x", 1, true, ""))
			if m := late.next(t, "clearing message"); len(m.Payload()) != 0 {
				t.Fatalf("clearing message %q", m.Payload())
			}
			// leafgate has cleared it once the PUBACK is in; nats-server
			// removes it from its retained stream asynchronously, so a
			// subscriber right after may still get it: there, try again
			// with fresh subscribers for a while.
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; ; i++ {
				later := v3Connect(t, b, v3Opts{clientID: fmt.Sprintf("wsp-later-%d", i), wsURL: url})
				later.sub(t, "wsp/ret/#", 1)
				select {
				case m := <-later.msgs:
					if b.Name == "nats-server" && time.Now().Before(deadline) {
						later.Disconnect(0)
						continue
					}
					t.Fatalf("retained message still there after clearing: %s %q", m.Topic(), m.Payload())
				case <-time.After(mqttGrace):
				}
				break
			}
		})

		t.Run("will", func(t *testing.T) {
			watch := v3Connect(t, b, v3Opts{clientID: "wsp-watch", wsURL: url})
			watch.sub(t, "wsp/will/+", 1)
			clean := v3Connect(t, b, v3Opts{clientID: "wsp-clean", wsURL: url,
				will: &v3Will{topic: "wsp/will/clean", payload: "must not come", qos: 1}})
			clean.Disconnect(250)
			dies := v3Connect(t, b, v3Opts{clientID: "wsp-dies", wsURL: url,
				will: &v3Will{topic: "wsp/will/dies", payload: "gone", qos: 1}})
			dies.conn.cut() // TCP closed under the WebSocket, no DISCONNECT
			if got := mqttMsgString(watch.next(t, "will")); got != "wsp/will/dies 1 gone" {
				t.Fatalf("will watcher got %q, want the dead client's will only", got)
			}
		})

		if !b.V5 {
			return
		}
		t.Run("mqtt 5", func(t *testing.T) {
			s5 := v5Connect(t, b, v5Opts{clientID: "wsp-v5-sub", wsURL: url})
			s5.mustSub(t, "wsp/v5/#", 2)
			p5 := v5Connect(t, b, v5Opts{clientID: "wsp-v5-pub", wsURL: url})
			props := &paho.PublishProperties{ContentType: "text/plain"}
			props.User.Add("site", "north")
			if rc := p5.pub(t, &paho.Publish{Topic: "wsp/v5/a", QoS: 2, Payload: []byte("five"), Properties: props}); rc != 0 {
				t.Fatalf("PUBREC/PUBCOMP reason 0x%02x", rc)
			}
			m := s5.next(t, "5.0 subscriber")
			if m.Topic != "wsp/v5/a" || string(m.Payload) != "five" || m.QoS != 2 || m.Properties == nil ||
				m.Properties.ContentType != "text/plain" || m.Properties.User.Get("site") != "north" {
				t.Fatalf("5.0 subscriber got %s %q QoS %d %+v", m.Topic, m.Payload, m.QoS, m.Properties)
			}
		})
	})
}

// MQTT.js over ws://.../mqtt (test/js/mqtt_ws.mjs): QoS 0, 1 and 2,
// retained, will; and the interop script of the TCP tests
// (mqtt_interop.mjs: wildcards, a persistent session, 5.0 properties)
// unchanged but for the URL.
func TestWSMQTTJS(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		url := wsURL(b, "ws", "/mqtt")
		args := []string{url}
		checks := []string{"qos1 round trip", "qos0", "multi-level wildcard", "persistent session"}
		if b.V5 {
			args = append(args, "--v5")
			checks = append(checks, "v5 properties")
		}
		out := runNodeWS(t, 60*time.Second, "mqtt", "mqtt_ws.mjs", args...)
		wantChecks(t, "MQTT.js", out, "qos 0 1 2", "retained", "will")
		out = runNodeWS(t, 60*time.Second, "mqtt", "mqtt_interop.mjs", args...)
		wantChecks(t, "MQTT.js", out, checks...)
	})
}
