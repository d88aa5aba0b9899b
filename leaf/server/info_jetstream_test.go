package server_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

// TestInfoJetStream checks INFO carries "jetstream":true exactly when
// JetStream is on and api_lvl whenever a level is set, as nats-server's does.
func TestInfoJetStream(t *testing.T) {
	tests := []struct {
		name    string
		opts    server.Options
		wantJS  bool // "jetstream":true present
		wantLvl int  // api_lvl, 0 = absent
	}{
		{"no level", server.Options{}, false, 0},
		{"off with level", server.Options{JetStreamAPILevel: 1}, false, 1},
		{"on", server.Options{JetStream: true, JetStreamAPILevel: 1}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.Run(t, tc.opts)
			conn, err := net.Dial("tcp", s.ClientAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("read INFO: %v", err)
			}
			raw := strings.TrimSpace(strings.TrimPrefix(line, "INFO "))
			var info map[string]any
			if err := json.Unmarshal([]byte(raw), &info); err != nil {
				t.Fatalf("INFO %q: %v", raw, err)
			}
			js, hasJS := info["jetstream"]
			lvl, hasLvl := info["api_lvl"]
			if hasJS != tc.wantJS || (hasJS && js != true) {
				t.Errorf("INFO %s: jetstream = %v, want present=%v", raw, js, tc.wantJS)
			}
			if hasLvl != (tc.wantLvl != 0) || (hasLvl && lvl != float64(tc.wantLvl)) {
				t.Errorf("INFO %s: api_lvl = %v, want %d", raw, lvl, tc.wantLvl)
			}
		})
	}
}
