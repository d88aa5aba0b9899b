package server

import (
	"crypto/tls"
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

	// Auth configures client authentication and per-user permissions. The
	// zero value is "no authentication".
	Auth auth.Config

	LameDuckDuration    time.Duration // how long lame-duck mode spreads closing clients over
	LameDuckGracePeriod time.Duration // wait before lame-duck mode starts closing clients

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}
