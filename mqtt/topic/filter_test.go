package topic

import (
	"errors"
	"testing"
)

// filterCases are filters and the subjects nats-server v2.15.2 subscribes
// to (its TestMQTTFilterConversion), with the extra subscription it adds
// for a trailing ".>" (mqttNeedSubForLevelUp) and whether the filter may
// see '$' subjects (isMQTTReservedSubscription).
var filterCases = []struct {
	filter, subject, levelUp string
	noDollar                 bool
}{
	{"+", "*", "", true},
	{"/+", "/.*", "", false},
	{"+/", "*./", "", true},
	{"/+/", "/.*./", "", false},
	{"foo/+", "foo.*", "", false},
	{"foo/+/", "foo.*./", "", false},
	{"foo/+/bar", "foo.*.bar", "", false},
	{"foo/+/+", "foo.*.*", "", false},
	{"foo/+/+/", "foo.*.*./", "", false},
	{"foo/+/+/bar", "foo.*.*.bar", "", false},
	{"foo//+", "foo./.*", "", false},
	{"foo//+/", "foo./.*./", "", false},
	{"foo//+//", "foo./.*././", "", false},
	{"foo//+//bar", "foo./.*./.bar", "", false},
	{"foo///+///bar", "foo././.*././.bar", "", false},
	{"foo.bar///+///baz", "foo//bar././.*././.baz", "", false},

	{"#", ">", "", true},
	{"/#", "/.>", "/", false},
	{"/foo/#", "/.foo.>", "/.foo", false},
	{"foo/#", "foo.>", "foo", false},
	{"foo//#", "foo./.>", "foo./", false},
	{"foo///#", "foo././.>", "foo././", false},
	{"foo/bar/#", "foo.bar.>", "foo.bar", false},
	{"foo/bar.baz/#", "foo.bar//baz.>", "foo.bar//baz", false},
	{"+/#", "*.>", "*", true},
	{"+/foo/#", "*.foo.>", "*.foo", true},

	// NATS wildcards in MQTT filters are not escaped: as in nats-server, a
	// whole "*" or ">" level is a NATS wildcard; inside a level, a literal.
	{"foo*/bar", "foo*.bar", "", false},
	{"foo>/bar", "foo>.bar", "", false},
	{"foo/*/bar", "foo.*.bar", "", false},
	{"foo/*/bar/*", "foo.*.bar.*", "", false},
	{"foo/>", "foo.>", "foo", false},
	{"foo/*/bar/>", "foo.*.bar.>", "foo.*.bar", false},
	{"*", "*", "", true},
	{"*/foo", "*.foo", "", true},
	{">", ">", "", true},

	// Literal filters map as topic names do.
	{"spBv1.0/plant1", "spBv1//0.plant1", "", false},
	{"/", "/./", "", false},
	{"$SYS", "$SYS", "", false},
	{"$JS/+", "$JS.*", "", false},
}

func TestParseFilter(t *testing.T) {
	for _, tc := range filterCases {
		sub, err := ParseFilter([]byte(tc.filter))
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.filter, err)
			continue
		}
		want := Sub{Subject: tc.subject, LevelUp: tc.levelUp, NoDollar: tc.noDollar}
		if sub != want {
			t.Errorf("ParseFilter(%q) = %+v, want %+v", tc.filter, sub, want)
		}
	}
	// A literal filter subscribes to exactly its topic name's subject.
	for _, tc := range nameCases {
		sub, err := ParseFilter([]byte(tc.topic))
		if err != nil || sub.Subject != tc.subject || sub.Share != "" {
			t.Errorf("ParseFilter(%q) = %+v, %v; want subject %q", tc.topic, sub, err, tc.subject)
		}
	}
}

func TestParseFilterShared(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   Sub
	}{
		{"$share/g/foo/bar", Sub{Subject: "foo.bar", Share: "g"}},
		{"$share/workers/jobs/#", Sub{Subject: "jobs.>", LevelUp: "jobs", Share: "workers"}},
		{"$share/g/#", Sub{Subject: ">", Share: "g", NoDollar: true}},
		{"$share/g/+/x", Sub{Subject: "*.x", Share: "g", NoDollar: true}},
		{"$share/g.1/a.b", Sub{Subject: "a//b", Share: "g.1"}},
		{"$share/g//", Sub{Subject: "/./", Share: "g"}},
		{"$share/g/$share/h/x", Sub{Subject: "$share.h.x", Share: "g"}},
		// Not shared: the prefix is "$share/" exactly.
		{"$share", Sub{Subject: "$share"}},
		{"$shared/g/x", Sub{Subject: "$shared.g.x"}},
		{"$SHARE/g/x", Sub{Subject: "$SHARE.g.x"}},
	} {
		got, err := ParseFilter([]byte(tc.filter))
		if err != nil || got != tc.want {
			t.Errorf("ParseFilter(%q) = %+v, %v; want %+v", tc.filter, got, err, tc.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, filter string
		want         error
	}{
		// nats-server's TestMQTTParseSub, TestMQTTSubWithSpaces, TestMQTTSubWithControlChars.
		{"empty", "", ErrEmpty},
		{"invalid UTF-8", "\xf1", ErrInvalidUTF8},
		{"null", "a\x00b", ErrNullChar},
		{"space", "foo bar", ErrUnsupportedChar},
		{"tab", "foo\tbar", ErrUnsupportedChar},
		{"line feed", "foo\nbar", ErrUnsupportedChar},
		{"carriage return", "foo\rbar", ErrUnsupportedChar},
		{"form feed", "foo\fbar", ErrUnsupportedChar},
		{"DEL", "foo\x7f", ErrUnsupportedChar},
		// [MQTT-4.7.1-1], [MQTT-4.7.1-2]; nats-server accepts these.
		{"plus in level", "foo+", ErrWildcardPlacement},
		{"plus before text", "+foo", ErrWildcardPlacement},
		{"plus mid level", "a/b+c/d", ErrWildcardPlacement},
		{"hash in level", "foo#", ErrWildcardPlacement},
		{"hash not last", "#/foo", ErrWildcardPlacement},
		{"hash mid", "a/#/b", ErrWildcardPlacement},
		{"hash hash", "##", ErrWildcardPlacement},
		{"hash after plus", "+#", ErrWildcardPlacement},
		// A NATS '>' that is not last is no NATS subscription (nats-server:
		// SUBACK failure, from its sublist).
		{"NATS fwc not last", "a/>/b", ErrNotMappable},
		// [MQTT-4.8.2-1], [MQTT-4.8.2-2].
		{"share no name", "$share//foo", ErrShareName},
		{"share no filter", "$share/g", ErrShareName},
		{"share empty filter", "$share/g/", ErrShareName},
		{"share plus in name", "$share/g+/foo", ErrShareName},
		{"share hash in name", "$share/#/foo", ErrShareName},
		{"share only prefix", "$share/", ErrShareName},
		{"share bad filter", "$share/g/a#", ErrWildcardPlacement},
		{"share space", "$share/g h/a", ErrUnsupportedChar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFilter([]byte(tc.filter))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseFilter(%q) = %v, want %v", tc.filter, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != Filter || e.Input != tc.filter {
				t.Fatalf("error %#v is not an *Error of Kind Filter for the input", err)
			}
			if rc := ReasonCode(err); rc != CodeTopicFilterInvalid {
				t.Fatalf("ReasonCode = %#x, want 0x8F", rc)
			}
		})
	}
}

func TestReserved(t *testing.T) {
	for _, tc := range []struct {
		filter   string
		reserved bool
	}{
		// nats-server's TestMQTTSubscribeDenyInternalMessageSubject.
		{"$MQTT/#", true},
		{"$MQTT/msgs/secret/#", true},
		{"$MQTT/sub/+", true},
		{"$JS/API/STREAM/CREATE/x", true},
		{"$JS/#", true},
		{"$JS/+/x", true},
		{"$SYS/REQ/#", true},
		{"$JSC/x", true},
		{"$NRG/x", true},
		{"$share/g/$JS/ACK/#", true},
		// Not internal: the bare token, other '$' topics, wildcards first
		// (which never see '$' subjects), and inboxes.
		{"$MQTT", false},
		{"$JS", false},
		{"$JSX/a", false},
		{"$KV/bucket/key", false},
		{"$sys/x", false},
		{"#", false},
		{"+/API/#", false},
		{"_INBOX/#", false},
		{"secret/#", false},
	} {
		sub, err := ParseFilter([]byte(tc.filter))
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
		}
		err = Internal.CheckFilter([]byte(tc.filter), sub)
		if got := err != nil; got != tc.reserved {
			t.Errorf("CheckFilter(%q) = %v, want reserved %v", tc.filter, err, tc.reserved)
			continue
		}
		if err != nil && (!errors.Is(err, ErrReserved) || ReasonCode(err) != CodeNotAuthorized) {
			t.Errorf("CheckFilter(%q) = %v (code %#x), want ErrReserved with 0x87", tc.filter, err, ReasonCode(err))
		}
	}
	for _, tc := range []struct {
		name     string
		reserved bool
	}{
		{"$JS/API/STREAM/DELETE/x", true},
		{"$JS/ACK/s/c/1/2/3/4/5", true},
		{"$SYS/REQ/SERVER/PING", true},
		{"$MQTT/msgs/x", true},
		{"$JS", false},
		{"_INBOX/abc", false}, // an MQTT 5 responder replying to a NATS requester
		{"sensors/temp", false},
	} {
		subj, err := AppendSubject(nil, []byte(tc.name))
		if err != nil {
			t.Fatal(err)
		}
		err = Internal.CheckName([]byte(tc.name), subj)
		if got := err != nil; got != tc.reserved {
			t.Errorf("CheckName(%q) = %v, want reserved %v", tc.name, err, tc.reserved)
		}
		if err != nil && ReasonCode(err) != CodeNotAuthorized {
			t.Errorf("CheckName(%q) code %#x, want 0x87", tc.name, ReasonCode(err))
		}
	}
	extended := append(Reserved{"$KV.mqtt_retained."}, Internal...)
	if !extended.Has("$KV.mqtt_retained.a") || extended.Has("$KV.other.a") {
		t.Error("an added prefix is not honoured")
	}
}

// TestSkipForDollar follows nats-server's TestMQTTSubjectWildcardStart:
// "*", "#" and "*/foo" get nothing published on "$JS.foo"; "$"-first
// filters do.
func TestSkipForDollar(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		skip            bool
	}{
		{"*", "$JS.foo", true},
		{"#", "$JS.foo", true},
		{"*/foo", "$JS.foo", true},
		{"+", "$SYS", true},
		{"$share/g/#", "$x", true},
		{"#", "foo", false},
		{"$JS/+", "$JS.foo", false},
		{"foo/#", "foo.$x", false},
	} {
		sub, err := ParseFilter([]byte(tc.filter))
		if err != nil {
			t.Fatal(err)
		}
		if got := SkipForDollar(sub.NoDollar, []byte(tc.subject)); got != tc.skip {
			t.Errorf("filter %q, subject %q: skip = %v, want %v", tc.filter, tc.subject, got, tc.skip)
		}
	}
}
