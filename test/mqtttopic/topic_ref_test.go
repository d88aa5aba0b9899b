// Package mqtttopic checks leafgate's MQTT topic ↔ NATS subject mapping
// (mqtt/topic) against a real nats-server v2.15.2 MQTT listener: the
// subjects MQTT publishes arrive on, the subscriptions MQTT filters create,
// and the topics NATS messages are delivered with. leafgate has no MQTT
// listener yet, so this compares the package with the reference directly.
package mqtttopic

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/mqtt/topic"
)

// startNATSServer runs nats-server with JetStream (MQTT needs it) and an
// MQTT listener on loopback.
func startNATSServer(t *testing.T) (*natsserver.Server, string) {
	t.Helper()
	o := &natsserver.Options{
		ServerName: "ref",
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
	}
	o.MQTT.Host = "127.0.0.1"
	o.MQTT.Port = -1
	s, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, net.JoinHostPort(o.MQTT.Host, strconv.Itoa(o.MQTT.Port))
}

// mqttConn is just enough MQTT 3.1.1 for these tests: CONNECT, SUBSCRIBE
// and QoS 0 PUBLISH.
type mqttConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func mqttDial(t *testing.T, addr, clientID string) *mqttConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := &mqttConn{t: t, c: c, br: bufio.NewReader(c)}
	var vh []byte
	vh = appendString(vh, "MQTT")
	vh = append(vh, 4, 0x02, 0, 60) // level 4, clean session, keep alive 60 s
	vh = appendString(vh, clientID)
	m.send(0x10, vh)
	typ, body := m.read(10 * time.Second)
	if typ != 0x20 || len(body) != 2 || body[1] != 0 {
		t.Fatalf("CONNACK: type %#x body %x", typ, body)
	}
	return m
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func (m *mqttConn) send(first byte, body []byte) {
	m.t.Helper()
	pkt := []byte{first}
	for n := len(body); ; {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, body...)
	if _, err := m.c.Write(pkt); err != nil {
		m.t.Fatal(err)
	}
}

// read returns the next packet's type nibble (as a byte 0xT0) and body.
func (m *mqttConn) read(d time.Duration) (byte, []byte) {
	m.t.Helper()
	typ, body, err := m.tryRead(d)
	if err != nil {
		m.t.Fatalf("read: %v", err)
	}
	return typ, body
}

func (m *mqttConn) tryRead(d time.Duration) (byte, []byte, error) {
	_ = m.c.SetReadDeadline(time.Now().Add(d))
	first, err := m.br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for {
		b, err := m.br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(m.br, body); err != nil {
		return 0, nil, err
	}
	return first & 0xf0, body, nil
}

func (m *mqttConn) subscribe(pid uint16, filter string) byte {
	m.t.Helper()
	body := binary.BigEndian.AppendUint16(nil, pid)
	body = appendString(body, filter)
	body = append(body, 0)
	m.send(0x82, body)
	typ, ack := m.read(10 * time.Second)
	if typ != 0x90 || len(ack) != 3 || binary.BigEndian.Uint16(ack) != pid {
		m.t.Fatalf("SUBACK for %q: type %#x body %x", filter, typ, ack)
	}
	return ack[2]
}

func (m *mqttConn) publish(name string, payload []byte) {
	m.t.Helper()
	m.send(0x30, append(appendString(nil, name), payload...))
}

// nextPublish returns the topic and payload of the next PUBLISH within d.
func (m *mqttConn) nextPublish(d time.Duration) (string, []byte, error) {
	for {
		typ, body, err := m.tryRead(d)
		if err != nil {
			return "", nil, err
		}
		if typ != 0x30 {
			continue
		}
		n := int(binary.BigEndian.Uint16(body))
		return string(body[2 : 2+n]), body[2+n:], nil
	}
}

// names are topic names leafgate accepts; nats-server must publish each
// on the subject topic.AppendSubject gives.
var names = []string{
	"foo", "foo/bar", "/", "//", "///", "/foo", "foo/", "foo//bar", "/foo/bar/",
	"//.foo.//", ".", "..", "./", ".//.", "foo.bar/baz", "foo../bar/.",
	"spBv1.0/plant1", "$JS/foo", "$share/g/x", "héllo/wörld", "foo*/bar>", "a/\x01",
}

func TestPublishSubjectsMatchNATSServer(t *testing.T) {
	s, addr := startNATSServer(t)
	nc, err := nats.Connect(s.ClientURL(), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	mc := mqttDial(t, addr, "pub")
	// A topic level "*" is refused by leafgate; nats-server publishes it on
	// the NATS wildcard subject "foo.*".
	if _, err := topic.AppendSubject(nil, []byte("foo/*")); err == nil {
		t.Error("AppendSubject(foo/*) accepted it")
	}
	mc0 := mqttDial(t, addr, "pub0")
	mc0.publish("foo/*", []byte("wild"))
	for {
		msg, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("foo/*: no NATS message: %v", err)
		}
		if string(msg.Data) == "wild" {
			if msg.Subject != "foo.*" {
				t.Errorf("foo/*: nats-server published on %q, expected foo.*", msg.Subject)
			}
			break
		}
	}
	for i, name := range names {
		want, err := topic.AppendSubject(nil, []byte(name))
		if err != nil {
			t.Fatalf("AppendSubject(%q): %v", name, err)
		}
		payload := []byte("p" + strconv.Itoa(i))
		mc.publish(name, payload)
		for {
			msg, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("topic %q: no NATS message: %v", name, err)
			}
			if !bytes.Equal(msg.Data, payload) {
				continue // JetStream and MQTT internals also publish
			}
			if msg.Subject != string(want) {
				t.Errorf("topic %q: nats-server publishes on %q, mqtt/topic says %q", name, msg.Subject, want)
			}
			break
		}
	}
}

func TestFiltersMatchNATSServer(t *testing.T) {
	s, addr := startNATSServer(t)
	subs := func() []string {
		sz, err := s.Subsz(&natsserver.SubszOptions{Subscriptions: true, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range sz.Subs {
			out = append(out, fmt.Sprintf("%s|%s|%d", d.Subject, d.Sid, d.Cid))
		}
		return out
	}
	for i, filter := range []string{
		"+", "/+", "+/", "foo/+/bar", "foo//+//", "foo.bar///+///baz",
		"#", "/#", "foo/#", "foo//#", "foo/bar.baz/#", "+/#",
		"foo/*/bar", "foo/>", "*", "spBv1.0/plant1", "$share/g/foo/#",
	} {
		want, err := topic.ParseFilter([]byte(filter))
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", filter, err)
		}
		// A connection per filter: nats-server keys an MQTT client's
		// subscriptions by subject, so "foo/*" after "foo/+" adds nothing.
		mc := mqttDial(t, addr, "sub"+strconv.Itoa(i))
		before := subs()
		if rc := mc.subscribe(uint16(i+1), filter); rc != 0 {
			t.Fatalf("nats-server refused %q: %#x", filter, rc)
		}
		var added []string
		for _, sd := range subs() {
			if !slices.Contains(before, sd) {
				added = append(added, sd[:strings.LastIndexByte(sd, '|')])
			}
		}
		slices.Sort(added)
		// nats-server's sids are the subject, and the subject + " fwc" for
		// the level-up subscription. It has no shared subscriptions: it
		// subscribes "$share.g.…" where leafgate joins queue group g.
		exp := []string{want.Subject + "|" + want.Subject}
		if want.Share != "" {
			prefix := "$share." + want.Share + "."
			exp = []string{prefix + want.Subject + "|" + prefix + want.Subject}
			if want.LevelUp != "" {
				exp = append(exp, prefix+want.LevelUp+"|"+prefix+want.LevelUp+" fwc")
			}
		} else if want.LevelUp != "" {
			exp = append(exp, want.LevelUp+"|"+want.LevelUp+" fwc")
		}
		slices.Sort(exp)
		if !slices.Equal(added, exp) {
			t.Errorf("filter %q: nats-server subscribed %q, mqtt/topic says %q", filter, added, exp)
		}
	}

	// Filters leafgate refuses per [MQTT-4.7.1-1]/[MQTT-4.7.1-2]: nats-server
	// grants "foo+" as the literal token "foo*", and fails "a/#/b" only
	// because its subscription index rejects "a.>.b".
	for i, tc := range []struct {
		filter string
		code   byte
		subs   []string
	}{
		{"foo+", 0, []string{"foo*|foo*"}},
		{"a/#/b", 0x80, nil},
	} {
		if _, err := topic.ParseFilter([]byte(tc.filter)); err == nil {
			t.Errorf("ParseFilter(%q) accepted it", tc.filter)
		}
		mc := mqttDial(t, addr, "bad"+strconv.Itoa(i))
		before := subs()
		if rc := mc.subscribe(1, tc.filter); rc != tc.code {
			t.Errorf("filter %q: nats-server SUBACK %#x, expected %#x", tc.filter, rc, tc.code)
		}
		var added []string
		for _, sd := range subs() {
			if !slices.Contains(before, sd) {
				added = append(added, sd[:strings.LastIndexByte(sd, '|')])
			}
		}
		if !slices.Equal(added, tc.subs) {
			t.Errorf("filter %q: nats-server subscribed %q, expected %q", tc.filter, added, tc.subs)
		}
	}
}

// TestDeliveredTopicsMatchNATSServer publishes NATS subjects (including ones
// no MQTT topic maps to) and compares the topic nats-server delivers to an
// MQTT "#" subscriber with topic.AppendTopic. Where AppendTopic refuses,
// nats-server is checked to send a topic MQTT forbids.
func TestDeliveredTopicsMatchNATSServer(t *testing.T) {
	s, addr := startNATSServer(t)
	nc, err := nats.Connect(s.ClientURL(), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	mc := mqttDial(t, addr, "deliver")
	if rc := mc.subscribe(1, "#"); rc != 0 {
		t.Fatalf("SUBACK %#x", rc)
	}
	for i, tc := range []struct {
		subject  string
		refused  bool
		refTopic string // what nats-server sends when mqtt/topic refuses
	}{
		{subject: "foo"},
		{subject: "foo.bar.baz"},
		{subject: "spBv1//0.plant1"},
		{subject: "foo./.bar"},
		{subject: "/./"},
		{subject: "/.foo.bar./"},
		{subject: "a/b"},
		{subject: "a/"},
		{subject: "/a"},
		{subject: "a/.b"},
		{subject: "a//b"},
		{subject: "///"},
		{subject: "//./x"},
		{subject: "a.*"},
		{subject: "a.>"},
		{subject: "_INBOX.x.y"},
		{subject: "a.+", refused: true, refTopic: "a/+"},
		{subject: "a.#", refused: true, refTopic: "a/#"},
		{subject: "/", refused: true, refTopic: ""},
	} {
		payload := []byte("d" + strconv.Itoa(i))
		if err := nc.Publish(tc.subject, payload); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		var got string
		for {
			tp, data, err := mc.nextPublish(10 * time.Second)
			if err != nil {
				t.Fatalf("subject %q: nothing delivered to MQTT: %v", tc.subject, err)
			}
			if bytes.Equal(data, payload) {
				got = tp
				break
			}
		}
		want, err := topic.AppendTopic(nil, []byte(tc.subject))
		switch {
		case tc.refused:
			if err == nil {
				t.Errorf("subject %q: AppendTopic gave %q, want a refusal", tc.subject, want)
			}
			if got != tc.refTopic {
				t.Errorf("subject %q: nats-server delivered topic %q, expected %q", tc.subject, got, tc.refTopic)
			}
		case err != nil:
			t.Errorf("subject %q: AppendTopic: %v (nats-server delivers %q)", tc.subject, err, got)
		case got != string(want):
			t.Errorf("subject %q: nats-server delivers topic %q, mqtt/topic says %q", tc.subject, got, want)
		}
	}
}
