package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/leafgate/leafgate/mqtt/packet"
)

// wsTarget is a broker with a WebSocket listener for the smoke tests.
type wsTarget struct {
	natsWS string      // NATS over WebSocket, ws://host:port ("" if none)
	mqtt   *mqttBroker // addr: MQTT over WebSocket
}

// natsServerWS runs nats-server in-process with MQTT (so JetStream) and a
// WebSocket listener, as the bench configures its process.
func natsServerWS(t *testing.T) wsTarget {
	t.Helper()
	o := &natsserver.Options{ServerName: "wsbench", Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()}
	o.MQTT.Host, o.MQTT.Port = "127.0.0.1", -1
	o.Websocket.Host, o.Websocket.Port, o.Websocket.NoTLS = "127.0.0.1", -1, true
	s, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	hp := net.JoinHostPort(o.Websocket.Host, strconv.Itoa(o.Websocket.Port))
	return wsTarget{natsWS: "ws://" + hp, mqtt: &mqttBroker{name: "nats-server", addr: mqttWSURL(hp), pid: os.Getpid()}}
}

// The WebSocket workloads run briefly against each broker's WebSocket
// listener (mosquitto's as a process, as the bench starts it): every run
// must produce figures, and QoS 1 runs must lose nothing.
func TestWSWorkloadsSmoke(t *testing.T) {
	*flagQuick = true
	*flagMQTTConns = 200
	defer func() { *flagQuick = false; *flagMQTTConns = 10_000 }()
	targets := map[string]func(t *testing.T) wsTarget{
		"nats-server": natsServerWS,
		"mosquitto": func(t *testing.T) wsTarget {
			b, err := startMosquitto(true)
			if err != nil {
				t.Skip(err)
			}
			t.Cleanup(b.stop)
			return wsTarget{mqtt: b}
		},
	}
	for name, start := range targets {
		t.Run(name, func(t *testing.T) {
			tg := start(t)
			if tg.natsWS != "" {
				for _, w := range wsWorkloads {
					v, err := w.run(tg.natsWS, 16, 200)
					if err != nil || v <= 0 {
						t.Fatalf("%s: %v, %v", w.name, v, err)
					}
				}
			}
			for _, w := range mqttWorkloads {
				if !w.ws {
					continue
				}
				t.Run(w.name, func(t *testing.T) {
					v, err := w.run(tg.mqtt)
					if err != nil {
						t.Fatal(err)
					}
					for i, m := range w.metrics {
						t.Logf("%s: %.2f %s", m.name, v[i], m.unit)
						if m.mustBeZero && v[i] != 0 {
							t.Errorf("%s: %v", m.name, v[i])
						}
					}
					if rate := v[0]; w.once && v[1] <= 0 || !w.once && rate <= 0 {
						t.Errorf("no rate: %v", v)
					}
				})
			}
		})
	}
}

// wsStream carries a byte stream over binary messages both ways: a packet
// split over two messages and two packets in one message read back whole,
// and a text message is an error.
func TestWSStream(t *testing.T) {
	got := make(chan []byte, 10)
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				close(got)
				return
			}
			if typ != websocket.BinaryMessage {
				t.Errorf("message type %d", typ)
			}
			got <- msg
			switch string(msg) {
			case "split":
				// A PUBLISH in two messages, then two PINGRESPs in one.
				pub := (&packet.Publish{Topic: []byte("a/b"), Payload: []byte("hello")}).Append(nil, packet.V311)
				_ = ws.WriteMessage(websocket.BinaryMessage, pub[:3])
				_ = ws.WriteMessage(websocket.BinaryMessage, pub[3:])
				_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0xd0, 0, 0xd0, 0})
			case "text":
				_ = ws.WriteMessage(websocket.TextMessage, []byte{0xd0, 0})
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/mqtt"
	if !isWSURL(url) || isWSURL("127.0.0.1:1883") {
		t.Fatal("isWSURL")
	}
	c, err := dialWS(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.(*wsStream).Subprotocol(); p != "mqtt" {
		t.Fatalf("subprotocol %q", p)
	}
	if _, err := c.Write([]byte("split")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; string(msg) != "split" {
		t.Fatalf("server got %q", msg)
	}
	m := &mqttConn{c: c}
	var types []packet.Type
	var payload []byte
	err = m.readLoop(func(h packet.FixedHeader, pkt []byte) error {
		types = append(types, h.Type)
		if h.Type == packet.PUBLISH {
			_, _, p, err := parsePublish(h, pkt)
			payload = append(payload, p...)
			return err
		}
		if len(types) == 3 {
			return io.EOF // done
		}
		return nil
	}, func() error { return nil })
	if err != io.EOF || len(types) != 3 || types[0] != packet.PUBLISH || types[2] != packet.PINGRESP || !bytes.Equal(payload, []byte("hello")) {
		t.Fatalf("read %v, payload %q: %v", types, payload, err)
	}
	if _, err := c.Write([]byte("text")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "text message") {
		t.Fatalf("text message read: %v", err)
	}
}
