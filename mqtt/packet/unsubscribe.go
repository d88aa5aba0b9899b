package packet

// Unsubscribe is an UNSUBSCRIBE packet (3.10).
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // 5.0 only
	Filters  [][]byte
}

// Type returns UNSUBSCRIBE.
func (u *Unsubscribe) Type() Type { return UNSUBSCRIBE }

// Decode parses an UNSUBSCRIBE of version v, appending into u.Filters' own
// capacity. Every filter is checked with CheckTopicFilter.
func (u *Unsubscribe) Decode(v Version, pkt []byte) error {
	u.Props.Reset()
	u.PacketID, u.Filters = 0, u.Filters[:0]
	_, body, err := parseHeader(pkt, UNSUBSCRIBE) // flags 0010 [MQTT-3.10.1-1]
	if err != nil {
		return err
	}
	r := reader{b: body}
	if u.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if u.PacketID == 0 { // [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1)
		return errPacketIDZero
	}
	if v == V5 {
		if err := u.Props.decode(&r, UNSUBSCRIBE); err != nil {
			return err
		}
	}
	if r.left() == 0 { // [MQTT-3.10.3-2]
		return errNoUnsubFilters
	}
	for r.left() > 0 {
		f, err := r.str() // [MQTT-3.10.3-1]
		if err != nil {
			return err
		}
		if err := CheckTopicFilter(f); err != nil {
			return err
		}
		u.Filters = append(u.Filters, f)
	}
	return nil
}

func (u *Unsubscribe) bodyLen(v Version) int {
	n := 2
	if v == V5 {
		n += u.Props.Len()
	}
	for _, f := range u.Filters {
		n += strLen(f)
	}
	return n
}

// Len is the size of the encoded packet for version v.
func (u *Unsubscribe) Len(v Version) int { n := u.bodyLen(v); return headerLen(n) + n }

// Append encodes u as an UNSUBSCRIBE of version v onto dst.
func (u *Unsubscribe) Append(dst []byte, v Version) []byte {
	dst = appendHeader(dst, UNSUBSCRIBE, requiredFlags[UNSUBSCRIBE], u.bodyLen(v))
	dst = appendUint16(dst, u.PacketID)
	if v == V5 {
		dst = u.Props.Append(dst)
	}
	for _, f := range u.Filters {
		dst = appendBinary(dst, f)
	}
	return dst
}

// Unsuback is an UNSUBACK packet (3.11).
type Unsuback struct {
	PacketID uint16
	Props    Properties // 5.0 only
	Codes    []byte     // 5.0 only: one reason code per filter; aliases the packet
}

// Type returns UNSUBACK.
func (u *Unsuback) Type() Type { return UNSUBACK }

// Decode parses an UNSUBACK of version v.
func (u *Unsuback) Decode(v Version, pkt []byte) error {
	return decodeCodesAck(v, pkt, UNSUBACK, &u.PacketID, &u.Props, &u.Codes)
}

// Len is the size of the encoded packet for version v.
func (u *Unsuback) Len(v Version) int {
	if v != V5 {
		return 4
	}
	n := codesAckLen(v, &u.Props, u.Codes)
	return headerLen(n) + n
}

// Append encodes u as an UNSUBACK of version v onto dst (3.1.1: the
// identifier only).
func (u *Unsuback) Append(dst []byte, v Version) []byte {
	return appendCodesAck(dst, v, UNSUBACK, u.PacketID, &u.Props, u.Codes)
}
