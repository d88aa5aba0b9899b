package packet

// Connack is a CONNACK packet (3.2).
type Connack struct {
	SessionPresent bool
	// Code is the byte on the wire: a 5.0 reason code, or in 3.1.1 a
	// return code 0-5 (see ReasonCode.V3ConnackCode).
	Code  ReasonCode
	Props Properties // 5.0 only
}

// Type returns CONNACK.
func (c *Connack) Type() Type { return CONNACK }

// Decode parses a CONNACK of version v.
func (c *Connack) Decode(v Version, pkt []byte) error {
	c.Props.Reset()
	c.SessionPresent, c.Code = false, 0
	_, body, err := parseHeader(pkt, CONNACK)
	if err != nil {
		return err
	}
	r := reader{b: body}
	ackFlags, _ := r.byte() // Split guaranteed two bytes
	code, _ := r.byte()
	if ackFlags&connackReservedFlags != 0 { // [MQTT-3.2.2-1]
		return errConnackFlags
	}
	c.SessionPresent = ackFlags&connackSessionPresent != 0
	c.Code = ReasonCode(code)
	if v == V5 {
		if !connackCodes.has(code) {
			return errReasonCode
		}
		if err := c.Props.decode(&r, CONNACK); err != nil {
			return err
		}
	} else if code > maxConnackReturnCode311 {
		return errReturnCode311
	}
	if c.SessionPresent && code != 0 { // [MQTT-3.2.2-6] (3.1.1: MQTT-3.2.2-4)
		return errConnackPresent
	}
	return r.end()
}

func (c *Connack) bodyLen(v Version) int {
	if v == V5 {
		return 2 + c.Props.Len()
	}
	return 2
}

// Len is the size of the encoded packet for version v.
func (c *Connack) Len(v Version) int { n := c.bodyLen(v); return headerLen(n) + n }

// Append encodes c as a CONNACK of version v onto dst.
func (c *Connack) Append(dst []byte, v Version) []byte {
	dst = appendHeader(dst, CONNACK, 0, c.bodyLen(v))
	var f byte
	if c.SessionPresent {
		f = connackSessionPresent
	}
	dst = append(dst, f, byte(c.Code))
	if v == V5 {
		dst = c.Props.Append(dst)
	}
	return dst
}
