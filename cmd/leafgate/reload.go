package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/spf13/pflag"

	"github.com/leafgate/leafgate/leaf/server"
)

// How a changed key is handled by a reload (SIGHUP, `--signal reload`).
const (
	// keyLive is applied to the running server.
	keyLive = iota
	// keyRefused fails the whole reload, as nats-server refuses it
	// ("config reload not supported for …"): the listeners are bound and
	// the name and store are in use.
	keyRefused
	// keyRestart is accepted by nats-server's reload but leafgate cannot
	// apply it live: it is logged as needing a restart, keeps its running
	// value, and the other changes are applied.
	keyRestart
)

// reloadKeys classifies every configuration key that is not live; a test
// checks each key of Config is known here or in liveKeys, so a new key
// gets a decision.
var reloadKeys = map[string]int{
	"host":                       keyRefused,
	"port":                       keyRefused,
	"http_host":                  keyRefused,
	"http_port":                  keyRefused,
	"server_name":                keyRefused,
	"jetstream.store_dir":        keyRefused,
	"jetstream.domain":           keyRefused,
	"jetstream.enabled":          keyRestart,
	"jetstream.max_memory_store": keyRestart,
	"jetstream.max_file_store":   keyRestart,
	"mqtt.host":                  keyRefused,
	"mqtt.port":                  keyRefused,
	// The rest of the mqtt section takes effect at the next start; auth
	// and permissions for MQTT clients are authorization's, which reload
	// live.
	"mqtt.enabled":             keyRestart,
	"mqtt.tls.cert_file":       keyRestart,
	"mqtt.tls.key_file":        keyRestart,
	"mqtt.tls.ca_file":         keyRestart,
	"mqtt.tls.verify":          keyRestart,
	"mqtt.tls.min_version":     keyRestart,
	"mqtt.tls.timeout":         keyRestart,
	"mqtt.max_packet_size":     keyRestart,
	"mqtt.receive_maximum":     keyRestart,
	"mqtt.max_inflight":        keyRestart,
	"mqtt.max_queued_messages": keyRestart,
	"mqtt.max_queued_bytes":    keyRestart,
	"mqtt.topic_alias_maximum": keyRestart,
	"mqtt.max_session_expiry":  keyRestart,
	"mqtt.max_keepalive":       keyRestart,
	"mqtt.connect_timeout":     keyRestart,
	"mqtt.nats_qos":            keyRestart,
	"mqtt.retained_bucket":     keyRestart,
	// The websocket section takes effect at the next start.
	// A reload does not redial leafnode links yet: restart to apply.
	"leafnodes.reconnect":      keyRestart,
	"leafnodes.reconnect_max":  keyRestart,
	"leafnodes.dial_timeout":   keyRestart,
	"leafnodes.write_deadline": keyRestart,
	"leafnodes.ping_interval":  keyRestart,
	"leafnodes.ping_max":       keyRestart,
	"leafnodes.max_pending":    keyRestart,
	"leafnodes.remotes":        keyRestart,
	// Uplinks start with the process.
	"uplinks":                     keyRestart,
	"streams":                     keyRestart,
	"downlinks":                   keyRestart,
	"websocket.host":              keyRefused,
	"websocket.port":              keyRefused,
	"websocket.enabled":           keyRestart,
	"websocket.advertise":         keyRestart,
	"websocket.no_tls":            keyRestart,
	"websocket.tls.cert_file":     keyRestart,
	"websocket.tls.key_file":      keyRestart,
	"websocket.tls.ca_file":       keyRestart,
	"websocket.tls.verify":        keyRestart,
	"websocket.tls.min_version":   keyRestart,
	"websocket.tls.timeout":       keyRestart,
	"websocket.handshake_timeout": keyRestart,
	"websocket.max_message_size":  keyRestart,
	"websocket.same_origin":       keyRestart,
	"websocket.allowed_origins":   keyRestart,
	"websocket.compression":       keyRestart,
	"websocket.user_cookie":       keyRestart,
	"websocket.pass_cookie":       keyRestart,
	"websocket.token_cookie":      keyRestart,
	"websocket.ping_interval":     keyRestart,
}

// reloadClass is how a reload treats a changed key.
func reloadClass(key string) int {
	if c, ok := reloadKeys[key]; ok {
		return c
	}
	return keyLive
}

// reloader re-reads the configuration and applies it to a running server.
// It is used by one goroutine (the signal loop).
type reloader struct {
	fs   *pflag.FlagSet
	cfg  *Config        // the configuration in effect
	opts server.Options // the server options built from cfg
	srv  *server.Server
	logs *logSwitch
	log  *slog.Logger
	// pidFile is the pid file written, removed at exit; a reload may move it.
	pidFile string
}

// reload re-reads the configuration through loadConfig (defaults, the
// --config file, LEAFGATE_* environment, flags given on the command line,
// which keep precedence) and applies it. On any error nothing changes.
func (r *reloader) reload() (changed []string, err error) {
	if path, _ := r.fs.GetString("config"); path == "" {
		return nil, errors.New("can only reload config when a file is provided using --config")
	}
	next, err := loadConfig(r.fs)
	if err != nil {
		return nil, err
	}
	keys := diffConfig(r.cfg, next)
	var refused, restart []string
	for _, k := range keys {
		switch reloadClass(k) {
		case keyRefused:
			refused = append(refused, k)
		case keyRestart:
			restart = append(restart, k)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("config reload not supported for %s: restart leafgate to change them", strings.Join(refused, ", "))
	}
	// Keys that need a restart keep their running values.
	next.JetStream = r.cfg.JetStream
	next.MQTT = r.cfg.MQTT
	opts, err := next.serverOptions(r.log)
	if err != nil {
		return nil, err
	}
	if _, err := r.srv.Reload(opts); err != nil {
		return nil, err
	}
	for _, k := range tlsFilesChanged(r.opts, opts) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	r.logs.set(next.Log)
	if next.PIDFile != r.cfg.PIDFile {
		r.movePIDFile(next.PIDFile)
	}
	r.cfg, r.opts = next, opts
	if len(restart) > 0 {
		r.log.Warn("config keys changed that need a restart; they keep their running values", "keys", restart)
	}
	live := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return slices.Contains(restart, k) })
	sort.Strings(live)
	return live, nil
}

// movePIDFile writes the pid file at its new path and removes the old one,
// as nats-server writes the new pid_file on reload.
func (r *reloader) movePIDFile(path string) {
	if r.pidFile != "" {
		_ = os.Remove(r.pidFile)
		r.pidFile = ""
	}
	if path == "" {
		return
	}
	if err := writePIDFile(path); err != nil {
		r.log.Error("write pid_file", "path", path, "err", err)
		return
	}
	r.pidFile = path
}

// handleHUP runs one reload and logs its outcome: what changed, by key
// name (never values, which may be secrets), or why nothing did.
func (r *reloader) handleHUP() {
	changed, err := r.reload()
	if err != nil {
		r.log.Error("config reload failed; the running configuration is unchanged", "err", err)
		return
	}
	r.log.Info("config reloaded", "changed", changed)
}

// diffConfig lists the keys whose values differ between a and b; a list
// (authorization.users) is one key.
func diffConfig(a, b *Config) []string {
	fa, fb := map[string]any{}, map[string]any{}
	flatten(reflect.ValueOf(*a), "", fa)
	flatten(reflect.ValueOf(*b), "", fb)
	var out []string
	for k, va := range fa {
		if !reflect.DeepEqual(va, fb[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// flatten records the leaf values of a config struct by dotted key, the
// same keys knownKeys lists.
func flatten(v reflect.Value, prefix string, out map[string]any) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("mapstructure") == "" {
			continue // not a key (load warnings)
		}
		key := prefix + f.Tag.Get("mapstructure")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[StoreLimit]() {
			flatten(v.Field(i), key+".", out)
			continue
		}
		out[key] = v.Field(i).Interface()
	}
}

// tlsFilesChanged names the TLS files whose contents changed while their
// paths did not (a certificate renewed in place).
func tlsFilesChanged(a, b server.Options) []string {
	if a.TLS == nil || b.TLS == nil {
		return nil
	}
	var out []string
	certs := func(o server.Options) [][]byte {
		var out [][]byte
		for _, c := range o.TLS.Certificates {
			out = append(out, c.Certificate...)
		}
		return out
	}
	if !slices.EqualFunc(certs(a), certs(b), func(x, y []byte) bool { return string(x) == string(y) }) {
		out = append(out, "tls.cert_file")
	}
	if pa, pb := a.TLS.ClientCAs, b.TLS.ClientCAs; (pa == nil) != (pb == nil) || pa != nil && !pa.Equal(pb) {
		out = append(out, "tls.ca_file")
	}
	return out
}

// logSwitch is the log handler: its level and format (text or JSON)
// change on reload without replacing the loggers that hold it.
type logSwitch struct {
	w     io.Writer
	level slog.LevelVar
	cur   atomic.Pointer[slog.Handler]
}

func newLogSwitch(w io.Writer, c LogConfig) *logSwitch {
	ls := &logSwitch{w: w}
	ls.set(c)
	return ls
}

// set applies a (validated) log configuration.
func (ls *logSwitch) set(c LogConfig) {
	lvl, _ := parseLevel(c.Level)
	ls.level.Set(lvl)
	opts := &slog.HandlerOptions{Level: &ls.level}
	var h slog.Handler = slog.NewTextHandler(ls.w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(ls.w, opts)
	}
	ls.cur.Store(&h)
}

// Enabled implements slog.Handler.
func (ls *logSwitch) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= ls.level.Level()
}

// Handle implements slog.Handler.
func (ls *logSwitch) Handle(ctx context.Context, r slog.Record) error {
	return (*ls.cur.Load()).Handle(ctx, r)
}

// WithAttrs implements slog.Handler. A derived handler keeps the format
// of the moment (nothing in leafgate derives loggers today).
func (ls *logSwitch) WithAttrs(attrs []slog.Attr) slog.Handler {
	return (*ls.cur.Load()).WithAttrs(attrs)
}

// WithGroup implements slog.Handler, like WithAttrs.
func (ls *logSwitch) WithGroup(name string) slog.Handler {
	return (*ls.cur.Load()).WithGroup(name)
}

// writePIDFile writes this process's id to path.
func writePIDFile(path string) error {
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}
