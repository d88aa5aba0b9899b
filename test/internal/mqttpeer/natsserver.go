package mqttpeer

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// NATSServerOptions configure nats-server with an MQTT listener. nats-server
// needs a server name and JetStream for MQTT: sessions, QoS 1 and 2
// messages and retained messages live in JetStream streams.
type NATSServerOptions struct {
	// StoreDir is the JetStream store; empty: a fresh temporary directory
	// removed at Stop. Set it to restart on the same sessions.
	StoreDir string
	// MQTTPort 0 picks a free port.
	MQTTPort int
	// WebSocket runs the WebSocket listener too (Broker.WSAddr), plain
	// ws:// on loopback; WSPort 0 picks a free port.
	WebSocket bool
	WSPort    int
	// Monitor runs the monitoring listener (Broker.MonitorURL) on loopback;
	// MonitorPort 0 picks a free port.
	Monitor     bool
	MonitorPort int
	// Configure, when set, edits the options last: users, max_payload,
	// TLS or compression on the WebSocket listener.
	Configure func(*natsserver.Options)
}

// RunNATSServer starts nats-server v2.15.2 in-process with JetStream and
// an MQTT listener on loopback. The caller must Stop it.
func RunNATSServer(o NATSServerOptions) (*Broker, error) {
	cleanup := func() {}
	if o.StoreDir == "" {
		tmp, err := os.MkdirTemp("", "mqttpeer-nats-")
		if err != nil {
			return nil, err
		}
		o.StoreDir, cleanup = tmp, func() { _ = os.RemoveAll(tmp) }
	}
	if o.WebSocket && o.MQTTPort == 0 {
		// nats-server writes a port it chose back into its options while
		// the WebSocket listener, started before, reads the MQTT one for
		// every /mqtt upgrade: a data race (in v2.15.2) that a port chosen
		// here avoids.
		port, err := FreePort()
		if err != nil {
			cleanup()
			return nil, err
		}
		o.MQTTPort = port
	}
	b, err := launchNATSServer(o)
	if err != nil {
		cleanup()
		return nil, err
	}
	// A restart keeps the ports, so clients reconnect to the same addresses.
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(strings.TrimPrefix(addr, "http://"))
		n, _ := strconv.Atoi(p)
		return n
	}
	o.MQTTPort = port(b.Addr)
	if o.WebSocket {
		o.WSPort = port(b.WSAddr)
	}
	if o.Monitor {
		o.MonitorPort = port(b.MonitorURL)
	}
	b.cleanup = cleanup
	b.relaunch = func() (*Broker, error) { return launchNATSServer(o) }
	return b, nil
}

func launchNATSServer(o NATSServerOptions) (*Broker, error) {
	so := &natsserver.Options{
		ServerName: "mqttpeer",
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   o.StoreDir,
	}
	so.MQTT.Host = "127.0.0.1"
	so.MQTT.Port = -1
	if o.MQTTPort != 0 {
		so.MQTT.Port = o.MQTTPort
	}
	if o.WebSocket {
		so.Websocket.Host, so.Websocket.Port, so.Websocket.NoTLS = "127.0.0.1", -1, true
		if o.WSPort != 0 {
			so.Websocket.Port = o.WSPort
		}
	}
	if o.Monitor {
		so.HTTPHost, so.HTTPPort = "127.0.0.1", -1
		if o.MonitorPort != 0 {
			so.HTTPPort = o.MonitorPort
		}
	}
	if o.Configure != nil {
		o.Configure(so)
	}
	s, err := natsserver.NewServer(so)
	if err != nil {
		return nil, err
	}
	go s.Start()
	halt := func() {
		s.Shutdown()
		s.WaitForShutdown()
	}
	if !s.ReadyForConnections(20 * time.Second) {
		halt()
		return nil, fmt.Errorf("nats-server not ready")
	}
	// Start wrote the MQTT listener's real port back into the options.
	addr := net.JoinHostPort(so.MQTT.Host, strconv.Itoa(so.MQTT.Port))
	if err := WaitListening(addr, 10*time.Second, nil); err != nil {
		halt()
		return nil, err
	}
	b := &Broker{Name: "nats-server", Addr: addr, NATSURL: "nats://" + s.Addr().String(), halt: halt}
	if o.WebSocket {
		// Start wrote the WebSocket listener's port back too.
		b.WSAddr = net.JoinHostPort(so.Websocket.Host, strconv.Itoa(so.Websocket.Port))
		if err := WaitListening(b.WSAddr, 10*time.Second, nil); err != nil {
			halt()
			return nil, err
		}
	}
	if o.Monitor {
		b.MonitorURL = "http://" + s.MonitorAddr().String()
	}
	return b, nil
}

// StartNATSServer starts nats-server with MQTT for a test and stops it at
// cleanup.
func StartNATSServer(t testing.TB, o NATSServerOptions) *Broker {
	t.Helper()
	b, err := RunNATSServer(o)
	if err != nil {
		t.Fatalf("mqttpeer: start nats-server: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// NATSServerConfig is a nats-server configuration file enabling what MQTT
// needs, for a nats-server run as a process (the bench): a server name,
// JetStream storing in storeDir, and an MQTT listener on 127.0.0.1:port.
// The client and monitoring ports are left to command-line flags.
//
// It also lifts JetStream's default limit of 1,000 consumers per stream
// (default_max_consumers): nats-server keeps each QoS 1 subscription of an
// MQTT session as a durable consumer of one stream, so as shipped it
// refuses (SUBACK 0x80) the 1,001st.
func NATSServerConfig(storeDir string, mqttPort int) string {
	return fmt.Sprintf("server_name: mqttbench\njetstream {\n  store_dir: %q\n  limits {\n    default_max_consumers: -1\n  }\n}\nmqtt {\n  listen: \"127.0.0.1:%d\"\n}\n", storeDir, mqttPort)
}
