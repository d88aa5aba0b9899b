package packet

// Packet is implemented by a pointer to every packet struct. A session
// keeps one value of each and decodes into it again and again: decoding
// resets the value but keeps the capacity of its slices.
type Packet interface {
	// Type is the packet's Control Packet type.
	Type() Type
	// Decode parses one whole packet, fixed header included (buf[:h.Len()]
	// after Split reported it complete), for protocol version v.
	Decode(v Version, pkt []byte) error
	// Len is the exact encoded size for version v, fixed header included.
	Len(v Version) int
	// Append encodes the packet for version v onto dst and returns the
	// extended slice; it allocates only if dst must grow.
	Append(dst []byte, v Version) []byte
}

var (
	_ Packet = (*Connect)(nil)
	_ Packet = (*Connack)(nil)
	_ Packet = (*Publish)(nil)
	_ Packet = (*Ack)(nil)
	_ Packet = (*Subscribe)(nil)
	_ Packet = (*Suback)(nil)
	_ Packet = (*Unsubscribe)(nil)
	_ Packet = (*Unsuback)(nil)
	_ Packet = (*Pingreq)(nil)
	_ Packet = (*Pingresp)(nil)
	_ Packet = (*Disconnect)(nil)
	_ Packet = (*Auth)(nil)
)

// New returns a new, empty packet struct for type t, or nil for type 0 and
// values above AUTH. It allocates: sessions keep their own values and use
// New only where that does not matter (tests, tools).
func New(t Type) Packet {
	switch t {
	case CONNECT:
		return &Connect{}
	case CONNACK:
		return &Connack{}
	case PUBLISH:
		return &Publish{}
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return &Ack{PacketType: t}
	case SUBSCRIBE:
		return &Subscribe{}
	case SUBACK:
		return &Suback{}
	case UNSUBSCRIBE:
		return &Unsubscribe{}
	case UNSUBACK:
		return &Unsuback{}
	case PINGREQ:
		return &Pingreq{}
	case PINGRESP:
		return &Pingresp{}
	case DISCONNECT:
		return &Disconnect{}
	case AUTH:
		return &Auth{}
	}
	return nil
}
