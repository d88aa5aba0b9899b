package leafproto

import (
	"strings"
	"testing"
	"time"
)

// capturedErrs are -ERR lines nats-server v2.15.2 sent on its leafnode
// port, captured from a live hub (cluster C1, leafnodes.min_version 2.10.0)
// with a raw TCP peer: a CONNECT with cluster C1; echoing the hub's $LDS.
// subject back as LS+; two links with one name and remote account; a wrong
// password; version 2.9.0; a CONNECT with lang; LS+ on a denied subject.
var capturedErrs = []struct {
	line string
	kind ErrKind
}{
	{"-ERR 'remote leafnode has same cluster name'\r\n", ErrKindSameClusterName},
	{"-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n", ErrKindLoop},
	{"-ERR 'Duplicate Remote LeafNode Connection'\r\n", ErrKindDuplicateRemote},
	{"-ERR 'Authorization Violation'\r\n", ErrKindAuth},
	{"-ERR 'connection rejected since minimum version required is \"2.10.0\"'\r\n", ErrKindMinVersion},
	{"-ERR 'attempted to connect to leaf node port'\r\n", ErrKindOther},
	{"-ERR 'Permissions Violation for Subscription to \"bar.secret\"'\r\n", ErrKindPermission},
	// Sent by a nats-server leaf itself when the hub's connect_info
	// INFO did not come in time.
	{"-ERR 'Stale Leaf Node Connection - Closing'\r\n", ErrKindOther},
}

func TestClassifyCapturedErrs(t *testing.T) {
	for _, c := range capturedErrs {
		var r recorder
		var p Parser
		if err := p.Parse([]byte(c.line), &r); err != nil || len(r.calls) != 1 {
			t.Fatalf("%q: calls %q err %v", c.line, r.calls, err)
		}
		text := []byte(strings.TrimPrefix(r.calls[0], "ERR "))
		if got := ClassifyErr(text); got != c.kind {
			t.Errorf("%q: %v, want %v", text, got, c.kind)
		}
	}
}

// TestErrTextsMatchCaptures checks the texts leafgate builds are the bytes
// nats-server sent.
func TestErrTextsMatchCaptures(t *testing.T) {
	built := []string{
		string(AppendErr(nil, ErrTextSameClusterName)),
		string(AppendErr(nil, LoopErrText("$G"))),
		string(AppendErr(nil, ErrTextDuplicateRemote)),
		string(AppendErr(nil, ErrTextAuthViolation)),
		string(AppendErr(nil, MinVersionErrText("2.10.0"))),
		string(AppendErr(nil, ErrTextClientOnLeafPort)),
		string(AppendErr(nil, SubPermErrText([]byte("bar.secret")))),
		string(AppendErr(nil, ErrTextStaleLeafConnection)),
	}
	for i, c := range capturedErrs {
		if built[i] != c.line {
			t.Errorf("built %q\n  nats-server %q", built[i], c.line)
		}
	}
	if got := PubPermErrText([]byte("foo.x")); got != `Permissions Violation for Publish to "foo.x"` {
		t.Errorf("%q", got)
	}
	if got := GatewayOnLeafPortErrText("B"); got != `Rejecting connection from gateway "B" on the leafnode port` {
		t.Errorf("%q", got)
	}
}

func TestClassifyErr(t *testing.T) {
	tests := []struct {
		text string
		kind ErrKind
	}{
		{"", ErrKindOther},
		{"Unknown Protocol Operation", ErrKindOther},
		{"Maximum Payload Violation", ErrKindOther},
		{"Loop detected for leafnode account=\"APP\". Delaying attempt to reconnect for 1s", ErrKindLoop},
		{"Permissions Violation for Publish to \"a\"", ErrKindPermission},
		{"Authentication Timeout", ErrKindAuth},
		{"User Authentication Expired", ErrKindAuth},
		{"Account Authentication Expired", ErrKindAuth},
		{"User Authentication Revoked", ErrKindAuth},
		{"cluster name cannot contain spaces", ErrKindBadClusterName},
		{"cluster name is reserved", ErrKindBadClusterName},
		// nats-server matches substrings, so a wrapped text counts too.
		{"leafnode error: remote leafnode has same cluster name", ErrKindSameClusterName},
	}
	for _, tt := range tests {
		if got := ClassifyErr([]byte(tt.text)); got != tt.kind {
			t.Errorf("%q: %v, want %v", tt.text, got, tt.kind)
		}
	}
}

func TestReconnectDelay(t *testing.T) {
	want := map[ErrKind]time.Duration{
		ErrKindOther:           0,
		ErrKindLoop:            30 * time.Second,
		ErrKindSameClusterName: 30 * time.Second,
		ErrKindMinVersion:      5 * time.Second,
		ErrKindPermission:      30 * time.Second,
		ErrKindDuplicateRemote: 0,
		ErrKindAuth:            0,
		ErrKindBadClusterName:  0,
	}
	for k, d := range want {
		if got := k.ReconnectDelay(); got != d {
			t.Errorf("%v: %v, want %v", k, got, d)
		}
		if k.String() == "" || strings.HasPrefix(k.String(), "ErrKind(") {
			t.Errorf("%d has no name", k)
		}
	}
	if got := ErrKind(200).String(); got != "ErrKind(200)" {
		t.Errorf("%q", got)
	}
}

func TestIsLoopSubject(t *testing.T) {
	for s, want := range map[string]bool{
		"$LDS.Z3sI3If0YZD75olISLyMMx": true,
		"$LDS.":                       true,
		"$LDS":                        false,
		"$lds.x":                      false,
		"foo.$LDS.x":                  false,
		"":                            false,
	} {
		if got := IsLoopSubject([]byte(s)); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}
