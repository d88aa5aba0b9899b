package e2e

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// TestWSSlowReader: a WebSocket subscriber that stops reading is a slow
// consumer exactly like a TCP one. The publisher floods its subject; the
// server holds at most max_pending for it, then cuts it, counts it in
// /varz slow_consumers and drops it from /connz, and the publisher and
// new WebSocket clients carry on.
func TestWSSlowReader(t *testing.T) {
	forWS(t, wsOpts{maxPending: 1 << 20}, func(t *testing.T, b *mqttpeer.Broker) {
		slow := wsDial(t, b.WSAddr, wsHello{})
		slow.mustUpgrade("slow reader")
		slow.natsHello(`{"verbose":false,"name":"slow-ws"}`, "SUB flood.> 1\r\n")
		// From here on slow reads nothing.
		waitConn(t, b, "the slow reader", func(c wsConnInfo) bool { return c.Name == "slow-ws" })

		healthy, err := nats.Connect(wsURL(b, "ws", ""), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		defer healthy.Close()
		var got atomic.Int64
		hs, err := healthy.Subscribe("flood.>", func(*nats.Msg) { got.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		_ = hs.SetPendingLimits(-1, -1)
		pub, err := nats.Connect(b.NATSURL, nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()

		payload := make([]byte, 1024)
		var varz struct {
			SlowConsumers int64 `json:"slow_consumers"`
		}
		sent := 0
		deadline := time.Now().Add(60 * time.Second)
		for {
			for range 1000 {
				if err := pub.Publish("flood.x", payload); err != nil {
					t.Fatalf("publisher: %v", err)
				}
				sent++
			}
			if err := pub.FlushTimeout(30 * time.Second); err != nil {
				t.Fatalf("publisher flush after %d messages: %v", sent, err)
			}
			monitorGet(t, b, "/varz", &varz)
			if varz.SlowConsumers > 0 {
				break
			}
			if time.Now().After(deadline) || sent > 256<<10 {
				t.Fatalf("%d KiB sent to a reader that reads nothing, max_pending 1 MiB: no slow consumer", sent)
			}
		}
		waitConnGone(t, b, "the slow reader", func(c wsConnInfo) bool { return c.Name == "slow-ws" })
		// The well-behaved WebSocket subscriber and the publisher were not
		// cut, and still work.
		// The publisher was not cut, and the server still serves
		// WebSocket clients. (The well-behaved subscriber is not asserted
		// on: on a busy machine it can fall 1 MiB behind too, and is then
		// rightly cut as well.)
		if !pub.IsConnected() {
			t.Fatal("the publisher was disconnected")
		}
		after, err := nats.Connect(wsURL(b, "ws", ""), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		defer after.Close()
		if _, err := after.Subscribe("after", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
			t.Fatal(err)
		}
		if err := after.Flush(); err != nil {
			t.Fatal(err)
		}
		if m, err := pub.Request("after", nil, 10*time.Second); err != nil || string(m.Data) != "ok" {
			t.Fatalf("request to a new WebSocket client: %v", err)
		}
		t.Logf("%s: slow consumer after %d KiB; the healthy subscriber got %d", b.Name, sent, got.Load())
	})
}
