package leafnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
)

// Defaults for zero Remote fields. nats-server dials for 1 s, waits 1 s for
// the first INFO and retries every second with no back-off; it notices a
// dead link after two unanswered PINGs two minutes apart. A gateway on LTE
// or satellite needs longer handshakes and a much quicker verdict on a
// black-holed link, without hammering the hub while it is down.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultFirstInfoTimeout = 5 * time.Second
	DefaultConnectTimeout   = 10 * time.Second // CONNECT sent to the hub's connect_info INFO
	DefaultReconnectDelay   = 1 * time.Second
	DefaultReconnectMax     = time.Second
	DefaultPingInterval     = 4 * time.Second
	DefaultMaxPingsOut      = 2
	DefaultWriteDeadline    = 10 * time.Second
	DefaultMaxPending       = 8 * 1024 * 1024
	DefaultMaxHubSubs       = 100_000
)

// Remote is one upstream hub: nats-server's leafnodes.remotes entry.
type Remote struct {
	// Name labels the link in logs and /leafz; empty means the first URL's host.
	Name string
	// URLs are the hub's leafnode URLs: nats-leaf://, nats://, tls:// (TLS
	// required). User info in a URL is sent as user/pass (or as token when
	// there is no password), as nats-server does.
	URLs []*url.URL
	// NoRandomize tries the URLs in the order given; by default the order is
	// shuffled once so a fleet spreads over the hub's servers.
	NoRandomize bool

	// Credentials: at most one of CredsFile (a user JWT and its nkey seed,
	// as NATS decentralized auth issues them) and Nkey (a user seed, SU...).
	// User/Password/Token may be combined with either, as nats-server allows
	// for auth callout.
	CredsFile string
	Nkey      string
	User      string
	Password  string
	Token     string

	// TLS, when non-nil, is used for the hub connection (with client
	// certificates if it holds any); it is also used when the hub requires
	// TLS. HandshakeFirst starts TLS before the hub's INFO.
	TLS            *tls.Config
	HandshakeFirst bool

	// DenyImports are subjects this gateway will not receive from the hub
	// (not advertised upstream, dropped if they arrive); DenyExports are
	// subjects it will not send (the hub's interest in them is ignored).
	DenyImports []string
	DenyExports []string
	// Compression is the S2 compression mode (leafproto's modes, as
	// nats-server spells them); empty means off. s2_auto picks the level
	// from the handshake's round-trip time and RTTThresholds (nil:
	// nats-server's 10/50/100 ms).
	Compression   string
	RTTThresholds []time.Duration
	// WSCompression and WSNoMasking are nats-server's ws_compression and
	// ws_no_masking, for ws:// and wss:// URLs.
	WSCompression bool
	WSNoMasking   bool
	// Isolate asks the hub not to send this link the interest of its other
	// leafnodes (nats-server's request_isolation).
	Isolate bool

	DialTimeout      time.Duration
	FirstInfoTimeout time.Duration
	ConnectTimeout   time.Duration
	// ReconnectDelay is the first wait after a failed attempt; it doubles,
	// with jitter, up to ReconnectMax.
	ReconnectDelay time.Duration
	ReconnectMax   time.Duration
	// PingInterval and MaxPingsOut bound how long a half-open link (a NAT
	// mapping silently dropped) goes unnoticed: a PING goes out each
	// interval nothing arrived, and the link is dropped after
	// PingInterval × (MaxPingsOut+1) of silence (12 s by default; the
	// check runs four times an interval, so at most 13 s). A backlog that
	// keeps draining, however slowly, is not silence: on a thin uplink the
	// PING waits behind it.
	PingInterval time.Duration
	MaxPingsOut  int
	// MaxHubSubs caps the hub interest kept for this link: a hub advertises
	// its whole account, which must not exhaust a small gateway's memory.
	// What is over the cap is ignored, counted and logged.
	MaxHubSubs int

	// Settled, when set, is called once per session, on a goroutine of
	// its own, when the hub has answered the session's first PING, with
	// the link's name and the literal subjects the hub advertised by
	// then: all the interest it held when the link came up (nats-server
	// sends that while it handles CONNECT, before it reads the PING).
	Settled func(link string, hubInterest []string)
}

// Options configure the links of one server.
type Options struct {
	Router *router.Router
	Log    *slog.Logger

	ServerID   string // the local server's id (an nkey public key)
	ServerName string
	Version    string // the nats-server version leafgate reports
	// Domain is the local JetStream domain ("" for none); JetStream tells
	// the hub whether the local account has JetStream.
	Domain    string
	JetStream bool
	// MaxPayload is the largest message accepted from the hub.
	MaxPayload int
	// MaxPending bounds what is buffered for one link; messages beyond it
	// are dropped and counted (core NATS delivery is at most once; what must
	// arrive goes through JetStream).
	MaxPending    int64
	WriteDeadline time.Duration

	Remotes []Remote

	// DialWebSocket dials a ws:// or wss:// remote URL: the WebSocket
	// upgrade on path /leafnode (under the URL's own path), TLS for wss://.
	// The returned connection carries the leafnode protocol's bytes, framed
	// by the dialer. It lives in the ws adapter, which leaf must not import;
	// without it, WebSocket URLs are refused.
	DialWebSocket func(ctx context.Context, u *url.URL, o WSDialOptions) (WSConn, error)
}

// WSDialOptions are what a WebSocket dial needs from the remote.
type WSDialOptions struct {
	TLS *tls.Config // for wss://; nil means the system roots
	// Compression offers permessage-deflate (the remote's ws_compression).
	Compression bool
	// NoMasking asks the hub (Nats-No-Masking: true) to let this side
	// send its frames unmasked; it does only if the hub agrees.
	NoMasking bool
	// Wrap, if set, wraps the TCP connection before TLS and the upgrade
	// (the link counts its bytes on the wire with it).
	Wrap func(net.Conn) net.Conn
}

// WSConn is a dialed WebSocket connection.
type WSConn interface {
	net.Conn
	// Compressed reports whether permessage-deflate was agreed; S2 is then
	// not negotiated on top of it, as in nats-server.
	Compressed() bool
	// WrapStream puts stream codecs under the WebSocket framing from
	// here on: frames are read from what r builds over the raw connection
	// and written to what w builds (flushed after each frame). nats-server
	// layers S2 that way on a WebSocket link without permessage-deflate:
	// it compresses the frames, not the protocol inside them. A nil r or w
	// leaves that side as it is. The reader switches the read side,
	// between frames; the write side may be switched at any time (a new
	// S2 stream at another level).
	WrapStream(r func(raw io.Reader) io.Reader, w func(raw io.Writer) io.Writer) error
}

func (r *Remote) withDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&r.DialTimeout, DefaultDialTimeout)
	set(&r.FirstInfoTimeout, DefaultFirstInfoTimeout)
	set(&r.ConnectTimeout, DefaultConnectTimeout)
	set(&r.ReconnectDelay, DefaultReconnectDelay)
	set(&r.ReconnectMax, DefaultReconnectMax)
	set(&r.PingInterval, DefaultPingInterval)
	if r.ReconnectMax < r.ReconnectDelay {
		r.ReconnectMax = r.ReconnectDelay
	}
	if r.MaxPingsOut <= 0 {
		r.MaxPingsOut = DefaultMaxPingsOut
	}
	if r.MaxHubSubs <= 0 {
		r.MaxHubSubs = DefaultMaxHubSubs
	}
	if r.Name == "" && len(r.URLs) > 0 {
		r.Name = r.URLs[0].Host
	}
}

// validate reports a remote's configuration errors.
func (r *Remote) validate() error {
	if len(r.URLs) == 0 {
		return errors.New("no url")
	}
	for _, u := range r.URLs {
		switch u.Scheme {
		case "nats-leaf", "nats", "tls":
		case "ws", "wss":
		default:
			return fmt.Errorf("url %q: scheme must be nats-leaf, nats, tls, ws or wss", Redact(u))
		}
		if u.Host == "" {
			return fmt.Errorf("url %q: no host", Redact(u))
		}
	}
	ws := r.URLs[0].Scheme == "ws" || r.URLs[0].Scheme == "wss"
	for _, u := range r.URLs[1:] {
		if (u.Scheme == "ws" || u.Scheme == "wss") != ws {
			return errors.New("urls: WebSocket and non-WebSocket URLs cannot be mixed in one remote")
		}
	}
	if r.CredsFile != "" && r.Nkey != "" {
		return errors.New("credentials and nkey cannot both be set")
	}
	return nil
}

// Redact is u without its secrets, for logs: the password, and a user
// without a password too, since that is sent as a token (nats://TOKEN@host).
func Redact(u *url.URL) string {
	if u.User != nil {
		if _, hasPass := u.User.Password(); !hasPass {
			c := *u
			c.User = url.User("xxxxx")
			return c.String()
		}
	}
	return u.Redacted()
}
