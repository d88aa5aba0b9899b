package netproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// echo runs a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q: %q %v", line, got, err)
	}
}

func TestProxy(t *testing.T) {
	p := Start(t, echo(t))
	c, r := dial(t, p)
	roundTrip(t, c, r, "hello")

	// Paused: nothing comes back, then everything held, in order.
	p.Pause()
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("read %q through a paused proxy", got)
	}
	// A connection made while paused is black-holed too.
	c2, r2 := dial(t, p)
	if _, err := c2.Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	p.Resume()
	r = bufio.NewReader(c) // the timed-out read may have left the reader failed
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after resume: %q %v", got, err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "late\n" {
		t.Fatalf("connection made while paused, after resume: %q %v", got, err)
	}

	// Cut closes what is open.
	if n := p.Cut(); n != 2 {
		t.Fatalf("Cut closed %d connections, want 2", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("read after Cut succeeded")
	}

	// Refused connections are counted and reset; then it lets them in again.
	before := p.Attempts()
	p.Refuse(true)
	for range 3 {
		// The reset may come before the dial has seen its connection up.
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Fatal("read on a refused connection succeeded")
		}
		c.Close()
	}
	if got := p.Attempts() - before; got != 3 || p.Refused() != 3 {
		t.Fatalf("attempts %d refused %d, want 3 and 3", got, p.Refused())
	}
	p.Refuse(false)
	c, r = dial(t, p)
	roundTrip(t, c, r, "back")
	deadline := time.Now().Add(10 * time.Second)
	for p.Active() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections active, want 1", p.Active())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A close while paused is held too: the far side learns of it only on
// Resume, as across a black hole.
func TestProxyPauseHoldsClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := Start(t, ln.Addr().String())
	c, _ := dial(t, p)
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p.Pause()
	c.Close()
	_ = srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := srv.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
		t.Fatalf("target saw %v while paused, want a timeout", err)
	}
	p.Resume()
	_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("target read after resume: %v, want EOF", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A one-way latency d makes every round trip take at least 2d, in order,
// on a connection already open when it is set; a new connection's first
// bytes from the target come at least 2d after the connect, as over a
// real link; and lifting it speeds an open connection up again.
func TestProxyLatency(t *testing.T) {
	const d = 100 * time.Millisecond
	p := Start(t, echo(t))
	c, r := dial(t, p)
	roundTrip(t, c, r, "before")

	p.SetLatency(d)
	start := time.Now()
	roundTrip(t, c, r, "slow")
	if rtt := time.Since(start); rtt < 2*d {
		t.Fatalf("round trip %v with a one-way latency of %v, want at least %v", rtt, d, 2*d)
	}

	// Many lines in one go come back complete and in order, and all of
	// them within about one round trip (they travel together), not one
	// round trip each.
	const n = 50
	var all []byte
	for i := range n {
		all = fmt.Appendf(all, "line %d\n", i)
	}
	start = time.Now()
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range n {
		got, err := r.ReadString('\n')
		if want := fmt.Sprintf("line %d\n", i); err != nil || got != want {
			t.Fatalf("line %d: %q %v, want %q", i, got, err, want)
		}
	}
	if el := time.Since(start); el < 2*d {
		t.Fatalf("%d lines echoed in %v, want at least %v", n, el, 2*d)
	}

	// The target's first bytes (a greeting, as a NATS server's INFO)
	// reach a new client a round trip after its connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		_, _ = s.Write([]byte("hello\n"))
		_, _ = io.Copy(io.Discard, s)
	}()
	g := Start(t, ln.Addr().String())
	g.SetLatency(d)
	start = time.Now()
	gc, gr := dial(t, g)
	_ = gc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if got, err := gr.ReadString('\n'); err != nil || got != "hello\n" {
		t.Fatalf("greeting: %q %v", got, err)
	}
	if el := time.Since(start); el < 2*d {
		t.Fatalf("greeting came %v after the connect, want at least %v", el, 2*d)
	}

	// Lifted on the open connection: a round trip no longer waits out the
	// 2 s latency set just before.
	p.SetLatency(2 * time.Second)
	p.SetLatency(0)
	start = time.Now()
	roundTrip(t, c, r, "fast")
	if rtt := time.Since(start); rtt >= 4*time.Second {
		t.Fatalf("round trip %v after lifting the latency, want under the 4 s of the latency before", rtt)
	}
}

// sink accepts one connection, counts what it reads and closes the
// returned channel once it has read want bytes.
func sink(t *testing.T, want int) (addr string, got <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, want)); err == nil {
			close(done)
		}
		_, _ = io.Copy(io.Discard, c)
	}()
	return ln.Addr().String(), done
}

// source accepts one connection and writes n bytes to it.
func source(t *testing.T, n int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(make([]byte, n))
		_, _ = io.Copy(io.Discard, c)
	}()
	return ln.Addr().String()
}

// A rate limits each direction: 50 KB at 50 KB/s take about a second
// (at least 0.8 s, whatever the machine's load), to the target and back.
// Bytes counts what went through.
func TestProxyRate(t *testing.T) {
	const rate, n = 50_000, 50_000
	t.Run("to target", func(t *testing.T) {
		addr, got := sink(t, n)
		p := Start(t, addr)
		p.SetRate(rate)
		c, _ := dial(t, p)
		start := time.Now()
		go func() { _, _ = c.Write(make([]byte, n)) }()
		select {
		case <-got:
		case <-time.After(30 * time.Second):
			t.Fatal("the target did not get 50 KB within 30 s")
		}
		el := time.Since(start)
		t.Logf("50 KB at 50 KB/s to the target in %v", el.Round(time.Millisecond))
		if el < 800*time.Millisecond {
			t.Fatalf("50 KB went through in %v at %d B/s, want at least 0.8 s", el, rate)
		}
		if up, down := p.Bytes(); up != n || down != 0 {
			t.Fatalf("Bytes() = %d, %d, want %d, 0", up, down, n)
		}
	})
	t.Run("to client", func(t *testing.T) {
		p := Start(t, source(t, n))
		p.SetRate(rate)
		c, _ := dial(t, p)
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("50 KB at 50 KB/s to the client in %v", el.Round(time.Millisecond))
		if el < 800*time.Millisecond {
			t.Fatalf("50 KB came through in %v at %d B/s, want at least 0.8 s", el, rate)
		}
		if up, down := p.Bytes(); up != 0 || down != n {
			t.Fatalf("Bytes() = %d, %d, want 0, %d", up, down, n)
		}
	})
}

// A rate applies to an open connection at once, and lifting it lets the
// rest through at once: 2 MB at 10 KB/s would take 200 s.
func TestProxyRateChange(t *testing.T) {
	const n = 2 << 20
	addr, got := sink(t, n)
	p := Start(t, addr)
	c, _ := dial(t, p)
	p.SetRate(10_000)
	go func() { _, _ = c.Write(make([]byte, n)) }()
	// Throttled: after a second, at most a few seconds' worth is through
	// (the first quantum goes at once; a busy machine only slows it).
	time.Sleep(time.Second)
	if up, _ := p.Bytes(); up > 50_000 {
		t.Fatalf("%d bytes through in about a second at 10 KB/s", up)
	}
	p.SetRate(0)
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		up, _ := p.Bytes()
		t.Fatalf("after lifting the rate, %d of %d bytes through in 30 s", up, n)
	}
}
