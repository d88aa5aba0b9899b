package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// quiet is a CONNECT that turns off nats-server's verbose/pedantic defaults.
const quiet = `{"verbose":false,"pedantic":false}`

func TestInfoFields(t *testing.T) {
	harness.ForEach(t, harness.Options{MaxPayload: 4096}, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, "")
		for _, k := range []string{"server_id", "server_name", "version", "go", "host", "port"} {
			if s, _ := r.Info[k].(string); k != "port" && s == "" {
				t.Errorf("INFO %s missing: %v", k, r.Info)
			}
		}
		if r.Info["proto"] != float64(1) || r.Info["headers"] != true || r.Info["max_payload"] != float64(4096) {
			t.Errorf("INFO proto/headers/max_payload: %v", r.Info)
		}
		if _, ok := r.Info["auth_required"]; ok {
			t.Errorf("INFO auth_required present without auth: %v", r.Info)
		}
		if id, _ := r.Info["server_id"].(string); len(id) != 56 || id[0] != 'N' {
			t.Errorf("server_id %q is not a server nkey", id)
		}
	})
}

func TestVerboseAndPedantic(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, `{"verbose":true,"pedantic":true}`)
		r.Expect("+OK")
		r.Send("SUB foo 1\r\n")
		r.Expect("+OK")
		r.Send("PUB foo 2\r\nhi\r\n")
		r.Expect("+OK")
		r.Expect("MSG foo 1 2")
		r.Expect("hi")
		r.Send("PUB foo.* 0\r\n\r\n")
		r.Expect("-ERR 'Invalid Publish Subject'")
		r.Expect("+OK") // reported, yet still published
		// The connection stays open.
		r.Send("UNSUB 1\r\n")
		r.Expect("+OK")
		r.Flush()
	})
}

func TestProtocolErrors(t *testing.T) {
	harness.ForEach(t, harness.Options{MaxControlLine: 256}, func(t *testing.T, tg *harness.Target) {
		t.Run("unknown op closes", func(t *testing.T) {
			r := harness.DialRaw(t, tg, quiet)
			r.Send("FOO bar\r\n")
			lines := r.ExpectClosed(5 * time.Second)
			if len(lines) == 0 || lines[0] != "-ERR 'Unknown Protocol Operation'" {
				t.Fatalf("lines %q", lines)
			}
		})
		t.Run("invalid subject keeps connection", func(t *testing.T) {
			r := harness.DialRaw(t, tg, quiet)
			r.Send("SUB foo..bar 1\r\n")
			r.Expect("-ERR 'Invalid Subject'")
			r.Send("SUB foo.>.bar 2\r\n")
			r.Expect("-ERR 'Invalid Subject'")
			r.Flush()
		})
		t.Run("max control line", func(t *testing.T) {
			r := harness.DialRaw(t, tg, quiet)
			r.Send("SUB " + strings.Repeat("a", 300) + " 1\r\n")
			lines := r.ExpectClosed(5 * time.Second)
			if len(lines) == 0 || lines[0] != "-ERR 'maximum control line exceeded'" {
				t.Fatalf("lines %q", lines)
			}
		})
		t.Run("bad payload terminator", func(t *testing.T) {
			r := harness.DialRaw(t, tg, quiet)
			r.Send("PUB foo 2\r\nabc\r\n")
			lines := r.ExpectClosed(5 * time.Second)
			if len(lines) == 0 || lines[0] != "-ERR 'Unknown Protocol Operation'" {
				t.Fatalf("lines %q", lines)
			}
		})
		t.Run("lower case ops before CONNECT are verbose", func(t *testing.T) {
			r := harness.DialRaw(t, tg, "")
			r.Send("sub x 1\r\npub x 1\r\nz\r\nping\r\n")
			r.Expect("+OK")
			r.Expect("+OK")
			r.Expect("MSG x 1 1")
			r.Expect("z")
			r.Expect("PONG")
		})
		t.Run("bare CONNECT means verbose", func(t *testing.T) {
			r := harness.DialRaw(t, tg, "{}")
			r.Expect("+OK")
			r.Send("PUB foo.* 0\r\n\r\n")
			r.Expect("-ERR 'Invalid Publish Subject'")
			r.Expect("+OK")
		})
	})
}

func TestAuthTimeout(t *testing.T) {
	opts := harness.Options{Token: "s3cret", AuthTimeout: 300 * time.Millisecond}
	harness.ForEach(t, opts, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, "")
		if r.Info["auth_required"] != true {
			t.Fatalf("INFO auth_required: %v", r.Info)
		}
		start := time.Now()
		lines := r.ExpectClosed(5 * time.Second)
		if len(lines) == 0 || lines[len(lines)-1] != "-ERR 'Authentication Timeout'" {
			t.Fatalf("lines %q", lines)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Fatalf("closed after %v, before the auth timeout", d)
		}
	})
}

func TestOpsBeforeConnectNeedAuth(t *testing.T) {
	harness.ForEach(t, harness.Options{Token: "s3cret"}, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, "")
		r.Send("SUB foo 1\r\n")
		lines := r.ExpectClosed(5 * time.Second)
		if len(lines) == 0 || lines[0] != "-ERR 'Authorization Violation'" {
			t.Fatalf("lines %q", lines)
		}
	})
}

func TestStaleConnection(t *testing.T) {
	opts := harness.Options{PingInterval: 100 * time.Millisecond, MaxPingsOut: 2}
	harness.ForEach(t, opts, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, quiet)
		var pings int
		var last string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			l, err := r.TryLine(time.Until(deadline))
			if err != nil {
				break
			}
			if l == "PING" {
				pings++ // never answered
			}
			last = l
		}
		if last != "-ERR 'Stale Connection'" || pings != 2 {
			t.Fatalf("last line %q after %d PINGs; want Stale Connection after 2", last, pings)
		}
	})
}

func TestMaxConnections(t *testing.T) {
	harness.ForEach(t, harness.Options{MaxConnections: 2}, func(t *testing.T, tg *harness.Target) {
		harness.DialRaw(t, tg, quiet).Flush()
		harness.DialRaw(t, tg, quiet).Flush()
		conn, err := net.Dial("tcp", tg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		data, _ := io.ReadAll(conn)
		lines := strings.Split(strings.TrimSpace(string(data)), "\r\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "INFO ") || lines[len(lines)-1] != "-ERR 'maximum connections exceeded'" {
			t.Fatalf("third connection got %q", lines)
		}
	})
}

func TestMaxSubscriptions(t *testing.T) {
	harness.ForEach(t, harness.Options{MaxSubscriptions: 2}, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, quiet)
		r.Send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
		r.Expect("-ERR 'maximum subscriptions exceeded'")
		// Still connected, the first two still work.
		r.Send("PUB b 1\r\nx\r\n")
		r.Expect("MSG b 2 1")
		r.Expect("x")
	})
}

// A subscriber that stops reading is cut as a slow consumer and counted;
// the publisher and other subscribers carry on. max_pending is 4 MiB, not
// less: the good subscriber (nats.go under -race, on a busy machine) must
// be allowed to fall that far behind the 16 MB flood without being cut
// itself, while the one that reads nothing still overflows it.
func TestSlowConsumer(t *testing.T) {
	opts := harness.Options{MaxPending: 4 << 20, WriteDeadline: time.Second}
	harness.ForEach(t, opts, func(t *testing.T, tg *harness.Target) {
		slow := harness.DialRaw(t, tg, quiet)
		slow.Send("SUB flood 1\r\n")
		slow.Flush()
		good := connect(t, tg)
		goodSub, _ := good.SubscribeSync("flood")
		goodSub.SetPendingLimits(-1, -1)
		good.Flush()

		pub := harness.DialRaw(t, tg, quiet)
		payload := bytes.Repeat([]byte("x"), 1024)
		frame := fmt.Appendf(nil, "PUB flood 1024\r\n%s\r\n", payload)
		w := bufio.NewWriterSize(pub.Conn, 64*1024)
		const total = 16000 // 16 MB: far beyond socket buffers and max_pending
		for i := 0; i < total; i++ {
			if _, err := w.Write(frame); err != nil {
				t.Fatalf("publisher blocked or cut after %d messages: %v", i, err)
			}
		}
		w.Flush()
		pub.Flush()
		for i := 0; i < total; i++ {
			if _, err := goodSub.NextMsg(5 * time.Second); err != nil {
				c := getJSON(t, tg.MonitorURL+"/connz?state=closed")
				t.Fatalf("good subscriber lost after %d messages: %v; closed connections: %v", i, err, c["connections"])
			}
		}
		slow.ExpectClosed(15 * time.Second)
		v := getJSON(t, tg.MonitorURL+"/varz")
		if n, _ := v["slow_consumers"].(float64); n < 1 {
			t.Fatalf("slow_consumers = %v, want >= 1", v["slow_consumers"])
		}
	})
}
