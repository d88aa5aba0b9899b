package mqttpeer

import (
	"strings"
	"testing"
	"time"
)

func TestParseSubLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want SubMessage
		ok   bool
	}{
		{"MSG\ta/b\t1\t0\thello world", SubMessage{Topic: "a/b", QoS: 1, Payload: "hello world"}, true},
		{"MSG\ta b\t0\t1\tx\ty", SubMessage{Topic: "a b", QoS: 0, Retain: true, Payload: "x\ty"}, true},
		{"MSG\ta\t0\t0\t", SubMessage{Topic: "a"}, true},
		{"Client (null) received SUBACK", SubMessage{}, false},
		{"MSG\ta\tq\t0\tx", SubMessage{}, false},
		{"MSG\ta\t1", SubMessage{}, false},
	} {
		got, ok := parseSubLine(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseSubLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMosquittoConfig(t *testing.T) {
	c := MosquittoConfig(MosquittoOptions{Persistence: true, AutosaveInterval: 2 * time.Second, MaxQueuedMessages: 10, MaxInflightMessages: -1, Extra: []string{"max_keepalive 60"}}, 1884, "/d")
	for _, want := range []string{"listener 1884 127.0.0.1\n", "allow_anonymous true\n", "persistence true\n",
		"persistence_location /d/\n", "autosave_interval 2\n", "max_queued_messages 10\n", "max_inflight_messages 0\n", "max_keepalive 60\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if c := MosquittoConfig(MosquittoOptions{}, 1, ""); !strings.Contains(c, "persistence false\n") || strings.Contains(c, "max_") {
		t.Errorf("default config:\n%s", c)
	}
}
