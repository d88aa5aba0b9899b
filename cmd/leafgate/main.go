// Command leafgate runs the leafgate edge broker: a NATS server for
// gateways, configured from an embedded default, a YAML file, LEAFGATE_*
// environment variables and flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/sync/sourcing"
	"github.com/leafgate/leafgate/sync/uplink"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// Exit statuses.
const (
	exitOK      = 0
	exitRuntime = 1 // the server failed
	exitUsage   = 2 // bad flags or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func leafgateVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet()
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leafgate [flags]\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "leafgate: %v\n", err)
		return exitUsage
	}
	if help, _ := fs.GetBool("help"); help {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "leafgate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if v, _ := fs.GetBool("version"); v {
		fmt.Fprintf(stdout, "leafgate %s (go %s, NATS %s)\n", leafgateVersion(), runtime.Version(), server.NATSVersion)
		return exitOK
	}
	cfg, err := loadConfig(fs)
	if err != nil {
		fmt.Fprintf(stderr, "leafgate: %v\n", err)
		return exitUsage
	}
	if sig, _ := fs.GetString("signal"); sig != "" {
		if err := sendSignal(sig, cfg.PIDFile, "/proc"); err != nil {
			fmt.Fprintf(stderr, "leafgate: --signal: %v\n", err)
			return exitRuntime
		}
		return exitOK
	}
	return serve(fs, cfg, stderr)
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(cfg.Log.Level) // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the server until a signal ends it; SIGHUP reloads the
// configuration fs and cfg came from.
func serve(fs *pflag.FlagSet, cfg *Config, stderr io.Writer) int {
	server.Version = leafgateVersion()
	logs := newLogSwitch(stderr, cfg.Log)
	log := slog.New(logs)
	for _, w := range cfg.warnings {
		log.Warn("config: "+w.Msg, "key", w.Key, "value", w.Value, "source", w.Source)
	}
	opts, err := cfg.serverOptions(log)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return exitUsage
	}
	// nats-server advertises api_lvl with JetStream on or off.
	opts.JetStream, opts.JetStreamAPILevel = cfg.JetStream.Enabled, jetstream.APILevel
	srv, err := server.New(opts)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return exitUsage
	}
	// A file-size limit (RLIMIT_FSIZE) must fail writes with EFBIG, which
	// JetStream reports to publishers, rather than kill the process.
	signal.Ignore(syscall.SIGXFSZ)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGHUP)
	defer signal.Stop(sigs)

	var js *jetstream.Service
	if cfg.JetStream.Enabled {
		if err := checkStoreDir(cfg.JetStream.StoreDir); err != nil {
			log.Error("jetstream start failed", "key", "jetstream.store_dir", "err", err)
			return exitRuntime
		}
		jcfg := cfg.jetStreamConfig(log)
		jcfg.ServerName = srv.Name() // reported in API audit advisories
		// Mirrors and sources replicate through the router: from local
		// streams, or a hub's across the leafnode link.
		follower := sourcing.New(srv.Router(), "", log)
		jcfg.Follower = follower
		defer follower.Close()
		js, err = jetstream.Open(jcfg, srv.Router())
		if err != nil {
			log.Error("jetstream start failed", "err", err)
			return exitRuntime
		}
		if err := declareStreams(cfg, srv.Router(), log); err != nil {
			log.Error("invalid configuration", "err", err)
			_ = js.Close()
			return exitUsage
		}
		srv.SetJetStream(js)               // /jsz and /varz's jetstream block
		srv.OnShutdown(js.EndPullRequests) // 409 Server Shutdown to waiting pulls
		// Stop JetStream after the clients are gone: everything it
		// acknowledged is on disk by then.
		defer func() {
			if err := js.Close(); err != nil {
				log.Warn("jetstream close", "err", err)
			}
		}()
	}
	if err := srv.Start(); err != nil {
		log.Error("start failed", "err", err)
		return exitRuntime
	}
	var mq *mqttService
	if cfg.MQTT.Enabled {
		if mq, err = startMQTT(cfg, srv, js, log); err != nil {
			log.Error("mqtt start failed", "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
		// After the server has closed MQTT connections, before JetStream
		// closes: the broker's last session writes go first.
		defer mq.close()
	}
	var wsAddr net.Addr
	if cfg.WebSocket.Enabled {
		if wsAddr, err = startWebSocket(cfg, srv, mq, log); err != nil {
			log.Error("websocket start failed", "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
	}
	var leafLinks *leafnode.Set
	if len(cfg.Leafnodes.Remotes) > 0 {
		lopts, resumers, err := cfg.leafOptions(srv, log)
		if err != nil {
			log.Error("invalid configuration", "err", err)
			_ = srv.Shutdown(context.Background())
			return exitUsage
		}
		links, err := leafnode.New(lopts)
		if err != nil {
			log.Error("leafnode start failed", "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
		monitorLinks(srv, links, resumers)
		leafLinks = links
	}
	// Uplinks reserve their subjects before the links start, so no core
	// copy of them ever crosses.
	ups, err := startUplinks(cfg, srv.Router(), js, leafLinks, log)
	if err != nil {
		log.Error("uplinks start failed", "err", err)
		_ = srv.Shutdown(context.Background())
		return exitRuntime
	}
	if ups != nil {
		// Before JetStream closes: the uplinks' last confirmations go
		// into the streams' final commits.
		defer ups.Close()
	}
	var dls downlinkSet
	if js != nil && len(cfg.Downlinks) > 0 {
		if dls, err = startDownlinks(cfg, js, srv.Router(), log); err != nil {
			log.Error("downlinks start failed", "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
		defer dls.close()
	}
	if ups != nil || dls != nil {
		srv.SetUplinkz(func() (any, any) {
			var up any = []uplink.Status{}
			if ups != nil {
				up = ups.Statuses()
			}
			return up, dls.statuses()
		})
	}
	if leafLinks != nil {
		leafLinks.Start()
		srv.OnShutdown(leafLinks.Close)
	}
	attrs := []any{"version", server.Version, "client", srv.ClientAddr().String(), "pid", os.Getpid()}
	if mq != nil {
		attrs = append(attrs, "mqtt", mq.addr.String())
	}
	if wsAddr != nil {
		attrs = append(attrs, "websocket", wsAddr.String())
	}
	if a := srv.MonitorAddr(); a != nil {
		attrs = append(attrs, "monitoring", "http://"+a.String())
	}
	if js != nil {
		attrs = append(attrs, "jetstream", cfg.JetStream.StoreDir)
	}
	log.Info("leafgate started", attrs...)
	rl := &reloader{fs: fs, cfg: cfg, opts: opts, srv: srv, logs: logs, log: log}
	if cfg.PIDFile != "" {
		if err := writePIDFile(cfg.PIDFile); err != nil {
			log.Error("write pid_file", "path", cfg.PIDFile, "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
		rl.pidFile = cfg.PIDFile
	}
	defer func() {
		if rl.pidFile != "" {
			os.Remove(rl.pidFile)
		}
	}()
	notifySystemd("READY=1")

	for {
		select {
		case <-srv.Done():
			notifySystemd("STOPPING=1")
			return exitOK
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				rl.handleHUP()
			case syscall.SIGUSR2:
				log.Info("signal: entering lame duck mode")
				notifySystemd("STOPPING=1")
				go func() {
					if err := srv.LameDuck(context.Background()); err != nil {
						log.Warn("lame duck", "err", err)
					}
				}()
			default:
				log.Info("signal: shutting down", "signal", sig.String())
				notifySystemd("STOPPING=1")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := srv.Shutdown(ctx)
				cancel()
				if err != nil {
					log.Warn("shutdown", "err", err)
				}
				return exitOK
			}
		}
	}
}

// checkStoreDir makes sure the JetStream directory exists (creating it)
// and can be listed and written, so that a bad store_dir is reported as
// such rather than as a failure on some file inside it.
func checkStoreDir(dir string) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("jetstream.store_dir %s: %s: %w", dir, what, err)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("jetstream.store_dir %s: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail("cannot create the directory", err)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fail("cannot read the directory (check its permissions and owner)", err)
	}
	f, err := os.CreateTemp(dir, ".leafgate-write-check-*")
	if err != nil {
		return fail("cannot write in the directory (check its permissions and owner)", err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fail("cannot remove files in the directory", err)
	}
	return nil
}
