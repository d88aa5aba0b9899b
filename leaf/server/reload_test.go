package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
	"github.com/leafgate/leafgate/leaf/tlsconf"
)

func userConnect(user, pass string) string {
	return fmt.Sprintf(`{"verbose":false,"pedantic":false,"user":%q,"pass":%q}`, user, pass)
}

// expectClosed reads until the server closes the connection and returns
// the lines it sent last.
func (c *rawClient) expectClosed() []string {
	c.t.Helper()
	var lines []string
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		s, err := c.r.ReadString('\n')
		if s != "" {
			lines = append(lines, strings.TrimSuffix(s, "\r\n"))
		}
		if err != nil {
			if strings.Contains(err.Error(), "timeout") {
				c.t.Fatalf("connection still open; got %q", lines)
			}
			return lines
		}
	}
}

func TestReloadAuthorization(t *testing.T) {
	pubOnlyFoo := &auth.Permissions{Publish: &auth.SubjectPermission{Allow: []string{"foo"}}, Subscribe: &auth.SubjectPermission{Allow: []string{"keep.>"}}}
	opts := server.Options{MonitorListen: "127.0.0.1:0", Auth: auth.Config{Users: []auth.User{
		{Name: "alice", Password: "a"},
		{Name: "bob", Password: "b"},
		{Name: "carol", Password: "c"},
	}}}
	s := servertest.Run(t, opts)
	alice := dialRaw(t, s, userConnect("alice", "a"))
	alice.flush()
	bob := dialRaw(t, s, userConnect("bob", "b"))
	bob.send("SUB keep.x 1\r\nSUB drop.x 2\r\n")
	bob.flush()
	carol := dialRaw(t, s, userConnect("carol", "c"))
	carol.flush()

	// alice removed, bob narrowed, carol's password changed.
	opts.Auth = auth.Config{Users: []auth.User{
		{Name: "bob", Password: "b", Permissions: pubOnlyFoo},
		{Name: "carol", Password: "new"},
		{Name: "dave", Password: "d"},
	}}
	changed, err := s.Reload(opts)
	if err != nil || !slices.Equal(changed, []string{"Auth"}) {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	for name, c := range map[string]*rawClient{"alice": alice, "carol": carol} {
		if lines := c.expectClosed(); !slices.Contains(lines, "-ERR 'Authorization Violation'") {
			t.Errorf("%s: got %q, want an authorization violation", name, lines)
		}
	}
	bob.expect(`-ERR 'Permissions Violation for Subscription to "drop.x" (sid "2")'`)
	bob.send("PUB bar 1\r\nx\r\n")
	bob.expect(`-ERR 'Permissions Violation for Publish to "bar"'`)
	bob.send("PUB keep.x 2\r\nok\r\n")
	bob.expect(`-ERR 'Permissions Violation for Publish to "keep.x"'`)
	bob.send("PUB foo 2\r\nok\r\n")
	bob.flush() // still connected

	dave := dialRaw(t, s, userConnect("dave", "d"))
	dave.flush()
	again := dialRaw(t, s, userConnect("alice", "a"))
	if lines := again.expectClosed(); !slices.Contains(lines, "-ERR 'Authorization Violation'") {
		t.Errorf("removed user reconnecting: got %q", lines)
	}
}

func dialInfo(s *server.Server) (map[string]any, error) {
	conn, err := net.Dial("tcp", s.ClientAddr().String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "INFO ")), &m)
	return m, err
}

func TestReloadLimits(t *testing.T) {
	opts := server.Options{MonitorListen: "127.0.0.1:0", MaxPayload: 1024}
	s := servertest.Run(t, opts)
	old := dialRaw(t, s, quiet)
	old.flush()
	opts.MaxPayload = 2048
	opts.MaxConnections = 1
	changed, err := s.Reload(opts)
	if err != nil || !slices.Equal(changed, []string{"MaxConnections", "MaxPayload"}) {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	info, err := dialInfo(s)
	if err != nil {
		t.Fatal(err)
	}
	if info["max_payload"] != float64(2048) {
		t.Fatalf("max_payload in new INFO = %v", info["max_payload"])
	}
	// The existing client takes the new limit at its next read.
	old.send("PUB big 1500\r\n" + strings.Repeat("x", 1500) + "\r\n")
	old.flush()

	opts.Listen = "127.0.0.1:1"
	if _, err := s.Reload(opts); err == nil || !strings.Contains(err.Error(), "not supported for Listen") {
		t.Fatalf("changing Listen: %v", err)
	}
	opts.Listen = ""
	opts.MaxPayload = -1
	if _, err := s.Reload(opts); err == nil {
		t.Fatal("invalid options accepted")
	}
	if info, _ := dialInfo(s); info["max_payload"] != float64(2048) {
		t.Fatalf("a refused reload changed max_payload to %v", info["max_payload"])
	}
}

func TestReloadRotatesTLSCertificate(t *testing.T) {
	load := func(dir string) (*tls.Config, *x509.CertPool, []byte) {
		tc, err := tlsconf.WriteTestCerts(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := tlsconf.Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile}.ServerConfig()
		if err != nil {
			t.Fatal(err)
		}
		pem, _ := os.ReadFile(tc.CAFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		return cfg, pool, cfg.Certificates[0].Certificate[0]
	}
	cfg1, pool1, der1 := load(t.TempDir())
	cfg2, pool2, der2 := load(t.TempDir())
	opts := server.Options{MonitorListen: "127.0.0.1:0", TLS: cfg1}
	s := servertest.Run(t, opts)
	dialTLS := func(pool *x509.CertPool) (*tls.Conn, []byte) {
		t.Helper()
		raw := dialRaw(t, s, "") // reads INFO
		tc := tls.Client(raw.conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return tc, tc.ConnectionState().PeerCertificates[0].Raw
	}
	oldConn, got := dialTLS(pool1)
	if !bytes.Equal(got, der1) {
		t.Fatal("first handshake did not present the first certificate")
	}
	opts.TLS = cfg2
	changed, err := s.Reload(opts)
	if err != nil || !slices.Equal(changed, []string{"TLS"}) {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	_, got = dialTLS(pool2)
	if !bytes.Equal(got, der2) {
		t.Fatal("new handshake did not present the new certificate")
	}
	// The connection made before the reload still works.
	if _, err := oldConn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = oldConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := oldConn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "PONG") {
		t.Fatalf("old TLS connection: %q, %v", buf[:n], err)
	}
}

// Lowering max_connections closes clients over the new limit, as
// nats-server does.
func TestReloadLowersMaxConnections(t *testing.T) {
	opts := server.Options{MonitorListen: "127.0.0.1:0"}
	s := servertest.Run(t, opts)
	clients := []*rawClient{dialRaw(t, s, quiet), dialRaw(t, s, quiet), dialRaw(t, s, quiet)}
	for _, c := range clients {
		c.flush()
	}
	opts.MaxConnections = 1
	if _, err := s.Reload(opts); err != nil {
		t.Fatal(err)
	}
	closed := 0
	for _, c := range clients {
		_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
		c.send("PING\r\n")
		if l, err := c.r.ReadString('\n'); err == nil && strings.HasPrefix(l, "-ERR 'maximum connections exceeded'") {
			closed++
		}
	}
	if closed != 2 || s.NumClients() != 1 {
		t.Fatalf("closed %d, %d left; want 2 closed, 1 left", closed, s.NumClients())
	}
}
