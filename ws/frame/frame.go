// Package frame is the WebSocket framing of RFC 6455 as a pure codec, for
// both ends: a server decodes the frames clients send (masked), unmasking
// the payload in place in the caller's buffer, and encodes its own
// (unmasked); a client (Decoder.Client: the leafnode link dialing a hub)
// decodes the server's unmasked frames and encodes masked ones. It does no
// I/O and keeps no buffers of its own beyond one control frame's payload,
// so the connection that uses it (package ws) decides how bytes are read
// and written.
//
// Decoding is a state machine stepped by whatever bytes arrive: a frame
// header, a payload or a message may be split anywhere across reads, and
// one read may hold any number of frames. Every violation of RFC 6455 that
// a server must act on is reported as a *CloseError carrying the close
// status the connection must be closed with.
package frame

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close status codes (RFC 6455 §7.4.1) a server sends.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never sent: a close frame without a code
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
	CloseTLSHandshake    = 1015 // never sent on the wire either
)

// MaxControlPayload is the largest payload of a control frame (§5.5).
const MaxControlPayload = 125

// MaxHeader is the longest frame header: 2 bytes, an 8-byte length and a
// 4-byte mask.
const MaxHeader = 14

const (
	finBit  = 0x80
	rsv1Bit = 0x40
	rsv2Bit = 0x20
	rsv3Bit = 0x10
	maskBit = 0x80
)

// CloseError is a protocol violation: the connection must be closed with
// Code, and Text may go in the close frame's reason.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string { return fmt.Sprintf("websocket: %s (close %d)", e.Text, e.Code) }

func protocolError(text string) error { return &CloseError{Code: CloseProtocolError, Text: text} }

// Kind says what Decoder.Next found.
type Kind uint8

const (
	// More: the input is used up without completing anything worth
	// reporting; call Next again with more bytes.
	More Kind = iota
	// Data: Payload is (a piece of) a data message's payload, unmasked in
	// place. Op is the message's opcode (OpText or OpBinary), Final is set
	// on its last piece, Compressed when the message has RSV1 set
	// (permessage-deflate: the pieces must be gathered and inflated).
	Data
	// Control: a whole control frame; Op is OpClose, OpPing or OpPong and
	// Payload (at most 125 bytes, valid until the next call) its payload.
	Control
)

// Event is one thing Next found.
type Event struct {
	Kind       Kind
	Op         byte
	Final      bool
	Compressed bool
	Payload    []byte
}

// Decoder decodes the frames a client sends, or with Client those a
// server sends. The zero value accepts text and binary messages of any
// size without compression; set the fields before the first Next.
type Decoder struct {
	// Client decodes the frames a server sends to a client: unmasked. A
	// masked one is a protocol error (RFC 6455 §5.1: a client must close
	// on a masked frame), as an unmasked one is for a server.
	Client bool
	// MaxMessage caps a message's payload (the sum of its frames) in bytes;
	// a longer one is CloseMessageTooBig. 0 means no limit.
	MaxMessage int64
	// Compression allows RSV1 on a message's first frame: permessage-deflate
	// was negotiated.
	Compression bool
	// BinaryOnly refuses text messages with CloseUnsupportedData, as MQTT
	// over WebSocket requires (MQTT §6).
	BinaryOnly bool

	// The frame being decoded.
	hdr     [MaxHeader]byte
	hn      int   // header bytes gathered
	inFrame bool  // the header is complete; payload follows
	op      byte  // this frame's opcode
	fin     bool  // this frame's FIN
	left    int64 // payload bytes still to come
	masked  bool  // the payload is masked with mask
	mask    [4]byte
	mpos    int // mask offset of the next payload byte

	// The data message in progress (across frames).
	msgOp   byte // OpText or OpBinary; 0 between messages
	msgComp bool
	msgLen  int64

	// A control frame's payload, gathered whole.
	ctl    [MaxControlPayload]byte
	ctlLen int
}

// InMessage reports whether a data message has started and not ended.
func (d *Decoder) InMessage() bool { return d.msgOp != 0 }

// Next decodes from p and returns the first event it completes and the
// bytes after it. Payload bytes of a data event are unmasked in place in p
// and returned as a sub-slice of it. With Kind More, all of p was used.
func (d *Decoder) Next(p []byte) (Event, []byte, error) {
	for len(p) > 0 {
		if !d.inFrame {
			n, err := d.header(p)
			p = p[n:]
			if err != nil {
				return Event{}, p, err
			}
			if !d.inFrame {
				return Event{}, p, nil // header incomplete: need more
			}
			if d.left == 0 {
				if ev, ok, err := d.endFrame(nil); ok || err != nil {
					return ev, p, err
				}
				continue
			}
		}
		n := int(min(int64(len(p)), d.left))
		chunk := p[:n]
		p = p[n:]
		d.unmask(chunk)
		d.left -= int64(n)
		if isControl(d.op) {
			d.ctlLen += copy(d.ctl[d.ctlLen:], chunk)
			if d.left > 0 {
				continue
			}
			ev, _, err := d.endFrame(nil)
			return ev, p, err
		}
		if d.left > 0 {
			return Event{Kind: Data, Op: d.msgOp, Compressed: d.msgComp, Payload: chunk}, p, nil
		}
		ev, _, err := d.endFrame(chunk)
		return ev, p, err
	}
	// An empty non-final frame completed at the very end: nothing to say.
	return Event{}, p, nil
}

// header gathers header bytes from p and validates a complete header. It
// returns the bytes it used.
func (d *Decoder) header(p []byte) (int, error) {
	used := 0
	need := 2
	for {
		if d.hn >= 2 {
			need = headerLen(d.hdr[0], d.hdr[1])
		}
		if d.hn >= need {
			break
		}
		n := copy(d.hdr[d.hn:need], p[used:])
		d.hn += n
		used += n
		if d.hn < need {
			return used, nil
		}
		if need == 2 {
			if err := d.checkFirst(); err != nil {
				return used, err
			}
		}
	}
	b0, b1 := d.hdr[0], d.hdr[1]
	var length int64
	switch l := b1 & 0x7F; l {
	case 126:
		length = int64(binary.BigEndian.Uint16(d.hdr[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(d.hdr[2:10])
		if u>>63 != 0 {
			return used, protocolError("frame length has its most significant bit set")
		}
		length = int64(u)
	default:
		length = int64(l)
	}
	d.masked = b1&maskBit != 0
	if d.masked {
		copy(d.mask[:], d.hdr[need-4:need])
	}
	d.hn = 0
	d.op = b0 & 0x0F
	d.fin = b0&finBit != 0
	d.left = length
	d.mpos = 0
	if isControl(d.op) {
		if length > MaxControlPayload {
			return used, protocolError("control frame payload over 125 bytes")
		}
		d.ctlLen = 0
		d.inFrame = true
		return used, nil
	}
	if d.MaxMessage > 0 && d.msgLen+length > d.MaxMessage {
		return used, &CloseError{Code: CloseMessageTooBig,
			Text: fmt.Sprintf("message over the %d byte limit", d.MaxMessage)}
	}
	d.msgLen += length
	d.inFrame = true
	return used, nil
}

// checkFirst validates the first two header bytes, which say everything
// but the length and the mask.
func (d *Decoder) checkFirst() error {
	b0, b1 := d.hdr[0], d.hdr[1]
	op := b0 & 0x0F
	if b0&(rsv2Bit|rsv3Bit) != 0 {
		return protocolError("reserved bits RSV2/RSV3 set")
	}
	switch masked := b1&maskBit != 0; {
	case d.Client && masked:
		return protocolError("server frame masked")
	case !d.Client && !masked:
		return protocolError("client frame not masked")
	}
	rsv1 := b0&rsv1Bit != 0
	switch op {
	case OpClose, OpPing, OpPong:
		switch {
		case b0&finBit == 0:
			return protocolError("fragmented control frame")
		case rsv1:
			return protocolError("compressed control frame")
		}
	case OpContinuation:
		if d.msgOp == 0 {
			return protocolError("continuation frame without a message to continue")
		}
		if rsv1 {
			return protocolError("RSV1 set on a continuation frame")
		}
	case OpText, OpBinary:
		if d.msgOp != 0 {
			return protocolError("new data frame inside a fragmented message")
		}
		if rsv1 && !d.Compression {
			return protocolError("RSV1 set without a negotiated extension")
		}
		if op == OpText && d.BinaryOnly {
			return &CloseError{Code: CloseUnsupportedData, Text: "text frames are not allowed: send binary frames"}
		}
		d.msgOp, d.msgComp, d.msgLen = op, rsv1, 0
	default:
		return protocolError(fmt.Sprintf("reserved opcode 0x%X", op))
	}
	return nil
}

// headerLen is a header's length given its first two bytes. The decoder
// has refused a frame masked the wrong way for its side before this
// matters.
func headerLen(_, b1 byte) int {
	n := 2
	if b1&maskBit != 0 {
		n += 4
	}
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

func isControl(op byte) bool { return op&0x8 != 0 }

// endFrame finishes the current frame, whose last payload piece is chunk
// (data frames). ok is false for a data frame that completes nothing
// worth reporting (an empty, non-final fragment).
func (d *Decoder) endFrame(chunk []byte) (Event, bool, error) {
	d.inFrame = false
	if isControl(d.op) {
		ev := Event{Kind: Control, Op: d.op, Final: true, Payload: d.ctl[:d.ctlLen]}
		if d.op == OpClose {
			if _, _, err := ParseClose(ev.Payload); err != nil {
				return Event{}, true, err
			}
		}
		return ev, true, nil
	}
	ev := Event{Kind: Data, Op: d.msgOp, Compressed: d.msgComp, Final: d.fin, Payload: chunk}
	if d.fin {
		d.msgOp, d.msgComp, d.msgLen = 0, false, 0
	} else if len(chunk) == 0 {
		return Event{}, false, nil
	}
	return ev, true, nil
}

// unmask XORs b with the frame's mask, continuing from where the last
// piece of the payload stopped; a server's frames have none.
func (d *Decoder) unmask(b []byte) {
	if d.masked {
		d.mpos = Mask(d.mask, d.mpos, b)
	}
}

// Mask XORs b in place with the 4-byte key starting at key offset pos and
// returns the offset after b. It works a word at a time.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Align to the key, byte by byte, then 8 bytes at a time.
	for len(b) > 0 && pos != 0 {
		b[0] ^= key[pos]
		b = b[1:]
		pos = (pos + 1) & 3
	}
	if len(b) >= 8 {
		k32 := binary.LittleEndian.Uint32(key[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for len(b) >= 8 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}

// ParseClose reads a close frame's payload: no payload is CloseNoStatus;
// otherwise a valid status code and a UTF-8 reason (§5.5.1, §7.4).
func ParseClose(p []byte) (code int, reason string, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", protocolError("close frame payload of one byte")
	}
	code = int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, "", protocolError(fmt.Sprintf("invalid close status %d", code))
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", &CloseError{Code: CloseInvalidPayload, Text: "close reason is not UTF-8"}
	}
	return code, string(p[2:]), nil
}

// validCloseCode reports whether a peer may send code (§7.4.1, §7.4.2 and
// the IANA registry).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// AppendHeader appends the header of a server frame (unmasked) with the
// given opcode, FIN and RSV1 bits and payload length.
func AppendHeader(b []byte, op byte, fin, rsv1 bool, n int) []byte {
	return appendHeader(b, op, fin, rsv1, n, 0)
}

// AppendMaskedHeader appends the header of a client frame: as AppendHeader,
// with the mask bit and key. The caller masks the payload with Mask(key,
// 0, payload); a client picks a fresh, unpredictable key for every frame
// (RFC 6455 §5.3).
func AppendMaskedHeader(b []byte, op byte, fin, rsv1 bool, n int, key [4]byte) []byte {
	b = appendHeader(b, op, fin, rsv1, n, maskBit)
	return append(b, key[:]...)
}

func appendHeader(b []byte, op byte, fin, rsv1 bool, n int, mask byte) []byte {
	b0 := op
	if fin {
		b0 |= finBit
	}
	if rsv1 {
		b0 |= rsv1Bit
	}
	switch {
	case n <= 125:
		return append(b, b0, mask|byte(n))
	case n <= 0xFFFF:
		return append(b, b0, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, mask|127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// AppendClose appends a whole close frame with code and reason, the reason
// cut to fit the 125-byte control payload (at a rune boundary).
func AppendClose(b []byte, code int, reason string) []byte {
	reason = closeReason(reason)
	b = AppendHeader(b, OpClose, true, false, 2+len(reason))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}

// AppendMaskedClose is AppendClose for a client: masked with key.
func AppendMaskedClose(b []byte, code int, reason string, key [4]byte) []byte {
	reason = closeReason(reason)
	b = AppendMaskedHeader(b, OpClose, true, false, 2+len(reason), key)
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	b = append(b, reason...)
	Mask(key, 0, b[start:])
	return b
}

// closeReason cuts reason to what fits a close frame beside its status.
func closeReason(reason string) string {
	if len(reason) > MaxControlPayload-2 {
		cut := MaxControlPayload - 2
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	return reason
}

// AppendControl appends a whole ping, pong or close frame with payload p
// (at most 125 bytes; longer is cut).
func AppendControl(b []byte, op byte, p []byte) []byte {
	if len(p) > MaxControlPayload {
		p = p[:MaxControlPayload]
	}
	b = AppendHeader(b, op, true, false, len(p))
	return append(b, p...)
}

// AppendMaskedControl is AppendControl for a client: masked with key; p
// is not changed.
func AppendMaskedControl(b []byte, op byte, p []byte, key [4]byte) []byte {
	if len(p) > MaxControlPayload {
		p = p[:MaxControlPayload]
	}
	b = AppendMaskedHeader(b, op, true, false, len(p), key)
	start := len(b)
	b = append(b, p...)
	Mask(key, 0, b[start:])
	return b
}
