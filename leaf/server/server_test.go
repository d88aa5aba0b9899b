package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

// quiet turns off the verbose/pedantic defaults of a bare CONNECT.
const quiet = `{"verbose":false,"pedantic":false}`

// rawClient speaks the NATS protocol by hand so tests see exact bytes.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, s *server.Server, connect string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", s.ClientAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	if line := c.line(); !strings.HasPrefix(line, "INFO {") {
		t.Fatalf("greeting = %q, want INFO", line)
	}
	if connect != "" {
		c.send("CONNECT " + connect + "\r\n")
	}
	return c
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one protocol line without its CRLF.
func (c *rawClient) line() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// expect reads lines, skipping PINGs (answering them), until one arrives.
func (c *rawClient) expect(want string) {
	c.t.Helper()
	for {
		l := c.line()
		if l == "PING" {
			c.send("PONG\r\n")
			continue
		}
		if l != want {
			c.t.Fatalf("got %q, want %q", l, want)
		}
		return
	}
}

// flush round-trips a PING so everything sent before it was processed.
func (c *rawClient) flush() {
	c.t.Helper()
	c.send("PING\r\n")
	c.expect("PONG")
}

func TestPubSubRoundTrip(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	sub := dialRaw(t, s, quiet)
	sub.send("SUB foo.* 7\r\n")
	sub.flush()
	pub := dialRaw(t, s, quiet)
	pub.send("PUB foo.bar reply.x 5\r\nhello\r\n")
	pub.flush()
	sub.expect("MSG foo.bar 7 reply.x 5")
	sub.expect("hello")
}

func TestHeadersAndNoResponders(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	c := dialRaw(t, s, `{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}`)
	c.send("SUB _INBOX.abc.* 1\r\n")
	c.send("PUB svc.nobody _INBOX.abc.1 2\r\nhi\r\n")
	c.expect("HMSG _INBOX.abc.1 1 42 42")
	c.expect("NATS/1.0 503")
	c.expect("Nats-Subject: svc.nobody")
	c.expect("")
	c.expect("")
}

func TestHeadersStrippedForClientsWithoutHeaders(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	old := dialRaw(t, s, `{"verbose":false,"headers":false}`)
	old.send("SUB h 1\r\n")
	old.flush()
	pub := dialRaw(t, s, `{"verbose":false,"headers":true}`)
	hdr := "NATS/1.0\r\nA: b\r\n\r\n"
	pub.send(fmt.Sprintf("HPUB h %d %d\r\n%sok\r\n", len(hdr), len(hdr)+2, hdr))
	pub.flush()
	old.expect("MSG h 1 2")
	old.expect("ok")
}

func TestAutoUnsubscribe(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	c := dialRaw(t, s, quiet)
	c.send("SUB a 1\r\nUNSUB 1 2\r\n")
	for i := 0; i < 5; i++ {
		c.send("PUB a 1\r\nx\r\n")
	}
	// Exactly two messages, then the PONG.
	c.send("PING\r\n")
	c.expect("MSG a 1 1")
	c.expect("x")
	c.expect("MSG a 1 1")
	c.expect("x")
	c.expect("PONG")
	if n := s.Router().Count(); n != 0 {
		t.Fatalf("router still holds %d subscriptions after auto-unsubscribe", n)
	}
}

// chanReceiver is an internal client: it gets messages through the router
// without a socket, as JetStream and MQTT sessions will.
type chanReceiver struct{ ch chan string }

func (r *chanReceiver) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	r.ch <- string(subj) + " " + string(payload)
	return false
}
func (r *chanReceiver) Flush() {}

func TestInternalClientsShareTheRouter(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	in := &chanReceiver{ch: make(chan string, 10)}
	if err := s.Router().Subscribe(&router.Sub{Subject: "internal.>", Receiver: in}); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s, quiet)
	c.send("SUB out 9\r\nPUB internal.x 3\r\nabc\r\n")
	c.flush()
	select {
	case got := <-in.ch:
		if got != "internal.x abc" {
			t.Fatalf("internal receiver got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("internal receiver got nothing")
	}
	if n := s.Router().Publish(&router.Publisher{}, []byte("out"), nil, nil, []byte("from-inside")); n != 1 {
		t.Fatalf("internal publish reached %d subscribers, want 1", n)
	}
	c.expect("MSG out 9 11")
	c.expect("from-inside")
}

// A reader that stops reading is cut as a slow consumer; the publisher and
// a healthy subscriber carry on at full speed.
func TestSlowConsumerIsCutWithoutBlockingOthers(t *testing.T) {
	s := servertest.Run(t, server.Options{
		MaxPayload:    2048,
		MaxPending:    2 * 1024 * 1024,
		WriteDeadline: 2 * time.Second,
	})
	slow := dialRaw(t, s, quiet)
	slow.send("SUB flood 1\r\n")
	slow.flush()

	fast := dialRaw(t, s, quiet)
	fast.send("SUB flood 1\r\n")
	fast.flush()

	const total = 20000
	payload := bytes.Repeat([]byte("x"), 1024)
	msgLen := len("MSG flood 1 1024\r\n") + 1024 + 2
	// The fast subscriber counts what it has read; the publisher stays
	// at most 1 MiB (half of max_pending) ahead of it, so that on a busy
	// machine the fast reader is never the one cut. The slow one never
	// reads and must be cut; if it held the server's fan-out back, the
	// fast reader would stall and so would the publisher.
	var fastRead atomic.Int64
	var got int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = fast.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		want := int64(total * msgLen)
		buf := make([]byte, 32*1024)
		for fastRead.Load() < want {
			n, err := fast.r.Read(buf[:min(int64(len(buf)), want-fastRead.Load())])
			fastRead.Add(int64(n))
			if err != nil {
				t.Logf("fast subscriber: %v", err)
				break
			}
		}
		got = int(fastRead.Load())
	}()

	pub := dialRaw(t, s, quiet)
	frame := fmt.Appendf(nil, "PUB flood 1024\r\n%s\r\n", payload)
	w := bufio.NewWriterSize(pub.conn, 64*1024)
	start := time.Now()
	for i := 0; i < total; i++ {
		for int64(i*msgLen)-fastRead.Load() > 1<<20 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 60*time.Second {
				t.Fatalf("fast subscriber stalled at %d of %d bytes: the slow reader held it back", fastRead.Load(), i*msgLen)
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := w.Write(frame); err != nil {
			t.Fatalf("publisher write failed after %d msgs: %v", i, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	pub.flush()
	wg.Wait()
	if want := total * (len("MSG flood 1 1024\r\n") + 1024 + 2); got != want {
		cz, _ := s.Connz(monitor.ConnzOptions{State: monitor.ConnAll})
		for _, ci := range cz.Conns {
			t.Logf("conn %d reason %q pending %d out %d", ci.Cid, ci.Reason, ci.Pending, ci.OutMsgs)
		}
		t.Fatalf("fast subscriber read %d bytes, want %d", got, want)
	}
	// The slow connection is closed by the server: draining it ends in EOF.
	_ = slow.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, slow.conn); err != nil {
		t.Fatalf("slow consumer connection not closed by server: %v", err)
	}
}

func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := server.New(server.Options{MonitorListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var conns []*rawClient
	for i := 0; i < 10; i++ {
		c := dialRaw(t, s, quiet)
		c.send(fmt.Sprintf("SUB s.%d %d\r\n", i, i))
		c.flush()
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c.conn); err != nil {
			t.Fatalf("client not closed on shutdown: %v", err)
		}
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Shutdown returned")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after shutdown:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// However clients leave (UNSUB, auto-unsubscribe, closing the socket
// mid-message, a protocol error, a slow consumer cut), the router ends
// with no subscriptions, the server with no clients, and no goroutine is
// left behind.
func TestClientLifecyclesLeaveNothingBehind(t *testing.T) {
	s := servertest.Run(t, server.Options{MaxPending: 64 << 10, MaxPayload: 1 << 10, WriteDeadline: 200 * time.Millisecond})
	baseGoroutines := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 60; i++ {
		c := dialRaw(t, s, quiet)
		for j := 0; j < 1+rng.IntN(6); j++ {
			switch rng.IntN(3) {
			case 0:
				c.send(fmt.Sprintf("SUB life.%d %d\r\n", j, j))
			case 1:
				c.send(fmt.Sprintf("SUB life.* q%d %d\r\n", j%2, j))
			default:
				c.send(fmt.Sprintf("SUB life.> %d\r\nUNSUB %d %d\r\n", j, j, 1+rng.IntN(3)))
			}
		}
		c.send("PING\r\n")
		c.expect("PONG")
		switch i % 5 {
		case 0: // leaves politely
			c.send("UNSUB 0\r\nPING\r\n")
			c.expect("PONG")
			c.conn.Close()
		case 1: // closes in the middle of a message
			c.send("PUB life.1 100\r\nhalf")
			c.conn.Close()
		case 2: // protocol error
			c.send("BOGUS\r\n")
			c.expect("-ERR 'Unknown Protocol Operation'")
		case 3: // stops reading while a publisher floods it: cut as slow
			pub := dialRaw(t, s, quiet)
			big := strings.Repeat("x", 1000)
			for k := 0; k < 400; k++ {
				pub.send(fmt.Sprintf("PUB life.%d %d\r\n%s\r\n", k%6, len(big), big))
			}
			pub.send("PING\r\n")
			pub.expect("PONG")
			pub.conn.Close()
			c.conn.Close()
		default: // just goes away
			c.conn.Close()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Router().Count() != 0 || s.NumClients() != 0 || runtime.NumGoroutine() > baseGoroutines+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("left behind: %d subscriptions, %d clients, %d goroutines (had %d)\n%s",
				s.Router().Count(), s.NumClients(), runtime.NumGoroutine(), baseGoroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// originProbe is an internal OriginAware receiver that hands each
// publisher's description over a channel.
type originProbe struct{ ch chan router.Origin }

func (p *originProbe) Deliver(*router.Sub, []byte, []byte, []byte, []byte) bool { return false }
func (p *originProbe) Flush()                                                   {}
func (p *originProbe) DeliverFrom(pub *router.Publisher, _ *router.Sub, _, _, _, _ []byte) bool {
	d, _ := pub.Origin.(router.Describer)
	if d != nil {
		p.ch <- d.Describe()
	}
	return false
}

// Internal services learn who published: the client's id, host, CONNECT
// name, language and version, as nats-server's advisories report them.
func TestInternalReceiverLearnsPublishingClient(t *testing.T) {
	s := servertest.Run(t, server.Options{})
	p := &originProbe{ch: make(chan router.Origin, 1)}
	if err := s.Router().Subscribe(&router.Sub{Subject: "api.>", Receiver: p}); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s, `{"verbose":false,"pedantic":false,"name":"probe","lang":"go","version":"9.9.9"}`)
	c.send("PUB api.x 0\r\n\r\n")
	c.flush()
	select {
	case o := <-p.ch:
		if o.ID == 0 || o.Host != "127.0.0.1" || o.Name != "probe" || o.Lang != "go" || o.Version != "9.9.9" ||
			o.Kind != "Client" || o.Type != "nats" || o.Start.IsZero() {
			t.Fatalf("origin %+v", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the internal receiver got nothing")
	}
}
