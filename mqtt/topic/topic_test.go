package topic

import (
	"errors"
	"strings"
	"testing"
)

// nameCases are topic names and the subjects nats-server v2.15.2 maps them
// to (its TestMQTTTopicAndSubjectConversion and TestMQTTTopicWithDot); each
// maps back to the same topic.
var nameCases = []struct{ topic, subject string }{
	{"/", "/./"},
	{"//", "/././"},
	{"///", "/./././"},
	{"////", "/././././"},
	{"foo", "foo"},
	{"/foo", "/.foo"},
	{"//foo", "/./.foo"},
	{"///foo", "/././.foo"},
	{"///foo/", "/././.foo./"},
	{"///foo//", "/././.foo././"},
	{"///foo///", "/././.foo./././"},
	{"//.foo.//", "/././/foo//././"},
	{"foo/bar", "foo.bar"},
	{"/foo/bar", "/.foo.bar"},
	{"/foo/bar/", "/.foo.bar./"},
	{"foo/bar/baz", "foo.bar.baz"},
	{"/foo/bar/baz", "/.foo.bar.baz"},
	{"/foo/bar/baz/", "/.foo.bar.baz./"},
	{"bar/", "bar./"},
	{"bar//", "bar././"},
	{"bar///", "bar./././"},
	{"foo//bar", "foo./.bar"},
	{"foo///bar", "foo././.bar"},
	{"foo////bar", "foo./././.bar"},
	{".", "//"},
	{"..", "////"},
	{"...", "//////"},
	{"./", "//./"},
	{".//.", "//././/"},
	{"././.", "//.//.//"},
	{"././/.", "//.//././/"},
	{".foo", "//foo"},
	{"foo.", "foo//"},
	{".foo.", "//foo//"},
	{"foo../bar/", "foo////.bar./"},
	{"foo../bar/.", "foo////.bar.//"},
	{"/foo/", "/.foo./"},
	{"./foo/.", "//.foo.//"},
	{"foo.bar/baz", "foo//bar.baz"},
	{"spBv1.0/plant1", "spBv1//0.plant1"},
	// Not in nats-server's table; its rules give these.
	{"$JS/foo", "$JS.foo"},
	{"foo*/bar>", "foo*.bar>"},
	{"héllo/wörld", "héllo.wörld"},
	{"a/\x01/b", "a.\x01.b"},
}

func TestAppendSubject(t *testing.T) {
	for _, tc := range nameCases {
		got, err := AppendSubject(nil, []byte(tc.topic))
		if err != nil {
			t.Errorf("AppendSubject(%q): %v", tc.topic, err)
			continue
		}
		if string(got) != tc.subject {
			t.Errorf("AppendSubject(%q) = %q, want %q", tc.topic, got, tc.subject)
		}
		if n := MaxSubjectLen(len(tc.topic)); len(got) > n {
			t.Errorf("AppendSubject(%q) is %d bytes, more than MaxSubjectLen %d", tc.topic, len(got), n)
		}
		back, err := AppendTopic(nil, got)
		if err != nil || string(back) != tc.topic {
			t.Errorf("AppendTopic(%q) = %q, %v; want %q", got, back, err, tc.topic)
		}
	}
}

func TestAppendSubjectAppends(t *testing.T) {
	dst := []byte("prefix:")
	got, err := AppendSubject(dst, []byte("a/b.c"))
	if err != nil || string(got) != "prefix:a.b//c" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = AppendSubject(dst, []byte("a/+"))
	if err == nil || string(got) != "prefix:" {
		t.Fatalf("on error got %q, %v; want dst unchanged and an error", got, err)
	}
	got, err = AppendTopic([]byte("t:"), []byte("a.b//c"))
	if err != nil || string(got) != "t:a/b.c" {
		t.Fatalf("AppendTopic got %q, %v", got, err)
	}
	got, err = AppendTopic([]byte("t:"), []byte("a.+"))
	if err == nil || string(got) != "t:" {
		t.Fatalf("AppendTopic on error got %q, %v; want dst unchanged and an error", got, err)
	}
}

func TestAppendSubjectErrors(t *testing.T) {
	for _, tc := range []struct {
		name, topic string
		want        error
	}{
		// nats-server's TestMQTTTopicAndSubjectConversion and TestMQTTPublishTopicErrors.
		{"single level wildcard", "foo/+", ErrWildcardInName},
		{"multi level wildcard", "foo/#", ErrWildcardInName},
		{"plus inside a level", "foo+", ErrWildcardInName},
		{"space", "foo bar", ErrUnsupportedChar},
		{"DEL", "foo\x7fbar", ErrUnsupportedChar},
		{"tab", "foo\tbar", ErrUnsupportedChar},
		{"line feed", "foo\nbar", ErrUnsupportedChar},
		{"carriage return", "foo\rbar", ErrUnsupportedChar},
		{"form feed", "foo\fbar", ErrUnsupportedChar},
		{"empty", "", ErrEmpty},
		// nats-server's mqttValidateTopic.
		{"invalid UTF-8", "a\xf1", ErrInvalidUTF8},
		{"surrogate", "a\xed\xa0\x80", ErrInvalidUTF8},
		{"null", "a\x00b", ErrNullChar},
		{"too long", strings.Repeat("a", MaxLen+1), ErrTooLong},
		// leafgate: a NATS wildcard subject is not a publish subject.
		{"NATS pwc level", "foo/*", ErrNotMappable},
		{"NATS fwc level", ">", ErrNotMappable},
		{"NATS pwc first", "*/a", ErrNotMappable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendSubject(nil, []byte(tc.topic))
			if !errors.Is(err, tc.want) {
				t.Fatalf("AppendSubject(%q) = %v, want %v", tc.topic, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != Name || e.Input != tc.topic {
				t.Fatalf("error %#v is not an *Error of Kind Name for the input", err)
			}
			if rc := ReasonCode(err); rc != CodeTopicNameInvalid {
				t.Fatalf("ReasonCode = %#x, want 0x90", rc)
			}
		})
	}
	if _, err := AppendSubject(nil, []byte(strings.Repeat("a", MaxLen))); err != nil {
		t.Fatalf("a %d-byte topic is valid: %v", MaxLen, err)
	}
}

// TestAppendTopicFromNATS covers subjects NATS clients publish, which need
// not be the image of any topic: nats-server's conversion applies, and what
// MQTT cannot carry is refused.
func TestAppendTopicFromNATS(t *testing.T) {
	for _, tc := range []struct {
		subject, topic string
		ok             bool
	}{
		{"foo", "foo", true},
		{"foo.bar.baz", "foo/bar/baz", true},
		{"$JS.EVENT.x", "$JS/EVENT/x", true},
		{"_INBOX.abc.def", "_INBOX/abc/def", true},
		// A lone '/' is dropped, as nats-server does.
		{"a/b", "ab", true},
		{"a/", "a", true},
		{"/a", "a", true},
		{"a/.b", "a/b", true},
		{"a//b", "a.b", true},
		{"///", ".", true},
		{"//.", "./", true},
		{"*", "*", true}, // only a wildcard in subscriptions; a literal here
		{"a.>", "a/>", true},
		// Not expressible.
		{"/", "", false},
		{"a.+", "", false},
		{"a.#", "", false},
		{"a#b", "", false},
		{"a\x00b", "", false},
		{"a\xff", "", false},
		{"", "", false},
	} {
		got, err := AppendTopic(nil, []byte(tc.subject))
		if !tc.ok {
			if !errors.Is(err, ErrNotExpressible) || ReasonCode(err) != 0 {
				t.Errorf("AppendTopic(%q) = %q, %v; want ErrNotExpressible with no reason code", tc.subject, got, err)
			}
			continue
		}
		if err != nil || string(got) != tc.topic {
			t.Errorf("AppendTopic(%q) = %q, %v; want %q", tc.subject, got, err, tc.topic)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	topic := []byte("site/gw1.rack2/sensor//temp/")
	subj := []byte("site.gw1//rack2.sensor./.temp./")
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() {
		out, err := AppendSubject(buf[:0], topic)
		if err != nil || string(out) != string(subj) {
			t.Fatalf("AppendSubject = %q, %v", out, err)
		}
		if err := Internal.CheckName(topic, out); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendSubject+CheckName: %v allocs per run, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		out, err := AppendTopic(buf[:0], subj)
		if err != nil || string(out) != string(topic) {
			t.Fatalf("AppendTopic = %q, %v", out, err)
		}
	}); n != 0 {
		t.Errorf("AppendTopic: %v allocs per run, want 0", n)
	}
}

func TestErrorText(t *testing.T) {
	_, err := AppendSubject(nil, []byte("a b"))
	want := `mqtt topic name "a b": character not supported for MQTT topics`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func BenchmarkAppendSubject(b *testing.B) {
	topic := []byte("site/gw1/sensor/temperature")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(topic)))
	for b.Loop() {
		buf, _ = AppendSubject(buf[:0], topic)
	}
}

func BenchmarkAppendTopic(b *testing.B) {
	subj := []byte("site.gw1.sensor.temperature")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(subj)))
	for b.Loop() {
		buf, _ = AppendTopic(buf[:0], subj)
	}
}
