// Package netio reads network connections without holding a read buffer
// while they are idle: the NATS client connections of leaf/server and
// MQTT's use it, so an idle connection costs kilobytes.
package netio

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// Read buffer sizes. A plain TCP connection reads into a maxReadBuf buffer
// borrowed from readBufPool only while its socket has data, so an idle
// connection holds no read buffer however busy it was before. Other
// connections (TLS) block in Read on a buffer of their own that starts at
// minReadBuf, doubles when a read fills it and halves after a run of short
// reads.
const (
	minReadBuf = 512
	maxReadBuf = 64 * 1024
)

var readBufPool = sync.Pool{New: func() any { return new([maxReadBuf]byte) }}

// Reader is a connection's read side, owned by its read loop. The
// bytes Next returns are valid until the next call to Next or Release.
type Reader struct {
	conn net.Conn
	pre  []byte // bytes read before the loop started, returned first

	// Plain TCP: rc reads through the poller; buf is the borrowed buffer,
	// held from the read that finds data until one finds the socket empty.
	rc     syscall.RawConn
	buf    *[maxReadBuf]byte
	n      int
	err    error
	readFD func(fd uintptr) bool // r.readRaw, bound once: no allocation per read

	// Other connections: a buffer of their own, sized to the traffic.
	own   []byte
	short int // consecutive reads under a quarter of own
}

// NewReader reads conn; pre are bytes already read from it, which Next
// returns first.
func NewReader(conn net.Conn, pre []byte) *Reader {
	r := &Reader{conn: conn, pre: pre}
	if sc, ok := conn.(syscall.Conn); ok && rawReads {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
			r.readFD = r.readRaw
			return r
		}
	}
	r.own = make([]byte, minReadBuf)
	return r
}

// Next waits for and returns the next bytes from the connection.
func (r *Reader) Next() ([]byte, error) {
	if len(r.pre) > 0 {
		p := r.pre
		r.pre = nil
		return p, nil
	}
	if r.rc == nil {
		n, err := r.conn.Read(r.own)
		b := r.own[:n]
		r.adapt(n)
		return b, err
	}
	r.n, r.err = 0, nil
	if err := r.rc.Read(r.readFD); err != nil {
		return nil, err
	}
	if r.buf == nil { // end of stream or error: readRaw gave the buffer back
		return nil, r.err
	}
	return r.buf[:r.n], r.err
}

// readRaw is called by the poller (on the read loop's goroutine) with the
// socket's descriptor, first at once and again each time it becomes
// readable; it reports whether it is done. It takes a buffer only for a
// read that finds data and returns it to the pool when the socket is
// empty, so a connection parked waiting for data holds none.
func (r *Reader) readRaw(fd uintptr) bool {
	if r.buf == nil {
		r.buf = readBufPool.Get().(*[maxReadBuf]byte)
	}
	for {
		n, err := sysRead(fd, r.buf[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			r.Release()
			return false
		case err != nil:
			r.Release()
			r.err = err
		case n == 0:
			r.Release()
			r.err = io.EOF
		default:
			r.n = n
		}
		return true
	}
}

// Release gives a borrowed buffer back to the pool.
func (r *Reader) Release() {
	if r.buf != nil {
		readBufPool.Put(r.buf)
		r.buf = nil
	}
}

// adapt sizes own for the next read after one that returned n bytes.
func (r *Reader) adapt(n int) {
	switch {
	case n == len(r.own) && len(r.own) < maxReadBuf:
		r.own = make([]byte, len(r.own)*2)
		r.short = 0
	case n < len(r.own)/4 && len(r.own) > minReadBuf:
		if r.short++; r.short > 8 {
			r.own = make([]byte, len(r.own)/2)
			r.short = 0
		}
	default:
		r.short = 0
	}
}

// Source is what a connection's read loop reads from: a Reader, or a
// connection that frames its own bytes and hands out their payload (a
// WebSocket connection, package ws). The bytes Next returns are valid until
// the next call to Next or Release.
type Source interface {
	Next() ([]byte, error)
	Release()
}

// NewSource returns the Source to read conn with: conn itself when it is
// one (it decodes its own framing), else a Reader returning pre first.
func NewSource(conn net.Conn, pre []byte) Source {
	if s, ok := conn.(Source); ok && len(pre) == 0 {
		return s
	}
	return NewReader(conn, pre)
}
