package leafnode

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/tlsconf"
)

// closeBound is how long Close may take in any state. What it interrupts
// (a dial, a handshake, a back-off wait) is set up to last a minute.
const closeBound = 3 * time.Second

// TestClose: Close ends a link promptly in whatever state it is in, the
// hub sees the connection go, the hub's interest leaves the router, and no
// goroutine of the package is left. Not parallel: it counts goroutines.
func TestClose(t *testing.T) {
	slow := func(r *Remote) {
		r.DialTimeout = time.Minute
		r.FirstInfoTimeout = time.Minute
		r.ConnectTimeout = time.Minute
		r.ReconnectDelay = time.Minute
		r.ReconnectMax = time.Minute
	}
	tests := []struct {
		name string
		// setup brings the link into the state; it returns the hub's
		// connection, if there is one, to check it is closed.
		setup func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn)
	}{
		{"connected", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			rem.PingInterval = 5 * time.Millisecond
			set := startSet(t, testOptions(r, *rem))
			c := hub.up(set)
			c.expect("LS+ local")
			c.sendSub("hub.interest", "", 0)
			c.sendSub("hub.queue", "q", 1)
			c.sync()
			return set, c
		}},
		{"hub not reading", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			set := startSet(t, testOptions(r, *rem))
			c := hub.up(set)
			c.expect("LS+ local")
			c.sendSub("big", "", 0)
			c.sync()
			c.dropMsgs.Store(true)
			c.stall()
			l := set.Links()[0]
			for l.Status().Dropped == 0 {
				publish(r, "big", "", nil, make([]byte, 64*1024))
			}
			return set, c
		}},
		{"waiting for INFO", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			set := startSet(t, testOptions(r, *rem))
			c := hub.accept()
			c.start()
			return set, c
		}},
		{"waiting for the answer to CONNECT", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			set := startSet(t, testOptions(r, *rem))
			c := hub.accept()
			c.sendInfo(hub.info())
			c.expectConnect()
			return set, c
		}},
		{"waiting to reconnect", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			set := startSet(t, testOptions(r, *rem))
			hub.accept().close()
			waitFor(t, "a failed attempt", func() bool { return set.Links()[0].Status().Failures == 1 })
			return set, nil
		}},
		{"dialing", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			rem.URLs = []*url.URL{{Scheme: "nats-leaf", Host: blackHoleAddr(t)}}
			set := startSet(t, testOptions(r, *rem))
			time.Sleep(50 * time.Millisecond) // the link is in Dial
			return set, nil
		}},
		{"waiting for INFO after a TLS handshake_first", func(t *testing.T, r *router.Router, hub *fakeHub, rem *Remote) (*Set, *hubConn) {
			server, client := testTLS(t)
			rem.TLS, rem.HandshakeFirst = client, true
			set := startSet(t, testOptions(r, *rem))
			c := hub.accept()
			if err := c.startTLS(server); err != nil {
				t.Fatal(err)
			}
			c.start()
			return set, c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if left := waitNoLinkGoroutines(testWait); left != "" {
				t.Fatalf("goroutines left before the test:\n%s", left)
			}
			hub := newFakeHub(t)
			r := router.New()
			local := subscribe(t, r, "local", "", newInbox())
			rem := testRemote(hub.url())
			slow(&rem)
			set, c := tc.setup(t, r, hub, &rem)
			start := time.Now()
			set.Close()
			if d := time.Since(start); d > closeBound {
				t.Errorf("Close took %v", d)
			}
			if c != nil {
				c.resumeReading() // to see the end of the stream
			}
			if c != nil && !c.closedWithin(testWait) {
				t.Error("the hub's connection is still open")
			}
			if left := waitNoLinkGoroutines(testWait); left != "" {
				t.Errorf("goroutines left after Close:\n%s", left)
			}
			st := set.Links()[0].Status()
			if st.Connected || st.Connecting || st.HubSubs != 0 {
				t.Errorf("status after Close: %+v", st)
			}
			if r.Count() != 1 {
				t.Errorf("%d router subscriptions after Close, want only the local one", r.Count())
			}
			// Interest changes after Close reach nobody and block nothing.
			unsubscribe(t, r, local)
			set.Close() // twice is fine
		})
	}
}

// testTLS is a server and a client TLS configuration that trust each
// other.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
