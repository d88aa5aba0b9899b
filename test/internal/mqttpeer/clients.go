package mqttpeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ClientPath returns the path of mosquitto_pub or mosquitto_sub.
func ClientPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not installed (make tools: scripts/install-test-deps.sh installs Debian's mosquitto-clients)", name)
	}
	return p, nil
}

func clientOrSkip(t testing.TB, name string) string {
	t.Helper()
	p, err := ClientPath(name)
	if err != nil {
		missing(t, "%v", err)
	}
	return p
}

// Pub runs mosquitto_pub against b with args (everything after the host
// and port: -t, -m, -q, -V mqttv5, ...) and fails the test if it fails.
func Pub(t testing.TB, b *Broker, args ...string) {
	t.Helper()
	bin := clientOrSkip(t, "mosquitto_pub")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-h", b.Host(), "-p", b.Port()}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// SubMessage is one message mosquitto_sub printed.
type SubMessage struct {
	Topic   string
	QoS     int
	Retain  bool
	Payload string
}

// Sub is a running mosquitto_sub.
type Sub struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	msgs []SubMessage
	log  []string // debug and error lines
	err  error    // the process's exit status, once done
}

// subFormat prints one message per line, tab-separated, so the debug lines
// (-d) that announce the SUBACK can be told from messages. Payloads with a
// newline or tab do not round-trip.
const subFormat = `MSG\t%t\t%q\t%r\t%p`

// StartSub starts mosquitto_sub against b with args (after the host and
// port: -t, -q, -C, -c, -i, -V mqttv5, ...; not -F or -d, which Sub sets)
// and returns once the broker has acknowledged the subscription, so a
// publish made after it returns reaches it. The process is killed at
// cleanup if it is still running.
func StartSub(t testing.TB, b *Broker, args ...string) *Sub {
	t.Helper()
	bin := clientOrSkip(t, "mosquitto_sub")
	s := &Sub{done: make(chan struct{})}
	argv := append([]string{bin, "-h", b.Host(), "-p", b.Port(), "-d", "-F", subFormat}, args...)
	// mosquitto_sub block-buffers its output into a pipe, so the line that
	// says it is subscribed would not come until it exits: stdbuf
	// (coreutils) makes it line-buffered.
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Fatalf("mqttpeer: stdbuf (coreutils) is needed to read mosquitto_sub as it runs: %v", err)
	}
	s.cmd = exec.Command(stdbuf, append([]string{"-oL", "-eL"}, argv...)...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto_sub: %v", err)
	}
	subscribed := make(chan struct{})
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			if m, ok := parseSubLine(line); ok {
				s.msgs = append(s.msgs, m)
			} else {
				s.log = append(s.log, line)
			}
			s.mu.Unlock()
			if strings.HasPrefix(line, "Subscribed (mid:") {
				once.Do(func() { close(subscribed) })
			}
		}
		err := s.cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	select {
	case <-subscribed:
	case <-s.done:
		t.Fatalf("mosquitto_sub exited before subscribing: %v\n%s", s.err, s.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("mosquitto_sub did not subscribe within 20 s:\n%s", s.Log())
	}
	return s
}

func parseSubLine(line string) (SubMessage, bool) {
	f := strings.SplitN(line, "\t", 5)
	if len(f) != 5 || f[0] != "MSG" {
		return SubMessage{}, false
	}
	qos, err := strconv.Atoi(f[2])
	if err != nil {
		return SubMessage{}, false
	}
	return SubMessage{Topic: f[1], QoS: qos, Retain: f[3] == "1", Payload: f[4]}, true
}

// Wait waits for mosquitto_sub to exit (as it does after -C count
// messages) and returns what it received. It fails the test if the process
// fails or is still running after timeout.
func (s *Sub) Wait(t testing.TB, timeout time.Duration) []SubMessage {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("mosquitto_sub still running after %v; got %v\n%s", timeout, s.Messages(), s.Log())
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, s.Log())
	}
	return s.Messages()
}

// Messages returns the messages received so far.
func (s *Sub) Messages() []SubMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SubMessage(nil), s.msgs...)
}

// Log returns mosquitto_sub's debug and error output so far.
func (s *Sub) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// JSDir is test/js, where MQTT.js is installed and its scripts live.
func JSDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("mqttpeer: cannot locate test/js")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "js")
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return "", fmt.Errorf("mqttpeer: test/js not found: %w", err)
	}
	return dir, nil
}

// RunMQTTJS runs a Node.js script from test/js (script is its file name
// there, e.g. "mqtt_interop.mjs") with args and returns its output. It
// skips the test (fails it under CI) when node or MQTT.js is missing, and
// fails it when the script exits non-zero or outlives timeout.
func RunMQTTJS(t testing.TB, timeout time.Duration, script string, args ...string) string {
	t.Helper()
	dir, err := JSDir()
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "mqtt", "package.json"))
	}
	if err != nil {
		missing(t, "MQTT.js not installed (run `make tools`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
	return string(out)
}
