package packet

// Pingreq is a PINGREQ packet (3.12): a fixed header and nothing else.
type Pingreq struct{}

// Type returns PINGREQ.
func (*Pingreq) Type() Type { return PINGREQ }

// Decode checks that pkt is a PINGREQ.
func (*Pingreq) Decode(_ Version, pkt []byte) error {
	_, _, err := parseHeader(pkt, PINGREQ)
	return err
}

// Len is 2.
func (*Pingreq) Len(Version) int { return 2 }

// Append writes a PINGREQ onto dst.
func (*Pingreq) Append(dst []byte, _ Version) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// Pingresp is a PINGRESP packet (3.13): a fixed header and nothing else.
type Pingresp struct{}

// Type returns PINGRESP.
func (*Pingresp) Type() Type { return PINGRESP }

// Decode checks that pkt is a PINGRESP.
func (*Pingresp) Decode(_ Version, pkt []byte) error {
	_, _, err := parseHeader(pkt, PINGRESP)
	return err
}

// Len is 2.
func (*Pingresp) Len(Version) int { return 2 }

// Append writes a PINGRESP onto dst.
func (*Pingresp) Append(dst []byte, _ Version) []byte { return append(dst, byte(PINGRESP)<<4, 0) }

// Disconnect is a DISCONNECT packet (3.14). In 3.1.1 it has no contents.
type Disconnect struct {
	Code  ReasonCode // 5.0 only
	Props Properties // 5.0 only
}

// Type returns DISCONNECT.
func (d *Disconnect) Type() Type { return DISCONNECT }

// Decode parses a DISCONNECT of version v. The session checks that a
// client's Session Expiry Interval does not go from 0 to non-zero
// (3.14.2.2.2) and that a client sends no Server Reference.
func (d *Disconnect) Decode(v Version, pkt []byte) error {
	return decodeCodeProps(v, pkt, DISCONNECT, &d.Code, &d.Props)
}

// Len is the size of the encoded packet for version v.
func (d *Disconnect) Len(v Version) int {
	n := codePropsLen(v, DISCONNECT, d.Code, &d.Props)
	return headerLen(n) + n
}

// Append encodes d onto dst in the shortest form version v allows.
func (d *Disconnect) Append(dst []byte, v Version) []byte {
	return appendCodeProps(dst, v, DISCONNECT, d.Code, &d.Props)
}

// Auth is an AUTH packet (3.15), 5.0 only.
type Auth struct {
	Code  ReasonCode // Success, ContinueAuthentication or ReAuthenticate
	Props Properties // carries the Authentication Method and Data
}

// Type returns AUTH.
func (a *Auth) Type() Type { return AUTH }

// Decode parses an AUTH of version v; in 3.1.1 packet type 15 is reserved and Decode
// reports a Malformed Packet.
func (a *Auth) Decode(v Version, pkt []byte) error {
	if v != V5 {
		a.Code = 0
		a.Props.Reset()
		return errAuth311
	}
	// An AUTH must repeat the CONNECT's Authentication Method
	// (3.15.2.2.2); the session compares the two, which also refuses an
	// AUTH without one, so the codec accepts what paho.golang writes for
	// a bare Success (a reason code and an empty property block).
	return decodeCodeProps(v, pkt, AUTH, &a.Code, &a.Props)
}

// Len is the size of the encoded packet.
func (a *Auth) Len(v Version) int {
	n := codePropsLen(V5, AUTH, a.Code, &a.Props)
	return headerLen(n) + n
}

// Append encodes a onto dst (always as 5.0: AUTH exists only there).
func (a *Auth) Append(dst []byte, _ Version) []byte {
	return appendCodeProps(dst, V5, AUTH, a.Code, &a.Props)
}

// decodeCodeProps decodes a DISCONNECT or an AUTH: in 5.0 an optional
// reason code and optional properties (3.14.2.1, 3.15.2.1).
func decodeCodeProps(v Version, pkt []byte, t Type, code *ReasonCode, props *Properties) error {
	*code = 0
	props.Reset()
	_, body, err := parseHeader(pkt, t)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if v != V5 {
		return r.end() // 3.1.1: no variable header
	}
	if r.left() == 0 {
		return nil
	}
	c, _ := r.byte()
	*code = ReasonCode(c)
	set := &disconnectCodes
	if t == AUTH {
		set = &authCodes
	}
	if !set.has(c) {
		return errReasonCode
	}
	if r.left() == 0 {
		return nil
	}
	if err := props.decode(&r, t); err != nil {
		return err
	}
	return r.end()
}

// codePropsLen is the remaining length of a DISCONNECT or AUTH. The spec
// lets both leave out a Success code when there are no properties; only
// AUTH does here, because paho.golang (v0.23.0) fails to read a DISCONNECT
// without a reason code, and one byte is a small price for every client
// seeing a normal disconnection as one.
func codePropsLen(v Version, t Type, code ReasonCode, props *Properties) int {
	switch {
	case v != V5:
		return 0
	case !props.Empty():
		return 1 + props.Len()
	case code != 0 || t == DISCONNECT:
		return 1
	}
	return 0
}

func appendCodeProps(dst []byte, v Version, t Type, code ReasonCode, props *Properties) []byte {
	n := codePropsLen(v, t, code, props)
	dst = appendHeader(dst, t, 0, n)
	if n > 0 {
		dst = append(dst, byte(code))
	}
	if n > 1 {
		dst = props.Append(dst)
	}
	return dst
}
