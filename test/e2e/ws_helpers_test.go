package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// Helpers for the WebSocket end-to-end tests in ws_*_test.go: leafgate
// (the binary, through mqttpeer) and nats-server v2.15.2 (in-process) with
// their WebSocket listeners configured alike, their /connz and /subsz, and
// a raw WebSocket client that writes the frames well-behaved clients never
// send (unmasked, fragmented control frames, RSV1 without compression,
// text frames on MQTT) and reads the close frame the server answers with.

// wsOpts is one WebSocket set-up, mapped onto leafgate's websocket section
// and nats-server's options.
type wsOpts struct {
	certs       *tlsconf.TestCerts // wss:// with the test server certificate
	compression bool               // permessage-deflate
	user, pass  string             // authorization with this one user
	maxPayload  int                // max_payload; 0 leaves the default
	advertise   string             // host:port for WebSocket clients' connect_urls
	// leafgateWS is more websocket YAML for leafgate only (keys
	// nats-server has no equivalent of, like max_message_size).
	leafgateWS string
}

// wsTargets are the brokers with a WebSocket listener, narrowed by
// LEAFGATE_MQTT_TARGETS as the MQTT tests are.
func wsTargets() []string {
	var out []string
	for _, n := range mqttpeer.Targets() {
		if n == "leafgate" || n == "nats-server" {
			out = append(out, n)
		}
	}
	return out
}

// forWS runs fn as a subtest against leafgate and nats-server, each
// started with o.
func forWS(t *testing.T, o wsOpts, fn func(t *testing.T, b *mqttpeer.Broker)) {
	t.Helper()
	for _, name := range wsTargets() {
		t.Run(name, func(t *testing.T) { fn(t, startWS(t, name, o)) })
	}
}

// startWS starts the named broker with JetStream, MQTT, monitoring and a
// WebSocket listener set up as o says.
func startWS(t *testing.T, name string, o wsOpts) *mqttpeer.Broker {
	t.Helper()
	switch name {
	case "leafgate":
		var ws, conf strings.Builder
		if o.certs != nil {
			fmt.Fprintf(&ws, "  tls:\n    cert_file: %q\n    key_file: %q\n", o.certs.CertFile, o.certs.KeyFile)
		}
		if o.compression {
			ws.WriteString("  compression: true\n")
		}
		if o.advertise != "" {
			fmt.Fprintf(&ws, "  advertise: %q\n", o.advertise)
		}
		ws.WriteString(o.leafgateWS)
		if o.maxPayload != 0 {
			fmt.Fprintf(&conf, "max_payload: %d\n", o.maxPayload)
		}
		if o.user != "" {
			fmt.Fprintf(&conf, "authorization:\n  users:\n    - user: %q\n      password: %q\n", o.user, o.pass)
		}
		return mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{WebSocket: ws.String(), Config: conf.String(), Monitor: true})
	case "nats-server":
		return mqttpeer.StartNATSServer(t, mqttpeer.NATSServerOptions{WebSocket: true, Monitor: true,
			Configure: func(so *natsserver.Options) {
				if o.certs != nil {
					tc, err := tlsconf.Options{CertFile: o.certs.CertFile, KeyFile: o.certs.KeyFile}.ServerConfig()
					if err != nil {
						t.Fatal(err)
					}
					so.Websocket.TLSConfig, so.Websocket.NoTLS = tc, false
				}
				so.Websocket.Compression = o.compression
				so.Websocket.Advertise = o.advertise
				if o.maxPayload != 0 {
					so.MaxPayload = int32(o.maxPayload)
				}
				if o.user != "" {
					so.Users = []*natsserver.User{{Username: o.user, Password: o.pass}}
				}
			}})
	}
	t.Fatalf("no WebSocket broker %q", name)
	return nil
}

// wsURL is the broker's WebSocket URL for path ("" for NATS, "/mqtt").
func wsURL(b *mqttpeer.Broker, scheme, path string) string {
	if b.WSAddr == "" {
		panic(b.Name + " has no WebSocket listener")
	}
	return scheme + "://" + b.WSAddr + path
}

// --- monitoring ---

// wsConnInfo is what the WebSocket tests read of a /connz entry.
type wsConnInfo struct {
	CID        uint64 `json:"cid"`
	Kind       string `json:"kind"`
	Type       string `json:"type"`
	Transport  string `json:"transport"` // leafgate's; nats-server has none
	IP         string `json:"ip"`
	Name       string `json:"name"`
	Lang       string `json:"lang"`
	MQTTClient string `json:"mqtt_client"`
	NumSubs    int    `json:"subscriptions"`
}

func (c wsConnInfo) String() string {
	return fmt.Sprintf("{cid %d type %q transport %q ip %s name %q mqtt_client %q subs %d}",
		c.CID, c.Type, c.Transport, c.IP, c.Name, c.MQTTClient, c.NumSubs)
}

func monitorGet(t *testing.T, b *mqttpeer.Broker, path string, v any) {
	t.Helper()
	if b.MonitorURL == "" {
		t.Fatalf("%s runs no monitoring listener", b.Name)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(b.MonitorURL + path)
	if err != nil {
		t.Fatalf("%s %s: %v", b.Name, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v %s", b.Name, path, resp.Status, err, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s %s: %v in %s", b.Name, path, err, body)
	}
}

// wsConnz is /connz's list of open connections.
func wsConnz(t *testing.T, b *mqttpeer.Broker) []wsConnInfo {
	t.Helper()
	var cz struct {
		Conns []wsConnInfo `json:"connections"`
	}
	monitorGet(t, b, "/connz?limit=4096", &cz)
	return cz.Conns
}

// wsSubsCount is /subsz's num_subscriptions.
func wsSubsCount(t *testing.T, b *mqttpeer.Broker) int {
	t.Helper()
	var sz struct {
		N int `json:"num_subscriptions"`
	}
	monitorGet(t, b, "/subsz", &sz)
	return sz.N
}

// wsBaseline is what the broker holds before a test adds its connection:
// afterwards it must be back to it, nothing left behind.
type wsBaseline struct {
	conns []wsConnInfo
	subs  int
}

func takeBaseline(t *testing.T, b *mqttpeer.Broker) wsBaseline {
	t.Helper()
	return wsBaseline{conns: wsConnz(t, b), subs: wsSubsCount(t, b)}
}

// waitBack waits until /connz lists none but the baseline's connections
// (some of which may have gone since) and /subsz counts its subscriptions
// again; a connection or subscription a refused client left behind fails
// the test.
func (bl wsBaseline) waitBack(t *testing.T, b *mqttpeer.Broker, what string) {
	t.Helper()
	before := cids(bl.conns)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conns, subs := wsConnz(t, b), wsSubsCount(t, b)
		left := slices.ContainsFunc(conns, func(c wsConnInfo) bool { return !slices.Contains(before, c.CID) })
		if !left && subs == bl.subs {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: left behind on %s: connections %v (before: %v), %d subscriptions (before: %d)",
				what, b.Name, conns, bl.conns, subs, bl.subs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cids(cs []wsConnInfo) []uint64 {
	out := make([]uint64, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.CID)
	}
	slices.Sort(out)
	return out
}

// waitConn waits for the /connz entry match selects, failing after 10 s.
func waitConn(t *testing.T, b *mqttpeer.Broker, what string, match func(wsConnInfo) bool) wsConnInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conns := wsConnz(t, b)
		for _, c := range conns {
			if match(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no such connection in %s's /connz: %v", what, b.Name, conns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitConnGone waits until /connz has no entry match selects.
func waitConnGone(t *testing.T, b *mqttpeer.Broker, what string, match func(wsConnInfo) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conns := wsConnz(t, b)
		if !slices.ContainsFunc(conns, match) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in %s's /connz after 10 s: %v", what, b.Name, conns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- raw WebSocket client ---

// wsHello is the opening handshake a raw client sends.
type wsHello struct {
	path      string // request path, "/" when empty
	protocols string // Sec-WebSocket-Protocol, as sent; none when empty
	exts      string // Sec-WebSocket-Extensions, as sent; none when empty
	key       string // Sec-WebSocket-Key; a fresh valid one when empty
	header    http.Header
	tls       *tls.Config // wss://
}

// rawWS is a client connection driven frame by frame.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response
	key  string // the Sec-WebSocket-Key sent
	body string // the refusal's body, when not 101
	in   []byte // data frame payloads received so far, decompressed
	// deflate: permessage-deflate was agreed; data frames with RSV1 set
	// are decompressed on reading, and counted in compressed.
	deflate    bool
	compressed int
}

// wsDial sends the opening handshake and reads the answer; the caller
// checks resp.StatusCode. The connection is closed at cleanup.
func wsDial(t *testing.T, addr string, h wsHello) *rawWS {
	t.Helper()
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 10 * time.Second}
	if h.tls != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", addr, h.tls)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	if h.path == "" {
		h.path = "/"
	}
	if h.key == "" {
		k := make([]byte, 16)
		_, _ = rand.Read(k)
		h.key = base64.StdEncoding.EncodeToString(k)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", h.path, addr, h.key)
	if h.protocols != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", h.protocols)
	}
	if h.exts != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Extensions: %s\r\n", h.exts)
	}
	for k, vs := range h.header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("write handshake: %v", err)
	}
	r := &rawWS{t: t, conn: conn, br: bufio.NewReader(conn), key: h.key}
	r.resp, err = http.ReadResponse(r.br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("read handshake answer from %s: %v", addr, err)
	}
	if r.resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(r.resp.Body, 4096))
		r.body = string(b)
		r.resp.Body.Close()
	} else {
		r.deflate = strings.Contains(r.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	}
	return r
}

// mustUpgrade fails the test unless the handshake was accepted.
func (r *rawWS) mustUpgrade(what string) {
	r.t.Helper()
	if r.resp.StatusCode != http.StatusSwitchingProtocols {
		r.t.Fatalf("%s: handshake answered %s %v %q, want 101", what, r.resp.Status, r.resp.Header, r.body)
	}
}

// wsFrame is one frame as written or read.
type wsFrame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
	unmasked  bool // write without a mask (clients must mask)
}

const (
	wsOpCont   = 0x0
	wsOpText   = 0x1
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xA
)

// encodeFrame is a client frame's bytes: masked unless f.unmasked.
func encodeFrame(f wsFrame) []byte {
	b0 := f.op
	if f.fin {
		b0 |= 0x80
	}
	if f.rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	var mask byte = 0x80
	if f.unmasked {
		mask = 0
	}
	switch n := len(f.payload); {
	case n < 126:
		out = append(out, mask|byte(n))
	case n <= 0xFFFF:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.unmasked {
		return append(out, f.payload...)
	}
	key := make([]byte, 4)
	_, _ = rand.Read(key)
	out = append(out, key...)
	for i, c := range f.payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// write sends frames, fin and masked unless they say otherwise.
func (r *rawWS) write(frames ...wsFrame) {
	r.t.Helper()
	var buf []byte
	for _, f := range frames {
		buf = append(buf, encodeFrame(f)...)
	}
	_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.conn.Write(buf); err != nil {
		r.t.Fatalf("write frame: %v", err)
	}
}

// send writes data in one final, masked binary frame.
func (r *rawWS) send(data []byte) {
	r.t.Helper()
	r.write(wsFrame{fin: true, op: wsOpBinary, payload: data})
}

// sendDeflated writes data in one compressed binary frame (RSV1 set), as
// permessage-deflate has it: raw DEFLATE, flushed, the trailing
// 00 00 FF FF left off.
func (r *rawWS) sendDeflated(data []byte) {
	r.t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = w.Write(data)
	_ = w.Flush()
	r.write(wsFrame{fin: true, rsv1: true, op: wsOpBinary, payload: bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})})
}

// readFrame reads one server frame within timeout. Server frames must not
// be masked.
func (r *rawWS) readFrame(timeout time.Duration) (wsFrame, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, op: h[0] & 0x0F}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r.br, l[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(r.br, l[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// inflate undoes permessage-deflate on one message's payload.
func inflate(p []byte) ([]byte, error) {
	// The trailer the sender left off, then an empty final block so the
	// reader ends.
	p = append(slices.Clip(p), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
	return io.ReadAll(flate.NewReader(bytes.NewReader(p)))
}

// wsAccept is the Sec-WebSocket-Accept answering key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// ping sends a ping and returns the pong's payload; data arriving first
// is kept in r.in.
func (r *rawWS) ping(payload string) (string, error) {
	r.write(wsFrame{fin: true, op: wsOpPing, payload: []byte(payload)})
	for {
		f, err := r.readFrame(10 * time.Second)
		if err != nil {
			return "", err
		}
		switch f.op {
		case wsOpPong:
			return string(f.payload), nil
		case wsOpClose:
			return "", fmt.Errorf("close frame % x instead of a pong", f.payload)
		case wsOpPing:
			continue
		}
		r.in = append(r.in, f.payload...)
	}
}

// wsClosed is how the server ended a connection.
type wsClosed struct {
	code   int    // the close frame's status; 0 without one
	reason string // its text
	data   string // data received before it
	err    error  // what ended the read, when not a close frame
}

// next reads frames until a data frame's payload arrives (appended to
// r.in) or the connection ends; it answers pings as a client does.
func (r *rawWS) next(timeout time.Duration) (*wsFrame, *wsClosed) {
	for {
		f, err := r.readFrame(timeout)
		if err != nil {
			return nil, &wsClosed{err: err, data: string(r.in)}
		}
		switch f.op {
		case wsOpClose:
			c := &wsClosed{data: string(r.in)}
			if len(f.payload) >= 2 {
				c.code, c.reason = int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:])
			}
			return nil, c
		case wsOpPing:
			r.write(wsFrame{fin: true, op: wsOpPong, payload: f.payload})
			continue
		case wsOpPong:
			continue
		}
		if f.rsv1 && r.deflate {
			p, err := inflate(f.payload)
			if err != nil {
				return nil, &wsClosed{err: fmt.Errorf("inflate: %w", err), data: string(r.in)}
			}
			f.payload = p
			r.compressed++
		}
		r.in = append(r.in, f.payload...)
		return &f, nil
	}
}

// waitFor reads until what has arrived in the data so far, and consumes
// the data up to and including it. It fails the test if the server closes
// first or nothing comes within 10 s.
func (r *rawWS) waitFor(what string) {
	r.t.Helper()
	for {
		if i := bytes.Index(r.in, []byte(what)); i >= 0 {
			r.in = r.in[i+len(what):]
			return
		}
		if _, c := r.next(10 * time.Second); c != nil {
			r.t.Fatalf("waiting for %q: connection ended: %s", what, c)
		}
	}
}

// closed reads until the server's close frame and then until the server
// closes the TCP connection, as RFC 6455 §7.1.1 has the server do first.
func (r *rawWS) closed() *wsClosed {
	r.t.Helper()
	for {
		_, c := r.next(10 * time.Second)
		if c == nil {
			continue
		}
		if c.err == nil {
			// After the close frame, the server closes the connection.
			if _, err := r.readFrame(10 * time.Second); !errors.Is(err, io.EOF) && !isConnReset(err) {
				r.t.Fatalf("after close frame %d %q: %v, want the connection closed", c.code, c.reason, err)
			}
		}
		return c
	}
}

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func (c *wsClosed) String() string {
	if c.err != nil {
		return fmt.Sprintf("no close frame (%v) after %q", c.err, c.data)
	}
	return fmt.Sprintf("close %d %q after %q", c.code, c.reason, c.data)
}

// mustClose fails the test unless the server sent a close frame with code
// and closed the connection.
func (r *rawWS) mustClose(what string, code int) *wsClosed {
	r.t.Helper()
	c := r.closed()
	if c.err != nil || c.code != code {
		r.t.Fatalf("%s: %s, want close %d", what, c, code)
	}
	return c
}

// natsHello reads INFO, sends CONNECT with connect's JSON and what else
// it is given, then PING, and waits for PONG.
func (r *rawWS) natsHello(connect string, more ...string) {
	r.t.Helper()
	r.waitFor("INFO ")
	r.waitFor("\r\n")
	r.send([]byte("CONNECT " + connect + "\r\n" + strings.Join(more, "") + "PING\r\n"))
	r.waitFor("PONG\r\n")
}

// --- MQTT 3.1.1 packets for raw clients ---

func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func mqttPacket(first byte, body []byte) []byte {
	out := []byte{first}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// mqttConnectPacket is a 3.1.1 CONNECT with a clean session, keepalive 60.
func mqttConnectPacket(clientID string) []byte {
	body := append(mqttString("MQTT"), 4, 0x02, 0, 60)
	return mqttPacket(0x10, append(body, mqttString(clientID)...))
}

// mqttSubscribePacket subscribes filter at QoS 0 with packet id 1.
func mqttSubscribePacket(filter string) []byte {
	return mqttPacket(0x82, append(append([]byte{0, 1}, mqttString(filter)...), 0))
}

var (
	mqttConnackOK = []byte{0x20, 0x02, 0x00, 0x00}
	mqttSubackQ0  = []byte{0x90, 0x03, 0x00, 0x01, 0x00}
)

// --- goroutines of a leafgate process ---

// leafgateGoroutines stops the leafgate process with SIGQUIT, which makes
// the Go runtime print every goroutine's stack, and counts the goroutines
// running leafgate code by signature: the innermost leafgate function and
// the function that started the goroutine. The broker is dead afterwards.
func leafgateGoroutines(t *testing.T, b *mqttpeer.Broker) map[string]int {
	t.Helper()
	if b.Name != "leafgate" || b.PID == 0 {
		t.Fatalf("%s is not a leafgate process", b.Name)
	}
	if err := syscall.Kill(b.PID, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(b.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("leafgate still running 20 s after SIGQUIT")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sigs := map[string]int{}
	for _, block := range strings.Split(b.Log(), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if len(lines) == 0 || !strings.HasPrefix(lines[0], "goroutine ") {
			continue
		}
		var inner, created string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") {
				continue
			}
			fn := l
			if i := strings.LastIndex(fn, "("); i > 0 && strings.HasSuffix(fn, ")") {
				fn = fn[:i]
			}
			if c, ok := strings.CutPrefix(l, "created by "); ok {
				created, _, _ = strings.Cut(c, " in goroutine")
				continue
			}
			if inner == "" && strings.HasPrefix(fn, "github.com/leafgate/leafgate/") {
				inner = fn
			}
		}
		if inner != "" {
			sigs[inner+" <- "+created]++
		}
	}
	if len(sigs) == 0 {
		t.Fatalf("no leafgate goroutines in the SIGQUIT dump:\n%s", b.Log())
	}
	return sigs
}

// wantNoMoreGoroutines fails the test when got has goroutines of a
// signature more than ref, a leafgate at rest, has.
func wantNoMoreGoroutines(t *testing.T, got, ref map[string]int) {
	t.Helper()
	var extra []string
	for s, n := range got {
		if n > ref[s] {
			extra = append(extra, fmt.Sprintf("%d× %s (at rest: %d)", n, s, ref[s]))
		}
	}
	slices.Sort(extra)
	if len(extra) > 0 {
		t.Fatalf("goroutines left behind:\n  %s", strings.Join(extra, "\n  "))
	}
}
