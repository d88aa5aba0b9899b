package ws

import (
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/netio"
	"github.com/leafgate/leafgate/ws/frame"
)

// Conn is an upgraded WebSocket connection seen as the byte stream it
// carries, so the NATS client code and the MQTT broker serve it exactly as
// they serve TCP: Write sends one binary message, and the read side
// (Next, the netio.Source a read loop uses; or Read) yields the payload of
// the peer's data messages with the framing, masking and control frames
// dealt with. It is the server's end of a connection (Handler) or the
// client's (DialLeafnode: the leafnode link to a hub), which masks what
// it writes unless the hub agreed to Nats-No-Masking.
//
// Reads decode frames in the buffer the underlying connection was read
// into (netio: none is held while idle), unmask in place and move the
// payload of all frames of one read together, so the read loop gets one
// contiguous slice without a copy. Writes put a header before the caller's
// bytes with one writev on TCP.
//
// The read side is owned by the read loop; writes (the writer's messages,
// the read loop's pongs and the close) are serialized by wmu.
//
// A client's writes copy the payload to mask it (the caller's bytes are
// not ours to change), through mbuf in pieces of maskChunk, with a fresh
// key per frame from a ChaCha8 stream seeded from crypto/rand: no
// allocation and no system call per message.
type Conn struct {
	raw    net.Conn
	src    netio.Source
	dec    frame.Decoder
	remote net.Addr
	tls    *tls.ConnectionState

	// Read side.
	rest    []byte // undecoded bytes of the current read
	err     error  // the read side's end, returned once rest is used
	held    []byte // an inflated message to return by the next Next
	zin     []byte // a compressed message being gathered
	zout    []byte // its inflated payload
	readBuf []byte // Read's unread remainder of a Next
	peerEnd bool   // the client's close frame arrived

	wmu       sync.Mutex
	hdr       [frame.MaxHeader]byte
	vec       net.Buffers
	vecArr    [2][]byte
	ctl       [frame.MaxHeader + frame.MaxControlPayload]byte
	closeSent bool
	mask      bool          // a client's end: frames written are masked
	keys      *rand.ChaCha8 // the masking keys (mask only)
	mbuf      []byte        // a masked frame's piece on its way out
	// out is where frames go: raw, or a stream codec over it (WrapStream),
	// which flush (when not nil) empties after each frame.
	out   io.Writer
	flush interface{ Flush() error }

	// smu guards the close status apart from wmu: whoever closes must not
	// wait behind a write blocked on a peer that does not read.
	smu    sync.Mutex
	status int    // close status to send (0: normal closure)
	reason string // its reason

	closeOnce sync.Once
	closed    chan struct{}
}

// compressThreshold: writes this small go uncompressed, as nats-server's
// wsCompressThreshold (deflate would make them bigger).
const compressThreshold = 64

// copyLimit: on connections without writev (TLS) a message up to this size
// is copied behind its header and written in one call, one TLS record.
const copyLimit = 16 << 10

var copyPool = sync.Pool{New: func() any { b := make([]byte, 0, copyLimit+frame.MaxHeader); return &b }}

// closeWriteDeadline bounds the close frame's write.
const closeWriteDeadline = time.Second

// maskChunk bounds the copy a masked write goes through: a frame's
// payload is masked and written in pieces of this size.
const maskChunk = 32 << 10

// newConn runs the frames of raw through dec; dec.Compression (what the
// handshake negotiated) also makes large writes compressed. pre are bytes
// read from raw after the handshake (the first frames), decoded first.
func newConn(raw net.Conn, dec frame.Decoder, remote net.Addr, pre []byte) *Conn {
	c := &Conn{raw: raw, out: raw, dec: dec, remote: remote, closed: make(chan struct{})}
	c.src = netio.NewReader(raw, pre)
	if tc, ok := raw.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	}
	if remote == nil {
		c.remote = raw.RemoteAddr()
	}
	return c
}

// maskWrites makes c a client's end that masks every frame it writes.
func (c *Conn) maskWrites() {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails (Go 1.24+); it would panic first
	c.mask = true
	c.keys = rand.NewChaCha8(seed)
}

// maskKey is a fresh masking key; the caller holds wmu.
func (c *Conn) maskKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], uint32(c.keys.Uint64()))
	return k
}

// WrapStream puts stream codecs between the frames and the connection
// from here on: frames are read from what r builds over the raw
// connection (after TLS) and written to what w builds (flushed after
// each frame when it has a Flush method). The leafnode link layers S2
// this way when it is negotiated on a WebSocket link without
// permessage-deflate, as nats-server does: it compresses the frames, not
// the bytes inside them. A nil r or w leaves that side as it is.
//
// The read side switches in the read loop, between frames, with nothing
// read and not yet returned: the peer switches after the same exchange,
// so any such bytes would belong to neither stream. The write side
// switches under the write lock, between frames, at any time: a new
// stream (S2 at another level) may replace the old one, which was
// flushed after its last frame.
func (c *Conn) WrapStream(r func(raw io.Reader) io.Reader, w func(raw io.Writer) io.Writer) error {
	if r != nil {
		switch {
		case c.err != nil:
			return c.err
		case len(c.rest) > 0 || len(c.readBuf) > 0 || c.held != nil || c.dec.InMessage():
			return errors.New("websocket: data pending before the stream codec")
		}
		c.src.Release()
		c.src = &streamSource{r: r(c.raw), buf: make([]byte, streamReadBuf)}
	}
	if w != nil {
		c.wmu.Lock()
		c.out = w(c.raw)
		c.flush, _ = c.out.(interface{ Flush() error })
		c.wmu.Unlock()
	}
	return nil
}

// streamReadBuf is the read buffer under a stream codec.
const streamReadBuf = 16 << 10

// streamSource reads a stream codec (WrapStream) into a buffer of its own.
type streamSource struct {
	r   io.Reader
	buf []byte
}

func (s *streamSource) Next() ([]byte, error) {
	n, err := s.r.Read(s.buf)
	return s.buf[:n], err
}

func (s *streamSource) Release() {}

// Compressed reports whether permessage-deflate was agreed in the
// handshake: large writes are then compressed.
func (c *Conn) Compressed() bool { return c.dec.Compression }

// TLS is the connection's TLS state (wss://), nil for plain ws://.
func (c *Conn) TLS() *tls.ConnectionState { return c.tls }

// NetConn is the connection the WebSocket runs over (after TLS): the one
// the listener's Serve was given, which leaf/server's ServeClient takes
// over.
func (c *Conn) NetConn() net.Conn { return c.raw }

// Transport names the transport for monitoring: "websocket".
func (c *Conn) Transport() string { return "websocket" }

// Done is closed when the connection has been closed.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Next implements netio.Source: it returns the payload of the data frames
// of the next read (or one inflated message), valid until the next call.
func (c *Conn) Next() ([]byte, error) {
	for {
		if c.held != nil {
			p := c.held
			c.held = nil
			return p, nil
		}
		if len(c.rest) == 0 {
			if c.err != nil {
				return nil, c.err
			}
			var err error
			c.rest, err = c.src.Next()
			if err != nil {
				c.err = err
			}
			if len(c.rest) == 0 {
				continue
			}
		}
		out, err := c.decode()
		if err != nil {
			c.fail(err)
			return out, c.err
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// decode steps the decoder over c.rest, moving data payload to the front
// of what is left of the read buffer. It stops early when an inflated
// message or a close must be returned.
func (c *Conn) decode() ([]byte, error) {
	out := c.rest[:0]
	for len(c.rest) > 0 {
		ev, rest, err := c.dec.Next(c.rest)
		c.rest = rest
		if err != nil {
			return out, err
		}
		switch ev.Kind {
		case frame.Data:
			if ev.Compressed {
				c.zin = append(c.zin, ev.Payload...)
				if !ev.Final {
					continue
				}
				p, err := c.inflate()
				if err != nil {
					return out, err
				}
				c.held = p
				return out, nil
			}
			// Payload lies at or after len(out) in the same buffer:
			// append moves it down in place.
			out = append(out, ev.Payload...)
		case frame.Control:
			if err := c.control(ev); err != nil {
				return out, err
			}
			if c.peerEnd { // nothing after a close counts
				c.rest = nil
				return out, nil
			}
		}
	}
	return out, nil
}

// control answers a control frame: a ping with a pong, a close with a
// close (after which the read side ends).
func (c *Conn) control(ev frame.Event) error {
	switch ev.Op {
	case frame.OpPing:
		return c.writeControl(frame.OpPong, ev.Payload)
	case frame.OpClose:
		code, _, _ := frame.ParseClose(ev.Payload) // validated by the decoder
		if code == frame.CloseNoStatus {
			code = frame.CloseNormal
		}
		c.setStatus(code, "")
		c.peerEnd = true
		c.err = io.EOF
	}
	return nil
}

// fail ends the read side after a framing error: the close frame says why.
func (c *Conn) fail(err error) {
	var ce *frame.CloseError
	if errors.As(err, &ce) {
		c.setStatus(ce.Code, ce.Text) // sent by Close, which the protocol calls next
	}
	c.err = err
	c.rest = nil
}

// Release implements netio.Source: the read buffer goes back to the
// source. Frames not decoded yet (a read can hold more than Next returned:
// it stops after a compressed message) are kept in a copy, so a read loop
// that releases and carries on elsewhere (the NATS client after CONNECT)
// loses nothing.
func (c *Conn) Release() {
	if len(c.rest) > 0 {
		c.rest = append([]byte(nil), c.rest...)
	}
	c.src.Release()
}

// Read implements net.Conn for callers that want a plain stream.
func (c *Conn) Read(p []byte) (int, error) {
	for len(c.readBuf) == 0 {
		b, err := c.Next()
		if len(b) == 0 && err != nil {
			return 0, err
		}
		c.readBuf = b
	}
	n := copy(p, c.readBuf)
	c.readBuf = c.readBuf[n:]
	return n, nil
}

// Write sends p as one binary message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return 0, net.ErrClosed
	}
	n, err := c.writeMessage(p)
	if err == nil {
		err = c.flushLocked()
	}
	return n, err
}

// flushLocked empties a stream codec under the frames; the caller holds
// wmu.
func (c *Conn) flushLocked() error {
	if c.flush == nil {
		return nil
	}
	return c.flush.Flush()
}

// writeMessage writes p as one binary message; the caller holds wmu.
func (c *Conn) writeMessage(p []byte) (int, error) {
	if c.dec.Compression && len(p) > compressThreshold {
		return c.writeCompressed(p)
	}
	if c.mask {
		key := c.maskKey()
		hdr := frame.AppendMaskedHeader(c.hdr[:0], frame.OpBinary, true, false, len(p), key)
		n, err := c.writeMasked(hdr, p, key)
		return max(n-len(hdr), 0), err
	}
	hdr := frame.AppendHeader(c.hdr[:0], frame.OpBinary, true, false, len(p))
	n, err := c.writeFrame(hdr, p)
	return max(n-len(hdr), 0), err
}

// writeMasked writes a client frame: hdr (masked with key) and p, masked
// through mbuf a piece at a time. The caller holds wmu.
func (c *Conn) writeMasked(hdr, p []byte, key [4]byte) (int, error) {
	b := append(c.mbuf[:0], hdr...)
	total, pos := 0, 0
	for {
		n := min(len(p), maskChunk-len(b))
		start := len(b)
		b = append(b, p[:n]...)
		pos = frame.Mask(key, pos, b[start:])
		p = p[n:]
		m, err := c.out.Write(b)
		total += m
		if err != nil || len(p) == 0 {
			c.mbuf = b[:0]
			return total, err
		}
		b = b[:0]
	}
}

// BuffersWriter is a connection wrapper that keeps writev: it writes v
// to the connection it wraps as v.WriteTo would.
type BuffersWriter interface {
	WriteBuffers(v *net.Buffers) (int64, error)
}

// writeFrame writes a header and its payload, with one writev on TCP (or
// a wrapper of it that is a BuffersWriter) and one Write for small frames
// elsewhere. The caller holds wmu.
func (c *Conn) writeFrame(hdr, p []byte) (int, error) {
	_, tcp := c.out.(*net.TCPConn)
	if bw, ok := c.out.(BuffersWriter); tcp || ok {
		c.vecArr[0], c.vecArr[1] = hdr, p
		c.vec = c.vecArr[:]
		var n int64
		var err error
		if tcp {
			n, err = c.vec.WriteTo(c.out)
		} else {
			n, err = bw.WriteBuffers(&c.vec)
		}
		c.vecArr[0], c.vecArr[1] = nil, nil
		return int(n), err
	}
	if len(p) <= copyLimit {
		bp := copyPool.Get().(*[]byte)
		b := append(append((*bp)[:0], hdr...), p...)
		n, err := c.out.Write(b)
		*bp = b[:0]
		copyPool.Put(bp)
		return n, err
	}
	n, err := c.out.Write(hdr)
	if err != nil {
		return n, err
	}
	m, err := c.out.Write(p)
	return n + m, err
}

// writeControl sends a control frame (the read loop's pongs).
func (c *Conn) writeControl(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	var f []byte
	if c.mask {
		f = frame.AppendMaskedControl(c.ctl[:0], op, p, c.maskKey())
	} else {
		f = frame.AppendControl(c.ctl[:0], op, p)
	}
	if _, err := c.out.Write(f); err != nil {
		return err
	}
	return c.flushLocked()
}

// SetCloseStatus sets the status and reason of the close frame Close will
// send; the first status set wins. The NATS client code sets it from why
// it closes the connection, as nats-server does.
func (c *Conn) SetCloseStatus(code int, reason string) { c.setStatus(code, reason) }

func (c *Conn) setStatus(code int, reason string) {
	c.smu.Lock()
	if c.status == 0 {
		c.status, c.reason = code, reason
	}
	c.smu.Unlock()
}

// writeCloseLocked writes the close frame, once; the caller holds wmu.
func (c *Conn) writeCloseLocked() {
	if c.closeSent {
		return
	}
	c.closeSent = true
	c.smu.Lock()
	code, reason := c.status, c.reason
	c.smu.Unlock()
	if code == 0 {
		code = frame.CloseNormal
	}
	var f []byte
	if c.mask {
		f = frame.AppendMaskedClose(c.ctl[:0], code, reason, c.maskKey())
	} else {
		f = frame.AppendClose(c.ctl[:0], code, reason)
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(closeWriteDeadline))
	if _, err := c.out.Write(f); err == nil {
		_ = c.flushLocked()
	}
}

// Close sends the close frame (status from SetCloseStatus, the client's
// own close, or 1000) and closes the connection. It never waits for a
// write in progress: then it cuts that write short (to closeWriteDeadline,
// as the peer may not be reading) and a goroutine sends the frame and
// closes once the write has ended, which Done reports.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		finish := func() {
			c.writeCloseLocked()
			c.wmu.Unlock()
			c.raw.Close()
			close(c.closed)
		}
		if c.wmu.TryLock() {
			err = nil
			finish()
			return
		}
		_ = c.raw.SetWriteDeadline(time.Now().Add(closeWriteDeadline))
		err = nil
		go func() {
			c.wmu.Lock()
			finish()
		}()
	})
	return err
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr is the peer's address: for a server's end, from
// X-Forwarded-For when the upgrade request carried one, else the
// socket's peer.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
