package packet

const (
	publishRetain = 0x01
	publishQoS    = 0x06
	publishDup    = 0x08
)

// Publish is a PUBLISH packet (3.3).
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // empty in 5.0 when Props.TopicAlias names it
	PacketID uint16 // QoS 1 and 2 only
	Props    Properties
	Payload  []byte
}

// Type returns PUBLISH.
func (p *Publish) Type() Type { return PUBLISH }

// Decode parses a PUBLISH of version v. It checks the packet alone; the
// session checks what needs its state: the Topic Alias against Topic Alias
// Maximum and its mapping, that a client sends no Subscription Identifier
// [MQTT-3.3.4-6], Receive Maximum, the Payload Format (CheckPayloadFormat).
func (p *Publish) Decode(v Version, pkt []byte) error {
	p.Props.Reset()
	*p = Publish{Props: p.Props}
	flags, body, err := parseHeader(pkt, PUBLISH)
	if err != nil {
		return err
	}
	p.Dup = flags&publishDup != 0
	p.QoS = (flags & publishQoS) >> 1 // 3 was refused by Split [MQTT-3.3.1-4]
	p.Retain = flags&publishRetain != 0
	if p.Dup && p.QoS == 0 { // [MQTT-3.3.1-2]
		return errPublishDupQoS0
	}
	r := reader{b: body}
	if p.Topic, err = r.str(); err != nil { // [MQTT-3.3.2-1]
		return err
	}
	if hasWildcard(p.Topic) { // [MQTT-3.3.2-2]
		return errTopicWildcard
	}
	if p.QoS > 0 { // a QoS 0 PUBLISH has no identifier [MQTT-2.2.1-2]
		if p.PacketID, err = r.uint16(); err != nil {
			return err
		}
		if p.PacketID == 0 { // [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1)
			return errPacketIDZero
		}
	}
	if v == V5 {
		if err := p.Props.decode(&r, PUBLISH); err != nil {
			return err
		}
	}
	if len(p.Topic) == 0 && (v != V5 || !p.Props.Has(PropTopicAlias)) {
		if v == V5 { // 3.3.2.3.4
			return errTopicNoAlias
		}
		return errTopicEmpty // [MQTT-4.7.3-1]
	}
	p.Payload = r.rest()
	return nil
}

func (p *Publish) flags() byte {
	f := (p.QoS & 3) << 1
	if p.Dup {
		f |= publishDup
	}
	if p.Retain {
		f |= publishRetain
	}
	return f
}

func (p *Publish) bodyLen(v Version) int {
	n := strLen(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if v == V5 {
		n += p.Props.Len()
	}
	return n
}

// Len is the size of the encoded packet for version v: compare it with the
// receiver's Maximum Packet Size before sending [MQTT-3.1.2-24].
func (p *Publish) Len(v Version) int { n := p.bodyLen(v); return headerLen(n) + n }

// Append encodes p as a PUBLISH of version v onto dst.
func (p *Publish) Append(dst []byte, v Version) []byte {
	dst = appendHeader(dst, PUBLISH, p.flags(), p.bodyLen(v))
	dst = appendBinary(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Props.Append(dst)
	}
	return append(dst, p.Payload...)
}
