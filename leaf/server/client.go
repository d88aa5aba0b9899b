package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/netio"
	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
)

// closeReason says why a connection ended, as /connz reports it.
type closeReason uint8

const (
	reasonClientClosed closeReason = iota
	reasonServerShutdown
	reasonSlowConsumerPending
	reasonSlowConsumerDeadline
	reasonStale
	reasonAuthTimeout
	reasonAuthViolation
	reasonProtocolViolation
	reasonMaxPayload
	reasonTLSHandshake
	reasonWriteError
	reasonReadError
	reasonMaxConnections
)

// String matches nats-server's ClosedState names, which /connz reports.
func (r closeReason) String() string {
	switch r {
	case reasonClientClosed:
		return "Client Closed"
	case reasonServerShutdown:
		return "Server Shutdown"
	case reasonSlowConsumerPending:
		return "Slow Consumer (Pending Bytes)"
	case reasonSlowConsumerDeadline:
		return "Slow Consumer (Write Deadline)"
	case reasonStale:
		return "Stale Connection"
	case reasonAuthTimeout:
		return "Authentication Timeout"
	case reasonAuthViolation:
		return "Authentication Failure"
	case reasonProtocolViolation:
		return "Protocol Violation"
	case reasonMaxPayload:
		return "Maximum Message Payload Exceeded"
	case reasonTLSHandshake:
		return "TLS Handshake Failure"
	case reasonWriteError:
		return "Write Error"
	case reasonReadError:
		return "Read Error"
	case reasonMaxConnections:
		return "Maximum Connections Exceeded"
	}
	return "Unknown"
}

// client is one NATS client connection.
//
// Ownership: the read loop goroutine owns parser, its netio.Reader, pending,
// permCache and the in* counters it publishes through atomics. The write
// loop, which runs only while there is output (see writeLoop), owns the
// socket's write side. Everything under mu is shared with publishers on
// other goroutines (Deliver), the timers and monitoring.
type client struct {
	srv    *Server
	cid    uint64
	conn   net.Conn // replaced by the TLS conn before the loops start
	remote string
	host   string
	port   int
	start  time.Time

	// Read loop state.
	rl        readState
	parser    proto.Parser
	pending   router.FlushSet
	stalls    router.Stalls // the paced receivers of the current batch
	pub       router.Publisher
	permCache map[string]bool // publish permission decisions of permsOf, bounded
	permsOf   *auth.Checker   // the permissions permCache holds decisions of
	lastIn    atomic.Int64    // unix nanos of the last read, for ping skipping
	inMsgs    atomic.Int64
	inBytes   atomic.Int64

	// Set once by CONNECT (read loop) and read by Deliver: atomics so the
	// hot path takes no extra lock.
	headers      atomic.Bool
	noResponders atomic.Bool

	// perms are the user's permissions (nil: all allowed), set by CONNECT
	// and replaced by Reload; stored under mu so Reload's check of the
	// subscriptions and Sub's registration of one cannot miss each other.
	perms atomic.Pointer[auth.Checker]

	mu           sync.Mutex
	connected    bool // CONNECT accepted
	echo         bool
	opts         proto.Connect
	user         string
	creds        auth.Credentials       // kept to re-check on Reload; never shown
	replies      map[string]*replyGrant // allow_responses grants, reply subject → grant
	subs         map[string]*router.Sub // sid → subscription
	out          netio.OutQueue         // pending output
	spareChunks  [][]byte               // chunk list reused between writes
	scratch      []byte                 // MSG/HMSG line being built
	writing      int                    // bytes the write loop is still writing
	flushPending bool                   // a Flush call is owed or the write loop has yet to take out
	canWrite     bool                   // greeting and TLS are done: the write loop may run
	writer       bool                   // a write loop runs (or ran the close): none may start
	closed       bool
	flushOnClose bool
	reason       closeReason
	pingsOut     int
	rttStart     time.Time
	rtt          time.Duration
	outMsgs      int64
	outBytes     int64
	lastActivity time.Time
	authTimer    *time.Timer
	pingTimer    *time.Timer
	tlsVersion   string
	tlsCipher    string
	nonceValue   string
	// stall is closed by the write loop on its next completed write; a
	// publisher that pushed this client past 3/4 of MaxPending waits on it
	// briefly (Stall, Waited: router.Pacer). stuck marks a client that made no progress within a stall
	// wait: it never stalls publishers again until it writes something.
	stall      chan struct{}
	stallShown bool // stall was reported to a publisher's flush set
	stuck      bool
	idleStalls int   // consecutive stall waits that saw no write progress
	written    int64 // bytes written so far, to tell a slow reader from a stopped one

	// via is set for a client that came through another transport
	// (WebSocket, ServeClient), read-only after.
	via *ClientOptions

	closing     chan struct{} // closed once on close
	writeLoopFn func()        // c.writeLoop, bound once: starting it allocates nothing
}

// readState is owned by the read loop: copies of CONNECT state (Connect
// runs on the read loop) and counters published once per read batch.
type readState struct {
	connected bool
	verbose   bool
	pedantic  bool
	conf      *liveConfig // the configuration the parser limits come from

	inMsgs, inBytes, outMsgs, outBytes int64
}

// flushStats publishes the batch counters to the connection and server
// totals: one set of atomic adds per read, not per message.
func (c *client) flushStats() {
	r := &c.rl
	if r.inMsgs == 0 && r.outMsgs == 0 {
		return
	}
	st := &c.srv.stats
	c.inMsgs.Add(r.inMsgs)
	c.inBytes.Add(r.inBytes)
	st.inMsgs.Add(r.inMsgs)
	st.inBytes.Add(r.inBytes)
	st.outMsgs.Add(r.outMsgs)
	st.outBytes.Add(r.outBytes)
	r.inMsgs, r.inBytes, r.outMsgs, r.outBytes = 0, 0, 0, 0
}

// replyGrant is one allow_responses permission to publish to a reply
// subject a limited number of times before a deadline.
type replyGrant struct {
	left    int
	expires time.Time // zero: no expiry
}

func newClient(s *Server, conn net.Conn) *client {
	c := &client{
		srv:     s,
		cid:     s.nextCID.Add(1),
		conn:    conn,
		remote:  conn.RemoteAddr().String(),
		start:   time.Now(),
		echo:    true,
		subs:    make(map[string]*router.Sub),
		closing: make(chan struct{}),
	}
	c.host, c.port = splitHostPort(conn.RemoteAddr())
	c.lastActivity = c.start
	c.refreshConf()
	c.writeLoopFn = c.writeLoop
	c.pub.Origin = c
	c.pub.Pending = &c.pending
	// Until CONNECT says otherwise a client is verbose and pedantic, as
	// with nats-server (it matters to telnet-style clients).
	c.rl.verbose, c.rl.pedantic = true, true
	return c
}

// info is the INFO this client is greeted with under the configuration o.
func (c *client) info(o *liveConfig) *proto.Info {
	info := c.srv.baseInfo(o)
	info.ClientID = c.cid
	info.ClientIP = c.host
	if v := c.via; v != nil {
		// The transport's listener and TLS, as nats-server tells
		// WebSocket clients.
		info.Host, info.Port = v.Host, v.Port
		info.TLSRequired, info.TLSAvailable = v.TLS != nil, v.TLS != nil
		info.TLSVerify = v.TLS != nil && len(v.TLS.PeerCertificates) > 0
		info.ConnectURLs = v.ConnectURLs
	}
	if o.auth.NeedsNonce() {
		info.Nonce = c.nonce()
	}
	return &info
}

// nonce is generated once per connection, when INFO is built.
func (c *client) nonce() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nonceValue == "" {
		c.nonceValue = auth.NewNonce()
	}
	return c.nonceValue
}

// run is the connection's life: greet, TLS, then read until closed. The
// write loop runs beside it.
func (c *client) run() {
	s := c.srv
	// One configuration for the whole greeting, so INFO and the TLS
	// handshake agree even if Reload swaps it meanwhile.
	o := s.conf.Load()
	if c.via == nil && o.TLSHandshakeFirst && !c.startTLS(nil, o) {
		return
	}
	info := c.info(o)
	greeting := proto.AppendInfo(nil, info)
	if err := c.writeDirect(greeting, o.WriteDeadline); err != nil {
		c.conn.Close()
		c.finish(reasonWriteError)
		return
	}
	var pre []byte // bytes read while sniffing for TLS, parsed first
	switch {
	case c.via != nil, o.TLS == nil || o.TLSHandshakeFirst:
		// No TLS of its own: none configured, done, or the transport's.
	case o.AllowNonTLS:
		var ok bool
		if pre, ok = c.sniff(o.TLSTimeout); !ok {
			return
		}
		if len(pre) > 0 && pre[0] == tlsRecordHandshake {
			if !c.startTLS(pre, o) {
				return
			}
			pre = nil
		}
	default:
		if !c.startTLS(nil, o) {
			return
		}
	}
	c.mu.Lock()
	if o.auth.Required() {
		c.authTimer = time.AfterFunc(o.AuthTimeout, c.authTimeout)
	}
	c.pingTimer = time.AfterFunc(c.pingInterval(o), c.pingTick)
	c.rttStart = time.Now()
	c.canWrite = true
	c.startWriterLocked() // output queued during the greeting, or a close
	c.mu.Unlock()

	c.readLoop(netio.NewSource(c.conn, pre))
}

// writeDirect writes before the loops run (the INFO greeting).
func (c *client) writeDirect(b []byte, d time.Duration) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(d))
	_, err := c.conn.Write(b)
	_ = c.conn.SetWriteDeadline(time.Time{})
	return err
}

// tlsRecordHandshake is the first byte of a TLS ClientHello record.
const tlsRecordHandshake = 0x16

// sniff reads the first byte a client sends after INFO when TLS is
// optional, to tell a TLS handshake from plain text. It waits at most the
// TLS timeout, like nats-server; a client that stays silent that long gets
// no bytes back and continues in plain text. ok is false when the
// connection failed and is already closed.
func (c *client) sniff(timeout time.Duration) (pre []byte, ok bool) {
	b := make([]byte, 1)
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	n, err := c.conn.Read(b)
	_ = c.conn.SetReadDeadline(time.Time{})
	if n == 1 {
		return b, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, true
	}
	c.conn.Close()
	c.finish(reasonClientClosed)
	return nil, false
}

// startTLS runs the server side of the TLS handshake with o's TLS
// settings, replaying pre (bytes already read while sniffing) first. On
// failure the connection is closed and false returned.
func (c *client) startTLS(pre []byte, o *liveConfig) bool {
	if err := c.handshakeTLS(pre, o); err != nil {
		c.srv.log.Info("TLS handshake failed", "cid", c.cid, "remote", c.remote, "err", err)
		c.conn.Close()
		c.finish(reasonTLSHandshake)
		return false
	}
	return true
}

func (c *client) handshakeTLS(pre []byte, o *liveConfig) error {
	raw := c.conn
	if len(pre) > 0 {
		raw = &replayConn{Conn: raw, pre: pre}
	}
	tc := tls.Server(raw, o.TLS)
	_ = tc.SetDeadline(time.Now().Add(o.TLSTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.mu.Lock()
	c.conn = tc
	c.tlsVersion = tlsVersionName(st.Version)
	c.tlsCipher = tls.CipherSuiteName(st.CipherSuite)
	c.mu.Unlock()
	return nil
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// replayConn returns pre before reading from the connection: the TLS
// handshake after sniffing its first byte.
type replayConn struct {
	net.Conn
	pre []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(b, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

// readLoop reads and parses until the connection ends. Once a read batch
// has handled CONNECT it carries on in a fresh goroutine and this one
// ends: a goroutine's stack only grows until a GC finds it mostly unused,
// and the greeting, the TLS handshake and CONNECT's JSON grow it to 8 KiB,
// which every idle connection would otherwise keep. The new goroutine
// starts at the runtime's initial 2 KiB; what later traffic grows, the GC
// halves again while the connection is idle.
func (c *client) readLoop(r netio.Source) {
	for {
		data, err := r.Next()
		if len(data) > 0 {
			wasConnected := c.rl.connected
			c.lastIn.Store(time.Now().UnixNano())
			c.refreshConf()
			perr := c.parser.Parse(data, c)
			// Receivers that asked to be waited for (router.Pacer) are
			// collected before the flush forgets them, and waited for
			// after it has kicked them.
			c.stalls.Collect(&c.pending, c)
			c.pending.Flush()
			c.flushStats()
			c.stalls.Wait(stallWait, c.closing)
			if perr != nil {
				r.Release()
				c.protocolError(perr)
				return
			}
			if !wasConnected && c.rl.connected && err == nil {
				r.Release()
				c.srv.goFunc(func() { c.readLoop(r) })
				return
			}
		}
		if err != nil {
			r.Release()
			reason := reasonClientClosed
			if !isClosedConnErr(err) {
				reason = reasonReadError
			}
			c.closeConn(reason, false)
			return
		}
	}
}

func isClosedConnErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// protocolError ends the connection after a parse or handler error, sending
// the protocol's -ERR first where nats-server sends one.
func (c *client) protocolError(err error) {
	var ce *clientError
	if errors.As(err, &ce) {
		// Already reported to the client by the handler.
		c.closeConn(ce.reason, true)
		return
	}
	if errors.Is(err, errClosed) {
		return
	}
	text := proto.ErrorText(err)
	reason := reasonProtocolViolation
	if errors.Is(err, proto.ErrMaxPayload) {
		reason = reasonMaxPayload
	}
	c.srv.log.Info("client protocol error", "cid", c.cid, "remote", c.remote, "err", err)
	if text != "" {
		c.queueProto(proto.AppendErr(nil, text))
	}
	c.closeConn(reason, true)
}

// clientError is returned by handlers that already sent their -ERR and want
// the connection closed with reason.
type clientError struct {
	reason closeReason
	text   string
}

func (e *clientError) Error() string { return e.text }

// errClosed stops parsing once the connection is closed under the reader.
var errClosed = errors.New("connection closed")

// writeLoop writes buffered output, coalescing everything buffered since
// the last write into one pass, until nothing is left. It runs only while
// there is output: Flush starts it when none runs, and it ends as soon as
// the queue is empty, so an idle connection has no write goroutine (nor
// its stack). Whether one runs is c.writer, under mu: a writer that finds
// the queue empty clears it in the same critical section in which Deliver
// or queueProto would have seen it set, so no output is left unwritten.
// After close it writes what close asked for and closes the socket; c.writer
// then stays set, so none starts again.
func (c *client) writeLoop() {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			c.flushAndClose()
			return
		case c.out.Size() == 0:
			c.writer = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if !c.writeOut() {
			return
		}
	}
}

// startWriterLocked starts the write loop if there is output (or a close
// to carry out) and none runs. The caller holds mu and the connection's
// read loop is still running, so the server's WaitGroup is above zero.
func (c *client) startWriterLocked() {
	if c.writer || !c.canWrite || (c.out.Size() == 0 && !c.closed) {
		return
	}
	c.writer = true
	c.srv.goFunc(c.writeLoopFn)
}

// writeOut writes what is buffered now, chunk by chunk, so progress (which
// releases stalled publishers) and the write deadline are measured per
// chunk rather than per buffer, which can hold up to MaxPending bytes. It
// reports false when the connection has failed (and is closed).
func (c *client) writeOut() bool {
	c.mu.Lock()
	c.flushPending = false
	if c.out.Size() == 0 {
		c.mu.Unlock()
		return true
	}
	c.writing = c.out.Size()
	chunks := c.out.Take(c.spareChunks)
	c.spareChunks = nil
	conn := c.conn
	c.mu.Unlock()
	o := c.srv.conf.Load()

	var err error
	var written int
	for i, chunk := range chunks {
		if err == nil {
			_ = conn.SetWriteDeadline(time.Now().Add(o.WriteDeadline))
			var n int
			n, err = conn.Write(chunk)
			written += n
			c.mu.Lock()
			c.writing -= n
			c.written += int64(n)
			if n > 0 {
				c.stuck, c.idleStalls = false, 0
			}
			if c.stall != nil && int64(c.out.Size()+c.writing) <= o.MaxPending/4*3 {
				close(c.stall)
				c.stall = nil
			}
			c.mu.Unlock()
		}
		netio.ReleaseChunk(chunk)
		chunks[i] = nil
	}
	c.mu.Lock()
	c.writing = 0
	c.spareChunks = chunks[:0]
	c.mu.Unlock()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.srv.stats.slowConsumers.Add(1)
			c.srv.log.Warn("slow consumer: write deadline exceeded", "cid", c.cid,
				"remote", c.remote, "write_deadline", o.WriteDeadline, "written", written)
			c.closeConn(reasonSlowConsumerDeadline, false)
		} else {
			c.closeConn(reasonWriteError, false)
		}
		return false
	}
	return true
}

// flushAndClose runs on the write loop when the connection closes: it writes
// the last buffered bytes (an -ERR, or pending messages on a graceful
// shutdown) with a short deadline, then closes the socket.
func (c *client) flushAndClose() {
	c.mu.Lock()
	flush := c.flushOnClose
	chunks := c.out.Take(nil)
	conn := c.conn
	c.mu.Unlock()
	d := min(c.srv.conf.Load().WriteDeadline, 2*time.Second)
	var err error
	for _, chunk := range chunks {
		if flush && err == nil {
			_ = conn.SetWriteDeadline(time.Now().Add(d))
			_, err = conn.Write(chunk)
		}
		netio.ReleaseChunk(chunk)
	}
	conn.Close()
}

// queueProto buffers a protocol line (PONG, +OK, -ERR, INFO) for this
// client and schedules a flush.
func (c *client) queueProto(b []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.out.Write(b)
	need := !c.flushPending
	c.flushPending = true
	c.mu.Unlock()
	if need {
		c.Flush()
	}
}

// Flush implements router.Receiver: make sure a write loop runs.
func (c *client) Flush() {
	c.mu.Lock()
	c.startWriterLocked()
	c.mu.Unlock()
}

// Deliver implements router.Receiver. It runs on the publisher's goroutine.
func (c *client) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	withHdr := hdr != nil && c.headers.Load()
	size := len(payload)
	if withHdr {
		size += len(hdr)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	perms := c.perms.Load()
	if perms != nil && perms.DeliveryDenied(string(subj)) {
		c.mu.Unlock()
		return false
	}
	// Slow consumer: cut this reader rather than hold the publisher back.
	maxPending := c.srv.conf.Load().MaxPending
	if int64(c.out.Size()+c.writing+size) > maxPending {
		c.mu.Unlock()
		c.srv.stats.slowConsumers.Add(1)
		c.srv.log.Warn("slow consumer: max pending exceeded", "cid", c.cid,
			"remote", c.remote, "max_pending", maxPending)
		c.closeConn(reasonSlowConsumerPending, false)
		return false
	}
	if withHdr {
		c.scratch = proto.AppendHMsgLine(c.scratch[:0], subj, sub.SID, reply, len(hdr), size)
		c.out.Write(c.scratch)
		c.out.Write(hdr)
	} else {
		c.scratch = proto.AppendMsgLine(c.scratch[:0], subj, sub.SID, reply, size)
		c.out.Write(c.scratch)
	}
	c.out.Write(payload)
	c.out.Write(crlf)
	c.outMsgs++
	c.outBytes += int64(size)
	if c.stall == nil && !c.stuck && int64(c.out.Size()+c.writing) > maxPending/4*3 {
		c.stall = make(chan struct{})
		c.stallShown = false
	}
	if len(reply) > 0 && perms.Responses() != nil {
		c.grantReplyLocked(perms, reply)
	}
	if max := sub.Max(); max > 0 && sub.Delivered() >= max {
		// The router removed the subscription at its limit; forget the sid.
		if c.subs[string(sub.SID)] == sub {
			delete(c.subs, string(sub.SID))
		}
	}
	// Report a stalled receiver to the publisher even when a flush is
	// already pending: its writer is then typically blocked on a full
	// socket, which is exactly when the publisher should wait for it.
	need := !c.flushPending || (c.stall != nil && !c.stallShown)
	c.flushPending = true
	if c.stall != nil {
		c.stallShown = true
	}
	c.mu.Unlock()
	return need
}

var crlf = []byte("\r\n")

var _ router.Pacer = (*client)(nil)

// stallWait bounds how long a publisher waits, per read batch, for the
// receivers of the batch that asked it to (router.Pacer: a client above
// 3/4 of MaxPending, a stream with a full mailbox) to make progress.
const stallWait = 5 * time.Millisecond

// stuckAfter is how many consecutive stall waits without any write
// progress mark a receiver stuck (about 100 ms with stallWait).
const stuckAfter = 20

// Stall implements router.Pacer: a client above 3/4 of MaxPending asks
// its publishers to wait, up to stallWait per batch, for its write loop to
// make progress, so a reader that is merely slower than its publisher
// paces it, as nats-server's stall does. progress is the bytes written so
// far. The publisher's read loop calls it before flushing its batch.
func (c *client) Stall() (<-chan struct{}, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stall == nil {
		return nil, 0
	}
	c.stallShown = false // report it again in the next batch
	return c.stall, c.written
}

// Waited implements router.Pacer. A receiver that makes no write progress
// through stuckAfter waits in a row is marked stuck and stalls nobody
// again until it writes: a reader that stopped reading costs publishers
// about 100 ms once, and is then cut at MaxPending.
func (c *client) Waited(ch <-chan struct{}, progress int64) {
	c.mu.Lock()
	if c.stall != nil && ch == c.stall && c.written == progress {
		if c.idleStalls++; c.idleStalls >= stuckAfter {
			c.stuck = true
			close(c.stall)
			c.stall = nil
		}
	}
	c.mu.Unlock()
}

// grantReplyLocked records an allow_responses grant of perms for reply.
func (c *client) grantReplyLocked(perms *auth.Checker, reply []byte) {
	rp := perms.Responses()
	if c.replies == nil {
		c.replies = make(map[string]*replyGrant)
	}
	g := &replyGrant{left: rp.MaxMsgs}
	if g.left <= 0 {
		g.left = 1
	}
	if rp.Expires > 0 {
		g.expires = time.Now().Add(rp.Expires)
	}
	c.replies[string(reply)] = g
	// Bound the map: drop expired grants when it grows.
	if len(c.replies) > 1024 {
		now := time.Now()
		for k, v := range c.replies {
			if !v.expires.IsZero() && now.After(v.expires) {
				delete(c.replies, k)
			}
		}
	}
}

// closeConn ends the connection once. With flush, the write loop writes
// what is buffered before closing the socket; without, the socket closes now.
func (c *client) closeConn(reason closeReason, flush bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.reason = reason
	c.flushOnClose = flush
	if cs, ok := c.conn.(closeStatuser); ok {
		cs.SetCloseStatus(wsCloseStatus(reason), reason.String())
	}
	subs := make([]*router.Sub, 0, len(c.subs))
	for _, sub := range c.subs {
		subs = append(subs, sub)
	}
	c.subs = nil
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	conn := c.conn
	c.mu.Unlock()

	for _, sub := range subs {
		_ = c.srv.router.Unsubscribe(sub)
	}
	close(c.closing)
	// Before the socket closes, while the read loop still runs (see
	// startWriterLocked).
	c.mu.Lock()
	c.startWriterLocked()
	c.mu.Unlock()
	if !flush {
		conn.Close()
	}
	c.finish(reason)
}

// finish reports the closed connection to the server.
func (c *client) finish(reason closeReason) {
	c.mu.Lock()
	c.closed = true
	c.reason = reason
	info := c.connInfoLocked(time.Now(), true, true)
	c.mu.Unlock()
	c.srv.removeClient(c, info)
	lvl := "client closed"
	c.srv.log.Debug(lvl, "cid", c.cid, "remote", c.remote, "reason", reason.String())
}

// pingInterval is the server's, or the transport's own (websocket's
// ping_interval: proxies in front of browsers often drop connections idle
// for a minute).
func (c *client) pingInterval(o *liveConfig) time.Duration {
	if c.via != nil && c.via.PingInterval > 0 {
		return c.via.PingInterval
	}
	return o.PingInterval
}

// authTimeout fires when CONNECT has not authenticated in time.
func (c *client) authTimeout() {
	c.mu.Lock()
	done := c.connected || c.closed
	c.mu.Unlock()
	if done {
		return
	}
	c.srv.log.Info("authentication timeout", "cid", c.cid, "remote", c.remote)
	c.queueProto(proto.AppendErr(nil, proto.ErrTextAuthTimeout))
	c.closeConn(reasonAuthTimeout, true)
}

// pingTick sends a PING when the client has been quiet for a ping interval,
// and declares the connection stale after MaxPingsOut unanswered PINGs.
func (c *client) pingTick() {
	s := c.srv
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	o := s.conf.Load()
	interval := c.pingInterval(o)
	// Like nats-server, skip the PING while the client is sending: its
	// traffic proves it alive. Until an RTT is measured, always ping.
	quiet := time.Since(time.Unix(0, c.lastIn.Load())) >= interval
	if quiet || c.rtt == 0 {
		if c.pingsOut+1 > o.MaxPingsOut {
			c.mu.Unlock()
			s.stats.staleConns.Add(1)
			s.log.Info("stale connection", "cid", c.cid, "remote", c.remote)
			c.queueProto(proto.AppendErr(nil, proto.ErrTextStaleConnection))
			c.closeConn(reasonStale, true)
			return
		}
		c.pingsOut++
		c.rttStart = time.Now()
		c.mu.Unlock()
		c.queueProto(proto.PingLine)
		c.mu.Lock()
	}
	if !c.closed {
		c.pingTimer.Reset(interval)
	}
	c.mu.Unlock()
}

// sendLameDuckInfo tells the client the server is going away.
func (c *client) sendLameDuckInfo() {
	info := c.srv.baseInfo(c.srv.conf.Load())
	info.LameDuckMode = true
	c.queueProto(proto.AppendInfo(nil, &info))
}
