// Package proto is the NATS client protocol codec: a parser for the
// client→server operations, append-style encoders for the server→client
// ones, and the INFO and CONNECT JSON types. It is pure: bytes in, values
// out, no sockets and no server state. Error texts are nats-server's, since
// clients match on them.
package proto

import (
	"fmt"

	"github.com/leafgate/leafgate/leaf/internal/lex"
)

// Handler receives parsed operations. Slices are only valid during the call;
// a handler that keeps one must copy it. A handler error stops parsing and
// is returned by Parse unchanged.
type Handler interface {
	Connect(arg []byte) error                      // raw JSON of CONNECT
	Pub(subject, reply, hdr, payload []byte) error // hdr nil for PUB; the header block for HPUB
	Sub(subject, queue, sid []byte) error          // queue nil for a plain subscription
	Unsub(sid []byte, max int) error               // max 0 when absent
	Ping() error
	Pong() error
}

// maxOpOverhead bounds what precedes the arguments on a line: the longest
// operation name, separators and the line end.
const maxOpOverhead = 16

// Defaults for a zero Parser.
const (
	DefaultMaxControlLine = 4096
	DefaultMaxPayload     = 1024 * 1024
)

// Parser splits a client's byte stream into operations. It is owned by one
// reader goroutine. The zero value uses the default limits.
//
// When an operation is complete inside the buffer given to Parse, the
// handler gets sub-slices of that buffer: no copy, no allocation. Only an
// operation split across two Parse calls is copied into internal buffers,
// which are reused.
type Parser struct {
	MaxControlLine int
	MaxPayload     int

	lines lex.Lines // control lines, with one split across calls carried over

	// A PUB/HPUB whose payload is still arriving.
	inPayload bool
	args      []byte // copy of subject and reply for a split payload
	subj      []byte // views into args
	reply     []byte
	hdrLen    int // -1 for PUB
	size      int
	payload   []byte // payload bytes so far, plus the trailing CRLF
}

func (p *Parser) maxControlLine() int {
	if p.MaxControlLine > 0 {
		return p.MaxControlLine
	}
	return DefaultMaxControlLine
}

func (p *Parser) maxPayload() int {
	if p.MaxPayload > 0 {
		return p.MaxPayload
	}
	return DefaultMaxPayload
}

// Parse consumes buf, calling h for each complete operation. It stops at the
// first error, from the parser or the handler, and returns it; the
// connection is then unusable.
func (p *Parser) Parse(buf []byte, h Handler) error {
	for len(buf) > 0 {
		if p.inPayload {
			var err error
			buf, err = p.continuePayload(buf, h)
			if err != nil {
				return err
			}
			continue
		}
		line, rest, ok, long := p.lines.Next(buf, p.maxControlLine()+maxOpOverhead)
		if long {
			return ErrMaxControlLine
		}
		if !ok {
			return nil
		}
		var err error
		if buf, err = p.op(line, rest, h); err != nil {
			return err
		}
	}
	return nil
}

// op dispatches one control line; rest is the input after it, from which a
// PUB or HPUB takes its payload. It returns what remains of rest.
func (p *Parser) op(line, rest []byte, h Handler) ([]byte, error) {
	name, args := lex.SplitOp(line)
	if len(args) > p.maxControlLine() {
		return rest, ErrMaxControlLine
	}
	switch {
	case lex.EqualFold(name, "PUB"):
		return p.pub(args, rest, false, h)
	case lex.EqualFold(name, "HPUB"):
		return p.pub(args, rest, true, h)
	case lex.EqualFold(name, "SUB"):
		var a [3][]byte
		switch f := fields(args, a[:0]); len(f) {
		case 2:
			return rest, h.Sub(f[0], nil, f[1])
		case 3:
			return rest, h.Sub(f[0], f[1], f[2])
		default:
			return rest, fmt.Errorf("SUB %q: %w", args, ErrBadArgs)
		}
	case lex.EqualFold(name, "UNSUB"):
		var a [2][]byte
		switch f := fields(args, a[:0]); len(f) {
		case 1:
			return rest, h.Unsub(f[0], 0)
		case 2:
			n := parseSize(f[1])
			if n < 0 {
				return rest, fmt.Errorf("UNSUB %q: %w", args, ErrBadArgs)
			}
			return rest, h.Unsub(f[0], n)
		default:
			return rest, fmt.Errorf("UNSUB %q: %w", args, ErrBadArgs)
		}
	case lex.EqualFold(name, "PING"):
		return rest, h.Ping()
	case lex.EqualFold(name, "PONG"):
		return rest, h.Pong()
	case lex.EqualFold(name, "CONNECT"):
		return rest, h.Connect(args)
	}
	return rest, fmt.Errorf("%q: %w", lex.Snippet(line), ErrUnknownOp)
}

// pub parses PUB/HPUB arguments and delivers the message, directly from rest
// when the whole payload is there, else after copying what has arrived.
func (p *Parser) pub(args, rest []byte, withHdr bool, h Handler) ([]byte, error) {
	var a [4][]byte
	f := fields(args, a[:0])
	var subj, reply, szHdr, szTotal []byte
	switch {
	case !withHdr && len(f) == 2:
		subj, szTotal = f[0], f[1]
	case !withHdr && len(f) == 3:
		subj, reply, szTotal = f[0], f[1], f[2]
	case withHdr && len(f) == 3:
		subj, szHdr, szTotal = f[0], f[1], f[2]
	case withHdr && len(f) == 4:
		subj, reply, szHdr, szTotal = f[0], f[1], f[2], f[3]
	default:
		return rest, fmt.Errorf("PUB %q: %w", args, ErrBadArgs)
	}
	size := parseSize(szTotal)
	hdrLen := -1
	if withHdr {
		hdrLen = parseSize(szHdr)
		if hdrLen < 0 || size < 0 || hdrLen > size {
			return rest, fmt.Errorf("HPUB %q: %w", args, ErrBadArgs)
		}
	}
	if size < 0 {
		return rest, fmt.Errorf("PUB %q: %w", args, ErrBadArgs)
	}
	if size > p.maxPayload() {
		return rest, fmt.Errorf("%d bytes, max %d: %w", size, p.maxPayload(), ErrMaxPayload)
	}
	if len(rest) >= size+2 {
		if rest[size] != '\r' || rest[size+1] != '\n' {
			return rest, ErrPayloadEnd
		}
		return rest[size+2:], p.deliver(subj, reply, hdrLen, rest[:size], h)
	}
	// Split payload: keep copies of subject and reply.
	p.args = append(p.args[:0], subj...)
	p.args = append(p.args, reply...)
	p.subj = p.args[:len(subj)]
	p.reply = nil
	if reply != nil {
		p.reply = p.args[len(subj):]
	}
	p.hdrLen, p.size = hdrLen, size
	p.payload = append(p.payload[:0], rest...)
	p.inPayload = true
	return nil, nil
}

// continuePayload appends arriving payload bytes and delivers the message
// once it is complete.
func (p *Parser) continuePayload(buf []byte, h Handler) ([]byte, error) {
	need := p.size + 2 - len(p.payload)
	if len(buf) < need {
		p.payload = append(p.payload, buf...)
		return nil, nil
	}
	p.payload = append(p.payload, buf[:need]...)
	buf = buf[need:]
	p.inPayload = false
	if p.payload[p.size] != '\r' || p.payload[p.size+1] != '\n' {
		return buf, ErrPayloadEnd
	}
	err := p.deliver(p.subj, p.reply, p.hdrLen, p.payload[:p.size], h)
	// Do not let one large message pin a large buffer.
	if cap(p.payload) > 64*1024 {
		p.payload = nil
	}
	return buf, err
}

func (p *Parser) deliver(subj, reply []byte, hdrLen int, msg []byte, h Handler) error {
	if hdrLen < 0 {
		return h.Pub(subj, reply, nil, msg)
	}
	return h.Pub(subj, reply, msg[:hdrLen], msg[hdrLen:])
}

// fields splits args on runs of spaces and tabs into dst, without
// allocating while dst has room. It returns nil when there are more fields
// than dst's capacity, so callers treat it as a bad argument count.
func fields(args []byte, dst [][]byte) [][]byte {
	start := -1
	for i, b := range args {
		if b == ' ' || b == '\t' {
			if start >= 0 {
				if len(dst) == cap(dst) {
					return nil
				}
				dst = append(dst, args[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if len(dst) == cap(dst) {
			return nil
		}
		dst = append(dst, args[start:])
	}
	return dst
}

// parseSize parses a non-negative decimal, or returns -1.
func parseSize(b []byte) int {
	if len(b) == 0 || len(b) > 10 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
