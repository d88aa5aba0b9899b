package proto

import "errors"

// Parser errors. Each maps to the -ERR text nats-server sends (ErrorText);
// after any of them the connection is closed.
var (
	// ErrUnknownOp is an operation the client protocol does not have, or a
	// malformed operation line.
	ErrUnknownOp = errors.New("unknown protocol operation")
	// ErrMaxControlLine is a protocol line longer than MaxControlLine.
	ErrMaxControlLine = errors.New("maximum control line exceeded")
	// ErrMaxPayload is a PUB/HPUB announcing more than MaxPayload bytes.
	ErrMaxPayload = errors.New("maximum payload violation")
	// ErrBadArgs is a PUB, HPUB, SUB or UNSUB with the wrong arguments or a
	// bad size; nats-server closes such connections without an -ERR.
	ErrBadArgs = errors.New("protocol argument error")
	// ErrPayloadEnd is a payload not followed by CRLF.
	ErrPayloadEnd = errors.New("payload not terminated by CRLF")
)

// Texts of the -ERR lines a NATS server sends. Clients match on them, so
// they are nats-server's, byte for byte.
const (
	ErrTextUnknownOp                   = "Unknown Protocol Operation"
	ErrTextMaxControlLine              = "maximum control line exceeded"
	ErrTextMaxPayload                  = "Maximum Payload Violation"
	ErrTextAuthViolation               = "Authorization Violation"
	ErrTextAuthTimeout                 = "Authentication Timeout"
	ErrTextSlowConsumer                = "Slow Consumer"
	ErrTextStaleConnection             = "Stale Connection"
	ErrTextMaxConnections              = "maximum connections exceeded"
	ErrTextMaxSubscriptions            = "maximum subscriptions exceeded"
	ErrTextInvalidSubject              = "Invalid Subject"
	ErrTextInvalidPublishSubject       = "Invalid Publish Subject"
	ErrTextSecureConnection            = "Secure Connection - TLS Required"
	ErrTextNoRespondersRequiresHeaders = "no responders requires headers support"
	// Format with the subject (and queue) as %s; the quotes are part of the text.
	ErrTextPubPermission      = "Permissions Violation for Publish to \"%s\""
	ErrTextSubPermission      = "Permissions Violation for Subscription to \"%s\""
	ErrTextSubPermissionQueue = "Permissions Violation for Subscription to \"%s\" using queue \"%s\""
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
