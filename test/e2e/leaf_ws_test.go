package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// The leafnode link over WebSocket: leafgate (the binary) joins a
// nats-server v2.15.2 hub (in-process) through the hub's WebSocket
// listener, which hands /leafnode upgrades to its leafnode code when it
// also has a leafnode listener. A sniffing proxy between them (plain
// ws://) shows what went over the wire: the upgrade leafgate asked for,
// what the hub agreed to, and whether leafgate's frames are masked.

// wsHub starts a hub with a WebSocket listener (TLS with certs, else
// no_tls) and a leafnode listener, which the WebSocket leafnode path needs.
func wsHub(t *testing.T, compression bool, certs *tlsconf.TestCerts) (*natsserver.Server, string) {
	t.Helper()
	so := &natsserver.Options{ServerName: "hub", Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	so.LeafNode.Host, so.LeafNode.Port = "127.0.0.1", -1
	so.Websocket.Host, so.Websocket.Port, so.Websocket.NoTLS = "127.0.0.1", -1, true
	so.Websocket.Compression = compression
	if certs != nil {
		tc, err := tlsconf.Options{CertFile: certs.CertFile, KeyFile: certs.KeyFile}.ServerConfig()
		if err != nil {
			t.Fatal(err)
		}
		so.Websocket.TLSConfig, so.Websocket.NoTLS = tc, false
	}
	s, err := natsserver.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(20 * time.Second) {
		t.Fatal("hub not ready")
	}
	// Start wrote the WebSocket listener's port back into the options.
	addr := net.JoinHostPort(so.Websocket.Host, fmt.Sprint(so.Websocket.Port))
	if err := mqttpeer.WaitListening(addr, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	return s, addr
}

// sniffer forwards one direction's bytes and keeps the first of them.
type sniffer struct {
	mu       sync.Mutex
	up, down bytes.Buffer // leafgate → hub, hub → leafgate (first 64 KiB)
}

const sniffKeep = 64 << 10

type keepWriter struct {
	s   *sniffer
	buf *bytes.Buffer
}

func (w keepWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	if room := sniffKeep - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	w.s.mu.Unlock()
	return len(p), nil
}

// sniffProxy listens on loopback and forwards every connection to addr,
// recording the first connection's bytes.
func sniffProxy(t *testing.T, addr string) (string, *sniffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sniffer{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, h)
			mu.Unlock()
			var up, down io.Writer = io.Discard, io.Discard
			if first {
				up, down = keepWriter{s, &s.up}, keepWriter{s, &s.down}
				first = false
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(io.MultiWriter(h, up), c); h.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(io.MultiWriter(c, down), h); c.Close() }()
		}
	}()
	return ln.Addr().String(), s
}

// afterHTTP splits a recorded direction at the end of its HTTP head.
func (s *sniffer) afterHTTP(t *testing.T, up bool) (head string, frames []byte) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.down.Bytes()
	if up {
		b = s.up.Bytes()
	}
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no HTTP head in %q", b)
	}
	return string(b[:i+2]), append([]byte(nil), b[i+4:]...)
}

// s2Magic starts an S2 stream (its stream identifier chunk).
var s2Magic = []byte("\xff\x06\x00\x00S2sTwO")

// frameLen is the length of the WebSocket frame b starts with, header
// and payload.
func frameLen(b []byte) int {
	if len(b) < 2 {
		return len(b) + 1
	}
	n, hdr := int(b[1]&0x7F), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return len(b) + 1
		}
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case 127:
		if len(b) < 10 {
			return len(b) + 1
		}
		n, hdr = int(binary.BigEndian.Uint64(b[2:10])), 10
	}
	if b[1]&0x80 != 0 {
		hdr += 4
	}
	return hdr + n
}

// eventually publishes with pub until the subscription has a message:
// interest crosses the link asynchronously, and a publish before it
// arrives is dropped (core NATS).
func eventually(t *testing.T, sub *nats.Subscription, pub func() error) *nats.Msg {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := pub(); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			return m
		}
	}
	t.Fatalf("nothing arrived on %s", sub.Subject)
	return nil
}

func TestLeafWS(t *testing.T) {
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		compression bool // ws_compression, and the hub's websocket compression
		noMasking   bool
		tls         bool
		s2          string // the remote's (S2) compression; "" is the default, s2_auto
	}{
		{name: "ws"},
		{name: "ws compression", compression: true},
		{name: "ws no masking", noMasking: true},
		{name: "ws compression no masking", compression: true, noMasking: true},
		{name: "ws s2_fast", s2: "s2_fast"},
		{name: "wss", tls: true},
		{name: "wss compression", compression: true, tls: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hubCerts *tlsconf.TestCerts
			if tc.tls {
				hubCerts = &certs
			}
			hub, wsAddr := wsHub(t, tc.compression, hubCerts)
			target := wsAddr
			var sniff *sniffer
			if !tc.tls {
				target, sniff = sniffProxy(t, wsAddr)
			}
			var conf strings.Builder
			scheme := "ws"
			if tc.tls {
				scheme = "wss"
			}
			fmt.Fprintf(&conf, "leafnodes:\n  remotes:\n    - url: %s://%s/edge/\n", scheme, target)
			fmt.Fprintf(&conf, "      ws_compression: %v\n      ws_no_masking: %v\n", tc.compression, tc.noMasking)
			if tc.tls {
				fmt.Fprintf(&conf, "      tls:\n        ca_file: %q\n", certs.CAFile)
			}
			if tc.s2 != "" {
				fmt.Fprintf(&conf, "      compression: %s\n", tc.s2)
			}
			lg := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{NoJetStream: true, Monitor: true, Config: conf.String()})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("leafgate's log:\n%s", lg.Log())
				}
			})

			hc, err := nats.Connect(hub.ClientURL(), nats.Name("hub client"))
			if err != nil {
				t.Fatal(err)
			}
			defer hc.Close()
			ec, err := nats.Connect(lg.NATSURL, nats.Name("edge client"))
			if err != nil {
				t.Fatal(err)
			}
			defer ec.Close()

			// hub → edge, then edge → hub, each with a payload worth
			// compressing and a small one.
			big := bytes.Repeat([]byte(`{"sensor":"t1","temp":21.5},`), 400)
			edgeSub, err := ec.SubscribeSync("edge.>")
			if err != nil {
				t.Fatal(err)
			}
			ec.Flush()
			m := eventually(t, edgeSub, func() error { return hc.Publish("edge.cmd", []byte("first")) })
			if string(m.Data) != "first" {
				t.Fatalf("edge got %q", m.Data)
			}
			if err := hc.Publish("edge.bulk", big); err != nil {
				t.Fatal(err)
			}
			if m, err := edgeSub.NextMsg(10 * time.Second); err != nil || !bytes.Equal(m.Data, big) {
				t.Fatalf("edge bulk: %v", err)
			}
			hubSub, err := hc.SubscribeSync("hub.>")
			if err != nil {
				t.Fatal(err)
			}
			hc.Flush()
			m = eventually(t, hubSub, func() error { return ec.Publish("hub.telemetry", big) })
			if !bytes.Equal(m.Data, big) {
				t.Fatalf("hub got %d bytes", len(m.Data))
			}
			// Request/reply across the link, served at the edge.
			if _, err := ec.Subscribe("svc.edge", func(m *nats.Msg) { _ = m.Respond([]byte("edge says hi")) }); err != nil {
				t.Fatal(err)
			}
			ec.Flush()
			var reply *nats.Msg
			for deadline := time.Now().Add(30 * time.Second); reply == nil && time.Now().Before(deadline); {
				reply, _ = hc.Request("svc.edge", nil, 500*time.Millisecond)
			}
			if reply == nil || string(reply.Data) != "edge says hi" {
				t.Fatalf("request from the hub: %v", reply)
			}

			// The hub sees a WebSocket leafnode; leafgate a connected
			// remote, with no S2 over permessage-deflate and S2 (under
			// the frames) otherwise.
			lz, err := hub.Leafz(nil)
			if err != nil || len(lz.Leafs) != 1 {
				t.Fatalf("hub /leafz: %+v %v", lz, err)
			}
			if !lz.Leafs[0].Websocket || lz.Leafs[0].IsSpoke {
				t.Fatalf("hub /leafz leaf: %+v", lz.Leafs[0])
			}
			var elz monitor.Leafz
			monitorGet(t, lg, "/leafz", &elz)
			if len(elz.Leafs) != 1 || len(elz.Remotes) != 1 || !elz.Remotes[0].Connected ||
				!strings.HasPrefix(elz.Remotes[0].URL, scheme+"://") {
				t.Fatalf("leafgate /leafz: %+v", elz)
			}
			comp := elz.Leafs[0].Compression
			switch {
			case tc.compression && comp != "off":
				t.Fatalf("leafgate /leafz compression %q, want off over permessage-deflate", comp)
			case !tc.compression && !strings.HasPrefix(comp, "s2_"):
				t.Fatalf("leafgate /leafz compression %q, want S2", comp)
			case tc.s2 != "" && comp != tc.s2:
				t.Fatalf("leafgate /leafz compression %q, want %s", comp, tc.s2)
			case strings.HasPrefix(lz.Leafs[0].Compression, "s2_") != strings.HasPrefix(comp, "s2_"):
				// Each side picks its own level (the hub's s2_auto goes
				// by the round trip), but both or neither use S2.
				t.Fatalf("hub /leafz compression %q, leafgate's %q", lz.Leafs[0].Compression, comp)
			}
			// Wire bytes are counted below the WebSocket framing (and TLS),
			// so a compressing link (s2_auto's level depends on the round
			// trip, so only a fixed mode) shows fewer than the protocol's.
			rem := elz.Remotes[0]
			if rem.WireInBytes == 0 || rem.WireOutBytes == 0 || rem.ProtoOutBytes < int64(len(big)) {
				t.Fatalf("leafgate /leafz bytes: proto in/out %d/%d, wire in/out %d/%d",
					rem.ProtoInBytes, rem.ProtoOutBytes, rem.WireInBytes, rem.WireOutBytes)
			}
			if (tc.compression || tc.s2 == "s2_fast") && rem.WireOutBytes >= rem.ProtoOutBytes {
				t.Fatalf("compressing, but wire out %d >= proto out %d bytes", rem.WireOutBytes, rem.ProtoOutBytes)
			}
			if sniff == nil {
				return
			}

			// The wire: the upgrade asked for, the answer, and leafgate's
			// first frame (its CONNECT).
			req, up := sniff.afterHTTP(t, true)
			resp, down := sniff.afterHTTP(t, false)
			if !strings.HasPrefix(req, "GET /edge/leafnode HTTP/1.1\r\n") {
				t.Fatalf("upgrade request %q", req)
			}
			if got := strings.Contains(req, "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"); got != tc.compression {
				t.Fatalf("compression offered %v in %q", got, req)
			}
			if got := strings.Contains(req, "\r\nNats-No-Masking: true\r\n"); got != tc.noMasking {
				t.Fatalf("no masking asked %v in %q", got, req)
			}
			if !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
				t.Fatalf("hub answered %q", resp)
			}
			if got := strings.Contains(resp, "permessage-deflate"); got != tc.compression {
				t.Fatalf("compression agreed %v in %q", got, resp)
			}
			if len(up) < 2 || len(down) < 2 {
				t.Fatalf("no frames: %d up, %d down", len(up), len(down))
			}
			if masked := up[1]&0x80 != 0; masked == tc.noMasking {
				t.Fatalf("leafgate's first frame %x: masked %v with ws_no_masking %v", up[:2], masked, tc.noMasking)
			}
			// The hub's INFO is over the compression threshold: it comes
			// deflated (RSV1) when compression was agreed.
			if rsv1 := down[0]&0x40 != 0; rsv1 != tc.compression {
				t.Fatalf("hub's first frame %x: compressed %v", down[:2], rsv1)
			}
			// Without it, each side's first frame (its INFO) is followed
			// by an S2 stream carrying the frames, as nats-server layers
			// it; with it, by more frames.
			for _, dir := range []struct {
				name string
				b    []byte
			}{{"leafgate", up}, {"hub", down}} {
				after := dir.b[min(frameLen(dir.b), len(dir.b)):]
				if s2 := bytes.HasPrefix(after, s2Magic); s2 == tc.compression {
					t.Fatalf("%s's bytes after its first frame: S2 stream %v (%q)", dir.name, s2, after[:min(len(after), 16)])
				}
			}
		})
	}
}
