package e2e

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/test/internal/harness"
)

func TestTLS(t *testing.T) {
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
