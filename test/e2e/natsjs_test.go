package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// TestNatsJS runs test/js/interop.mjs (nats.js, Node transport) against
// both servers. `make tools` installs its node_modules.
func TestNatsJS(t *testing.T) {
	dir, _ := filepath.Abs("../js")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@nats-io", "transport-node"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nats.js not installed (run `make tools`): %v", err)
		}
		t.Skipf("nats.js not installed (run `make tools`): %v", err)
	}
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "interop.mjs", tg.URL)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats.js interop: %v\n%s", err, out)
		}
		for _, check := range []string{"wildcard", "queue group", "request/reply with headers", "no responders", "info"} {
			if !strings.Contains(string(out), "ok "+check+"\n") {
				t.Errorf("nats.js check %q did not pass:\n%s", check, out)
			}
		}
	})
}
