// Package leafproto is the leafnode protocol codec: a parser for the
// operations exchanged between a leafnode and its hub (INFO, CONNECT, LS+,
// LS-, LMSG, HMSG, PING, PONG, +OK, -ERR), append-style encoders for them,
// the leafnode INFO and CONNECT JSON types, compression-mode negotiation
// and the hub's special -ERR texts. It is pure: bytes in, values out, no
// sockets, no goroutines, no server state. The link that owns the socket
// and the state machine lives elsewhere.
//
// Wire formats, limits and error texts are nats-server v2.15's (server/
// leafnode.go, parser.go, client.go), since leafgate joins unmodified
// nats-server hubs: both the soliciting side (leafgate) and a test hub can
// be built on this package.
package leafproto

import (
	"fmt"

	"github.com/leafgate/leafgate/leaf/internal/lex"
)

// Handler receives parsed operations. Slices are only valid during the call;
// a handler that keeps one must copy it. A handler error stops parsing and
// is returned by Parse unchanged.
type Handler interface {
	Info(arg []byte) error    // raw JSON of INFO
	Connect(arg []byte) error // raw JSON of CONNECT
	// Sub is LS+. A plain subscription has queue nil and weight 0; a queue
	// subscription has weight >= 1 (a malformed or zero weight counts as
	// one member, as nats-server counts it).
	Sub(subject, queue []byte, weight int32) error
	Unsub(subject, queue []byte) error // LS-; queue nil for a plain subscription
	// Msg is LMSG (hdr nil) or HMSG (hdr is the header block, from the
	// NATS/1.0 line through the blank line). reply is nil when absent and
	// queues nil when the message carries no queue names.
	Msg(subject, reply []byte, queues [][]byte, hdr, payload []byte) error
	Ping() error
	Pong() error
	Err(text []byte) error // -ERR, with the surrounding single quotes stripped
}

// maxOpOverhead bounds what precedes the arguments on a line: the longest
// operation name, separators and the line end.
const maxOpOverhead = 16

// Defaults for a zero Parser.
const (
	// DefaultMaxControlLine is nats-server's limit on a leafnode connection:
	// 16 times the client max_control_line of 4096, since leafnode lines
	// carry reply subjects and queue lists, and the hub's INFO carries URL
	// lists and permissions.
	DefaultMaxControlLine = 16 * 4096
	// DefaultMaxPayload is nats-server's default max_payload. nats-server
	// checks an inbound LMSG/HMSG against its own max_payload, so a link
	// sets MaxPayload to the local server's limit.
	DefaultMaxPayload = 1024 * 1024
)

// Parser splits a leafnode connection's byte stream into operations. It is
// owned by one reader goroutine. The zero value uses the default limits.
//
// When an operation is complete inside the buffer given to Parse, the
// handler gets sub-slices of that buffer: no copy. Only an operation split
// across two Parse calls is copied into internal buffers, which are reused;
// after the first message with queue names, parsing does not allocate.
type Parser struct {
	// MaxControlLine limits an operation's arguments (everything after the
	// operation name), as nats-server's effective leaf limit does.
	MaxControlLine int
	// MaxPayload limits the total size announced by LMSG/HMSG. It is
	// checked on the control line, before the payload arrives.
	MaxPayload int

	lines lex.Lines // control lines, with one split across calls carried over

	fields [][]byte // scratch for splitting message arguments; its queue names go to the handler

	// An LMSG/HMSG whose payload is still arriving.
	inPayload bool
	withHdr   bool
	args      []byte // copy of the control line's arguments, re-split on delivery
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
// connection is then unusable. How the stream is cut into buffers never
// changes the calls h sees or the error returned.
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

// op dispatches one control line; rest is the input after it, from which an
// LMSG or HMSG takes its payload. It returns what remains of rest.
func (p *Parser) op(line, rest []byte, h Handler) ([]byte, error) {
	name, args := lex.SplitOp(line)
	if len(args) > p.maxControlLine() {
		return rest, ErrMaxControlLine
	}
	switch {
	case lex.EqualFold(name, "LMSG"):
		return p.msg(args, rest, false, h)
	case lex.EqualFold(name, "HMSG"):
		return p.msg(args, rest, true, h)
	case lex.EqualFold(name, "LS+"):
		var a [3][]byte
		f, more := fields(args, a[:0])
		if more != nil {
			f = nil
		}
		switch len(f) {
		case 1:
			return rest, h.Sub(f[0], nil, 0)
		case 3:
			return rest, h.Sub(f[0], f[1], parseWeight(f[2]))
		default:
			// nats-server: "processLeafSub Parse Error"; a queue
			// without a weight is an error too.
			return rest, fmt.Errorf("LS+ %q: %w", lex.Snippet(args), ErrBadArgs)
		}
	case lex.EqualFold(name, "LS-"):
		var a [2][]byte
		f, more := fields(args, a[:0])
		if more != nil {
			f = nil
		}
		switch len(f) {
		case 1:
			return rest, h.Unsub(f[0], nil)
		case 2:
			return rest, h.Unsub(f[0], f[1])
		default:
			return rest, fmt.Errorf("LS- %q: %w", lex.Snippet(args), ErrBadArgs)
		}
	case lex.EqualFold(name, "PING"):
		return rest, h.Ping()
	case lex.EqualFold(name, "PONG"):
		return rest, h.Pong()
	case lex.EqualFold(name, "INFO"):
		return rest, h.Info(trimSpaceRight(args))
	case lex.EqualFold(name, "CONNECT"):
		return rest, h.Connect(trimSpaceRight(args))
	case lex.EqualFold(name, "-ERR"):
		return rest, h.Err(errText(args))
	case lex.EqualFold(name, "+OK"):
		// Leafnodes never ask for verbose mode, but nats-server's
		// parser skips +OK on any connection; so do we.
		return rest, nil
	}
	return rest, fmt.Errorf("%q: %w", lex.Snippet(line), ErrUnknownOp)
}

// msgArgs is the parsed control line of an LMSG or HMSG.
type msgArgs struct {
	subject, reply []byte
	queues         [][]byte // nil when there are none
	hdrLen         int      // -1 for LMSG
	size           int      // total: headers and payload
}

// parseMsgArgs parses the arguments of LMSG (withHdr false) or HMSG into m:
//
//	<subject> [<reply>] <size>
//	<subject> + <reply> <queue>... <size>
//	<subject> | <queue>... <size>
//
// with <hdr_len> <total_len> in place of <size> for HMSG. As in nats-server
// (processLeafMsgArgs), the "+" or "|" indicator is only looked for when
// there are more fields than the plain forms have, so "subj | 5" has the
// reply subject "|". Queue names are views into p.fields.
func (p *Parser) parseMsgArgs(args []byte, withHdr bool, m *msgArgs) error {
	op := "LMSG"
	sizes := 1 // trailing size fields
	if withHdr {
		op, sizes = "HMSG", 2
	}
	*m = msgArgs{hdrLen: -1}
	// The forms without queue names fit a local array of 2+sizes fields;
	// the queue forms have at least 3+sizes, so they always overflow it
	// into p.fields, and the queue names the handler gets are p.fields'.
	var a [4][]byte
	f, more := fields(args, a[:0:2+sizes])
	if more != nil {
		p.fields = appendFields(more, append(p.fields[:0], f...))
		f = p.fields
	}
	switch n := len(f); {
	case n < 1+sizes:
		return fmt.Errorf("%s %q: %w", op, lex.Snippet(args), ErrBadArgs)
	case n == 1+sizes:
		m.subject = f[0]
	case n == 2+sizes:
		m.subject, m.reply = f[0], f[1]
	default:
		m.subject = f[0]
		if len(f[1]) != 1 || (f[1][0] != '+' && f[1][0] != '|') {
			return fmt.Errorf("%s %q: bad or missing reply indicator: %w", op, lex.Snippet(args), ErrBadArgs)
		}
		first := 2
		if f[1][0] == '+' {
			m.reply = f[2]
			first = 3
		}
		if first < n-sizes {
			m.queues = p.fields[first : n-sizes]
		}
	}
	m.size = parseSize(f[len(f)-1])
	if withHdr {
		m.hdrLen = parseSize(f[len(f)-2])
		if m.hdrLen < 0 || m.size < 0 || m.hdrLen > m.size {
			return fmt.Errorf("%s %q: bad sizes: %w", op, lex.Snippet(args), ErrBadArgs)
		}
	}
	if m.size < 0 {
		return fmt.Errorf("%s %q: bad size: %w", op, lex.Snippet(args), ErrBadArgs)
	}
	if m.size > p.maxPayload() {
		return fmt.Errorf("%d bytes, max %d: %w", m.size, p.maxPayload(), ErrMaxPayload)
	}
	return nil
}

// msg parses LMSG/HMSG arguments and delivers the message, directly from
// rest when the whole payload is there, else after copying what has
// arrived.
func (p *Parser) msg(args, rest []byte, withHdr bool, h Handler) ([]byte, error) {
	var m msgArgs
	if err := p.parseMsgArgs(args, withHdr, &m); err != nil {
		return rest, err
	}
	if len(rest) >= m.size+2 {
		if rest[m.size] != '\r' || rest[m.size+1] != '\n' {
			return rest, ErrPayloadEnd
		}
		err := p.deliver(&m, rest[:m.size], h)
		p.releaseFields()
		return rest[m.size+2:], err
	}
	// Split payload: keep a copy of the arguments; they are parsed again
	// (they cannot fail now) when the payload is complete.
	p.args = append(p.args[:0], args...)
	p.withHdr, p.size = withHdr, m.size
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
	var m msgArgs
	err := p.parseMsgArgs(p.args, p.withHdr, &m)
	if err == nil {
		err = p.deliver(&m, p.payload[:p.size], h)
	}
	p.releaseFields()
	// Do not let one large message or line pin a large buffer.
	if cap(p.payload) > 64*1024 {
		p.payload = nil
	}
	if cap(p.args) > 4096 {
		p.args = nil
	}
	return buf, err
}

func (p *Parser) deliver(m *msgArgs, msg []byte, h Handler) error {
	if m.hdrLen < 0 {
		return h.Msg(m.subject, m.reply, m.queues, nil, msg)
	}
	return h.Msg(m.subject, m.reply, m.queues, msg[:m.hdrLen], msg[m.hdrLen:])
}

// releaseFields drops an unusually large field scratch (a line with
// thousands of queue names) so it is not kept for the connection's life.
func (p *Parser) releaseFields() {
	if cap(p.fields) > 256 {
		p.fields = nil
	}
}

// fields splits args on runs of spaces and tabs into dst, up to dst's
// capacity, without allocating. When a further field follows, it returns
// the arguments from that field on as more; callers with a fixed field
// count treat that as a bad argument count.
func fields(args []byte, dst [][]byte) (f [][]byte, more []byte) {
	start := -1
	for i, b := range args {
		if b == ' ' || b == '\t' {
			if start >= 0 {
				dst = append(dst, args[start:i])
				start = -1
			}
		} else if start < 0 {
			if len(dst) == cap(dst) {
				return dst, args[i:]
			}
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, args[start:])
	}
	return dst, nil
}

// appendFields is fields without a bound: dst grows as needed.
func appendFields(args []byte, dst [][]byte) [][]byte {
	start := -1
	for i, b := range args {
		if b == ' ' || b == '\t' {
			if start >= 0 {
				dst = append(dst, args[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, args[start:])
	}
	return dst
}

// maxSizeDigits is nats-server's bound on a size field (999,999,999).
const maxSizeDigits = 9

// parseSize parses a non-negative decimal of at most 9 digits, or returns
// -1, as nats-server's parseSize does.
func parseSize(b []byte) int {
	if len(b) == 0 || len(b) > maxSizeDigits {
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

// parseWeight parses an LS+ queue weight. nats-server counts a missing,
// malformed or zero weight as a single member (processLeafSub).
func parseWeight(b []byte) int32 {
	n := parseSize(b)
	if n < 1 {
		return 1
	}
	return int32(n)
}

// errText strips the quotes nats-server puts around an -ERR text.
func errText(args []byte) []byte {
	args = trimSpaceRight(args)
	if len(args) >= 2 && args[0] == '\'' && args[len(args)-1] == '\'' {
		return args[1 : len(args)-1]
	}
	return args
}

// trimSpaceRight drops trailing spaces and tabs: nats-server ends INFO with
// "} \r\n".
func trimSpaceRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
