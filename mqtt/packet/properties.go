package packet

import (
	"math/bits"
	"unicode/utf8"
)

// PropID is an MQTT 5.0 property identifier (section 2.2.2.2, table 2-4).
type PropID byte

// The property identifiers.
const (
	PropPayloadFormat        PropID = 0x01 // byte: PUBLISH, will
	PropMessageExpiry        PropID = 0x02 // four-byte integer: PUBLISH, will
	PropContentType          PropID = 0x03 // string: PUBLISH, will
	PropResponseTopic        PropID = 0x08 // string: PUBLISH, will
	PropCorrelationData      PropID = 0x09 // binary: PUBLISH, will
	PropSubscriptionID       PropID = 0x0B // variable byte integer: PUBLISH (repeatable), SUBSCRIBE
	PropSessionExpiry        PropID = 0x11 // four-byte integer: CONNECT, CONNACK, DISCONNECT
	PropAssignedClientID     PropID = 0x12 // string: CONNACK
	PropServerKeepAlive      PropID = 0x13 // two-byte integer: CONNACK
	PropAuthMethod           PropID = 0x15 // string: CONNECT, CONNACK, AUTH
	PropAuthData             PropID = 0x16 // binary: CONNECT, CONNACK, AUTH
	PropRequestProblemInfo   PropID = 0x17 // byte: CONNECT
	PropWillDelay            PropID = 0x18 // four-byte integer: will
	PropRequestResponseInfo  PropID = 0x19 // byte: CONNECT
	PropResponseInfo         PropID = 0x1A // string: CONNACK
	PropServerReference      PropID = 0x1C // string: CONNACK, DISCONNECT
	PropReasonString         PropID = 0x1F // string: acks, DISCONNECT, AUTH
	PropReceiveMaximum       PropID = 0x21 // two-byte integer: CONNECT, CONNACK
	PropTopicAliasMaximum    PropID = 0x22 // two-byte integer: CONNECT, CONNACK
	PropTopicAlias           PropID = 0x23 // two-byte integer: PUBLISH
	PropMaximumQoS           PropID = 0x24 // byte: CONNACK
	PropRetainAvailable      PropID = 0x25 // byte: CONNACK
	PropUserProperty         PropID = 0x26 // string pair: every packet with properties (repeatable)
	PropMaximumPacketSize    PropID = 0x27 // four-byte integer: CONNECT, CONNACK
	PropWildcardSubAvailable PropID = 0x28 // byte: CONNACK
	PropSubIDAvailable       PropID = 0x29 // byte: CONNACK
	PropSharedSubAvailable   PropID = 0x2A // byte: CONNACK
)

// WillProperties is the property context of the Will Properties in a
// CONNECT payload. The other contexts are the packet Types; type 0 is
// reserved as a packet type, so it is free to name this one.
const WillProperties Type = 0

type propKind uint8

const (
	kindNone propKind = iota
	kindByte
	kindUint16
	kindUint32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

type propSpec struct {
	kind   propKind
	where  uint16 // bit t set: allowed in context Type t (bit 0: will properties)
	repeat uint16 // bit t set: may appear more than once in context t
}

func in(ts ...Type) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

const allContexts = 1<<WillProperties | 1<<CONNECT | 1<<CONNACK | 1<<PUBLISH | 1<<PUBACK | 1<<PUBREC | 1<<PUBREL |
	1<<PUBCOMP | 1<<SUBSCRIBE | 1<<SUBACK | 1<<UNSUBSCRIBE | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH

const acks = 1<<CONNACK | 1<<PUBACK | 1<<PUBREC | 1<<PUBREL | 1<<PUBCOMP | 1<<SUBACK | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH

// props is table 2-4: the type of each property and the packets that may
// carry it. An identifier missing here, or present but not allowed in the
// packet, makes a Malformed Packet (2.2.2.2).
var props = [256]propSpec{
	PropPayloadFormat:        {kindByte, in(PUBLISH, WillProperties), 0},
	PropMessageExpiry:        {kindUint32, in(PUBLISH, WillProperties), 0},
	PropContentType:          {kindString, in(PUBLISH, WillProperties), 0},
	PropResponseTopic:        {kindString, in(PUBLISH, WillProperties), 0},
	PropCorrelationData:      {kindBinary, in(PUBLISH, WillProperties), 0},
	PropSubscriptionID:       {kindVarInt, in(PUBLISH, SUBSCRIBE), in(PUBLISH)},
	PropSessionExpiry:        {kindUint32, in(CONNECT, CONNACK, DISCONNECT), 0},
	PropAssignedClientID:     {kindString, in(CONNACK), 0},
	PropServerKeepAlive:      {kindUint16, in(CONNACK), 0},
	PropAuthMethod:           {kindString, in(CONNECT, CONNACK, AUTH), 0},
	PropAuthData:             {kindBinary, in(CONNECT, CONNACK, AUTH), 0},
	PropRequestProblemInfo:   {kindByte, in(CONNECT), 0},
	PropWillDelay:            {kindUint32, in(WillProperties), 0},
	PropRequestResponseInfo:  {kindByte, in(CONNECT), 0},
	PropResponseInfo:         {kindString, in(CONNACK), 0},
	PropServerReference:      {kindString, in(CONNACK, DISCONNECT), 0},
	PropReasonString:         {kindString, acks, 0},
	PropReceiveMaximum:       {kindUint16, in(CONNECT, CONNACK), 0},
	PropTopicAliasMaximum:    {kindUint16, in(CONNECT, CONNACK), 0},
	PropTopicAlias:           {kindUint16, in(PUBLISH), 0},
	PropMaximumQoS:           {kindByte, in(CONNACK), 0},
	PropRetainAvailable:      {kindByte, in(CONNACK), 0},
	PropUserProperty:         {kindPair, allContexts, allContexts},
	PropMaximumPacketSize:    {kindUint32, in(CONNECT, CONNACK), 0},
	PropWildcardSubAvailable: {kindByte, in(CONNACK), 0},
	PropSubIDAvailable:       {kindByte, in(CONNACK), 0},
	PropSharedSubAvailable:   {kindByte, in(CONNACK), 0},
}

// Allowed reports whether property id may appear in context t (a packet
// type, or WillProperties).
func Allowed(id PropID, t Type) bool { return t < 16 && props[id].where&(1<<t) != 0 }

// PropMask has bit id set for each single-valued property present.
type PropMask uint64

// UserProperty is one User Property (a UTF-8 string pair).
type UserProperty struct {
	Key, Value []byte
}

// Properties holds every MQTT 5.0 property. A single-valued property is
// present when its bit is set in Present (use Has and Set): absent and zero
// differ for several of them (a Maximum QoS of 0, a DISCONNECT's Session
// Expiry Interval of 0). User properties and subscription identifiers are
// present when their slices are not empty; decoding keeps their order and
// appends into the slices' existing capacity, so a reused Properties value
// decodes without allocating once it has grown.
//
// Byte-slice fields alias the decoded packet (see the package comment).
type Properties struct {
	Present PropMask

	PayloadFormat        byte   // 0x01: 0 unspecified bytes, 1 UTF-8
	MessageExpiry        uint32 // 0x02: seconds
	ContentType          []byte // 0x03
	ResponseTopic        []byte // 0x08
	CorrelationData      []byte // 0x09
	SessionExpiry        uint32 // 0x11: seconds
	AssignedClientID     []byte // 0x12
	ServerKeepAlive      uint16 // 0x13: seconds
	AuthMethod           []byte // 0x15
	AuthData             []byte // 0x16
	RequestProblemInfo   byte   // 0x17: 0 or 1
	WillDelay            uint32 // 0x18: seconds
	RequestResponseInfo  byte   // 0x19: 0 or 1
	ResponseInfo         []byte // 0x1A
	ServerReference      []byte // 0x1C
	ReasonString         []byte // 0x1F
	ReceiveMaximum       uint16 // 0x21: not 0
	TopicAliasMaximum    uint16 // 0x22
	TopicAlias           uint16 // 0x23: not 0
	MaximumQoS           byte   // 0x24: 0 or 1
	RetainAvailable      byte   // 0x25: 0 or 1
	MaximumPacketSize    uint32 // 0x27: not 0
	WildcardSubAvailable byte   // 0x28: 0 or 1
	SubIDAvailable       byte   // 0x29: 0 or 1
	SharedSubAvailable   byte   // 0x2A: 0 or 1

	SubscriptionIDs []uint32       // 0x0B: one in SUBSCRIBE; one per matching subscription in PUBLISH
	User            []UserProperty // 0x26, in packet order
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUserProperty:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return id < 64 && p.Present&(1<<id) != 0
}

// Set marks the single-valued property id as present; set its field too.
// User properties and subscription identifiers are present by being in
// their slices; Set ignores them.
func (p *Properties) Set(id PropID) {
	if id < 64 && id != PropUserProperty && id != PropSubscriptionID {
		p.Present |= 1 << id
	}
}

// Clear marks the single-valued property id as absent.
func (p *Properties) Clear(id PropID) { p.Present &^= 1 << (id & 63) }

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.Present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// Reset clears p but keeps the capacity of its slices.
func (p *Properties) Reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// Decode reads a property block — a Variable Byte Integer length and the
// properties — from the start of b, for context t (a packet type or
// WillProperties), into p, which it resets first. It returns the bytes
// consumed. It enforces: the block fits in b; each identifier is known and
// allowed in t (else Malformed Packet); no single-valued property repeats
// (else Protocol Error); each value has its type (UTF-8 rules for strings)
// and its allowed range (else Protocol Error).
func (p *Properties) Decode(b []byte, t Type) (int, error) {
	r := reader{b: b}
	if err := p.decode(&r, t); err != nil {
		return 0, err
	}
	return r.i, nil
}

func (p *Properties) decode(r *reader, t Type) error {
	p.Reset()
	n, err := r.varInt()
	if err != nil {
		return err
	}
	if int(n) > r.left() {
		return errPropLength
	}
	end := r.i + int(n)
	pr := reader{b: r.b[:end], i: r.i}
	r.i = end
	ctx := uint16(1) << (t & 15)
	for pr.left() > 0 {
		// Identifiers are Variable Byte Integers (2.2.2.2); all defined
		// ones fit in one byte, so a longer one is unknown anyway.
		v, err := pr.varInt()
		if err != nil {
			return err
		}
		if v > 0x7F {
			return errPropUnknown
		}
		id := PropID(v)
		spec := props[id]
		if spec.where&ctx == 0 {
			return errPropUnknown
		}
		if spec.repeat&ctx == 0 && p.Has(id) {
			return errPropRepeated
		}
		if err := p.decodeValue(&pr, id, spec.kind); err != nil {
			return err
		}
		if spec.kind != kindPair && id != PropSubscriptionID {
			p.Set(id)
		}
	}
	return nil
}

func (p *Properties) decodeValue(r *reader, id PropID, kind propKind) error {
	var (
		b8  byte
		u16 uint16
		u32 uint32
		s   []byte
		err error
	)
	switch kind {
	case kindByte:
		b8, err = r.byte()
		if err == nil && b8 > 1 { // every byte property is 0 or 1
			err = errPropValue
		}
	case kindUint16:
		u16, err = r.uint16()
	case kindUint32:
		u32, err = r.uint32()
	case kindVarInt:
		u32, err = r.varInt()
	case kindString:
		s, err = r.str()
	case kindBinary:
		s, err = r.binary()
	case kindPair:
		var k, v []byte
		if k, err = r.str(); err != nil {
			return err
		}
		if v, err = r.str(); err != nil { // [MQTT-1.5.7-1]
			return err
		}
		p.User = append(p.User, UserProperty{Key: k, Value: v})
		return nil
	}
	if err != nil {
		return err
	}
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = b8
	case PropMessageExpiry:
		p.MessageExpiry = u32
	case PropContentType:
		p.ContentType = s
	case PropResponseTopic:
		if hasWildcard(s) { // [MQTT-3.3.2-14]
			return errResponseTopic
		}
		p.ResponseTopic = s
	case PropCorrelationData:
		p.CorrelationData = s
	case PropSubscriptionID:
		if u32 == 0 { // 3.8.2.1.2, 3.3.2.3.8
			return errSubIDZero
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, u32)
	case PropSessionExpiry:
		p.SessionExpiry = u32
	case PropAssignedClientID:
		p.AssignedClientID = s
	case PropServerKeepAlive:
		p.ServerKeepAlive = u16
	case PropAuthMethod:
		p.AuthMethod = s
	case PropAuthData:
		p.AuthData = s
	case PropRequestProblemInfo:
		p.RequestProblemInfo = b8
	case PropWillDelay:
		p.WillDelay = u32
	case PropRequestResponseInfo:
		p.RequestResponseInfo = b8
	case PropResponseInfo:
		p.ResponseInfo = s
	case PropServerReference:
		p.ServerReference = s
	case PropReasonString:
		p.ReasonString = s
	case PropReceiveMaximum:
		if u16 == 0 { // 3.1.2.11.3, 3.2.2.3.3
			return errReceiveMaxZero
		}
		p.ReceiveMaximum = u16
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = u16
	case PropTopicAlias:
		if u16 == 0 { // [MQTT-3.3.2-8]
			return errTopicAliasZero
		}
		p.TopicAlias = u16
	case PropMaximumQoS:
		p.MaximumQoS = b8
	case PropRetainAvailable:
		p.RetainAvailable = b8
	case PropMaximumPacketSize:
		if u32 == 0 { // 3.1.2.11.4, 3.2.2.3.6
			return errMaxPacketZero
		}
		p.MaximumPacketSize = u32
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = b8
	case PropSubIDAvailable:
		p.SubIDAvailable = b8
	case PropSharedSubAvailable:
		p.SharedSubAvailable = b8
	}
	return nil
}

// Len is the size of the encoded property block, its length prefix
// included.
func (p *Properties) Len() int {
	n := p.contentLen()
	return varIntLen(n) + n
}

func (p *Properties) contentLen() int {
	if p.Empty() {
		return 0
	}
	n := 0
	for m := p.Present; m != 0; m &= m - 1 {
		id := PropID(bits.TrailingZeros64(uint64(m)))
		switch props[id].kind {
		case kindByte:
			n += 2
		case kindUint16:
			n += 3
		case kindUint32:
			n += 5
		case kindString, kindBinary:
			n += 1 + strLen(p.bytesOf(id))
		}
	}
	for _, id := range p.SubscriptionIDs {
		n += 1 + varIntLen(int(id))
	}
	for i := range p.User {
		n += 1 + strLen(p.User[i].Key) + strLen(p.User[i].Value)
	}
	return n
}

// Append writes the property block (length and properties) in ascending
// identifier order. It writes what p holds: which properties suit the
// packet is the caller's business (Allowed tells).
func (p *Properties) Append(dst []byte) []byte {
	n := p.contentLen()
	dst = appendVarInt(dst, n)
	if n == 0 {
		return dst
	}
	subIDsDone, userDone := false, false
	for m := p.Present; ; m &= m - 1 {
		id := PropID(64)
		if m != 0 {
			id = PropID(bits.TrailingZeros64(uint64(m)))
		}
		if !subIDsDone && id > PropSubscriptionID {
			for _, v := range p.SubscriptionIDs {
				dst = appendVarInt(append(dst, byte(PropSubscriptionID)), int(v))
			}
			subIDsDone = true
		}
		if !userDone && id > PropUserProperty {
			for i := range p.User {
				dst = append(dst, byte(PropUserProperty))
				dst = appendBinary(dst, p.User[i].Key)
				dst = appendBinary(dst, p.User[i].Value)
			}
			userDone = true
		}
		if m == 0 {
			return dst
		}
		switch props[id].kind {
		case kindByte:
			dst = append(dst, byte(id), p.byteOf(id))
		case kindUint16:
			dst = appendUint16(append(dst, byte(id)), p.uint16Of(id))
		case kindUint32:
			dst = appendUint32(append(dst, byte(id)), p.uint32Of(id))
		case kindString, kindBinary:
			dst = appendBinary(append(dst, byte(id)), p.bytesOf(id))
		}
	}
}

func (p *Properties) byteOf(id PropID) byte {
	switch id {
	case PropPayloadFormat:
		return p.PayloadFormat
	case PropRequestProblemInfo:
		return p.RequestProblemInfo
	case PropRequestResponseInfo:
		return p.RequestResponseInfo
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubAvailable:
		return p.WildcardSubAvailable
	case PropSubIDAvailable:
		return p.SubIDAvailable
	case PropSharedSubAvailable:
		return p.SharedSubAvailable
	}
	return 0
}

func (p *Properties) uint16Of(id PropID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return p.TopicAlias
	}
	return 0
}

func (p *Properties) uint32Of(id PropID) uint32 {
	switch id {
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

func (p *Properties) bytesOf(id PropID) []byte {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropCorrelationData:
		return p.CorrelationData
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropAuthData:
		return p.AuthData
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return nil
}

// CheckPayloadFormat validates payload against a Payload Format Indicator
// of 1 in props (UTF-8 Encoded Character Data, 3.3.2.3.2). The spec lets a
// receiver check it and answer PayloadFormatInvalid (0x99) in the PUBACK,
// PUBREC or DISCONNECT (or the CONNACK for a will); decoders do not call it
// because it reads the whole payload and the answer is not always fatal.
func CheckPayloadFormat(props *Properties, payload []byte) error {
	if !props.Has(PropPayloadFormat) || props.PayloadFormat != 1 {
		return nil
	}
	// Well-formed UTF-8 is all 3.3.2.3.2 asks of a payload: the string
	// rules (no U+0000) are for UTF-8 Encoded Strings, not payloads.
	if !utf8.Valid(payload) {
		return errPayloadFormat
	}
	return nil
}
