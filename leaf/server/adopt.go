package server

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/proto"
)

// ClientOptions describe a NATS client connection that arrived through
// another transport (WebSocket): what its INFO says about that transport,
// and what it carried besides CONNECT.
type ClientOptions struct {
	// Transport names it in /connz ("websocket"); /connz's type for such
	// a client is the transport's name, as nats-server reports WebSocket
	// clients.
	Transport string
	// TLS is the transport's TLS state (wss://), nil without TLS. It sets
	// INFO's tls_required and tls_available, as nats-server does for
	// WebSocket clients, and /connz's TLS fields.
	TLS *tls.ConnectionState
	// Host and Port are the transport listener's, for INFO.
	Host string
	Port int
	// ConnectURLs replace INFO's connect_urls: the transport's URLs,
	// which clients reconnect by. Nil: none are advertised.
	ConnectURLs []string
	// PingInterval replaces the server's ping interval for this client
	// when positive (nats-server's websocket ping_interval).
	PingInterval time.Duration
	// Cookie credentials, used for the fields CONNECT leaves empty
	// (nats-server's user_cookie, pass_cookie, token_cookie).
	User, Password, Token string
}

// ServeClient runs conn, accepted by a listener added with AddListener
// (whose Serve calls this), as a NATS client connection: the same client
// code as the NATS port, with INFO first and no TLS of its own (the
// transport's is conn's). conn may wrap the connection Serve got if it
// exposes it with NetConn (ws.Conn does). The connection becomes a client:
// it counts once towards the connection limits, is listed in /connz, and
// is closed by the client code, not when Serve returns. ServeClient returns
// once CONNECT is handled (the read loop goes on in a goroutine of its own)
// or the connection has ended.
func (s *Server) ServeClient(conn net.Conn, o ClientOptions) {
	c := newClient(s, conn)
	c.via = &o
	if o.TLS != nil {
		c.tlsVersion = tlsVersionName(o.TLS.Version)
		c.tlsCipher = tls.CipherSuiteName(o.TLS.CipherSuite)
	}
	s.mu.Lock()
	if s.shutdown || s.lameDuck {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.clients[c.cid] = c
	s.adoptLocked(conn)
	s.mu.Unlock()
	c.run()
}

// RejectClient tells a NATS client of another transport, refused by its
// listener's connection limit (a ListenerConfig.Reject), why: INFO, then
// -ERR 'maximum connections exceeded', as the NATS port does. The caller
// closes conn.
func (s *Server) RejectClient(conn net.Conn, o ClientOptions) {
	c := newClient(s, conn)
	c.via = &o
	buf := proto.AppendInfo(nil, c.info(s.conf.Load()))
	buf = proto.AppendErr(buf, proto.ErrTextMaxConnections)
	if cs, ok := conn.(closeStatuser); ok {
		cs.SetCloseStatus(wsCloseStatus(reasonMaxConnections), reasonMaxConnections.String())
	}
	_, _ = conn.Write(buf)
}

// closeStatuser is a transport that tells its peer why it is closed: a
// WebSocket close frame's status (ws.Conn).
type closeStatuser interface {
	SetCloseStatus(code int, reason string)
}

// wsCloseStatus is the WebSocket close status for why a client is closed,
// as nats-server maps them (RFC 6455 §7.4.1).
func wsCloseStatus(r closeReason) int {
	switch r {
	case reasonClientClosed:
		return 1000
	case reasonAuthTimeout, reasonAuthViolation, reasonSlowConsumerPending,
		reasonSlowConsumerDeadline, reasonMaxConnections:
		return 1008
	case reasonTLSHandshake:
		return 1015
	case reasonProtocolViolation:
		return 1002
	case reasonMaxPayload:
		return 1009
	case reasonWriteError, reasonReadError, reasonStale, reasonServerShutdown:
		return 1001
	}
	return 1011
}

// cookieCreds fills the credentials CONNECT left empty from the
// transport's cookies.
func (c *client) cookieCreds(cr *auth.Credentials) {
	if c.via == nil {
		return
	}
	if cr.User == "" {
		cr.User = c.via.User
	}
	if cr.Password == "" {
		cr.Password = c.via.Password
	}
	if cr.Token == "" {
		cr.Token = c.via.Token
	}
}
