package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT and NATS on one broker, end to end with real clients: paho
// (3.1.1 and 5.0) on the MQTT port, nats.go and natscli on the NATS port
// of leafgate, and where the behaviour is MQTT's own, the same assertions
// against mosquitto (and nats-server, for 3.1.1) to show they are the
// reference's. The tests in mqtt_leafgate_*_test.go follow the promises
// of docs/mqtt.md.

// An MQTT publish reaches NATS subscribers on the mapped subject, through
// NATS wildcards, with the Nmqtt-Pub header carrying its QoS; MQTT 5 user
// properties become NATS headers (in order, repeated keys kept) and the
// content type the Content-Type header.
func TestMQTTLeafgateMQTTToNATS(t *testing.T) {
	forBrokers(t, []string{"leafgate", "nats-server"}, func(t *testing.T, b *mqttpeer.Broker) {
		nc := natsConnect(t, b)
		star := natsSubSync(t, nc, "m2n.*.temp")
		full := natsSubSync(t, nc, "m2n.>")

		c := v3Connect(t, b, v3Opts{clientID: "m2n-v3"})
		c.pub(t, "m2n/a/temp", 1, "q1")
		c.pub(t, "m2n/b/temp", 0, "q0")
		c.pub(t, "m2n/a/b/c", 1, "deep")
		for _, want := range []struct{ subj, pub, data string }{{"m2n.a.temp", "1", "q1"}, {"m2n.b.temp", "0", "q0"}} {
			m := nextMsg(t, star)
			if m.Subject != want.subj || string(m.Data) != want.data || m.Header.Get("Nmqtt-Pub") != want.pub {
				t.Fatalf("m2n.*.temp got %s %q %v, want %s %q Nmqtt-Pub %s", m.Subject, m.Data, m.Header, want.subj, want.data, want.pub)
			}
		}
		for _, want := range []string{"m2n.a.temp q1", "m2n.b.temp q0", "m2n.a.b.c deep"} {
			if m := nextMsg(t, full); m.Subject+" "+string(m.Data) != want {
				t.Fatalf("m2n.> got %s %q, want %s", m.Subject, m.Data, want)
			}
		}

		if !b.V5 {
			return
		}
		c5 := v5Connect(t, b, v5Opts{clientID: "m2n-v5"})
		props := &paho.PublishProperties{ContentType: "application/json"}
		props.User.Add("k1", "v1").Add("k2", "v2a").Add("k2", "v2b")
		c5.pub(t, &paho.Publish{Topic: "m2n/c/temp", QoS: 1, Payload: []byte(`{"t":21}`), Properties: props})
		m := nextMsg(t, star)
		if m.Subject != "m2n.c.temp" || string(m.Data) != `{"t":21}` {
			t.Fatalf("5.0 publish arrived as %s %q", m.Subject, m.Data)
		}
		h := m.Header
		if h.Get("Nmqtt-Pub") != "1" || h.Get("Content-Type") != "application/json" || h.Get("k1") != "v1" ||
			strings.Join(h.Values("k2"), ",") != "v2a,v2b" {
			t.Fatalf("5.0 publish headers %v", h)
		}
	})
}

// A NATS publish reaches MQTT subscriptions with + and #, "foo/#"
// matching "foo" itself. Without an Nmqtt-Pub header it goes out at
// mqtt.nats_qos (1) capped by the subscription; "Nmqtt-Pub: 2" makes it
// QoS 2 for a QoS 2 subscription. NATS headers become MQTT 5 user
// properties, Content-Type the content type.
func TestMQTTLeafgateNATSToMQTT(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	nc := natsConnect(t, b)

	v3 := v3Connect(t, b, v3Opts{clientID: "n2m-v3"})
	if q := v3.sub(t, "n2m/+/temp", 2); q != 2 {
		t.Fatalf("granted %d", q)
	}
	v5 := v5Connect(t, b, v5Opts{clientID: "n2m-v5"})
	v5.mustSub(t, "n2m/dev/#", 2)
	v5q1 := v5Connect(t, b, v5Opts{clientID: "n2m-v5-q1"})
	v5q1.mustSub(t, "n2m/dev/#", 1)

	pub := func(subj, data string, hdr nats.Header) {
		t.Helper()
		if err := nc.PublishMsg(&nats.Msg{Subject: subj, Data: []byte(data), Header: hdr}); err != nil {
			t.Fatal(err)
		}
	}
	// "n2m/dev/#" matches "n2m/dev" (the parent level), at the default QoS 1.
	pub("n2m.dev", "parent", nil)
	// "n2m/+/temp" and "n2m/dev/#" both match, at QoS 2 where asked.
	pub("n2m.dev.temp", "qos2", nats.Header{"Nmqtt-Pub": []string{"2"}})
	// Headers become user properties.
	pub("n2m.dev.info", "props", nats.Header{"Content-Type": []string{"text/plain"}, "Site": []string{"north"}})
	// Not matched by any of the filters.
	pub("n2m.other", "nobody", nil)
	pub("n2m.x.temp", "last", nil)

	want3 := []string{"n2m/dev/temp 2 qos2", "n2m/x/temp 1 last"}
	for i, w := range want3 {
		m := v3.next(t, "3.1.1 subscriber")
		if got := fmt.Sprintf("%s %d %s", m.Topic(), m.Qos(), m.Payload()); got != w {
			t.Fatalf("3.1.1 message %d: %q, want %q", i, got, w)
		}
	}
	for _, s := range []struct {
		c    *v5Client
		qos2 byte
	}{{v5, 2}, {v5q1, 1}} {
		var got []string
		for range 3 {
			m := s.c.next(t, "5.0 subscriber")
			got = append(got, fmt.Sprintf("%s %d %s", m.Topic, m.QoS, m.Payload))
			if m.Topic == "n2m/dev/info" {
				if m.Properties == nil || m.Properties.ContentType != "text/plain" || m.Properties.User.Get("Site") != "north" {
					t.Fatalf("properties from headers: %+v", m.Properties)
				}
			}
		}
		want := []string{"n2m/dev 1 parent", fmt.Sprintf("n2m/dev/temp %d qos2", s.qos2), "n2m/dev/info 1 props"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("5.0 subscriber (max QoS %d) got %q, want %q", s.qos2, got, want)
		}
	}
}

// A shared subscription "$share/g/jobs/+" from a 3.1.1 and a 5.0 client
// joins the NATS queue group "g" on "jobs.*": each job goes to exactly
// one of the three, and each gets some. Against mosquitto the two MQTT
// clients share alone, the same MQTT semantics.
func TestMQTTLeafgateSharedWithQueueGroup(t *testing.T) {
	forBrokers(t, []string{"leafgate", "mosquitto"}, func(t *testing.T, b *mqttpeer.Broker) {
		const n = 90
		var mu sync.Mutex
		got := map[string][]string{} // job → workers that got it
		per := map[string]int{}
		all := make(chan struct{})
		var allOnce sync.Once
		record := func(worker, job string) {
			mu.Lock()
			defer mu.Unlock()
			got[job] = append(got[job], worker)
			per[worker]++
			if len(got) == n {
				allOnce.Do(func() { close(all) })
			}
		}
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })

		workers := []string{"mqtt3", "mqtt5"}
		v3 := v3Connect(t, b, v3Opts{clientID: "share-v3"})
		if q := v3.sub(t, "$share/g/jobs/+", 1); q != 1 {
			t.Fatalf("3.1.1 shared subscription granted 0x%02x", q)
		}
		v5 := v5Connect(t, b, v5Opts{clientID: "share-v5"})
		v5.mustSub(t, "$share/g/jobs/+", 1)
		var nc *nats.Conn
		if b.NATSURL != "" {
			workers = append(workers, "nats")
			nc = natsConnect(t, b)
			if _, err := nc.QueueSubscribe("jobs.*", "g", func(m *nats.Msg) {
				record("nats", strings.TrimPrefix(m.Subject, "jobs."))
			}); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			for {
				select {
				case m := <-v3.msgs:
					record("mqtt3", strings.TrimPrefix(m.Topic(), "jobs/"))
				case m := <-v5.msgs:
					record("mqtt5", strings.TrimPrefix(m.Topic, "jobs/"))
				case <-stop:
					return
				}
			}
		}()

		// Half the jobs from NATS (where there is a NATS port), half from MQTT.
		p := v3Connect(t, b, v3Opts{clientID: "share-pub"})
		for i := range n {
			job := fmt.Sprint(i)
			if nc != nil && i%2 == 0 {
				if err := nc.Publish("jobs."+job, []byte(job)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			p.pub(t, "jobs/"+job, 1, job)
		}
		select {
		case <-all:
		case <-time.After(mqttWait):
		}
		time.Sleep(mqttGrace) // a duplicate would come with the rest
		mu.Lock()
		defer mu.Unlock()
		var dup []string
		for job, ws := range got {
			if len(ws) != 1 {
				dup = append(dup, fmt.Sprintf("%s→%v", job, ws))
			}
		}
		sort.Strings(dup)
		if len(got) != n || len(dup) > 0 {
			t.Fatalf("%d of %d jobs delivered; delivered more than once: %v; per worker %v", len(got), n, dup, per)
		}
		for _, w := range workers {
			if per[w] == 0 {
				t.Errorf("worker %s got no jobs: %v", w, per)
			}
		}
	})
}
