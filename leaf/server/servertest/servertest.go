// Package servertest starts leafgate servers in-process for tests, in one
// line, on ephemeral loopback ports, and shuts them down with the test.
package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/server"
)

// Run starts a server with opts (Listen and MonitorListen default to
// ephemeral loopback ports; set MonitorListen to "-" to disable monitoring)
// and registers its shutdown with t.Cleanup.
func Run(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	switch opts.MonitorListen {
	case "":
		opts.MonitorListen = "127.0.0.1:0"
	case "-":
		opts.MonitorListen = ""
	}
	s, err := server.New(opts)
	if err != nil {
		t.Fatalf("servertest: new server: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("servertest: start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
	})
	return s
}
