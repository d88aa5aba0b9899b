package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/extensions/topicaliases"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT 5 features end to end with paho.golang, each against leafgate and
// mosquitto: topic aliases both ways, subscription identifiers, message
// expiry while a session is offline, Maximum Packet Size and No Local.
// Where leafgate has a NATS port the NATS-side variant is checked too.

var v5Brokers = []string{"leafgate", "mosquitto"}

// Topic aliases: the publisher's aliases (paho.golang's topicaliases
// extension sends the topic once, then the alias alone) arrive as full
// topics; a subscriber that announces a Topic Alias Maximum may get
// aliases from the broker (leafgate uses them, up to the maximum) and one
// that announces none never does.
func TestMQTTTopicAliases(t *testing.T) {
	forBrokers(t, v5Brokers, func(t *testing.T, b *mqttpeer.Broker) {
		aliasing := v5Connect(t, b, v5Opts{clientID: "ta-aliasing", props: paho.ConnectProperties{TopicAliasMaximum: paho.Uint16(2)}})
		aliasing.mustSub(t, "ta/#", 1)
		plain := v5Connect(t, b, v5Opts{clientID: "ta-plain"})
		plain.mustSub(t, "ta/#", 1)

		ta := topicaliases.NewTAHandler(5)
		var sent []string // what went on the wire: topic, alias
		pub := v5Connect(t, b, v5Opts{clientID: "ta-pub", hook: func(p *paho.Publish) {
			ta.PublishHook(p)
			sent = append(sent, fmt.Sprintf("%q:%d", p.Topic, *p.Properties.TopicAlias))
		}})
		if m := pub.ack.Properties.TopicAliasMaximum; m == nil || *m < 5 {
			t.Fatalf("CONNACK Topic Alias Maximum %v, want at least 5", m)
		}
		topics := []string{"ta/x", "ta/x", "ta/y", "ta/z", "ta/x", "ta/z", "ta/y"}
		for i, tp := range topics {
			if code := pub.pub(t, &paho.Publish{Topic: tp, QoS: 1, Payload: fmt.Append(nil, i)}); code >= 0x80 {
				t.Fatalf("publish %d: reason 0x%02x", i, code)
			}
		}
		if got := strings.Join(sent, " "); got != `"ta/x":1 "":1 "ta/y":2 "ta/z":3 "":1 "":3 "":2` {
			t.Fatalf("the publisher did not use aliases as expected: %s", got)
		}

		aliases := map[uint16]string{}
		usedAlias := 0
		for i, want := range topics {
			m := aliasing.next(t, "aliasing subscriber")
			tp := m.Topic
			if a := m.Properties.TopicAlias; a != nil {
				if *a == 0 || *a > 2 {
					t.Fatalf("message %d: alias %d beyond the announced maximum 2", i, *a)
				}
				if tp == "" {
					tp = aliases[*a]
					usedAlias++
				} else {
					aliases[*a] = tp
				}
			}
			if tp != want || string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("aliasing subscriber message %d: topic %q (sent %q alias %v) %q, want %s", i, tp, m.Topic, m.Properties.TopicAlias, m.Payload, want)
			}
			pm := plain.next(t, "plain subscriber")
			if pm.Topic != want || pm.Properties.TopicAlias != nil {
				t.Fatalf("subscriber without Topic Alias Maximum got topic %q alias %v, want %s", pm.Topic, pm.Properties.TopicAlias, want)
			}
		}
		if b.Name == "leafgate" && usedAlias == 0 {
			t.Fatal("leafgate sent no topic alias to a client that allows 2")
		}
	})
}

// Subscription identifiers come back with the messages each subscription
// matched; a subscription replaced with a new identifier reports the new
// one, and a subscription without one reports none.
func TestMQTTSubscriptionIdentifiers(t *testing.T) {
	forBrokers(t, v5Brokers, func(t *testing.T, b *mqttpeer.Broker) {
		c := v5Connect(t, b, v5Opts{clientID: "si-sub"})
		subID := func(filter string, id int) {
			t.Helper()
			var props *paho.SubscribeProperties
			if id != 0 {
				props = &paho.SubscribeProperties{SubscriptionIdentifier: &id}
			}
			if code := c.sub(t, paho.SubscribeOptions{Topic: filter, QoS: 1}, props); code != 1 {
				t.Fatalf("subscribe %s: 0x%02x", filter, code)
			}
		}
		subID("si/one/+", 7)
		subID("si/two/#", 9)
		subID("si/none", 0)
		p := v5Connect(t, b, v5Opts{clientID: "si-pub"})
		check := func(topic string, want int) {
			t.Helper()
			p.pub(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(topic)})
			m := c.next(t, topic)
			got := 0
			if m.Properties.SubscriptionIdentifier != nil {
				got = *m.Properties.SubscriptionIdentifier
			}
			if m.Topic != topic || got != want {
				t.Fatalf("%s arrived as %s with subscription identifier %d, want %d", topic, m.Topic, got, want)
			}
		}
		check("si/one/x", 7)
		check("si/two/y/z", 9)
		check("si/two", 9)
		check("si/none", 0)
		subID("si/one/+", 8) // replaces the subscription [MQTT-3.8.4-3]
		check("si/one/x", 8)
		c.nothingMore(t, "after the last check")

		if b.NATSURL != "" {
			nc := natsConnect(t, b)
			if err := nc.Publish("si.two.nats", []byte("n")); err != nil {
				t.Fatal(err)
			}
			m := c.next(t, "NATS publish")
			if m.Topic != "si/two/nats" || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 9 {
				t.Fatalf("NATS publish arrived as %s with identifier %v", m.Topic, m.Properties.SubscriptionIdentifier)
			}
		}
	})
}

// A message published with a Message Expiry Interval of 1 s to an offline
// persistent session is gone when the client comes back 2 s later; one
// with 60 s is delivered with the time it waited taken off.
func TestMQTTMessageExpiry(t *testing.T) {
	forBrokers(t, v5Brokers, func(t *testing.T, b *mqttpeer.Broker) {
		s := v5Connect(t, b, v5Opts{clientID: "exp-sub", expiry: 60})
		s.mustSub(t, "exp/#", 1)
		if err := s.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		p := v5Connect(t, b, v5Opts{clientID: "exp-pub"})
		for _, m := range []struct {
			topic  string
			expiry uint32
		}{{"exp/short", 1}, {"exp/long", 60}, {"exp/none", 0}} {
			props := &paho.PublishProperties{}
			if m.expiry > 0 {
				props.MessageExpiry = paho.Uint32(m.expiry)
			}
			p.pub(t, &paho.Publish{Topic: m.topic, QoS: 1, Payload: []byte(m.topic), Properties: props})
		}
		published := time.Now()
		time.Sleep(2 * time.Second) // what is under test: time passing while the session is offline

		back := v5Connect(t, b, v5Opts{clientID: "exp-sub", resume: true, expiry: 60})
		if !back.ack.SessionPresent {
			t.Fatal("session not present")
		}
		waited := time.Since(published)
		m := back.next(t, "queued messages")
		if m.Topic != "exp/long" {
			t.Fatalf("first queued message %s %q, want exp/long (exp/short expired)", m.Topic, m.Payload)
		}
		if e := m.Properties.MessageExpiry; e == nil || *e == 0 || time.Duration(*e)*time.Second > 60*time.Second-waited+time.Second {
			t.Fatalf("exp/long delivered with Message Expiry Interval %v after waiting %v, want at most %v", e, waited, 60*time.Second-waited)
		}
		if m := back.next(t, "queued messages"); m.Topic != "exp/none" || m.Properties.MessageExpiry != nil {
			t.Fatalf("second queued message %s with expiry %v, want exp/none without", m.Topic, m.Properties.MessageExpiry)
		}
		back.nothingMore(t, "after the queued messages")
	})
}

// A client that announces a Maximum Packet Size does not get messages
// larger than that (QoS 0 or 1; from MQTT or NATS), while other
// subscribers do; what fits still arrives, in order.
func TestMQTTMaximumPacketSize(t *testing.T) {
	forBrokers(t, v5Brokers, func(t *testing.T, b *mqttpeer.Broker) {
		small := v5Connect(t, b, v5Opts{clientID: "mps-small", props: paho.ConnectProperties{MaximumPacketSize: paho.Uint32(256)}})
		small.mustSub(t, "mps/#", 1)
		big := v5Connect(t, b, v5Opts{clientID: "mps-big"})
		big.mustSub(t, "mps/#", 1)
		p := v5Connect(t, b, v5Opts{clientID: "mps-pub"})
		large := bytes.Repeat([]byte("x"), 1000)
		p.pub(t, &paho.Publish{Topic: "mps/large0", QoS: 0, Payload: large})
		p.pub(t, &paho.Publish{Topic: "mps/large1", QoS: 1, Payload: large})
		p.pub(t, &paho.Publish{Topic: "mps/fits", QoS: 1, Payload: bytes.Repeat([]byte("y"), 100)})
		if m := small.next(t, "small client"); m.Topic != "mps/fits" {
			t.Fatalf("client with Maximum Packet Size 256 got %s (%d bytes)", m.Topic, len(m.Payload))
		}
		for _, want := range []string{"mps/large0", "mps/large1", "mps/fits"} {
			if m := big.next(t, "big client"); m.Topic != want {
				t.Fatalf("client without a maximum got %s, want %s", m.Topic, want)
			}
		}
		if b.NATSURL != "" {
			nc := natsConnect(t, b)
			_ = nc.Publish("mps.nats.large", large)
			_ = nc.Publish("mps.nats.fits", []byte("z"))
			if m := small.next(t, "small client, from NATS"); m.Topic != "mps/nats/fits" {
				t.Fatalf("client with Maximum Packet Size 256 got %s (%d bytes) from NATS", m.Topic, len(m.Payload))
			}
		}
		small.nothingMore(t, "small client")
	})
}

// No Local: a subscriber does not get its own publishes back, but gets
// everyone else's (and, on leafgate, NATS publishes).
func TestMQTTNoLocal(t *testing.T) {
	forBrokers(t, v5Brokers, func(t *testing.T, b *mqttpeer.Broker) {
		a := v5Connect(t, b, v5Opts{clientID: "nl-a"})
		if code := a.sub(t, paho.SubscribeOptions{Topic: "nl/t", QoS: 1, NoLocal: true}, nil); code != 1 {
			t.Fatalf("subscribe: 0x%02x", code)
		}
		other := v5Connect(t, b, v5Opts{clientID: "nl-b"})
		other.mustSub(t, "nl/t", 1)
		a.pub(t, &paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("from-a")})
		other.pub(t, &paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("from-b")})
		if m := a.next(t, "No Local subscriber"); string(m.Payload) != "from-b" {
			t.Fatalf("No Local subscriber got %q first, want from-b (not its own)", m.Payload)
		}
		for _, want := range []string{"from-a", "from-b"} {
			if m := other.next(t, "other subscriber"); string(m.Payload) != want {
				t.Fatalf("other subscriber got %q, want %q", m.Payload, want)
			}
		}
		if b.NATSURL != "" {
			nc := natsConnect(t, b)
			_ = nc.Publish("nl.t", []byte("from-nats"))
			if m := a.next(t, "No Local subscriber, from NATS"); string(m.Payload) != "from-nats" {
				t.Fatalf("No Local subscriber got %q, want from-nats", m.Payload)
			}
		}
		a.nothingMore(t, "No Local subscriber")
	})
}
