package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/sync/hubresume"
	"github.com/leafgate/leafgate/ws"
)

// LeafConfig is the leafnodes section: the hubs this gateway joins as a
// leafnode. Key names are nats-server's; leafgate only solicits, so the
// accept side's keys (listen, port, authorization) are unknown here.
type LeafConfig struct {
	// Reconnect is the first wait after a failed attempt (nats-server's
	// fixed interval); leafgate doubles it, with jitter, up to ReconnectMax.
	Reconnect     time.Duration  `mapstructure:"reconnect"`
	ReconnectMax  time.Duration  `mapstructure:"reconnect_max"`
	DialTimeout   time.Duration  `mapstructure:"dial_timeout"`
	WriteDeadline time.Duration  `mapstructure:"write_deadline"`
	PingInterval  time.Duration  `mapstructure:"ping_interval"`
	PingMax       int            `mapstructure:"ping_max"`
	MaxPending    Size           `mapstructure:"max_pending"`
	Remotes       []RemoteConfig `mapstructure:"remotes"`
}

// RemoteConfig is one leafnodes.remotes entry.
type RemoteConfig struct {
	URL           string            `mapstructure:"url"`
	URLs          []string          `mapstructure:"urls"`
	NoRandomize   bool              `mapstructure:"no_randomize"`
	Account       string            `mapstructure:"account"`
	Credentials   string            `mapstructure:"credentials"`
	Nkey          string            `mapstructure:"nkey"`
	TLS           *RemoteTLSConfig  `mapstructure:"tls"`
	Hub           bool              `mapstructure:"hub"`
	DenyImports   []string          `mapstructure:"deny_imports"`
	DenyExports   []string          `mapstructure:"deny_exports"`
	Compression   CompressionConfig `mapstructure:"compression"`
	WSCompression bool              `mapstructure:"ws_compression"`
	WSNoMasking   bool              `mapstructure:"ws_no_masking"`
	// RequestIsolation is on unless set false (nats-server's default is
	// off): a gateway rarely needs the interest of the hub's other
	// leafnodes — a fleet's — and holding it costs memory on every box.
	RequestIsolation *bool         `mapstructure:"request_isolation"`
	FirstInfoTimeout time.Duration `mapstructure:"first_info_timeout"`
	DialTimeout      time.Duration `mapstructure:"dial_timeout"`
	Disabled         bool          `mapstructure:"disabled"`
	// leafgate's own keys.
	Name             string        `mapstructure:"name"`
	PingInterval     time.Duration `mapstructure:"ping_interval"`
	PingMax          int           `mapstructure:"ping_max"`
	MaxSubscriptions int           `mapstructure:"max_subscriptions"`
	// ResumeHubSources is on unless set false: when the link comes back,
	// the hub's stream source and mirror setups waiting on a request the
	// outage lost are asked to repeat it (sync/hubresume).
	ResumeHubSources *bool `mapstructure:"resume_hub_sources"`
}

// CompressionConfig is a remote's compression: a mode ("s2_auto") or, as
// in nats-server, {mode: s2_auto, rtt_thresholds: [10ms, 50ms, 100ms]}.
type CompressionConfig struct {
	Mode          string          `mapstructure:"mode"`
	RTTThresholds []time.Duration `mapstructure:"rtt_thresholds"`
}

// compressionHook decodes CompressionConfig from a bare mode string.
func compressionHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[CompressionConfig]() {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return CompressionConfig{Mode: v}, nil
	case bool:
		return CompressionConfig{Mode: strconv.FormatBool(v)}, nil
	}
	return data, nil
}

// RemoteTLSConfig is a remote's tls block, as nats-server's.
type RemoteTLSConfig struct {
	CertFile       string        `mapstructure:"cert_file"`
	KeyFile        string        `mapstructure:"key_file"`
	CAFile         string        `mapstructure:"ca_file"`
	Insecure       bool          `mapstructure:"insecure"`
	MinVersion     string        `mapstructure:"min_version"`
	Timeout        time.Duration `mapstructure:"timeout"`
	HandshakeFirst bool          `mapstructure:"handshake_first"`
}

// validate checks the leafnodes section; errors name the key.
func (lc *LeafConfig) validate() error {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"reconnect", lc.Reconnect}, {"reconnect_max", lc.ReconnectMax}, {"dial_timeout", lc.DialTimeout},
		{"write_deadline", lc.WriteDeadline}, {"ping_interval", lc.PingInterval}} {
		if d.v < 0 {
			return fmt.Errorf("leafnodes.%s: %v is negative", d.key, d.v)
		}
	}
	if lc.ReconnectMax > 0 && lc.Reconnect > lc.ReconnectMax {
		return fmt.Errorf("leafnodes.reconnect_max: %v is below leafnodes.reconnect (%v)", lc.ReconnectMax, lc.Reconnect)
	}
	if lc.PingMax < 0 {
		return fmt.Errorf("leafnodes.ping_max: %d is negative", lc.PingMax)
	}
	for i := range lc.Remotes {
		if _, err := lc.Remotes[i].remote(false); err != nil {
			return fmt.Errorf("leafnodes.remotes[%d].%w", i, err)
		}
	}
	return nil
}

// remote converts the entry; an error starts with the key it is about.
// Files (credentials, TLS) are read only with files set: at start-up, not
// when a configuration is merely loaded, as for the other TLS settings.
func (rc *RemoteConfig) remote(files bool) (leafnode.Remote, error) {
	r := leafnode.Remote{
		Name:             rc.Name,
		NoRandomize:      rc.NoRandomize,
		CredsFile:        rc.Credentials,
		Nkey:             rc.Nkey,
		DenyImports:      rc.DenyImports,
		DenyExports:      rc.DenyExports,
		Isolate:          rc.RequestIsolation == nil || *rc.RequestIsolation,
		FirstInfoTimeout: rc.FirstInfoTimeout,
		DialTimeout:      rc.DialTimeout,
		PingInterval:     rc.PingInterval,
		MaxPingsOut:      rc.PingMax,
		MaxHubSubs:       rc.MaxSubscriptions,
		WSCompression:    rc.WSCompression,
		WSNoMasking:      rc.WSNoMasking,
	}
	raw := rc.URLs
	if rc.URL != "" {
		raw = append([]string{rc.URL}, raw...)
	}
	if len(raw) == 0 {
		return r, errors.New("urls: at least one hub URL is required")
	}
	for i, s := range raw {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			// Not the URL itself: it may hold a password.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return r, fmt.Errorf("urls[%d]: not a valid URL: %v", i, err)
		}
		switch u.Scheme {
		case "nats-leaf", "nats", "tls", "ws", "wss":
		default:
			return r, fmt.Errorf("urls: %q: scheme must be nats-leaf://, nats://, tls://, ws:// or wss://", leafnode.Redact(u))
		}
		if u.Hostname() == "" {
			return r, fmt.Errorf("urls: %q: no host", leafnode.Redact(u))
		}
		r.URLs = append(r.URLs, u)
	}
	switch rc.Account {
	case "", "$G":
	default:
		// leafgate has one account, nats-server's global account.
		return r, fmt.Errorf("account: %q: leafgate has only the global account ($G)", rc.Account)
	}
	ws := r.URLs[0].Scheme == "ws" || r.URLs[0].Scheme == "wss"
	for _, u := range r.URLs[1:] {
		if (u.Scheme == "ws" || u.Scheme == "wss") != ws {
			return r, errors.New("urls: WebSocket (ws://, wss://) and other URLs cannot be mixed in one remote")
		}
	}
	if (rc.WSCompression || rc.WSNoMasking) && !ws {
		return r, errors.New("ws_compression/ws_no_masking: only for ws:// and wss:// URLs")
	}
	if rc.Hub {
		return r, errors.New("hub: leafgate is always the spoke of its links; hub: true is not supported")
	}
	if rc.Credentials != "" && rc.Nkey != "" {
		return r, errors.New("credentials: cannot be combined with nkey")
	}
	if rc.Credentials != "" && files {
		data, err := os.ReadFile(rc.Credentials)
		if err != nil {
			return r, fmt.Errorf("credentials: %v", err)
		}
		_, jerr := nkeys.ParseDecoratedJWT(data)
		kp, kerr := nkeys.ParseDecoratedNKey(data)
		clear(data)
		if jerr != nil || kerr != nil {
			return r, fmt.Errorf("credentials: %s is not a NATS credentials file (user JWT and seed)", rc.Credentials)
		}
		kp.Wipe()
	}
	if rc.Nkey != "" {
		kp, err := nkeys.FromSeed([]byte(rc.Nkey))
		if err != nil {
			return r, errors.New("nkey: not a valid user seed")
		}
		kp.Wipe()
	}
	mode, err := leafproto.ParseCompressionMode(rc.Compression.Mode)
	if err != nil {
		return r, fmt.Errorf("compression: %v", err)
	}
	r.Compression = mode
	if mode == leafproto.CompressionS2Auto {
		if r.RTTThresholds, err = leafproto.NormalizeRTTThresholds(rc.Compression.RTTThresholds); err != nil {
			return r, fmt.Errorf("compression.rtt_thresholds: %v", err)
		}
	} else if len(rc.Compression.RTTThresholds) > 0 {
		return r, fmt.Errorf("compression.rtt_thresholds: only for mode %s", leafproto.CompressionS2Auto)
	}
	for _, s := range append(append([]string(nil), rc.DenyImports...), rc.DenyExports...) {
		if !subject.ValidPattern([]byte(s)) {
			return r, fmt.Errorf("deny_imports/deny_exports: %q is not a valid subject", s)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"first_info_timeout", rc.FirstInfoTimeout}, {"dial_timeout", rc.DialTimeout}, {"ping_interval", rc.PingInterval}} {
		if d.v < 0 {
			return r, fmt.Errorf("%s: %v is negative", d.key, d.v)
		}
	}
	if rc.PingMax < 0 || rc.MaxSubscriptions < 0 {
		return r, errors.New("ping_max/max_subscriptions: must not be negative")
	}
	if t := rc.TLS; t != nil && files {
		cfg, err := t.clientConfig()
		if err != nil {
			return r, fmt.Errorf("tls: %v", err)
		}
		r.TLS = cfg
		r.HandshakeFirst = t.HandshakeFirst
	}
	return r, nil
}

// clientConfig builds the TLS client configuration of a remote.
func (t *RemoteTLSConfig) clientConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.Insecure}
	if t.MinVersion != "" {
		v, err := tlsconf.ParseMinVersion(t.MinVersion)
		if err != nil {
			return nil, err
		}
		cfg.MinVersion = v
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// leafOptions builds the links' options, reading the remotes' files; an
// error names the key. The configuration is already valid. resumers go
// with o.Remotes (nil where resume_hub_sources is off).
func (c *Config) leafOptions(srv *server.Server, log *slog.Logger) (o leafnode.Options, resumers []*hubresume.Resumer, err error) {
	lc := &c.Leafnodes
	o = leafnode.Options{
		Log:           log,
		Version:       server.NATSVersion,
		Domain:        c.JetStream.Domain,
		JetStream:     c.JetStream.Enabled,
		MaxPayload:    int(c.MaxPayload),
		MaxPending:    int64(lc.MaxPending),
		WriteDeadline: lc.WriteDeadline,
		// ws:// and wss:// remotes: leaf must not import the ws adapter.
		DialWebSocket: ws.DialLeafnode,
	}
	for i := range lc.Remotes {
		rc := &lc.Remotes[i]
		if rc.Disabled {
			continue
		}
		r, err := rc.remote(true)
		if err != nil {
			return o, nil, fmt.Errorf("leafnodes.remotes[%d].%w", i, err)
		}
		r.ReconnectDelay, r.ReconnectMax = lc.Reconnect, lc.ReconnectMax
		// What a downlink delivers comes from its stream only: the hub
		// must not also send it as core messages (a device's session
		// would get it twice).
		r.DenyImports = append(r.DenyImports, c.downlinkSubjects()...)
		if r.DialTimeout == 0 {
			r.DialTimeout = lc.DialTimeout
		}
		if r.PingInterval == 0 {
			r.PingInterval = lc.PingInterval
		}
		if r.MaxPingsOut == 0 {
			r.MaxPingsOut = lc.PingMax
		}
		var resumer *hubresume.Resumer
		if c.JetStream.Enabled && (rc.ResumeHubSources == nil || *rc.ResumeHubSources) {
			var rt *router.Router
			if srv != nil {
				rt = srv.Router()
			}
			resumer = hubresume.New(rt, log)
			r.Settled = resumer.Settled
		}
		o.Remotes = append(o.Remotes, r)
		resumers = append(resumers, resumer)
	}
	if srv != nil {
		o.Router, o.ServerID, o.ServerName = srv.Router(), srv.ID(), srv.Name()
	}
	return o, resumers, nil
}

// monitorLinks serves the links' state on /leafz and /varz; resumers go
// with the links.
func monitorLinks(srv *server.Server, links *leafnode.Set, resumers []*hubresume.Resumer) {
	srv.SetLeafz(func(opts monitor.LeafzOptions) *monitor.Leafz {
		lz := &monitor.Leafz{}
		for i, l := range links.Links() {
			st := l.Status()
			lz.Remotes = append(lz.Remotes, &monitor.LeafRemote{
				Name: st.Name, Connected: st.Connected, URL: st.URL, Since: st.Since,
				HubServer: st.HubServer, HubCluster: st.HubCluster, HubDomain: st.HubDomain,
				RemoteAccount: st.RemoteAccount, LastError: st.LastError, NextAttempt: st.NextAttempt,
				Reconnects: st.Reconnects, FailedAttempts: st.Failures, Dropped: st.Dropped,
				ProtoInBytes: st.ProtoInBytes, ProtoOutBytes: st.ProtoOutBytes,
				WireInBytes: st.WireInBytes, WireOutBytes: st.WireOutBytes, HubSubsIgnored: st.HubSubsIgnored,
				LocalInterest: st.LocalInterest,
			})
			if i < len(resumers) && resumers[i] != nil {
				lz.Remotes[len(lz.Remotes)-1].HubSetupsResumed = resumers[i].Sent()
			}
			if !st.Connected {
				if st.Backoff > 0 {
					lz.Remotes[len(lz.Remotes)-1].Backoff = st.Backoff.String()
				}
				continue
			}
			li := &monitor.LeafInfo{
				ID: uint64(i + 1), Name: st.HubServer, IsSpoke: true, IsIsolated: l.Remote().Isolate,
				Account: "$G", InMsgs: st.InMsgs, OutMsgs: st.OutMsgs, InBytes: st.InBytes, OutBytes: st.OutBytes,
				NumSubs: uint32(st.HubSubs), Compression: st.Compression,
			}
			if st.RTT > 0 {
				li.RTT = st.RTT.String()
			}
			if u, err := url.Parse(st.URL); err == nil {
				li.IP = u.Hostname()
				li.Port, _ = strconv.Atoi(u.Port())
			}
			if opts.Subscriptions {
				li.Subs = l.HubInterest()
			}
			lz.Leafs = append(lz.Leafs, li)
		}
		return lz
	})
	srv.AddVarz(func(v *monitor.Varz) {
		lv := &monitor.LeafNodeVarz{}
		for _, l := range links.Links() {
			r := l.Remote()
			rv := monitor.RemoteLeafVarz{LocalAccount: "$G"}
			for _, u := range r.URLs {
				rv.URLs = append(rv.URLs, leafnode.Redact(u))
			}
			if len(r.DenyImports)+len(r.DenyExports) > 0 {
				rv.Deny = &monitor.DenyRules{Imports: r.DenyImports, Exports: r.DenyExports}
			}
			lv.Remotes = append(lv.Remotes, rv)
		}
		v.LeafNode = lv
	})
}
