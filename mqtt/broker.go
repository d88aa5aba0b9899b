package mqtt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/sessstore"
	"github.com/leafgate/leafgate/mqtt/topic"
)

// Options configure a Broker. Zero values take the defaults named.
type Options struct {
	// Router is the subject router MQTT sessions attach to (required).
	Router *router.Router
	// NextCID hands out connection ids; the NATS server's (so /connz and
	// advisories never show two connections with one id). Nil: the
	// broker counts its own.
	NextCID func() uint64
	Logger  *slog.Logger
	// Authenticate checks a client's user name and password (the password
	// also serves as a token); nil lets every client in. It returns the
	// identity whose permissions apply to the mapped subjects.
	Authenticate func(auth.Credentials) (*auth.Identity, error)

	// MaxPacketSize is the largest packet accepted from a client, and the
	// Maximum Packet Size a 5.0 CONNACK announces. Default 1 MiB.
	MaxPacketSize int
	// ReceiveMaximum is how many QoS 1 and 2 publishes a client may have
	// unacknowledged towards leafgate (5.0 Receive Maximum). Default 256.
	ReceiveMaximum uint16
	// MaxInflight caps the QoS 1 and 2 messages leafgate has sent to a
	// client and not yet had acknowledged, below the client's own Receive
	// Maximum (and for 3.1.1 clients, which announce none). Default 256.
	MaxInflight uint16
	// MaxQueued and MaxQueuedBytes bound each session's queue of QoS 1
	// and 2 messages not yet sent (offline, or the in-flight window is
	// full). Past either the message is dropped for that session and
	// counted. Defaults 10,000 messages and 16 MiB.
	MaxQueued      int
	MaxQueuedBytes int
	// TopicAliasMaximum is the highest topic alias a 5.0 client may use
	// towards leafgate. Default 64; 0 is the default, set -1 to refuse.
	TopicAliasMaximum int
	// MaxSessionExpiry caps a session's expiry interval (0: no cap, a 5.0
	// client's value or 3.1.1's "never" stands).
	MaxSessionExpiry time.Duration
	// MaxKeepAlive caps the keep alive of 5.0 clients (and gives one to
	// those that ask for none) through CONNACK's Server Keep Alive; 0 means
	// no cap. At most 65535 s.
	MaxKeepAlive time.Duration
	// ConnectTimeout is how long a new connection has to send CONNECT.
	// Default 10 s.
	ConnectTimeout time.Duration
	// NATSQoS is the QoS of a message published by NATS (without a
	// Nmqtt-Pub header): it is delivered to an MQTT subscription at the
	// lower of this and the subscription's QoS. Default 1.
	NATSQoS *byte
	// Retained keeps retained messages; nil disables retain (5.0 CONNACK
	// says Retain Available 0, a retained publish is refused).
	Retained RetainStore
	// Reserved subject prefixes MQTT clients may not use; default
	// topic.Internal.
	Reserved topic.Reserved
	// MaxPending bounds a connection's unsent output in bytes before
	// publishers are paced and QoS 0 messages dropped. Default 4 MiB.
	MaxPending int
	// Sessions keeps persistent sessions durable across restarts; nil
	// keeps them in memory only, unless OpenSessions is set.
	Sessions *sessstore.Store
	// OpenSessions, with Sessions nil, opens the session store when the
	// first persistent session needs it (a new installation has no
	// sessions to restore, and an idle gateway need not hold the file).
	OpenSessions func() (*sessstore.Store, error)
}

// RetainStore keeps retained messages durably (package mqtt/retain).
type RetainStore interface {
	// Set stores (an empty payload: clears) the retained message of
	// topic; done runs once it is durable, or with the error.
	Set(topicName, hdr, payload []byte, expires time.Time, done func(error))
	// Match calls fn for every current retained message matching the MQTT
	// topic filter; the slices are only valid during the call.
	Match(filter []byte, fn func(topicName, hdr, payload []byte))
}

// Defaults of Options, also configs/leafgate.yaml's.
const (
	DefaultMaxPacketSize     = 1 << 20
	DefaultReceiveMaximum    = 256
	DefaultMaxInflight       = 256
	DefaultMaxQueued         = 10000
	DefaultMaxQueuedBytes    = 16 << 20
	DefaultTopicAliasMaximum = 64
	DefaultConnectTimeout    = 10 * time.Second
	defaultMaxPending        = 4 << 20
	// preConnectMax bounds what a connection may send before its CONNECT
	// is accepted, so a partial CONNECT cannot reserve more.
	preConnectMax = 64 << 10
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.ReceiveMaximum == 0 {
		o.ReceiveMaximum = DefaultReceiveMaximum
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	switch {
	case o.TopicAliasMaximum == 0:
		o.TopicAliasMaximum = DefaultTopicAliasMaximum
	case o.TopicAliasMaximum < 0:
		o.TopicAliasMaximum = 0
	case o.TopicAliasMaximum > 65535:
		o.TopicAliasMaximum = 65535
	}
	if o.MaxKeepAlive > 65535*time.Second {
		o.MaxKeepAlive = 65535 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.NATSQoS == nil {
		q := byte(1)
		o.NATSQoS = &q
	}
	if o.Reserved == nil {
		o.Reserved = topic.Internal
	}
	if o.MaxPending <= 0 {
		o.MaxPending = defaultMaxPending
	}
	return o
}

// Broker is leafgate's MQTT server side: it serves MQTT connections
// handed to Serve and keeps their sessions, attached to the router.
type Broker struct {
	opts Options
	log  *slog.Logger
	r    *router.Router
	// stp and persp are set once the session store is open (at New, or
	// by ensureStore); stMu serializes opening it.
	stp   atomic.Pointer[sessstore.Store]
	persp atomic.Pointer[persister]
	stMu  sync.Mutex

	mu       sync.Mutex // guards sessions, conns, watched and closed
	sessions map[string]*session
	conns    map[*conn]struct{}
	watched  map[<-chan struct{}]bool
	closed   bool

	serving sync.WaitGroup // Serve calls running

	warmed  atomic.Bool // the retained store was told a client came
	nextCID atomic.Uint64
	stats   Stats

	adminSubs []*router.Sub
	replies   *replies
}

// Stats are the broker's counters.
type Stats struct {
	Connections   atomic.Int64 // currently open
	TotalConns    atomic.Int64
	InMsgs        atomic.Int64
	OutMsgs       atomic.Int64
	Dropped       atomic.Int64 // QoS 1/2 messages dropped: a session's queue was full
	DroppedQoS0   atomic.Int64 // QoS 0 messages dropped for a slow connection
	DroppedTooBig atomic.Int64 // messages larger than a client's Maximum Packet Size
	DroppedProps  atomic.Int64 // user properties NATS headers cannot carry
}

// New returns a Broker on opts.Router.
func New(opts Options) (*Broker, error) {
	if opts.Router == nil {
		return nil, errors.New("mqtt: no router")
	}
	opts = opts.withDefaults()
	b := &Broker{
		opts:     opts,
		log:      opts.Logger,
		r:        opts.Router,
		sessions: make(map[string]*session),
		conns:    make(map[*conn]struct{}),
	}
	if opts.Sessions != nil {
		b.persp.Store(newPersister(opts.Sessions, b.log))
		b.stp.Store(opts.Sessions)
		if err := b.restore(); err != nil {
			b.Close()
			return nil, fmt.Errorf("mqtt: restore sessions: %w", err)
		}
	}
	if err := b.startAdmin(); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.startReplies(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// newCID is the next connection id.
func (b *Broker) newCID() uint64 {
	if b.opts.NextCID != nil {
		return b.opts.NextCID()
	}
	return b.nextCID.Add(1)
}

// Stats returns the broker's counters.
func (b *Broker) Stats() *Stats { return &b.stats }

// Serve runs one MQTT connection until it ends; closing is closed when
// the server shuts down. It is leaf/server's ListenerConfig.Serve, and
// WebSocket hands it a net.Conn carrying MQTT too.
func (b *Broker) Serve(nc net.Conn, closing <-chan struct{}) {
	c := newConn(b, nc, closing)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		nc.Close()
		return
	}
	b.conns[c] = struct{}{}
	b.serving.Add(1)
	defer b.serving.Done()
	if closing != nil && !b.watched[closing] {
		// One watcher per listener, not one goroutine per connection.
		if b.watched == nil {
			b.watched = make(map[<-chan struct{}]bool)
		}
		b.watched[closing] = true
		go b.closeOn(closing)
	}
	b.mu.Unlock()
	b.stats.Connections.Add(1)
	b.stats.TotalConns.Add(1)
	c.run()
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	b.stats.Connections.Add(-1)
}

// closeOn shuts the connections down once closing is closed (the server
// is shutting down or entering lame duck).
func (b *Broker) closeOn(closing <-chan struct{}) {
	<-closing
	b.mu.Lock()
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// Close ends every connection (5.0 clients get DISCONNECT 0x8B Server
// shutting down) and stops session timers. Persistent sessions stay in
// their store.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	sessions := make([]*session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	for _, s := range sessions {
		s.stopTimers()
	}
	for _, rs := range b.adminSubs {
		_ = b.r.Unsubscribe(rs)
	}
	b.adminSubs = nil
	b.serving.Wait() // every connection has detached from its session
	b.stMu.Lock()
	if p := b.persp.Load(); p != nil {
		p.close()
	}
	b.stMu.Unlock()
	if b.replies != nil {
		_ = b.r.Unsubscribe(b.replies.rs)
		b.replies = nil
	}
}

// assignClientID makes a client identifier for a client that sent none.
func assignClientID() string {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	return "leafgate-" + hex.EncodeToString(raw[:])
}

// Reject refuses a connection over a connection limit in MQTT's words:
// it reads the CONNECT (within the deadline the caller set) and answers
// CONNACK 0x89 Server busy in 5.0, 0x03 Server unavailable in 3.1.1.
func (b *Broker) Reject(nc net.Conn) {
	buf := make([]byte, 0, 512)
	for {
		h, complete, err := packet.Split(buf, preConnectMax)
		if err != nil {
			return
		}
		if complete {
			var p packet.Connect
			_ = p.Decode(0, buf[:h.Len()])
			ack := packet.Connack{Code: packet.ServerBusy}
			v := p.Version
			if v != packet.V5 {
				v, ack.Code = packet.V311, packet.ConnackServerUnavailable
			}
			_, _ = nc.Write(ack.Append(nil, v))
			return
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
	}
}

// ensureStore opens the session store on first need (Options.OpenSessions).
// A failure is logged and sessions stay in memory.
func (b *Broker) ensureStore() {
	if b.stp.Load() != nil || b.opts.OpenSessions == nil {
		return
	}
	b.stMu.Lock()
	defer b.stMu.Unlock()
	if b.stp.Load() != nil {
		return
	}
	st, err := b.opts.OpenSessions()
	if err != nil {
		b.log.Error("mqtt: session store unavailable; persistent sessions are kept in memory only", "err", err)
		return
	}
	b.persp.Store(newPersister(st, b.log))
	b.stp.Store(st)
}
