// Package server is leafgate's local NATS server: it accepts NATS client
// connections (plain or TLS), speaks the client protocol through leaf/proto,
// authenticates through leaf/auth, and attaches every connection to one
// leaf/router.Router that internal clients (JetStream, MQTT, the leafnode
// link) share. It knows nothing about those adapters; they reach the router
// through Server.Router. Listeners for other protocols (MQTT, WebSocket)
// are added with AddListener: the server accepts, enforces the connection
// limits, runs TLS and ends their connections with its own lifecycle; the
// protocol lives in the listener's Serve function.
//
// Goroutines: one accept loop per listener, and per client connection one
// read loop and one write loop; per connection of a listener added for
// another protocol (AddListener), one goroutine running its Serve. Every
// goroutine is started through Server.goFunc so Shutdown can wait for all
// of them.
//
// Lock order: Server.mu before client.mu. No lock is held across network I/O.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
)

// Version is leafgate's own version, set by the binary at start-up.
var Version = "dev"

// NATSVersion is the nats-server version leafgate reports in INFO. Clients
// gate features on it (nats.go's JetStream API picks request subjects by
// server version), so it names the nats-server release whose client-visible
// behaviour leafgate implements, not leafgate's own version. It stays at
// 2.11 although message schedules (2.12) are served: the rest of 2.12's
// API level 2 (counters, atomic batches, async persist) is refused, and the
// version must agree with the advertised api_lvl (see jetstream.APILevel).
const NATSVersion = "2.11.0"

// protoVersion is the client protocol level: 1 supports async INFO.
const protoVersion = 1

// Server is a running local NATS server.
type Server struct {
	conf   atomic.Pointer[liveConfig] // options and auth; swapped whole by Reload
	log    *slog.Logger
	id     string // server_id: a server public nkey, as nats-server uses
	name   string
	router *router.Router
	start  time.Time

	reloadMu sync.Mutex // serializes Reload

	mu          sync.Mutex // guards the fields below
	listener    net.Listener
	monListener net.Listener
	httpSrv     *http.Server
	clients     map[uint64]*client
	listeners   []*listener                                      // added with AddListener
	otherConns  int                                              // open connections of listeners, beside clients
	serving     map[net.Conn]servedConn                          // listener connections in Serve, by the conn Serve got
	closed      []*monitor.ConnInfo                              // ring of recently closed connections, newest last
	connz       []func(monitor.ConnzOptions) []*monitor.ConnInfo // other protocols' connections
	varz        []func(*monitor.Varz)                            // other protocols' /varz blocks
	shutdown    bool
	lameDuck    bool
	started     bool
	onShutdown  []func()

	nextCID atomic.Uint64
	wg      sync.WaitGroup
	done    chan struct{}
	closing chan struct{} // closed at Shutdown or lame duck: added listeners' Serve say goodbye

	stats serverStats

	jetStream atomic.Pointer[jetStreamSource] // set by SetJetStream
	leafz     atomic.Pointer[leafzSource]     // set by SetLeafz
	uplinkz   atomic.Pointer[uplinkzSource]   // set by SetUplinkz
}

// serverStats are totals across all connections, updated with atomics once
// per read batch rather than per message.
type serverStats struct {
	inMsgs, outMsgs, inBytes, outBytes atomic.Int64
	totalConns                         atomic.Int64
	slowConsumers                      atomic.Int64
	staleConns                         atomic.Int64
}

// maxClosedConns bounds the closed-connection history /connz?state=closed shows.
const maxClosedConns = 256

// New validates opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	a, err := auth.New(opts.Auth)
	if err != nil {
		return nil, fmt.Errorf("server: authorization: %w", err)
	}
	kp, err := nkeys.CreateServer()
	if err != nil {
		return nil, fmt.Errorf("server: create server id: %w", err)
	}
	id, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("server: server id: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:     log,
		id:      id,
		name:    opts.ServerName,
		router:  router.New(),
		clients: make(map[uint64]*client),
		serving: make(map[net.Conn]servedConn),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	s.conf.Store(&liveConfig{Options: opts, auth: a})
	if s.name == "" {
		s.name = id
	}
	return s, nil
}

// Router is the subject router all connections share. Internal clients
// (JetStream, MQTT sessions, the leafnode link) subscribe and publish here.
func (s *Server) Router() *router.Router { return s.router }

// ID is the server_id advertised in INFO.
func (s *Server) ID() string { return s.id }

// Name is the server_name advertised in INFO.
func (s *Server) Name() string { return s.name }

// Start opens the listeners and starts accepting clients. It returns once the
// listeners are bound, so ClientAddr is valid when it returns nil.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server: already started")
	}
	s.started = true
	s.start = time.Now()
	o := s.conf.Load()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", o.Listen, err)
	}
	s.listener = ln
	if o.MonitorListen != "" {
		mln, err := net.Listen("tcp", o.MonitorListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: monitoring listen on %s: %w", o.MonitorListen, err)
		}
		s.monListener = mln
		s.httpSrv = &http.Server{
			Handler:           monitor.NewHandler(s),
			ReadHeaderTimeout: 5 * time.Second,
		}
		s.goFunc(func() {
			if err := s.httpSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("monitoring server stopped", "err", err)
			}
		})
	}
	s.goFunc(func() { s.acceptLoop(ln, "nats", s.acceptClient) })
	s.log.Debug("listening for client connections", "addr", ln.Addr().String(),
		"server_id", s.id, "server_name", s.name, "tls", o.TLS != nil, "auth", o.auth.Required())
	return nil
}

// goFunc runs fn on a goroutine that Shutdown waits for.
func (s *Server) goFunc(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// ClientAddr is the bound client listener address, nil before Start.
func (s *Server) ClientAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// ClientURL is a nats:// URL for the client listener, handy in tests.
func (s *Server) ClientURL() string {
	addr := s.ClientAddr()
	if addr == nil {
		return ""
	}
	return "nats://" + addr.String()
}

// MonitorAddr is the bound monitoring listener address, nil when disabled.
func (s *Server) MonitorAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.monListener == nil {
		return nil
	}
	return s.monListener.Addr()
}

// Done is closed when the server has shut down.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) isShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// acceptClient registers a new connection and starts its loops. Over the
// connection limit it still sends INFO (clients expect one) and then the
// error, as nats-server does.
func (s *Server) acceptClient(conn net.Conn) {
	c := newClient(s, conn)
	s.mu.Lock()
	if s.shutdown || s.lameDuck {
		s.mu.Unlock()
		conn.Close()
		return
	}
	if s.numConnsLocked() >= s.conf.Load().MaxConnections {
		s.mu.Unlock()
		s.stats.totalConns.Add(1)
		s.rejectClient(c)
		return
	}
	s.clients[c.cid] = c
	s.mu.Unlock()
	s.stats.totalConns.Add(1)
	s.goFunc(c.run)
}

// rejectClient tells a client over the connection limit why it is turned
// away, best effort and with a short deadline.
func (s *Server) rejectClient(c *client) {
	s.log.Warn("maximum connections exceeded", "cid", c.cid, "remote", c.remote,
		"max_connections", s.conf.Load().MaxConnections)
	s.goFunc(func() {
		buf := proto.AppendInfo(nil, c.info(s.conf.Load()))
		buf = proto.AppendErr(buf, proto.ErrTextMaxConnections)
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.conn.Write(buf)
		c.conn.Close()
	})
}

// removeClient forgets a closed client and keeps its final state for
// /connz?state=closed.
func (s *Server) removeClient(c *client, info *monitor.ConnInfo) {
	s.mu.Lock()
	delete(s.clients, c.cid)
	if len(s.closed) >= maxClosedConns {
		copy(s.closed, s.closed[1:])
		s.closed = s.closed[:len(s.closed)-1]
	}
	s.closed = append(s.closed, info)
	s.mu.Unlock()
}

func (s *Server) clientList() []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		list = append(list, c)
	}
	return list
}

// NumClients is the number of open client connections, on every
// listener: NATS clients and the connections of listeners added with
// AddListener, which MaxConnections caps together.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.numConnsLocked()
}

// stopListening closes the listeners so no new client arrives.
func (s *Server) stopListening() {
	s.mu.Lock()
	ln := s.listener
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, l := range s.otherListeners() {
		l.ln.Close()
	}
}

// OnShutdown registers fn to run when Shutdown starts, after the listener
// closes and before clients are flushed and closed: JetStream ends waiting
// pull requests with 409 Server Shutdown there, as nats-server does.
func (s *Server) OnShutdown(fn func()) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, fn)
	s.mu.Unlock()
}

// Shutdown stops accepting, flushes what clients have pending and closes them,
// waiting at most until ctx is done. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		<-s.waitDone(ctx)
		return ctx.Err()
	}
	s.shutdown = true
	httpSrv, hooks := s.httpSrv, s.onShutdown
	s.mu.Unlock()

	s.stopListening()
	// Internal clients say goodbye while connections are still up (their
	// messages are flushed with everything else below).
	for _, fn := range hooks {
		fn()
	}
	s.mu.Lock()
	s.goingAwayLocked() // other protocols' connections say goodbye
	s.mu.Unlock()
	for _, c := range s.clientList() {
		c.closeConn(reasonServerShutdown, true)
	}
	if httpSrv != nil {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = httpSrv.Shutdown(hctx)
		cancel()
	}
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		close(s.done)
		s.log.Info("server shut down")
		return nil
	case <-ctx.Done():
		// Clients that would not flush in time are cut hard, and so
		// are other protocols' connections whose Serve is still running.
		for _, c := range s.clientList() {
			c.closeConn(reasonServerShutdown, false)
		}
		for _, c := range s.otherConnList() {
			c.Close()
		}
		<-finished
		close(s.done)
		return fmt.Errorf("server: shutdown: %w", ctx.Err())
	}
}

func (s *Server) waitDone(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		close(ch)
	}()
	return ch
}

// LameDuck stops accepting new clients, tells connected clients through an
// INFO with "ldm":true so they can reconnect elsewhere, waits
// LameDuckGracePeriod, then closes them spread evenly over the rest of
// LameDuckDuration, and shuts down. It returns when the server is down.
func (s *Server) LameDuck(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown || s.lameDuck {
		s.mu.Unlock()
		return s.Shutdown(ctx)
	}
	s.lameDuck = true
	s.goingAwayLocked() // other protocols' connections say goodbye now
	s.mu.Unlock()
	o := s.conf.Load()
	s.log.Info("entering lame duck mode", "duration", o.LameDuckDuration,
		"grace_period", o.LameDuckGracePeriod)
	s.stopListening()

	clients := s.clientList()
	for _, c := range clients {
		c.sendLameDuckInfo()
	}
	grace := o.LameDuckGracePeriod
	spread := o.LameDuckDuration - grace
	if spread <= 0 {
		spread = o.LameDuckDuration
		grace = 0
	}
	if !sleepCtx(ctx, grace) {
		return s.Shutdown(context.Background())
	}
	if len(clients) > 0 {
		step := spread / time.Duration(len(clients))
		for _, c := range clients {
			c.closeConn(reasonServerShutdown, true)
			if !sleepCtx(ctx, step) {
				break
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// sleepCtx sleeps d or until ctx is done; it reports whether it slept fully.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// baseInfo is the part of INFO common to all clients of this server, for
// the configuration o.
func (s *Server) baseInfo(o *liveConfig) proto.Info {
	host, port := splitHostPort(s.ClientAddr())
	return proto.Info{
		ServerID:     s.id,
		ServerName:   s.name,
		Version:      NATSVersion,
		Proto:        protoVersion,
		GoVersion:    runtime.Version(),
		Host:         host,
		Port:         port,
		Headers:      true,
		MaxPayload:   o.MaxPayload,
		AuthRequired: o.auth.InfoAuthRequired(),
		TLSRequired:  o.TLS != nil && !o.AllowNonTLS,
		TLSAvailable: o.TLS != nil && o.AllowNonTLS,
		TLSVerify:    o.TLS != nil && o.TLS.ClientAuth == tls.RequireAndVerifyClientCert,
		JetStream:    o.JetStream,
		APILevel:     o.JetStreamAPILevel,
	}
}

func splitHostPort(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String(), ta.Port
	}
	return "", 0
}
