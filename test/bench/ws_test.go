package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// The WebSocket workloads run briefly against each broker's WebSocket
// listener (mosquitto's configured as the bench starts it; NATS over
// WebSocket on leafgate and nats-server): every run must produce figures,
// and QoS 1 runs must lose nothing.
func TestWSWorkloadsSmoke(t *testing.T) {
	*flagQuick = true
	*flagMQTTConns = 200
	defer func() { *flagQuick = false; *flagMQTTConns = 10_000 }()
	for _, name := range mqttpeer.Targets() {
		t.Run(name, func(t *testing.T) {
			var b *mqttBroker
			switch name {
			case "mosquitto":
				if _, err := mqttpeer.MosquittoPath(); err != nil {
					t.Skip(err)
				}
				var err error
				if b, err = startMosquitto(true); err != nil { // as the bench starts it
					t.Fatal(err)
				}
				t.Cleanup(b.stop)
			default:
				var pb *mqttpeer.Broker
				if name == "nats-server" {
					pb = mqttpeer.StartNATSServer(t, mqttpeer.NATSServerOptions{WebSocket: true})
				} else {
					pb = mqttpeer.Start(t, name)
				}
				if pb.WSAddr == "" {
					t.Fatalf("%s: no WebSocket listener", name)
				}
				pid := pb.PID
				if pid == 0 {
					pid = os.Getpid() // in-process: CPU and RSS figures are the test's
				}
				b = &mqttBroker{name: name, addr: mqttWSURL(pb.WSAddr), pid: pid}
				for _, w := range wsWorkloads {
					v, err := w.run("ws://"+pb.WSAddr, 16, 200)
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
					v, err := w.run(b)
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
