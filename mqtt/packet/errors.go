package packet

// Error is every error the decoders return. Code is the MQTT 5.0 reason
// code to close the connection with (in a CONNACK while the CONNECT is being
// handled, otherwise in a DISCONNECT); a 3.1.1 session just closes the
// connection, except for the CONNACK codes described on Connect.Decode.
// Rule names the normative statement the packet broke, in MQTT 5.0
// numbering (3.1.1's number follows in the Text where it differs).
//
// Decoders return shared, preallocated *Error values: never modify one.
type Error struct {
	Code ReasonCode
	Rule string // a normative statement ("MQTT-3.1.2-3") or, where none is numbered, the section ("§3.8.3.1")
	Text string
}

func (e *Error) Error() string {
	s := "mqtt: " + e.Code.String() + ": " + e.Text
	if e.Rule != "" {
		s += " (" + e.Rule + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrMalformed) (and the other Err values below)
// true for every error carrying that reason code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Rule == "" && t.Text == "" && t.Code == e.Code
}

// Sentinels for errors.Is: each matches every *Error with its code.
var (
	ErrMalformed          = &Error{Code: MalformedPacket}
	ErrProtocol           = &Error{Code: ProtocolError}
	ErrTooLarge           = &Error{Code: PacketTooLarge}
	ErrUnsupportedVersion = &Error{Code: UnsupportedProtocolVersion}
	ErrClientID           = &Error{Code: ClientIdentifierNotValid}
	ErrPayloadFormat      = &Error{Code: PayloadFormatInvalid}
)

func malformed(rule, text string) *Error {
	return &Error{Code: MalformedPacket, Rule: rule, Text: text}
}
func protocol(rule, text string) *Error { return &Error{Code: ProtocolError, Rule: rule, Text: text} }

// The decoders' errors, one per check, allocated once.
var (
	errShort            = malformed("", "packet shorter than its contents")
	errTrailing         = malformed("", "bytes after the end of the packet's contents")
	errVBI              = malformed("MQTT-1.5.5-1", "variable byte integer longer than 4 bytes or not minimal")
	errPacketType       = malformed("§2.1.2", "reserved packet type 0")
	errFlags            = malformed("MQTT-2.1.3-1", "reserved fixed header flags have the wrong value (3.1.1: MQTT-2.2.2-1, MQTT-2.2.2-2)")
	errTooLarge         = &Error{Code: PacketTooLarge, Rule: "§3.2.2.3.6", Text: "packet larger than the maximum packet size"}
	errTypeMismatch     = malformed("", "decoder called with another packet type")
	errAuth311          = malformed("MQTT-2.2.2-2", "AUTH packet in MQTT 3.1.1, where packet type 15 is reserved (3.1.1 numbering)")
	errUTF8             = malformed("MQTT-1.5.4-1", "string is not well-formed UTF-8 or encodes a surrogate (3.1.1: MQTT-1.5.3-1)")
	errNUL              = malformed("MQTT-1.5.4-2", "string contains U+0000 (3.1.1: MQTT-1.5.3-2)")
	errPacketIDZero     = malformed("MQTT-2.2.1-3", "packet identifier 0 (3.1.1: MQTT-2.3.1-1)")
	errRemainingLength  = malformed("", "remaining length wrong for this packet type")
	errReasonCode       = malformed("§2.4", "reason code not allowed in this packet")
	errReturnCode311    = malformed("§3.2.2.3", "CONNACK return code above 5 (3.1.1)")
	errSuback311Code    = malformed("MQTT-3.9.3-2", "SUBACK return code other than 0, 1, 2, 0x80 (3.1.1)")
	errNoReasonCodes    = protocol("§3.9.3", "SUBACK or UNSUBACK without reason codes")
	errConnackFlags     = malformed("MQTT-3.2.2-1", "CONNACK acknowledge flags bits 7-1 are not 0")
	errConnackPresent   = protocol("MQTT-3.2.2-6", "CONNACK refusal with session present set (3.1.1: MQTT-3.2.2-4)")
	errProtocolName     = protocol("MQTT-3.1.2-1", "protocol name is not \"MQTT\"")
	errProtocolLevel    = &Error{Code: UnsupportedProtocolVersion, Rule: "MQTT-3.1.2-2", Text: "unsupported protocol level"}
	errConnectReserved  = malformed("MQTT-3.1.2-3", "CONNECT reserved flag is not 0")
	errWillQoSNoWill    = malformed("MQTT-3.1.2-11", "Will QoS set without the Will flag (3.1.1: MQTT-3.1.2-13)")
	errWillQoS3         = malformed("MQTT-3.1.2-12", "Will QoS 3 (3.1.1: MQTT-3.1.2-14)")
	errWillRetainNoWill = malformed("MQTT-3.1.2-13", "Will Retain set without the Will flag (3.1.1: MQTT-3.1.2-15)")
	errPasswordNoUser   = malformed("MQTT-3.1.2-22", "password flag without user name flag (3.1.1)")
	errClientIDEmpty    = &Error{Code: ClientIdentifierNotValid, Rule: "MQTT-3.1.3-8", Text: "zero-byte client identifier with clean session 0 (3.1.1)"}
	errPublishQoS3      = malformed("MQTT-3.3.1-4", "PUBLISH with QoS 3")
	errPublishDupQoS0   = malformed("MQTT-3.3.1-2", "PUBLISH with DUP set and QoS 0")
	errTopicWildcard    = malformed("MQTT-3.3.2-2", "wildcard in a topic name")
	errResponseTopic    = protocol("MQTT-3.3.2-14", "wildcard in a Response Topic")
	errTopicEmpty       = malformed("MQTT-4.7.3-1", "empty topic name or filter")
	errTopicNoAlias     = protocol("§3.3.2.3.4", "empty topic name without a Topic Alias")
	errFilterHash       = malformed("MQTT-4.7.1-1", "'#' not alone in the last level of a topic filter (3.1.1: MQTT-4.7.1-2)")
	errFilterPlus       = malformed("MQTT-4.7.1-2", "'+' not alone in its level of a topic filter (3.1.1: MQTT-4.7.1-3)")
	errShareName        = protocol("MQTT-4.8.2-1", "shared subscription without a valid share name")
	errShareFilter      = protocol("MQTT-4.8.2-2", "shared subscription without '/' and a topic filter after the share name")
	errShareNoLocal     = protocol("MQTT-3.8.3-4", "No Local set on a shared subscription")
	errNoFilters        = protocol("MQTT-3.8.3-2", "SUBSCRIBE without topic filters (3.1.1: MQTT-3.8.3-3)")
	errNoUnsubFilters   = protocol("MQTT-3.10.3-2", "UNSUBSCRIBE without topic filters")
	errSubOptions       = malformed("MQTT-3.8.3-5", "SUBSCRIBE options reserved bits set (3.1.1: MQTT-3-8.3-4)")
	errSubQoS3          = protocol("§3.8.3.1", "SUBSCRIBE with maximum QoS 3 (3.1.1: malformed, MQTT-3-8.3-4)")
	errRetainHandling3  = protocol("§3.8.3.1", "SUBSCRIBE with Retain Handling 3")
	errPropLength       = malformed("§2.2.2.1", "property length beyond the packet")
	errPropUnknown      = malformed("§2.2.2.2", "property identifier unknown or not allowed in this packet")
	errPropRepeated     = protocol("§2.2.2.2", "property included more than once")
	errPropValue        = protocol("§2.2.2.2", "property value out of range")
	errSubIDZero        = protocol("§3.8.2.1.2", "Subscription Identifier 0")
	errTopicAliasZero   = protocol("MQTT-3.3.2-8", "Topic Alias 0")
	errReceiveMaxZero   = protocol("§3.1.2.11.3", "Receive Maximum 0")
	errMaxPacketZero    = protocol("§3.1.2.11.4", "Maximum Packet Size 0")
	errAuthDataNoMethod = protocol("§3.1.2.11.10", "Authentication Data without Authentication Method")
	errPayloadFormat    = &Error{Code: PayloadFormatInvalid, Rule: "§3.3.2.3.2", Text: "payload is not valid UTF-8 although its Payload Format Indicator is 1"}
)

// AppendRefusal appends what a server sends before it closes a connection
// because a packet failed to decode with err, and returns dst unchanged when
// the spec wants the connection closed without a word (4.13):
//
//   - connecting (err came from Connect.Decode; v is Connect.Version):
//     in 5.0 a CONNACK carrying err's reason code; otherwise the 3.1.1
//     CONNACK return code for it (0x01 unacceptable protocol level, 0x02
//     identifier rejected), if 3.1.1 has one [MQTT-3.1.2-2], [MQTT-3.1.3-8].
//   - after CONNECT: in 5.0 a DISCONNECT with the reason code
//     [MQTT-4.13.1-1]; in 3.1.1 nothing.
//
// An err that is not an *Error is answered like a Malformed Packet.
func AppendRefusal(dst []byte, v Version, connecting bool, err error) []byte {
	code := MalformedPacket
	if e, ok := err.(*Error); ok {
		code = e.Code
	}
	switch {
	case connecting && v == V5:
		c := Connack{Code: code}
		return c.Append(dst, V5)
	case connecting:
		if rc, ok := code.V3ConnackCode(); ok {
			c := Connack{Code: ReasonCode(rc)}
			return c.Append(dst, V311)
		}
	case v == V5:
		d := Disconnect{Code: code}
		return d.Append(dst, V5)
	}
	return dst
}
