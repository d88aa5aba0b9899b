package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestVersionHelpAndUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "leafgate ") {
		t.Fatalf("--version: code %d out %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"--help"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "--config") {
		t.Fatalf("--help: code %d out %q", code, out.String())
	}
	errb.Reset()
	if code := run([]string{"--bogus"}, &out, &errb); code != exitUsage {
		t.Fatalf("--bogus: code %d", code)
	}
	errb.Reset()
	p := filepath.Join(t.TempDir(), "c.yaml")
	_ = os.WriteFile(p, []byte("ping_max: -1\n"), 0o600)
	if code := run([]string{"--config", p}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "ping_max") {
		t.Fatalf("bad config: code %d stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"--config", "/no/such/file.yaml"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "/no/such/file.yaml") {
		t.Fatalf("missing config: code %d stderr %q", code, errb.String())
	}
	if code := run([]string{"extra"}, &out, &errb); code != exitUsage {
		t.Fatalf("extra arg: code %d", code)
	}
}

func TestSignalPIDResolution(t *testing.T) {
	proc := t.TempDir()
	mk := func(pid int, comm string) {
		d := filepath.Join(proc, strconv.Itoa(pid))
		_ = os.MkdirAll(d, 0o755)
		_ = os.WriteFile(filepath.Join(d, "comm"), []byte(comm+"\n"), 0o644)
	}
	mk(10, "bash")
	mk(11, "leafgate")
	mk(12, "leafgate") // ourselves
	if pid, err := findLeafgate(proc, 12); err != nil || pid != 11 {
		t.Fatalf("findLeafgate = %d, %v", pid, err)
	}
	mk(13, "leafgate")
	if _, err := findLeafgate(proc, 12); err == nil || !strings.Contains(err.Error(), "2 leafgate processes") {
		t.Fatalf("two candidates: %v", err)
	}
	if _, err := findLeafgate(t.TempDir(), 1); err == nil {
		t.Fatal("no candidates accepted")
	}
	// A stale pid_file, or one naming another program, is refused with an
	// error, and no signal is sent.
	pidFile := filepath.Join(t.TempDir(), "leafgate.pid")
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(sleeper.Process.Pid)+"\n"), 0o644)
	if err := sendSignal("stop", pidFile, "/proc"); err == nil || !strings.Contains(err.Error(), "not leafgate") || !strings.Contains(err.Error(), pidFile) {
		t.Fatalf("pid_file naming sleep: err = %v", err)
	}
	if err := sendSignal("stop="+strconv.Itoa(sleeper.Process.Pid), "", "/proc"); err == nil || !strings.Contains(err.Error(), "not leafgate") {
		t.Fatalf("=PID naming sleep: err = %v", err)
	}
	if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("sleep was signalled: %v", err)
	}
	mk(14, "vim")
	if err := sendSignal("stop=14", "", proc); err == nil || !strings.Contains(err.Error(), `"vim", not leafgate`) {
		t.Fatalf("fake proc vim: err = %v", err)
	}
	if err := sendSignal("stop=99", "", proc); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Fatalf("fake proc missing: err = %v", err)
	}
	var out, errb bytes.Buffer
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	_ = os.WriteFile(cfgFile, []byte("pid_file: "+pidFile+"\n"), 0o600)
	if code := run([]string{"--config", cfgFile, "--signal", "stop"}, &out, &errb); code == exitOK || !strings.Contains(errb.String(), "not leafgate") {
		t.Fatalf("run --signal with stale pid_file: code %d stderr %q", code, errb.String())
	}
	for _, bad := range []string{"explode", "ldm=abc", "ldm=-3"} {
		if err := sendSignal(bad, "", proc); err == nil {
			t.Errorf("sendSignal(%q) accepted", bad)
		}
	}
}

// TestBinaryLifecycle runs the binary with a pid_file, stops it through
// `leafgate --signal stop=PID` and checks the exit and pid_file cleanup.
func TestBinaryLifecycle(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "leafgate.pid")
	cmd, logs := startBinary(t, nil, "-a", "127.0.0.1", "-p", "0", "-m", "0", "--pid", pidFile)
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	signalAndWait(t, cmd, logs, "stop")
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if !strings.Contains(logs.String(), "server shut down") {
		t.Fatalf("logs lack the shutdown line:\n%s", logs.String())
	}
}

// TestBinaryLameDuck: `leafgate --signal ldm=PID` puts a running leafgate in
// lame-duck mode; it exits by itself when the mode ends.
func TestBinaryLameDuck(t *testing.T) {
	env := []string{"LEAFGATE_LAME_DUCK_DURATION=1s", "LEAFGATE_LAME_DUCK_GRACE_PERIOD=200ms"}
	cmd, logs := startBinary(t, env, "-a", "127.0.0.1", "-p", "0", "-m", "0", "--log_format", "json")
	signalAndWait(t, cmd, logs, "ldm")
	if !strings.Contains(logs.String(), "entering lame duck mode") {
		t.Fatalf("logs lack the lame duck line:\n%s", logs.String())
	}
}

// startBinary builds leafgate and starts it with args and extra env,
// returning the command and its log once the start line is logged.
func startBinary(t *testing.T, env []string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "leafgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // the default store_dir, ./data, lands here
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "leafgate started") {
		if time.Now().After(deadline) {
			t.Fatalf("no start line; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, logs
}

// signalAndWait sends `leafgate --signal <what>=PID` and waits for a clean exit.
func signalAndWait(t *testing.T, cmd *exec.Cmd, logs *syncBuffer, what string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"--signal", what + "=" + strconv.Itoa(cmd.Process.Pid)}, &out, &errb); code != exitOK {
		t.Fatalf("--signal %s: %d %s", what, code, errb.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after --signal %s: %v\n%s", what, err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("did not exit after --signal %s; logs:\n%s", what, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer process and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A corrupt JetStream database stops start-up with an error naming the
// file, and the file is left as it was.
func TestCorruptStoreIsAStartupError(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "jetstream.db")
	garbage := bytes.Repeat([]byte("not a bbolt file "), 1000)
	if err := os.WriteFile(db, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-a", "127.0.0.1", "-p", "0", "-m", "0", "--store_dir", dir}, &out, &errb)
	if code != exitRuntime || !strings.Contains(errb.String(), db) {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(after, garbage) {
		t.Fatal("the corrupt database was modified")
	}
}

// TestMain fails the run if a test left JetStream data in the source tree:
// leafgate's default store_dir is ./data, relative to the working
// directory, which for tests is this package's directory. Tests that start
// leafgate must pass a t.TempDir() store_dir or working directory.
func TestMain(m *testing.M) {
	_, before := os.Stat("data")
	code := m.Run()
	if _, after := os.Stat("data"); os.IsNotExist(before) && after == nil {
		_, _ = os.Stderr.WriteString("a test created cmd/leafgate/data: give it a t.TempDir() store_dir\n")
		_ = os.RemoveAll("data")
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// A store_dir leafgate cannot use is reported as such, naming the key and
// the directory, not as an error about a file inside it. Tests run as root,
// where permission bits do not stop reads, so the store_dir is a regular
// file and a path under one; without root a directory without permissions
// is tried too.
func TestUnusableStoreDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		file:                          "not a directory",
		filepath.Join(file, "store"):  "cannot create the directory",
		filepath.Join(file, "a", "b"): "cannot create the directory",
	}
	if os.Geteuid() != 0 {
		locked := filepath.Join(tmp, "locked")
		if err := os.Mkdir(locked, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(locked, 0o700) })
		cases[locked] = "cannot read the directory"
	}
	for dir, want := range cases {
		var out, errb bytes.Buffer
		code := run([]string{"-a", "127.0.0.1", "-p", "0", "-m", "0", "--store_dir", dir}, &out, &errb)
		msg := errb.String()
		if code != exitRuntime || !strings.Contains(msg, "jetstream.store_dir "+dir) || !strings.Contains(msg, want) || strings.Contains(msg, "compact") {
			t.Errorf("store_dir %s: exit %d, stderr:\n%s", dir, code, msg)
		}
	}
}
