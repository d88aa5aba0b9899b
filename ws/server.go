// Package ws is leafgate's WebSocket listener: NATS clients (nats.ws,
// nats.js, nats.go with ws:// URLs) and MQTT clients (MQTT over WebSocket,
// MQTT §6) on one port, routed by the request path as nats-server routes
// them: a path ending in /mqtt (or with a /mqtt/ segment) is MQTT, one
// ending in /leafnode is reserved for the leafnode link, anything else is
// a NATS client.
//
// The HTTP upgrade is read here and answered by gorilla/websocket's
// Upgrader (the handshake: method, headers, key, origin, subprotocol and
// permessage-deflate negotiation). The frames after it go through
// leafgate's own codec (ws/frame) straight over the socket, so the
// connection (Conn) is read without a buffer of its own and served by the
// unchanged NATS client code and MQTT broker.
//
// Serve is a leaf/server ListenerConfig.Serve: the server accepts, runs
// TLS (wss://) and enforces the connection limits; Serve runs one
// connection from the upgrade request to its close.
//
// DialLeafnode is the client side, for leafgate's own leafnode link to a
// nats-server hub's WebSocket port (leaf/leafnode's DialWebSocket, which
// the binary wires in: leaf must not import ws). Its connection is the
// same Conn, writing masked frames.
package ws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/leafgate/leafgate/ws/frame"
)

// Defaults of Options.
const (
	DefaultHandshakeTimeout = 2 * time.Second // nats-server's default
	DefaultMaxMessage       = 64 << 20
)

// maxRequest bounds the upgrade request's size (request line and headers).
const maxRequest = 16 << 10

// Request is what a NATS client's upgrade request carried that its
// connection needs: credentials from cookies (nats-server's user_cookie,
// pass_cookie and token_cookie), used when CONNECT has none.
type Request struct {
	User, Password, Token string
}

// Options configure a Handler.
type Options struct {
	// HandshakeTimeout bounds reading the upgrade request and answering it;
	// 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxMessage caps one WebSocket message's payload (1009 above it); 0
	// means DefaultMaxMessage.
	MaxMessage int64
	// Compression offers permessage-deflate to clients that ask for it.
	Compression bool
	// SameOrigin refuses browsers whose Origin is not the request's own
	// scheme, host and port; AllowedOrigins, when not empty, refuses those
	// whose Origin is not one of these URLs. Requests without an Origin
	// (non-browser clients) pass both, as with nats-server.
	SameOrigin     bool
	AllowedOrigins []string
	// TLS says the listener runs TLS (wss://): a same-origin check then
	// expects an https origin.
	TLS bool
	// Cookie names whose values are used as credentials.
	UserCookie, PassCookie, TokenCookie string

	// NATS serves a NATS client on c, taking it over (leaf/server's
	// ServeClient): c is the client code's to close.
	NATS func(c *Conn, r *Request)
	// NATSReject and MQTTReject tell a client refused by a connection
	// limit why, in its protocol (INFO and -ERR; CONNACK Server busy).
	// Nil: the connection is closed with status 1008 only.
	NATSReject func(c *Conn, r *Request)
	MQTTReject func(c net.Conn)
	// MQTT serves an MQTT client on c (a leaf/server ListenerConfig.Serve);
	// nil answers /mqtt with 404, MQTT being off.
	MQTT func(c net.Conn, closing <-chan struct{})

	Logger *slog.Logger
}

// Handler serves one WebSocket listener.
type Handler struct {
	o       Options
	origins map[string][]origin // allowed origins by lower-case host
	up      websocket.Upgrader
}

type origin struct{ scheme, port string }

// New validates o and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.NATS == nil {
		return nil, errors.New("ws: Options.NATS is required")
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o}
	for _, ao := range o.AllowedOrigins {
		u, err := url.ParseRequestURI(ao)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("allowed_origins: %q is not a URL such as https://host:port", ao)
		}
		host, port := hostPort(u.Scheme == "https", u.Host)
		if h.origins == nil {
			h.origins = make(map[string][]origin)
		}
		h.origins[host] = append(h.origins[host], origin{scheme: strings.ToLower(u.Scheme), port: port})
	}
	h.up = websocket.Upgrader{
		HandshakeTimeout:  o.HandshakeTimeout,
		EnableCompression: o.Compression,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before, with its reason
		Error:             func(w http.ResponseWriter, _ *http.Request, status int, _ error) { w.WriteHeader(status) },
	}
	return h, nil
}

// kind of endpoint a request path selects.
type kind int

const (
	kindNATS kind = iota
	kindMQTT
	kindLeaf
)

// route tells the endpoint from the request path, as nats-server does (by
// suffix), and also takes /mqtt/anything as MQTT.
func route(path string) kind {
	switch {
	case strings.HasSuffix(path, "/leafnode"):
		return kindLeaf
	case strings.HasSuffix(path, "/mqtt"), strings.Contains(path, "/mqtt/"):
		return kindMQTT
	}
	return kindNATS
}

// Serve runs one connection: the upgrade, then the NATS client or the MQTT
// session on it. It is a leaf/server ListenerConfig.Serve.
func (h *Handler) Serve(nc net.Conn, closing <-chan struct{}) {
	c, k, req := h.upgrade(nc)
	if c == nil {
		return
	}
	if k == kindNATS {
		// The NATS client code owns c from here (ServeClient takes the
		// connection over) and returns once CONNECT is handled.
		h.o.NATS(c, req)
		return
	}
	h.o.MQTT(c, closing)
	// The MQTT connection's writer may still be sending its last bytes (a
	// DISCONNECT) before it closes c, within a write deadline of its own.
	t := time.NewTimer(closeWait)
	select {
	case <-c.Done():
	case <-t.C:
		c.Close()
	}
	t.Stop()
}

// closeWait bounds how long Serve waits for a served connection's writer
// to close it after the protocol's read side has ended.
const closeWait = 10 * time.Second

// Reject refuses a connection over a connection limit (a leaf/server
// ListenerConfig.Reject): it completes the upgrade, so the client hears
// why in its protocol, then closes with 1008.
func (h *Handler) Reject(nc net.Conn) {
	c, k, req := h.upgrade(nc)
	if c == nil {
		return
	}
	_ = c.SetDeadline(time.Now().Add(rejectWait))
	c.SetCloseStatus(frame.ClosePolicyViolation, "maximum connections exceeded")
	switch {
	case k == kindMQTT && h.o.MQTTReject != nil:
		h.o.MQTTReject(c)
	case k == kindNATS && h.o.NATSReject != nil:
		h.o.NATSReject(c, req)
	}
	c.Close()
}

// rejectWait bounds answering a refused connection after its upgrade.
const rejectWait = time.Second

// upgrade reads and answers the upgrade request. On failure it has
// answered with an HTTP error and returns a nil Conn.
func (h *Handler) upgrade(nc net.Conn) (*Conn, kind, *Request) {
	_ = nc.SetDeadline(time.Now().Add(h.o.HandshakeTimeout))
	br := bufio.NewReaderSize(&io.LimitedReader{R: nc, N: maxRequest}, 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		h.o.Logger.Debug("websocket: bad upgrade request", "remote", nc.RemoteAddr().String(), "err", err)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err) {
			return nil, 0, nil // nothing (whole) was asked
		}
		writeError(nc, http.StatusBadRequest, "bad request: "+err.Error())
		return nil, 0, nil
	}
	path := req.URL.EscapedPath()
	k := route(path)
	fail := func(status int, text string) (*Conn, kind, *Request) {
		h.o.Logger.Info("websocket upgrade refused", "remote", nc.RemoteAddr().String(), "path", path,
			"status", status, "reason", text)
		writeError(nc, status, text)
		return nil, 0, nil
	}
	switch {
	case k == kindLeaf:
		return fail(http.StatusNotFound, "leafnode websocket endpoint not enabled")
	case k == kindMQTT && h.o.MQTT == nil:
		return fail(http.StatusNotFound, "mqtt websocket endpoint not enabled")
	}
	if err := h.checkOrigin(req); err != nil {
		return fail(http.StatusForbidden, "origin not allowed: "+err.Error())
	}
	var respHdr http.Header
	if k == kindMQTT {
		offered := subprotocols(req.Header)
		proto := chooseMQTT(offered)
		switch {
		case proto != "":
			respHdr = http.Header{"Sec-Websocket-Protocol": {proto}}
		case len(offered) > 0:
			// A browser would fail the handshake on any answer it did not
			// offer; say why instead.
			return fail(http.StatusBadRequest, "websocket subprotocol must be mqtt (offered: "+strings.Join(offered, ", ")+")")
		}
		// None offered: none answered (MQTT §6 wants mqtt offered, but
		// such clients exist and a browser fails on an unoffered answer).
	}
	w := &responseWriter{conn: nc, br: br, header: http.Header{}}
	if _, err := h.up.Upgrade(w, req, respHdr); err != nil {
		if !w.hijacked {
			text := err.Error()
			if w.status == 0 {
				w.status = http.StatusBadRequest
			}
			return fail(w.status, strings.TrimPrefix(text, "websocket: "))
		}
		h.o.Logger.Debug("websocket: upgrade failed", "remote", nc.RemoteAddr().String(), "err", err)
		return nil, 0, nil
	}
	_ = nc.SetDeadline(time.Time{})
	dec := frame.Decoder{MaxMessage: h.o.MaxMessage, BinaryOnly: k == kindMQTT,
		Compression: bytes.Contains(w.resp.Bytes(), []byte("permessage-deflate"))}
	c := newConn(nc, dec, forwardedFor(req, nc.RemoteAddr()), nil)
	r := &Request{}
	if k == kindNATS {
		for _, ck := range req.Cookies() {
			switch ck.Name {
			case "":
			case h.o.UserCookie:
				r.User = ck.Value
			case h.o.PassCookie:
				r.Password = ck.Value
			case h.o.TokenCookie:
				r.Token = ck.Value
			}
		}
	}
	return c, k, r
}

// subprotocols lists the offered subprotocols of every
// Sec-WebSocket-Protocol header (each may be a comma list).
func subprotocols(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// chooseMQTT picks the server's preferred MQTT subprotocol among those
// offered: mqtt, then the legacy mqttv3.1 (MQTT.js and Paho send it for
// MQTT 3.1); "" when neither is offered.
func chooseMQTT(offered []string) string {
	legacy := ""
	for _, p := range offered {
		switch p {
		case "mqtt":
			return p
		case "mqttv3.1":
			legacy = p
		}
	}
	return legacy
}

// checkOrigin applies same_origin and allowed_origins as nats-server does.
func (h *Handler) checkOrigin(r *http.Request) error {
	if !h.o.SameOrigin && len(h.origins) == 0 {
		return nil
	}
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Sec-Websocket-Origin")
	}
	if o == "" {
		return nil // not a browser: the origin model does not apply (RFC 6455 §1.6)
	}
	u, err := url.ParseRequestURI(o)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad origin %q", o)
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := hostPort(scheme == "https", u.Host)
	if h.o.SameOrigin {
		rh, rp := hostPort(h.o.TLS, r.Host)
		want := "http"
		if h.o.TLS {
			want = "https"
		}
		if host != rh || port != rp || scheme != want {
			return fmt.Errorf("%s is not the same origin", o)
		}
	}
	if len(h.origins) > 0 {
		for _, a := range h.origins[host] {
			if a.scheme == scheme && a.port == port {
				return nil
			}
		}
		return fmt.Errorf("%s is not in allowed_origins", o)
	}
	return nil
}

// hostPort splits host[:port], with the scheme's default port.
func hostPort(tls bool, hp string) (string, string) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		host, port = hp, "80"
		if tls {
			port = "443"
		}
	}
	return strings.ToLower(host), port
}

// forwardedFor is the client address a proxy reported in X-Forwarded-For
// (its first, leftmost entry: the original client), with the socket's
// port; without a valid one, the socket's peer.
func forwardedFor(r *http.Request, peer net.Addr) net.Addr {
	xff := r.Header.Get("X-Forwarded-For")
	if xff == "" {
		return peer
	}
	first, _, _ := strings.Cut(xff, ",")
	ip := net.ParseIP(strings.TrimSpace(first))
	if ip == nil {
		return peer
	}
	port := 0
	if ta, ok := peer.(*net.TCPAddr); ok {
		port = ta.Port
	}
	return &net.TCPAddr{IP: ip, Port: port}
}

// writeError answers a refused upgrade: status, reason, close.
func writeError(nc net.Conn, status int, text string) {
	body := text + "\n"
	resp := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte(resp))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// responseWriter is the http.ResponseWriter and Hijacker gorilla's
// Upgrader answers through: the connection is ours already (there is no
// net/http server), so hijacking hands it back, and what gorilla writes
// is kept to see what it negotiated.
type responseWriter struct {
	conn     net.Conn
	br       *bufio.Reader
	header   http.Header
	status   int
	hijacked bool
	resp     bytes.Buffer // the 101 response gorilla wrote
}

func (w *responseWriter) Header() http.Header         { return w.header }
func (w *responseWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *responseWriter) WriteHeader(status int)      { w.status = status }

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	rc := &recordConn{Conn: w.conn, rec: &w.resp}
	return rc, bufio.NewReadWriter(w.br, bufio.NewWriterSize(rc, 512)), nil
}

// recordConn records what is written through it (the 101 response).
type recordConn struct {
	net.Conn
	rec *bytes.Buffer
}

func (r *recordConn) Write(b []byte) (int, error) {
	r.rec.Write(b)
	return r.Conn.Write(b)
}
