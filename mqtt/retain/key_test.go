package retain

import (
	"bytes"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct{ topic, key string }{
		{"sensors/kitchen/temp", "sensors.kitchen.temp"},
		{"a", "a"},
		{"/status", "/.status"},
		{"a/", "a./"},
		{"/", "/./"},
		{"a//b", "a./.b"},
		{"spBv1.0/group/NDATA", "spBv1//0.group.NDATA"},
		{".", "//"},
		{"a-b_c=d/E9", "a-b_c=d.E9"},
		{"_b64", "_b64"},
		{"_b64x/y", "_b64x.y"},
		// Not KV keys as subjects: base64url.
		{"café/menu", "_b64.Y2Fmw6kvbWVudQ"},
		{"_b64/x", "_b64.X2I2NC94"},
		{"my topic/a b", "_b64.bXkgdG9waWMvYSBi"},
		{"$SYS/x", "_b64.JFNZUy94"},
		{"a*b", "_b64.YSpi"},
		{"a/*", "_b64.YS8q"}, // a NATS wildcard level: no subject at all
		{"a\tb", "_b64.YQli"},
	} {
		if got := Key([]byte(tc.topic)); got != tc.key {
			t.Errorf("Key(%q) = %q, want %q", tc.topic, got, tc.key)
		}
		got, ok := TopicOf(tc.key)
		if !ok || string(got) != tc.topic {
			t.Errorf("TopicOf(%q) = %q, %v; want %q", tc.key, got, ok, tc.topic)
		}
	}
}

// Keys no topic has: a NATS application may put them, and they are
// ignored.
func TestTopicOfRefuses(t *testing.T) {
	for _, key := range []string{
		"",
		"a/b",            // topic "ab", whose key is "ab"
		"a..b",           // an empty token
		"a.",             // likewise
		"_b64.",          // the empty topic
		"_b64.X2I2NC94=", // padded
		"_b64.X2I2NC9+",  // not URL-safe
		"_b64.YQ",        // "a": its key is "a"
		"_b64.Iw",        // "#": a wildcard
		"_b64." + "AA",   // U+0000
		"_b64.YS8r",      // "a/+"
		"x/.y",           // '/' not part of "/." or "//" is dropped
	} {
		if got, ok := TopicOf(key); ok {
			t.Errorf("TopicOf(%q) = %q, want refused", key, got)
		}
	}
}

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		topic string
		ok    bool
	}{
		{"a", true}, {"a b", true}, {"/", true}, {"$SYS/x", true}, {"ü", true},
		{"", false}, {"a/+", false}, {"#", false}, {"a\x00", false}, {"\xff", false},
		{strings.Repeat("a", 65535), true}, {strings.Repeat("a", 65536), false},
	} {
		if err := checkTopic([]byte(tc.topic)); (err == nil) != tc.ok {
			t.Errorf("checkTopic(%.20q) = %v", tc.topic, err)
		}
	}
}

// Every topic name has a KV key that gives it back.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"a/b", "/", "a.b", "_b64/x", "café", "a b", "$x/+", "a//.b/", "*", ">"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if checkTopic([]byte(topic)) != nil {
			return
		}
		key := Key([]byte(topic))
		if !validKey([]byte(key)) {
			t.Fatalf("Key(%q) = %q: not a KV key", topic, key)
		}
		got, ok := TopicOf(key)
		if !ok || !bytes.Equal(got, []byte(topic)) {
			t.Fatalf("TopicOf(Key(%q) = %q) = %q, %v", topic, key, got, ok)
		}
	})
}

// TopicOf never panics, and what it accepts is canonical.
func FuzzTopicOf(f *testing.F) {
	for _, s := range []string{"a.b", "/./", "_b64.YQ", "a/b", "//", "_b64.", ".a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if topic, ok := TopicOf(key); ok && Key(topic) != key {
			t.Fatalf("TopicOf(%q) = %q, whose key is %q", key, topic, Key(topic))
		}
	})
}
