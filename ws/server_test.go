package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/leafgate/leafgate/ws/frame"
)

// echo serves a connection by sending back what it reads, prefixed with
// the endpoint's name, until the read side ends; then it closes with the
// status the test asked for.
type served struct {
	mu      sync.Mutex
	kinds   []string
	reqs    []*Request
	remotes []string
}

func (s *served) record(kind string, r *Request, remote net.Addr) {
	s.mu.Lock()
	s.kinds = append(s.kinds, kind)
	s.reqs = append(s.reqs, r)
	s.remotes = append(s.remotes, remote.String())
	s.mu.Unlock()
}

func echo(c *Conn, prefix string) {
	for {
		b, err := c.Next()
		if len(b) > 0 {
			if bytes.Equal(b, []byte("policy")) {
				c.SetCloseStatus(frame.ClosePolicyViolation, "Authentication Failure")
				break
			}
			_, _ = c.Write(append([]byte(prefix), b...))
		}
		if err != nil {
			break
		}
	}
	c.Release()
	c.Close()
}

// startHandler runs a Handler on a loopback listener.
func startHandler(t *testing.T, o Options, withMQTT bool) (string, *served) {
	t.Helper()
	s := &served{}
	o.NATS = func(c *Conn, r *Request) {
		s.record("nats", r, c.RemoteAddr())
		echo(c, "nats:")
	}
	if withMQTT {
		o.MQTT = func(nc net.Conn, _ <-chan struct{}) {
			c := nc.(*Conn)
			s.record("mqtt", nil, c.RemoteAddr())
			echo(c, "mqtt:")
		}
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.Serve(nc, nil)
				nc.Close()
			}()
		}
	}()
	return ln.Addr().String(), s
}

func dial(t *testing.T, url string, hdr http.Header, d *websocket.Dialer) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	c, resp, err := d.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func roundTrip(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.BinaryMessage {
		t.Fatalf("server sent a message of type %d, want binary", typ)
	}
	return string(b)
}

func TestRouteByPath(t *testing.T) {
	addr, _ := startHandler(t, Options{}, true)
	for _, tc := range []struct{ path, want string }{
		{"/", "nats:"}, {"/any/where", "nats:"}, {"/mqtt", "mqtt:"}, {"/gw/mqtt", "mqtt:"}, {"/mqtt/v5", "mqtt:"},
	} {
		c, _, err := dial(t, "ws://"+addr+tc.path, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := roundTrip(t, c, "x"); got != tc.want+"x" {
			t.Fatalf("%s: served as %q", tc.path, got)
		}
	}
	_, resp, err := dial(t, "ws://"+addr+"/leafnode", nil, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/leafnode: %v %v", err, resp)
	}
	addr2, _ := startHandler(t, Options{}, false)
	_, resp, err = dial(t, "ws://"+addr2+"/mqtt", nil, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/mqtt with MQTT off: %v %v", err, resp)
	}
}

func TestMQTTSubprotocol(t *testing.T) {
	addr, _ := startHandler(t, Options{}, true)
	for _, tc := range []struct {
		offer  []string // one header each
		want   string
		status int // refused with
	}{
		{offer: []string{"mqtt"}, want: "mqtt"},
		{offer: []string{"mqttv3.1"}, want: "mqttv3.1"},
		{offer: []string{"mqttv3.1, mqtt"}, want: "mqtt"}, // a comma list in one header
		{offer: []string{"foo", "mqttv3.1"}, want: "mqttv3.1"},
		{offer: nil, want: ""}, // none offered: none answered
		{offer: []string{"foo"}, status: http.StatusBadRequest},
		{offer: []string{"MQTT"}, status: http.StatusBadRequest}, // tokens are case-sensitive
	} {
		hdr := http.Header{}
		for _, o := range tc.offer {
			hdr.Add("Sec-WebSocket-Protocol", o)
		}
		c, resp, err := dial(t, "ws://"+addr+"/mqtt", hdr, nil)
		if tc.status != 0 {
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("offer %q: %v %v, want status %d", tc.offer, err, resp, tc.status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("offer %q: %v", tc.offer, err)
		}
		if got := c.Subprotocol(); got != tc.want {
			t.Fatalf("offer %q: chose %q, want %q", tc.offer, got, tc.want)
		}
	}
	// NATS clients get no subprotocol, whatever they offer.
	hdr := http.Header{"Sec-Websocket-Protocol": {"mqtt"}}
	c, _, err := dial(t, "ws://"+addr+"/", hdr, nil)
	if err != nil || c.Subprotocol() != "" {
		t.Fatalf("NATS: %v, subprotocol %q", err, c.Subprotocol())
	}
}

func TestOrigins(t *testing.T) {
	allowed, _ := startHandler(t, Options{AllowedOrigins: []string{"http://app.local:5000", "https://secure.local"}}, false)
	same, _ := startHandler(t, Options{SameOrigin: true}, false)
	for _, tc := range []struct {
		addr, origin string
		ok           bool
	}{
		{allowed, "", true},
		{allowed, "http://app.local:5000", true},
		{allowed, "http://APP.local:5000", true},
		{allowed, "https://secure.local:443", true},
		{allowed, "http://app.local:5001", false},
		{allowed, "https://app.local:5000", false},
		{allowed, "http://evil.local", false},
		{same, "http://" + same, true},
		{same, "http://other.host:1", false},
		{same, "https://" + same, false},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		_, resp, err := dial(t, "ws://"+tc.addr+"/", hdr, nil)
		if tc.ok != (err == nil) {
			t.Fatalf("origin %q: %v", tc.origin, err)
		}
		if !tc.ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Fatalf("origin %q: refused with %v, want 403", tc.origin, resp)
		}
	}
	if _, err := New(Options{NATS: func(*Conn, *Request) {}, AllowedOrigins: []string{"not a url"}}); err == nil {
		t.Fatal("a bad allowed origin was accepted")
	}
}

// rawUpgrade sends a hand-written upgrade request and returns the
// connection and the status line and headers of the answer.
func rawUpgrade(t *testing.T, addr, req string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return nc, br, resp
}

func upgradeRequest(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		strings.Join(extra, "") + "\r\n"
}

func TestBadHandshakes(t *testing.T) {
	addr, _ := startHandler(t, Options{}, true)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"short key", strings.Replace(upgradeRequest("/"), "dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1), http.StatusBadRequest},
		{"no key", strings.Replace(upgradeRequest("/"), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), http.StatusBadRequest},
		{"version 8", strings.Replace(upgradeRequest("/"), "Version: 13", "Version: 8", 1), http.StatusBadRequest},
		{"POST", strings.Replace(upgradeRequest("/"), "GET", "POST", 1), http.StatusMethodNotAllowed},
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest},
		{"garbage", "\x16\x03\x01 not http\r\n\r\n", http.StatusBadRequest},
	} {
		_, _, resp := rawUpgrade(t, addr, tc.req)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
}

// readClose reads frames until a close frame and returns its status.
func readClose(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		n := int(h[1] & 0x7F)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(br, l[:])
			n = int(l[0])<<8 | int(l[1])
		case 127:
			t.Fatal("unexpected huge frame")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0F == frame.OpClose {
			code, _, err := frame.ParseClose(p)
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
	}
}

func maskedFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	var f []byte
	if len(payload) < 126 {
		f = []byte{b0, 0x80 | byte(len(payload))}
	} else {
		f = []byte{b0, 0x80 | 126, byte(len(payload) >> 8), byte(len(payload))}
	}
	f = append(f, key[:]...)
	m := append([]byte(nil), payload...)
	frame.Mask(key, 0, m)
	return append(f, m...)
}

func TestCloseStatuses(t *testing.T) {
	addr, _ := startHandler(t, Options{MaxMessage: 1000}, true)
	big := bytes.Repeat([]byte("b"), 1001)
	for _, tc := range []struct {
		name, path string
		frames     []byte
		code       int
	}{
		{"text frame on MQTT", "/mqtt", maskedFrame(0x80|frame.OpText, []byte("x")), frame.CloseUnsupportedData},
		{"too big", "/", maskedFrame(0x80|frame.OpBinary, big), frame.CloseMessageTooBig},
		{"fragmented ping", "/", maskedFrame(frame.OpPing, []byte("p")), frame.CloseProtocolError},
		{"unmasked", "/", []byte{0x80 | frame.OpBinary, 1, 'x'}, frame.CloseProtocolError},
		{"compressed without negotiation", "/", maskedFrame(0x80|0x40|frame.OpBinary, []byte("x")), frame.CloseProtocolError},
		{"client closes", "/", maskedFrame(0x80|frame.OpClose, []byte{0x03, 0xE8}), frame.CloseNormal},
		{"client closes without status", "/", maskedFrame(0x80|frame.OpClose, nil), frame.CloseNormal},
		{"client goes away", "/", maskedFrame(0x80|frame.OpClose, []byte{0x03, 0xE9}), frame.CloseGoingAway},
		{"server's own status", "/", maskedFrame(0x80|frame.OpBinary, []byte("policy")), frame.ClosePolicyViolation},
	} {
		nc, br, resp := rawUpgrade(t, addr, upgradeRequest(tc.path, "Sec-WebSocket-Protocol: mqtt\r\n"))
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
		}
		if _, err := nc.Write(tc.frames); err != nil {
			t.Fatal(err)
		}
		if code := readClose(t, br); code != tc.code {
			t.Fatalf("%s: close %d, want %d", tc.name, code, tc.code)
		}
		// And then the connection ends.
		if _, err := br.ReadByte(); err == nil {
			t.Fatalf("%s: bytes after the close frame", tc.name)
		}
	}
}

func TestTextFramesServeNATS(t *testing.T) {
	addr, _ := startHandler(t, Options{}, true)
	c, _, err := dial(t, "ws://"+addr+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As nats-server: text frames carry NATS protocol too.
	if err := c.WriteMessage(websocket.TextMessage, []byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "nats:PING\r\n" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestPingPongAndFragments(t *testing.T) {
	addr, _ := startHandler(t, Options{}, false)
	nc, br, _ := rawUpgrade(t, addr, upgradeRequest("/"))
	var in []byte
	in = append(in, maskedFrame(frame.OpBinary, []byte("frag"))...)
	in = append(in, maskedFrame(0x80|frame.OpPing, []byte("are you there"))...)
	in = append(in, maskedFrame(0x80|frame.OpContinuation, []byte("mented"))...)
	// Byte by byte: frames span reads.
	for i := range in {
		if _, err := nc.Write(in[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	var pong bool
	// The echo comes back in as many pieces as the server read.
	for !pong || strings.ReplaceAll(string(got), "nats:", "") != "fragmented" {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("after %q (pong %v): %v", got, pong, err)
		}
		if h[1]&0x80 != 0 {
			t.Fatal("server frame is masked")
		}
		p := make([]byte, h[1]&0x7F)
		io.ReadFull(br, p)
		switch h[0] & 0x0F {
		case frame.OpPong:
			if string(p) != "are you there" {
				t.Fatalf("pong %q", p)
			}
			pong = true
		case frame.OpBinary:
			if h[0]&0x80 == 0 {
				t.Fatal("server fragmented a message")
			}
			got = append(got, p...)
		}
	}
}

func TestCompression(t *testing.T) {
	addr, _ := startHandler(t, Options{Compression: true}, true)
	// A browser's default offer.
	offer := "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	nc, _, resp := rawUpgrade(t, addr, upgradeRequest("/", offer))
	nc.Close()
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if !strings.Contains(ext, "permessage-deflate") || !strings.Contains(ext, "server_no_context_takeover") ||
		!strings.Contains(ext, "client_no_context_takeover") {
		t.Fatalf("extensions answered: %q", ext)
	}
	d := &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	for _, path := range []string{"/", "/mqtt"} {
		hdr := http.Header{"Sec-Websocket-Protocol": {"mqtt"}}
		c, _, err := dial(t, "ws://"+addr+path, hdr, d)
		if err != nil {
			t.Fatal(err)
		}
		c.EnableWriteCompression(true)
		big := strings.Repeat("compress me ", 10000)
		for _, msg := range []string{"tiny", big, "again"} {
			got := roundTrip(t, c, msg)
			if !strings.HasSuffix(got, msg) {
				t.Fatalf("%s: echo of %d bytes came back as %d", path, len(msg), len(got))
			}
		}
	}
	// Not offered: not used.
	off, _ := startHandler(t, Options{}, false)
	nc, _, resp = rawUpgrade(t, off, upgradeRequest("/", offer))
	nc.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("compression off, yet answered %q", ext)
	}
}

func TestCompressedMessageOverTheLimit(t *testing.T) {
	addr, _ := startHandler(t, Options{Compression: true, MaxMessage: 4096}, false)
	d := &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, _, err := dial(t, "ws://"+addr+"/", nil, d)
	if err != nil {
		t.Fatal(err)
	}
	c.EnableWriteCompression(true)
	// Compresses to far under the limit, inflates to 10x over it.
	if err := c.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{'z'}, 40960)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != frame.CloseMessageTooBig {
		t.Fatalf("got %v, want close 1009", err)
	}
}

func TestForwardedForAndCookies(t *testing.T) {
	addr, s := startHandler(t, Options{UserCookie: "u", PassCookie: "p", TokenCookie: "tok"}, false)
	hdr := http.Header{
		"X-Forwarded-For": {"203.0.113.7, 10.0.0.1"},
		"Cookie":          {"u=alice; p=secret; tok=t0k; other=x"},
	}
	c, _, err := dial(t, "ws://"+addr+"/", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "hi")
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reqs[0]
	if r.User != "alice" || r.Password != "secret" || r.Token != "t0k" {
		t.Fatalf("cookies: %+v", r)
	}
	if !strings.HasPrefix(s.remotes[0], "203.0.113.7:") {
		t.Fatalf("remote %s, want the X-Forwarded-For address", s.remotes[0])
	}
}

func TestHandshakeTimeout(t *testing.T) {
	addr, _ := startHandler(t, Options{HandshakeTimeout: 100 * time.Millisecond}, false)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "GET / HTTP/1.1\r\n") // and then nothing
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("the server did not close a silent connection: %v", err)
	}
}

func TestRejectSaysWhyThenCloses(t *testing.T) {
	h, err := New(Options{
		NATS:       func(*Conn, *Request) { t.Error("a rejected client was served") },
		NATSReject: func(c *Conn, _ *Request) { _, _ = c.Write([]byte("-ERR 'maximum connections exceeded'\r\n")) },
		MQTT:       func(net.Conn, <-chan struct{}) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { h.Reject(nc); nc.Close() }()
		}
	}()
	for _, path := range []string{"/", "/mqtt"} {
		c, _, err := dial(t, "ws://"+ln.Addr().String()+path, http.Header{"Sec-Websocket-Protocol": {"mqtt"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if path == "/" {
			if _, b, err := c.ReadMessage(); err != nil || !strings.Contains(string(b), "maximum connections") {
				t.Fatalf("%s: %q %v", path, b, err)
			}
		}
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != frame.ClosePolicyViolation {
			t.Fatalf("%s: %v, want close 1008", path, err)
		}
	}
}
