// Package mqttpeer starts the MQTT brokers and clients that leafgate's MQTT
// listener is checked against: mosquitto 2.0 (Debian's package) as a
// separate process, nats-server v2.15.2's MQTT listener in-process, and
// helpers that run mosquitto_pub, mosquitto_sub and MQTT.js scripts
// against any of them. A test written with ForEach runs against every
// broker, which proves each assertion holds for the references and that
// leafgate matches them.
//
// mosquitto and its clients come from `make tools`
// (scripts/install-test-deps.sh); where they are missing the tests that
// need them skip and say why, except under CI, where a missing peer is a
// failure. MQTT.js comes from test/js (`npm ci`, also `make tools`).
//
// leafgate is a target too: its binary, built as the Makefile builds it,
// runs as a process, so tests can restart it and kill it with SIGKILL.
package mqttpeer

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Broker is a running MQTT broker under test.
type Broker struct {
	Name string // "leafgate", "mosquitto" or "nats-server"
	Addr string // host:port of the MQTT listener
	// NATSURL is the NATS client URL of a broker that also speaks NATS
	// (leafgate, nats-server); empty for mosquitto.
	NATSURL string
	// WSAddr is host:port of the broker's WebSocket listener (ws://, MQTT
	// on path /mqtt), when it runs one; empty otherwise.
	WSAddr string
	// MonitorURL is http://host:port of the broker's monitoring listener
	// (/connz, /subsz), when it runs one; empty otherwise.
	MonitorURL string
	// V5 is set when the broker speaks MQTT 5.0 (mosquitto, leafgate);
	// nats-server speaks 3.1.1 only.
	V5 bool
	// PID is the broker's process id when it runs as a separate process
	// (mosquitto), 0 in-process.
	PID int

	halt     func()                  // stops the broker, keeping its data
	kill     func()                  // kill -9 (process brokers that support it)
	log      *lockedBuffer           // the process's output, when it is one
	cleanup  func()                  // removes the data Run created
	relaunch func() (*Broker, error) // starts it again on the same port and data
}

// Stop stops the broker, waits for it and removes the data directory it
// made. Start registers it with t.Cleanup; calling it twice is harmless.
func (b *Broker) Stop() {
	if b.halt != nil {
		b.halt()
		b.halt = nil
	}
	if b.cleanup != nil {
		b.cleanup()
		b.cleanup = nil
	}
}

// Restart stops the broker gracefully (mosquitto saves its persistence
// file on the way) and starts it again on the same MQTT port and data, as
// after a reboot. b is updated in place; NATSURL and PID may change.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	if b.halt == nil || b.relaunch == nil {
		t.Fatalf("mqttpeer: %s is not running or cannot restart", b.Name)
	}
	b.halt()
	b.halt = nil
	nb, err := b.relaunch()
	if err != nil {
		t.Fatalf("mqttpeer: restart %s: %v", b.Name, err)
	}
	b.Addr, b.NATSURL, b.WSAddr, b.MonitorURL, b.PID, b.halt, b.kill, b.log = nb.Addr, nb.NATSURL, nb.WSAddr, nb.MonitorURL, nb.PID, nb.halt, nb.kill, nb.log
}

// Crash kills the broker with SIGKILL, as a power cut would stop it, and
// starts it again on the same port and data.
func (b *Broker) Crash(t testing.TB) {
	t.Helper()
	if b.kill == nil || b.relaunch == nil {
		t.Fatalf("mqttpeer: %s cannot be killed and restarted", b.Name)
	}
	b.kill()
	b.halt, b.kill = nil, nil
	nb, err := b.relaunch()
	if err != nil {
		t.Fatalf("mqttpeer: restart %s after kill -9: %v", b.Name, err)
	}
	b.Addr, b.NATSURL, b.WSAddr, b.MonitorURL, b.PID, b.halt, b.kill, b.log = nb.Addr, nb.NATSURL, nb.WSAddr, nb.MonitorURL, nb.PID, nb.halt, nb.kill, nb.log
}

// Log is the broker process's output so far ("" in-process).
func (b *Broker) Log() string {
	if b.log == nil {
		return ""
	}
	return b.log.String()
}

// TCPURL is the address as paho.mqtt.golang takes it: tcp://host:port.
func (b *Broker) TCPURL() string { return "tcp://" + b.Addr }

// MQTTURL is the address as MQTT.js takes it: mqtt://host:port.
func (b *Broker) MQTTURL() string { return "mqtt://" + b.Addr }

// Host and Port split Addr, for mosquitto_pub and mosquitto_sub.
func (b *Broker) Host() string { h, _, _ := net.SplitHostPort(b.Addr); return h }

// Port is Addr's port.
func (b *Broker) Port() string { _, p, _ := net.SplitHostPort(b.Addr); return p }

// Targets are the brokers ForEach runs against: LEAFGATE_MQTT_TARGETS
// (comma-separated) or all three.
func Targets() []string {
	if s := os.Getenv("LEAFGATE_MQTT_TARGETS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"leafgate", "mosquitto", "nats-server"}
}

// ForEach runs fn as a subtest against each of Targets, each on a fresh
// broker with default options.
func ForEach(t *testing.T, fn func(t *testing.T, b *Broker)) {
	t.Helper()
	for _, name := range Targets() {
		t.Run(name, func(t *testing.T) {
			fn(t, Start(t, name))
		})
	}
}

// Start starts the named broker with default options (mosquitto with
// persistence on, as Debian configures it) and registers its Stop with
// t.Cleanup. It skips the test when the broker cannot be had
// here (mosquitto not installed, leafgate without MQTT).
func Start(t testing.TB, name string) *Broker {
	t.Helper()
	switch name {
	case "leafgate":
		return startLeafgate(t)
	case "mosquitto":
		return StartMosquitto(t, MosquittoOptions{Persistence: true})
	case "nats-server":
		return StartNATSServer(t, NATSServerOptions{})
	}
	t.Fatalf("mqttpeer: unknown broker %q", name)
	return nil
}

// startLeafgate runs the leafgate binary with JetStream and MQTT on.
func startLeafgate(t testing.TB) *Broker {
	t.Helper()
	return StartLeafgate(t, LeafgateOptions{})
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago: their listeners are all open while they are picked, so no port
// comes back twice, as one picked after another was closed may.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WaitListening waits until addr accepts TCP connections, or until alive
// reports the process gone, or timeout.
func WaitListening(addr string, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if alive != nil {
			if aerr := alive(); aerr != nil {
				return aerr
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// missing skips t, or fails it under CI, where `make tools` must have
// installed every peer.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
