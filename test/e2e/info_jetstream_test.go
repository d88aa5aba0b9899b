package e2e

import (
	"testing"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// TestInfoJetStreamFields checks INFO advertises "jetstream":true only with
// JetStream on, and a positive api_lvl either way (as nats-server does), in
// raw INFO and as nats.go parses it.
func TestInfoJetStreamFields(t *testing.T) {
	for _, on := range []bool{false, true} {
		harness.ForEach(t, harness.Options{JetStream: on}, func(t *testing.T, tg *harness.Target) {
			info := harness.DialRaw(t, tg, "").Info
			js, hasJS := info["jetstream"]
			lvl, hasLvl := info["api_lvl"]
			// nats-server sends api_lvl with JetStream off as well.
			if n, _ := lvl.(float64); !hasLvl || n < 1 {
				t.Fatalf("INFO api_lvl = %v, want >= 1", lvl)
			}
			if !on {
				if hasJS {
					t.Fatalf("JetStream off: INFO has jetstream=%v", js)
				}
				return
			}
			if js != true {
				t.Fatalf("INFO jetstream = %v, want true", js)
			}
			if ok, n := connect(t, tg).ConnectedServerJetStream(); !ok || n < 1 {
				t.Fatalf("nats.go ConnectedServerJetStream = %v, %d", ok, n)
			}
		})
	}
}
