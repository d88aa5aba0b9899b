package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/browser"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// browserWait bounds each step, page load included: generous, CI is a
// busy 2-core machine.
const browserWait = 20 * time.Second

// bigPayload is the page's pattern(BIG) (page.js): the large binary
// message both directions check byte for byte.
func bigPayload() []byte {
	b := make([]byte, 100000)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// TestWebSocketBrowser is the "real browser" test of WebSocket: the page
// in test/browser, loaded in headless Chromium (Debian's chromium, from
// `make tools`) from a static server the test runs, connects with nats.js
// (nats-core's wsconnect) to ws://host:port and with MQTT.js to
// ws://host:port/mqtt, and trades messages with a nats.go and a
// paho.mqtt.golang client on the broker's TCP ports, and between its own
// two clients. The page's checks come back through window.result; the Go
// side checks what the page sent, and, from what Chromium reports over
// CDP, each handshake (status, subprotocol, permessage-deflate). The
// broker allows one origin (allowed_origins): the page loaded from a
// second origin must get no WebSocket open, and the browser must see 403.
//
// nats-server's WebSocket listener runs the same page first, as the
// reference: what passes there is how browsers and these clients really
// behave. A screenshot of each page is kept with the test's artifacts (go
// test -artifacts; `make e2e` sets it) and its path logged. Without
// chromium the test skips, except under CI.
//
//	cd test && go test -run TestWebSocketBrowser -v -artifacts ./e2e
func TestWebSocketBrowser(t *testing.T) {
	bin, err := browser.Path()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
	if _, err := os.Stat("../js/node_modules/@nats-io/nats-core/package.json"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nats.js not installed (run `make tools`): %v", err)
		}
		t.Skipf("nats.js not installed (run `make tools`): %v", err)
	}
	site := startSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br, err := browser.Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := br.Close(); err != nil {
			t.Errorf("chromium: %v", err)
		}
	})
	if v, err := br.Version(ctx); err == nil {
		t.Logf("%s", v)
	}

	for _, tc := range []struct {
		name, broker string
		compression  bool // permessage-deflate on (Chromium always offers it)
		origins      bool // run the origin checks too
	}{
		{"nats-server", "nats-server", false, true},
		{"leafgate", "leafgate", false, true},
		{"leafgate-compression", "leafgate", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, wsAddr := startWSBroker(t, tc.broker, site.origin, tc.compression)
			t.Run("exchange", func(t *testing.T) { browserExchange(t, br, site, b, wsAddr, tc.compression) })
			if tc.origins {
				t.Run("origins", func(t *testing.T) { browserOrigins(t, br, site, wsAddr) })
			}
		})
	}
}

// site serves test/browser and test/js/node_modules on two loopback
// ports: two origins, one of them allowed by the broker.
type site struct {
	origin, other string // http://127.0.0.1:port
}

func startSite(t *testing.T) site {
	t.Helper()
	pageDir, _ := filepath.Abs("../browser")
	mods, _ := filepath.Abs("../js/node_modules")
	mux := http.NewServeMux()
	mux.Handle("/node_modules/", http.StripPrefix("/node_modules/", http.FileServer(http.Dir(mods))))
	mux.Handle("/", http.FileServer(http.Dir(pageDir)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
	var s site
	for _, o := range []*string{&s.origin, &s.other} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		*o = "http://" + l.Addr().String()
	}
	return s
}

// startWSBroker starts the named broker with NATS and MQTT on TCP and a
// WebSocket listener (no TLS) allowing only origin, and returns it with the
// WebSocket listener's host:port.
func startWSBroker(t *testing.T, name, origin string, compression bool) (*mqttpeer.Broker, string) {
	t.Helper()
	switch name {
	case "nats-server":
		return startNATSServerWS(t, origin, compression)
	case "leafgate":
		b := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{
			WebSocket: fmt.Sprintf("  allowed_origins: [%q]\n  compression: %v\n", origin, compression),
		})
		return b, b.WSAddr
	}
	t.Fatalf("unknown broker %q", name)
	return nil, ""
}

// startNATSServerWS runs nats-server in-process with JetStream (MQTT needs
// it), MQTT and WebSocket; MQTT over WebSocket is its /mqtt path.
func startNATSServerWS(t *testing.T, origin string, compression bool) (*mqttpeer.Broker, string) {
	t.Helper()
	wsPort, err := mqttpeer.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	so := &natsserver.Options{
		ServerName: "ws-browser",
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
	}
	so.MQTT.Host, so.MQTT.Port = "127.0.0.1", -1
	so.Websocket.Host, so.Websocket.Port, so.Websocket.NoTLS = "127.0.0.1", wsPort, true
	so.Websocket.AllowedOrigins = []string{origin}
	so.Websocket.Compression = compression
	s, err := natsserver.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	wsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(wsPort))
	if err := mqttpeer.WaitListening(wsAddr, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	mqttAddr := net.JoinHostPort(so.MQTT.Host, strconv.Itoa(so.MQTT.Port))
	return &mqttpeer.Broker{Name: "nats-server", Addr: mqttAddr, NATSURL: "nats://" + s.Addr().String()}, wsAddr
}

// pageResult is the page's window.result.
type pageResult struct {
	Mode   string `json:"mode"`
	Origin string `json:"origin"`
	OK     bool   `json:"ok"`
	MS     int    `json:"ms"` // from navigation to result
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	NATS, MQTT *outcome // connect mode
}

// outcome is how a client's connection attempt in connect mode ended.
type outcome struct {
	Connected bool   `json:"connected"`
	Error     string `json:"error"`
}

// openPage opens a tab on the page at base with the broker's URLs in the
// query. At cleanup it keeps a screenshot and, if the test failed, logs
// what the page printed.
func openPage(t *testing.T, br *browser.Browser, base, wsAddr string, q url.Values) *browser.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	p, err := br.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), browserWait)
		defer cancel()
		if png, err := p.Screenshot(ctx); err != nil {
			t.Errorf("screenshot: %v", err)
		} else {
			path := filepath.Join(t.ArtifactDir(), strings.ReplaceAll(t.Name(), "/", "_")+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Errorf("screenshot: %v", err)
			} else {
				t.Logf("screenshot: %s", path)
			}
		}
		if t.Failed() {
			t.Logf("page log:\n%s", strings.Join(p.Log(), "\n"))
			for _, w := range p.WebSockets() {
				t.Logf("WebSocket %s: status %d, request %v, response %v, error %q", w.URL, w.Status, w.Request, w.Response, w.Error)
			}
		}
		_ = p.Close(ctx)
	})
	q.Set("nats", "ws://"+wsAddr)
	q.Set("mqtt", "ws://"+wsAddr+"/mqtt")
	if err := p.Navigate(ctx, base+"/page.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitResult waits for the page's window.result.
func waitResult(t *testing.T, p *browser.Page) pageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	var r pageResult
	if err := p.Poll(ctx, "window.result", 50*time.Millisecond, &r); err != nil {
		t.Fatalf("page result: %v", err)
	}
	t.Logf("page done %d ms after navigation", r.MS)
	return r
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "wsb" + hex.EncodeToString(b)
}

// browserExchange runs the page's exchange mode, allowed origin, and plays
// the Go side: nats.go and paho.mqtt.golang over TCP.
func browserExchange(t *testing.T, br *browser.Browser, s site, b *mqttpeer.Broker, wsAddr string, compression bool) {
	run := runID()
	big := bigPayload()

	// NATS: the Go side subscribes and serves before the page loads.
	nc, err := nats.Connect(b.NATSURL, nats.Name("go-"+run))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	S := func(s string) string { return run + ".nats." + s }
	ready, err := nc.SubscribeSync(S("ready"))
	if err != nil {
		t.Fatal(err)
	}
	echo, err := nc.SubscribeSync(S("echo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(S("svc.go"), func(m *nats.Msg) { _ = m.Respond(append([]byte("go:"), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// MQTT: a retained message waits for the page; its ready, echo and
	// large message come to one channel each.
	T := func(s string) string { return run + "/mqtt/" + s }
	got := map[string]chan mqtt.Message{T("ready"): make(chan mqtt.Message, 1), T("echo"): make(chan mqtt.Message, 1), T("big"): make(chan mqtt.Message, 1)}
	mc, _ := pahoConnect(t, b, "go-"+run, true, func(_ mqtt.Client, m mqtt.Message) {
		if ch, ok := got[m.Topic()]; ok {
			select {
			case ch <- m:
			default: // a QoS 1 duplicate: the first one counts
			}
		}
	})
	waitToken(t, "publish retained", mc.Publish(T("retained"), 1, true, "kept"))
	t.Cleanup(func() { mc.Publish(T("retained"), 1, true, "").WaitTimeout(mqttWait) }) // clear it
	waitToken(t, "subscribe", mc.SubscribeMultiple(map[string]byte{T("ready"): 1, T("echo"): 1, T("big"): 1}, nil))

	p := openPage(t, br, s.origin, wsAddr, url.Values{"mode": {"exchange"}, "run": {run}})

	// The NATS half, in the page's order.
	m, err := ready.NextMsg(browserWait)
	if err != nil {
		t.Fatalf("nats: no ready from the page: %v", err)
	}
	if string(m.Data) != "nats" || m.Header.Get("X-From") != "browser" {
		t.Errorf("nats: ready = %q, header X-From %q; want \"nats\", \"browser\"", m.Data, m.Header.Get("X-From"))
	}
	hello := nats.NewMsg(S("to.page"))
	hello.Data = []byte("hello from nats.go")
	hello.Header.Set("X-From", "nats.go")
	if err := nc.PublishMsg(hello); err != nil {
		t.Fatal(err)
	}
	if m, err := echo.NextMsg(browserWait); err != nil || string(m.Data) != "echo:hello from nats.go" {
		t.Errorf("nats: echo from the page = %q, %v; want \"echo:hello from nats.go\"", msgData(m), err)
	}
	if m, err := nc.Request(S("svc.page"), []byte("ping"), browserWait); err != nil || string(m.Data) != "page:ping" {
		t.Errorf("nats: reply from the page = %q, %v; want \"page:ping\"", msgData(m), err)
	}
	if m, err := nc.Request(S("big"), big, browserWait); err != nil || !bytes.Equal(m.Data, big) {
		t.Errorf("nats: %d-byte message echoed by the page: %d bytes back, %v", len(big), len(msgData(m)), err)
	}

	// The MQTT half.
	select {
	case m := <-got[T("ready")]:
		if string(m.Payload()) != "mqtt" {
			t.Errorf("mqtt: ready = %q", m.Payload())
		}
	case <-time.After(browserWait):
		t.Fatal("mqtt: no ready from the page")
	}
	waitToken(t, "publish to the page", mc.Publish(T("to/page"), 1, false, "hello from paho"))
	select {
	case m := <-got[T("echo")]:
		if string(m.Payload()) != "echo:hello from paho" || m.Qos() != 1 {
			t.Errorf("mqtt: echo from the page = %q QoS %d; want \"echo:hello from paho\" QoS 1", m.Payload(), m.Qos())
		}
	case <-time.After(browserWait):
		t.Error("mqtt: no echo from the page")
	}
	select {
	case m := <-got[T("big")]:
		if !bytes.Equal(m.Payload(), big) || m.Qos() != 1 {
			t.Errorf("mqtt: large message from the page: %d bytes QoS %d; want the %d-byte pattern, QoS 1", len(m.Payload()), m.Qos(), len(big))
		}
	case <-time.After(browserWait):
		t.Error("mqtt: no large message from the page")
	}

	r := waitResult(t, p)
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("page check %q failed: %s", c.Name, c.Detail)
		}
	}
	if !r.OK || len(r.Checks) < 12 {
		t.Errorf("page: ok=%v after %d checks, want all 12 passed", r.OK, len(r.Checks))
	}
	checkHandshakes(t, p.WebSockets(), wsAddr, compression)
}

// checkHandshakes checks, from what the browser saw, the exchange's two
// WebSocket handshakes: NATS on / without a subprotocol, MQTT on /mqtt
// answering the "mqtt" MQTT.js offers, and permessage-deflate agreed to
// exactly when the broker has compression on (Chromium offers it always,
// as "permessage-deflate; client_max_window_bits").
func checkHandshakes(t *testing.T, got []browser.WebSocket, wsAddr string, compression bool) {
	t.Helper()
	want := map[string]string{"ws://" + wsAddr + "/": "", "ws://" + wsAddr + "/mqtt": "mqtt"}
	for _, w := range got {
		proto, ok := want[w.URL]
		if !ok {
			t.Errorf("unexpected WebSocket %s", w.URL)
			continue
		}
		delete(want, w.URL)
		if w.Status != 101 {
			t.Errorf("%s: handshake status %d (%s), want 101", w.URL, w.Status, w.Error)
			continue
		}
		if p := header(w.Response, "Sec-WebSocket-Protocol"); p != proto {
			t.Errorf("%s: Sec-WebSocket-Protocol %q (offered %q), want %q", w.URL, p, header(w.Request, "Sec-WebSocket-Protocol"), proto)
		}
		ext := header(w.Response, "Sec-WebSocket-Extensions")
		if deflate := strings.Contains(ext, "permessage-deflate"); deflate != compression {
			t.Errorf("%s: Sec-WebSocket-Extensions %q to the offer %q, want permessage-deflate %v", w.URL, ext, header(w.Request, "Sec-WebSocket-Extensions"), compression)
		}
	}
	for u := range want {
		t.Errorf("the browser opened no WebSocket to %s", u)
	}
}

// header looks a header up in CDP's map, whatever its case.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func msgData(m *nats.Msg) []byte {
	if m == nil {
		return nil
	}
	return m.Data
}

// browserOrigins loads the page in connect mode from the allowed origin
// (both clients connect) and from another one (neither WebSocket opens,
// and the browser reports the broker's 403).
func browserOrigins(t *testing.T, br *browser.Browser, s site, wsAddr string) {
	for _, tc := range []struct {
		name, base string
		allowed    bool
	}{
		{"allowed", s.origin, true},
		{"refused", s.other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect := map[bool]string{true: "open", false: "refused"}[tc.allowed]
			p := openPage(t, br, tc.base, wsAddr, url.Values{"mode": {"connect"}, "expect": {expect}})
			r := waitResult(t, p)
			if r.Origin != tc.base {
				t.Fatalf("page origin %s, want %s", r.Origin, tc.base)
			}
			if !r.OK {
				t.Errorf("page: %+v", r.Checks)
			}
			for _, c := range []struct {
				proto string
				got   *outcome
			}{{"nats.js", r.NATS}, {"MQTT.js", r.MQTT}} {
				if c.got == nil {
					t.Fatalf("%s: no outcome in %+v", c.proto, r)
				}
				if c.got.Connected != tc.allowed {
					t.Errorf("%s from origin %s: connected=%v (%s), want %v", c.proto, tc.base, c.got.Connected, c.got.Error, tc.allowed)
				}
			}
			if tc.allowed {
				return
			}
			// What the page cannot see, the browser reports: the
			// handshake's HTTP status, for each client.
			ws := p.WebSockets()
			if len(ws) != 2 {
				t.Errorf("the page opened %d WebSockets, want 2", len(ws))
			}
			for _, w := range ws {
				if w.Status == 101 || !strings.Contains(w.Error, "Unexpected response code: 403") {
					t.Errorf("%s from origin %s: status %d, error %q; want the handshake refused with 403", w.URL, tc.base, w.Status, w.Error)
				}
			}
		})
	}
}
