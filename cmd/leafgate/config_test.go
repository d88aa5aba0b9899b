package main

import (
	"bytes"
	"github.com/leafgate/leafgate/leaf/leafnode"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/configs"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/mqtt"
	"github.com/leafgate/leafgate/ws"
)

// defaultConfig is the configuration every default must equal.
var defaultConfig = Config{
	Host: "0.0.0.0", Port: 4222, HTTPHost: "0.0.0.0", HTTPPort: 8222,
	MaxConnections: server.DefaultMaxConnections, MaxPayload: server.DefaultMaxPayload,
	MaxControlLine: server.DefaultMaxControlLine, MaxPending: server.DefaultMaxPending,
	WriteDeadline: server.DefaultWriteDeadline, PingInterval: server.DefaultPingInterval,
	PingMax: server.DefaultMaxPingsOut, LameDuckDuration: server.DefaultLameDuckDuration,
	LameDuckGracePeriod: server.DefaultLameDuckGracePeriod,
	Log:                 LogConfig{Level: "info", Format: "text"},
	TLS:                 TLSConfig{MinVersion: "1.2", Timeout: server.DefaultTLSTimeout},
	Authorization:       AuthConfig{Timeout: server.DefaultAuthTimeout, Users: []UserConfig{}},
	JetStream:           JSConfig{Enabled: true, StoreDir: "./data", MaxMemoryStore: StoreLimit{Percent: 75}, MaxFileStore: StoreLimit{Percent: 75}},
	MQTT: MQTTConfig{Enabled: true, Host: "0.0.0.0", Port: 1883,
		TLS:           MQTTTLSConfig{MinVersion: "1.2", Timeout: server.DefaultTLSTimeout},
		MaxPacketSize: mqtt.DefaultMaxPacketSize, ReceiveMaximum: mqtt.DefaultReceiveMaximum,
		MaxInflight: mqtt.DefaultMaxInflight, MaxQueuedMessages: mqtt.DefaultMaxQueued,
		MaxQueuedBytes: mqtt.DefaultMaxQueuedBytes, TopicAliasMaximum: mqtt.DefaultTopicAliasMaximum,
		ConnectTimeout: mqtt.DefaultConnectTimeout, NATSQoS: 1, RetainedBucket: "mqtt_retained"},
	WebSocket: WSConfig{Enabled: true, Host: "0.0.0.0", Port: 8080, NoTLS: true,
		TLS:              MQTTTLSConfig{MinVersion: "1.2", Timeout: server.DefaultTLSTimeout},
		HandshakeTimeout: ws.DefaultHandshakeTimeout, AllowedOrigins: []string{}},
	Leafnodes: LeafConfig{Reconnect: leafnode.DefaultReconnectDelay, ReconnectMax: leafnode.DefaultReconnectMax,
		DialTimeout: leafnode.DefaultDialTimeout, WriteDeadline: leafnode.DefaultWriteDeadline,
		PingInterval: leafnode.DefaultPingInterval, PingMax: leafnode.DefaultMaxPingsOut,
		MaxPending: leafnode.DefaultMaxPending, Remotes: []RemoteConfig{}},
	Streams:   []StreamConfig{},
	Uplinks:   []UplinkConfig{},
	Downlinks: []DownlinkConfig{},
}

func load(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	fs := newFlagSet()
	fs.SetOutput(&bytes.Buffer{})
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return loadConfig(fs)
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "leafgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The embedded defaults, configs/leafgate.yaml loaded as a file, and the
// server package's defaults all agree.
func TestDefaultsMatchDocumentedFile(t *testing.T) {
	cfg, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, defaultConfig) {
		t.Fatalf("embedded defaults:\n%+v\nwant\n%+v", *cfg, defaultConfig)
	}
	fromFile, err := load(t, "--config", filepath.Join("..", "..", "configs", "leafgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile, cfg) {
		t.Fatalf("configs/leafgate.yaml differs from the embedded defaults")
	}
}

// Every key of Config is present (and so documented) in the default file.
func TestEveryKeyIsInTheDefaultFile(t *testing.T) {
	text := string(configs.DefaultYAML)
	for key := range knownKeys(reflect.TypeFor[Config](), "") {
		last := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(text, "\n"+last+":") && !strings.Contains(text, " "+last+":") {
			t.Errorf("key %q missing from configs/leafgate.yaml", key)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "port: 5000\nhttp_port: 0\nlog:\n  level: debug\nmax_payload: 2MB\nping_interval: 30s\n")
	t.Setenv("LEAFGATE_PORT", "6000")
	t.Setenv("LEAFGATE_TLS_MIN_VERSION", "1.3")
	cfg, err := load(t, "--config", file, "--log_level", "warn", "-n", "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 6000 {
		t.Errorf("env must override file: port %d", cfg.Port)
	}
	if cfg.HTTPPort != 0 || cfg.MaxPayload != 2<<20 || cfg.PingInterval != 30*time.Second {
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.Log.Level != "warn" || cfg.ServerName != "edge-1" {
		t.Errorf("flags must override: level %q name %q", cfg.Log.Level, cfg.ServerName)
	}
	if cfg.TLS.MinVersion != "1.3" {
		t.Errorf("nested env override: %q", cfg.TLS.MinVersion)
	}
	cfg, err = load(t, "--config", file, "-p", "7000")
	if err != nil || cfg.Port != 7000 {
		t.Fatalf("flag over env: %v %v", cfg, err)
	}
	t.Setenv("LEAFGATE_JETSTREAM_DOMAIN", "edge")
	cfg, err = load(t, "--store_dir", "/var/lib/leafgate", "--jetstream=false")
	if err != nil || cfg.JetStream.StoreDir != "/var/lib/leafgate" || cfg.JetStream.Enabled || cfg.JetStream.Domain != "edge" {
		t.Fatalf("jetstream flags and env: %+v %v", cfg.JetStream, err)
	}
}

// A section left empty (its keys commented out) keeps its defaults.
func TestEmptySectionKeepsDefaults(t *testing.T) {
	for _, body := range []string{"tls:\n", "tls: {}\n", "log:\n# level: debug\njetstream:\n"} {
		cfg, err := load(t, "--config", writeFile(t, body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if !reflect.DeepEqual(*cfg, defaultConfig) {
			t.Fatalf("%q: defaults changed:\n%+v", body, *cfg)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct{ file, want string }{
		{"prot: 4222\n", `unknown key "prot"`},
		{"tls:\n  cert_fil: x\n", `unknown key "tls.cert_fil"`},
		{"authorization:\n  users:\n    - user: a\n      password: b\n      pasword: c\n", "pasword"},
		{"port: abc\n", "port"},
		{"port: 70000\n", "port: 70000 out of range"},
		{"http_port: -1\n", "http_port"},
		{"ping_interval: abc\n", "ping_interval"},
		{"ping_interval: 0s\n", "ping_interval: must be positive"},
		{"max_payload: 12XB\n", "max_payload"},
		{"max_payload: 128MB\n", "max_payload"},
		{"max_pending: 1KB\n", "max_pending"},
		{"max_control_line: 8\n", "max_control_line"},
		{"log:\n  level: loud\n", "log.level"},
		{"log:\n  format: xml\n", "log.format"},
		{"tls:\n  min_version: \"1.0\"\n", "tls.min_version"},
		{"tls:\n  key_file: k.pem\n", "tls.cert_file"},
		{"tls:\n  allow_non_tls: true\n", "tls.cert_file"},
		{"tls:\n  cert_file: c.pem\n  allow_non_tls: true\n  handshake_first: true\n", "tls.allow_non_tls"},
		{"tls:\n  handshake_first: maybe\n", "handshake_first"},
		{"authorization:\n  token: t\n  users:\n    - user: a\n      password: b\n", "authorization.token"},
		{"authorization:\n  users:\n    - user: a\n", "authorization.users[0].password"},
		{"authorization:\n  users:\n    - nkey: UBAD\n", "authorization.users[0].nkey"},
		{"authorization:\n  users:\n    - user: a\n      password: b\n      permissions:\n        publish:\n          allow: [\"a..b\"]\n", "publish.allow[0]"},
		{"host: \"bad host\"\n", "host"},
		{"port: [1, 2]\n", "port"},
		{"jetstream:\n  store_dir: \"\"\n", "jetstream.store_dir"},
		{"jetstream:\n  domain: \"a.b\"\n", "jetstream.domain"},
		{"jetstream:\n  max_file_store: lots\n", "jetstream.max_file_store"},
		{"jetstream:\n  max_file_store: 101%\n", "jetstream.max_file_store"},
		{"jetstream:\n  max_memory_store: 0%\n", "jetstream.max_memory_store"},
		{"jetstream:\n  max_memory_store: -1\n", "jetstream.max_memory_store"},
		{"jetstream:\n  enable: true\n", `unknown key "jetstream.enable"`},
		{"websocket:\n  no_tls: false\n", "websocket.no_tls: websocket requires TLS configuration"},
		{"websocket:\n  tls:\n    cert_file: c.pem\n", "websocket.no_tls: true, but"},
		{"websocket:\n  port: 4222\n", "websocket.port: 4222 is also"},
		{"websocket:\n  port: 1883\n", "websocket.port: 1883 is also"},
		{"websocket:\n  allowed_origins: [\"example.com\"]\n", "websocket.allowed_origins"},
		{"websocket:\n  handshake_timeout: 0s\n", "websocket.handshake_timeout"},
		{"websocket:\n  advertise: \"gw.local\"\n", "websocket.advertise"},
		{"websocket:\n  authorization:\n    token: x\n", `unknown key "websocket.authorization.token"`},
		{"websocket:\n  jwt_cookie: jwt\n", `unknown key "websocket.jwt_cookie"`},
		{"leafnodes:\n  port: 7422\n", `unknown key "leafnodes.port"`},
		{"leafnodes:\n  reconnect: 10s\n  reconnect_max: 1s\n", "leafnodes.reconnect_max"},
		{"leafnodes:\n  remotes:\n    - account: A\n", "leafnodes.remotes[0].urls: at least one"},
		{"uplinks:\n  - filter: a.>\n", `uplinks[0].stream: "" is not a stream name`},
		{"uplinks:\n  - stream: T\n    filter: \"a..b\"\n", `uplinks[0].filter: "a..b" is not a subject`},
		{"uplinks:\n  - stream: T\n    subject_transform: {src: \"a.*\", dest: \"b.{{wildcard(2)}}\"}\n", "uplinks[0].subject_transform:"},
		{"uplinks:\n  - stream: T\n  - stream: T\n", `uplinks[1].name: "T" is used by another uplink`},
		{"uplinks:\n  - stream: T\n    rate: -1\n", "uplinks[0].rate: -1 is negative"},
		{"uplinks:\n  - stream: T\n    max_inflght: 3\n", "max_inflght"},
		{"jetstream:\n  enabled: false\nuplinks:\n  - stream: T\n", "uplinks[0]: an uplink needs jetstream.enabled"},
		{"downlinks:\n  - stream: C\n", "downlinks[0].filter: required"},
		{"streams:\n  - name: C\n    subjects: [commands.>]\ndownlinks:\n  - stream: C\n    filter: commands.>\n", `downlinks[0].stream: "C" captures "commands.>"`},
		{"streams:\n  - name: A.B\n", `streams[0].name: "A.B" is not a stream name`},
		{"streams:\n  - name: S\n    retention: forever\n", `streams[0].retention: "forever" is not one of limits, interest, workqueue`},
		{"streams:\n  - name: S\n    sources:\n      - domain: hub\n", "streams[0].sources[0].name: required"},
		{"streams:\n  - name: S\n    mirror: {name: X, domain: hub, external: {api: \"$JS.x.API\"}}\n", "streams[0].mirror: domain and external are both set"},
		{"leafnodes:\n  remotes:\n    - url: http://hub\n", "leafnodes.remotes[0].urls: \"http://hub\": scheme"},
		{"leafnodes:\n  remotes:\n    - url: \"nats://s3cret@hub:x7422\"\n", "leafnodes.remotes[0].urls[0]: not a valid URL"},
		{"leafnodes:\n  remotes:\n    - urls: [nats://a:1, ws://b:2]\n", "leafnodes.remotes[0].urls: WebSocket"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      listen: 0.0.0.0\n", "listen"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      account: SYS\n", "leafnodes.remotes[0].account"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      hub: true\n", "leafnodes.remotes[0].hub"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      credentials: a.creds\n      nkey: SUA\n", "leafnodes.remotes[0].credentials"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      nkey: SUBAD\n", "leafnodes.remotes[0].nkey"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      compression: s2_faster\n", "leafnodes.remotes[0].compression"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      compression: {mode: s2_fast, rtt_thresholds: [10ms]}\n", "leafnodes.remotes[0].compression.rtt_thresholds"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      compression: {mode: s2_auto, rtt_thresholds: [50ms, 10ms]}\n", "leafnodes.remotes[0].compression.rtt_thresholds"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      deny_imports: [\"a..b\"]\n", "leafnodes.remotes[0].deny_imports"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      ws_compression: true\n", "leafnodes.remotes[0].ws_compression"},
		{"leafnodes:\n  remotes:\n    - url: nats-leaf://hub:7422\n      ping_max: -1\n", "leafnodes.remotes[0].ping_max"},
	}
	for _, tt := range tests {
		_, err := load(t, "--config", writeFile(t, tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want mention of %q", tt.file, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the URL's secret: %v", tt.file, err)
		}
	}
	t.Setenv("LEAFGATE_PING_MAX", "many")
	if _, err := load(t); err == nil || !strings.Contains(err.Error(), "ping_max") {
		t.Errorf("bad env value: err = %v", err)
	}
}

func TestExamplesLoad(t *testing.T) {
	for _, name := range []string{"auth.yaml"} {
		cfg, err := load(t, "--config", filepath.Join("..", "..", "configs", "examples", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		opts, err := cfg.serverOptions(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(opts.Auth.Users) != 3 || opts.Auth.Users[1].Permissions.Responses.MaxMsgs != 1 {
			t.Fatalf("%s: users not converted: %+v", name, opts.Auth.Users)
		}
	}
	// leaf.yaml, the quick start beside a local hub, builds its link.
	cfg, err := load(t, "--config", filepath.Join("..", "..", "configs", "examples", "leaf.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lo, resumers, err := cfg.leafOptions(nil, nil)
	if err != nil || len(lo.Remotes) != 1 || lo.Remotes[0].URLs[0].String() != "nats-leaf://127.0.0.1:7422" || lo.Domain != "edge" {
		t.Fatalf("leaf example: %+v %v", lo, err)
	}
	// resume_hub_sources is on unless set false.
	if len(resumers) != 1 || resumers[0] == nil || lo.Remotes[0].Settled == nil {
		t.Fatalf("leaf example: resume_hub_sources not on by default")
	}
	off := false
	cfg.Leafnodes.Remotes[0].ResumeHubSources = &off
	if lo, resumers, _ = cfg.leafOptions(nil, nil); resumers[0] != nil || lo.Remotes[0].Settled != nil {
		t.Fatalf("leaf example: resume_hub_sources: false left it on")
	}
	// leaf-fleet.yaml loads; its remote names files under /etc, so building
	// the links fails naming the credentials key.
	cfg, err = load(t, "--config", filepath.Join("..", "..", "configs", "examples", "leaf-fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Leafnodes.Remotes; len(r) != 1 || len(r[0].URLs) != 2 || r[0].Compression.Mode != "s2_auto" || cfg.JetStream.Domain != "gw-0042" {
		t.Fatalf("leafnode example: %+v", cfg.Leafnodes)
	}
	if _, _, err := cfg.leafOptions(nil, nil); err == nil || !strings.Contains(err.Error(), "leafnodes.remotes[0].credentials") {
		t.Fatalf("leafnode example with missing files: err = %v", err)
	}
	// tls.yaml names files under /etc: it must fail naming the cert file.
	cfg, err = load(t, "--config", filepath.Join("..", "..", "configs", "examples", "tls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.serverOptions(nil); err == nil || !strings.Contains(err.Error(), "cert_file") {
		t.Fatalf("tls example with missing files: err = %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]Size{"0": 0, "1024": 1024, "4KB": 4096, "4kb": 4096, "1MB": 1 << 20, "2GiB": 2 << 30, " 8K ": 8192, "10B": 10}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "1TB", "-1", "1.5MB", "99999999999999999999", "9999999999999GB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1MB", "64KB", "1024", "0", "G", "1 gb", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

// Any configuration file either loads into a valid configuration or is an
// error; none panics the loader.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte(configs.DefaultYAML))
	for _, s := range []string{
		"port: 5000\nlog:\n  level: debug\n",
		"authorization:\n  users:\n    - user: a\n      password: b\n      permissions:\n        publish:\n          allow: [\"a.>\"]\n",
		"tls:\n", "1: 2\n", "[1, 2]\n", "port: {a: b}\n", "? [a]\n: b\n", "&a x: *a\n", "max_payload: 1e9\n",
		"jetstream:\n  max_file_store: 1GB\n  domain: x\n", "ping_interval: -1s\n", "\t\n", "port: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		fs := newFlagSet()
		if err := fs.Parse([]string{"--config", path}); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs)
		if err != nil {
			return
		}
		if verr := cfg.validate(); verr != nil {
			t.Fatalf("loaded an invalid configuration: %v", verr)
		}
	})
}

// A duration without a unit is seconds, as nats-server reads one, from a
// file, an environment variable or a flag; it is never nanoseconds.
func TestPlainNumberDurationsAreSeconds(t *testing.T) {
	file := writeFile(t, "write_deadline: 10\nping_interval: 1.5\nlame_duck_duration: 60\nlame_duck_grace_period: 0\n"+
		"tls:\n  timeout: 3\nauthorization:\n  timeout: 4\n  users:\n    - user: a\n      password: b\n      permissions:\n        allow_responses: {max: 1, expires: 30}\n")
	t.Setenv("LEAFGATE_AUTHORIZATION_TIMEOUT", "5")
	cfg, err := load(t, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]time.Duration{
		"write_deadline":         {cfg.WriteDeadline, 10 * time.Second},
		"ping_interval":          {cfg.PingInterval, 1500 * time.Millisecond},
		"lame_duck_duration":     {cfg.LameDuckDuration, time.Minute},
		"lame_duck_grace_period": {cfg.LameDuckGracePeriod, 0},
		"tls.timeout":            {cfg.TLS.Timeout, 3 * time.Second},
		"authorization.timeout":  {cfg.Authorization.Timeout, 5 * time.Second},
		"expires":                {cfg.Authorization.Users[0].Permissions.AllowResponses.Expires, 30 * time.Second},
	}
	for k, w := range want {
		if w[0] != w[1] {
			t.Errorf("%s = %v, want %v", k, w[0], w[1])
		}
	}
	// nats-server warns about plain numbers except for the two timeouts.
	var warned []string
	for _, w := range cfg.warnings {
		warned = append(warned, w.Key)
	}
	if strings.Join(warned, ",") != "lame_duck_duration,lame_duck_grace_period,ping_interval,write_deadline" {
		t.Errorf("warnings for %v", warned)
	}
	for _, body := range []string{"write_deadline: 0\n", "ping_interval: -5\n", "tls:\n  timeout: 0\n", "lame_duck_grace_period: -1\n", "write_deadline: 1e30\n"} {
		key := strings.TrimSpace(strings.SplitN(strings.ReplaceAll(body, "tls:\n  ", "tls."), ":", 2)[0])
		if _, err := load(t, "--config", writeFile(t, body)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: err = %v, want mention of %s", body, err, key)
		}
	}
	t.Setenv("LEAFGATE_WRITE_DEADLINE", "7")
	if cfg, err = load(t); err != nil || cfg.WriteDeadline != 7*time.Second {
		t.Fatalf("env write_deadline: %v %v", cfg, err)
	}
}

// An error in a value set by an environment variable names the variable
// and the key, not a file.
func TestEnvErrorsNameTheVariable(t *testing.T) {
	for _, tt := range []struct{ env, val, key string }{
		{"LEAFGATE_PORT", "abc", "port"},
		{"LEAFGATE_PORT", "70000", "port"},
		{"LEAFGATE_WRITE_DEADLINE", "soon", "write_deadline"},
		{"LEAFGATE_TLS_TIMEOUT", "0", "tls.timeout"},
		{"LEAFGATE_MAX_PAYLOAD", "12XB", "max_payload"},
	} {
		t.Run(tt.env+"="+tt.val, func(t *testing.T) {
			t.Setenv(tt.env, tt.val)
			_, err := load(t)
			if err == nil || !strings.Contains(err.Error(), "environment variable "+tt.env) || !strings.Contains(err.Error(), tt.key+":") {
				t.Fatalf("err = %v, want %s and key %s named", err, tt.env, tt.key)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "1.5": 1500 * time.Millisecond, " 2m ": 2 * time.Minute, "500ms": 500 * time.Millisecond, "-3": -3 * time.Second, "0": 0} {
		if got, _, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1e3", "inf", "NaN", "0x10", "10 s", "99999999999", "1.", ".5"} {
		if _, _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"10", "1.5", "-2", "500ms", "1h2m3.5s", "0", "9000000000", "1e9", "+7", " 3 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, plain, err := ParseDuration(s)
		if err != nil {
			return
		}
		if plain {
			f, perr := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if perr != nil || math.Abs(float64(d)-f*1e9) > 1 {
				t.Fatalf("ParseDuration(%q) = %v, not %v seconds", s, d, f)
			}
			return
		}
		// Go syntax round-trips through time.Duration.String.
		if back, _, err := ParseDuration(d.String()); err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; back from %q: %v %v", s, d, d.String(), back, err)
		}
	})
}

func TestNoAuthUserConfig(t *testing.T) {
	users := "authorization:\n  users:\n    - user: guest\n      password: g\n"
	cfg, err := load(t, "--config", writeFile(t, users+"no_auth_user: guest\n"))
	if err != nil || cfg.authConfig().NoAuthUser != "guest" {
		t.Fatalf("no_auth_user: %v %v", cfg, err)
	}
	for body, want := range map[string]string{
		users + "no_auth_user: ghost\n":                         `no_auth_user: "ghost" is not a user`,
		"authorization:\n  token: t\nno_auth_user: guest\n":     "no_auth_user: \"guest\" set, but no users",
		"no_auth_user: guest\n":                                 "no_auth_user",
		"authorization:\n  no_auth_user: guest\n" + "port: 1\n": `unknown key "authorization.no_auth_user"`,
	} {
		_, err := load(t, "--config", writeFile(t, body))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "authorization.no_auth_user:") {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}
