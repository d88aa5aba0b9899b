package mqttpeer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MosquittoOptions configure a mosquitto broker. The zero value is an
// anonymous listener on a free loopback port with persistence off.
type MosquittoOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Persistence writes the in-memory state (sessions, queued and
	// retained messages) to mosquitto.db in Dir on shutdown and every
	// AutosaveInterval, as Debian's default configuration does. Dir
	// defaults to a fresh temporary directory removed at Stop; set it to
	// restart a broker on the same data.
	Persistence      bool
	AutosaveInterval time.Duration // 0: mosquitto's default, 30 minutes
	Dir              string
	// MaxQueuedMessages is max_queued_messages: QoS 1 and 2 messages held
	// per client beyond those in flight (0: mosquitto's default, 1000).
	MaxQueuedMessages int
	// MaxInflightMessages is max_inflight_messages: QoS 1 and 2 messages
	// in flight to each client (0: mosquitto's default, 20; -1: no limit,
	// written as mosquitto's 0).
	MaxInflightMessages int
	// Extra lines appended to the configuration file verbatim.
	Extra []string
	// LogFile, when set, receives mosquitto's log (all types); otherwise
	// errors and warnings are kept and shown if start-up fails.
	LogFile string
}

// MosquittoPath returns the mosquitto binary, which Debian installs in
// /usr/sbin (not on every user's PATH).
func MosquittoPath() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errors.New("mosquitto not installed (make tools: scripts/install-test-deps.sh installs Debian's mosquitto)")
}

// MosquittoConfig is the configuration file text for o, listening on
// 127.0.0.1:port, keeping persistence in dir.
func MosquittoConfig(o MosquittoOptions, port int, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", port)
	b.WriteString("allow_anonymous true\n")
	if os.Geteuid() == 0 {
		// As root mosquitto switches to user "mosquitto", which cannot
		// write the persistence directory a test made.
		b.WriteString("user root\n")
	}
	if o.Persistence {
		b.WriteString("persistence true\n")
		fmt.Fprintf(&b, "persistence_location %s/\n", dir)
		if o.AutosaveInterval > 0 {
			fmt.Fprintf(&b, "autosave_interval %d\n", max(1, int(o.AutosaveInterval.Seconds())))
		}
	} else {
		b.WriteString("persistence false\n")
	}
	if o.MaxQueuedMessages > 0 {
		fmt.Fprintf(&b, "max_queued_messages %d\n", o.MaxQueuedMessages)
	}
	if o.MaxInflightMessages != 0 {
		fmt.Fprintf(&b, "max_inflight_messages %d\n", max(o.MaxInflightMessages, 0))
	}
	if o.LogFile != "" {
		fmt.Fprintf(&b, "log_dest file %s\nlog_type all\n", o.LogFile)
	} else {
		b.WriteString("log_dest stderr\nlog_type error\nlog_type warning\n")
	}
	for _, l := range o.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// RunMosquitto starts mosquitto as a separate process and waits until it
// listens. The caller must Stop it. Unlike StartMosquitto it needs no
// testing.TB, for the bench.
func RunMosquitto(o MosquittoOptions) (*Broker, error) {
	bin, err := MosquittoPath()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "mqttpeer-mosquitto-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	if o.Dir == "" {
		o.Dir = tmp
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			cleanup()
			return nil, err
		}
	}
	conf := filepath.Join(tmp, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(MosquittoConfig(o, o.Port, o.Dir)), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	launch := func() (*Broker, error) { return launchMosquitto(bin, conf, o.Port) }
	b, err := launch()
	if err != nil {
		cleanup()
		return nil, err
	}
	b.cleanup, b.relaunch = cleanup, launch
	return b, nil
}

func launchMosquitto(bin, conf string, port int) (*Broker, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProcess("mosquitto", exec.Command(bin, "-c", conf), 10*time.Second, addr)
	if err != nil {
		return nil, err
	}
	return &Broker{Name: "mosquitto", Addr: addr, V5: true, PID: p.cmd.Process.Pid, halt: p.halt, log: p.log}, nil
}

// StartMosquitto starts mosquitto for a test and stops it at cleanup. It
// skips the test (fails it under CI) when mosquitto is not installed.
func StartMosquitto(t testing.TB, o MosquittoOptions) *Broker {
	t.Helper()
	if _, err := MosquittoPath(); err != nil {
		missing(t, "%v", err)
	}
	b, err := RunMosquitto(o)
	if err != nil {
		t.Fatalf("mqttpeer: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// lockedBuffer is a bytes.Buffer a process may write while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
