package mqttpeer

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/test/internal/release"
)

// LeafgateOptions describe a leafgate run for MQTT tests.
type LeafgateOptions struct {
	// StoreDir is the JetStream (and MQTT session) store; empty: a fresh
	// temporary directory, removed at Stop.
	StoreDir string
	// Config is extra YAML appended to the generated configuration file
	// (top-level sections such as leafnodes or log start unindented).
	Config string
	// JetStream is extra YAML lines for the jetstream section, each
	// indented by two spaces (for example "  domain: edge\n").
	JetStream string
	// NoJetStream runs without JetStream (sessions in memory, no retain).
	NoJetStream bool
	// WebSocket is extra YAML lines for the websocket section, each
	// indented by two spaces (for example "  compression: true\n"). The
	// WebSocket listener is always on, plain ws:// on a free loopback port
	// (Broker.WSAddr). Lines that set "  tls:" make it wss:// instead:
	// no_tls is then false.
	WebSocket string
	// Monitor turns the monitoring listener on, on a free loopback port
	// kept across restarts (Broker.MonitorURL); off (http_port: 0)
	// otherwise.
	Monitor bool
}

// buildLeafgate builds the leafgate binary once per test binary, as the
// Makefile builds what ships.
var buildLeafgate = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	// One directory per test binary and checkout, reused run after run, so
	// repeated test runs do not leave a build behind each time, and two
	// checkouts (worktrees) testing at once do not replace each other's.
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("mqttpeer-leafgate-bin-%s-%x", filepath.Base(os.Args[0]), sum[:4]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "leafgate")
	args := append([]string{"build", "-o", bin}, release.BuildArgs()...)
	cmd := exec.Command("go", append(args, "./cmd/leafgate")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// moduleRoot finds the product module (the directory above test/).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "cmd", "leafgate")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no leafgate module above %s", dir)
}

// RunLeafgate starts the leafgate binary with its MQTT listener on a free
// loopback port. The caller must Stop it.
func RunLeafgate(o LeafgateOptions) (*Broker, error) {
	bin, err := buildLeafgate()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "mqttpeer-leafgate-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	if o.StoreDir == "" {
		o.StoreDir = filepath.Join(tmp, "data")
	}
	// All ports at once: one picked after another closed may be the same.
	ports, err := FreePorts(4)
	if err != nil {
		cleanup()
		return nil, err
	}
	natsPort, mqttPort, wsPort, httpPort := ports[0], ports[1], ports[2], ports[3]
	if !o.Monitor {
		httpPort = 0
	}
	noTLS := "  no_tls: true\n"
	if strings.Contains("\n"+o.WebSocket, "\n  tls:") {
		noTLS = "  no_tls: false\n" // true by default, and an error with tls
	}
	conf := fmt.Sprintf("host: 127.0.0.1\nhttp_host: 127.0.0.1\nhttp_port: %d\njetstream:\n  enabled: %v\n  store_dir: %q\n%smqtt:\n  host: 127.0.0.1\n  port: %d\n"+
		"websocket:\n  host: 127.0.0.1\n  port: %d\n%s%s%s",
		httpPort, !o.NoJetStream, o.StoreDir, o.JetStream, mqttPort, wsPort, noTLS, o.WebSocket, o.Config)
	confPath := filepath.Join(tmp, "leafgate.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	launch := func() (*Broker, error) {
		b, err := launchLeafgate(bin, confPath, natsPort, mqttPort, wsPort)
		if err == nil && httpPort != 0 {
			b.MonitorURL = "http://127.0.0.1:" + strconv.Itoa(httpPort)
		}
		return b, err
	}
	b, err := launch()
	if err != nil {
		cleanup()
		return nil, err
	}
	b.cleanup, b.relaunch = cleanup, launch
	return b, nil
}

func launchLeafgate(bin, conf string, natsPort, mqttPort, wsPort int) (*Broker, error) {
	addr := "127.0.0.1:" + strconv.Itoa(mqttPort)
	natsAddr := "127.0.0.1:" + strconv.Itoa(natsPort)
	wsAddr := "127.0.0.1:" + strconv.Itoa(wsPort)
	cmd := exec.Command(bin, "--config", conf, "-p", strconv.Itoa(natsPort))
	p, err := startProcess("leafgate", cmd, 30*time.Second, addr, natsAddr, wsAddr)
	if err != nil {
		return nil, err
	}
	return &Broker{Name: "leafgate", Addr: addr, NATSURL: "nats://" + natsAddr, WSAddr: wsAddr, V5: true,
		PID: p.cmd.Process.Pid, halt: p.halt, kill: p.kill, log: p.log}, nil
}

// StartLeafgate starts leafgate for a test and stops it at cleanup.
func StartLeafgate(t testing.TB, o LeafgateOptions) *Broker {
	t.Helper()
	b, err := RunLeafgate(o)
	if err != nil {
		t.Fatalf("mqttpeer: start leafgate: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}
