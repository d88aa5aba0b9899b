package packet

// Subscription is one Topic Filter and its Subscription Options (3.8.3).
type Subscription struct {
	Filter            []byte
	QoS               byte // the maximum QoS
	NoLocal           bool // 5.0
	RetainAsPublished bool // 5.0
	RetainHandling    byte // 5.0: 0, 1 or 2
}

func (s *Subscription) options() byte {
	o := s.QoS&subOptionsQoSMask | (s.RetainHandling&3)<<subOptionsRetainHandlingShift
	if s.NoLocal {
		o |= subOptionsNoLocal
	}
	if s.RetainAsPublished {
		o |= subOptionsRetainAsPublished
	}
	return o
}

// Subscribe is a SUBSCRIBE packet (3.8).
type Subscribe struct {
	PacketID uint16
	Props    Properties // 5.0 only: at most one SubscriptionIDs entry
	Filters  []Subscription
}

// Type returns SUBSCRIBE.
func (s *Subscribe) Type() Type { return SUBSCRIBE }

// Decode parses a SUBSCRIBE of version v, appending into s.Filters' own
// capacity. Every filter is checked with CheckTopicFilter.
func (s *Subscribe) Decode(v Version, pkt []byte) error {
	s.Props.Reset()
	s.PacketID, s.Filters = 0, s.Filters[:0]
	_, body, err := parseHeader(pkt, SUBSCRIBE) // flags 0010 [MQTT-3.8.1-1]
	if err != nil {
		return err
	}
	r := reader{b: body}
	if s.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if s.PacketID == 0 { // [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1)
		return errPacketIDZero
	}
	if v == V5 {
		if err := s.Props.decode(&r, SUBSCRIBE); err != nil {
			return err
		}
	}
	if r.left() == 0 { // [MQTT-3.8.3-2] (3.1.1: MQTT-3.8.3-3)
		return errNoFilters
	}
	for r.left() > 0 {
		f, err := r.str() // [MQTT-3.8.3-1]
		if err != nil {
			return err
		}
		if err := CheckTopicFilter(f); err != nil {
			return err
		}
		o, err := r.byte()
		if err != nil {
			return err
		}
		reserved := byte(subOptionsReserved311)
		if v == V5 {
			reserved = subOptionsReserved5
		}
		if o&reserved != 0 { // [MQTT-3.8.3-5] (3.1.1: MQTT-3-8.3-4)
			return errSubOptions
		}
		sub := Subscription{
			Filter:            f,
			QoS:               o & subOptionsQoSMask,
			NoLocal:           o&subOptionsNoLocal != 0,
			RetainAsPublished: o&subOptionsRetainAsPublished != 0,
			RetainHandling:    (o & subOptionsRetainHandlingMask) >> subOptionsRetainHandlingShift,
		}
		if sub.QoS == 3 { // 3.8.3.1 (3.1.1: MQTT-3-8.3-4)
			return errSubQoS3
		}
		if sub.RetainHandling == 3 { // 3.8.3.1
			return errRetainHandling3
		}
		if sub.NoLocal {
			if _, _, shared := SplitShared(f); shared { // [MQTT-3.8.3-4]
				return errShareNoLocal
			}
		}
		s.Filters = append(s.Filters, sub)
	}
	return nil
}

func (s *Subscribe) bodyLen(v Version) int {
	n := 2
	if v == V5 {
		n += s.Props.Len()
	}
	for i := range s.Filters {
		n += strLen(s.Filters[i].Filter) + 1
	}
	return n
}

// Len is the size of the encoded packet for version v.
func (s *Subscribe) Len(v Version) int { n := s.bodyLen(v); return headerLen(n) + n }

// Append encodes s as a SUBSCRIBE of version v onto dst. In 3.1.1 only the
// QoS of each subscription's options is written.
func (s *Subscribe) Append(dst []byte, v Version) []byte {
	dst = appendHeader(dst, SUBSCRIBE, requiredFlags[SUBSCRIBE], s.bodyLen(v))
	dst = appendUint16(dst, s.PacketID)
	if v == V5 {
		dst = s.Props.Append(dst)
	}
	for i := range s.Filters {
		o := s.Filters[i].options()
		if v != V5 {
			o &= subOptionsQoSMask
		}
		dst = append(appendBinary(dst, s.Filters[i].Filter), o)
	}
	return dst
}

// Suback is a SUBACK packet (3.9).
type Suback struct {
	PacketID uint16
	Props    Properties // 5.0 only
	// Codes holds one code per filter, in order: 5.0 reason codes, or
	// 3.1.1 return codes (0, 1, 2, 0x80). Decode aliases the packet.
	Codes []byte
}

// Type returns SUBACK.
func (s *Suback) Type() Type { return SUBACK }

// Decode parses a SUBACK of version v.
func (s *Suback) Decode(v Version, pkt []byte) error {
	return decodeCodesAck(v, pkt, SUBACK, &s.PacketID, &s.Props, &s.Codes)
}

// Len is the size of the encoded packet for version v.
func (s *Suback) Len(v Version) int { n := codesAckLen(v, &s.Props, s.Codes); return headerLen(n) + n }

// Append encodes s as a SUBACK of version v onto dst.
func (s *Suback) Append(dst []byte, v Version) []byte {
	return appendCodesAck(dst, v, SUBACK, s.PacketID, &s.Props, s.Codes)
}

// decodeCodesAck decodes a SUBACK or an UNSUBACK: an identifier, 5.0
// properties and a list of one-byte codes.
func decodeCodesAck(v Version, pkt []byte, t Type, id *uint16, props *Properties, codes *[]byte) error {
	props.Reset()
	*id, *codes = 0, nil
	_, body, err := parseHeader(pkt, t)
	if err != nil {
		return err
	}
	r := reader{b: body}
	*id, _ = r.uint16() // Split guaranteed two bytes
	if *id == 0 {       // [MQTT-2.2.1-3]
		return errPacketIDZero
	}
	if t == UNSUBACK && v != V5 {
		return r.end() // a 3.1.1 UNSUBACK is only the identifier
	}
	if v == V5 {
		if err := props.decode(&r, t); err != nil {
			return err
		}
	}
	list := r.rest()
	if len(list) == 0 {
		return errNoReasonCodes
	}
	var set *reasonSet
	switch {
	case t == UNSUBACK:
		set = &unsubackCodes
	case v == V5:
		set = &subackCodes
	default:
		set = &suback311Codes
	}
	for _, c := range list {
		if !set.has(c) {
			if t == SUBACK && v != V5 {
				return errSuback311Code // [MQTT-3.9.3-2] (3.1.1)
			}
			return errReasonCode
		}
	}
	*codes = list
	return nil
}

func codesAckLen(v Version, props *Properties, codes []byte) int {
	n := 2 + len(codes)
	if v == V5 {
		n += props.Len()
	}
	return n
}

func appendCodesAck(dst []byte, v Version, t Type, id uint16, props *Properties, codes []byte) []byte {
	if t == UNSUBACK && v != V5 {
		return appendUint16(appendHeader(dst, t, 0, 2), id)
	}
	dst = appendHeader(dst, t, 0, codesAckLen(v, props, codes))
	dst = appendUint16(dst, id)
	if v == V5 {
		dst = props.Append(dst)
	}
	return append(dst, codes...)
}
