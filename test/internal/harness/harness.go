// Package harness starts the servers end-to-end tests run against: leafgate
// in-process, and nats-server v2.15.2 in-process as the reference. A test
// written with ForEach runs against both, which proves each assertion holds
// for nats-server and that leafgate matches it.
package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/sync/sourcing"
)

// User is a password or nkey user with optional permissions.
type User struct {
	Name, Password, NKey string
	Perms                *Perms
}

// Perms mirror both servers' permission blocks.
type Perms struct {
	PubAllow, PubDeny, SubAllow, SubDeny []string
	// Responses enables allow_responses with MaxMsgs (0: default).
	Responses bool
	MaxMsgs   int
}

// TLS describes TLS on the client port.
type TLS struct {
	Certs          tlsconf.TestCerts
	Verify         bool
	AllowNonTLS    bool // TLS offered, not required (tls_available)
	HandshakeFirst bool // TLS before INFO
}

// Options is one description of a server, mapped onto both implementations.
type Options struct {
	Users            []User
	Token            string
	NoAuthUser       string // a Users name or nkey for clients without credentials
	TLS              *TLS
	PingInterval     time.Duration
	MaxPingsOut      int
	MaxPayload       int32
	MaxConnections   int
	MaxSubscriptions int
	MaxControlLine   int32
	MaxPending       int64
	WriteDeadline    time.Duration
	AuthTimeout      time.Duration
	LameDuckDuration time.Duration
	LameDuckGrace    time.Duration

	// JetStream enables JetStream on both servers, storing under StoreDir
	// (a fresh temporary directory, removed at shutdown, when empty).
	// Tests that restart a server on the same data set StoreDir.
	JetStream bool
	StoreDir  string
	Domain    string
}

// Target is a running server under test.
type Target struct {
	Name       string
	URL        string // nats://127.0.0.1:port
	Addr       string // 127.0.0.1:port
	MonitorURL string // http://127.0.0.1:port
	StoreDir   string // Options.StoreDir, when the test set one

	shutdown func()
	lameDuck func()
}

// Shutdown stops the server gracefully and waits for it.
func (tg *Target) Shutdown() { tg.shutdown() }

// LameDuck puts the server in lame-duck mode and returns at once.
func (tg *Target) LameDuck() { go tg.lameDuck() }

// Targets selected by LEAFGATE_E2E_TARGETS (comma-separated), default both.
func targets() []string {
	if s := os.Getenv("LEAFGATE_E2E_TARGETS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"leafgate", "nats-server"}
}

// ForEach runs fn as a subtest against each target started with opts.
func ForEach(t *testing.T, opts Options, fn func(t *testing.T, tg *Target)) {
	t.Helper()
	for _, name := range targets() {
		t.Run(name, func(t *testing.T) {
			fn(t, Start(t, name, opts))
		})
	}
}

// Start starts one target and registers its shutdown with t.Cleanup.
func Start(t testing.TB, name string, opts Options) *Target {
	t.Helper()
	var tg *Target
	var err error
	switch name {
	case "leafgate":
		tg, err = startLeafgate(opts)
	case "nats-server":
		tg, err = startReference(opts)
	default:
		t.Fatalf("harness: unknown target %q", name)
	}
	if err != nil {
		t.Fatalf("harness: start %s: %v", name, err)
	}
	tg.Name = name
	t.Cleanup(tg.shutdown)
	return tg
}

func tlsConfig(o *TLS) (*tls.Config, error) {
	return tlsconf.Options{
		CertFile: o.Certs.CertFile, KeyFile: o.Certs.KeyFile, CAFile: o.Certs.CAFile, Verify: o.Verify,
	}.ServerConfig()
}

func startLeafgate(o Options) (*Target, error) {
	so := server.Options{
		Listen:              "127.0.0.1:0",
		MonitorListen:       "127.0.0.1:0",
		PingInterval:        o.PingInterval,
		MaxPingsOut:         o.MaxPingsOut,
		MaxPayload:          o.MaxPayload,
		MaxConnections:      o.MaxConnections,
		MaxSubscriptions:    o.MaxSubscriptions,
		MaxControlLine:      int(o.MaxControlLine),
		MaxPending:          o.MaxPending,
		WriteDeadline:       o.WriteDeadline,
		AuthTimeout:         o.AuthTimeout,
		LameDuckDuration:    o.LameDuckDuration,
		LameDuckGracePeriod: o.LameDuckGrace,
		Auth:                auth.Config{Token: o.Token, NoAuthUser: o.NoAuthUser},
		JetStream:           o.JetStream,
		JetStreamAPILevel:   jetstream.APILevel, // sent with JetStream off too
	}
	for _, u := range o.Users {
		au := auth.User{Name: u.Name, Password: u.Password, NKey: u.NKey}
		if p := u.Perms; p != nil {
			au.Permissions = &auth.Permissions{}
			if p.PubAllow != nil || p.PubDeny != nil {
				au.Permissions.Publish = &auth.SubjectPermission{Allow: p.PubAllow, Deny: p.PubDeny}
			}
			if p.SubAllow != nil || p.SubDeny != nil {
				au.Permissions.Subscribe = &auth.SubjectPermission{Allow: p.SubAllow, Deny: p.SubDeny}
			}
			if p.Responses {
				au.Permissions.Responses = &auth.ResponsePermission{MaxMsgs: p.MaxMsgs}
			}
		}
		so.Auth.Users = append(so.Auth.Users, au)
	}
	if o.TLS != nil {
		tc, err := tlsConfig(o.TLS)
		if err != nil {
			return nil, err
		}
		so.TLS = tc
		so.AllowNonTLS = o.TLS.AllowNonTLS
		so.TLSHandshakeFirst = o.TLS.HandshakeFirst
	}
	s, err := server.New(so)
	if err != nil {
		return nil, err
	}
	var js *jetstream.Service
	cleanup := func() {}
	if o.JetStream {
		dir, rm, err := storeDir(o.StoreDir)
		if err != nil {
			return nil, err
		}
		js, err = jetstream.Open(jetstream.Config{Dir: dir, Domain: o.Domain, ServerName: s.Name(), Follower: sourcing.New(s.Router(), "", nil)}, s.Router())
		if err != nil {
			rm()
			return nil, err
		}
		cleanup = rm
		s.SetJetStream(js)
		s.OnShutdown(js.EndPullRequests)
	}
	if err := s.Start(); err != nil {
		if js != nil {
			_ = js.Close()
		}
		cleanup()
		return nil, err
	}
	addr := s.ClientAddr().String()
	return &Target{
		URL:        "nats://" + addr,
		Addr:       addr,
		MonitorURL: "http://" + s.MonitorAddr().String(),
		StoreDir:   o.StoreDir,
		shutdown: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			if js != nil {
				_ = js.Close()
			}
			cleanup()
		},
		lameDuck: func() { _ = s.LameDuck(context.Background()) },
	}, nil
}

func startReference(o Options) (*Target, error) {
	so := &natsserver.Options{
		Host:                "127.0.0.1",
		Port:                -1,
		HTTPHost:            "127.0.0.1",
		HTTPPort:            -1,
		NoLog:               true,
		NoSigs:              true,
		PingInterval:        o.PingInterval,
		MaxPingsOut:         o.MaxPingsOut,
		MaxPayload:          o.MaxPayload,
		MaxConn:             o.MaxConnections,
		MaxSubs:             o.MaxSubscriptions,
		MaxControlLine:      o.MaxControlLine,
		MaxPending:          o.MaxPending,
		WriteDeadline:       o.WriteDeadline,
		AuthTimeout:         o.AuthTimeout.Seconds(),
		LameDuckDuration:    o.LameDuckDuration,
		LameDuckGracePeriod: o.LameDuckGrace,
		Authorization:       o.Token,
		NoAuthUser:          o.NoAuthUser,
		JetStream:           o.JetStream,
		JetStreamDomain:     o.Domain,
	}
	cleanup := func() {}
	if o.JetStream {
		dir, rm, err := storeDir(o.StoreDir)
		if err != nil {
			return nil, err
		}
		so.StoreDir = dir
		cleanup = rm
	}
	for _, u := range o.Users {
		var perms *natsserver.Permissions
		if p := u.Perms; p != nil {
			perms = &natsserver.Permissions{}
			if p.PubAllow != nil || p.PubDeny != nil {
				perms.Publish = &natsserver.SubjectPermission{Allow: p.PubAllow, Deny: p.PubDeny}
			}
			if p.SubAllow != nil || p.SubDeny != nil {
				perms.Subscribe = &natsserver.SubjectPermission{Allow: p.SubAllow, Deny: p.SubDeny}
			}
			if p.Responses {
				perms.Response = &natsserver.ResponsePermission{MaxMsgs: p.MaxMsgs}
			}
		}
		if u.NKey != "" {
			so.Nkeys = append(so.Nkeys, &natsserver.NkeyUser{Nkey: u.NKey, Permissions: perms})
		} else {
			so.Users = append(so.Users, &natsserver.User{Username: u.Name, Password: u.Password, Permissions: perms})
		}
	}
	if o.TLS != nil {
		tc, err := tlsConfig(o.TLS)
		if err != nil {
			return nil, err
		}
		so.TLSConfig = tc
		so.TLS = true
		so.TLSVerify = o.TLS.Verify
		so.TLSTimeout = 2
		so.AllowNonTLS = o.TLS.AllowNonTLS
		so.TLSHandshakeFirst = o.TLS.HandshakeFirst
	}
	s, err := natsserver.NewServer(so)
	if err != nil {
		cleanup()
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		cleanup()
		return nil, fmt.Errorf("nats-server not ready")
	}
	addr := s.Addr().String()
	return &Target{
		URL:        "nats://" + addr,
		Addr:       addr,
		MonitorURL: "http://" + s.MonitorAddr().String(),
		StoreDir:   o.StoreDir,
		shutdown: func() {
			s.Shutdown()
			s.WaitForShutdown()
			cleanup()
		},
		lameDuck: func() { s.LameDuckShutdown() },
	}, nil
}

// storeDir returns dir, or a new temporary directory and its removal.
func storeDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "harness-js-*")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}
