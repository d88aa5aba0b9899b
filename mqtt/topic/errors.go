package topic

import (
	"errors"
	"strconv"
)

// MQTT 5.0 reason codes (section 2.4) a topic error maps to. MQTT 3.1.1 has
// no reason codes: there a refused filter is SUBACK failure 0x80 and a
// refused topic name closes the connection or drops the message, which the
// session layer decides.
const (
	CodeNotAuthorized      byte = 0x87
	CodeTopicFilterInvalid byte = 0x8F
	CodeTopicNameInvalid   byte = 0x90
)

// Causes, for errors.Is. Every error this package returns is an *Error
// wrapping exactly one of them.
var (
	// ErrEmpty: topic names and filters are at least one character [MQTT-4.7.3-1].
	ErrEmpty = errors.New("topic cannot be empty")
	// ErrTooLong: more than 65,535 bytes [MQTT-4.7.3-3].
	ErrTooLong = errors.New("topic longer than 65535 bytes")
	// ErrInvalidUTF8: not well-formed UTF-8, or a surrogate [MQTT-1.5.4-1].
	ErrInvalidUTF8 = errors.New("topic is not valid UTF-8")
	// ErrNullChar: U+0000 [MQTT-1.5.4-2], [MQTT-4.7.3-2].
	ErrNullChar = errors.New("topic contains the null character")
	// ErrUnsupportedChar: space, \t, \n, \r, \f or DEL (0x7f). MQTT allows
	// them but NATS subjects cannot carry them; nats-server refuses the same
	// set with the same words.
	ErrUnsupportedChar = errors.New("character not supported for MQTT topics")
	// ErrWildcardInName: '+' or '#' in a topic name [MQTT-3.3.2-2].
	ErrWildcardInName = errors.New("wildcards not allowed in publish's topic")
	// ErrWildcardPlacement: '+' not a whole level [MQTT-4.7.1-2], or '#'
	// not a whole, last level [MQTT-4.7.1-1].
	ErrWildcardPlacement = errors.New("wildcard must occupy a whole level, and '#' must be last")
	// ErrNotMappable: the NATS subject the topic maps to is not usable: a
	// topic name with a level that is exactly "*" or ">" would be published
	// on a NATS wildcard, and a filter with a ">" level that is not last is
	// not a valid NATS subscription.
	ErrNotMappable = errors.New("topic cannot be mapped to a NATS subject")
	// ErrShareName: a "$share/" filter whose ShareName is empty or not
	// followed by "/" and a filter [MQTT-4.8.2-1], [MQTT-4.8.2-2].
	ErrShareName = errors.New("invalid shared subscription: want $share/<ShareName>/<filter>")
	// ErrReserved: the subject is one of leafgate's internal namespaces
	// (see Reserved); MQTT clients may neither publish nor subscribe there.
	ErrReserved = errors.New("subject is reserved for the server")
	// ErrNotExpressible: a NATS subject whose MQTT topic would be empty,
	// hold '+' or '#', or not be valid UTF-8, so it cannot be delivered to
	// an MQTT client.
	ErrNotExpressible = errors.New("subject cannot be expressed as an MQTT topic name")
)

// Kind says which conversion an Error comes from.
type Kind uint8

const (
	// Name is a topic name from PUBLISH (or a will topic) → NATS subject.
	Name Kind = iota + 1
	// Filter is a topic filter from SUBSCRIBE/UNSUBSCRIBE → NATS subject.
	Filter
	// Subject is a NATS subject → topic name, for delivery to MQTT.
	Subject
)

func (k Kind) String() string {
	switch k {
	case Name:
		return "topic name"
	case Filter:
		return "topic filter"
	case Subject:
		return "subject"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a refused topic name, filter or subject. Err is the cause (one
// of the Err variables); Input is what was refused.
type Error struct {
	Kind  Kind
	Input string
	Err   error
}

func newError(k Kind, in []byte, cause error) *Error {
	return &Error{Kind: k, Input: string(in), Err: cause}
}

func (e *Error) Error() string {
	return "mqtt " + e.Kind.String() + " " + strconv.Quote(e.Input) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonCode is the MQTT 5.0 reason code to answer with: 0x87 for a
// reserved subject, 0x8F for any other filter error, 0x90 for any other
// topic name error, and 0 for a Subject error (nothing is sent: the message
// is not delivered to that client).
func (e *Error) ReasonCode() byte {
	switch {
	case errors.Is(e.Err, ErrReserved):
		return CodeNotAuthorized
	case e.Kind == Filter:
		return CodeTopicFilterInvalid
	case e.Kind == Name:
		return CodeTopicNameInvalid
	}
	return 0
}

// ReasonCode is err's MQTT 5.0 reason code if err is (or wraps) an *Error,
// else 0.
func ReasonCode(err error) byte {
	var e *Error
	if errors.As(err, &e) {
		return e.ReasonCode()
	}
	return 0
}
