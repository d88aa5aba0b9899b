package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT.js (test/js/mqtt_nats.mjs) and nats.go through leafgate: an MQTT
// publish answered by a NATS publish, and in 5.0 an MQTT request answered
// by a NATS responder, so one round trip each way for each protocol
// version.
func TestMQTTLeafgateMQTTJSWithNATS(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	nc := natsConnect(t, b)
	for _, v := range []string{"v3", "v5"} {
		t.Run(v, func(t *testing.T) {
			prefix := "mqttjs" + v
			ups := make(chan *nats.Msg, 4)
			up, err := nc.Subscribe(prefix+".up", func(m *nats.Msg) {
				ups <- m
				_ = nc.PublishMsg(&nats.Msg{Subject: prefix + ".down", Data: append([]byte("echo:"), m.Data...),
					Header: nats.Header{"Hop": []string{"nats"}}})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer up.Unsubscribe()
			svc, err := nc.Subscribe(prefix+".svc", func(m *nats.Msg) { _ = m.Respond(append([]byte("answer:"), m.Data...)) })
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Unsubscribe()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}

			args := []string{b.MQTTURL(), prefix}
			checks := []string{"round trip through nats"}
			if v == "v5" {
				args = append(args, "--v5")
				checks = append(checks, "request to nats")
			}
			out := mqttpeer.RunMQTTJS(t, 60*time.Second, "mqtt_nats.mjs", args...)
			for _, c := range checks {
				if !strings.Contains(out, "ok "+c+"\n") {
					t.Errorf("MQTT.js check %q did not pass:\n%s", c, out)
				}
			}
			select {
			case m := <-ups:
				if string(m.Data) != "hello" || m.Header.Get("Nmqtt-Pub") != "1" {
					t.Fatalf("nats.go got %q %v from MQTT.js", m.Data, m.Header)
				}
			default:
				t.Fatal("nats.go got nothing from MQTT.js")
			}
		})
	}
}
