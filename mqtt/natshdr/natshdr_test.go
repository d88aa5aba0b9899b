package natshdr_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
)

func TestRoundTrip(t *testing.T) {
	exp := time.Date(2026, 12, 2, 12, 0, 0, 500, time.UTC)
	var in packet.Properties
	in.PayloadFormat = 1
	in.Set(packet.PropPayloadFormat)
	in.ContentType = []byte("application/json")
	in.Set(packet.PropContentType)
	in.ResponseTopic = []byte("reply/here")
	in.Set(packet.PropResponseTopic)
	in.CorrelationData = []byte{0, 1, 2, 0xff}
	in.Set(packet.PropCorrelationData)
	in.User = []packet.UserProperty{
		{Key: []byte("a"), Value: []byte("1")},
		{Key: []byte("bad key"), Value: []byte("x")},
		{Key: []byte("b"), Value: []byte("two\r\nlines")},
		{Key: []byte("Nmqtt-Pub"), Value: []byte("2")},
		{Key: []byte("a"), Value: []byte("again")},
		{Key: []byte("Nats-Rollup"), Value: []byte("all")},
		{Key: []byte("nats-expected-last-sequence"), Value: []byte("1")},
		{Key: []byte("KV-Operation"), Value: []byte("PURGE")},
	}
	hdr, dropped := natshdr.Append(nil, 1, true, &in, exp)
	if dropped != 6 {
		t.Fatalf("dropped %d, want 6", dropped)
	}
	if got := proto.HeaderGet(hdr, natshdr.Pub); string(got) != "13" {
		t.Fatalf("Nmqtt-Pub %q, want 13 (QoS 1, retain|qos<<1)", got)
	}
	var out packet.Properties
	m, _ := natshdr.Parse(hdr, &out, nil)
	if !m.HasQoS || m.QoS != 1 || !m.Retain || !m.Expires.Equal(exp) {
		t.Fatalf("message %+v", m)
	}
	if out.PayloadFormat != 1 || string(out.ContentType) != "application/json" ||
		string(out.ResponseTopic) != "reply/here" || !bytes.Equal(out.CorrelationData, in.CorrelationData) {
		t.Fatalf("props %+v", out)
	}
	if len(out.User) != 2 || string(out.User[0].Value) != "1" || string(out.User[1].Value) != "again" {
		t.Fatalf("user props %q", out.User)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name   string
		hdr    string
		qos    byte
		hasQoS bool
		retain bool
		users  int
	}{
		{"none", "", 0, false, false, 0},
		{"nats-server qos1", "NATS/1.0\r\nNmqtt-Pub:1\r\n\r\n", 1, true, false, 0},
		{"qos2 retained flags", "NATS/1.0\r\nNmqtt-Pub:25\r\n\r\n", 2, true, true, 0},
		{"bad qos", "NATS/1.0\r\nNmqtt-Pub: 3\r\n\r\n", 0, false, false, 0},
		{"user headers", "NATS/1.0\r\nX-A: 1\r\nNats-Msg-Id: abc\r\n\r\n", 0, false, false, 2},
		{"status line only", "NATS/1.0 503\r\n\r\n", 0, false, false, 0},
		{"no colon", "NATS/1.0\r\nnocolon\r\n\r\n", 0, false, false, 0},
	}
	for _, c := range cases {
		var p packet.Properties
		m, _ := natshdr.Parse([]byte(c.hdr), &p, nil)
		if m.QoS != c.qos || m.HasQoS != c.hasQoS || m.Retain != c.retain || len(p.User) != c.users {
			t.Errorf("%s: got %+v users %d", c.name, m, len(p.User))
		}
	}
}

func TestAppend311(t *testing.T) {
	hdr, _ := natshdr.Append(nil, 0, false, nil, time.Time{})
	if string(hdr) != "NATS/1.0\r\nNmqtt-Pub:0\r\n\r\n" {
		t.Fatalf("%q", hdr)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("NATS/1.0\r\nNmqtt-Pub:25\r\nNmqtt-Expires: 2026-01-01T00:00:00Z\r\nA: b\r\n\r\n"))
	f.Add([]byte("NATS/1.0\r\nNmqtt-Correlation-Data: AAEC\r\nContent-Type: x\r\n\r\n"))
	f.Add([]byte("NATS/1.0 503\r\n\r\n"))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		var p packet.Properties
		m, _ := natshdr.Parse(hdr, &p, nil)
		if m.QoS > 2 {
			t.Fatalf("qos %d", m.QoS)
		}
		// Whatever came out must encode as a valid PUBLISH.
		pub := packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("t"), Props: p}
		b := pub.Append(nil, packet.V5)
		var back packet.Publish
		if err := back.Decode(packet.V5, b); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
