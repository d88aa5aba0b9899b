package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// Wills and session takeover with real clients. A will fires when the
// client's TCP connection dies without DISCONNECT (the tests cut the
// socket under paho), not on a clean DISCONNECT, and not when the client
// comes back within its Will Delay Interval.

// A will is published when the connection is cut and not after a clean
// DISCONNECT; in 5.0 with its properties. Against every broker; on those
// with a NATS port a NATS subscriber gets it too.
func TestMQTTWillOnAbnormalClose(t *testing.T) {
	forBrokers(t, []string{"leafgate", "mosquitto", "nats-server"}, func(t *testing.T, b *mqttpeer.Broker) {
		watch := v3Connect(t, b, v3Opts{clientID: "will-watch"})
		watch.sub(t, "will/#", 1)

		clean := v3Connect(t, b, v3Opts{clientID: "will-clean", will: &v3Will{topic: "will/clean", payload: "clean-gone", qos: 1}})
		clean.Disconnect(250) // sends DISCONNECT: the will is discarded

		c := v3Connect(t, b, v3Opts{clientID: "will-v3", will: &v3Will{topic: "will/v3", payload: "v3-gone", qos: 1}})
		c.conn.cut()
		if m := watch.next(t, "3.1.1 will"); mqttMsgString(m) != "will/v3 1 v3-gone" {
			t.Fatalf("first will received: %s (the clean client's will must not be published)", mqttMsgString(m))
		}

		if b.V5 {
			// paho.golang v0.23.0 writes only the Will Delay Interval and
			// user properties of a will (Properties.Pack(CONNECT)), so a
			// content type cannot be tested with it.
			wp := &paho.WillProperties{}
			wp.User.Add("why", "power").Add("why", "battery")
			c5 := v5Connect(t, b, v5Opts{clientID: "will-v5",
				will: &paho.WillMessage{Topic: "will/v5", QoS: 1, Payload: []byte("v5-gone")}, willProps: wp})
			watch5 := v5Connect(t, b, v5Opts{clientID: "will-watch5"})
			watch5.mustSub(t, "will/v5", 1)
			c5.conn.cut()
			m := watch5.next(t, "5.0 will")
			if m.Topic != "will/v5" || string(m.Payload) != "v5-gone" || m.QoS != 1 || m.Properties == nil ||
				fmt.Sprint(m.Properties.User.GetAll("why")) != "[power battery]" {
				t.Fatalf("5.0 will: %s %q QoS %d %+v", m.Topic, m.Payload, m.QoS, m.Properties)
			}
			if m := watch.next(t, "5.0 will on the 3.1.1 watcher"); mqttMsgString(m) != "will/v5 1 v5-gone" {
				t.Fatalf("3.1.1 watcher got %s", mqttMsgString(m))
			}
		}
		select {
		case m := <-watch.msgs:
			t.Fatalf("unexpected message %s", mqttMsgString(m))
		case <-time.After(mqttGrace):
		}
	})
}

// A client that comes back within its Will Delay Interval keeps its will
// unpublished; a client that does not has it published once the delay is
// over, not before.
func TestMQTTWillDelayReconnect(t *testing.T) {
	forBrokers(t, []string{"leafgate", "mosquitto"}, func(t *testing.T, b *mqttpeer.Broker) {
		watch := v5Connect(t, b, v5Opts{clientID: "wd-watch"})
		watch.mustSub(t, "wd/#", 1)
		delayed := func(id string, delay uint32) *v5Client {
			return v5Connect(t, b, v5Opts{clientID: id, expiry: 30,
				will:      &paho.WillMessage{Topic: "wd/" + id, QoS: 1, Payload: []byte(id + " gone")},
				willProps: &paho.WillProperties{WillDelayInterval: paho.Uint32(delay)}})
		}

		a := delayed("a", 2)
		a.conn.cut()
		if b.NATSURL != "" {
			// leafgate: wait until the broker has seen the connection die,
			// so the reconnect below resumes an offline session rather
			// than taking over a live one.
			waitSession(t, b, "a", func(s sessionInfo) bool { return !s.Connected })
		}
		back := v5Connect(t, b, v5Opts{clientID: "a", resume: true, expiry: 30})
		if !back.ack.SessionPresent {
			t.Fatal("session not present on reconnect")
		}

		// b goes later and waits longer: when its will comes, a's would
		// have come a second before.
		bc := delayed("b", 3)
		bc.conn.cut()
		cut := time.Now()
		m := watch.next(t, "b's will")
		if m.Topic != "wd/b" {
			t.Fatalf("first will published: %s %q; a came back within its delay", m.Topic, m.Payload)
		}
		if d := time.Since(cut); d < 2900*time.Millisecond {
			t.Fatalf("b's will published %v after its connection died, before its 3 s delay", d)
		}
		watch.nothingMore(t, "after b's will")
	})
}

// A second connection with a client id in use takes the session over:
// the first is disconnected (in 5.0 with DISCONNECT 0x8E Session taken
// over) and a persistent session's subscription carries on with the new
// one.
func TestMQTTTakeover(t *testing.T) {
	forBrokers(t, []string{"leafgate", "mosquitto", "nats-server"}, func(t *testing.T, b *mqttpeer.Broker) {
		first := v3Connect(t, b, v3Opts{clientID: "tk-v3", persistent: true})
		first.sub(t, "tk/x", 1)
		second := v3Connect(t, b, v3Opts{clientID: "tk-v3", persistent: true})
		if !second.present {
			t.Fatal("takeover of a persistent session: session not present")
		}
		select {
		case <-first.lost:
		case <-time.After(mqttWait):
			t.Fatal("first 3.1.1 connection not closed by the takeover")
		}
		p := v3Connect(t, b, v3Opts{clientID: "tk-pub"})
		p.pub(t, "tk/x", 1, "after takeover")
		if m := second.next(t, "taken-over session"); mqttMsgString(m) != "tk/x 1 after takeover" {
			t.Fatalf("got %s", mqttMsgString(m))
		}

		if !b.V5 {
			return
		}
		f5 := v5Connect(t, b, v5Opts{clientID: "tk-v5"})
		v5Connect(t, b, v5Opts{clientID: "tk-v5"})
		select {
		case <-f5.Done():
		case <-time.After(mqttWait):
			t.Fatal("first 5.0 connection not closed by the takeover")
		}
		// A DISCONNECT before the close is up to the server (4.13);
		// leafgate promises one, and mosquitto 2.0.11 sends none. paho
		// reports it from a goroutine of its own, maybe after Done.
		wait := mqttGrace
		if b.Name == "leafgate" {
			wait = mqttWait
		}
		select {
		case d := <-f5.disc:
			if d.ReasonCode != 0x8E {
				t.Fatalf("first 5.0 connection got DISCONNECT 0x%02x, want 0x8E", d.ReasonCode)
			}
		case <-time.After(wait):
			if b.Name == "leafgate" {
				t.Fatal("first 5.0 connection closed without DISCONNECT 0x8E Session taken over")
			}
		}
	})
}
