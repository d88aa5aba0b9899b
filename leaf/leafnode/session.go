package leafnode

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nkeys"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/netio"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
)

// defaultPort is the leafnode port a URL without one means.
const defaultPort = "7422"

// jsClientDeny is what nats-server denies in both directions on a leaf
// link of a non-system account: the JetStream API and KV/object store
// subjects without a domain, which would reach whichever side answers
// first. Domain-qualified forms ($JS.<domain>.API.>) pass.
var jsClientDeny = []string{"$JS.API.>", "$KV.>", "$OBJ.>"}

var (
	errStale        = errors.New("stale connection: no answer to PING")
	errConnectStale = errors.New("stale leafnode connection: no answer to CONNECT")
	errWrongPort    = errors.New("attempted to connect to wrong port: not a leafnode port")
)

// session is one connection to the hub, from dial to close. Its read loop
// (the link's run goroutine) owns the parser, the hub's interest and the
// handshake state; mu guards the output buffer and what publishers read.
type session struct {
	l   *Link
	url *url.URL
	// nc is replaced by its TLS client once, by the read loop under mu;
	// fail, which may run on any goroutine, reads it under mu.
	nc net.Conn

	// r and w are the connection as the protocol sees it: nc itself, or
	// S2 streams over it once compression is negotiated.
	r        io.Reader
	w        io.Writer
	s2w      *s2.Writer // w when compressing; flushed after each batch (owned by the writer once it runs)
	s2       bool       // S2 streams are on; set before the writer starts
	compress string     // the negotiated mode, as CONNECT's compress_mode says it
	// relevel is an S2 level s2_auto picked from a newer RTT, for the
	// writer to switch to between batches (guarded by mu).
	relevel string

	start        time.Time      // when the TCP connection was up
	ws           bool           // over WebSocket: TLS belongs to the dialer
	wsCompressed bool           // permessage-deflate agreed: no S2 on top
	info         leafproto.Info // the hub's first INFO
	established  bool

	// Read-loop state.
	parser  leafproto.Parser
	hubMu   sync.Mutex             // guards hubSubs for Link.HubInterest; the read loop is the only writer
	hubSubs map[string]*router.Sub // by "subject" or "subject queue", as LS+/LS- key them
	pub     router.Publisher
	flush   router.FlushSet
	capLog  bool // the MaxHubSubs warning was logged this session

	// Permissions for this session: what may be advertised and received
	// (import), what may be sent (export). Set before the session is
	// visible to publishers and the interest feed; an INFO may replace
	// them (updatePermissions) under Link.mu and mu.
	imports *auth.Checker
	exports *auth.Checker
	denyOut []string // export deny patterns, to skip hub interest nothing may reach
	// receivable remembers import checks for the read loop.
	receivable decisions

	lastErr atomic.Value // string: the hub's last -ERR, why the link ends if the hub closes it next
	lastIn  atomic.Int64 // unix nanos of the last read
	// The writer's progress, for the pinger (unix nanos): since when it
	// has been writing without going idle (0 while idle), and when it
	// last got a chunk out after writing for a while (see pingLoop).
	busySince atomic.Int64
	drainedAt atomic.Int64
	pingsOut  atomic.Int32
	pingAt    atomic.Int64 // unix nanos the last PING went out
	rtt       atomic.Int64
	// PINGs written (under mu, in the order they are queued) and PONGs
	// read: the hub answers in order, so PONG n answers PING n (Probe).
	pingsSent uint64
	pongs     atomic.Uint64

	done chan struct{}
	kick chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	out      netio.OutQueue
	spare    [][]byte
	writing  int
	kicked   bool
	closed   bool
	err      error
	sendable decisions // export checks, under mu
	line     []byte    // scratch for one protocol line, under mu
	reply    []byte    // scratch for "<reply>@<subject>", under mu
	qbuf     [][]byte
}

func newSession(l *Link, u *url.URL, nc net.Conn) *session {
	s := &session{
		l:       l,
		url:     u,
		nc:      nc,
		hubSubs: map[string]*router.Sub{},
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	s.r, s.w = nc, nc
	s.parser.MaxPayload = l.set.opts.MaxPayload
	s.pub = router.Publisher{Origin: l, NoEcho: true, Link: true, Pending: &s.flush}
	return s
}

// connect runs one session against u: dial, handshake, serve. It returns
// whether the session got established and why it ended (never nil).
func (l *Link) connect(u *url.URL) (established bool, err error) {
	nc, wsComp, err := l.dial(u)
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	s := newSession(l, u, nc)
	s.ws = u.Scheme == "ws" || u.Scheme == "wss"
	s.wsCompressed = wsComp
	s.start = time.Now()
	l.mu.Lock()
	l.status.Connecting = true
	l.status.URL = Redact(u)
	l.mu.Unlock()
	// Closing the link ends the session, in the handshake too.
	stop := context.AfterFunc(l.ctx, func() { s.fail(errClosed) })
	defer stop()
	err = s.run()
	s.end(err)
	return s.established, err
}

// dial opens the transport to u: TCP, or a WebSocket through the
// injected dialer (which also runs TLS for wss://).
func (l *Link) dial(u *url.URL) (net.Conn, bool, error) {
	switch u.Scheme {
	case "ws", "wss":
		dws := l.set.opts.DialWebSocket
		if dws == nil {
			return nil, false, errors.New("leafnode over WebSocket is not available")
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.remote.DialTimeout) // Close must not wait out a dial
		defer cancel()
		c, err := dws(ctx, u, WSDialOptions{
			TLS: l.remote.TLS, Compression: l.remote.WSCompression, NoMasking: l.remote.WSNoMasking,
			Wrap: func(c net.Conn) net.Conn { return &countConn{Conn: c, st: &l.stats} },
		})
		if err != nil {
			return nil, false, err
		}
		return c, c.Compressed(), nil
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	d := net.Dialer{Timeout: l.remote.DialTimeout, KeepAlive: l.remote.PingInterval}
	c, err := d.DialContext(l.ctx, "tcp", host) // Close must not wait out a dial
	if err != nil {
		return nil, false, err
	}
	return &countConn{Conn: c, st: &l.stats}, false, nil
}

// countConn counts the bytes on the wire (below TLS, WebSocket framing
// and S2) for /leafz.
type countConn struct {
	net.Conn
	st *stats
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.st.wireIn.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.st.wireOut.Add(int64(n))
	return n, err
}

// WriteBuffers keeps writev for the WebSocket dialer's frames (it
// satisfies ws.BuffersWriter).
func (c *countConn) WriteBuffers(v *net.Buffers) (int64, error) {
	n, err := v.WriteTo(c.Conn)
	c.st.wireOut.Add(n)
	return n, err
}

// run does the handshake and then reads until the connection fails.
func (s *session) run() error {
	r := &s.l.remote
	if r.HandshakeFirst && !s.ws {
		if err := s.startTLS(); err != nil {
			return err
		}
	}
	_ = s.nc.SetReadDeadline(time.Now().Add(r.FirstInfoTimeout))
	rest, err := s.readFirstInfo()
	if err != nil {
		return err
	}
	if !s.info.FromLeafnodePort() {
		return errWrongPort
	}
	// The hub's other servers are candidates from its first INFO on, as
	// in nats-server, even if this handshake goes no further.
	s.l.setDiscovered(&s.info, s.url)
	if !s.ws && (s.url.Scheme == "tls" || r.TLS != nil || s.info.TLSRequired) {
		if _, ok := s.nc.(*tls.Conn); !ok {
			if len(rest) > 0 {
				return errors.New("protocol: data after INFO before the TLS handshake")
			}
			if err := s.startTLS(); err != nil {
				return err
			}
		}
	}
	if err := s.negotiateCompression(); err != nil {
		return err
	}
	connect, err := s.connectProto()
	if err != nil {
		return err
	}
	// The writer starts with CONNECT queued; nothing else may precede it.
	s.mu.Lock()
	s.out.Write(connect)
	s.mu.Unlock()
	s.wg.Add(1)
	go s.writeLoop()
	s.kickWriter()
	if !s.info.InfoOnConnect {
		// An old hub sends no INFO in answer to CONNECT.
		s.establish(nil)
	} else {
		_ = s.nc.SetReadDeadline(time.Now().Add(r.ConnectTimeout))
	}
	return s.readLoop(rest)
}

// negotiateCompression agrees on S2 compression with the hub as a
// soliciting nats-server does: when both sides want it, send our INFO with
// the mode, switch both directions to S2 streams, and read the hub's INFO
// again (it sends one, compressed, carrying the nonce to sign).
func (s *session) negotiateCompression() error {
	local := s.l.remote.Compression
	if s.wsCompressed {
		// Never S2 over WebSocket compression (nats-server's rule).
		s.compress = leafproto.CompressionOff
		return nil
	}
	if !leafproto.NeedsCompression(local) {
		// What nats-server tells the hub then: an old hub (no mode in its
		// INFO) or a remote configured as one hears "not supported".
		s.compress = leafproto.CompressionOff
		if s.info.Compression == "" || local == leafproto.CompressionNotSupported {
			s.compress = leafproto.CompressionNotSupported
		}
		return nil
	}
	mode, err := leafproto.SelectCompression(local, s.info.Compression)
	if err != nil {
		s.writeDirect(leafproto.AppendErr(nil, err.Error()))
		return err
	}
	if mode == leafproto.CompressionS2Auto {
		// The handshake's round trip, as nats-server measures it.
		mode = leafproto.S2AutoMode(time.Since(s.start), s.l.remote.RTTThresholds)
	}
	s.compress = mode
	if !leafproto.NeedsCompression(mode) {
		return nil
	}
	o := &s.l.set.opts
	info := leafproto.Info{
		ServerID: o.ServerID, ServerName: o.ServerName, Version: o.Version, Proto: connectProtocol,
		Headers: true, MaxPayload: int32(o.MaxPayload), JetStream: o.JetStream, Domain: o.Domain,
		Compression: leafproto.InfoCompressionMode(local, mode),
	}
	if err := s.writeDirect(leafproto.AppendInfo(nil, &info)); err != nil {
		return err
	}
	if wc, ok := s.nc.(WSConn); ok && s.ws {
		// Under the WebSocket frames, as nats-server puts it; s.r and s.w
		// stay the WebSocket connection, which flushes S2 after each frame.
		err := wc.WrapStream(
			func(raw io.Reader) io.Reader { return newS2Reader(raw) },
			func(raw io.Writer) io.Writer { return s2.NewWriter(raw, s2Options(mode)...) })
		if err != nil {
			return err
		}
	} else {
		s.s2w = s2.NewWriter(s.nc, s2Options(mode)...)
		s.w = s.s2w
		s.r = newS2Reader(s.nc)
	}
	s.s2 = true
	_ = s.nc.SetReadDeadline(time.Now().Add(s.l.remote.FirstInfoTimeout))
	rest, err := s.readFirstInfo()
	if err != nil {
		return fmt.Errorf("compressed INFO: %w", err)
	}
	if len(rest) > 0 {
		return errors.New("protocol: data after the compressed INFO before CONNECT")
	}
	return nil
}

// newS2Reader reads the hub's S2 stream. S2's reader allocates 1 MiB up
// front for blocks of its default size; the hub writes a block per flush,
// mostly far smaller, so start at 64 KiB and let the reader grow its
// buffer for a bigger block when one comes.
func newS2Reader(r io.Reader) *s2.Reader {
	return s2.NewReader(r, s2.ReaderAllocBlock(64<<10))
}

// s2Options are the S2 writer options for a mode, as nats-server's.
func s2Options(mode string) []s2.WriterOption {
	// Synchronous (no goroutines), and 64 KiB blocks rather than S2's 1 MiB
	// default: a batch is flushed anyway, and a gateway's memory is small.
	opts := []s2.WriterOption{s2.WriterConcurrency(1), s2.WriterBlockSize(64 << 10)}
	switch mode {
	case leafproto.CompressionS2Uncompressed:
		opts = append(opts, s2.WriterUncompressed())
	case leafproto.CompressionS2Better:
		opts = append(opts, s2.WriterBetterCompression())
	case leafproto.CompressionS2Best:
		opts = append(opts, s2.WriterBestCompression())
	}
	return opts
}

// writeDirect writes b before the writer goroutine exists.
func (s *session) writeDirect(b []byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.l.set.opts.WriteDeadline))
	_, err := s.w.Write(b)
	if err == nil && s.s2w != nil {
		err = s.s2w.Flush()
	}
	_ = s.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// maxFirstInfoLine bounds the first INFO line as leafproto's parser bounds
// every later one: the control line limit for the arguments, plus the
// operation name and separators.
const maxFirstInfoLine = leafproto.DefaultMaxControlLine + 16

var errFirstInfoTooLong = errors.New("protocol: first INFO too long")

// readFirstInfo reads the hub's first INFO and returns bytes read past it.
func (s *session) readFirstInfo() ([]byte, error) {
	buf := make([]byte, 0, 4096)
	for {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line := bytes.TrimRight(buf[:i], "\r")
			if len(line) > maxFirstInfoLine {
				return nil, errFirstInfoTooLong
			}
			rest := buf[i+1:]
			op, arg, _ := bytes.Cut(line, []byte(" "))
			if !bytes.EqualFold(op, []byte("INFO")) {
				if bytes.EqualFold(op, []byte("-ERR")) {
					return nil, fmt.Errorf("hub: -ERR %s", bytes.Trim(bytes.TrimSpace(arg), "'"))
				}
				return nil, fmt.Errorf("protocol: expected INFO, got %q", snippet(line))
			}
			if err := json.Unmarshal(arg, &s.info); err != nil {
				return nil, fmt.Errorf("protocol: bad INFO: %w", err)
			}
			return rest, nil
		}
		// No line end yet: the line is at least len(buf)-1 long (a '\r'
		// may end buf), so how reads cut the stream never decides.
		if len(buf) > maxFirstInfoLine+1 {
			return nil, errFirstInfoTooLong
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := s.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, errors.New("no INFO from the hub within first_info_timeout")
			}
			return nil, fmt.Errorf("read INFO: %w", err)
		}
	}
}

func snippet(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// startTLS runs the TLS client handshake on the connection.
func (s *session) startTLS() error {
	r := &s.l.remote
	var cfg *tls.Config
	if r.TLS != nil {
		cfg = r.TLS.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg.ServerName = s.url.Hostname()
	}
	tc := tls.Client(s.nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(r.DialTimeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	s.mu.Lock()
	s.nc = tc
	s.mu.Unlock()
	s.r, s.w = tc, tc
	return nil
}

// connectProto builds the CONNECT a nats-server leaf sends, signing the
// hub's nonce with the remote's credentials.
func (s *session) connectProto() ([]byte, error) {
	o := &s.l.set.opts
	r := &s.l.remote
	c := leafproto.Connect{
		Version:       o.Version,
		ServerID:      o.ServerID,
		Name:          o.ServerName,
		Domain:        o.Domain,
		Headers:       s.info.Headers, // what both sides support, as nats-server sends it
		JetStream:     o.JetStream,
		DenyPub:       r.DenyImports,
		Isolate:       r.Isolate,
		RemoteAccount: globalAccount,
		Protocol:      connectProtocol,
		CompressMode:  s.compress,
	}
	nonce := []byte(s.info.Nonce)
	switch {
	case r.CredsFile != "":
		data, err := os.ReadFile(r.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		defer clear(data)
		jwt, err := userJWT(data)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: %w", r.CredsFile, err)
		}
		kp, err := nkeys.ParseDecoratedNKey(data)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: no user seed: %w", r.CredsFile, err)
		}
		defer kp.Wipe()
		sig, err := kp.Sign(nonce)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: sign: %w", r.CredsFile, err)
		}
		c.JWT, c.Sig = jwt, base64.RawURLEncoding.EncodeToString(sig)
	case r.Nkey != "":
		kp, err := nkeys.FromSeed([]byte(r.Nkey))
		if err != nil {
			return nil, errors.New("remote nkey has a malformed seed")
		}
		defer kp.Wipe()
		sig, err := kp.Sign(nonce)
		if err != nil {
			return nil, fmt.Errorf("nkey: sign: %w", err)
		}
		pub, _ := kp.PublicKey()
		c.Nkey, c.Sig = pub, base64.RawURLEncoding.EncodeToString(sig)
	}
	// User info in the URL wins over the configured user, as in nats-server;
	// a user without a password also goes as a token.
	user, pass, hasPass := r.User, r.Password, r.Password != ""
	if ui := s.url.User; ui != nil {
		user = ui.Username()
		pass, hasPass = ui.Password()
	}
	if user != "" {
		c.User, c.Pass = user, pass
		if !hasPass {
			c.AuthToken = user
		}
	}
	if r.Token != "" {
		c.AuthToken = r.Token
	}
	return leafproto.AppendConnect(nil, &c), nil
}

// userJWT is the user JWT of a .creds file. nkeys.ParseDecoratedJWT
// returns the first decorated block, or the whole file when it has none:
// in a file that lacks its JWT block that is the seed, which must never go
// to the hub as the "jwt". A JWT is three base64url segments; a seed has
// no dot.
func userJWT(creds []byte) (string, error) {
	jwt, err := nkeys.ParseDecoratedJWT(creds)
	if err != nil {
		return "", fmt.Errorf("no user JWT: %w", err)
	}
	parts := strings.Split(jwt, ".")
	ok := len(parts) == 3
	for _, p := range parts {
		ok = ok && p != "" && strings.Trim(p, base64URLChars) == ""
	}
	if !ok {
		return "", errors.New("no user JWT block")
	}
	return jwt, nil
}

const base64URLChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="

// globalAccount is the only local account leafgate has, named as
// nats-server names its global account.
const globalAccount = "$G"

// connectProtocol is the protocol level leafgate announces: 1 (async INFO).
// It does not take part in message tracing (nats-server's level 3), so the
// hub does not send it trace-only messages.
const connectProtocol = 1

// readLoop reads and parses until the connection fails.
func (s *session) readLoop(pending []byte) error {
	if len(pending) > 0 {
		s.lastIn.Store(time.Now().UnixNano())
		if err := s.parser.Parse(pending, s); err != nil {
			return err
		}
		s.flush.Flush()
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := s.r.Read(buf)
		if n > 0 {
			s.l.stats.protoIn.Add(int64(n))
			s.lastIn.Store(time.Now().UnixNano())
			perr := s.parser.Parse(buf[:n], s)
			s.flush.Flush()
			if perr != nil {
				if text := leafproto.ErrorText(perr); text != "" {
					s.writeProto(leafproto.AppendErr(nil, text)) // flushed as the session closes
				}
				return perr
			}
		}
		if err != nil {
			s.mu.Lock()
			why := s.err
			s.mu.Unlock()
			if why != nil {
				return why
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !s.established {
				s.writeProto(leafproto.AppendErr(nil, leafproto.ErrTextStaleLeafConnection))
				return errConnectStale
			}
			if errors.Is(err, io.EOF) {
				if e, _ := s.lastErr.Load().(string); e != "" {
					return errors.New(e)
				}
				return errors.New("connection closed by the hub")
			}
			return err
		}
	}
}

// establish completes the handshake: permissions from the hub's answer,
// then the loop-detection subject and the whole local interest, and from
// then on every change in order.
func (s *session) establish(answer *leafproto.Info) {
	l := s.l
	var err error
	s.imports, s.exports, s.denyOut, err = l.permissions(answer)
	if err != nil {
		l.log.Warn("leafnode: hub permissions unusable", "err", err)
		s.fail(fmt.Errorf("hub permissions: %w", err))
		return
	}
	s.sendable = decisions{check: func(subj string) bool { return s.exports.CanPublish(subj) }}
	s.receivable = decisions{check: func(subj string) bool { return s.imports.CanSubscribe(subj, "") }}
	_ = s.nc.SetReadDeadline(time.Time{})
	s.established = true

	l.mu.Lock()
	s.mu.Lock()
	s.line = leafproto.AppendSub(s.line[:0], []byte(l.set.lds), nil, 0)
	s.queueInterest(l.local, nil, s.imports)
	s.mu.Unlock()
	l.sess = s
	l.cur.Store(s)
	if l.stats.everUp.Swap(true) {
		l.stats.reconnects.Add(1)
	}
	l.status = Status{
		LastError:     l.status.LastError, // why the previous session ended, kept for /leafz
		Connected:     true,
		URL:           Redact(s.url),
		Since:         time.Now(),
		HubServer:     s.info.ServerName,
		HubID:         s.info.ServerID,
		HubCluster:    s.info.Cluster,
		HubDomain:     s.info.Domain,
		RemoteAccount: remoteAccount(answer),
		Compression:   s.compress,
	}
	l.mu.Unlock()
	if answer != nil {
		l.setDiscovered(answer, s.url)
	}
	s.sendPing()
	s.wg.Add(1)
	go s.pingLoop()
	l.log.Info("leafnode link up", "url", Redact(s.url), "hub", s.info.ServerName,
		"hub_cluster", s.info.Cluster, "hub_domain", s.info.Domain)
}

// queueInterest appends to s.line, and queues in chunks, the local
// interest whose advertising changes from was to now: LS+ for what now
// allows and was did not (was nil: nothing advertised yet), LS- for the
// reverse. The caller holds Link.mu (so the feed cannot interleave) and
// mu.
func (s *session) queueInterest(local map[interestKey]int32, was, now *auth.Checker) {
	for k, w := range local {
		before := was != nil && was.CanSubscribe(k.subject, k.queue)
		after := now.CanSubscribe(k.subject, k.queue)
		switch {
		case after && !before:
			s.line = appendInterest(s.line, k.subject, k.queue, w)
		case before && !after:
			s.line = appendInterest(s.line, k.subject, k.queue, 0)
		}
		if len(s.line) >= netio.OutChunkSize {
			s.out.Write(s.line)
			s.line = s.line[:0]
		}
	}
	s.out.Write(s.line)
}

// permissions compiles what a session may advertise and receive
// (imports) and send (exports) from the hub's INFO (its import/export
// for this leaf), the remote's deny_imports/deny_exports and the
// JetStream denies; denyOut is the export deny patterns.
func (l *Link) permissions(info *leafproto.Info) (imports, exports *auth.Checker, denyOut []string, err error) {
	o := &l.set.opts
	var perms *leafproto.Permissions
	if info != nil {
		perms = leafproto.LeafPermissions(info, l.remote.DenyImports, l.remote.DenyExports)
	}
	if perms == nil {
		// An old hub, or an answer without import/export (a hub user
		// without permissions): the remote's own denies still hold, as
		// in nats-server, which keeps the remote's permissions then.
		perms = &leafproto.Permissions{
			Publish:   &leafproto.SubjectPermission{Deny: slices.Clone(l.remote.DenyExports)},
			Subscribe: &leafproto.SubjectPermission{Deny: slices.Clone(l.remote.DenyImports)},
		}
	}
	if perms.Publish == nil {
		perms.Publish = &leafproto.SubjectPermission{}
	}
	if perms.Subscribe == nil {
		perms.Subscribe = &leafproto.SubjectPermission{}
	}
	perms.Publish.Deny = append(perms.Publish.Deny, jsClientDeny...)
	perms.Subscribe.Deny = append(perms.Subscribe.Deny, jsClientDeny...)
	if o.Domain != "" && o.JetStream {
		// Requests for the local domain stay local.
		perms.Publish.Deny = append(perms.Publish.Deny, "$JS."+o.Domain+".API.>")
	}
	exports, err = auth.Compile(&auth.Permissions{Publish: toAuth(perms.Publish)})
	if err == nil {
		imports, err = auth.Compile(&auth.Permissions{Subscribe: toAuth(perms.Subscribe)})
	}
	return imports, exports, perms.Publish.Deny, err
}

// updatePermissions applies new permissions from an INFO the hub sent
// after the link came up (nats-server trusts these on a solicited link):
// local interest they now allow is advertised and interest they no longer
// allow is withdrawn, in order with the interest feed (under Link.mu);
// hub interest nothing may reach any more leaves the router. Hub interest
// skipped before as unreachable is not known again until the next session.
func (s *session) updatePermissions(info *leafproto.Info) error {
	l := s.l
	imports, exports, denyOut, err := l.permissions(info)
	if err != nil {
		l.log.Warn("leafnode: hub permissions unusable", "err", err)
		return fmt.Errorf("hub permissions: %w", err)
	}
	l.mu.Lock()
	s.mu.Lock()
	old := s.imports
	s.imports, s.exports, s.denyOut = imports, exports, denyOut
	s.sendable.m, s.receivable.m = nil, nil // the checks read the new checkers
	s.line = s.line[:0]
	s.queueInterest(l.local, old, imports)
	s.mu.Unlock()
	l.mu.Unlock()
	s.kickWriter()
	r := l.set.opts.Router
	for key, sub := range s.hubSubs {
		if s.unreachable(sub.Subject) {
			s.hubMu.Lock()
			delete(s.hubSubs, key)
			s.hubMu.Unlock()
			_ = r.Unsubscribe(sub)
		}
	}
	l.log.Info("leafnode: hub permissions updated", "hub", s.info.ServerName)
	return nil
}

func remoteAccount(i *leafproto.Info) string {
	if i == nil {
		return ""
	}
	return i.RemoteAccount
}

func toAuth(p *leafproto.SubjectPermission) *auth.SubjectPermission {
	return &auth.SubjectPermission{Allow: p.Allow, Deny: p.Deny}
}

// appendInterest appends LS+ (weight > 0) or LS- for one interest.
func appendInterest(dst []byte, subj, queue string, weight int32) []byte {
	q := []byte(nil)
	if queue != "" {
		q = []byte(queue)
	}
	if weight == 0 {
		return leafproto.AppendUnsub(dst, []byte(subj), q)
	}
	if queue == "" {
		weight = 0
	}
	return leafproto.AppendSub(dst, []byte(subj), q, weight)
}

// advertise sends one interest change; the caller holds Link.mu, so
// changes go out in the order the router made them.
func (s *session) advertise(in router.Interest) {
	if !s.imports.CanSubscribe(in.Subject, in.Queue) {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.line = appendInterest(s.line[:0], in.Subject, in.Queue, in.Weight)
		s.out.Write(s.line)
	}
	s.mu.Unlock()
	s.kickWriter()
}

// fail ends the session with err (the first reason wins).
func (s *session) fail(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	nc := s.nc
	s.mu.Unlock()
	close(s.done)
	_ = nc.Close()
}

// end tears the session down after run returned: the link stops sending to
// it, the hub's interest leaves the router, goroutines finish.
func (s *session) end(err error) {
	l := s.l
	l.mu.Lock()
	if l.sess == s {
		l.sess = nil
		l.cur.Store(nil)
	}
	l.status.Connected = false
	l.status.Connecting = false
	l.mu.Unlock()
	s.closeFlushing(err)
	r := l.set.opts.Router
	s.hubMu.Lock()
	for _, sub := range s.hubSubs {
		_ = r.Unsubscribe(sub)
	}
	clear(s.hubSubs)
	s.hubMu.Unlock()
	s.wg.Wait()
}

// lingerTimeout bounds how long a session that ends on its own account
// may take to write what it queued last (and so how long Close may wait
// for that).
const lingerTimeout = time.Second

// closeFlushing closes the session after its read loop returned. When
// nothing failed it before (the read loop ended it: a loop detected, the
// hub's -ERR, a protocol error), what is queued is written first, within
// lingerTimeout, so the -ERR that tells the hub why the leaf closes gets
// there, as nats-server flushes before it closes. Otherwise the
// connection is already closed and there is nothing to do.
func (s *session) closeFlushing(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	s.mu.Unlock()
	_ = s.nc.SetWriteDeadline(time.Now().Add(lingerTimeout))
	close(s.done)
	s.wg.Wait() // the writer and the pinger stopped: the connection is ours
	s.mu.Lock()
	chunks := s.out.Take(nil)
	s.mu.Unlock()
	_ = s.writeChunks(chunks, 0)
	_ = s.nc.Close()
}

var crlf = []byte("\r\n")

// writeChunks writes queued chunks through the protocol's writer (S2 or
// the connection) and returns them to the pool. Only the writer
// goroutine, or closeFlushing once it stopped, calls it.
//
// With stall > 0 the write deadline is stall from each chunk on (a chunk
// is at most 64 KiB): a write fails when it makes no progress for stall,
// not when a large batch takes longer than that to go out. A slow uplink
// (64 KB/s takes two minutes for the default max_pending) is not a dead
// one; nats-server likewise only closes a leafnode connection on a write
// timeout when nothing was written. With stall 0 the caller's deadline
// holds for the whole batch.
func (s *session) writeChunks(chunks [][]byte, stall time.Duration) error {
	// progress renews the deadline and notes a chunk out after the
	// writer had been at it for a quarter ping interval: the hub took
	// data we had to wait for it to take.
	busyFor := int64(s.l.remote.PingInterval / 4)
	progress := func() {
		if stall > 0 {
			now := time.Now()
			_ = s.nc.SetWriteDeadline(now.Add(stall))
			if since := s.busySince.Load(); since != 0 && now.UnixNano()-since >= busyFor {
				s.drainedAt.Store(now.UnixNano())
			}
		}
	}
	var err error
	for _, c := range chunks {
		progress()
		s.l.stats.protoOut.Add(int64(len(c)))
		if _, err = s.w.Write(c); err != nil { // s.w is s2w when compressing
			break
		}
	}
	if err == nil && s.s2w != nil {
		progress()
		err = s.s2w.Flush()
	}
	for i, c := range chunks {
		netio.ReleaseChunk(c)
		chunks[i] = nil
	}
	return err
}

func (s *session) kickWriter() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// writeLoop writes what is buffered, one batch per wake-up.
func (s *session) writeLoop() {
	defer s.wg.Done()
	wd := s.l.set.opts.WriteDeadline
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		s.mu.Lock()
		s.writing = s.out.Size()
		chunks := s.out.Take(s.spare)
		s.spare = nil
		s.kicked = false
		relevel := s.relevel
		s.relevel = ""
		s.mu.Unlock()
		if relevel != "" && s.s2w != nil {
			// A new S2 stream at the new level; the hub's reader takes
			// the stream header that starts it, as nats-server's does.
			s.s2w = s2.NewWriter(s.nc, s2Options(relevel)...)
			s.w = s.s2w
		} else if wc, ok := s.nc.(WSConn); ok && relevel != "" && s.ws {
			// Over WebSocket the S2 stream is under the frames.
			_ = wc.WrapStream(nil, func(raw io.Writer) io.Writer { return s2.NewWriter(raw, s2Options(relevel)...) })
		}
		if len(chunks) == 0 {
			s.mu.Lock()
			s.spare = chunks
			s.mu.Unlock()
			continue
		}
		if s.busySince.Load() == 0 {
			s.busySince.Store(time.Now().UnixNano())
		}
		err := s.writeChunks(chunks, wd)
		s.mu.Lock()
		s.writing = 0
		s.spare = chunks[:0]
		more := s.out.Size() > 0
		s.mu.Unlock()
		if err != nil {
			s.fail(fmt.Errorf("write: %w", err))
			return
		}
		if more {
			s.kickWriter()
		} else {
			s.busySince.Store(0)
		}
	}
}

// pingLoop sends a PING each interval in which nothing arrived, and drops
// the link once nothing has arrived for MaxPingsOut+1 intervals: a
// black-holed link delivers no error, only silence. It looks four times
// an interval, so the verdict comes at most a quarter interval late.
//
// A backlog draining counts as hearing from the hub (drainedAt): when the
// writer, busy for a quarter interval or more without going idle, gets
// another chunk out, the hub is reading, however slowly (a 64 KB/s uplink
// takes two minutes for the default max_pending), and the PING queued
// behind that backlog cannot have been answered yet. A black hole stops
// the drain once the socket buffers are full, and silence counts from
// there. An idle link's writes (a PING) are over at once, so they never
// count.
func (s *session) pingLoop() {
	defer s.wg.Done()
	r := &s.l.remote
	t := time.NewTicker(max(r.PingInterval/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		silent := time.Since(time.Unix(0, max(s.lastIn.Load(), s.drainedAt.Load())))
		if silent < r.PingInterval {
			s.pingsOut.Store(0)
			continue
		}
		if silent >= r.PingInterval*time.Duration(r.MaxPingsOut+1) {
			s.fail(errStale)
			return
		}
		if time.Since(time.Unix(0, s.pingAt.Load())) >= r.PingInterval {
			s.sendPing()
		}
	}
}

// sendPing queues a PING and reports its number on the session.
func (s *session) sendPing() uint64 {
	s.pingsOut.Add(1)
	s.pingAt.Store(time.Now().UnixNano())
	s.mu.Lock()
	s.pingsSent++
	n := s.pingsSent
	if !s.closed {
		s.out.Write(leafproto.AppendPing(nil))
	}
	s.mu.Unlock()
	s.kickWriter()
	return n
}

// answered reports whether PING n has had its PONG, or the session ended.
func (s *session) answered(n uint64) bool {
	select {
	case <-s.done:
		return true
	default:
		return s.pongs.Load() >= n
	}
}

// writeProto queues a protocol line, never dropped for MaxPending.
func (s *session) writeProto(b []byte) {
	s.mu.Lock()
	if !s.closed {
		s.out.Write(b)
	}
	s.mu.Unlock()
	s.kickWriter()
}

// send queues one message for the hub. It runs on a publisher's goroutine
// and reports whether the link needs a Flush.
//
// When route differs from subj (JetStream delivering a stored message to
// an inbox), the message goes to route, and subj rides at the end of the
// reply, "<reply>@<subj>", as nats-server carries it over routes and
// leafnode links; the far side's server splits it off again.
func (s *session) send(route, subj, reply, hdr, payload []byte, queues []string) bool {
	size := len(payload)
	withHdr := hdr != nil && s.info.Headers
	if withHdr {
		size += len(hdr)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if !s.sendable.allowed(route) || (s.info.MaxPayload > 0 && size > int(s.info.MaxPayload)) ||
		int64(s.out.Size()+s.writing+size) > s.l.set.opts.MaxPending {
		s.mu.Unlock()
		s.l.stats.dropped.Add(1)
		return false
	}
	if len(reply) > 0 && !bytes.Equal(route, subj) && bytes.IndexByte(reply, '@') < 0 {
		s.reply = append(append(append(s.reply[:0], reply...), '@'), subj...)
		reply = s.reply
	}
	qs := s.qbuf[:0]
	for _, q := range queues {
		qs = append(qs, unsafe.Slice(unsafe.StringData(q), len(q)))
	}
	s.qbuf = qs[:0]
	if withHdr {
		s.line = leafproto.AppendHMsgLine(s.line[:0], route, reply, qs, len(hdr), size)
		s.out.Write(s.line)
		s.out.Write(hdr)
	} else {
		s.line = leafproto.AppendMsgLine(s.line[:0], route, reply, qs, size)
		s.out.Write(s.line)
	}
	s.out.Write(payload)
	s.out.Write(crlf)
	need := !s.kicked
	s.kicked = true
	s.mu.Unlock()
	s.l.stats.outMsgs.Add(1)
	s.l.stats.outBytes.Add(int64(size))
	return need
}

// decisions remembers a permission check per subject: a gateway sends
// and receives the same few subjects over and over, and a check walks
// every allow and deny pattern. Bounded: past 4096 subjects it starts
// over. Its owner serializes use.
type decisions struct {
	check func(subj string) bool
	m     map[string]bool
}

func (d *decisions) allowed(subj []byte) bool {
	if ok, hit := d.m[string(subj)]; hit {
		return ok
	}
	ok := d.check(string(subj))
	if d.m == nil || len(d.m) >= 4096 {
		d.m = make(map[string]bool)
	}
	d.m[string(subj)] = ok
	return ok
}

// The parser's handler: operations from the hub.

func (s *session) Info(arg []byte) error {
	var info leafproto.Info
	if err := json.Unmarshal(arg, &info); err != nil {
		return fmt.Errorf("protocol: bad INFO: %w", err)
	}
	if !s.established {
		if info.ConnectInfo {
			s.establish(&info)
		}
		return nil
	}
	s.l.setDiscovered(&info, s.url)
	if info.Import != nil || info.Export != nil {
		if err := s.updatePermissions(&info); err != nil {
			return err
		}
	}
	if info.LameDuckMode {
		s.l.log.Info("leafnode hub entering lame duck mode", "hub", s.info.ServerName)
	}
	return nil
}

func (s *session) Connect([]byte) error {
	return errors.New("protocol: CONNECT from the hub")
}

func (s *session) Sub(subj, queue []byte, weight int32) error {
	if !s.established {
		return errors.New("protocol: LS+ before the hub answered CONNECT")
	}
	if leafproto.IsLoopSubject(subj) {
		if string(subj) == s.l.set.lds {
			text := leafproto.LoopErrText(globalAccount)
			s.writeProto(leafproto.AppendErr(nil, text))
			s.l.delayNext(leafproto.ErrKindLoop.ReconnectDelay())
			return errors.New(text)
		}
		return nil // another server's loop marker: nothing to deliver
	}
	key := string(subj)
	if queue != nil {
		key += " " + string(queue)
	}
	if sub := s.hubSubs[key]; sub != nil {
		return nil // a queue weight update: local members are preferred anyway
	}
	if s.unreachable(string(subj)) {
		return nil
	}
	if len(s.hubSubs) >= s.l.remote.MaxHubSubs {
		s.l.stats.hubSubsIgnored.Add(1)
		if !s.capLog {
			s.capLog = true
			s.l.log.Warn("leafnode: hub interest over max_subscriptions, ignoring the rest",
				"max_subscriptions", s.l.remote.MaxHubSubs, "subject", string(subj))
		}
		return nil
	}
	sub := &router.Sub{Subject: string(subj), Queue: string(queue), Remote: true, Receiver: s.l}
	if err := s.l.set.opts.Router.Subscribe(sub); err != nil {
		s.l.log.Debug("leafnode: hub interest refused", "subject", sub.Subject, "err", err)
		return nil
	}
	s.hubMu.Lock()
	s.hubSubs[key] = sub
	s.hubMu.Unlock()
	return nil
}

// unreachable reports whether nothing published here could ever be sent
// to the hub on subj: a literal subject export denies, or a pattern inside
// an export deny. The hub advertises its whole account; keeping such
// interest would only cost memory.
func (s *session) unreachable(subj string) bool {
	if subject.IsLiteral([]byte(subj)) {
		return !s.exports.CanPublish(subj)
	}
	for _, d := range s.denyOut {
		if subject.SubsetOf(subj, d) {
			return true
		}
	}
	return false
}

func (s *session) Unsub(subj, queue []byte) error {
	key := string(subj)
	if queue != nil {
		key += " " + string(queue)
	}
	sub := s.hubSubs[key]
	if sub == nil {
		return nil
	}
	s.hubMu.Lock()
	delete(s.hubSubs, key)
	s.hubMu.Unlock()
	_ = s.l.set.opts.Router.Unsubscribe(sub)
	return nil
}

func (s *session) Msg(subj, reply []byte, queues [][]byte, hdr, payload []byte) error {
	s.l.stats.inMsgs.Add(1)
	s.l.stats.inBytes.Add(int64(len(hdr) + len(payload)))
	if !s.established || !s.receivable.allowed(subj) {
		return nil
	}
	// A JetStream message for a consumer's inbox comes routed by the
	// inbox, its stream subject after the ack reply: deliver it under
	// that subject, as nats-server does for a message from a route or leaf.
	route := subj
	if ack, deliver, ok := splitJSAckDeliver(reply); ok {
		subj, reply = deliver, ack
	}
	s.pub.Queues = queues
	s.l.set.opts.Router.PublishAs(&s.pub, route, subj, reply, hdr, payload)
	s.pub.Queues = nil
	return nil
}

// jsAckPrefix starts the reply of a JetStream message a consumer delivers.
const jsAckPrefix = "$JS.ACK."

// splitJSAckDeliver splits a reply "$JS.ACK.<8 more tokens...>@<subject>"
// into the ack reply and the subject the message must be delivered with.
// A server that delivers a consumer's message over a route or leafnode
// link sends it routed by the deliver subject (the inbox), so it appends
// the stream subject to the reply after an '@' (nats-server's
// processMsgResults). Only an '@' after the eighth dot counts: stream,
// consumer and subject tokens may contain '@' themselves.
func splitJSAckDeliver(reply []byte) (ack, deliver []byte, ok bool) {
	if len(reply) <= len(jsAckPrefix) || string(reply[:len(jsAckPrefix)]) != jsAckPrefix {
		return nil, nil, false
	}
	dots := 0
	for i, b := range reply {
		switch b {
		case '.':
			dots++
		case '@':
			if dots >= 8 {
				if i == len(reply)-1 {
					return nil, nil, false
				}
				return reply[:i], reply[i+1:], true
			}
		}
	}
	return nil, nil, false
}

func (s *session) Ping() error {
	s.writeProto(leafproto.AppendPong(nil))
	return nil
}

func (s *session) Pong() error {
	if s.pongs.Add(1) == 1 && s.l.remote.Settled != nil {
		go s.l.remote.Settled(s.l.Name(), s.literalHubInterest())
	}
	if at := s.pingAt.Load(); at != 0 {
		rtt := time.Duration(time.Now().UnixNano() - at)
		s.rtt.Store(int64(rtt))
		s.autoLevel(rtt)
	}
	s.pingsOut.Store(0)
	return nil
}

// literalHubInterest is the hub's plain interest in literal subjects.
func (s *session) literalHubInterest() []string {
	s.hubMu.Lock()
	defer s.hubMu.Unlock()
	var out []string
	for _, sub := range s.hubSubs {
		if sub.Queue == "" && subject.IsLiteral([]byte(sub.Subject)) {
			out = append(out, sub.Subject)
		}
	}
	slices.Sort(out)
	return out
}

// autoLevel follows the RTT with the S2 level under s2_auto, as
// nats-server does on each PONG.
func (s *session) autoLevel(rtt time.Duration) {
	if s.l.remote.Compression != leafproto.CompressionS2Auto || !s.s2 {
		return
	}
	mode := leafproto.S2AutoMode(rtt, s.l.remote.RTTThresholds)
	s.mu.Lock()
	if mode != s.compress {
		s.compress, s.relevel = mode, mode
	}
	s.mu.Unlock()
	s.l.mu.Lock()
	if s.l.sess == s {
		s.l.status.Compression = mode
	}
	s.l.mu.Unlock()
}

func (s *session) Err(text []byte) error {
	kind := leafproto.ClassifyErr(text)
	if d := kind.ReconnectDelay(); d > 0 {
		s.l.delayNext(d)
	}
	switch kind {
	case leafproto.ErrKindDuplicateRemote:
		// Two servers of one name at the hub evict each other in turn;
		// wait as after the hub's other refusals rather than flap.
		s.l.delayNext(leafproto.LoopReconnectDelay)
		s.l.log.Warn("leafnode: the hub replaced this link with a newer one from a server of the same name;"+
			" two gateways sharing server_name evict each other", "server_name", s.l.set.opts.ServerName)
	case leafproto.ErrKindAuth:
		s.l.log.Warn("leafnode: the hub refused the credentials", "url", Redact(s.url))
	default:
		s.l.log.Warn("leafnode: -ERR from the hub", "err", strings.TrimSpace(string(text)))
	}
	// As a nats-server leaf, leave closing to the hub: some errors
	// (Maximum Subscriptions Exceeded) keep the link, and redialing would
	// only hit them again. Why the link ended is this -ERR if the hub
	// closes it next.
	s.lastErr.Store(fmt.Sprintf("hub: -ERR '%s'", strings.TrimSpace(string(text))))
	return nil
}
