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
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/store/jetstream"
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
	return serve(cfg, stderr)
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(cfg.Log.Level) // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the server until a signal ends it.
func serve(cfg *Config, stderr io.Writer) int {
	server.Version = leafgateVersion()
	log := newLogger(cfg, stderr)
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
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	var js *jetstream.Service
	if cfg.JetStream.Enabled {
		js, err = jetstream.Open(cfg.jetStreamConfig(log), srv.Router())
		if err != nil {
			log.Error("jetstream start failed", "err", err)
			return exitRuntime
		}
		srv.SetJetStream(js) // /jsz and /varz's jetstream block
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
	attrs := []any{"version", server.Version, "client", srv.ClientAddr().String(), "pid", os.Getpid()}
	if a := srv.MonitorAddr(); a != nil {
		attrs = append(attrs, "monitoring", "http://"+a.String())
	}
	if js != nil {
		attrs = append(attrs, "jetstream", cfg.JetStream.StoreDir)
	}
	log.Info("leafgate started", attrs...)
	if cfg.PIDFile != "" {
		if err := os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("write pid_file", "path", cfg.PIDFile, "err", err)
			_ = srv.Shutdown(context.Background())
			return exitRuntime
		}
		defer os.Remove(cfg.PIDFile)
	}
	notifySystemd("READY=1")

	for {
		select {
		case <-srv.Done():
			notifySystemd("STOPPING=1")
			return exitOK
		case sig := <-sigs:
			switch sig {
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
