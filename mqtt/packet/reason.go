package packet

import "strconv"

// ReasonCode is an MQTT 5.0 reason code (section 2.4). In 3.1.1 the same
// byte positions carry a CONNACK return code or a SUBACK return code; those
// are stored in the same field, see Connack.Code and Suback.Codes.
type ReasonCode byte

// MQTT 5.0 reason codes (table 2-6). Several share a value.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWill                  ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = map[ReasonCode]string{
	0x00: "success", 0x01: "granted QoS 1", 0x02: "granted QoS 2", 0x04: "disconnect with will message",
	0x10: "no matching subscribers", 0x11: "no subscription existed", 0x18: "continue authentication",
	0x19: "re-authenticate", 0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
	0x83: "implementation specific error", 0x84: "unsupported protocol version", 0x85: "client identifier not valid",
	0x86: "bad user name or password", 0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy",
	0x8A: "banned", 0x8B: "server shutting down", 0x8C: "bad authentication method", 0x8D: "keep alive timeout",
	0x8E: "session taken over", 0x8F: "topic filter invalid", 0x90: "topic name invalid",
	0x91: "packet identifier in use", 0x92: "packet identifier not found", 0x93: "receive maximum exceeded",
	0x94: "topic alias invalid", 0x95: "packet too large", 0x96: "message rate too high", 0x97: "quota exceeded",
	0x98: "administrative action", 0x99: "payload format invalid", 0x9A: "retain not supported",
	0x9B: "QoS not supported", 0x9C: "use another server", 0x9D: "server moved",
	0x9E: "shared subscriptions not supported", 0x9F: "connection rate exceeded", 0xA0: "maximum connect time",
	0xA1: "subscription identifiers not supported", 0xA2: "wildcard subscriptions not supported",
}

// String returns the specification's name of the code, in lower case.
func (c ReasonCode) String() string {
	if s, ok := reasonNames[c]; ok {
		return s
	}
	return "reason code 0x" + strconv.FormatUint(uint64(c), 16)
}

// IsError reports whether the code reports a failure (0x80 and above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// MQTT 3.1.1 CONNACK return codes (3.1.1 table 3.1).
const (
	ConnackAccepted               = 0x00
	ConnackUnacceptableVersion    = 0x01
	ConnackIdentifierRejected     = 0x02
	ConnackServerUnavailable      = 0x03
	ConnackBadUserNameOrPassword  = 0x04
	ConnackNotAuthorized          = 0x05
	SubackFailure                 = 0x80 // 3.1.1 SUBACK failure return code
	maxConnackReturnCode311       = ConnackNotAuthorized
	connackSessionPresent         = 0x01
	connackReservedFlags          = 0xFE
	subOptionsReserved5           = 0xC0
	subOptionsReserved311         = 0xFC
	subOptionsNoLocal             = 0x04
	subOptionsRetainAsPublished   = 0x08
	subOptionsRetainHandlingShift = 4
	subOptionsRetainHandlingMask  = 0x30
	subOptionsQoSMask             = 0x03
)

// V3ConnackCode maps an MQTT 5.0 CONNACK reason code to the closest 3.1.1
// CONNACK return code, for a session that refuses a 3.1.1 (or unknown
// level) client. ok is false when 3.1.1 has no equivalent: the spec then
// wants the connection closed without a CONNACK.
func (c ReasonCode) V3ConnackCode() (code byte, ok bool) {
	switch c {
	case Success:
		return ConnackAccepted, true
	case UnsupportedProtocolVersion:
		return ConnackUnacceptableVersion, true
	case ClientIdentifierNotValid:
		return ConnackIdentifierRejected, true
	case ServerUnavailable, ServerBusy, ServerShuttingDown, UseAnotherServer, ServerMoved, ConnectionRateExceeded:
		return ConnackServerUnavailable, true
	case BadUserNameOrPassword:
		return ConnackBadUserNameOrPassword, true
	case NotAuthorized, Banned:
		return ConnackNotAuthorized, true
	}
	return 0, false
}

// Which reason codes each 5.0 packet may carry (section 2.4 and the
// per-packet tables 3-1, 3-4, 3-5, 3-6, 3-7, 3-8, 3-9, 3-10, 3-11).
var (
	connackCodes    = codeSet(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	pubackCodes     = codeSet(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99) // PUBACK and PUBREC
	pubrelCodes     = codeSet(0x00, 0x92)                                           // PUBREL and PUBCOMP
	subackCodes     = codeSet(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	unsubackCodes   = codeSet(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	disconnectCodes = codeSet(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)
	authCodes       = codeSet(0x00, 0x18, 0x19)
	suback311Codes  = codeSet(0x00, 0x01, 0x02, 0x80)
)

// reasonSet is a 256-bit set of reason code values.
type reasonSet [4]uint64

func codeSet(codes ...byte) reasonSet {
	var s reasonSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *reasonSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
