// Package hub starts nats-server v2.15.2 in-process as the hub a leafgate
// leafnode link joins: a client listener, a leafnodes listener and
// monitoring, each on a free loopback port, with the leafnode
// authorization, client users and their permissions, TLS, JetStream domain
// and operator (JWT) modes the link tests need. Restart stops the hub and
// starts it again on the same ports and store, as an upgrade of the hub
// would; Log is what nats-server logged, so a test can name the hub's
// verdict on what leafgate sent.
//
// It knows nothing about leafgate: tests point leafgate's
// leafnodes.remotes at LeafURL (or at a netproxy in front of LeafAddr).
package hub

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/tlsconf"
)

// Options describe a hub. The zero value is a plain hub named "hub" that
// accepts any leafnode without credentials into its global account.
type Options struct {
	// ServerName defaults to "hub".
	ServerName string
	// ClusterName names the hub's cluster (no routes are configured): a
	// leaf reporting the same cluster name is refused.
	ClusterName string

	// JetStream runs JetStream in Domain (default "hub"), storing under
	// StoreDir (a fresh temporary directory, removed at cleanup, when
	// empty). Restart keeps the store.
	JetStream bool
	Domain    string
	StoreDir  string

	// The leafnodes { authorization { ... } } block: one user with a
	// password, one nkey (a public key), or users. nats-server takes no
	// permissions from this block; leafnode permissions come from the
	// client users below.
	LeafUser, LeafPassword string
	LeafNkey               string
	LeafUsers              []*natsserver.User

	// Client authorization: users (with permissions), nkey users, a token,
	// the no_auth_user. When the leafnodes block has no authorization,
	// nats-server authenticates leafnodes against these, and a user's
	// permissions become the leafnode's import/export permissions (sent to
	// the leaf in the INFO that answers its CONNECT).
	Users      []*natsserver.User
	Nkeys      []*natsserver.NkeyUser
	Token      string
	NoAuthUser string

	// TLS on the leafnodes listener.
	TLS *TLS

	// Operator runs the hub in operator (JWT) mode with a memory resolver:
	// an operator, a system account and one account (with JetStream limits
	// when JetStream is on) are made, and two users of that account:
	// LeafCreds for leafgate's credentials and one that Connect uses.
	Operator bool

	// AdvertiseLeafURL lets the hub tell leafs its own leafnode URL
	// (leafnode_urls, which a leaf adds to its list). Off by default, so a
	// leaf that reaches the hub through a proxy keeps going through it.
	AdvertiseLeafURL bool

	// Trace logs every protocol line (Log), for tests that assert on
	// what the hub received. Debug lines are always logged.
	Trace bool

	// Configure, when set, edits the nats-server options last.
	Configure func(*natsserver.Options)
}

// TLS is the leafnodes listener's TLS.
type TLS struct {
	// Certs are files from tlsconf.WriteTestCerts: the server certificate
	// is for localhost and 127.0.0.1.
	Certs tlsconf.TestCerts
	// Verify requires a client certificate signed by Certs.CAFile.
	Verify bool
	// HandshakeFirst does TLS before the hub's INFO.
	HandshakeFirst bool
}

// Hub is a running nats-server hub.
type Hub struct {
	// URL is the client listener: nats://127.0.0.1:port.
	URL string
	// LeafAddr is the leafnodes listener, 127.0.0.1:port, and LeafURL the
	// same as nats-leaf://127.0.0.1:port (tls:// when TLS is on).
	LeafAddr string
	LeafURL  string
	// MonitorURL is http://127.0.0.1:port (/varz, /leafz, /subsz).
	MonitorURL string
	// StoreDir is the JetStream store ("" without JetStream).
	StoreDir string
	// LeafCreds is a .creds file for leafgate in operator mode; Account is
	// the account's public key it binds to.
	LeafCreds string
	Account   string

	opts    Options
	ports   [3]int // client, leafnodes, monitor: kept across restarts
	op      *operator
	log     *logBuffer
	cleanup []func()

	mu  sync.Mutex
	srv *natsserver.Server
}

// Start starts a hub for t and shuts it down at cleanup. When t fails,
// the hub's log is written to the test log.
func Start(t testing.TB, o Options) *Hub {
	t.Helper()
	h, err := Run(o)
	if err != nil {
		t.Fatalf("hub: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hub log:\n%s", h.Log())
		}
		h.Close()
	})
	return h
}

// Run starts a hub; the caller must Close it.
func Run(o Options) (*Hub, error) {
	if o.ServerName == "" {
		o.ServerName = "hub"
	}
	if o.JetStream && o.Domain == "" {
		o.Domain = "hub"
	}
	h := &Hub{opts: o, log: &logBuffer{}}
	if o.JetStream {
		if o.StoreDir == "" {
			dir, err := os.MkdirTemp("", "hub-js-")
			if err != nil {
				return nil, err
			}
			o.StoreDir = dir
			h.cleanup = append(h.cleanup, func() { _ = os.RemoveAll(dir) })
		}
		h.StoreDir = o.StoreDir
		h.opts = o
	}
	if o.Operator {
		dir, err := os.MkdirTemp("", "hub-creds-")
		if err != nil {
			h.Close()
			return nil, err
		}
		h.cleanup = append(h.cleanup, func() { _ = os.RemoveAll(dir) })
		op, err := newOperator(o.JetStream)
		if err != nil {
			h.Close()
			return nil, err
		}
		h.op = op
		h.LeafCreds = filepath.Join(dir, "leaf.creds")
		if err := os.WriteFile(h.LeafCreds, op.leafCreds, 0o600); err != nil {
			h.Close()
			return nil, err
		}
		h.Account = op.accountPub
	}
	if err := h.launch(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// options builds nats-server's options; each launch needs fresh ones, as
// nats-server writes into them.
func (h *Hub) options() (*natsserver.Options, error) {
	o := &h.opts
	so := &natsserver.Options{
		ServerName: o.ServerName,
		Host:       "127.0.0.1",
		Port:       -1,
		HTTPHost:   "127.0.0.1",
		HTTPPort:   -1,
		NoSigs:     true,
		Debug:      true,
		Trace:      o.Trace,
		// Dead links are found by leafgate's pings in these tests; the
		// hub's own default (2 minutes) never fires within one.
		PingInterval: 2 * time.Minute,
	}
	so.LeafNode.Host, so.LeafNode.Port = "127.0.0.1", -1
	so.LeafNode.NoAdvertise = !o.AdvertiseLeafURL
	if h.ports[0] != 0 {
		so.Port, so.LeafNode.Port, so.HTTPPort = h.ports[0], h.ports[1], h.ports[2]
	}
	if o.ClusterName != "" {
		so.Cluster.Name = o.ClusterName
	}
	if o.JetStream {
		so.JetStream = true
		so.JetStreamDomain = o.Domain
		so.StoreDir = o.StoreDir
	}
	so.LeafNode.Username, so.LeafNode.Password = o.LeafUser, o.LeafPassword
	so.LeafNode.Nkey = o.LeafNkey
	so.LeafNode.Users = o.LeafUsers
	so.Users, so.Nkeys = o.Users, o.Nkeys
	so.Authorization = o.Token
	so.NoAuthUser = o.NoAuthUser
	if t := o.TLS; t != nil {
		cfg, err := tlsconf.Options{CertFile: t.Certs.CertFile, KeyFile: t.Certs.KeyFile,
			CAFile: t.Certs.CAFile, Verify: t.Verify}.ServerConfig()
		if err != nil {
			return nil, fmt.Errorf("leafnode TLS: %w", err)
		}
		so.LeafNode.TLSConfig = cfg
		so.LeafNode.TLSTimeout = 5
		so.LeafNode.TLSHandshakeFirst = t.HandshakeFirst
	}
	if h.op != nil {
		h.op.configure(so)
	}
	if o.Configure != nil {
		o.Configure(so)
	}
	return so, nil
}

func (h *Hub) launch() error {
	so, err := h.options()
	if err != nil {
		return err
	}
	s, err := natsserver.NewServer(so)
	if err != nil {
		return fmt.Errorf("new nats-server: %w", err)
	}
	s.SetLoggerV2(h.log, true, h.opts.Trace, false)
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("nats-server not ready:\n%s", h.log.String())
	}
	// Start wrote the ports it picked back into the options.
	h.ports = [3]int{so.Port, so.LeafNode.Port, so.HTTPPort}
	if addr, ok := s.Addr().(*net.TCPAddr); ok {
		h.ports[0] = addr.Port
	}
	if m := s.MonitorAddr(); m != nil {
		h.ports[2] = m.Port
	}
	h.URL = "nats://127.0.0.1:" + strconv.Itoa(h.ports[0])
	h.LeafAddr = "127.0.0.1:" + strconv.Itoa(h.ports[1])
	scheme := "nats-leaf"
	if h.opts.TLS != nil {
		scheme = "tls"
	}
	h.LeafURL = scheme + "://" + h.LeafAddr
	h.MonitorURL = "http://127.0.0.1:" + strconv.Itoa(h.ports[2])
	if err := waitListening(h.LeafAddr, 10*time.Second); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return err
	}
	h.mu.Lock()
	h.srv = s
	h.mu.Unlock()
	return nil
}

func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Server is the running nats-server (nil while stopped).
func (h *Hub) Server() *natsserver.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.srv
}

// Shutdown stops the hub, keeping its ports and store for Start.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	s := h.srv
	h.srv = nil
	h.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts a stopped hub again, or stops and starts a running one,
// on the same ports, store and keys.
func (h *Hub) Restart(t testing.TB) {
	t.Helper()
	h.Shutdown()
	if err := h.launch(); err != nil {
		t.Fatalf("hub: restart: %v", err)
	}
}

// Close shuts the hub down and removes what Run created.
func (h *Hub) Close() {
	h.Shutdown()
	for _, f := range h.cleanup {
		f()
	}
	h.cleanup = nil
}

// Connect connects a nats.go client to the hub's client port (with the
// operator-mode user's credentials when there is one), closed at cleanup.
// It does not reconnect unless opts say so.
func (h *Hub) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	all := []nats.Option{nats.Name("hub-client"), nats.MaxReconnects(0), nats.Timeout(10 * time.Second)}
	if h.op != nil {
		all = append(all, nats.UserJWTAndSeed(h.op.clientJWT, h.op.clientSeed))
	}
	if h.opts.Token != "" {
		all = append(all, nats.Token(h.opts.Token))
	}
	nc, err := nats.Connect(h.URL, append(all, opts...)...)
	if err != nil {
		t.Fatalf("hub: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Leafs reports the hub's leafnode connections with their subscriptions
// (nats-server's /leafz?subs=1); none while the hub is stopped.
func (h *Hub) Leafs() []*natsserver.LeafInfo {
	s := h.Server()
	if s == nil {
		return nil
	}
	lz, err := s.Leafz(&natsserver.LeafzOptions{Subscriptions: true})
	if err != nil {
		return nil
	}
	return lz.Leafs
}

// LeafSubjects is the sorted interest the hub holds for its leafnodes,
// without the loop-detection subjects ($LDS.), duplicates kept (a queue
// group and a plain subscription on one subject show twice).
func (h *Hub) LeafSubjects() []string {
	var subs []string
	for _, l := range h.Leafs() {
		for _, s := range l.Subs {
			if !strings.HasPrefix(s, "$LDS.") {
				subs = append(subs, s)
			}
		}
	}
	sort.Strings(subs)
	return subs
}

// SubjectsWithPrefix lists the hub's own subscriptions (its clients' and
// its internal ones, leafnodes' excluded) on subjects starting with
// prefix: "$JSC.R." are the replies its stream sources and mirrors wait
// on while they set up.
func (h *Hub) SubjectsWithPrefix(prefix string) []string {
	s := h.Server()
	if s == nil {
		return nil
	}
	sz, err := s.Subsz(&natsserver.SubszOptions{Subscriptions: true, Limit: 1 << 20})
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range sz.Subs {
		if strings.HasPrefix(d.Subject, prefix) {
			out = append(out, d.Subject)
		}
	}
	sort.Strings(out)
	return out
}

// WaitLeafs waits until the hub has exactly n leafnode connections.
func (h *Hub) WaitLeafs(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	Until(t, timeout, func() string {
		if got := len(h.Leafs()); got != n {
			return fmt.Sprintf("hub has %d leafnode connections, want %d", got, n)
		}
		return ""
	})
}

// WaitInterest waits until every subject in subjs is leafnode interest
// at the hub (a queue group counts under its subject).
func (h *Hub) WaitInterest(t testing.TB, timeout time.Duration, subjs ...string) {
	t.Helper()
	Until(t, timeout, func() string {
		have := h.LeafSubjects()
		for _, s := range subjs {
			if !contains(have, s) {
				return fmt.Sprintf("hub leafnode interest %q lacks %q", have, s)
			}
		}
		return ""
	})
}

// WaitNoInterest waits until no subject in subjs is leafnode interest at
// the hub.
func (h *Hub) WaitNoInterest(t testing.TB, timeout time.Duration, subjs ...string) {
	t.Helper()
	Until(t, timeout, func() string {
		have := h.LeafSubjects()
		for _, s := range subjs {
			if contains(have, s) {
				return fmt.Sprintf("hub leafnode interest %q still has %q", have, s)
			}
		}
		return ""
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Log is what the hub logged so far, one line per entry, each prefixed
// with its level ([INF], [WRN], [ERR], [DBG], [TRC]).
func (h *Hub) Log() string { return h.log.String() }

// Until polls cond every 20 ms until it returns "" or timeout passes, and
// then fails t with cond's last complaint. It is the one way these tests
// wait for something asynchronous: a deadline, never a fixed sleep.
func Until(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer is a nats-server Logger that keeps every line.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(level, format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(time.Now().Format("15:04:05.000 "))
	l.b.WriteString(level)
	l.b.WriteByte(' ')
	fmt.Fprintf(&l.b, format, v...)
	l.b.WriteByte('\n')
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) Noticef(format string, v ...any) { l.add("[INF]", format, v) }
func (l *logBuffer) Warnf(format string, v ...any)   { l.add("[WRN]", format, v) }
func (l *logBuffer) Fatalf(format string, v ...any)  { l.add("[FTL]", format, v) }
func (l *logBuffer) Errorf(format string, v ...any)  { l.add("[ERR]", format, v) }
func (l *logBuffer) Debugf(format string, v ...any)  { l.add("[DBG]", format, v) }
func (l *logBuffer) Tracef(format string, v ...any)  { l.add("[TRC]", format, v) }
