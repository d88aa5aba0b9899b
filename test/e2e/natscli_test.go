package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// natsCLI finds the natscli binary `make test` installs.
func natsCLI(t *testing.T) string {
	return toolBinary(t, "natscli", "NATS_CLI", "../../.bin/nats")
}

// toolBinary finds a peer binary `make tools` installs: the path in env,
// else the first match of glob (relative to the test's directory). It
// fails under CI and skips elsewhere when there is none.
func toolBinary(t *testing.T, name, env, glob string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if m, _ := filepath.Glob(glob); len(m) > 0 {
		if p, err := filepath.Abs(m[0]); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run `make tools` (%s or %s)", name, env, glob)
	}
	t.Skipf("%s not installed; `make tools` installs it", name)
	return ""
}

func cli(t *testing.T, bin string, tg *harness.Target, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", tg.URL, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestNatsCLI(t *testing.T) {
	bin := natsCLI(t)
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		sub, _ := nc.SubscribeSync("cli.>")
		nc.Subscribe("cli.svc", func(m *nats.Msg) { m.Respond([]byte("pong-" + string(m.Data))) })
		nc.Flush()

		cli(t, bin, tg, "pub", "cli.hello", "from the cli")
		if m := nextMsg(t, sub); m.Subject != "cli.hello" || string(m.Data) != "from the cli" {
			t.Fatalf("got %q %q", m.Subject, m.Data)
		}
		out := cli(t, bin, tg, "request", "cli.svc", "ping", "--raw")
		if !strings.Contains(out, "pong-ping") {
			t.Fatalf("nats request output %q", out)
		}
		out = cli(t, bin, tg, "server", "check", "connection")
		if !strings.Contains(out, "OK Connection") {
			t.Fatalf("nats server check connection: %q", out)
		}

		// nats sub with a count exits after receiving.
		done := make(chan string, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--server", tg.URL, "--no-context", "sub", "cli.sub", "--count", "1", "--raw")
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			out, _ := cmd.CombinedOutput()
			done <- string(out)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			nc.Publish("cli.sub", []byte("to-cli"))
			nc.Flush()
			select {
			case out := <-done:
				if !strings.Contains(out, "to-cli") {
					t.Fatalf("nats sub output %q", out)
				}
				return
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("nats sub did not receive")
			}
		}
	})
}
