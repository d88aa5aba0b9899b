package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// The operator API on the NATS port, with natscli as an operator would
// use it: $SYS.REQ.MQTT.SESSIONS lists sessions with their subscriptions
// and queues, $SYS.REQ.MQTT.SESSION.DELETE ends one (disconnecting its
// client, 0x98 Administrative action in 5.0).

func TestMQTTLeafgateSessionsAPI(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	v3 := v3Connect(t, b, v3Opts{clientID: "op-v3", persistent: true})
	v3.sub(t, "op/x", 1)
	v5 := v5Connect(t, b, v5Opts{clientID: "op-v5", expiry: 300})
	v5.mustSub(t, "op/+/y", 2)
	off := v3Connect(t, b, v3Opts{clientID: "op-offline", persistent: true})
	off.sub(t, "op/x", 1)
	off.Disconnect(250)
	waitSession(t, b, "op-offline", func(s sessionInfo) bool { return !s.Connected })
	p := v3Connect(t, b, v3Opts{clientID: "op-pub"})
	p.pub(t, "op/x", 1, "queued for op-offline")
	if m := v3.next(t, "op-v3"); mqttMsgString(m) != "op/x 1 queued for op-offline" {
		t.Fatalf("op-v3 got %s", mqttMsgString(m))
	}

	var all sessionsReply
	out := runNatsCLI(t, b.NATSURL, "req", "$SYS.REQ.MQTT.SESSIONS", "", "--raw")
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("nats req $SYS.REQ.MQTT.SESSIONS: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, s := range all.Sessions {
		var subs []string
		for _, sub := range s.Subscriptions {
			subs = append(subs, fmt.Sprintf("%s@%d", sub.Filter, sub.QoS))
		}
		got[s.ClientID] = fmt.Sprintf("connected=%v version=%s subs=%s queued=%d", s.Connected, s.Version, strings.Join(subs, ","), s.Queued)
	}
	for id, want := range map[string]string{
		"op-v3":      "connected=true version=3.1.1 subs=op/x@1 queued=0",
		"op-v5":      "connected=true version=5.0 subs=op/+/y@2 queued=0",
		"op-offline": "connected=false version=3.1.1 subs=op/x@1 queued=1",
	} {
		if got[id] != want {
			t.Errorf("session %s: %q, want %q\n%s", id, got[id], want, out)
		}
	}
	if all.Total != len(all.Sessions) || all.Total < 3 {
		t.Errorf("total %d with %d sessions listed", all.Total, len(all.Sessions))
	}

	for _, id := range []string{"op-v3", "op-v5", "op-offline"} {
		out := runNatsCLI(t, b.NATSURL, "req", "$SYS.REQ.MQTT.SESSION.DELETE", fmt.Sprintf(`{"client_id":%q}`, id), "--raw")
		if strings.TrimSpace(out) != `{"deleted":true}` {
			t.Fatalf("delete %s: %s", id, out)
		}
	}
	select {
	case <-v3.lost:
	case <-time.After(mqttWait):
		t.Fatal("deleting op-v3's session did not disconnect it")
	}
	select {
	case d := <-v5.disc:
		if d.ReasonCode != 0x98 {
			t.Fatalf("op-v5 got DISCONNECT 0x%02x, want 0x98", d.ReasonCode)
		}
	case <-time.After(mqttWait):
		t.Fatal("deleting op-v5's session sent no DISCONNECT")
	}
	for _, id := range []string{"op-v3", "op-v5", "op-offline"} {
		if r := sessions(t, b, id); r.Total != 0 || len(r.Sessions) != 0 {
			t.Fatalf("session %s still listed after delete: %+v", id, r)
		}
	}
	again := v3Connect(t, b, v3Opts{clientID: "op-offline", persistent: true})
	if again.present {
		t.Fatal("a deleted session was present on reconnect")
	}
	if r := runNatsCLI(t, b.NATSURL, "req", "$SYS.REQ.MQTT.SESSION.DELETE", `{"client_id":"no-such"}`, "--raw"); !strings.Contains(r, `"error"`) {
		t.Fatalf("deleting an unknown session: %s", r)
	}
}

// sessionInfo is one session of leafgate's $SYS.REQ.MQTT.SESSIONS reply.
type sessionInfo struct {
	ClientID      string `json:"client_id"`
	Connected     bool   `json:"connected"`
	Version       string `json:"version"`
	Subscriptions []struct {
		Filter string `json:"filter"`
		QoS    byte   `json:"qos"`
	} `json:"subscriptions"`
	Queued int `json:"queued"`
}

type sessionsReply struct {
	Total    int           `json:"total"`
	Sessions []sessionInfo `json:"sessions"`
	Error    string        `json:"error"`
}

// sessions asks leafgate for the session of clientID with nats.go.
func sessions(t *testing.T, b *mqttpeer.Broker, clientID string) sessionsReply {
	t.Helper()
	nc := natsConnect(t, b)
	defer nc.Close()
	m, err := nc.Request("$SYS.REQ.MQTT.SESSIONS", fmt.Appendf(nil, `{"client_id":%q}`, clientID), mqttWait)
	if err != nil {
		t.Fatalf("$SYS.REQ.MQTT.SESSIONS: %v", err)
	}
	var r sessionsReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("$SYS.REQ.MQTT.SESSIONS reply %q: %v", m.Data, err)
	}
	return r
}

// waitSession polls leafgate's session list until clientID's session
// satisfies ok.
func waitSession(t *testing.T, b *mqttpeer.Broker, clientID string, ok func(sessionInfo) bool) {
	t.Helper()
	deadline := time.Now().Add(mqttWait)
	for {
		r := sessions(t, b, clientID)
		if len(r.Sessions) == 1 && ok(r.Sessions[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: %+v", clientID, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
