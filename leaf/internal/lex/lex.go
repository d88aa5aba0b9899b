// Package lex holds what the parsers of NATS's two text protocols share:
// the client protocol (leaf/proto) and the leafnode protocol
// (leaf/leafproto). It cuts a byte stream into control lines and splits
// them into operation and arguments; each parser keeps its own operations,
// arguments and limits.
package lex

import "bytes"

// Lines cuts a stream, handed over in arbitrary buffers, into control
// lines. A line complete in the buffer given is returned in place, without
// copying; only a line split across buffers is carried over, in a buffer
// that is reused. The zero value is ready to use.
type Lines struct {
	carry []byte
	used  bool // the last line returned was the carry
}

// keepCarry bounds the carry buffer kept between lines: a rare long line
// (a hub's INFO) does not pin its buffer for the connection's life.
const keepCarry = 4096

// Next returns the first complete line in buf, without its "\n" or
// "\r\n", and what follows it in rest. With no line end in buf, it keeps
// buf for the next call and returns ok false. tooLong reports a line
// longer than max bytes (not counting the line end), whether complete or
// not: the outcome does not depend on where the stream was cut. The line
// is valid until the next call.
func (l *Lines) Next(buf []byte, max int) (line, rest []byte, ok, tooLong bool) {
	if l.used {
		l.carry, l.used = l.carry[:0], false
		if cap(l.carry) > keepCarry {
			l.carry = nil
		}
	}
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		// +1: the line's '\r' may already be here.
		if len(l.carry)+len(buf) > max+1 {
			l.carry = l.carry[:0]
			return nil, nil, false, true
		}
		l.carry = append(l.carry, buf...)
		return nil, nil, false, false
	}
	line, rest = buf[:i], buf[i+1:]
	if len(l.carry) > 0 {
		l.carry = append(l.carry, line...)
		line, l.used = l.carry, true
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > max {
		l.carry = l.carry[:0]
		return nil, nil, false, true
	}
	return line, rest, true, false
}

// SplitOp separates an operation name from its arguments.
func SplitOp(line []byte) (name, args []byte) {
	i := 0
	for i < len(line) && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	name = line[:i]
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return name, line[i:]
}

// EqualFold compares an ASCII operation name with s (upper case) without
// regard to case, as nats-server accepts "pub" and "PUB".
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Snippet is the start of b, for error messages.
func Snippet(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
