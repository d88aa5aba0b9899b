package e2e

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/harness"
)

func TestLameDuckMode(t *testing.T) {
	opts := harness.Options{LameDuckDuration: 2 * time.Second, LameDuckGrace: 500 * time.Millisecond}
	harness.ForEach(t, opts, func(t *testing.T, tg *harness.Target) {
		ldm := make(chan struct{}, 1)
		closed := make(chan struct{})
		nc := connect(t, tg,
			nats.LameDuckModeHandler(func(*nats.Conn) { ldm <- struct{}{} }),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		)
		nc.Flush()
		tg.LameDuck()
		select {
		case <-ldm:
		case <-time.After(5 * time.Second):
			t.Fatal("client was not told about lame duck mode")
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("client not disconnected within the lame duck duration")
		}
	})
}

// Graceful shutdown flushes what was routed before closing. This is
// leafgate's guarantee (nats-server may drop in-flight messages when it
// shuts down), so it runs against leafgate only. The subscriber is a raw
// socket read to EOF: a nats.go client would itself drop messages still
// queued for its handlers when the connection closes.
func TestShutdownDeliversWhatWasFlushed(t *testing.T) {
	tg := harness.Start(t, "leafgate", harness.Options{})
	sub := harness.DialRaw(t, tg, quiet)
	sub.Send("SUB last.words 1\r\n")
	sub.Flush()
	const n = 2000
	pub := connect(t, tg)
	payload := make([]byte, 512)
	for i := 0; i < n; i++ {
		pub.Publish("last.words", payload)
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	tg.Shutdown()
	_ = sub.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := io.ReadAll(sub.R)
	if err != nil {
		t.Fatalf("read until close: %v", err)
	}
	if got := bytes.Count(data, []byte("MSG last.words 1 512\r\n")); got != n {
		t.Fatalf("subscriber got %d of %d messages flushed before shutdown", got, n)
	}
}
