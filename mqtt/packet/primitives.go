package packet

import (
	"bytes"
	"unicode/utf8"
)

// Limits of the data representations (section 1.5).
const (
	// MaxVarInt is the largest Variable Byte Integer (1.5.5), so also the
	// largest Remaining Length and Subscription Identifier.
	MaxVarInt = 268435455
	// MaxString is the longest UTF-8 Encoded String or Binary Data (1.5.4,
	// 1.5.6): its length is a two-byte integer.
	MaxString = 65535
	// MaxPacketSize is the largest packet the protocol can express: one
	// type byte, four length bytes and MaxVarInt bytes.
	MaxPacketSize = 1 + 4 + MaxVarInt
)

// reader walks the body of one packet. Every read checks the bounds first;
// nothing is copied: strings and binary data are sub-slices of b.
type reader struct {
	b []byte
	i int
}

func (r *reader) left() int { return len(r.b) - r.i }

func (r *reader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errShort
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *reader) uint16() (uint16, error) {
	if len(r.b)-r.i < 2 {
		return 0, errShort
	}
	v := uint16(r.b[r.i])<<8 | uint16(r.b[r.i+1])
	r.i += 2
	return v, nil
}

func (r *reader) uint32() (uint32, error) {
	if len(r.b)-r.i < 4 {
		return 0, errShort
	}
	b := r.b[r.i : r.i+4]
	r.i += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// varInt reads a Variable Byte Integer (1.5.5).
func (r *reader) varInt() (uint32, error) {
	v, n, err := decodeVarInt(r.b[r.i:])
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errShort
	}
	r.i += n
	return v, nil
}

// binary reads Binary Data (1.5.6): a two-byte length and that many bytes.
// The length is checked against what is left of the packet, which the frame
// splitter already bounded by the maximum packet size, so a forged length
// can never make anyone allocate.
func (r *reader) binary() ([]byte, error) {
	n, err := r.uint16()
	if err != nil {
		return nil, err
	}
	if int(n) > len(r.b)-r.i {
		return nil, errShort
	}
	b := r.b[r.i : r.i+int(n) : r.i+int(n)]
	r.i += int(n)
	return b, nil
}

// str reads a UTF-8 Encoded String (1.5.4) and validates it.
func (r *reader) str() ([]byte, error) {
	b, err := r.binary()
	if err != nil {
		return nil, err
	}
	if err := checkUTF8(b); err != nil {
		return nil, err
	}
	return b, nil
}

// rest returns everything left, capacity-capped so an append by the caller
// can never write into the bytes of a following packet.
func (r *reader) rest() []byte {
	b := r.b[r.i:len(r.b):len(r.b)]
	r.i = len(r.b)
	return b
}

func (r *reader) end() error {
	if r.i != len(r.b) {
		return errTrailing
	}
	return nil
}

// decodeVarInt decodes a Variable Byte Integer from the start of b. n is 0
// when b ends before the integer does (more bytes are needed). A fifth byte
// or a longer-than-needed encoding is malformed [MQTT-1.5.5-1].
func decodeVarInt(b []byte) (v uint32, n int, err error) {
	var shift uint
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, nil
		}
		c := b[i]
		v |= uint32(c&0x7F) << shift
		if c&0x80 == 0 {
			// [MQTT-1.5.5-1] minimal encoding: a last byte of 0 after
			// other bytes means a shorter encoding existed.
			if i > 0 && c == 0 {
				return 0, 0, errVBI
			}
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errVBI
}

// varIntLen is the number of bytes the Variable Byte Integer v takes.
func varIntLen(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

func appendVarInt(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendBinary writes a two-byte length and b. The caller keeps b within
// MaxString; longer input is a programming error and is cut at MaxString
// so the packet stays well-formed rather than silently misframed.
func appendBinary(dst, b []byte) []byte {
	if len(b) > MaxString {
		b = b[:MaxString]
	}
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// strLen is the encoded size of a string or binary field.
func strLen(b []byte) int { return 2 + min(len(b), MaxString) }

// checkUTF8 enforces the rules for UTF-8 Encoded Strings: well-formed, no
// surrogate code points [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]
// (3.1.1: MQTT-1.5.3-1, MQTT-1.5.3-2). A BOM (EF BB BF) is kept as the
// character U+FEFF [MQTT-1.5.4-3]: nothing is stripped because nothing is
// copied. Control characters and noncharacters, which the spec says SHOULD
// NOT be sent and a receiver MAY treat as malformed, are accepted: they are
// well-formed strings, and the topic mapping refuses what NATS cannot carry.
func checkUTF8(b []byte) error {
	for i, c := range b {
		if c == 0 {
			return errNUL
		}
		if c >= utf8.RuneSelf {
			rest := b[i:]
			// utf8.Valid refuses surrogates, overlong forms and
			// code points above U+10FFFF.
			if !utf8.Valid(rest) {
				return errUTF8
			}
			if bytes.IndexByte(rest, 0) >= 0 {
				return errNUL
			}
			return nil
		}
	}
	return nil
}

// ValidUTF8 reports whether b is a valid MQTT UTF-8 Encoded String (the
// checks of the decoders; see checkUTF8 for what is accepted).
func ValidUTF8(b []byte) bool { return len(b) <= MaxString && checkUTF8(b) == nil }
