package retain

import (
	"testing"
	"time"
)

func TestUserHeader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"NATS/1.0\r\n\r\n", ""},
		{"NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n", "NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n"},
		// This package's headers go, whatever their case.
		{"NATS/1.0\r\nNmqtt-Pub: 1\r\nNmqtt-Topic: a/b\r\nnats-ttl: 5\r\nNMQTT-EXPIRES: x\r\nA: b\r\n\r\n", "NATS/1.0\r\nNmqtt-Pub: 1\r\nA: b\r\n\r\n"},
		{"NATS/1.0\r\nNats-TTL: 5\r\n\r\n", ""},
		// Nor do headers that steer JetStream or KV, which a User
		// Property could carry.
		{"NATS/1.0\r\nNats-Rollup: all\r\nnats-expected-last-sequence: 1\r\nKV-Operation: DEL\r\nNats-Msg-Id: x\r\nNatsy: ok\r\n\r\n", "NATS/1.0\r\nNatsy: ok\r\n\r\n"},
		// A status line is not kept; malformed lines are dropped.
		{"NATS/1.0 100 Idle\r\nA: b\r\nnocolon\r\n\r\n", "NATS/1.0\r\nA: b\r\n\r\n"},
	} {
		if got := string(userHeader([]byte(tc.in))); got != tc.want {
			t.Errorf("userHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStoredHeader(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC).UnixNano()
	user := userHeader([]byte("NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n"))
	got := string(storedHeader(user, []byte("a/b"), exp, 30))
	want := "NATS/1.0\r\nNmqtt-Pub: 1\r\nNmqtt-Topic: a/b\r\nNmqtt-Expires: 2030-01-02T03:04:05.0000006Z\r\nNats-TTL: 30\r\n\r\n"
	if got != want {
		t.Fatalf("stored header\n%q, want\n%q", got, want)
	}
	// What is stored comes back as it went in.
	if back := string(userHeader([]byte(got))); back != string(user) {
		t.Fatalf("user header back %q, want %q", back, user)
	}
	if e := storedExpiry([]byte(got), 1); e != exp {
		t.Fatalf("expiry %d, want %d", e, exp)
	}
	// No user headers, no expiry; a topic that cannot be a header value
	// is left to the key.
	if got := string(storedHeader(nil, []byte(" a"), 0, 0)); got != "NATS/1.0\r\n\r\n" {
		t.Fatalf("bare header %q", got)
	}
	if got := string(storedHeader(nil, []byte("a b"), 0, 0)); got != "NATS/1.0\r\nNmqtt-Topic: a b\r\n\r\n" {
		t.Fatalf("header %q", got)
	}
}

func TestHandedHeader(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		user    string
		expires int64
		want    string
	}{
		{"", 0, ""},
		{"NATS/1.0\r\nA: b\r\n\r\n", 0, "NATS/1.0\r\nA: b\r\n\r\n"},
		{"", exp, "NATS/1.0\r\nNmqtt-Expires: 2030-01-02T03:04:05Z\r\n\r\n"},
		{"NATS/1.0\r\nA: b\r\n\r\n", exp, "NATS/1.0\r\nA: b\r\nNmqtt-Expires: 2030-01-02T03:04:05Z\r\n\r\n"},
	} {
		var user []byte
		if tc.user != "" {
			user = []byte(tc.user)
		}
		if got := string(handedHeader(user, tc.expires)); got != tc.want {
			t.Errorf("handedHeader(%q, %d) = %q, want %q", tc.user, tc.expires, got, tc.want)
		}
	}
}

func TestStoredExpiry(t *testing.T) {
	ts := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		hdr  string
		want int64
	}{
		{"", 0},
		{"NATS/1.0\r\nA: b\r\n\r\n", 0},
		{"NATS/1.0\r\nNats-TTL: 10\r\n\r\n", ts + 10e9},
		{"NATS/1.0\r\nNats-TTL: 1m\r\n\r\n", ts + 60e9},
		{"NATS/1.0\r\nNats-TTL: never\r\n\r\n", 0},
		{"NATS/1.0\r\nNmqtt-Expires: 2030-01-01T00:00:01Z\r\nNats-TTL: 10\r\n\r\n", ts + 1e9},
		{"NATS/1.0\r\nNmqtt-Expires: soon\r\nNats-TTL: 10\r\n\r\n", ts + 10e9},
	} {
		if got := storedExpiry([]byte(tc.hdr), ts); got != tc.want {
			t.Errorf("storedExpiry(%q) = %d, want %d", tc.hdr, got, tc.want)
		}
	}
}

func TestTTLSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{-time.Hour, 1}, {0, 1}, {time.Millisecond, 1}, {time.Second, 1},
		{time.Second + 1, 2}, {90 * time.Second, 90}, {90*time.Second + time.Millisecond, 91},
	} {
		if got := ttlSeconds(int64(tc.d)+1000, 1000); got != tc.want {
			t.Errorf("ttlSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestDeleted(t *testing.T) {
	for _, tc := range []struct {
		hdr  string
		want bool
	}{
		{"", false},
		{"NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n", false},
		{"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n", true},
		{"NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n", true},
		{"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 900s\r\n\r\n", true},
		{"NATS/1.0\r\nKV-Operation: PUT\r\n\r\n", false},
	} {
		if got := deleted([]byte(tc.hdr)); got != tc.want {
			t.Errorf("deleted(%q) = %v", tc.hdr, got)
		}
	}
	if got := string(purgeHeader(900)); got != "NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\nNats-TTL: 900\r\n\r\n" {
		t.Errorf("purge header %q", got)
	}
}
