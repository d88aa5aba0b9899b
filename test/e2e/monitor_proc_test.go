package e2e

import (
	"fmt"
	"net"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestBinaryWiresJetStreamMonitoring runs the leafgate binary with
// JetStream on and off and checks cmd/leafgate tells the server: INFO's
// jetstream and api_lvl, and /jsz served from the JetStream service.
func TestBinaryWiresJetStreamMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("jetstream=", on), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			mport := l.Addr().(*net.TCPAddr).Port
			l.Close()
			p := startProc(t, t.TempDir(), nil, "-m", fmt.Sprint(mport), fmt.Sprintf("--jetstream=%v", on))
			nc, err := nats.Connect(p.url)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, lvl := nc.ConnectedServerJetStream()
			if js != on || lvl != 1 {
				t.Errorf("INFO jetstream %v api_lvl %d, want %v and 1", js, lvl, on)
			}
			m := getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/jsz", mport))
			if disabled, _ := m["disabled"].(bool); disabled == on {
				t.Errorf("/jsz disabled = %v with jetstream %v", m["disabled"], on)
			}
			if on && dig(m, "config.store_dir") == nil {
				t.Errorf("/jsz config %v lacks store_dir", m["config"])
			}
		})
	}
}
