package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/test/internal/harness"
)

func TestTLS(t *testing.T) {
	certs := testCerts(t)
	harness.ForEach(t, harness.Options{TLS: &harness.TLS{Certs: certs}}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg, nats.RootCAs(certs.CAFile))
		sub, _ := nc.SubscribeSync("secure")
		nc.Publish("secure", []byte("over tls"))
		if m := nextMsg(t, sub); string(m.Data) != "over tls" {
			t.Fatalf("got %q", m.Data)
		}
		if _, err := nc.TLSConnectionState(); err != nil {
			t.Fatalf("connection is not TLS: %v", err)
		}
		r := harness.DialRaw(t, tg, "")
		if r.Info["tls_required"] != true {
			t.Fatalf("INFO tls_required: %v", r.Info)
		}
		// A client that does not trust the CA fails the handshake.
		if _, err := nats.Connect(tg.URL, nats.MaxReconnects(0)); err == nil {
			t.Fatal("connected without trusting the server certificate")
		}
	})
	opts := harness.Options{TLS: &harness.TLS{Certs: certs, Verify: true}}
	harness.ForEach(t, opts, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg, nats.RootCAs(certs.CAFile), nats.ClientCert(certs.ClientCertFile, certs.ClientKeyFile))
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		r := harness.DialRaw(t, tg, "")
		if r.Info["tls_verify"] != true {
			t.Fatalf("INFO tls_verify: %v", r.Info)
		}
		nc2, err := nats.Connect(tg.URL, nats.RootCAs(certs.CAFile), nats.MaxReconnects(0))
		if err == nil {
			err = nc2.Flush()
			nc2.Close()
		}
		if err == nil {
			t.Fatal("connected without a client certificate though verify is on")
		}
	})
}

// TestTLSOptional: with allow_non_tls the server offers TLS (tls_available)
// and each client chooses: nats.go with a CA upgrades, a plain client and a
// raw socket stay in plain text, and both see each other's messages.
func TestTLSOptional(t *testing.T) {
	certs := testCerts(t)
	harness.ForEach(t, harness.Options{TLS: &harness.TLS{Certs: certs, AllowNonTLS: true}}, func(t *testing.T, tg *harness.Target) {
		r := harness.DialRaw(t, tg, "")
		if r.Info["tls_available"] != true || r.Info["tls_required"] == true {
			t.Fatalf("INFO: tls_available=%v tls_required=%v", r.Info["tls_available"], r.Info["tls_required"])
		}
		r.Send("CONNECT {\"verbose\":false}\r\nPING\r\n")
		if l := r.Line(); l != "PONG" {
			t.Fatalf("plain client after PING: %q", l)
		}

		secure := connect(t, tg, nats.Secure(&tls.Config{RootCAs: caPool(t, certs.CAFile), MinVersion: tls.VersionTLS12}))
		if _, err := secure.TLSConnectionState(); err != nil {
			t.Fatalf("client asking for TLS did not get it: %v", err)
		}
		plain := connect(t, tg)
		if _, err := plain.TLSConnectionState(); err == nil {
			t.Fatal("client not asking for TLS got it")
		}
		sub, _ := secure.SubscribeSync("mixed")
		secure.Flush()
		plain.Publish("mixed", []byte("plain to tls"))
		if m := nextMsg(t, sub); string(m.Data) != "plain to tls" {
			t.Fatalf("got %q", m.Data)
		}
		r.Send("SUB mixed 1\r\nPING\r\n")
		if l := r.Line(); l != "PONG" {
			t.Fatalf("raw SUB: %q", l)
		}
		secure.Publish("mixed", []byte("tls to raw"))
		if l := r.Line(); !strings.HasPrefix(l, "MSG mixed 1 10") {
			t.Fatalf("raw client got %q", l)
		}
		if l := r.Line(); l != "tls to raw" {
			t.Fatalf("raw payload %q", l)
		}
	})
}

// TestTLSHandshakeFirst: with handshake_first the TLS handshake precedes
// INFO; nats.go's TLSHandshakeFirst connects, a client waiting for a plain
// INFO gets nothing readable.
func TestTLSHandshakeFirst(t *testing.T) {
	certs := testCerts(t)
	harness.ForEach(t, harness.Options{TLS: &harness.TLS{Certs: certs, HandshakeFirst: true}}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg, nats.RootCAs(certs.CAFile), nats.TLSHandshakeFirst())
		sub, _ := nc.SubscribeSync("first")
		nc.Publish("first", []byte("tls first"))
		if m := nextMsg(t, sub); string(m.Data) != "tls first" {
			t.Fatalf("got %q", m.Data)
		}
		if _, err := nc.TLSConnectionState(); err != nil {
			t.Fatalf("not TLS: %v", err)
		}
		// A raw TLS client reads INFO as the first record after the handshake.
		conn, err := tls.Dial("tcp", tg.Addr, &tls.Config{RootCAs: caPool(t, certs.CAFile), ServerName: "localhost"})
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 5)
		if _, err := conn.Read(buf); err != nil || string(buf) != "INFO " {
			t.Fatalf("first bytes over TLS: %q, %v", buf, err)
		}
		// A plain client expecting INFO gets none: the server waits for a
		// ClientHello.
		_, err = nats.Connect(tg.URL, nats.RootCAs(certs.CAFile), nats.Timeout(time.Second), nats.MaxReconnects(0))
		if err == nil {
			t.Fatal("a client without TLSHandshakeFirst connected")
		}
	})
}

func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificates in %s", file)
	}
	return pool
}

func testCerts(t *testing.T) tlsconf.TestCerts {
	t.Helper()
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certs
}
