package leafnode

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/leafproto"
)

// testWait bounds every wait for something that must happen. It is long
// on purpose: tests run with -race on a busy 2-core machine, and a wait
// only lasts that long when the test is failing anyway.
const testWait = 10 * time.Second

// fakeHub is a scripted leafnode hub: it listens on loopback and hands
// each connection the leaf makes to the test, which sends the INFO it
// wants and reads what the leaf sends, parsed with leafproto.Parser. It
// makes the edge cases a real nats-server cannot be made to produce on
// demand (a client port's INFO, a missing connect_info INFO, a hub that
// stops reading, a loop, any -ERR).
type fakeHub struct {
	t     testing.TB
	ln    net.Listener
	conns chan net.Conn

	mu  sync.Mutex
	all []*hubConn
}

func newFakeHub(t testing.TB) *fakeHub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHub{t: t, ln: ln, conns: make(chan net.Conn, 64)}
	go h.acceptLoop()
	t.Cleanup(h.close)
	return h
}

func (h *fakeHub) acceptLoop() {
	defer close(h.conns)
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		select {
		case h.conns <- nc:
		default:
			nc.Close() // the test does not want more
		}
	}
}

// close stops listening and closes every connection handed out.
func (h *fakeHub) close() {
	h.ln.Close()
	for nc := range h.conns {
		nc.Close()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.all {
		c.close()
	}
}

func (h *fakeHub) addr() string { return h.ln.Addr().String() }

func (h *fakeHub) url() *url.URL {
	return &url.URL{Scheme: "nats-leaf", Host: h.addr()}
}

// accept waits for the leaf's next connection.
func (h *fakeHub) accept() *hubConn {
	h.t.Helper()
	select {
	case nc, ok := <-h.conns:
		if !ok {
			h.t.Fatal("fake hub closed")
		}
		c := newHubConn(h.t, nc)
		h.mu.Lock()
		h.all = append(h.all, c)
		h.mu.Unlock()
		return c
	case <-time.After(testWait):
		h.t.Fatalf("no connection from the leaf to %s within %v", h.addr(), testWait)
	}
	return nil
}

// noConnWithin checks the leaf does not connect again within d.
func (h *fakeHub) noConnWithin(d time.Duration) {
	h.t.Helper()
	select {
	case nc := <-h.conns:
		nc.Close()
		h.t.Fatalf("the leaf connected again within %v", d)
	case <-time.After(d):
	}
}

// info is the first INFO of a nats-server leafnode port.
func (h *fakeHub) info() leafproto.Info {
	return leafproto.Info{
		ServerID:      "NHUBSERVERID",
		ServerName:    "hub-1",
		Version:       "2.15.2",
		Proto:         leafproto.ServerProto,
		GoVersion:     "go1.26",
		Host:          "127.0.0.1",
		Port:          h.ln.Addr().(*net.TCPAddr).Port,
		Headers:       true,
		MaxPayload:    1 << 20,
		ClientID:      42,
		Nonce:         "h7rm0PrQmGYYlzU",
		Cluster:       "hubcluster",
		Domain:        "hubdomain",
		InfoOnConnect: true,
		LeafNodeURLs:  []string{h.addr()},
	}
}

// answer is the hub's connect_info INFO without permissions.
func answer() leafproto.Info {
	return leafproto.Info{ConnectInfo: true, RemoteAccount: "HUBACC", ServerID: "NHUBSERVERID", ServerName: "hub-1"}
}

// handshake accepts the leaf's next connection and runs the hub's side:
// first INFO, the leaf's CONNECT (which must come first), then the
// connect_info answer (unless nil, for an old hub). The leaf sends its
// loop-detection LS+ next; the caller reads it.
func (h *fakeHub) handshake(first leafproto.Info, ans *leafproto.Info) (*hubConn, leafproto.Connect) {
	h.t.Helper()
	c := h.accept()
	c.sendInfo(first)
	conn := c.expectConnect()
	if ans != nil {
		c.sendInfo(*ans)
	}
	return c, conn
}

// up is handshake with the default INFOs, and checks the loop-detection
// LS+ that starts the leaf's interest.
func (h *fakeHub) up(set *Set) *hubConn {
	h.t.Helper()
	a := answer()
	c, _ := h.handshake(h.info(), &a)
	c.expect("LS+ " + set.lds)
	return c
}

// hubOp is one operation the leaf sent.
type hubOp struct {
	Op      string // CONNECT, INFO, LS+, LS-, LMSG, HMSG, -ERR
	Subject string
	Queue   string
	Weight  int32
	Reply   string
	Queues  []string
	Hdr     []byte // HMSG only
	Payload []byte
	Raw     string // CONNECT and INFO JSON, -ERR text (quotes stripped)
}

// String is the op in wire form (without the payload), for comparisons:
// "LS+ foo q 3", "LMSG foo + reply q1 5", "HMSG foo 12 17", "-ERR 'text'".
func (o hubOp) String() string {
	switch o.Op {
	case "LS+":
		if o.Queue != "" {
			return fmt.Sprintf("LS+ %s %s %d", o.Subject, o.Queue, o.Weight)
		}
		return "LS+ " + o.Subject
	case "LS-":
		if o.Queue != "" {
			return fmt.Sprintf("LS- %s %s", o.Subject, o.Queue)
		}
		return "LS- " + o.Subject
	case "LMSG", "HMSG":
		var b strings.Builder
		b.WriteString(o.Op + " " + o.Subject + " ")
		switch {
		case len(o.Queues) > 0 && o.Reply != "":
			b.WriteString("+ " + o.Reply + " " + strings.Join(o.Queues, " ") + " ")
		case len(o.Queues) > 0:
			b.WriteString("| " + strings.Join(o.Queues, " ") + " ")
		case o.Reply != "":
			b.WriteString(o.Reply + " ")
		}
		if o.Op == "HMSG" {
			b.WriteString(strconv.Itoa(len(o.Hdr)) + " ")
		}
		b.WriteString(strconv.Itoa(len(o.Hdr) + len(o.Payload)))
		return b.String()
	case "-ERR":
		return "-ERR '" + o.Raw + "'"
	}
	return o.Op + " " + o.Raw
}

// rawLimit bounds the copy of the raw byte stream a hubConn keeps.
const rawLimit = 1 << 20

// hubConn is one connection of the leaf to the fake hub. A reader
// goroutine, started by the first read, parses what the leaf sends:
// PINGs are counted and answered (unless stalled), PONGs signal sync,
// every other operation goes to ops in order.
type hubConn struct {
	t  testing.TB
	nc net.Conn

	startOnce sync.Once
	ops       chan hubOp
	pongs     chan struct{}
	done      chan struct{} // the reader ended
	rerr      error         // why, once done is closed

	pings    atomic.Int64 // PINGs from the leaf
	msgs     atomic.Int64 // LMSG/HMSG from the leaf
	noPong   atomic.Bool  // do not answer PINGs
	dropMsgs atomic.Bool  // count LMSG/HMSG without queueing them
	readRate atomic.Int64 // bytes a second the hub reads at most; 0: no limit

	wmu sync.Mutex // serializes writes

	mu     sync.Mutex
	resume chan struct{} // non-nil while reading is paused
	raw    bytes.Buffer  // what the leaf sent, up to rawLimit
}

func newHubConn(t testing.TB, nc net.Conn) *hubConn {
	return &hubConn{
		t:     t,
		nc:    nc,
		ops:   make(chan hubOp, 4096),
		pongs: make(chan struct{}, 64),
		done:  make(chan struct{}),
	}
}

// startTLS runs the server side of a TLS handshake; call it before
// reading anything.
func (c *hubConn) startTLS(cfg *tls.Config) error {
	tc := tls.Server(c.nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(testWait))
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc = tc
	return nil
}

func (c *hubConn) start() {
	c.startOnce.Do(func() { go c.readLoop() })
}

func (c *hubConn) readLoop() {
	defer close(c.done)
	var p leafproto.Parser
	buf := make([]byte, 32*1024)
	for {
		c.mu.Lock()
		resume := c.resume
		c.mu.Unlock()
		if resume != nil {
			<-resume
		}
		size := len(buf)
		rate := c.readRate.Load()
		if rate > 0 {
			size = int(min(max(rate/50, 1), int64(size)))
		}
		n, err := c.nc.Read(buf[:size])
		if rate > 0 && n > 0 {
			time.Sleep(time.Duration(int64(n) * int64(time.Second) / rate)) // a slow uplink
		}
		if n > 0 {
			c.mu.Lock()
			if c.raw.Len() < rawLimit {
				c.raw.Write(buf[:n])
			}
			c.mu.Unlock()
			if perr := p.Parse(buf[:n], (*hubHandler)(c)); perr != nil {
				c.rerr = fmt.Errorf("fake hub: parse: %w", perr)
				c.nc.Close()
				return
			}
		}
		if err != nil {
			c.rerr = err
			return
		}
	}
}

// hubHandler is the parser's view of a hubConn.
type hubHandler hubConn

func (h *hubHandler) push(op hubOp) error {
	h.ops <- op
	return nil
}

func (h *hubHandler) Info(arg []byte) error {
	return h.push(hubOp{Op: "INFO", Raw: string(arg)})
}

func (h *hubHandler) Connect(arg []byte) error {
	return h.push(hubOp{Op: "CONNECT", Raw: string(arg)})
}

func (h *hubHandler) Sub(subj, queue []byte, weight int32) error {
	return h.push(hubOp{Op: "LS+", Subject: string(subj), Queue: string(queue), Weight: weight})
}

func (h *hubHandler) Unsub(subj, queue []byte) error {
	return h.push(hubOp{Op: "LS-", Subject: string(subj), Queue: string(queue)})
}

func (h *hubHandler) Msg(subj, reply []byte, queues [][]byte, hdr, payload []byte) error {
	h.msgs.Add(1)
	if h.dropMsgs.Load() {
		return nil
	}
	op := hubOp{Op: "LMSG", Subject: string(subj), Reply: string(reply), Payload: bytes.Clone(payload)}
	if hdr != nil {
		op.Op, op.Hdr = "HMSG", bytes.Clone(hdr)
	}
	for _, q := range queues {
		op.Queues = append(op.Queues, string(q))
	}
	return h.push(op)
}

func (h *hubHandler) Ping() error {
	h.pings.Add(1)
	if !h.noPong.Load() {
		(*hubConn)(h).write(leafproto.PongLine)
	}
	return nil
}

func (h *hubHandler) Pong() error {
	select {
	case h.pongs <- struct{}{}:
	default:
	}
	return nil
}

func (h *hubHandler) Err(text []byte) error {
	return h.push(hubOp{Op: "-ERR", Raw: string(text)})
}

// write sends raw bytes; errors show up as the leaf's behaviour.
func (c *hubConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(testWait))
	_, _ = c.nc.Write(b)
}

func (c *hubConn) sendInfo(i leafproto.Info) { c.write(leafproto.AppendInfo(nil, &i)) }

func (c *hubConn) sendSub(subj, queue string, weight int32) {
	c.write(leafproto.AppendSub(nil, []byte(subj), []byte(queue), weight))
}

func (c *hubConn) sendUnsub(subj, queue string) {
	c.write(leafproto.AppendUnsub(nil, []byte(subj), []byte(queue)))
}

func (c *hubConn) sendMsg(subj, reply string, queues []string, payload string) {
	c.write(leafproto.AppendMsg(nil, []byte(subj), []byte(reply), byteSlices(queues), []byte(payload)))
}

func (c *hubConn) sendHMsg(subj, reply string, queues []string, hdr, payload string) {
	c.write(leafproto.AppendHMsg(nil, []byte(subj), []byte(reply), byteSlices(queues), []byte(hdr), []byte(payload)))
}

func (c *hubConn) sendErr(text string) { c.write(leafproto.AppendErr(nil, text)) }

func byteSlices(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// close drops the connection.
func (c *hubConn) close() {
	c.resumeReading()
	c.nc.Close()
}

// stall makes the hub a black hole: it stops reading and answering
// without closing, like a NAT mapping that was silently dropped.
func (c *hubConn) stall() {
	c.noPong.Store(true)
	c.mu.Lock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
	c.mu.Unlock()
}

// resumeReading undoes stall's reading pause (PINGs stay unanswered).
func (c *hubConn) resumeReading() {
	c.mu.Lock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	c.mu.Unlock()
}

// rawBytes is a copy of what the leaf sent so far (up to rawLimit).
func (c *hubConn) rawBytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw.Bytes())
}

// next is the leaf's next operation other than PING and PONG.
func (c *hubConn) next() hubOp {
	c.t.Helper()
	c.start()
	select {
	case op := <-c.ops:
		return op
	case <-c.done:
		// Ops parsed just before the end are still queued.
		select {
		case op := <-c.ops:
			return op
		default:
		}
		c.t.Fatalf("connection ended while waiting for an operation from the leaf: %v", c.rerr)
	case <-time.After(testWait):
		c.t.Fatalf("no operation from the leaf within %v", testWait)
	}
	return hubOp{}
}

// expect checks the leaf's next operations, in order, in wire form.
func (c *hubConn) expect(want ...string) {
	c.t.Helper()
	for i, w := range want {
		if got := c.next().String(); got != w {
			c.t.Fatalf("operation %d from the leaf: got %q, want %q", i, got, w)
		}
	}
}

// expectSet checks the leaf's next len(want) operations, in any order.
func (c *hubConn) expectSet(want ...string) {
	c.t.Helper()
	left := map[string]int{}
	for _, w := range want {
		left[w]++
	}
	for range want {
		got := c.next().String()
		if left[got] == 0 {
			c.t.Fatalf("unexpected operation from the leaf %q; still expecting %v", got, left)
		}
		left[got]--
	}
}

// expectConnect reads the CONNECT, which must be the leaf's first
// operation, and decodes it.
func (c *hubConn) expectConnect() leafproto.Connect {
	c.t.Helper()
	op := c.next()
	if op.Op != "CONNECT" {
		c.t.Fatalf("first operation from the leaf: got %q, want CONNECT", op)
	}
	var conn leafproto.Connect
	if err := json.Unmarshal([]byte(op.Raw), &conn); err != nil {
		c.t.Fatalf("CONNECT %s: %v", op.Raw, err)
	}
	return conn
}

// sync sends PING and waits for the leaf's PONG: the leaf has then
// handled everything the hub sent before, and whatever it queued before
// (after handling it, or on a local publish or subscribe that returned
// before sync was called) has arrived in ops.
func (c *hubConn) sync() {
	c.t.Helper()
	c.start()
	c.write(leafproto.PingLine)
	select {
	case <-c.pongs:
	case <-c.done:
		c.t.Fatalf("connection ended while waiting for PONG: %v", c.rerr)
	case <-time.After(testWait):
		c.t.Fatalf("no PONG from the leaf within %v", testWait)
	}
}

// expectNone checks that nothing but PING/PONG has arrived; call it after
// sync.
func (c *hubConn) expectNone() {
	c.t.Helper()
	select {
	case op := <-c.ops:
		c.t.Fatalf("unexpected operation from the leaf: %q", op)
	default:
	}
}

// waitClosed waits until the leaf closes the connection and reports the
// reader's error; operations sent before the close stay readable.
func (c *hubConn) waitClosed() error {
	c.t.Helper()
	c.start()
	select {
	case <-c.done:
		return c.rerr
	case <-time.After(testWait):
		c.t.Fatalf("the leaf did not close the connection within %v", testWait)
	}
	return nil
}

// closedWithin reports whether the leaf closed the connection within d.
func (c *hubConn) closedWithin(d time.Duration) bool {
	c.start()
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}
