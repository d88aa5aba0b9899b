package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/leafgate/leafgate/configs"
	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/tlsconf"
	"github.com/leafgate/leafgate/store/jetstream"
)

// Config is leafgate's configuration file, one field per key. Its defaults
// live in one place: configs/leafgate.yaml, embedded in the binary; a test
// checks that file and this struct agree key for key.
type Config struct {
	ServerName          string           `mapstructure:"server_name"`
	Host                string           `mapstructure:"host"`
	Port                int              `mapstructure:"port"`
	HTTPHost            string           `mapstructure:"http_host"`
	HTTPPort            int              `mapstructure:"http_port"`
	MaxConnections      int              `mapstructure:"max_connections"`
	MaxPayload          Size             `mapstructure:"max_payload"`
	MaxControlLine      Size             `mapstructure:"max_control_line"`
	MaxSubscriptions    int              `mapstructure:"max_subscriptions"`
	MaxPending          Size             `mapstructure:"max_pending"`
	WriteDeadline       time.Duration    `mapstructure:"write_deadline"`
	PingInterval        time.Duration    `mapstructure:"ping_interval"`
	PingMax             int              `mapstructure:"ping_max"`
	LameDuckDuration    time.Duration    `mapstructure:"lame_duck_duration"`
	LameDuckGracePeriod time.Duration    `mapstructure:"lame_duck_grace_period"`
	PIDFile             string           `mapstructure:"pid_file"`
	Log                 LogConfig        `mapstructure:"log"`
	TLS                 TLSConfig        `mapstructure:"tls"`
	Authorization       AuthConfig       `mapstructure:"authorization"`
	JetStream           JSConfig         `mapstructure:"jetstream"`
	MQTT                MQTTConfig       `mapstructure:"mqtt"`
	WebSocket           WSConfig         `mapstructure:"websocket"`
	Leafnodes           LeafConfig       `mapstructure:"leafnodes"`
	Streams             []StreamConfig   `mapstructure:"streams"`
	Uplinks             []UplinkConfig   `mapstructure:"uplinks"`
	Downlinks           []DownlinkConfig `mapstructure:"downlinks"`
	// NoAuthUser is nats-server's top-level no_auth_user: the user in
	// authorization.users whose identity clients without credentials get.
	NoAuthUser string `mapstructure:"no_auth_user"`

	// warnings are accepted values worth a log line at start-up.
	warnings []configWarning
}

// JSConfig is the jetstream section.
type JSConfig struct {
	Enabled        bool       `mapstructure:"enabled"`
	StoreDir       string     `mapstructure:"store_dir"`
	Domain         string     `mapstructure:"domain"`
	MaxMemoryStore StoreLimit `mapstructure:"max_memory_store"`
	MaxFileStore   StoreLimit `mapstructure:"max_file_store"`
}

// MQTTConfig is the mqtt section.
type MQTTConfig struct {
	Enabled           bool          `mapstructure:"enabled"`
	Host              string        `mapstructure:"host"`
	Port              int           `mapstructure:"port"`
	TLS               MQTTTLSConfig `mapstructure:"tls"`
	MaxPacketSize     Size          `mapstructure:"max_packet_size"`
	ReceiveMaximum    int           `mapstructure:"receive_maximum"`
	MaxInflight       int           `mapstructure:"max_inflight"`
	MaxQueuedMessages int           `mapstructure:"max_queued_messages"`
	MaxQueuedBytes    Size          `mapstructure:"max_queued_bytes"`
	TopicAliasMaximum int           `mapstructure:"topic_alias_maximum"`
	MaxSessionExpiry  time.Duration `mapstructure:"max_session_expiry"`
	MaxKeepAlive      time.Duration `mapstructure:"max_keepalive"`
	ConnectTimeout    time.Duration `mapstructure:"connect_timeout"`
	NATSQoS           int           `mapstructure:"nats_qos"`
	RetainedBucket    string        `mapstructure:"retained_bucket"`
}

// WSConfig is the websocket section, with nats-server's key names.
type WSConfig struct {
	Enabled          bool          `mapstructure:"enabled"`
	Host             string        `mapstructure:"host"`
	Port             int           `mapstructure:"port"`
	Advertise        string        `mapstructure:"advertise"`
	NoTLS            bool          `mapstructure:"no_tls"`
	TLS              MQTTTLSConfig `mapstructure:"tls"`
	HandshakeTimeout time.Duration `mapstructure:"handshake_timeout"`
	MaxMessageSize   Size          `mapstructure:"max_message_size"`
	SameOrigin       bool          `mapstructure:"same_origin"`
	AllowedOrigins   []string      `mapstructure:"allowed_origins"`
	Compression      bool          `mapstructure:"compression"`
	UserCookie       string        `mapstructure:"user_cookie"`
	PassCookie       string        `mapstructure:"pass_cookie"`
	TokenCookie      string        `mapstructure:"token_cookie"`
	PingInterval     time.Duration `mapstructure:"ping_interval"`
}

// MQTTTLSConfig is mqtt.tls (and websocket.tls).
type MQTTTLSConfig struct {
	CertFile   string        `mapstructure:"cert_file"`
	KeyFile    string        `mapstructure:"key_file"`
	CAFile     string        `mapstructure:"ca_file"`
	Verify     bool          `mapstructure:"verify"`
	MinVersion string        `mapstructure:"min_version"`
	Timeout    time.Duration `mapstructure:"timeout"`
}

// LogConfig is the log section.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// TLSConfig is the tls section.
type TLSConfig struct {
	CertFile   string        `mapstructure:"cert_file"`
	KeyFile    string        `mapstructure:"key_file"`
	CAFile     string        `mapstructure:"ca_file"`
	Verify     bool          `mapstructure:"verify"`
	MinVersion string        `mapstructure:"min_version"`
	Timeout    time.Duration `mapstructure:"timeout"`
	// AllowNonTLS offers TLS without requiring it (nats-server's top-level
	// allow_non_tls).
	AllowNonTLS    bool `mapstructure:"allow_non_tls"`
	HandshakeFirst bool `mapstructure:"handshake_first"`
}

// AuthConfig is the authorization section.
type AuthConfig struct {
	Token   string        `mapstructure:"token"`
	Timeout time.Duration `mapstructure:"timeout"`
	Users   []UserConfig  `mapstructure:"users"`
}

// UserConfig is one entry of authorization.users.
type UserConfig struct {
	User        string       `mapstructure:"user"`
	Password    string       `mapstructure:"password"`
	NKey        string       `mapstructure:"nkey"`
	Permissions *PermsConfig `mapstructure:"permissions"`
}

// PermsConfig is a user's permissions block.
type PermsConfig struct {
	Publish        *SubjectPermsConfig `mapstructure:"publish"`
	Subscribe      *SubjectPermsConfig `mapstructure:"subscribe"`
	AllowResponses *ResponsesConfig    `mapstructure:"allow_responses"`
}

// SubjectPermsConfig is an allow and a deny list.
type SubjectPermsConfig struct {
	Allow []string `mapstructure:"allow"`
	Deny  []string `mapstructure:"deny"`
}

// ResponsesConfig is allow_responses.
type ResponsesConfig struct {
	Max     int           `mapstructure:"max"`
	Expires time.Duration `mapstructure:"expires"`
}

// Size is a byte count written as an integer or with a unit (KB, MB, GB).
type Size int64

// ParseSize parses "1024", "64KB", "1MB", "2GB" (powers of 1024; "K", "KiB"
// and lower case are accepted too).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	var mult int64
	switch strings.ToUpper(strings.TrimSpace(t[i:])) {
	case "", "B":
		mult = 1
	case "K", "KB", "KIB":
		mult = 1 << 10
	case "M", "MB", "MIB":
		mult = 1 << 20
	case "G", "GB", "GIB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size unit in %q", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return Size(n * mult), nil
}

// sizeHook decodes Size from strings and numbers.
func sizeHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[Size]() {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return ParseSize(v)
	case int:
		return Size(v), nil
	case int64:
		return Size(v), nil
	case float64:
		if v != float64(int64(v)) {
			return nil, fmt.Errorf("invalid size %v", v)
		}
		return Size(int64(v)), nil
	}
	return data, nil
}

// flagKeys maps command-line flags to config keys.
var flagKeys = map[string]string{
	"addr":           "host",
	"port":           "port",
	"http_port":      "http_port",
	"name":           "server_name",
	"log_level":      "log.level",
	"log_format":     "log.format",
	"pid":            "pid_file",
	"jetstream":      "jetstream.enabled",
	"store_dir":      "jetstream.store_dir",
	"domain":         "jetstream.domain",
	"mqtt_port":      "mqtt.port",
	"websocket_port": "websocket.port",
}

// newFlagSet declares leafgate's flags, named like nats-server's.
func newFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("leafgate", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringP("config", "c", "", "configuration file (YAML)")
	fs.StringP("addr", "a", "", "client listener host (host)")
	fs.IntP("port", "p", 0, "client listener port (port)")
	fs.IntP("http_port", "m", 0, "monitoring port, 0 disables (http_port)")
	fs.StringP("name", "n", "", "server name (server_name)")
	fs.String("log_level", "", "debug, info, warn or error (log.level)")
	fs.String("log_format", "", "text or json (log.format)")
	fs.String("pid", "", "file to write the process id to (pid_file)")
	fs.Bool("jetstream", true, "enable JetStream (jetstream.enabled)")
	fs.String("store_dir", "", "JetStream storage directory (jetstream.store_dir)")
	fs.String("domain", "", "JetStream domain (jetstream.domain)")
	fs.Int("mqtt_port", 0, "MQTT listener port, 0 for any free one (mqtt.port)")
	fs.Int("websocket_port", 0, "WebSocket listener port, 0 for any free one (websocket.port)")
	fs.String("signal", "", "send a signal to a running leafgate: ldm, reload, stop or quit, optionally =PID")
	fs.BoolP("version", "v", false, "print the version and exit")
	fs.BoolP("help", "h", false, "show this help")
	return fs
}

// loadConfig layers the embedded defaults, the --config file, LEAFGATE_*
// environment variables and the flags that were set, then decodes and
// validates. Errors name the offending key, and the file, environment
// variable or flag it was set by.
func loadConfig(fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(configs.DefaultYAML)); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	types := keyTypes(reflect.TypeFor[Config](), "")
	known := knownKeys(reflect.TypeFor[Config](), "")
	src := map[string]string{} // key -> where its value comes from
	if path, _ := fs.GetString("config"); path != "" {
		fv := viper.New()
		fv.SetConfigFile(path)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := checkKeys(fv.AllKeys(), known); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := v.MergeConfigMap(fv.AllSettings()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		for _, k := range fv.AllKeys() {
			src[k] = "config file " + path
		}
	}
	v.SetEnvPrefix("LEAFGATE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for key := range known {
		if os.Getenv(envName(key)) != "" { // viper ignores empty variables
			src[key] = "environment variable " + envName(key)
		}
	}
	for flag, key := range flagKeys {
		if f := fs.Lookup(flag); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, fmt.Errorf("flag --%s: %w", flag, err)
			}
			src[key] = "flag --" + flag
		}
	}
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		sizeHook,
		storeLimitHook,
		compressionHook,
		durationHook,
		mapstructure.StringToSliceHookFunc(","),
	))
	// Decode key by key first, so that an error names the key and where
	// its value came from, and durations without a unit can be reported.
	var plain []string
	for _, key := range sortedKeys(types) {
		t := types[key]
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			continue // authorization.users: decoded below, errors carry the path
		}
		raw := v.Get(key)
		if err := decodeOne(raw, t); err != nil {
			return nil, fmt.Errorf("config: %s: %v%s: %w", key, quoteValue(raw), fromSource(src[key]), err)
		}
		if t == reflect.TypeFor[time.Duration]() && plainSeconds(raw) && !nativeSeconds[key] {
			plain = append(plain, key)
		}
	}
	var cfg Config
	if err := v.UnmarshalExact(&cfg, hook); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		if key, _, ok := strings.Cut(err.Error(), ":"); ok && src[key] != "" {
			return nil, fmt.Errorf("config: %w (%s)", err, src[key])
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	for _, key := range plain {
		cfg.warnings = append(cfg.warnings, configWarning{
			Key: key, Source: src[key], Value: fmt.Sprint(v.Get(key)),
			Msg: "duration without a unit read as seconds; write it with one (for example \"10s\")",
		})
	}
	return &cfg, nil
}

// nativeSeconds are the duration keys nats-server itself reads as a number
// of seconds (tls and authorization timeout); a plain number there draws no
// warning. Elsewhere nats-server warns that it "should be converted to a
// duration", and so does leafgate.
var nativeSeconds = map[string]bool{"tls.timeout": true, "authorization.timeout": true, "mqtt.tls.timeout": true,
	"websocket.tls.timeout": true, "websocket.handshake_timeout": true}

// configWarning is a value that was accepted but deserves a log line.
type configWarning struct {
	Key, Source, Value, Msg string
}

// envName is the environment variable that sets key.
func envName(key string) string {
	return "LEAFGATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func fromSource(src string) string {
	if src == "" {
		return ""
	}
	return " from " + src
}

func quoteValue(raw any) string {
	if s, ok := raw.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", raw)
}

// decodeOne decodes one key's value into its field type the way
// UnmarshalExact does (viper's weak typing and leafgate's hooks), returning
// the bare reason on failure.
func decodeOne(raw any, t reflect.Type) error {
	out := reflect.New(t)
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out.Interface(),
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			sizeHook, storeLimitHook, compressionHook, durationHook, mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(raw); err != nil {
		var de *mapstructure.DecodeError
		if errors.As(err, &de) && de.Unwrap() != nil {
			return de.Unwrap()
		}
		return err
	}
	return nil
}

// keyTypes maps the dotted keys of a config struct to their field types;
// a struct-valued field contributes its own keys, anything else (including
// lists) is a leaf.
func keyTypes(t reflect.Type, prefix string) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := prefix + f.Tag.Get("mapstructure")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[StoreLimit]() {
			for k, ft := range keyTypes(f.Type, key+".") {
				out[k] = ft
			}
			continue
		}
		out[key] = f.Type
	}
	return out
}

// knownKeys lists the dotted keys of a config struct.
func knownKeys(t reflect.Type, prefix string) map[string]bool {
	out := map[string]bool{}
	for k := range keyTypes(t, prefix) {
		out[k] = true
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkKeys reports keys that are not part of Config. Keys under a list
// (authorization.users) are checked when decoding, since viper does not
// flatten lists.
func checkKeys(keys []string, known map[string]bool) error {
	var unknown []string
	for _, k := range keys {
		if !known[k] && !isSection(k, known) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	if len(unknown) == 1 {
		return fmt.Errorf("unknown key %q", unknown[0])
	}
	return fmt.Errorf("unknown keys %q", unknown)
}

// isSection reports whether k names a section (tls, log, …): a file may
// leave one empty.
func isSection(k string, known map[string]bool) bool {
	for key := range known {
		if strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// validate checks values that decode fine but make no sense.
func (c *Config) validate() error {
	if c.JetStream.Enabled && strings.TrimSpace(c.JetStream.StoreDir) == "" {
		return errors.New("jetstream.store_dir: required when jetstream.enabled is true")
	}
	if d := c.JetStream.Domain; d != "" && !validDomain(d) {
		return fmt.Errorf("jetstream.domain: %q may only contain letters, digits, '-' and '_'", d)
	}
	if c.JetStream.MaxMemoryStore.Bytes < 0 {
		return fmt.Errorf("jetstream.max_memory_store: %d is negative", c.JetStream.MaxMemoryStore.Bytes)
	}
	if c.JetStream.MaxFileStore.Bytes < 0 {
		return fmt.Errorf("jetstream.max_file_store: %d is negative", c.JetStream.MaxFileStore.Bytes)
	}
	if c.Host == "" || strings.ContainsAny(c.Host, " \t/") {
		return fmt.Errorf("host: %q is not a host name or IP address", c.Host)
	}
	if c.HTTPPort != 0 && (c.HTTPHost == "" || strings.ContainsAny(c.HTTPHost, " \t/")) {
		return fmt.Errorf("http_host: %q is not a host name or IP address", c.HTTPHost)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("port: %d out of range 0-65535", c.Port)
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		return fmt.Errorf("http_port: %d out of range 0-65535", c.HTTPPort)
	}
	if c.HTTPPort != 0 && c.HTTPPort == c.Port && c.Port != 0 {
		return fmt.Errorf("http_port: %d is also the client port", c.HTTPPort)
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"max_connections", int64(c.MaxConnections)},
		{"max_payload", int64(c.MaxPayload)},
		{"max_control_line", int64(c.MaxControlLine)},
		{"max_pending", int64(c.MaxPending)},
		{"write_deadline", int64(c.WriteDeadline)},
		{"ping_interval", int64(c.PingInterval)},
		{"ping_max", int64(c.PingMax)},
		{"lame_duck_duration", int64(c.LameDuckDuration)},
		{"tls.timeout", int64(c.TLS.Timeout)},
		{"authorization.timeout", int64(c.Authorization.Timeout)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s: must be positive", p.key)
		}
	}
	if c.MaxPayload > 64<<20 {
		return fmt.Errorf("max_payload: %d exceeds the 64MB limit", c.MaxPayload)
	}
	if c.MaxControlLine < 32 {
		return fmt.Errorf("max_control_line: %d is below 32", c.MaxControlLine)
	}
	if c.MaxPending < c.MaxPayload {
		return fmt.Errorf("max_pending: %d is below max_payload %d", c.MaxPending, c.MaxPayload)
	}
	if c.MaxSubscriptions < 0 {
		return fmt.Errorf("max_subscriptions: %d is negative", c.MaxSubscriptions)
	}
	if c.LameDuckGracePeriod < 0 {
		return errors.New("lame_duck_grace_period: must not be negative")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format: %q is not text or json", c.Log.Format)
	}
	if _, err := tlsconf.ParseMinVersion(c.TLS.MinVersion); err != nil {
		return fmt.Errorf("tls.min_version: %w", err)
	}
	if c.TLS.CertFile == "" && (c.TLS.KeyFile != "" || c.TLS.CAFile != "" || c.TLS.Verify || c.TLS.AllowNonTLS || c.TLS.HandshakeFirst) {
		return errors.New("tls.cert_file: required when other tls keys are set")
	}
	if c.TLS.AllowNonTLS && c.TLS.HandshakeFirst {
		return errors.New("tls.allow_non_tls: cannot be combined with tls.handshake_first")
	}
	if err := c.Leafnodes.validate(); err != nil {
		return err
	}
	if err := c.validateStreams(); err != nil {
		return err
	}
	if err := c.validateUplinks(); err != nil {
		return err
	}
	if err := c.validateDownlinks(); err != nil {
		return err
	}
	if err := c.WebSocket.validate(c); err != nil {
		return err
	}
	if err := c.MQTT.validate(c); err != nil {
		return err
	}
	if _, err := auth.New(c.authConfig()); err != nil {
		if strings.HasPrefix(err.Error(), "no_auth_user:") {
			return err // a top-level key, as in nats-server
		}
		return fmt.Errorf("authorization.%w", err)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
}

func (c *Config) authConfig() auth.Config {
	ac := auth.Config{Token: c.Authorization.Token, NoAuthUser: c.NoAuthUser}
	for _, u := range c.Authorization.Users {
		au := auth.User{Name: u.User, Password: u.Password, NKey: u.NKey}
		if p := u.Permissions; p != nil {
			au.Permissions = &auth.Permissions{
				Publish:   subjectPerms(p.Publish),
				Subscribe: subjectPerms(p.Subscribe),
			}
			if r := p.AllowResponses; r != nil {
				au.Permissions.Responses = &auth.ResponsePermission{MaxMsgs: r.Max, Expires: r.Expires}
			}
		}
		ac.Users = append(ac.Users, au)
	}
	return ac
}

func subjectPerms(p *SubjectPermsConfig) *auth.SubjectPermission {
	if p == nil {
		return nil
	}
	return &auth.SubjectPermission{Allow: p.Allow, Deny: p.Deny}
}

// serverOptions converts the configuration into server options; TLS files
// are loaded here, so a missing certificate is a start-up error.
func (c *Config) serverOptions(log *slog.Logger) (server.Options, error) {
	o := server.Options{
		ServerName:          c.ServerName,
		Listen:              net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		MaxConnections:      c.MaxConnections,
		MaxPayload:          int32(c.MaxPayload),
		MaxControlLine:      int(c.MaxControlLine),
		MaxSubscriptions:    c.MaxSubscriptions,
		MaxPending:          int64(c.MaxPending),
		WriteDeadline:       c.WriteDeadline,
		PingInterval:        c.PingInterval,
		MaxPingsOut:         c.PingMax,
		AuthTimeout:         c.Authorization.Timeout,
		TLSTimeout:          c.TLS.Timeout,
		Auth:                c.authConfig(),
		LameDuckDuration:    c.LameDuckDuration,
		LameDuckGracePeriod: c.LameDuckGracePeriod,
		Logger:              log,
	}
	if c.HTTPPort != 0 {
		o.MonitorListen = net.JoinHostPort(c.HTTPHost, strconv.Itoa(c.HTTPPort))
	}
	if c.TLS.CertFile != "" {
		tc, err := tlsconf.Options{
			CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, CAFile: c.TLS.CAFile,
			Verify: c.TLS.Verify, MinVersion: c.TLS.MinVersion, Timeout: c.TLS.Timeout,
		}.ServerConfig()
		if err != nil {
			return o, err
		}
		o.TLS = tc
		o.AllowNonTLS = c.TLS.AllowNonTLS
		o.TLSHandshakeFirst = c.TLS.HandshakeFirst
	}
	return o, nil
}

// validDomain reports whether d can be a JetStream domain: one subject
// token of letters, digits, '-' and '_'.
func validDomain(d string) bool {
	for _, r := range d {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return d != ""
}

// jetStreamConfig is the JetStream service's configuration. Percentage
// limits are resolved here, against the memory and the free disk space of
// this moment; one that cannot be resolved is no limit, with a warning.
func (c *Config) jetStreamConfig(log *slog.Logger) jetstream.Config {
	// less is taken from a percentage once resolved: the file store's
	// space reserve, so that the store's files and the reserve together
	// keep within the percentage.
	resolve := func(key string, l StoreLimit, of string, total func() (int64, error), less int64) int64 {
		n, err := l.resolve(total)
		if err != nil {
			log.Warn("jetstream limit not applied", "key", key, "value", l.String(), "of", of, "err", err)
			return 0
		}
		if l.Percent > 0 {
			n = max(n-less, n/2)
			log.Info("jetstream limit", "key", key, "value", l.String(), "of", of, "bytes", n)
		}
		return n
	}
	disk, diskErr := diskForStore(c.JetStream.StoreDir)
	reserve := storeReserve(disk)
	return jetstream.Config{
		Dir:    c.JetStream.StoreDir,
		Domain: c.JetStream.Domain,
		MaxMemory: resolve("jetstream.max_memory_store", c.JetStream.MaxMemoryStore, "memory",
			physicalMemory, 0),
		MaxStore: resolve("jetstream.max_file_store", c.JetStream.MaxFileStore, "free disk plus the store, less the space reserve",
			func() (int64, error) { return disk, diskErr }, reserve),
		Reserve: reserve,
		Logger:  log,
	}
}

// checkListen checks a listener section's host and port.
func checkListen(section, host string, port int) error {
	if host == "" || strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("%s.host: %q is not a host name or IP address", section, host)
	}
	if port < 0 || port > 65535 {
		return fmt.Errorf("%s.port: %d out of range 0-65535", section, port)
	}
	return nil
}

// serverConfig is the TLS configuration of a listener's tls section.
func (t *MQTTTLSConfig) serverConfig() (*tls.Config, error) {
	return tlsconf.Options{
		CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile,
		Verify: t.Verify, MinVersion: t.MinVersion, Timeout: t.Timeout,
	}.ServerConfig()
}

// validate checks the mqtt section.
func (m *MQTTConfig) validate(c *Config) error {
	if !m.Enabled {
		return nil
	}
	if err := checkListen("mqtt", m.Host, m.Port); err != nil {
		return err
	}
	if m.Port != 0 && (m.Port == c.Port || c.HTTPPort != 0 && m.Port == c.HTTPPort) {
		return fmt.Errorf("mqtt.port: %d is also the client or monitoring port", m.Port)
	}
	if m.MaxPacketSize < 64 || m.MaxPacketSize > 268435455 {
		return fmt.Errorf("mqtt.max_packet_size: %d out of range 64B-256MB (MQTT's limit)", m.MaxPacketSize)
	}
	if m.ReceiveMaximum < 1 || m.ReceiveMaximum > 65535 {
		return fmt.Errorf("mqtt.receive_maximum: %d out of range 1-65535", m.ReceiveMaximum)
	}
	if m.MaxInflight < 1 || m.MaxInflight > 65535 {
		return fmt.Errorf("mqtt.max_inflight: %d out of range 1-65535", m.MaxInflight)
	}
	if m.MaxQueuedMessages < 1 {
		return fmt.Errorf("mqtt.max_queued_messages: %d must be positive", m.MaxQueuedMessages)
	}
	if m.MaxQueuedBytes < 1 {
		return fmt.Errorf("mqtt.max_queued_bytes: %d must be positive", m.MaxQueuedBytes)
	}
	if m.TopicAliasMaximum < 0 || m.TopicAliasMaximum > 65535 {
		return fmt.Errorf("mqtt.topic_alias_maximum: %d out of range 0-65535", m.TopicAliasMaximum)
	}
	if m.MaxSessionExpiry < 0 {
		return errors.New("mqtt.max_session_expiry: must not be negative")
	}
	if m.MaxKeepAlive < 0 || m.MaxKeepAlive > 65535*time.Second {
		return errors.New("mqtt.max_keepalive: must be between 0 and 65535s")
	}
	if m.ConnectTimeout <= 0 {
		return errors.New("mqtt.connect_timeout: must be positive")
	}
	if m.NATSQoS < 0 || m.NATSQoS > 2 {
		return fmt.Errorf("mqtt.nats_qos: %d is not 0, 1 or 2", m.NATSQoS)
	}
	if m.RetainedBucket != "" && !validBucket(m.RetainedBucket) {
		return fmt.Errorf("mqtt.retained_bucket: %q is not a valid KV bucket name", m.RetainedBucket)
	}
	if _, err := tlsconf.ParseMinVersion(m.TLS.MinVersion); err != nil {
		return fmt.Errorf("mqtt.tls.min_version: %w", err)
	}
	if m.TLS.CertFile == "" && (m.TLS.KeyFile != "" || m.TLS.CAFile != "" || m.TLS.Verify) {
		return errors.New("mqtt.tls.cert_file: required when other mqtt.tls keys are set")
	}
	if m.TLS.Timeout <= 0 {
		return errors.New("mqtt.tls.timeout: must be positive")
	}
	return nil
}

// validate checks the websocket section.
func (w *WSConfig) validate(c *Config) error {
	if !w.Enabled {
		return nil
	}
	if err := checkListen("websocket", w.Host, w.Port); err != nil {
		return err
	}
	if w.Port != 0 && (w.Port == c.Port || c.HTTPPort != 0 && w.Port == c.HTTPPort ||
		c.MQTT.Enabled && w.Port == c.MQTT.Port) {
		return fmt.Errorf("websocket.port: %d is also the client, monitoring or MQTT port", w.Port)
	}
	if w.Advertise != "" {
		if _, p, err := net.SplitHostPort(w.Advertise); err != nil || p == "" {
			return fmt.Errorf("websocket.advertise: %q is not host:port", w.Advertise)
		}
	}
	switch {
	case w.TLS.CertFile == "" && !w.NoTLS:
		// nats-server's rule: plain ws:// only when asked for.
		return errors.New("websocket.no_tls: websocket requires TLS configuration: set websocket.tls.cert_file for wss://, or no_tls: true for plain ws://")
	case w.TLS.CertFile != "" && w.NoTLS:
		return errors.New("websocket.no_tls: true, but websocket.tls.cert_file is set: choose one")
	case w.TLS.CertFile == "" && (w.TLS.KeyFile != "" || w.TLS.CAFile != "" || w.TLS.Verify):
		return errors.New("websocket.tls.cert_file: required when other websocket.tls keys are set")
	}
	if _, err := tlsconf.ParseMinVersion(w.TLS.MinVersion); err != nil {
		return fmt.Errorf("websocket.tls.min_version: %w", err)
	}
	if w.TLS.Timeout <= 0 {
		return errors.New("websocket.tls.timeout: must be positive")
	}
	if w.HandshakeTimeout <= 0 {
		return errors.New("websocket.handshake_timeout: must be positive")
	}
	if w.PingInterval < 0 {
		return errors.New("websocket.ping_interval: must not be negative")
	}
	if w.MaxMessageSize < 0 || w.MaxMessageSize > 1<<30 {
		return fmt.Errorf("websocket.max_message_size: %d out of range 0-1GB", w.MaxMessageSize)
	}
	for _, o := range w.AllowedOrigins {
		if u, err := url.ParseRequestURI(o); err != nil || u.Host == "" || u.Scheme == "" {
			return fmt.Errorf("websocket.allowed_origins: %q is not an origin such as https://host:port", o)
		}
	}
	return nil
}

// maxMessage is the WebSocket message limit: max_message_size, or
// nats-server's rule (8 times max_payload, at most 64 MiB).
func (w *WSConfig) maxMessage(c *Config) int64 {
	if w.MaxMessageSize > 0 {
		return int64(w.MaxMessageSize)
	}
	return min(8*int64(c.MaxPayload), 64<<20)
}

// validBucket reports whether name can be a KV bucket name, as nats.go
// checks it.
func validBucket(name string) bool {
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return name != ""
}
