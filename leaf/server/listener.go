package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// ListenerConfig describes a listener for another protocol (MQTT,
// WebSocket) that shares the server's lifecycle and connection limit. The
// server accepts, applies the limits and TLS, and runs Serve; the protocol
// lives entirely in Serve.
type ListenerConfig struct {
	// Name names the protocol ("mqtt", "websocket") in logs and errors.
	Name string
	// Addr is host:port; port 0 picks a free one (AddListener returns it).
	Addr string
	// TLS, when set, makes the server run the TLS handshake before Serve
	// (and before Reject), within TLSTimeout; nil is plain TCP.
	TLS *tls.Config
	// TLSTimeout bounds the handshake; 0 means DefaultTLSTimeout, as on
	// the NATS port.
	TLSTimeout time.Duration
	// MaxConns caps this listener's open connections; 0 means only the
	// server's MaxConnections, which counts every connection of every
	// listener.
	MaxConns int
	// Serve runs on its own goroutine (started through the server's
	// goFunc, so Shutdown waits for it) for each accepted connection,
	// after TLS. It owns conn and returns when done; conn is closed (again)
	// when it returns. closing is closed when the server shuts down or
	// enters lame duck mode: Serve should then say goodbye in its protocol
	// and close conn promptly. After Shutdown's context expires the server
	// closes conn itself.
	Serve func(conn net.Conn, closing <-chan struct{})
	// Reject, if set, is called for a connection over a limit (on its own
	// goroutine, after TLS, with a 1 s read and write deadline set), so the
	// protocol can refuse it in its own words; then conn is closed.
	Reject func(conn net.Conn)
}

// rejectDeadline bounds how long a connection over a limit is given to
// hear why it is refused.
const rejectDeadline = time.Second

// listener is one listener added with AddListener. Its conns are guarded
// by Server.mu.
type listener struct {
	cfg   ListenerConfig
	ln    net.Listener
	conns map[net.Conn]struct{} // open connections, as accepted (before TLS)
}

// AddListener binds cfg.Addr and starts accepting connections at once,
// whether or not Start has been called, handing each to cfg.Serve. It
// returns the bound address. The listener stops at Shutdown or LameDuck;
// Shutdown waits for every Serve to return. Its connections count towards
// the server's MaxConnections, NumClients and total connections.
func (s *Server) AddListener(cfg ListenerConfig) (net.Addr, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("server: listener without a name")
	case cfg.Serve == nil:
		return nil, fmt.Errorf("server: %s listener without Serve", cfg.Name)
	case cfg.MaxConns < 0:
		return nil, fmt.Errorf("server: %s listener: MaxConns %d is negative", cfg.Name, cfg.MaxConns)
	case cfg.TLSTimeout < 0:
		return nil, fmt.Errorf("server: %s listener: negative TLSTimeout", cfg.Name)
	}
	if cfg.TLSTimeout == 0 {
		cfg.TLSTimeout = DefaultTLSTimeout
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: %s listen on %s: %w", cfg.Name, cfg.Addr, err)
	}
	l := &listener{cfg: cfg, ln: ln, conns: make(map[net.Conn]struct{})}
	s.mu.Lock()
	if s.shutdown || s.lameDuck {
		s.mu.Unlock()
		ln.Close()
		return nil, fmt.Errorf("server: %s listener: server is shutting down", cfg.Name)
	}
	s.listeners = append(s.listeners, l)
	// Under mu, so Shutdown, which sets shutdown under mu before it
	// waits, waits for this loop too.
	s.goFunc(func() { s.acceptLoop(ln, cfg.Name, func(c net.Conn) { s.acceptOther(l, c) }) })
	s.mu.Unlock()
	s.log.Debug("listening for connections", "listener", cfg.Name, "addr", ln.Addr().String(), "tls", cfg.TLS != nil)
	return ln.Addr(), nil
}

// acceptLoop accepts connections on ln until it is closed, handing each
// to accept. Temporary errors (EMFILE and the like) back off, doubling
// from 5 ms to 1 s, as a server should not stop accepting for good.
func (s *Server) acceptLoop(ln net.Listener, name string, accept func(net.Conn)) {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isShuttingDown() || errors.Is(err, net.ErrClosed) {
				return
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.log.Warn("accept failed; retrying", "listener", name, "err", err, "backoff", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		accept(conn)
	}
}

// numConnsLocked is the open connections of every listener, which
// MaxConnections caps. The caller holds s.mu.
func (s *Server) numConnsLocked() int { return len(s.clients) + s.otherConns }

// acceptOther registers a connection of an added listener and serves it,
// or refuses it over a limit.
func (s *Server) acceptOther(l *listener, conn net.Conn) {
	s.mu.Lock()
	if s.shutdown || s.lameDuck {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.stats.totalConns.Add(1)
	max := s.conf.Load().MaxConnections
	if s.numConnsLocked() >= max || (l.cfg.MaxConns > 0 && len(l.conns) >= l.cfg.MaxConns) {
		s.mu.Unlock()
		s.log.Warn("maximum connections exceeded", "listener", l.cfg.Name, "remote", conn.RemoteAddr().String(),
			"max_connections", max, "listener_max_connections", l.cfg.MaxConns)
		s.goFunc(func() { s.rejectOther(l, conn) })
		return
	}
	l.conns[conn] = struct{}{}
	s.otherConns++
	closing := s.closing
	s.mu.Unlock()
	s.goFunc(func() { s.serveOther(l, conn, closing) })
}

// serveOther runs the TLS handshake, if any, and Serve.
// Unless Serve handed the connection to ServeClient (adopt), it is closed
// and forgotten when Serve returns.
func (s *Server) serveOther(l *listener, raw net.Conn, closing <-chan struct{}) {
	conn, err := l.handshake(raw)
	if err != nil {
		s.log.Info("TLS handshake failed", "listener", l.cfg.Name, "remote", raw.RemoteAddr().String(), "err", err)
		s.releaseOther(l, raw, nil)
		return
	}
	s.mu.Lock()
	s.serving[conn] = servedConn{l: l, raw: raw}
	s.mu.Unlock()
	l.cfg.Serve(conn, closing)
	s.releaseOther(l, raw, conn)
}

// servedConn is a listener's connection being served, by the conn its
// Serve got: what adopt needs to take it over.
type servedConn struct {
	l   *listener
	raw net.Conn
}

// releaseOther forgets and closes a listener's connection after its Serve
// returned, unless adopt took it over meanwhile (then it is a client, closed
// by the client code).
func (s *Server) releaseOther(l *listener, raw, conn net.Conn) {
	s.mu.Lock()
	if conn != nil {
		delete(s.serving, conn)
	}
	_, mine := l.conns[raw]
	if mine {
		delete(l.conns, raw)
		s.otherConns--
	}
	s.mu.Unlock()
	if mine {
		if conn != nil {
			conn.Close()
		}
		raw.Close()
	}
}

// adoptLocked takes the listener connection that conn (as Serve got it, or
// wrapped by a transport that exposes it with NetConn) is over: it stops
// counting as the listener's, since it counts as a client from now on, and
// its Serve may return while it lives on. The caller holds s.mu.
func (s *Server) adoptLocked(conn net.Conn) {
	if w, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = w.NetConn()
	}
	sc, ok := s.serving[conn]
	if !ok {
		return // not a listener's (tests serve conns of their own)
	}
	delete(s.serving, conn)
	if _, mine := sc.l.conns[sc.raw]; mine {
		delete(sc.l.conns, sc.raw)
		s.otherConns--
	}
}

// rejectOther lets the protocol refuse a connection over a limit, within
// rejectDeadline, and closes it.
func (s *Server) rejectOther(l *listener, raw net.Conn) {
	defer raw.Close()
	if l.cfg.Reject == nil {
		return
	}
	conn, err := l.handshake(raw)
	if err != nil {
		return
	}
	_ = conn.SetDeadline(time.Now().Add(rejectDeadline))
	l.cfg.Reject(conn)
	conn.Close()
}

// handshake runs the listener's TLS handshake on raw, if it has TLS.
func (l *listener) handshake(raw net.Conn) (net.Conn, error) {
	if l.cfg.TLS == nil {
		return raw, nil
	}
	tc := tls.Server(raw, l.cfg.TLS)
	_ = tc.SetDeadline(time.Now().Add(l.cfg.TLSTimeout))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// goingAwayLocked closes the channel added listeners' Serve functions
// watch, once: at Shutdown or at the start of lame duck mode. The caller
// holds s.mu.
func (s *Server) goingAwayLocked() {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
}

// otherListeners and otherConnList are snapshots for shutdown.
func (s *Server) otherListeners() []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*listener(nil), s.listeners...)
}

func (s *Server) otherConnList() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []net.Conn
	for _, l := range s.listeners {
		for c := range l.conns {
			list = append(list, c)
		}
	}
	return list
}
