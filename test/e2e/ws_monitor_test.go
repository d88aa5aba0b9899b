package e2e

import (
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// /connz lists WebSocket clients as nats-server does: NATS over
// WebSocket with "type":"websocket", MQTT (over either transport) with
// "type":"mqtt" and its client id, TCP NATS clients with "type":"nats";
// leafgate adds "transport":"websocket"|"tcp" (nats-server has no such
// field). X-Forwarded-For on the upgrade request sets the ip leafgate
// reports, as the issue asks; nats-server puts it in its log lines only and
// reports the socket's address.
func TestWSConnz(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		wsNATS(t, wsURL(b, "ws", ""), nats.Name("connz-ws"))
		natsConnect(t, b, nats.Name("connz-tcp"))
		v3Connect(t, b, v3Opts{clientID: "connz-mqttws", wsURL: wsURL(b, "ws", "/mqtt")})
		v3Connect(t, b, v3Opts{clientID: "connz-mqtttcp"})
		xff := wsDial(t, b.WSAddr, wsHello{header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}})
		xff.mustUpgrade("NATS with X-Forwarded-For")
		xff.natsHello(`{"verbose":false,"name":"connz-xff"}`)
		mxff := wsDial(t, b.WSAddr, wsHello{path: "/mqtt", protocols: "mqtt", header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}})
		mxff.mustUpgrade("MQTT with X-Forwarded-For")
		mxff.send(mqttConnectPacket("connz-mqtt-xff"))
		mxff.waitFor(string(mqttConnackOK))

		transport := func(tr string) string {
			if b.Name == "leafgate" {
				return tr
			}
			return "" // nats-server reports no transport
		}
		forwarded := func(ip string) string {
			if b.Name == "leafgate" {
				return ip
			}
			return "127.0.0.1"
		}
		for _, want := range []struct {
			what           string
			match          func(c wsConnInfo) bool
			typ, transport string
			ip, mqttClient string
			lang           string
		}{
			{"nats.go over ws", func(c wsConnInfo) bool { return c.Name == "connz-ws" }, "websocket", "websocket", "127.0.0.1", "", "go"},
			{"nats.go over tcp", func(c wsConnInfo) bool { return c.Name == "connz-tcp" }, "nats", "tcp", "127.0.0.1", "", "go"},
			{"paho over ws", func(c wsConnInfo) bool { return c.MQTTClient == "connz-mqttws" }, "mqtt", "websocket", "127.0.0.1", "connz-mqttws", ""},
			{"paho over tcp", func(c wsConnInfo) bool { return c.MQTTClient == "connz-mqtttcp" }, "mqtt", "tcp", "127.0.0.1", "connz-mqtttcp", ""},
			{"raw NATS ws with X-Forwarded-For", func(c wsConnInfo) bool { return c.Name == "connz-xff" }, "websocket", "websocket", forwarded("203.0.113.7"), "", ""},
			{"raw MQTT ws with X-Forwarded-For", func(c wsConnInfo) bool { return c.MQTTClient == "connz-mqtt-xff" }, "mqtt", "websocket", forwarded("198.51.100.9"), "connz-mqtt-xff", ""},
		} {
			c := waitConn(t, b, want.what, want.match)
			if c.Type != want.typ || c.Transport != transport(want.transport) || c.IP != want.ip || c.MQTTClient != want.mqttClient ||
				(want.lang != "" && c.Lang != want.lang) {
				t.Errorf("%s: /connz has %v, want type %q transport %q ip %s mqtt_client %q lang %q",
					want.what, c, want.typ, transport(want.transport), want.ip, want.mqttClient, want.lang)
			}
		}
	})
}
