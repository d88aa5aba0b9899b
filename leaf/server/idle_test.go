package server_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

// connectLikeNatsGo is the CONNECT nats.go sends, so the JSON decoded is
// the size real clients send.
const connectLikeNatsGo = `{"verbose":false,"pedantic":false,"tls_required":false,"name":"","lang":"go","version":"1.55.0","protocol":1,"echo":true,"headers":true,"no_responders":true}`

// An idle connection costs one goroutine, the read loop, on a small
// stack: the write loop runs only while there is output, and the read
// loop leaves the stack that the greeting and CONNECT's JSON grew behind.
// With the GC off no stack shrinks, so the stacks measured are the ones
// the connections kept. Output still flows once the connections are idle.
func TestIdleConnectionsCostOneSmallGoroutine(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	baseGoroutines := runtime.NumGoroutine()
	const n = 400 // enough that other goroutines' stack growth is noise
	conns := make([]*rawClient, n)
	for i := range conns {
		c := dialRaw(t, s, connectLikeNatsGo)
		c.send(fmt.Sprintf("SUB idle.%d 1\r\n", i))
		c.flush()
		conns[i] = c
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseGoroutines+n {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections run %d goroutines, want at most %d", n, runtime.NumGoroutine()-baseGoroutines, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	runtime.ReadMemStats(&after)
	// A goroutine starts with 2 KiB; handling a SUB grows it to 4 KiB. The
	// greeting and CONNECT grow it to 8 KiB, and a write loop adds 4 KiB.
	per := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("goroutine stacks: %d bytes per idle connection", per)
	if per > 5<<10 {
		t.Errorf("goroutine stacks: %d bytes per idle connection, want at most %d", per, 5<<10)
	}

	pub := dialRaw(t, s, quiet)
	pub.send("PUB idle.7 2\r\nhi\r\n")
	pub.flush()
	conns[7].expect("MSG idle.7 1 2")
	conns[7].expect("hi")
	conns[7].flush()
}
