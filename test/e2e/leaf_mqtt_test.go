package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// An MQTT device at the edge is part of the hub's subject space: a
// paho.mqtt.golang (3.1.1) client on leafgate's MQTT port subscribed to
// topic a/b gets what the hub publishes on subject a.b (its interest
// crosses the link like a NATS client's), and its publishes on a/c reach a
// NATS subscriber at the hub on a.c, at QoS 0 and 1.
func TestLeafMQTTDevice(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc := h.Connect(t)

	in := newInbox()
	dev, _ := pahoConnect(t, e.Broker, "leaf-device", true, nil)
	waitToken(t, "subscribe a/b", dev.Subscribe("a/b", 1, in.handler))
	waitToken(t, "subscribe a/w/+", dev.Subscribe("a/w/+", 0, in.handler))
	h.WaitInterest(t, leafWait, "a.b", "a.w.*")
	publish(t, hc, "a.b", "from the hub")
	publish(t, hc, "a.w.x", "wildcard")
	publish(t, hc, "a.x", "not subscribed")
	publish(t, hc, "a.b", "again")
	want := []string{"a/b 1 from the hub", "a/w/x 0 wildcard", "a/b 1 again"}
	got := in.wait(t, len(want))
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("device got %q, want %q", got, want)
	}

	up := subSync(t, hc, "a.c")
	e.waitHubInterest(t, "a.c", 1)
	for qos := byte(0); qos <= 1; qos++ {
		waitToken(t, "publish", dev.Publish("a/c", qos, false, fmt.Sprintf("device qos %d", qos)))
		m := recv(t, up, "a.c", fmt.Sprintf("device qos %d", qos))
		if p := m.Header.Get("Nmqtt-Pub"); p != fmt.Sprint(qos) {
			t.Errorf("QoS %d publish reached the hub with Nmqtt-Pub %q", qos, p)
		}
	}
	leafNone(t, up)
	in.mu.Lock()
	n := len(in.msgs)
	in.mu.Unlock()
	if n != len(want) {
		t.Fatalf("device got %d messages, want %d: %q", n, len(want), in.msgs)
	}
}
