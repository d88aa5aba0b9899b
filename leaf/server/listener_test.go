package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
	"github.com/leafgate/leafgate/leaf/tlsconf"
)

// lineProto is a toy protocol for added listeners: it greets with
// "hello", echoes lines, and says "bye" when the server goes away.
type lineProto struct {
	served, returned, rejected atomic.Int32
	ignoreClosing              bool // a Serve that does not watch closing
}

func (p *lineProto) serve(conn net.Conn, closing <-chan struct{}) {
	p.served.Add(1)
	defer p.returned.Add(1)
	done := make(chan struct{})
	defer close(done)
	if !p.ignoreClosing {
		go func() {
			select {
			case <-closing:
				_ = conn.SetReadDeadline(time.Now()) // end the read below
			case <-done:
			}
		}()
	}
	fmt.Fprintf(conn, "hello\n")
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			select {
			case <-closing:
				fmt.Fprintf(conn, "bye\n")
			default:
			}
			return
		}
		fmt.Fprintf(conn, "echo %s", line)
	}
}

func (p *lineProto) reject(conn net.Conn) {
	p.rejected.Add(1)
	fmt.Fprintf(conn, "busy\n")
}

func (p *lineProto) config() server.ListenerConfig {
	return server.ListenerConfig{Name: "line", Addr: "127.0.0.1:0", Serve: p.serve, Reject: p.reject}
}

// lineClient is the client end of a lineProto connection.
type lineClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialLine(t *testing.T, addr net.Addr, tc *tls.Config) *lineClient {
	t.Helper()
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = tls.Dial("tcp", addr.String(), tc)
	} else {
		conn, err = net.Dial("tcp", addr.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &lineClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *lineClient) expect(want string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil || strings.TrimSuffix(line, "\n") != want {
		c.t.Fatalf("read %q (%v), want %q", line, err, want)
	}
}

// expectClosed reads until the server closes the connection.
func (c *lineClient) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %q", rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected %q before close", rest)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An added listener on port 0 serves its connections, which count as
// the server's connections while they are open.
func TestListenerServes(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	p := &lineProto{}
	addr, err := s.AddListener(p.config())
	if err != nil {
		t.Fatal(err)
	}
	if addr.(*net.TCPAddr).Port == 0 {
		t.Fatal("no port picked")
	}
	c := dialLine(t, addr, nil)
	c.expect("hello")
	fmt.Fprintf(c.conn, "ping\n")
	c.expect("echo ping")
	if n := s.NumClients(); n != 1 {
		t.Fatalf("NumClients = %d with one connection open, want 1", n)
	}
	if v := s.Varz(); v.Connections != 1 || v.TotalConnections != 1 {
		t.Fatalf("varz connections %d, total %d; want 1, 1", v.Connections, v.TotalConnections)
	}
	c.conn.Close()
	waitUntil(t, "the connection to be forgotten", func() bool { return s.NumClients() == 0 })
	if p.returned.Load() != 1 {
		t.Fatalf("Serve returned %d times", p.returned.Load())
	}
	// Not added: a bad configuration, an address in use.
	for _, cfg := range []server.ListenerConfig{
		{Addr: "127.0.0.1:0", Serve: p.serve},
		{Name: "line", Addr: "127.0.0.1:0"},
		{Name: "line", Addr: "127.0.0.1:0", Serve: p.serve, MaxConns: -1},
		{Name: "line", Addr: addr.String(), Serve: p.serve},
	} {
		if _, err := s.AddListener(cfg); err == nil {
			t.Errorf("AddListener(%+v) succeeded", cfg)
		}
	}
}

// With TLS the handshake runs before Serve, within TLSTimeout; a client
// that does not complete it is closed without reaching Serve.
func TestListenerTLS(t *testing.T) {
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := tlsconf.Options{CertFile: certs.CertFile, KeyFile: certs.KeyFile}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	s := servertest.Run(t, server.Options{})
	p := &lineProto{}
	cfg := p.config()
	cfg.TLS, cfg.TLSTimeout = sc, 200*time.Millisecond
	addr, err := s.AddListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := dialLine(t, addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	c.expect("hello")
	fmt.Fprintf(c.conn, "secret\n")
	c.expect("echo secret")

	silent := dialLine(t, addr, nil) // never starts the handshake
	silent.expectClosed()
	plain := dialLine(t, addr, nil)
	fmt.Fprintf(plain.conn, "hello?\n")
	_ = plain.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(plain.conn) // a TLS alert, then the close
	if n := p.served.Load(); n != 1 {
		t.Fatalf("Serve ran %d times, want only for the TLS client", n)
	}
}

// A connection over the listener's MaxConns or the server's
// MaxConnections (which counts every listener's connections) is refused
// through Reject; NATS clients count against the same limit.
func TestListenerLimits(t *testing.T) {
	s := servertest.Run(t, server.Options{MaxConnections: 3})
	p, q := &lineProto{}, &lineProto{}
	cfg := p.config()
	cfg.MaxConns = 1
	addr, err := s.AddListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.AddListener(q.config())
	if err != nil {
		t.Fatal(err)
	}

	first := dialLine(t, addr, nil)
	first.expect("hello")
	over := dialLine(t, addr, nil) // over the listener's MaxConns
	over.expect("busy")
	over.expectClosed()
	if p.rejected.Load() != 1 {
		t.Fatalf("Reject called %d times", p.rejected.Load())
	}

	nats := dialRaw(t, s, quiet) // second connection of three
	nats.flush()
	second := dialLine(t, other, nil)
	second.expect("hello")
	full := dialLine(t, other, nil) // over MaxConnections
	full.expect("busy")
	full.expectClosed()
	if q.rejected.Load() != 1 {
		t.Fatalf("the other listener's Reject called %d times", q.rejected.Load())
	}
	// A NATS client over the limit, which the other listeners fill.
	conn, err := net.Dial("tcp", s.ClientAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	if !strings.Contains(string(got), "-ERR 'maximum connections exceeded'") {
		t.Fatalf("NATS client over the limit got %q", got)
	}
	if v := s.Varz(); v.Connections != 3 || v.TotalConnections != 6 {
		t.Fatalf("varz connections %d, total %d; want 3, 6", v.Connections, v.TotalConnections)
	}
}

// Shutdown closes the closing channel, so Serve says goodbye, waits for
// every Serve to return, and stops the listener.
func TestListenerShutdown(t *testing.T) {
	s, err := server.New(server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Added before Start: it accepts at once.
	p := &lineProto{}
	addr, err := s.AddListener(p.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	conns := []*lineClient{dialLine(t, addr, nil), dialLine(t, addr, nil)}
	for _, c := range conns {
		c.expect("hello")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := p.returned.Load(); n != 2 {
		t.Fatalf("Shutdown returned with %d of 2 Serve calls done", n)
	}
	for _, c := range conns {
		c.expect("bye")
		c.expectClosed()
	}
	if c, err := net.Dial("tcp", addr.String()); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after Shutdown")
	}
	if _, err := s.AddListener(p.config()); err == nil {
		t.Fatal("AddListener after Shutdown succeeded")
	}
}

// A Serve that ignores closing is cut when Shutdown's context expires.
func TestListenerShutdownCutsStuckServe(t *testing.T) {
	s, err := server.New(server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	p := &lineProto{ignoreClosing: true}
	addr, err := s.AddListener(p.config())
	if err != nil {
		t.Fatal(err)
	}
	c := dialLine(t, addr, nil)
	c.expect("hello")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline", err)
	}
	if n := p.returned.Load(); n != 1 {
		t.Fatal("Shutdown returned before the cut Serve did")
	}
	c.expectClosed()
}

// Lame duck mode closes closing at once, and stops the listener.
func TestListenerLameDuck(t *testing.T) {
	s := servertest.Run(t, server.Options{LameDuckDuration: 50 * time.Millisecond, LameDuckGracePeriod: time.Millisecond})
	p := &lineProto{}
	addr, err := s.AddListener(p.config())
	if err != nil {
		t.Fatal(err)
	}
	c := dialLine(t, addr, nil)
	c.expect("hello")
	done := make(chan error, 1)
	go func() { done <- s.LameDuck(context.Background()) }()
	c.expect("bye")
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
