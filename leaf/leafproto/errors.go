package leafproto

import "errors"

// Parser errors. Each maps to the -ERR text nats-server sends (ErrorText);
// after any of them the connection is closed.
var (
	// ErrUnknownOp is an operation the leafnode protocol does not have, or
	// a malformed operation line.
	ErrUnknownOp = errors.New("unknown protocol operation")
	// ErrMaxControlLine is a protocol line longer than MaxControlLine.
	ErrMaxControlLine = errors.New("maximum control line exceeded")
	// ErrMaxPayload is an LMSG/HMSG announcing more than MaxPayload bytes.
	ErrMaxPayload = errors.New("maximum payload violation")
	// ErrBadArgs is an LS+, LS-, LMSG or HMSG with the wrong arguments or
	// a bad size; nats-server closes such connections without an -ERR.
	ErrBadArgs = errors.New("protocol argument error")
	// ErrPayloadEnd is a payload not followed by CRLF.
	ErrPayloadEnd = errors.New("payload not terminated by CRLF")
)

// Texts of the -ERR lines nats-server sends for parser errors, byte for byte.
const (
	ErrTextUnknownOp      = "Unknown Protocol Operation"
	ErrTextMaxControlLine = "maximum control line exceeded"
	ErrTextMaxPayload     = "Maximum Payload Violation"
)

// ErrorText is the -ERR text to send before closing a connection for err,
// or "" when nats-server closes without one.
func ErrorText(err error) string {
	switch {
	case errors.Is(err, ErrUnknownOp), errors.Is(err, ErrPayloadEnd):
		return ErrTextUnknownOp
	case errors.Is(err, ErrMaxControlLine):
		return ErrTextMaxControlLine
	case errors.Is(err, ErrMaxPayload):
		return ErrTextMaxPayload
	}
	return ""
}
