package packet

import "bytes"

var (
	protocolName   = []byte("MQTT")
	protocolName31 = []byte("MQIsdp")
)

const (
	connectReserved = 0x01
	flagCleanStart  = 0x02
	flagWill        = 0x04
	flagWillQoS     = 0x18
	flagWillRetain  = 0x20
	flagPassword    = 0x40
	flagUsername    = 0x80
)

// Connect is a CONNECT packet (3.1).
type Connect struct {
	// Version is the Protocol Level. Decode sets it as soon as it is read,
	// so it is meaningful even when Decode fails (0 if it never got there);
	// Append ignores it and writes the version it is given.
	Version    Version
	CleanStart bool // Clean Session in 3.1.1
	KeepAlive  uint16
	Props      Properties // 5.0 only
	ClientID   []byte

	Will        bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties // 5.0 only
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// Type returns CONNECT.
func (c *Connect) Type() Type { return CONNECT }

// Decode parses the CONNECT packet pkt (fixed header included) into c. The
// version argument is ignored: a CONNECT carries its own. On error the
// session answers by c.Version and the error's code:
//
//   - c.Version == V5: a CONNACK with err's reason code, then close.
//   - otherwise, if Code.V3ConnackCode() has a 3.1.1 return code
//     (UnsupportedProtocolVersion → 0x01 for levels other than 4 and 5,
//     including 3.1's "MQIsdp"; ClientIdentifierNotValid → 0x02 for an
//     empty client identifier with clean session 0 [MQTT-3.1.3-8]): a
//     3.1.1 CONNACK with that code, then close [MQTT-3.1.2-2].
//   - otherwise close without a CONNACK (a protocol name other than "MQTT"
//     [MQTT-3.1.2-1], or a malformed 3.1.1 CONNECT).
//
// Clean Start / Clean Session, Keep Alive and the rest are the session's.
func (c *Connect) Decode(_ Version, pkt []byte) error {
	c.reset()
	_, body, err := parseHeader(pkt, CONNECT)
	if err != nil {
		return err
	}
	r := reader{b: body}
	name, err := r.binary()
	if err != nil {
		return err
	}
	level, err := r.byte()
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(name, protocolName):
		c.Version = Version(level)
		if c.Version != V311 && c.Version != V5 {
			return errProtocolLevel // [MQTT-3.1.2-2]
		}
	case bytes.Equal(name, protocolName31):
		// 3.1 is refused with the 3.1.1 code 0x01 [MQTT-3.1.2-2].
		c.Version = Version(level)
		return errProtocolLevel
	default:
		return errProtocolName // [MQTT-3.1.2-1]
	}
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags&connectReserved != 0 { // [MQTT-3.1.2-3]
		return errConnectReserved
	}
	c.CleanStart = flags&flagCleanStart != 0
	c.Will = flags&flagWill != 0
	c.WillQoS = (flags & flagWillQoS) >> 3
	c.WillRetain = flags&flagWillRetain != 0
	c.UsernameFlag = flags&flagUsername != 0
	c.PasswordFlag = flags&flagPassword != 0
	if !c.Will {
		if c.WillQoS != 0 { // [MQTT-3.1.2-11] (3.1.1: MQTT-3.1.2-13)
			return errWillQoSNoWill
		}
		if c.WillRetain { // [MQTT-3.1.2-13] (3.1.1: MQTT-3.1.2-15)
			return errWillRetainNoWill
		}
	} else if c.WillQoS == 3 { // [MQTT-3.1.2-12] (3.1.1: MQTT-3.1.2-14)
		return errWillQoS3
	}
	// 5.0 allows a password without a user name (3.1.2.9).
	if c.Version == V311 && c.PasswordFlag && !c.UsernameFlag { // [MQTT-3.1.2-22] (3.1.1)
		return errPasswordNoUser
	}
	if c.KeepAlive, err = r.uint16(); err != nil {
		return err
	}
	if c.Version == V5 {
		if err := c.Props.decode(&r, CONNECT); err != nil {
			return err
		}
		if c.Props.Has(PropAuthData) && !c.Props.Has(PropAuthMethod) { // 3.1.2.11.10
			return errAuthDataNoMethod
		}
	}
	// The payload's order is fixed [MQTT-3.1.3-1]: client identifier, will
	// properties, will topic, will payload, user name, password.
	if c.ClientID, err = r.str(); err != nil { // [MQTT-3.1.3-4]
		return err
	}
	if c.Will {
		if c.Version == V5 {
			if err := c.WillProps.decode(&r, WillProperties); err != nil {
				return err
			}
		}
		if c.WillTopic, err = r.str(); err != nil { // [MQTT-3.1.3-11] (3.1.1: MQTT-3.1.3-10)
			return err
		}
		if err := CheckTopicName(c.WillTopic); err != nil {
			return err
		}
		if c.WillPayload, err = r.binary(); err != nil {
			return err
		}
	}
	if c.UsernameFlag { // [MQTT-3.1.2-17] (3.1.1: MQTT-3.1.2-19)
		if c.Username, err = r.str(); err != nil { // [MQTT-3.1.3-12] (3.1.1: MQTT-3.1.3-11)
			return err
		}
	}
	if c.PasswordFlag { // [MQTT-3.1.2-19] (3.1.1: MQTT-3.1.2-21)
		if c.Password, err = r.binary(); err != nil {
			return err
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	if c.Version == V311 && len(c.ClientID) == 0 && !c.CleanStart { // [MQTT-3.1.3-8] (3.1.1)
		return errClientIDEmpty
	}
	return nil
}

func (c *Connect) reset() {
	*c = Connect{
		Props:     Properties{User: c.Props.User[:0], SubscriptionIDs: c.Props.SubscriptionIDs[:0]},
		WillProps: Properties{User: c.WillProps.User[:0], SubscriptionIDs: c.WillProps.SubscriptionIDs[:0]},
	}
}

func (c *Connect) flags() byte {
	var f byte
	if c.CleanStart {
		f |= flagCleanStart
	}
	if c.Will {
		f |= flagWill | (c.WillQoS&3)<<3
		if c.WillRetain {
			f |= flagWillRetain
		}
	}
	if c.UsernameFlag {
		f |= flagUsername
	}
	if c.PasswordFlag {
		f |= flagPassword
	}
	return f
}

func (c *Connect) bodyLen(v Version) int {
	n := 2 + len(protocolName) + 1 + 1 + 2 + strLen(c.ClientID)
	if v == V5 {
		n += c.Props.Len()
	}
	if c.Will {
		if v == V5 {
			n += c.WillProps.Len()
		}
		n += strLen(c.WillTopic) + strLen(c.WillPayload)
	}
	if c.UsernameFlag {
		n += strLen(c.Username)
	}
	if c.PasswordFlag {
		n += strLen(c.Password)
	}
	return n
}

// Len is the size of the encoded packet for version v.
func (c *Connect) Len(v Version) int { n := c.bodyLen(v); return headerLen(n) + n }

// Append encodes c as a CONNECT of version v (V311 or V5) onto dst.
func (c *Connect) Append(dst []byte, v Version) []byte {
	dst = appendHeader(dst, CONNECT, 0, c.bodyLen(v))
	dst = appendBinary(dst, protocolName)
	dst = append(dst, byte(v), c.flags())
	dst = appendUint16(dst, c.KeepAlive)
	if v == V5 {
		dst = c.Props.Append(dst)
	}
	dst = appendBinary(dst, c.ClientID)
	if c.Will {
		if v == V5 {
			dst = c.WillProps.Append(dst)
		}
		dst = appendBinary(dst, c.WillTopic)
		dst = appendBinary(dst, c.WillPayload)
	}
	if c.UsernameFlag {
		dst = appendBinary(dst, c.Username)
	}
	if c.PasswordFlag {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}
