package packet

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet (3.4-3.7): they share
// one shape, a packet identifier and, in 5.0, a reason code and properties.
type Ack struct {
	PacketType Type // PUBACK, PUBREC, PUBREL or PUBCOMP
	PacketID   uint16
	Code       ReasonCode // 5.0 only
	Props      Properties // 5.0 only
}

// Type returns a.PacketType.
func (a *Ack) Type() Type { return a.PacketType }

// Decode parses a PUBACK, PUBREC, PUBREL or PUBCOMP of version v, setting
// a.PacketType from the packet.
func (a *Ack) Decode(v Version, pkt []byte) error {
	a.Props.Reset()
	a.PacketID, a.Code = 0, 0
	if len(pkt) == 0 {
		return errShort
	}
	t := Type(pkt[0] >> 4)
	if t < PUBACK || t > PUBCOMP {
		return errTypeMismatch
	}
	a.PacketType = t
	_, body, err := parseHeader(pkt, t) // PUBREL's flags 0010 [MQTT-3.6.1-1]
	if err != nil {
		return err
	}
	r := reader{b: body}
	a.PacketID, _ = r.uint16() // Split guaranteed two bytes
	if a.PacketID == 0 {       // [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1)
		return errPacketIDZero
	}
	if v != V5 {
		return r.end() // 3.1.1: the identifier is all there is
	}
	// 5.0: the reason code may be left out when 0 and the property length
	// when there are no properties (3.4.2.1, 3.4.2.2).
	if r.left() == 0 {
		return nil
	}
	code, _ := r.byte()
	a.Code = ReasonCode(code)
	set := &pubackCodes
	if t == PUBREL || t == PUBCOMP {
		set = &pubrelCodes
	}
	if !set.has(code) {
		return errReasonCode
	}
	if r.left() == 0 {
		return nil
	}
	if err := a.Props.decode(&r, t); err != nil {
		return err
	}
	return r.end()
}

func (a *Ack) bodyLen(v Version) int {
	switch {
	case v != V5:
		return 2
	case !a.Props.Empty():
		return 3 + a.Props.Len()
	case a.Code != Success:
		return 3
	}
	return 2
}

// Len is the size of the encoded packet for version v.
func (a *Ack) Len(v Version) int { n := a.bodyLen(v); return headerLen(n) + n }

// Append encodes a onto dst in the shortest form version v allows.
func (a *Ack) Append(dst []byte, v Version) []byte {
	n := a.bodyLen(v)
	dst = appendHeader(dst, a.PacketType, requiredFlags[a.PacketType&15], n)
	dst = appendUint16(dst, a.PacketID)
	if n > 2 {
		dst = append(dst, byte(a.Code))
	}
	if n > 3 {
		dst = a.Props.Append(dst)
	}
	return dst
}
