package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/test/internal/hub"
)

// Credentials on the leafnode link: each mode a nats-server hub accepts
// brings the link up; refused credentials keep it down while leafgate
// keeps retrying, and never show in its log.

// withUser puts user:password@ into a URL.
func withUser(url, userinfo string) string {
	scheme, rest, _ := strings.Cut(url, "://")
	return scheme + "://" + userinfo + "@" + rest
}

// A user and password in the URL, against the hub's leafnodes
// authorization block.
func TestLeafAuthUserPassword(t *testing.T) {
	h := hub.Start(t, hub.Options{LeafUser: "edge1", LeafPassword: "pw-in-url-7f3a"})
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{withUser(h.LeafURL, "edge1:pw-in-url-7f3a")}}}})
	e.waitLinks(t, 1)
	linkCheck(t, h, e, "userpw")
	if strings.Contains(e.Log(), "pw-in-url-7f3a") {
		t.Fatal("leafgate logged the password from the URL")
	}
}

// A token (a URL user without a password), against the hub's client
// authorization token, which nats-server applies to leafnodes when the
// leafnodes block has no authorization of its own.
func TestLeafAuthToken(t *testing.T) {
	const token = "tok-5e1d-leaf"
	h := hub.Start(t, hub.Options{Token: token})
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{withUser(h.LeafURL, token)}}}})
	e.waitLinks(t, 1)
	linkCheck(t, h, e, "token")
	if strings.Contains(e.Log(), token) {
		t.Fatal("leafgate logged the token")
	}
}

// An nkey seed in the remote's config signs the hub's nonce; the hub knows
// only the public key.
func TestLeafAuthNkey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	h := hub.Start(t, hub.Options{LeafNkey: pub})
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: "nkey: " + string(seed)}}})
	e.waitLinks(t, 1)
	linkCheck(t, h, e, "nkey")
	if strings.Contains(e.Log(), string(seed)) {
		t.Fatal("leafgate logged the nkey seed")
	}
}

// A .creds file (user JWT and seed) against a hub in operator mode: the
// link binds to the user's account, and clients of that account at the
// hub talk to the edge.
func TestLeafAuthCreds(t *testing.T) {
	h := hub.Start(t, hub.Options{Operator: true})
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: fmt.Sprintf("credentials: %q", h.LeafCreds)}}})
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	if l := h.Leafs(); l[0].Account != h.Account {
		t.Fatalf("the link is bound to account %q, want the creds' account %s", l[0].Account, h.Account)
	}
	linkCheck(t, h, e, "creds")
}

// A wrong password keeps the link down, and leafgate keeps retrying (it
// does not give up); neither the password nor an nkey seed appears in its
// log, however many times it retries.
func TestLeafAuthRefused(t *testing.T) {
	t.Run("password", func(t *testing.T) {
		h := hub.Start(t, hub.Options{LeafUser: "edge1", LeafPassword: "right-pw"})
		e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{withUser(h.LeafURL, "edge1:wrong-pw-91c2")}}}})
		refusedRetrying(t, h, e, "wrong-pw-91c2")
	})
	t.Run("nkey", func(t *testing.T) {
		kp, _ := nkeys.CreateUser()
		other, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		seed, _ := other.Seed()
		h := hub.Start(t, hub.Options{LeafNkey: pub})
		e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: "nkey: " + string(seed)}}})
		refusedRetrying(t, h, e, string(seed))
	})
}

// refusedRetrying waits for three refused attempts, checks the hub never
// kept the link and that secret is not in leafgate's log.
func refusedRetrying(t *testing.T, h *hub.Hub, e *edge, secret string) {
	t.Helper()
	e.waitLog(t, `msg="leafnode link down"`, 3, leafWait)
	if n := e.logCount(`msg="leafnode link up"`); n != 0 {
		t.Fatalf("the link came up %d times with refused credentials", n)
	}
	if n := len(h.Leafs()); n != 0 {
		t.Fatalf("the hub holds %d leafnode connections", n)
	}
	if e.logCount(`msg="leafnode link down".*Authorization Violation`) == 0 {
		t.Errorf("leafgate did not log the hub's Authorization Violation")
	}
	if !strings.Contains(h.Log(), "authentication error") {
		t.Errorf("the hub did not log an authentication error")
	}
	if strings.Contains(e.Log(), secret) {
		t.Fatalf("leafgate's log contains the secret %q", secret)
	}
	// Still retrying after the three, which are all it logs as warnings
	// (one line per state change, not one per retry): /leafz counts on.
	deadline := time.Now().Add(leafWait)
	for e.leafz(t).Remotes[0].FailedAttempts < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	lz := e.leafz(t)
	if r := lz.Remotes[0]; r.Connected || r.FailedAttempts < 5 || !strings.Contains(r.LastError, "Authorization Violation") ||
		strings.Contains(r.URL+r.LastError, secret) {
		t.Fatalf("/leafz with refused credentials: %+v", r)
	}
	if n := e.logCount(`level=WARN msg="leafnode link down"`); n != 3 {
		t.Errorf("%d warnings for %d failed attempts, want 3 (then one per ten minutes)", n, lz.Remotes[0].FailedAttempts)
	}
	if strings.Contains(e.Log(), secret) {
		t.Fatalf("leafgate's log contains the secret %q", secret)
	}
}

// TLS with a CA and a client certificate: the hub verifies leafgate's
// certificate, leafgate the hub's against the CA. Without its client
// certificate the hub refuses it.
func TestLeafTLS(t *testing.T) {
	certs, err := tlsconf.WriteTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := hub.Start(t, hub.Options{TLS: &hub.TLS{Certs: certs, Verify: true}})
	if !strings.HasPrefix(h.LeafURL, "tls://") {
		t.Fatalf("hub leaf URL %s", h.LeafURL)
	}
	tlsBlock := fmt.Sprintf("tls:\n  ca_file: %q\n  cert_file: %q\n  key_file: %q", certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: tlsBlock}}})
	e.waitLinks(t, 1)
	linkCheck(t, h, e, "tls")

	t.Run("no client certificate", func(t *testing.T) {
		e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: fmt.Sprintf("tls:\n  ca_file: %q", certs.CAFile)}}})
		e.waitLog(t, `msg="leafnode link down"`, 2, leafWait)
		if n := e.logCount(`msg="leafnode link up"`); n != 0 {
			t.Fatalf("the link came up without a client certificate")
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		other, err := tlsconf.WriteTestCerts(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL},
			extra: fmt.Sprintf("tls:\n  ca_file: %q\n  cert_file: %q\n  key_file: %q", other.CAFile, certs.ClientCertFile, certs.ClientKeyFile)}}})
		e.waitLog(t, `msg="leafnode link down".*certificate`, 2, leafWait)
		if n := e.logCount(`msg="leafnode link up"`); n != 0 {
			t.Fatalf("the link came up with a hub certificate from an unknown CA")
		}
	})
}

// A tls:// URL to a hub without TLS fails cleanly: no link (never a
// plaintext fallback), a TLS error in the log, retries, and leafgate keeps
// serving its clients.
func TestLeafTLSURLToPlainHub(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	plain := strings.Replace(h.LeafURL, "nats-leaf://", "tls://", 1)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{plain}, extra: "dial_timeout: 2s"}}})
	e.waitLog(t, `msg="leafnode link down".*(tls|TLS)`, 3, leafWait)
	if n := e.logCount(`msg="leafnode link up"`); n != 0 {
		t.Fatal("the link came up over tls:// to a hub without TLS")
	}
	if n := len(h.Leafs()); n != 0 {
		t.Fatalf("the hub holds %d leafnode connections", n)
	}
	// leafgate itself is fine.
	ec := e.connect(t)
	sub := subSync(t, ec, "local.x")
	publish(t, ec, "local.x", "still serving")
	recv(t, sub, "local.x", "still serving")
}
