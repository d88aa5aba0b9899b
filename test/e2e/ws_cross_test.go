package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// Every transport reaches every other: NATS over WebSocket, NATS over TCP,
// MQTT over TCP and MQTT over WebSocket each publish one message on
// "cross.<from>" (MQTT "cross/<from>"), and each of the four, subscribed
// to "cross.>" ("cross/#"), gets all four — sixteen deliveries, each way
// between each pair, with the payload intact.
func TestWSCrossTransport(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		var mu sync.Mutex
		got := map[string][]string{} // receiver → "from=payload"
		record := func(to, subj, data string) {
			mu.Lock()
			defer mu.Unlock()
			from := subj[strings.LastIndexAny(subj, "./")+1:]
			got[to] = append(got[to], from+"="+data)
		}
		natsSide := func(name string, nc *nats.Conn) {
			t.Helper()
			if _, err := nc.Subscribe("cross.>", func(m *nats.Msg) { record(name, m.Subject, string(m.Data)) }); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		wsNC := wsNATS(t, wsURL(b, "ws", ""))
		natsSide("natsws", wsNC)
		tcpNC := natsConnect(t, b)
		natsSide("natstcp", tcpNC)
		mqttTCP := v3Connect(t, b, v3Opts{clientID: "cross-mqtttcp"})
		mqttWS := v3Connect(t, b, v3Opts{clientID: "cross-mqttws", wsURL: wsURL(b, "ws", "/mqtt")})
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })
		for name, c := range map[string]*v3Client{"mqtttcp": mqttTCP, "mqttws": mqttWS} {
			c.sub(t, "cross/#", 1)
			go func() {
				for {
					select {
					case m := <-c.msgs:
						record(name, m.Topic(), string(m.Payload()))
					case <-stop:
						return
					}
				}
			}()
		}

		payload := func(from string) string { return "from " + from + " via " + b.Name }
		for _, nc := range []struct {
			name string
			c    *nats.Conn
		}{{"natsws", wsNC}, {"natstcp", tcpNC}} {
			if err := nc.c.Publish("cross."+nc.name, []byte(payload(nc.name))); err != nil {
				t.Fatal(err)
			}
			if err := nc.c.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		mqttTCP.pub(t, "cross/mqtttcp", 1, payload("mqtttcp"))
		mqttWS.pub(t, "cross/mqttws", 1, payload("mqttws"))

		names := []string{"mqtttcp", "mqttws", "natstcp", "natsws"}
		var want []string
		for _, n := range names {
			want = append(want, n+"="+payload(n))
		}
		deadline := time.Now().Add(mqttWait)
		for {
			mu.Lock()
			done, report := true, ""
			for _, to := range names {
				g := slices.Clone(got[to])
				slices.Sort(g)
				if !slices.Equal(g, want) {
					done = false
				}
				report += fmt.Sprintf("\n  %s got %q", to, g)
			}
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v, want each of the four to get %q:%s", mqttWait, want, report)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Nothing twice.
		time.Sleep(mqttGrace)
		mu.Lock()
		defer mu.Unlock()
		for _, to := range names {
			if len(got[to]) != len(names) {
				t.Fatalf("%s got %d messages: %q", to, len(got[to]), got[to])
			}
		}
	})
}
