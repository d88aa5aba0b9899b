package jetstream

import (
	"crypto/sha256"
	"time"
)

// streamIdentityHeader carries a stream's identity between a sourcing
// stream and its origin (nats-server 2.15): the source sends the identity
// it expects, the origin answers with its own.
const streamIdentityHeader = "Nats-Stream-Identity"

// identity is the stream's identity: a hash of its creation time, as
// nats-server's, so a stream deleted and created again under the same
// name is a different stream to those sourcing it. The creation time is
// stored with the stream, so the identity survives restarts.
func (ms *stream) identity() string {
	return shortHash(ms.created.UTC().Format(time.RFC3339Nano))
}

// shortHash is nats-server's getHash: the first 8 bytes of a SHA-256,
// each mapped to a base-62 digit.
func shortHash(s string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(s))
	var b [8]byte
	for i := range b {
		b[i] = digits[int(sum[i]%62)]
	}
	return string(b[:])
}
