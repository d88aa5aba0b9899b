package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// nats.js and MQTT.js over WebSocket, run by node from test/js.

// nodeWebSocketFlag is "--experimental-websocket" where node needs it for
// its global (W3C) WebSocket, as Node.js 20 does; empty where it is built
// in, or where node does not know the flag.
var nodeWebSocketFlag = sync.OnceValue(func() string {
	node, err := exec.LookPath("node")
	if err != nil {
		return ""
	}
	out, err := exec.Command(node, "-p", "typeof WebSocket").Output()
	if err == nil && strings.TrimSpace(string(out)) == "function" {
		return ""
	}
	if err := exec.Command(node, "--experimental-websocket", "-e", "").Run(); err == nil {
		return "--experimental-websocket"
	}
	return ""
})

// runNodeWS runs a script from test/js with node's WebSocket on and
// returns its output; it skips (fails under CI) without node or the
// package the script needs (a directory under node_modules), and fails
// when the script fails.
func runNodeWS(t *testing.T, timeout time.Duration, pkg, script string, args ...string) string {
	t.Helper()
	dir, err := mqttpeer.JSDir()
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (run `make tools`): %v", pkg, err)
		}
		t.Skipf("%s not installed (run `make tools`): %v", pkg, err)
	}
	var argv []string
	if f := nodeWebSocketFlag(); f != "" {
		argv = append(argv, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append(append(argv, script), args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func wantChecks(t *testing.T, who, out string, checks ...string) {
	t.Helper()
	for _, c := range checks {
		if !strings.Contains(out, "ok "+c+"\n") {
			t.Errorf("%s check %q did not pass:\n%s", who, c, out)
		}
	}
}

// nats.js (wsconnect on Node's W3C WebSocket, as in a browser) over
// ws://: test/js/ws_interop.mjs, including a request to a nats.go
// responder on the TCP port.
func TestWSNatsJS(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		tcp := natsConnect(t, b)
		if _, err := tcp.Subscribe("wsjs.go.svc", func(m *nats.Msg) { _ = m.Respond(append([]byte("go:"), m.Data...)) }); err != nil {
			t.Fatal(err)
		}
		if err := tcp.Flush(); err != nil {
			t.Fatal(err)
		}
		out := runNodeWS(t, 60*time.Second, "@nats-io/nats-core", "ws_interop.mjs", wsURL(b, "ws", ""))
		wantChecks(t, "nats.js", out, "connect", "wildcard", "big message", "queue group",
			"request/reply with headers", "no responders", "tcp responder")
	})
}
