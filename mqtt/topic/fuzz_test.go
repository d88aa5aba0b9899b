package topic

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leafgate/leafgate/leaf/subject"
)

// FuzzNameRoundTrip: every accepted topic name maps to a valid literal NATS
// subject that maps back to the same name, and is accepted as a filter on
// that same subject; every refusal is a topic name error.
func FuzzNameRoundTrip(f *testing.F) {
	for _, tc := range nameCases {
		f.Add([]byte(tc.topic))
	}
	for _, s := range []string{"", "a/+", "a/#", "a b", "*", "a/>", "\xff", "a\x00", "$JS/API/x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, name []byte) {
		dst := []byte("x")
		out, err := AppendSubject(dst, name)
		if err != nil {
			if string(out) != "x" {
				t.Fatalf("on error dst became %q", out)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != Name || ReasonCode(err) != CodeTopicNameInvalid {
				t.Fatalf("AppendSubject(%q) error %v is not a topic name error", name, err)
			}
			return
		}
		subj := out[1:]
		if !subject.ValidLiteral(subj) {
			t.Fatalf("AppendSubject(%q) = %q, not a valid literal subject", name, subj)
		}
		if len(subj) > MaxSubjectLen(len(name)) {
			t.Fatalf("AppendSubject(%q) = %d bytes, over MaxSubjectLen", name, len(subj))
		}
		back, err := AppendTopic(nil, subj)
		if err != nil || !bytes.Equal(back, name) {
			t.Fatalf("round trip %q → %q → %q, %v", name, subj, back, err)
		}
		sub, err := ParseFilter(name)
		if err != nil || sub.Subject != string(subj) || sub.LevelUp != "" || sub.NoDollar {
			t.Fatalf("ParseFilter(%q) = %+v, %v; want subject %q only", name, sub, err, subj)
		}
	})
}

// FuzzFilter: accepted filters give valid NATS subscriptions, and — for
// filters without NATS wildcard levels — an MQTT filter matches an MQTT
// topic name exactly when its NATS subscription(s) match the name's subject.
func FuzzFilter(f *testing.F) {
	for _, tc := range filterCases {
		f.Add([]byte(tc.filter), []byte("foo/bar"))
	}
	for i, tc := range nameCases {
		f.Add([]byte(filterCases[i%len(filterCases)].filter), []byte(tc.topic))
	}
	for _, s := range [][2]string{
		{"sport/#", "sport"}, {"sport/+", "sport/"}, {"+/+", "/"}, {"+/#", "a"},
		{"$share/g/a/#", "a/b"}, {"$share//a", "a"}, {"a/#/b", "a"}, {"a+", "a+"},
		{"/#", "/"}, {"+//", "a//"}, {"a/+", "a/."}, {"#", "$SYS/x"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, filter, name []byte) {
		sub, err := ParseFilter(filter)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != Filter || ReasonCode(err) != CodeTopicFilterInvalid {
				t.Fatalf("ParseFilter(%q) error %v is not a topic filter error", filter, err)
			}
			return
		}
		if !subject.ValidPattern([]byte(sub.Subject)) {
			t.Fatalf("ParseFilter(%q).Subject = %q, not a valid subscription", filter, sub.Subject)
		}
		if sub.LevelUp != "" && (sub.Subject != sub.LevelUp+".>" || !subject.ValidPattern([]byte(sub.LevelUp))) {
			t.Fatalf("ParseFilter(%q) = %+v: LevelUp is not Subject without \".>\"", filter, sub)
		}
		inner := string(filter)
		if sub.Share != "" {
			prefix := "$share/" + sub.Share + "/"
			if !strings.HasPrefix(inner, prefix) || !subject.ValidQueue([]byte(sub.Share)) {
				t.Fatalf("ParseFilter(%q) = %+v: bad share", filter, sub)
			}
			inner = inner[len(prefix):]
		}
		if got := inner[0] == '+' || inner[0] == '#' || inner[0] == '*' || inner[0] == '>'; sub.NoDollar && !got {
			t.Fatalf("ParseFilter(%q) = %+v: NoDollar without a leading wildcard", filter, sub)
		}

		// The matching property, for MQTT wildcards only.
		for lvl := range strings.SplitSeq(inner, "/") {
			if lvl == "*" || lvl == ">" {
				return
			}
		}
		subj, err := AppendSubject(nil, name)
		if err != nil {
			return
		}
		want := mqttMatch(inner, string(name))
		got := subject.Matches(sub.Subject, string(subj)) ||
			sub.LevelUp != "" && subject.Matches(sub.LevelUp, string(subj))
		if got != want {
			t.Fatalf("filter %q (NATS %+v) vs topic %q (NATS %q): NATS match %v, MQTT match %v",
				filter, sub, name, subj, got, want)
		}
	})
}

// mqttMatch is MQTT's topic matching (section 4.7), without the '$' rule.
func mqttMatch(filter, name string) bool {
	fl, nl := strings.Split(filter, "/"), strings.Split(name, "/")
	for i, f := range fl {
		if f == "#" {
			return true // '#' also matches the parent level
		}
		if i >= len(nl) || f != "+" && f != nl[i] {
			return false
		}
	}
	return len(fl) == len(nl)
}

// FuzzAppendTopic: any subject a NATS client may publish either gives a
// valid MQTT topic name or is refused; a topic given to an MQTT client, if
// the client publishes on it, reaches a subject that gives the same topic.
func FuzzAppendTopic(f *testing.F) {
	for _, tc := range nameCases {
		f.Add([]byte(tc.subject))
	}
	for _, s := range []string{"a/b", "/", "a.+", "a.#", "*", "a.>", "///", "//.", "a/.b", "\xff", "a\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, subj []byte) {
		dst := []byte("x")
		out, err := AppendTopic(dst, subj)
		if err != nil {
			if string(out) != "x" || !errors.Is(err, ErrNotExpressible) || ReasonCode(err) != 0 {
				t.Fatalf("AppendTopic(%q) = %q, %v", subj, out, err)
			}
			return
		}
		topic := out[1:]
		if len(topic) == 0 || len(topic) > len(subj) || !utf8.Valid(topic) ||
			bytes.ContainsAny(topic, "+#\x00") {
			t.Fatalf("AppendTopic(%q) = %q, not a valid topic name", subj, topic)
		}
		again, err := AppendSubject(nil, topic)
		if err != nil {
			return // e.g. a space or DEL the NATS subject carried
		}
		back, err := AppendTopic(nil, again)
		if err != nil || !bytes.Equal(back, topic) {
			t.Fatalf("%q → topic %q → subject %q → topic %q, %v", subj, topic, again, back, err)
		}
	})
}
