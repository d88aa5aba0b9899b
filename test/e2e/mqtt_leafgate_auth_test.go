package e2e

import (
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT clients authenticate as the NATS port's users (authorization.users,
// plain and bcrypt passwords) and their permissions apply to the mapped
// subjects: a denied SUBSCRIBE gets SUBACK 0x80 (3.1.1) / 0x87 (5.0), a
// denied PUBLISH 0x87 in 5.0 and is acknowledged and dropped in 3.1.1,
// and a wrong password is refused in the CONNACK.

func startLeafgateWithUsers(t *testing.T) *mqttpeer.Broker {
	t.Helper()
	hash, err := auth.HashPassword("bcrypt-pw", 4)
	if err != nil {
		t.Fatal(err)
	}
	return startLeafgateMQTT(t, fmt.Sprintf(`authorization:
  users:
    - user: dev
      password: dev-pw
      permissions:
        publish: {allow: ["perm.ok.>"]}
        subscribe: {allow: ["perm.ok.>", "perm.in.>"]}
    - user: hashed
      password: %q
    - user: obs
      password: obs-pw
`, hash))
}

// Subscribe permissions: refused filters get their SUBACK failure code,
// each filter of a SUBSCRIBE on its own, and the allowed ones work.
func TestMQTTLeafgatePermissions(t *testing.T) {
	b := startLeafgateWithUsers(t)
	nc := natsConnect(t, b, nats.UserInfo("obs", "obs-pw"))

	v3 := v3Connect(t, b, v3Opts{clientID: "perm-v3", user: "dev", pass: "dev-pw"})
	if q := v3.sub(t, "perm/no/x", 1); q != 0x80 {
		t.Fatalf("3.1.1 denied subscribe granted 0x%02x, want 0x80", q)
	}
	if q := v3.sub(t, "perm/in/+", 1); q != 1 {
		t.Fatalf("3.1.1 allowed subscribe granted 0x%02x", q)
	}
	v5 := v5Connect(t, b, v5Opts{clientID: "perm-v5", user: "dev", pass: "dev-pw"})
	if code := v5.sub(t, paho.SubscribeOptions{Topic: "perm/no/x", QoS: 1}, nil); code != 0x87 {
		t.Fatalf("5.0 denied subscribe: reason 0x%02x, want 0x87", code)
	}
	sa, err := v5.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "perm/in/+", QoS: 1}, {Topic: "perm/no/+", QoS: 1}, {Topic: "perm/ok/a", QoS: 0}}})
	if sa == nil || fmt.Sprint(sa.Reasons) != "[1 135 0]" {
		t.Fatalf("5.0 SUBACK for allowed, denied, allowed: %+v (%v), want [1 135 0]", sa, err)
	}

	// Allowed subscriptions work: a NATS publish reaches both.
	if err := nc.Publish("perm.in.a", []byte("in")); err != nil {
		t.Fatal(err)
	}
	if m := v3.next(t, "3.1.1 allowed subscription"); mqttMsgString(m) != "perm/in/a 1 in" {
		t.Fatalf("3.1.1 got %s", mqttMsgString(m))
	}
	if m := v5.next(t, "5.0 allowed subscription"); m.Topic != "perm/in/a" {
		t.Fatalf("5.0 got %s", m.Topic)
	}
}

// Passwords, plain and bcrypt: the right one connects, a wrong one or an
// unknown user is refused with 3.1.1 return code 4 (or 5) and 5.0 reason
// 0x86 Bad User Name or Password.
func TestMQTTLeafgateAuthentication(t *testing.T) {
	b := startLeafgateWithUsers(t)
	for _, tc := range []struct{ user, pass string }{{"dev", "dev-pw"}, {"hashed", "bcrypt-pw"}} {
		v3Connect(t, b, v3Opts{clientID: "auth-ok-v3-" + tc.user, user: tc.user, pass: tc.pass})
		v5Connect(t, b, v5Opts{clientID: "auth-ok-v5-" + tc.user, user: tc.user, pass: tc.pass})
	}
	for _, tc := range []struct{ user, pass string }{{"dev", "wrong"}, {"hashed", "wrong"}, {"hashed", "$2a$04$x"}, {"nobody", "dev-pw"}} {
		if _, code, err := v3Dial(t, b, v3Opts{clientID: "auth-bad-v3", user: tc.user, pass: tc.pass}); err == nil || code != 4 && code != 5 {
			t.Errorf("3.1.1 %s/%s: CONNACK return code %d (%v), want 4 or 5", tc.user, tc.pass, code, err)
		}
		if _, ca, err := v5Dial(t, b, v5Opts{clientID: "auth-bad-v5", user: tc.user, pass: tc.pass}); err == nil || ca == nil || ca.ReasonCode != 0x86 {
			t.Errorf("5.0 %s/%s: CONNACK %+v (%v), want reason 0x86", tc.user, tc.pass, ca, err)
		}
	}
	// Without credentials where users are configured.
	if _, code, err := v3Dial(t, b, v3Opts{clientID: "auth-none-v3"}); err == nil || code == 0 {
		t.Errorf("3.1.1 without credentials: return code %d (%v), want a refusal", code, err)
	}
	if _, ca, err := v5Dial(t, b, v5Opts{clientID: "auth-none-v5"}); err == nil || ca == nil || ca.ReasonCode < 0x80 {
		t.Errorf("5.0 without credentials: CONNACK %+v (%v), want a refusal", ca, err)
	}
}

// A denied PUBLISH gets its acknowledgement — PUBACK 0x87 in 5.0, a plain
// PUBACK in 3.1.1 — every time, not only when something else happens to
// be written to the connection, and the message reaches nobody; the same
// for a 5.0 payload that is not the UTF-8 its Payload Format Indicator
// says (0x99).
func TestMQTTLeafgateRefusedPublishAcked(t *testing.T) {
	b := startLeafgateWithUsers(t)
	nc := natsConnect(t, b, nats.UserInfo("obs", "obs-pw"))
	seen := natsSubSync(t, nc, "perm.>")

	v5 := v5Connect(t, b, v5Opts{clientID: "deny-v5", user: "dev", pass: "dev-pw"})
	v3 := v3Connect(t, b, v3Opts{clientID: "deny-v3", user: "dev", pass: "dev-pw"})
	for i := range 3 {
		if code := v5.pub(t, &paho.Publish{Topic: "perm/no/x", QoS: 1, Payload: []byte("denied5")}); code != 0x87 {
			t.Fatalf("5.0 denied publish %d: PUBACK 0x%02x, want 0x87", i, code)
		}
		bad := &paho.Publish{Topic: "perm/ok/bad", QoS: 1, Payload: []byte{0xff, 0xfe},
			Properties: &paho.PublishProperties{PayloadFormat: paho.Byte(1)}}
		if code := v5.pub(t, bad); code != 0x99 {
			t.Fatalf("5.0 publish %d with invalid UTF-8: PUBACK 0x%02x, want 0x99", i, code)
		}
		v3.pub(t, "perm/no/y", 1, "denied3")
		v3.pub(t, "perm/no/z", 0, "denied3-qos0")
	}
	// The allowed publishes after them are the first the NATS observer sees.
	v3.pub(t, "perm/ok/y", 1, "allowed3")
	if m := nextMsg(t, seen); m.Subject != "perm.ok.y" {
		t.Fatalf("NATS observer got %s %q first, want perm.ok.y", m.Subject, m.Data)
	}
	if code := v5.pub(t, &paho.Publish{Topic: "perm/ok/x", QoS: 1, Payload: []byte("allowed5")}); code >= 0x80 {
		t.Fatalf("5.0 allowed publish: PUBACK 0x%02x", code)
	}
	if m := nextMsg(t, seen); m.Subject != "perm.ok.x" {
		t.Fatalf("NATS observer got %s %q, want perm.ok.x", m.Subject, m.Data)
	}
}
