package leafproto

import (
	"bytes"
	"fmt"
	"time"
)

// LoopDetectPrefix starts each account's loop-detection subject,
// "$LDS.<unique id>". A server advertises its own on every leaf link; an
// LS+ arriving for it means the interest went round a loop. nats-server
// also exempts these subjects from permission checks.
const LoopDetectPrefix = "$LDS."

// IsLoopSubject reports whether s is a loop-detection subject.
func IsLoopSubject(s []byte) bool {
	return bytes.HasPrefix(s, []byte(LoopDetectPrefix))
}

// Reconnect delays nats-server applies after the hub's refusals
// (leafnode.go).
const (
	LoopReconnectDelay          = 30 * time.Second // leafNodeReconnectDelayAfterLoopDetected
	PermViolationReconnectDelay = 30 * time.Second // leafNodeReconnectAfterPermViolation
	SameClusterReconnectDelay   = 30 * time.Second // leafNodeReconnectDelayAfterClusterNameSame
	MinVersionReconnectDelay    = 5 * time.Second  // leafNodeMinVersionReconnectDelay
)

// Formats of the -ERR texts that name a subject, account or version.
const (
	loopErrTextFormat            = "Loop detected for leafnode account=%q. Delaying attempt to reconnect for %v"
	pubPermErrTextFormat         = "Permissions Violation for Publish to %q"
	subPermErrTextFormat         = "Permissions Violation for Subscription to %q"
	minVersionErrTextFormat      = ErrTextMinVersionPrefix + " %q"
	gatewayOnLeafPortErrTextForm = "Rejecting connection from gateway %q on the leafnode port"
)

// -ERR texts a hub sends on a leafnode connection, byte for byte as
// nats-server v2.15.2 sends them (captured from a live server; see
// hub_errors_test.go).
const (
	ErrTextLoopDetected        = "Loop detected" // start of LoopErrText's text
	ErrTextSameClusterName     = "remote leafnode has same cluster name"
	ErrTextMinVersionPrefix    = "connection rejected since minimum version required is"
	ErrTextDuplicateRemote     = "Duplicate Remote LeafNode Connection"
	ErrTextPermissions         = "Permissions Violation for" // start of the publish and subscription texts
	ErrTextAuthViolation       = "Authorization Violation"
	ErrTextAuthTimeout         = "Authentication Timeout"
	ErrTextUserAuthExpired     = "User Authentication Expired"
	ErrTextAccountAuthExpired  = "Account Authentication Expired"
	ErrTextUserAuthRevoked     = "User Authentication Revoked"
	ErrTextClusterNameSpaces   = "cluster name cannot contain spaces"
	ErrTextClusterNameReserved = "cluster name is reserved" // "_", nats-server's no-origin marker
	ErrTextClientOnLeafPort    = "attempted to connect to leaf node port"
	ErrTextInvalidSubscription = "Invalid Subscription"
	// ErrTextStaleLeafConnection is what a soliciting leaf itself sends
	// when the hub's connect_info INFO has not come within
	// ConnectInfoTimeout of its CONNECT, before closing.
	ErrTextStaleLeafConnection = "Stale Leaf Node Connection - Closing"
)

// ConnectInfoTimeout is how long nats-server's soliciting side waits after
// CONNECT for the hub's connect_info INFO (connectProcessTimeout).
const ConnectInfoTimeout = 2 * time.Second

// LoopErrText is the -ERR text a server sends when an LS+ for its own
// loop-detection subject arrives on the link bound to account, before
// closing the link and, when it solicited, waiting LoopReconnectDelay:
//
//	Loop detected for leafnode account="APP". Delaying attempt to reconnect for 30s
func LoopErrText(account string) string {
	return fmt.Sprintf(loopErrTextFormat, account, LoopReconnectDelay)
}

// PubPermErrText is the -ERR text for an LMSG/HMSG on a subject the sender
// may not publish over the link.
func PubPermErrText(subject []byte) string {
	return fmt.Sprintf(pubPermErrTextFormat, subject)
}

// SubPermErrText is the -ERR text for an LS+ on a literal subject the
// sender may not receive over the link.
func SubPermErrText(subject []byte) string {
	return fmt.Sprintf(subPermErrTextFormat, subject)
}

// MinVersionErrText is the -ERR text of a hub whose leafnodes.min_version
// is minVersion, to a leaf whose CONNECT version is older. The hub first
// sends its connect_info INFO, then this, then closes.
func MinVersionErrText(minVersion string) string {
	return fmt.Sprintf(minVersionErrTextFormat, minVersion)
}

// GatewayOnLeafPortErrText is the -ERR text for a CONNECT with "gateway" set.
func GatewayOnLeafPortErrText(gateway string) string {
	return fmt.Sprintf(gatewayOnLeafPortErrTextForm, gateway)
}

// ErrKind classifies an -ERR text from the hub into what the link must do.
type ErrKind uint8

const (
	// ErrKindOther is any other text; the hub closes the link (or not) and
	// the link reconnects with its normal back-off.
	ErrKindOther ErrKind = iota
	// ErrKindLoop: the hub saw our loop-detection subject come back.
	ErrKindLoop
	// ErrKindSameClusterName: our CONNECT "cluster" equals the hub's.
	ErrKindSameClusterName
	// ErrKindMinVersion: our CONNECT "version" is below the hub's
	// leafnodes.min_version.
	ErrKindMinVersion
	// ErrKindPermission: we sent interest or a message the hub's
	// permissions for this link forbid.
	ErrKindPermission
	// ErrKindDuplicateRemote: the hub accepted a newer link with our name,
	// cluster and accounts and closes this one.
	ErrKindDuplicateRemote
	// ErrKindAuth: credentials refused, expired or revoked.
	ErrKindAuth
	// ErrKindBadClusterName: our cluster name has spaces or is "_".
	ErrKindBadClusterName
)

var errKindNames = [...]string{
	ErrKindOther:           "other",
	ErrKindLoop:            "loop detected",
	ErrKindSameClusterName: "same cluster name",
	ErrKindMinVersion:      "minimum version",
	ErrKindPermission:      "permissions violation",
	ErrKindDuplicateRemote: "duplicate remote",
	ErrKindAuth:            "authorization",
	ErrKindBadClusterName:  "bad cluster name",
}

func (k ErrKind) String() string {
	if int(k) < len(errKindNames) {
		return errKindNames[k]
	}
	return fmt.Sprintf("ErrKind(%d)", uint8(k))
}

// ClassifyErr classifies the text of an -ERR from the hub (quotes already
// stripped, as Handler.Err gets it). The first three checks are
// nats-server's own (leafProcessErr, substring matches in the same order);
// the others are leafgate's, so the link can log and back off sensibly.
func ClassifyErr(text []byte) ErrKind {
	switch {
	case bytes.Contains(text, []byte(ErrTextSameClusterName)):
		return ErrKindSameClusterName
	case bytes.Contains(text, []byte(ErrTextMinVersionPrefix)):
		return ErrKindMinVersion
	case bytes.Contains(text, []byte(ErrTextLoopDetected)):
		return ErrKindLoop
	case bytes.HasPrefix(text, []byte(ErrTextPermissions)):
		return ErrKindPermission
	case bytes.Equal(text, []byte(ErrTextDuplicateRemote)):
		return ErrKindDuplicateRemote
	case bytes.Equal(text, []byte(ErrTextAuthViolation)),
		bytes.Equal(text, []byte(ErrTextAuthTimeout)),
		bytes.Equal(text, []byte(ErrTextUserAuthExpired)),
		bytes.Equal(text, []byte(ErrTextAccountAuthExpired)),
		bytes.Equal(text, []byte(ErrTextUserAuthRevoked)):
		return ErrKindAuth
	case bytes.Equal(text, []byte(ErrTextClusterNameSpaces)),
		bytes.Equal(text, []byte(ErrTextClusterNameReserved)):
		return ErrKindBadClusterName
	}
	return ErrKindOther
}

// ReconnectDelay is how long a soliciting leaf waits before reconnecting
// after an -ERR of this kind, or 0 for the link's normal back-off.
//
// Loop, same cluster name and minimum version are nats-server's delays for
// the texts it recognises. For permissions nats-server's spoke applies no
// delay on receipt (only a soliciting side that detects a violation itself
// waits PermViolationReconnectDelay, and a spoke never does); leafgate
// waits the same 30 s, since reconnecting sooner would resend the same
// interest or message and be refused again.
func (k ErrKind) ReconnectDelay() time.Duration {
	switch k {
	case ErrKindLoop:
		return LoopReconnectDelay
	case ErrKindSameClusterName:
		return SameClusterReconnectDelay
	case ErrKindMinVersion:
		return MinVersionReconnectDelay
	case ErrKindPermission:
		return PermViolationReconnectDelay
	}
	return 0
}
