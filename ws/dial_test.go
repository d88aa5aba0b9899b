package ws

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/ws/frame"
)

// hubSide is what a scripted hub saw of one connection.
type hubSide struct {
	req *http.Request
	nc  net.Conn
	br  *bufio.Reader
}

// scriptedHub accepts one connection, reads the upgrade request, answers
// with respond(request) written whole, and hands the connection over.
func scriptedHub(t *testing.T, respond func(r *http.Request) string) (string, <-chan *hubSide) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *hubSide, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.WriteString(nc, respond(req))
		out <- &hubSide{req: req, nc: nc, br: br}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), out
}

// accept101 is a hub's agreeing answer, with extra header lines.
func accept101(r *http.Request, extra ...string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-Websocket-Key")) + "\r\n" +
		strings.Join(extra, "") + "\r\n"
}

const pmcAnswer = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDialLeafnodeHandshake(t *testing.T) {
	tests := []struct {
		name     string
		path     string // URL path (and user info) after the host
		opts     leafnode.WSDialOptions
		respond  func(r *http.Request) string
		wantErr  string // substring; "" means the dial succeeds
		wantPath string
		compress bool
		mask     bool
	}{
		{name: "plain", respond: func(r *http.Request) string { return accept101(r) },
			wantPath: "/leafnode", mask: true},
		{name: "user path, trailing slash, user info", path: "/hub/edge/", respond: func(r *http.Request) string { return accept101(r) },
			wantPath: "/hub/edge/leafnode", mask: true},
		{name: "connection token list", respond: func(r *http.Request) string {
			return strings.Replace(accept101(r), "Connection: Upgrade", "Connection: keep-alive, UPGRADE", 1)
		}, wantPath: "/leafnode", mask: true},
		{name: "404 with reason", respond: func(*http.Request) string {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 40\r\n\r\nleafnode websocket endpoint not enabled\n"
		}, wantErr: "404 Not Found: leafnode websocket endpoint not enabled"},
		{name: "200", respond: func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" },
			wantErr: "hub answered 200 OK"},
		{name: "bad accept key", respond: func(r *http.Request) string {
			return strings.Replace(accept101(r), acceptKey(r.Header.Get("Sec-Websocket-Key")), acceptKey("other"), 1)
		}, wantErr: "Sec-WebSocket-Accept"},
		{name: "no accept key", respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}, wantErr: "Sec-WebSocket-Accept"},
		{name: "no upgrade header", respond: func(r *http.Request) string {
			return strings.Replace(accept101(r), "Upgrade: websocket\r\n", "", 1)
		}, wantErr: "bad Upgrade header"},
		{name: "upgrade to something else", respond: func(r *http.Request) string {
			return strings.Replace(accept101(r), "Upgrade: websocket", "Upgrade: h2c", 1)
		}, wantErr: "bad Upgrade header"},
		{name: "no connection header", respond: func(r *http.Request) string {
			return strings.Replace(accept101(r), "Connection: Upgrade\r\n", "", 1)
		}, wantErr: "bad Connection header"},
		{name: "subprotocol not asked", respond: func(r *http.Request) string {
			return accept101(r, "Sec-WebSocket-Protocol: mqtt\r\n")
		}, wantErr: "subprotocol"},
		{name: "compression agreed", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string { return accept101(r, pmcAnswer) }, wantPath: "/leafnode", compress: true, mask: true},
		{name: "compression declined", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string { return accept101(r) }, wantPath: "/leafnode", mask: true},
		{name: "compression without client_no_context_takeover", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string {
				return accept101(r, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n")
			}, wantErr: "no context takeover"},
		{name: "compression without either flag", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string { return accept101(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n") },
			wantErr: "no context takeover"},
		{name: "compression with a smaller client window", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string {
				return accept101(r, strings.TrimSuffix(pmcAnswer, "\r\n")+"; client_max_window_bits=10\r\n")
			}, wantErr: "client_max_window_bits=10"},
		{name: "compression not offered but answered",
			respond: func(r *http.Request) string { return accept101(r, pmcAnswer) }, wantErr: "not asked for"},
		{name: "other extension", opts: leafnode.WSDialOptions{Compression: true},
			respond: func(r *http.Request) string {
				return accept101(r, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
			},
			wantErr: "not asked for"},
		{name: "no masking echoed", opts: leafnode.WSDialOptions{NoMasking: true},
			respond: func(r *http.Request) string { return accept101(r, "Nats-No-Masking: true\r\n") }, wantPath: "/leafnode"},
		{name: "no masking not echoed", opts: leafnode.WSDialOptions{NoMasking: true},
			respond: func(r *http.Request) string { return accept101(r) }, wantPath: "/leafnode", mask: true},
		{name: "no masking echoed unasked", respond: func(r *http.Request) string { return accept101(r, "Nats-No-Masking: true\r\n") },
			wantPath: "/leafnode", mask: true},
		{name: "both", opts: leafnode.WSDialOptions{NoMasking: true, Compression: true},
			respond:  func(r *http.Request) string { return accept101(r, pmcAnswer, "Nats-No-Masking: true\r\n") },
			wantPath: "/leafnode", compress: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, hubs := scriptedHub(t, tc.respond)
			u := mustURL(t, "ws://leaf:s3cret@"+addr+tc.path)
			c, err := DialLeafnode(dialCtx(t), u, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				if c != nil {
					t.Fatal("a connection with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			h := <-hubs
			r := h.req
			if r.URL.Path != tc.wantPath || r.Host != addr || r.Method != http.MethodGet {
				t.Fatalf("request %s %s Host %s", r.Method, r.URL, r.Host)
			}
			if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" ||
				r.Header.Get("Sec-Websocket-Version") != "13" {
				t.Fatalf("request headers %v", r.Header)
			}
			if r.Header.Get("Authorization") != "" || strings.Contains(fmt.Sprint(r.Header), "s3cret") {
				t.Fatalf("user info sent: %v", r.Header)
			}
			if ext := r.Header.Get("Sec-Websocket-Extensions"); (ext == pmcOffer) != tc.opts.Compression || (ext != "" && ext != pmcOffer) {
				t.Fatalf("extensions offered %q", ext)
			}
			if nm := r.Header.Get("Nats-No-Masking"); (nm == "true") != tc.opts.NoMasking {
				t.Fatalf("Nats-No-Masking %q", nm)
			}
			if c.Compressed() != tc.compress {
				t.Fatalf("compressed %v, want %v", c.Compressed(), tc.compress)
			}
			// The frame of a write says whether it was masked.
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				t.Fatal(err)
			}
			var hdr [2]byte
			if _, err := io.ReadFull(h.br, hdr[:]); err != nil {
				t.Fatal(err)
			}
			if masked := hdr[1]&0x80 != 0; masked != tc.mask {
				t.Fatalf("frame masked %v, want %v", masked, tc.mask)
			}
		})
	}
}

// TestDialLeafnodeKeys: every dial sends a fresh 16-byte key.
func TestDialLeafnodeKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 3 {
		addr, hubs := scriptedHub(t, func(r *http.Request) string { return accept101(r) })
		c, err := DialLeafnode(dialCtx(t), mustURL(t, "ws://"+addr), leafnode.WSDialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		k := (<-hubs).req.Header.Get("Sec-Websocket-Key")
		if b, err := base64.StdEncoding.DecodeString(k); err != nil || len(b) != 16 || seen[k] {
			t.Fatalf("key %q (%d bytes, %v), seen before %v", k, len(b), err, seen[k])
		}
		seen[k] = true
	}
}

// TestDialLeafnodeFirstFrames: the hub's INFO often comes in the same
// segment as the 101; it must not be lost with the response's buffer.
func TestDialLeafnodeFirstFrames(t *testing.T) {
	info := "INFO {\"server_id\":\"hub\"}\r\n"
	addr, _ := scriptedHub(t, func(r *http.Request) string {
		f := frame.AppendHeader(nil, frame.OpBinary, true, false, len(info))
		return accept101(r) + string(f) + info
	})
	c, err := DialLeafnode(dialCtx(t), mustURL(t, "ws://"+addr), leafnode.WSDialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(info))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != info {
		t.Fatalf("read %q %v", got, err)
	}
}

// TestDialLeafnodeContext: a hub that accepts and never answers holds the
// dial only until ctx ends.
func TestDialLeafnodeContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			defer nc.Close()
			_, _ = io.Copy(io.Discard, nc)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = DialLeafnode(ctx, mustURL(t, "ws://"+ln.Addr().String()), leafnode.WSDialOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("dial took %v", d)
	}
}

// hubPair dials a scripted hub and returns the client's end and the hub's
// end as a server-side Conn: it decodes masked frames, or with no masking
// agreed unmasked ones (what a client's decoder reads).
func hubPair(t *testing.T, opts leafnode.WSDialOptions, extra ...string) (leafnode.WSConn, *Conn) {
	t.Helper()
	addr, hubs := scriptedHub(t, func(r *http.Request) string { return accept101(r, extra...) })
	c, err := DialLeafnode(dialCtx(t), mustURL(t, "ws://"+addr), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := <-hubs
	_ = h.nc.SetDeadline(time.Time{})
	pre, _ := h.br.Peek(h.br.Buffered())
	dec := frame.Decoder{Compression: c.Compressed(), Client: !c.(*Conn).mask, MaxMessage: DefaultMaxMessage}
	hub := newConn(h.nc, dec, nil, append([]byte(nil), pre...))
	t.Cleanup(func() { hub.Close() })
	return c, hub
}

// TestClientConnRoundTrip sends messages of every size class (header
// length forms, the compression threshold, more than a masking piece)
// to a hub end that echoes them, in each mode.
func TestClientConnRoundTrip(t *testing.T) {
	sizes := []int{1, 6, 64, 65, 125, 126, 4000, 0xFFFF, 0x10000, maskChunk + 7, 200_000}
	for _, mode := range []struct {
		name  string
		opts  leafnode.WSDialOptions
		extra []string
	}{
		{"masked", leafnode.WSDialOptions{}, nil},
		{"no masking", leafnode.WSDialOptions{NoMasking: true}, []string{"Nats-No-Masking: true\r\n"}},
		{"masked compressed", leafnode.WSDialOptions{Compression: true}, []string{pmcAnswer}},
		{"no masking compressed", leafnode.WSDialOptions{NoMasking: true, Compression: true},
			[]string{pmcAnswer, "Nats-No-Masking: true\r\n"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			c, hub := hubPair(t, mode.opts, mode.extra...)
			go func() { _, _ = io.Copy(hub, hub) }() // echo, one message per read
			var want []byte
			go func() {
				for i, n := range sizes {
					p := bytes.Repeat([]byte{byte('a' + i)}, n)
					p[0] = '<'
					if _, err := c.Write(p); err != nil {
						t.Errorf("write %d: %v", n, err)
						return
					}
				}
			}()
			for i, n := range sizes {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				p[0] = '<'
				want = append(want, p...)
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echo differs (%d bytes)", len(got))
			}
		})
	}
}

// TestClientConnControl: a ping gets a pong with its payload (masked as
// the client's frames are), and the hub's close ends the read side with
// io.EOF and is echoed, with its status, by Close.
func TestClientConnControl(t *testing.T) {
	for _, noMask := range []bool{false, true} {
		t.Run(fmt.Sprint("no masking ", noMask), func(t *testing.T) {
			var extra []string
			if noMask {
				extra = []string{"Nats-No-Masking: true\r\n"}
			}
			c, hub := hubPair(t, leafnode.WSDialOptions{NoMasking: noMask}, extra...)
			raw := hub.NetConn()
			out := frame.AppendControl(nil, frame.OpPing, []byte("are you there"))
			out = append(frame.AppendHeader(out, frame.OpBinary, false, false, 3), "PON"...)
			out = append(frame.AppendHeader(out, frame.OpContinuation, true, false, 3), "G\r\n"...)
			out = frame.AppendClose(out, frame.CloseGoingAway, "lame duck")
			if _, err := raw.Write(out); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "PONG\r\n" {
				t.Fatalf("read %q %v", b, err)
			}
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("after the close: %v", err)
			}
			c.Close()
			var got []frame.Event
			d := frame.Decoder{Client: noMask}
			buf := make([]byte, 512)
			_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
			for len(got) < 2 {
				n, err := raw.Read(buf)
				p := buf[:n]
				for len(p) > 0 {
					var ev frame.Event
					var derr error
					ev, p, derr = d.Next(p)
					if derr != nil {
						t.Fatal(derr)
					}
					if ev.Kind == frame.Control {
						ev.Payload = append([]byte(nil), ev.Payload...)
						got = append(got, ev)
					}
				}
				if err != nil {
					break
				}
			}
			if len(got) != 2 || got[0].Op != frame.OpPong || string(got[0].Payload) != "are you there" || got[1].Op != frame.OpClose {
				t.Fatalf("control frames back %+v", got)
			}
			if code, _, _ := frame.ParseClose(got[1].Payload); code != frame.CloseGoingAway {
				t.Fatalf("close echoed with %d", code)
			}
		})
	}
}

// TestClientConnBadFrame: a masked frame from the hub is a protocol
// error: the read fails and Close says 1002.
func TestClientConnBadFrame(t *testing.T) {
	c, hub := hubPair(t, leafnode.WSDialOptions{})
	raw := hub.NetConn()
	if _, err := raw.Write(maskedFrame(0x80|frame.OpBinary, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 10))
	var ce *frame.CloseError
	if !errors.As(err, &ce) || ce.Code != frame.CloseProtocolError {
		t.Fatalf("err %v", err)
	}
	c.Close()
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(raw)
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 0x80|frame.OpClose || hdr[1]&0x80 == 0 {
		t.Fatalf("close frame header %x %v", hdr, err)
	}
	p := make([]byte, 4+int(hdr[1]&0x7F))
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	frame.Mask([4]byte(p[:4]), 0, p[4:])
	if code, _, _ := frame.ParseClose(p[4:]); code != frame.CloseProtocolError {
		t.Fatalf("close %d", code)
	}
}

// TestClientWriteAllocs: a masked write (the link's hot path) allocates
// nothing once its buffer has grown. (The compressed path draws on
// sync.Pools, which the race detector empties at random.)
func TestClientWriteAllocs(t *testing.T) {
	c := newConn(&sink{}, frame.Decoder{Client: true}, nil, nil)
	c.maskWrites()
	p := bytes.Repeat([]byte("LMSG foo.bar 5\r\nhello\r\n"), 2000) // over maskChunk
	allocs := testing.AllocsPerRun(50, func() {
		c.raw.(*sink).Reset()
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write", allocs)
	}
}

// gorillaHub serves a gorilla/websocket server on /hub/leafnode that
// echoes each message (with the compression gorilla negotiates) and
// pings once; pongs counts the answers.
func gorillaHub(t *testing.T, compression bool, cfg *tls.Config) (addr string, pongs chan string) {
	t.Helper()
	pongs = make(chan string, 1)
	up := websocket.Upgrader{EnableCompression: compression}
	mux := http.NewServeMux()
	mux.HandleFunc("/hub/leafnode", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPongHandler(func(s string) error {
			select {
			case pongs <- s:
			default:
			}
			return nil
		})
		_ = c.WriteControl(websocket.PingMessage, []byte("hub ping"), time.Now().Add(5*time.Second))
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, p); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), pongs
}

// TestDialGorillaHub runs the client against gorilla/websocket's server:
// an independent peer that insists on masked client frames and checks
// every frame's form.
func TestDialGorillaHub(t *testing.T) {
	dir := t.TempDir()
	certs, err := tlsconf.WriteTestCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, tc := range []struct {
		name     string
		compress bool
		secure   bool
	}{
		{"ws", false, false},
		{"ws compressed", true, false},
		{"wss", false, true},
		{"wss compressed", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srvTLS *tls.Config
			scheme := "ws"
			opts := leafnode.WSDialOptions{Compression: tc.compress, NoMasking: true} // gorilla never agrees to no masking
			if tc.secure {
				srvTLS = &tls.Config{Certificates: []tls.Certificate{srvCert}}
				scheme = "wss"
				opts.TLS = &tls.Config{RootCAs: roots}
			}
			addr, pongs := gorillaHub(t, tc.compress, srvTLS)
			_, port, _ := net.SplitHostPort(addr)
			c, err := DialLeafnode(dialCtx(t), mustURL(t, scheme+"://localhost:"+port+"/hub"), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Compressed() != tc.compress {
				t.Fatalf("compressed %v", c.Compressed())
			}
			if _, ok := c.(*Conn).NetConn().(*tls.Conn); ok != tc.secure {
				t.Fatalf("TLS %v", ok)
			}
			if opts.TLS != nil && opts.TLS.ServerName != "" {
				t.Fatal("the caller's TLS config was changed")
			}
			msgs := []string{"LS+ foo\r\n", strings.Repeat("LMSG telemetry.x 20\r\n{\"temp\": 21.5, \"h\": 1}\r\n", 3000), "PING\r\n"}
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			for _, m := range msgs {
				if _, err := c.Write([]byte(m)); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(m))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != m {
					t.Fatalf("echo of %d bytes: %v", len(m), err)
				}
			}
			select {
			case p := <-pongs:
				if p != "hub ping" {
					t.Fatalf("pong %q", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no pong")
			}
		})
	}
	// Without the test CA, the system roots refuse the hub.
	addr, _ := gorillaHub(t, false, &tls.Config{Certificates: []tls.Certificate{srvCert}})
	_, err = DialLeafnode(dialCtx(t), mustURL(t, "wss://"+addr+"/hub"), leafnode.WSDialOptions{})
	var ue x509.UnknownAuthorityError
	if !errors.As(err, &ue) {
		t.Fatalf("err %v, want an unknown authority", err)
	}
}

// flateReader and flateWriter are a stream codec for WrapStream tests:
// the shape of S2's (a reader, and a writer with Flush), from the
// standard library. A new writer may continue an old one's stream: raw
// deflate has no header, and the old one was flushed.
func flateReader(raw io.Reader) io.Reader { return flate.NewReader(raw) }

func flateWriter(raw io.Writer) io.Writer {
	w, _ := flate.NewWriter(raw, flate.BestSpeed)
	return w
}

// TestWrapStream: after both ends put a stream codec under the frames
// (the leafnode link's S2), messages and control frames still cross,
// each flushed as it is written; the wire carries the codec's stream.
func TestWrapStream(t *testing.T) {
	c, hub := hubPair(t, leafnode.WSDialOptions{})
	// Before: one message each way, plain frames.
	if _, err := hub.Write([]byte("INFO {}\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 9)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "INFO {}\r\n" {
		t.Fatalf("before: %q %v", got, err)
	}
	var rec bytes.Buffer
	if err := c.WrapStream(flateReader, func(raw io.Writer) io.Writer { return flateWriter(io.MultiWriter(raw, &rec)) }); err != nil {
		t.Fatal(err)
	}
	if !c.(*Conn).mask {
		t.Fatal("not masking")
	}
	done := make(chan error, 1)
	go func() {
		if err := hub.WrapStream(flateReader, flateWriter); err != nil {
			done <- err
			return
		}
		_, err := io.Copy(hub, hub)
		done <- err // nil: the read side ended with the client's close frame
	}()
	msgs := []string{"CONNECT {}\r\n", strings.Repeat("LMSG a 3\r\nabc\r\n", 5000), "PING\r\n", "after a new writer"}
	for i, m := range msgs {
		if i == 2 {
			// The write side alone, replaced between frames (the
			// link's S2 at a new level).
			if err := c.WrapStream(nil, func(raw io.Writer) io.Writer {
				w, _ := flate.NewWriter(io.MultiWriter(raw, &rec), flate.BestCompression)
				return w
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(m))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != m {
			t.Fatalf("echo of %d bytes: %v", len(m), err)
		}
	}
	if rec.Len() == 0 {
		t.Fatal("nothing went through the codec")
	}
	// The close frame goes through the codec too, flushed.
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hub's read side ended with %v, not the close frame", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not see the close")
	}
	// Pending bytes refuse a switch.
	c2, hub2 := hubPair(t, leafnode.WSDialOptions{})
	if _, err := hub2.Write([]byte("INFO {}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c2, make([]byte, 9)); err != nil {
		t.Fatal(err)
	}
	if err := c2.WrapStream(flateReader, flateWriter); err == nil {
		t.Fatal("switched with bytes pending")
	}
}
