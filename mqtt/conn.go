package mqtt

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/netio"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// conn is one MQTT network connection. The read loop (run) owns the
// fields above mu; mu guards the output side, which deliveries on other
// goroutines append to.
type conn struct {
	b       *Broker
	nc      net.Conn
	cid     uint64
	remote  string
	start   time.Time
	closing <-chan struct{}

	// Set by CONNECT, then read-only.
	v         packet.Version
	s         *session
	clientID  string
	user      string
	perms     *auth.Checker
	keepAlive time.Duration
	willSent  bool
	// problemInfo: the 5.0 client accepts Reason Strings and User
	// Properties on acks (Request Problem Information, default 1).
	problemInfo bool

	st connStats // for /connz

	// Read loop state.
	maxIn     int
	pub       packet.Publish
	ack       packet.Ack
	sub       packet.Subscribe
	unsub     packet.Unsubscribe
	disc      packet.Disconnect
	subjBuf   []byte
	hdrBuf    []byte
	replyBuf  []byte
	rrBuf     []byte
	aliasIn   [][]byte // topic alias → topic, 5.0
	publisher router.Publisher
	pending   router.FlushSet
	stalls    router.Stalls
	inflight  int // QoS 1/2 publishes not yet answered with PUBACK/PUBCOMP

	mu           sync.Mutex
	out          []byte
	spare        []byte
	writing      bool
	wdone        chan struct{} // closed when the running writer exits
	closed       bool
	closeErr     error
	sendQuota    int    // client's Receive Maximum (capped by MaxInflight)
	maxOut       int    // client's Maximum Packet Size, 0: none
	aliasMax     uint16 // client's Topic Alias Maximum
	aliasOut     map[string]uint16
	acks         []*inboundAck // PUBACK/PUBREC/PUBCOMP owed, in order
	stall        chan struct{}
	stallShown   bool
	flushPending bool
	written      int64
	stuck        int
	scratch      []byte
	propsOut     packet.Properties
	corrBuf      []byte
	done         chan struct{}
}

func newConn(b *Broker, nc net.Conn, closing <-chan struct{}) *conn {
	c := &conn{
		b:       b,
		nc:      nc,
		cid:     b.newCID(),
		start:   time.Now(),
		closing: closing,
		maxIn:   preConnectMax,
		done:    make(chan struct{}),
	}
	if a := nc.RemoteAddr(); a != nil {
		c.remote = a.String()
	}
	c.publisher = router.Publisher{Origin: c, Pending: &c.pending}
	return c
}

// Deliver and Flush make a conn the Origin of its publishes (for No Local
// and the JetStream audit); nothing subscribes with it.
func (c *conn) Deliver(*router.Sub, []byte, []byte, []byte, []byte) bool { return false }
func (c *conn) Flush()                                                   {}

// Describe implements router.Describer.
func (c *conn) Describe() router.Origin {
	host, _, _ := net.SplitHostPort(c.remote)
	return router.Origin{Start: c.start, Host: host, ID: c.cid, User: c.user,
		Name: c.clientID, Lang: "mqtt", Kind: "Client", Type: "mqtt"}
}

var errClosedByServer = errors.New("closed by server")

// run is the read loop.
func (c *conn) run() {
	defer close(c.done)
	_ = c.nc.SetReadDeadline(time.Now().Add(c.b.opts.ConnectTimeout))
	err := c.readLoop()
	// A batch cut short by an error or a DISCONNECT still kicks the
	// receivers it delivered to.
	c.pending.Flush()
	c.finish(err)
}

func (c *conn) readLoop() error {
	r := netio.NewSource(c.nc, nil)
	defer r.Release()
	// part holds an incomplete packet between reads; whole packets are
	// decoded straight from the reader's buffer, which an idle connection
	// does not hold.
	var part []byte
	for {
		data, err := r.Next()
		if len(data) > 0 {
			c.st.inBytes.Add(int64(len(data)))
			c.st.lastIn.Store(time.Now().UnixNano())
		}
		if len(part) > 0 && len(data) > 0 {
			part = append(part, data...)
			data = part
		} else if len(part) > 0 {
			data = part
		}
		off := 0
		for off < len(data) {
			h, complete, perr := packet.Split(data[off:], c.maxIn)
			if perr != nil {
				return c.refuse(perr)
			}
			if !complete {
				break
			}
			if herr := c.handle(data[off : off+h.Len()]); herr != nil {
				return herr
			}
			off += h.Len()
		}
		switch rest := data[off:]; {
		case len(rest) == 0:
			if cap(part) > 64<<10 {
				part = nil // a burst of large packets has passed
			}
			part = part[:0]
		case len(part) > 0 && &rest[0] == &part[off]:
			part = part[:copy(part, rest)]
		default:
			part = append(part[:0], rest...)
		}
		c.endBatch()
		if err != nil {
			if isTimeout(err) && c.s != nil {
				return errKeepAlive // [MQTT-3.1.2-22]
			}
			return err
		}
		if c.keepAlive > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
		}
	}
}

var errKeepAlive = errors.New("keep alive timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// endBatch flushes the receivers this read batch published to, and waits
// briefly for the slow ones, as the NATS read loop does.
func (c *conn) endBatch() {
	if c.pending.Len() == 0 {
		return
	}
	c.stalls.Collect(&c.pending, c)
	c.pending.Flush()
	c.stalls.Wait(5*time.Millisecond, c.closing)
}

// handle dispatches one whole packet.
func (c *conn) handle(pkt []byte) error {
	t := packet.Type(pkt[0] >> 4)
	if c.s == nil {
		if t != packet.CONNECT { // [MQTT-3.1.0-1]
			return errProtocol("first packet is not CONNECT")
		}
		return c.onConnect(pkt)
	}
	switch t {
	case packet.PUBLISH:
		c.st.inMsgs.Add(1)
		if err := c.pub.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		return c.onPublish(&c.pub)
	case packet.PUBACK, packet.PUBREC, packet.PUBREL, packet.PUBCOMP:
		if err := c.ack.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		return c.onAck(&c.ack)
	case packet.SUBSCRIBE:
		if err := c.sub.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		return c.onSubscribe(&c.sub)
	case packet.UNSUBSCRIBE:
		if err := c.unsub.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		return c.onUnsubscribe(&c.unsub)
	case packet.PINGREQ:
		var p packet.Pingreq
		if err := p.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		c.mu.Lock()
		c.out = append(c.out, byte(packet.PINGRESP)<<4, 0) // [MQTT-3.12.4-1]
		c.kickLocked()
		c.mu.Unlock()
		return nil
	case packet.DISCONNECT:
		if err := c.disc.Decode(c.v, pkt); err != nil {
			return c.refuse(err)
		}
		return c.onDisconnect(&c.disc)
	case packet.AUTH:
		// No enhanced authentication method is supported, so a client
		// may not send AUTH [MQTT-4.12.0-1].
		return errProtocolCode(packet.ProtocolError, "AUTH without an authentication method")
	case packet.CONNECT: // [MQTT-3.1.0-2]
		return errProtocol("second CONNECT")
	}
	return errProtocolCode(packet.MalformedPacket, "packet type a client may not send")
}

// closeError is an error that closes the connection; in 5.0 the client is
// told Code in a DISCONNECT first.
type closeError struct {
	Code packet.ReasonCode
	Text string
}

func (e *closeError) Error() string { return e.Text + " (" + e.Code.String() + ")" }

func errProtocol(text string) error { return &closeError{packet.ProtocolError, text} }
func errProtocolCode(code packet.ReasonCode, text string) error {
	return &closeError{code, text}
}

// errNormal ends the read loop after a client's DISCONNECT.
var errNormal = errors.New("client disconnected")

// refuse answers a decode error as the spec asks (packet.AppendRefusal)
// and returns it to end the connection.
func (c *conn) refuse(err error) error {
	c.mu.Lock()
	c.out = packet.AppendRefusal(c.out, c.v, c.s == nil, err)
	c.mu.Unlock()
	return err
}

// disconnect queues a 5.0 DISCONNECT with code (3.1.1 has none).
func (c *conn) disconnect(code packet.ReasonCode) {
	if c.v != packet.V5 {
		return
	}
	d := packet.Disconnect{Code: code}
	c.mu.Lock()
	c.out = d.Append(c.out, packet.V5)
	c.mu.Unlock()
}

// finish tears the connection down after the read loop ends with err.
func (c *conn) finish(err error) {
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		c.disconnect(ce.Code)
	case errors.Is(err, errKeepAlive):
		c.disconnect(packet.KeepAliveTimeout)
	}
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = err
	}
	takenOver := errors.Is(c.closeErr, errTakenOver)
	c.mu.Unlock()
	c.flushAndClose()
	if c.s != nil {
		normal := errors.Is(err, errNormal)
		c.s.detach(c, !normal || c.willSent, takenOver)
	}
	if err != nil && !errors.Is(err, errNormal) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.b.log.Debug("mqtt connection closed", "cid", c.cid, "client_id", c.clientID, "remote", c.remote, "err", err)
	}
}

var (
	errTakenOver = errors.New("session taken over")
	errAdmin     = errors.New("session removed by an operator")
)

// takeover closes c because another connection took its session.
func (c *conn) takeover() {
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = errTakenOver
	}
	if c.v == packet.V5 && !c.closed {
		d := packet.Disconnect{Code: packet.SessionTakenOver} // [MQTT-3.1.4-3]
		c.out = d.Append(c.out, packet.V5)
	}
	c.mu.Unlock()
	c.flushAndClose()
	<-c.done
}

// shutdown closes c for a server shutdown.
func (c *conn) shutdown() {
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = errClosedByServer
	}
	if c.v == packet.V5 && c.s != nil && !c.closed {
		d := packet.Disconnect{Code: packet.ServerShuttingDown}
		c.out = d.Append(c.out, packet.V5)
	}
	c.mu.Unlock()
	c.flushAndClose()
}

// --- output

// kickLocked makes sure a writer runs for queued output.
func (c *conn) kickLocked() {
	if c.writing || c.closed || len(c.out) == 0 {
		return
	}
	c.writing = true
	c.wdone = make(chan struct{})
	go c.writeLoop(c.wdone)
}

func (c *conn) writeLoop(done chan struct{}) {
	defer close(done)
	for {
		c.mu.Lock()
		if len(c.out) == 0 || c.closed {
			c.writing = false
			c.wdone = nil
			c.mu.Unlock()
			return
		}
		buf := c.out
		c.out = c.spare[:0]
		// Whatever was waiting for a flush goes out now: the next
		// delivery asks its publisher for a Flush again.
		c.flushPending = false
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.written += int64(len(buf))
		if cap(buf) <= 64<<10 {
			c.spare = buf[:0]
		} else {
			c.spare = nil
		}
		if c.stall != nil && len(c.out) < c.b.opts.MaxPending/2 {
			close(c.stall)
			c.stall = nil
		}
		if err != nil {
			c.writing = false
			c.wdone = nil
			c.out = nil
			c.closed = true
			c.mu.Unlock()
			c.nc.Close()
			return
		}
		c.mu.Unlock()
	}
}

// closeStatuser is a transport that tells its peer why it is closed: a
// WebSocket close frame's status (ws.Conn).
type closeStatuser interface {
	SetCloseStatus(code int, reason string)
}

// wsCloseStatus is the WebSocket close status (RFC 6455 §7.4.1) for why
// an MQTT connection ends, next to the MQTT reason code the client gets
// in its DISCONNECT or CONNACK.
func wsCloseStatus(err error) (int, string) {
	var code packet.ReasonCode
	var ce *closeError
	var pe *packet.Error
	var re *refusedError
	switch {
	case err == nil, errors.Is(err, errNormal), errors.Is(err, io.EOF), errors.Is(err, errTakenOver):
		return 1000, ""
	case errors.Is(err, errKeepAlive), errors.Is(err, errClosedByServer):
		return 1001, err.Error()
	case errors.Is(err, errAdmin):
		return 1008, err.Error()
	case errors.As(err, &ce):
		code = ce.Code
	case errors.As(err, &pe):
		code = pe.Code
	case errors.As(err, &re):
		code = re.code
	default:
		return 1001, "" // the connection failed under it
	}
	switch code {
	case packet.PacketTooLarge:
		return 1009, code.String()
	case packet.BadUserNameOrPassword, packet.NotAuthorized, packet.BadAuthenticationMethod,
		packet.ServerBusy, packet.QuotaExceeded:
		return 1008, code.String()
	case packet.ServerShuttingDown, packet.KeepAliveTimeout:
		return 1001, code.String()
	}
	return 1002, code.String()
}

// flushAndClose writes what is queued (waiting for a running writer, and
// at most a second for the rest) and closes the socket.
func (c *conn) flushAndClose() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	wdone := c.wdone
	if cs, ok := c.nc.(closeStatuser); ok {
		cs.SetCloseStatus(wsCloseStatus(c.closeErr))
	}
	if c.stall != nil {
		close(c.stall)
		c.stall = nil
	}
	c.mu.Unlock()
	if wdone != nil {
		<-wdone
	}
	c.mu.Lock()
	buf := c.out
	c.out = nil
	c.mu.Unlock()
	if len(buf) > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(buf)
	}
	c.nc.Close()
}

// Stall implements router.Pacer for the connection's subscriptions: a
// publisher waits for a connection whose output is over half MaxPending.
func (c *conn) Stall() (<-chan struct{}, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stall == nil {
		return nil, 0
	}
	return c.stall, c.written
}

// Waited implements router.Pacer: a connection that wrote nothing through
// 20 waits stops pacing publishers (its QoS 0 messages are then dropped
// at MaxPending and QoS 1/2 ones wait in the session's queue).
func (c *conn) Waited(ch <-chan struct{}, progress int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stall == nil || (<-chan struct{})(c.stall) != ch {
		return
	}
	if c.written != progress {
		c.stuck = 0
		return
	}
	if c.stuck++; c.stuck >= 20 {
		close(c.stall)
		c.stall = nil
	}
}

// roomLocked reports whether n more bytes of output fit under MaxPending,
// arming the stall above half of it.
func (c *conn) roomLocked(n int) bool {
	if c.closed {
		return false
	}
	limit := c.b.opts.MaxPending
	if len(c.out)+n > limit {
		return false
	}
	if c.stall == nil && c.stuck < 20 && len(c.out)+n > limit/2 {
		c.stall = make(chan struct{})
	}
	return true
}
