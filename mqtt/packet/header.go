package packet

import "strconv"

// Type is an MQTT Control Packet type (section 2.1.2).
type Type byte

// The packet types. Type 0 is reserved; AUTH exists only in 5.0.
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [16]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "type " + strconv.Itoa(int(t))
}

// Version is the CONNECT Protocol Level.
type Version byte

const (
	// V31 is MQTT 3.1 (protocol name "MQIsdp"). It is recognised only to
	// be refused: Connect.Decode returns ErrUnsupportedVersion for it, and
	// the session answers with the 3.1.1 CONNACK return code 0x01, which
	// 3.1 clients understand [MQTT-3.1.2-2].
	V31  Version = 3
	V311 Version = 4 // MQTT 3.1.1
	V5   Version = 5 // MQTT 5.0
)

// requiredFlags holds the fixed-header flags every type but PUBLISH must
// carry [MQTT-2.1.3-1] (3.1.1: MQTT-2.2.2-1).
var requiredFlags = [16]byte{PUBREL: 0x02, SUBSCRIBE: 0x02, UNSUBSCRIBE: 0x02}

// FixedHeader is the first two to five bytes of every packet (2.1).
type FixedHeader struct {
	Type      Type
	Flags     byte // the low four bits of the first byte
	Remaining int  // the Remaining Length: bytes after the fixed header
	HeaderLen int  // bytes of the fixed header itself, 2 to 5
}

// Len is the size of the whole packet.
func (h FixedHeader) Len() int { return h.HeaderLen + h.Remaining }

// Split looks at the start of a byte stream for one packet. It does no I/O
// and allocates nothing; a read loop calls it on the bytes it has so far:
//
//   - h.HeaderLen == 0, complete false, err nil: the fixed header itself is
//     not all there yet (fewer than 2 bytes, or a length still continuing);
//     read more.
//   - h filled, complete false: the header is known and h.Len() bytes make
//     the packet; the caller may grow its buffer to exactly h.Len() (which
//     Split has already checked against maxSize) and read more.
//   - complete true: buf[:h.Len()] is the whole packet; decode it with the
//     Decode method of the type's struct and continue at buf[h.Len():].
//
// maxSize bounds the whole packet (fixed header included); 0 means the
// protocol limit. It is checked as soon as the length is known, before the
// body has arrived, so a peer cannot make the server reserve more than
// maxSize — a session should pass a small limit until CONNECT is accepted.
//
// Split rejects, as early as possible: packet type 0, wrong reserved flags
// [MQTT-2.1.3-1], PUBLISH QoS 3 [MQTT-3.3.1-4], a Remaining Length longer
// than four bytes or not minimally encoded [MQTT-1.5.5-1], a packet over
// maxSize (PacketTooLarge), and lengths impossible for the type (a PINGREQ
// with a body, an acknowledgement shorter than its packet identifier), so
// a read loop never waits for bytes that could only be malformed.
func Split(buf []byte, maxSize int) (h FixedHeader, complete bool, err error) {
	if len(buf) == 0 {
		return h, false, nil
	}
	// The first byte alone can be refused.
	if err := checkHeader(Type(buf[0]>>4), buf[0]&0x0F); err != nil {
		return FixedHeader{}, false, err
	}
	if len(buf) < 2 {
		return h, false, nil
	}
	h.Type = Type(buf[0] >> 4)
	h.Flags = buf[0] & 0x0F
	rl, n, err := decodeVarInt(buf[1:])
	if err != nil {
		return FixedHeader{}, false, err
	}
	if n == 0 {
		return FixedHeader{}, false, nil
	}
	h.Remaining = int(rl)
	h.HeaderLen = 1 + n
	if maxSize <= 0 || maxSize > MaxPacketSize {
		maxSize = MaxPacketSize
	}
	if h.Len() > maxSize {
		return FixedHeader{}, false, errTooLarge
	}
	if err := checkRemaining(h.Type, h.Remaining); err != nil {
		return FixedHeader{}, false, err
	}
	return h, len(buf) >= h.Len(), nil
}

// checkHeader validates the first byte of a packet.
func checkHeader(t Type, flags byte) error {
	switch {
	case t == 0:
		return errPacketType
	case t == PUBLISH:
		if flags&0x06 == 0x06 { // [MQTT-3.3.1-4]
			return errPublishQoS3
		}
	case flags != requiredFlags[t]: // [MQTT-2.1.3-1]
		return errFlags
	}
	return nil
}

// checkRemaining refuses remaining lengths no version allows for the type.
func checkRemaining(t Type, rl int) error {
	switch t {
	case PINGREQ, PINGRESP:
		if rl != 0 {
			return errRemainingLength
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, CONNACK:
		if rl < 2 {
			return errRemainingLength
		}
	case SUBSCRIBE:
		if rl < 3 { // a packet identifier and no payload [MQTT-3.8.3-2] (3.1.1: MQTT-3.8.3-3)
			return errNoFilters
		}
	case UNSUBSCRIBE:
		if rl < 3 { // a packet identifier and no payload [MQTT-3.10.3-2]
			return errNoUnsubFilters
		}
	case SUBACK:
		if rl < 3 { // a packet identifier and no codes
			return errNoReasonCodes
		}
	case CONNECT:
		if rl < 12 { // "MQTT", level, flags, keep alive and a client identifier length
			return errRemainingLength
		}
	case PUBLISH:
		if rl < 2 { // a topic length
			return errRemainingLength
		}
	}
	return nil
}

// parseHeader checks that pkt holds exactly one packet of type t and
// returns its flags and body. Decoders start with it, so they are safe to
// call on any bytes, not only on what Split returned.
func parseHeader(pkt []byte, t Type) (flags byte, body []byte, err error) {
	h, complete, err := Split(pkt, 0)
	if err != nil {
		return 0, nil, err
	}
	if !complete {
		return 0, nil, errShort
	}
	if h.Type != t {
		return 0, nil, errTypeMismatch
	}
	if h.Len() != len(pkt) {
		return 0, nil, errTrailing
	}
	return h.Flags, pkt[h.HeaderLen:len(pkt):len(pkt)], nil
}

// appendHeader writes a fixed header.
func appendHeader(dst []byte, t Type, flags byte, remaining int) []byte {
	dst = append(dst, byte(t)<<4|flags)
	return appendVarInt(dst, remaining)
}

// headerLen is the size of a fixed header for a body of remaining bytes.
func headerLen(remaining int) int { return 1 + varIntLen(remaining) }
