package netproxy

import (
	"bufio"
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
		c, r := dial(t, p)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := r.ReadString('\n'); err == nil {
			t.Fatal("read on a refused connection succeeded")
		}
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
