package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
)

// Defaults applied by Options.withDefaults to zero-valued fields. They match
// nats-server's defaults so that clients tuned for nats-server behave the same.
const (
	DefaultMaxConnections      = 64 * 1024
	DefaultMaxPayload          = 1024 * 1024
	DefaultMaxControlLine      = 4096
	DefaultMaxPending          = 64 * 1024 * 1024
	DefaultWriteDeadline       = 10 * time.Second
	DefaultPingInterval        = 2 * time.Minute
	DefaultMaxPingsOut         = 2
	DefaultAuthTimeout         = 2 * time.Second
	DefaultTLSTimeout          = 2 * time.Second
	DefaultLameDuckDuration    = 2 * time.Minute
	DefaultLameDuckGracePeriod = 10 * time.Second
)

// Options configures a Server. The zero value is a usable server on an
// ephemeral loopback port with no auth, no TLS and no monitoring; every zero
// numeric limit means "the default" (see the Default* constants).
type Options struct {
	// ServerName is reported in INFO as server_name; empty means the server ID.
	ServerName string

	// Listen is the client listener address, host:port. Empty means
	// "127.0.0.1:0" (an ephemeral loopback port, handy in tests).
	Listen string

	// MonitorListen is the HTTP monitoring address (/healthz, /varz,
	// /connz). Empty disables monitoring.
	MonitorListen string

	MaxConnections   int           // concurrent client connections
	MaxPayload       int32         // largest message payload (headers included)
	MaxControlLine   int           // longest protocol line
	MaxSubscriptions int           // per connection; 0 = unlimited
	MaxPending       int64         // bytes buffered for one slow reader before it is cut
	WriteDeadline    time.Duration // a write blocked longer than this cuts the reader
	PingInterval     time.Duration // server-initiated PING period
	MaxPingsOut      int           // unanswered PINGs before "Stale Connection"
	AuthTimeout      time.Duration // time allowed between accept and a valid CONNECT

	// TLS, when non-nil, is required on the client port (tls_required in
	// INFO). Set ClientAuth on it to verify client certificates.
	TLS        *tls.Config
	TLSTimeout time.Duration // TLS handshake timeout
	// AllowNonTLS offers TLS without requiring it (tls_available in INFO,
	// nats-server's allow_non_tls): a client that starts a TLS handshake
	// after INFO gets TLS, any other continues in plain text.
	AllowNonTLS bool
	// TLSHandshakeFirst makes clients handshake before the server sends
	// INFO (nats-server's tls handshake_first; nats.go TLSHandshakeFirst).
	TLSHandshakeFirst bool

	// Auth configures client authentication and per-user permissions. The
	// zero value is "no authentication".
	Auth auth.Config

	LameDuckDuration    time.Duration // how long lame-duck mode spreads closing clients over
	LameDuckGracePeriod time.Duration // wait before lame-duck mode starts closing clients

	// JetStream tells the server that a JetStream service is attached to
	// its router, so INFO carries "jetstream":true as nats-server's does.
	JetStream bool
	// JetStreamAPILevel is the JetStream API level this build serves,
	// sent in INFO as api_lvl (omitted when 0). nats-server sends api_lvl
	// whether or not JetStream is enabled, so set it regardless of
	// JetStream.
	JetStreamAPILevel int

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.MaxControlLine == 0 {
		o.MaxControlLine = DefaultMaxControlLine
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.WriteDeadline == 0 {
		o.WriteDeadline = DefaultWriteDeadline
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxPingsOut == 0 {
		o.MaxPingsOut = DefaultMaxPingsOut
	}
	if o.AuthTimeout == 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if o.TLSTimeout == 0 {
		o.TLSTimeout = DefaultTLSTimeout
	}
	if o.LameDuckDuration == 0 {
		o.LameDuckDuration = DefaultLameDuckDuration
	}
	if o.LameDuckGracePeriod == 0 {
		o.LameDuckGracePeriod = DefaultLameDuckGracePeriod
	}
	return o
}

// validate rejects option values no server can run with. Field names are
// the Go names; the config layer reports its own key names before this.
func (o Options) validate() error {
	switch {
	case o.MaxConnections < 0:
		return fmt.Errorf("server: MaxConnections %d is negative", o.MaxConnections)
	case o.MaxPayload < 0:
		return fmt.Errorf("server: MaxPayload %d is negative", o.MaxPayload)
	case o.MaxControlLine < 32:
		return fmt.Errorf("server: MaxControlLine %d is below 32", o.MaxControlLine)
	case o.MaxSubscriptions < 0:
		return fmt.Errorf("server: MaxSubscriptions %d is negative", o.MaxSubscriptions)
	case o.MaxPending < int64(o.MaxPayload):
		return fmt.Errorf("server: MaxPending %d is below MaxPayload %d", o.MaxPending, o.MaxPayload)
	case o.WriteDeadline < 0, o.PingInterval < 0, o.AuthTimeout < 0, o.TLSTimeout < 0:
		return errors.New("server: negative duration")
	case o.JetStreamAPILevel < 0:
		return fmt.Errorf("server: JetStreamAPILevel %d is negative", o.JetStreamAPILevel)
	case o.MaxPingsOut < 0:
		return fmt.Errorf("server: MaxPingsOut %d is negative", o.MaxPingsOut)
	case o.TLS == nil && (o.AllowNonTLS || o.TLSHandshakeFirst):
		return errors.New("server: AllowNonTLS and TLSHandshakeFirst need TLS")
	case o.AllowNonTLS && o.TLSHandshakeFirst:
		return errors.New("server: AllowNonTLS and TLSHandshakeFirst exclude each other")
	}
	return nil
}
