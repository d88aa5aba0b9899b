package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/tlsconf"
)

// liveKeys are the keys a reload applies to the running server.
var liveKeys = []string{
	"max_connections", "max_payload", "max_control_line", "max_subscriptions", "max_pending",
	"write_deadline", "ping_interval", "ping_max", "lame_duck_duration", "lame_duck_grace_period",
	"pid_file", "log.level", "log.format",
	"tls.cert_file", "tls.key_file", "tls.ca_file", "tls.verify", "tls.min_version", "tls.timeout",
	"tls.allow_non_tls", "tls.handshake_first",
	"authorization.token", "authorization.timeout", "authorization.users", "no_auth_user",
}

// Every key has a reload decision: live, refused or restart.
func TestEveryKeyHasAReloadDecision(t *testing.T) {
	for k := range knownKeys(reflect.TypeFor[Config](), "") {
		_, classified := reloadKeys[k]
		if live := slices.Contains(liveKeys, k); live == classified {
			t.Errorf("key %s: live %v, in reloadKeys %v; decide how a reload treats it", k, live, classified)
		}
	}
}

func TestDiffConfig(t *testing.T) {
	a := &Config{Port: 1, Log: LogConfig{Level: "info"}}
	b := *a
	b.Log.Level = "debug"
	b.Authorization.Users = []UserConfig{{User: "u", Password: "p"}}
	if got := diffConfig(a, &b); !slices.Equal(got, []string{"authorization.users", "log.level"}) {
		t.Fatalf("diff = %v", got)
	}
}

// natsLogin connects with user/pass over raw NATS and reports whether the
// server answered the PING (true) or refused the login.
func natsLogin(t *testing.T, addr, user, pass string) bool {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte(`CONNECT {"verbose":false,"user":"` + user + `","pass":"` + pass + "\"}\r\nPING\r\n"))
	line, _ := r.ReadString('\n')
	return strings.HasPrefix(line, "PONG")
}

// SIGHUP (sent by `leafgate --signal reload`) reloads the file: the new
// user may connect, the removed one may not, the process keeps running;
// a bad file is logged with its key and changes nothing.
func TestSignalReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "leafgate.yaml")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	users := func(name string) string {
		return "jetstream:\n  enabled: false\nauthorization:\n  users:\n    - user: " + name + "\n      password: pw\n"
	}
	write(users("alice"))
	cmd, logs := startBinary(t, nil, "-c", file, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if !natsLogin(t, addr, "alice", "pw") {
		t.Fatal("alice refused before the reload")
	}
	reload := func(wantLog string) {
		t.Helper()
		before := strings.Count(logs.String(), wantLog)
		var out, errb bytes.Buffer
		if code := run([]string{"--signal", "reload=" + strconv.Itoa(cmd.Process.Pid)}, &out, &errb); code != exitOK {
			t.Fatalf("--signal reload: %d %s", code, errb.String())
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(logs.String(), wantLog) == before {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP; logs:\n%s", wantLog, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("process gone after reload: %v", err)
		}
	}
	write(users("bob") + "log:\n  level: debug\n")
	reload("config reloaded")
	if !strings.Contains(logs.String(), "changed=\"[authorization.users log.level]\"") {
		t.Errorf("reload line does not name the changed keys:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "pw") {
		t.Error("a password was logged")
	}
	if !natsLogin(t, addr, "bob", "pw") || natsLogin(t, addr, "alice", "pw") {
		t.Fatal("after the reload bob must get in and alice must not")
	}

	write(users("carol") + "max_payload: lots\n")
	reload("config reload failed")
	if !strings.Contains(logs.String(), "max_payload") {
		t.Errorf("the failed reload does not name the key:\n%s", logs.String())
	}
	write(users("carol") + "server_name: other\n") // port is a flag here, and flags win
	reload("config reload not supported for server_name")
	if !natsLogin(t, addr, "bob", "pw") || natsLogin(t, addr, "carol", "pw") {
		t.Fatal("a failed reload changed the running configuration")
	}
}

// A certificate renewed in place (same path, new contents) is reported.
func TestTLSFilesChangedInPlace(t *testing.T) {
	dir := t.TempDir()
	load := func() server.Options {
		t.Helper()
		if _, err := tlsconf.WriteTestCerts(dir); err != nil {
			t.Fatal(err)
		}
		c := &Config{TLS: TLSConfig{CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
			CAFile: filepath.Join(dir, "ca.pem"), Timeout: time.Second}}
		o, err := c.serverOptions(slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a := load()
	if got := tlsFilesChanged(a, a); len(got) != 0 {
		t.Fatalf("unchanged files reported: %v", got)
	}
	if got := tlsFilesChanged(a, load()); !slices.Equal(got, []string{"tls.cert_file", "tls.ca_file"}) {
		t.Fatalf("renewed files: %v", got)
	}
}
