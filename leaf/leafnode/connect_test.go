package leafnode

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/router"
)

// TestConnectFields checks the CONNECT JSON key by key: the fields a
// nats-server leaf sends, and never "lang", which makes a hub take the
// connection for a client's.
func TestConnectFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts func(*Options)
		rem  func(*Remote)
		want map[string]any
	}{
		{
			name: "minimal",
			want: map[string]any{
				"version":        "2.15.2",
				"server_id":      "NEDGESERVERID",
				"name":           "edge-1",
				"headers":        true,
				"remote_account": "$G",
				"protocol":       float64(1),
				// The fake hub announces no compression: an old server,
				// so "not supported", as nats-server's leaf says.
				"compress_mode": "not supported",
			},
		},
		{
			name: "domain, jetstream, deny_imports, isolate",
			opts: func(o *Options) { o.Domain, o.JetStream = "edge", true },
			rem: func(r *Remote) {
				r.DenyImports = []string{"private.>", "secret"}
				r.DenyExports = []string{"local.>"} // not sent: the leaf enforces it
				r.Isolate = true
			},
			want: map[string]any{
				"version":        "2.15.2",
				"server_id":      "NEDGESERVERID",
				"name":           "edge-1",
				"domain":         "edge",
				"headers":        true,
				"jetstream":      true,
				"deny_pub":       []any{"private.>", "secret"},
				"isolate":        true,
				"remote_account": "$G",
				"protocol":       float64(1),
				// The fake hub announces no compression: an old server,
				// so "not supported", as nats-server's leaf says.
				"compress_mode": "not supported",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			rem := testRemote(hub.url())
			if tc.rem != nil {
				tc.rem(&rem)
			}
			opts := testOptions(router.New(), rem)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			startSet(t, opts)
			c := hub.accept()
			c.sendInfo(hub.info())
			op := c.next()
			if op.Op != "CONNECT" {
				t.Fatalf("first operation: %q, want CONNECT", op)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(op.Raw), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("CONNECT\n got %v\nwant %v", got, tc.want)
			}
			if strings.Contains(op.Raw, `"lang"`) {
				t.Errorf("CONNECT has lang: %s", op.Raw)
			}
		})
	}
}

// writeCreds writes a .creds file as NATS decentralized auth issues it:
// the user JWT and the user's seed, each in its decorated block.
func writeCreds(t *testing.T, jwt string, seed []byte) string {
	t.Helper()
	content := "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
		"************************* IMPORTANT *************************\n" +
		"NKEY Seed printed below can be used to sign and prove identity.\n" +
		"NKEYs are sensitive and should be treated as secrets.\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n\n" +
		"*************************************************************\n"
	p := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A user JWT is three base64url segments; the hub checks it, the leaf
// only carries it.
const testJWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVVEVTVCJ9.c2lnbmF0dXJl"

func newUser(t *testing.T) (seed []byte, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ = kp.Seed()
	pub, _ = kp.PublicKey()
	return seed, pub
}

// verifySig checks that sig is pub's signature of the hub's nonce.
func verifySig(t *testing.T, pub, sig, nonce string) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatalf("sig %q is not base64url without padding: %v", sig, err)
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := kp.Verify([]byte(nonce), raw); err != nil {
		t.Errorf("sig does not verify against the nonce with %s: %v", pub, err)
	}
}

func TestConnectCredentials(t *testing.T) {
	t.Parallel()
	nkeySeed, nkeyPub := newUser(t)
	credsSeed, credsPub := newUser(t)
	credsFile := writeCreds(t, testJWT, credsSeed)

	type want struct {
		user, pass, token string
		nkeyPub           string // nkey sent and sig verifying with it
		jwt, sigPub       string // jwt sent and sig verifying with sigPub
	}
	tests := []struct {
		name     string
		userinfo *url.Userinfo
		rem      func(*Remote)
		want     want
	}{
		{name: "none"},
		{name: "url user and password", userinfo: url.UserPassword("alice", "s3cret"),
			want: want{user: "alice", pass: "s3cret"}},
		{name: "url user only goes as token too", userinfo: url.User("tok3n"),
			want: want{user: "tok3n", token: "tok3n"}},
		{name: "configured user and password", rem: func(r *Remote) { r.User, r.Password = "bob", "pw" },
			want: want{user: "bob", pass: "pw"}},
		{name: "configured user only goes as token too", rem: func(r *Remote) { r.User = "bob" },
			want: want{user: "bob", token: "bob"}},
		{name: "url user wins over configured", userinfo: url.UserPassword("alice", "s3cret"),
			rem:  func(r *Remote) { r.User, r.Password = "bob", "pw" },
			want: want{user: "alice", pass: "s3cret"}},
		{name: "token", rem: func(r *Remote) { r.Token = "t0k" },
			want: want{token: "t0k"}},
		{name: "nkey", rem: func(r *Remote) { r.Nkey = string(nkeySeed) },
			want: want{nkeyPub: nkeyPub}},
		{name: "nkey with url user (auth callout)", userinfo: url.UserPassword("alice", "s3cret"),
			rem:  func(r *Remote) { r.Nkey = string(nkeySeed) },
			want: want{nkeyPub: nkeyPub, user: "alice", pass: "s3cret"}},
		{name: "creds file", rem: func(r *Remote) { r.CredsFile = credsFile },
			want: want{jwt: testJWT, sigPub: credsPub}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			u := hub.url()
			u.User = tc.userinfo
			rem := testRemote(u)
			if tc.rem != nil {
				tc.rem(&rem)
			}
			startSet(t, testOptions(router.New(), rem))
			info := hub.info()
			c := hub.accept()
			c.sendInfo(info)
			got := c.expectConnect()
			w := tc.want
			if got.User != w.user || got.Pass != w.pass || got.AuthToken != w.token {
				t.Errorf("user/pass/auth_token = %q/%q/%q, want %q/%q/%q",
					got.User, got.Pass, got.AuthToken, w.user, w.pass, w.token)
			}
			if got.Nkey != w.nkeyPub {
				t.Errorf("nkey = %q, want %q", got.Nkey, w.nkeyPub)
			}
			if got.JWT != w.jwt {
				t.Errorf("jwt = %q, want %q", got.JWT, w.jwt)
			}
			switch {
			case w.nkeyPub != "":
				verifySig(t, w.nkeyPub, got.Sig, info.Nonce)
			case w.sigPub != "":
				verifySig(t, w.sigPub, got.Sig, info.Nonce)
			case got.Sig != "":
				t.Errorf("sig %q without nkey or creds", got.Sig)
			}
			for _, secret := range [][]byte{nkeySeed, credsSeed} {
				if bytes.Contains(c.rawBytes(), secret) {
					t.Errorf("a seed went over the wire")
				}
			}
		})
	}
}

// TestConnectCredsMalformed: a .creds file without its JWT block must
// fail the attempt before CONNECT, never send its content (the seed) as
// the JWT.
func TestConnectCredsMalformed(t *testing.T) {
	t.Parallel()
	seed, _ := newUser(t)
	dir := t.TempDir()
	files := map[string]string{
		"seed block only": "-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n",
		"bare seed":       string(seed) + "\n",
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".creds")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			hub := newFakeHub(t)
			_, l := startLink(t, router.New(), hub, func(r *Remote) { r.CredsFile = p })
			c := hub.accept()
			c.sendInfo(hub.info())
			closed := c.closedWithin(time.Second)
			if raw := c.rawBytes(); bytes.Contains(raw, seed) || bytes.Contains(raw, []byte("CONNECT")) {
				t.Fatalf("the leaf sent %q", raw)
			}
			if !closed {
				t.Fatal("the leaf did not close the connection")
			}
			waitDown(t, l, "credentials")
		})
	}
}

// TestHandshakeFailures: each way the hub can fail the handshake ends the
// attempt with a telling error, without CONNECT where none belongs, and
// the link tries again.
func TestHandshakeFailures(t *testing.T) {
	t.Parallel()
	type handshakeCase struct {
		name        string
		rem         func(*Remote)
		hub         func(h *fakeHub, c *hubConn)
		connectSent bool
		lastErr     string
	}
	tests := []handshakeCase{
		{
			name: "no INFO within first_info_timeout",
			rem:  func(r *Remote) { r.FirstInfoTimeout = 50 * time.Millisecond },
			hub:  func(*fakeHub, *hubConn) {},
			// nats-server: "no INFO within first_info_timeout"
			lastErr: "first_info_timeout",
		},
		{
			name: "client port: no leafnode_urls, no info_on_connect",
			hub: func(h *fakeHub, c *hubConn) {
				i := h.info()
				i.LeafNodeURLs, i.InfoOnConnect = nil, false
				i.ConnectURLs = []string{h.addr()}
				c.sendInfo(i)
			},
			lastErr: errWrongPort.Error(),
		},
		{
			name: "route port: client_id 0",
			hub: func(h *fakeHub, c *hubConn) {
				i := h.info()
				i.ClientID = 0
				c.sendInfo(i)
			},
			lastErr: errWrongPort.Error(),
		},
		{
			name:    "-ERR instead of INFO",
			hub:     func(_ *fakeHub, c *hubConn) { c.sendErr(leafproto.ErrTextAuthViolation) },
			lastErr: "hub: -ERR " + leafproto.ErrTextAuthViolation,
		},
		{
			name:    "another operation instead of INFO",
			hub:     func(_ *fakeHub, c *hubConn) { c.write(leafproto.PingLine) },
			lastErr: "expected INFO",
		},
		{
			name: "no connect_info INFO within connect timeout",
			rem:  func(r *Remote) { r.ConnectTimeout = 50 * time.Millisecond },
			hub: func(h *fakeHub, c *hubConn) {
				c.sendInfo(h.info())
				// A PING does not count as the answer.
				c.write(leafproto.PingLine)
			},
			connectSent: true,
			lastErr:     "stale",
		},
	}
	// After CONNECT, before the hub's answer.
	for _, pe := range []struct{ name, send, lastErr string }{
		{"LS+ before the answer", "LS+ foo\r\n", "LS+ before the hub answered"},
		{"credentials refused", "-ERR '" + leafproto.ErrTextAuthViolation + "'\r\n", "hub: -ERR '" + leafproto.ErrTextAuthViolation + "'"},
		{"unusable hub permissions", `INFO {"connect_info":true,"import":{"allow":["a..b"]}}` + "\r\n", "hub permissions"},
	} {
		tests = append(tests, handshakeCase{
			name: pe.name,
			hub: func(h *fakeHub, c *hubConn) {
				c.sendInfo(h.info())
				c.expectConnect()
				c.write([]byte(pe.send))
				if strings.HasPrefix(pe.send, "-ERR") {
					c.close() // a hub closes after its -ERR; the leaf leaves that to it
				}
			},
			connectSent: true,
			lastErr:     pe.lastErr,
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			_, l := startLink(t, router.New(), hub, tc.rem)
			c := hub.accept()
			tc.hub(hub, c)
			c.waitClosed()
			if got := bytes.Contains(c.rawBytes(), []byte("CONNECT ")); got != tc.connectSent {
				t.Errorf("CONNECT sent: %v, want %v (leaf sent %q)", got, tc.connectSent, c.rawBytes())
			}
			st := waitDown(t, l, tc.lastErr)
			if st.Connected {
				t.Error("status says connected")
			}
			// And it tries again.
			hub.accept()
		})
	}
}

// TestHandshakeOldHub: a hub without info_on_connect sends no answer to
// CONNECT; the link is up right after it.
func TestHandshakeOldHub(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	inb := newInbox()
	subscribe(t, r, "before", "", inb)
	set, l := startLink(t, r, hub, nil)
	info := hub.info()
	info.InfoOnConnect = false
	c, _ := hub.handshake(info, nil)
	c.expect("LS+ "+set.lds, "LS+ before")
	c.sync()
	st := l.Status()
	if !st.Connected || st.RemoteAccount != "" || st.HubServer != "hub-1" {
		t.Errorf("status %+v", st)
	}
	// Messages flow both ways.
	c.sendMsg("before", "", nil, "hi")
	if d := inb.next(t); d.subject != "before" || string(d.payload) != "hi" {
		t.Errorf("got %s", d)
	}
}

// TestHandshakeTLS covers TLS the hub requires in its INFO, TLS asked for
// by the URL, TLS before the INFO (handshake_first), and a hub whose
// certificate the leaf does not trust.
func TestHandshakeTLS(t *testing.T) {
	t.Parallel()
	serverCfg, clientCfg := testTLS(t)

	tests := []struct {
		name     string
		scheme   string
		leafTLS  *tls.Config
		first    bool // handshake_first
		required bool // INFO tls_required
		fails    string
	}{
		{name: "tls_required in INFO", scheme: "nats-leaf", leafTLS: clientCfg, required: true},
		{name: "tls:// URL", scheme: "tls", leafTLS: clientCfg},
		{name: "configured TLS", scheme: "nats-leaf", leafTLS: clientCfg},
		{name: "handshake_first", scheme: "nats-leaf", leafTLS: clientCfg, first: true, required: true},
		{name: "untrusted hub", scheme: "nats-leaf", required: true, fails: "tls handshake"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			u := hub.url()
			u.Scheme = tc.scheme
			set, l := startLink(t, router.New(), hub, func(r *Remote) {
				r.URLs = []*url.URL{u}
				r.TLS = tc.leafTLS
				r.HandshakeFirst = tc.first
			})
			c := hub.accept()
			if tc.first {
				if err := c.startTLS(serverCfg); err != nil {
					t.Fatalf("hub TLS: %v", err)
				}
			}
			info := hub.info()
			info.TLSRequired = tc.required
			c.sendInfo(info)
			if !tc.first {
				err := c.startTLS(serverCfg)
				if tc.fails != "" {
					if err == nil {
						t.Fatal("TLS handshake succeeded")
					}
					waitDown(t, l, tc.fails)
					return
				}
				if err != nil {
					t.Fatalf("hub TLS: %v", err)
				}
			}
			c.expectConnect()
			a := answer()
			c.sendInfo(a)
			c.expect("LS+ " + set.lds)
			c.sync()
			if !l.Status().Connected {
				t.Error("not connected")
			}
		})
	}
}

// TestFirstInfoFraming: the first INFO may come in pieces, be long, or
// share a read with what follows; one longer than the leafnode control
// line limit is refused.
func TestFirstInfoFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		send    func(h *fakeHub, c *hubConn, info []byte)
		lastErr string // "" when the link comes up
	}{
		{"in pieces", func(_ *fakeHub, c *hubConn, info []byte) {
			for _, part := range [][]byte{info[:3], info[3:20], info[20 : len(info)-1], info[len(info)-1:]} {
				c.write(part)
				time.Sleep(5 * time.Millisecond)
			}
		}, ""},
		{"long", func(h *fakeHub, c *hubConn, _ []byte) {
			i := h.info()
			for n := range 1000 {
				i.ConnectURLs = append(i.ConnectURLs, "127.0.0.1:"+strings.Repeat("9", n%5+1))
			}
			c.sendInfo(i)
		}, ""},
		{"with the old hub's interest in the same write", func(h *fakeHub, c *hubConn, _ []byte) {
			i := h.info()
			i.InfoOnConnect = false
			c.write(append(leafproto.AppendInfo(nil, &i), "LS+ hub.sub\r\nLMSG local.sub 2\r\nhi\r\n"...))
		}, ""},
		{"as long as allowed", func(h *fakeHub, c *hubConn, _ []byte) {
			c.write(infoOfLength(h, maxFirstInfoLine))
		}, ""},
		{"one byte too long", func(h *fakeHub, c *hubConn, _ []byte) {
			c.write(infoOfLength(h, maxFirstInfoLine+1))
		}, "first INFO too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			r := router.New()
			inb := newInbox()
			subscribe(t, r, "local.sub", "", inb)
			set, l := startLink(t, r, hub, nil)
			c := hub.accept()
			info := hub.info()
			tc.send(hub, c, leafproto.AppendInfo(nil, &info))
			if tc.lastErr != "" {
				c.waitClosed()
				waitDown(t, l, tc.lastErr)
				return
			}
			c.expectConnect()
			c.sendInfo(answer()) // an old hub's leaf ignores it
			c.expect("LS+ "+set.lds, "LS+ local.sub")
			c.sync()
			if !l.Status().Connected {
				t.Fatal("not connected")
			}
			if strings.Contains(tc.name, "old hub") {
				if d := inb.next(t); string(d.payload) != "hi" {
					t.Errorf("got %s", d)
				}
				if r.Count() != 2 {
					t.Errorf("router count %d, want the local and the hub's subscription", r.Count())
				}
			}
		})
	}
}

// infoOfLength is the hub's INFO line padded to n bytes before its CRLF.
func infoOfLength(h *fakeHub, n int) []byte {
	i := h.info()
	i.ServerName = ""
	short := len(leafproto.AppendInfo(nil, &i)) - 2
	i.ServerName = strings.Repeat("x", n-short)
	b := leafproto.AppendInfo(nil, &i)
	if len(b) != n+2 {
		panic("infoOfLength")
	}
	return b
}
