package sourcing

import (
	"strings"
	"testing"

	"github.com/leafgate/leafgate/leaf/proto"
)

func TestParseAckReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ackMeta
		ok   bool
	}{
		{"$JS.ACK.S.C.1.42.7.1700000000000000000.3", ackMeta{consumer: "C", dc: 1, sseq: 42, dseq: 7, ts: 1700000000000000000, pending: 3}, true},
		{"$JS.ACK.hub.ACCHASH.S.C.2.5.6.17.0.tok", ackMeta{consumer: "C", dc: 2, sseq: 5, dseq: 6, ts: 17}, true},
		{"$JS.ACK.hub.ACCHASH.S.C.2.5.6.17.0", ackMeta{consumer: "C", dc: 2, sseq: 5, dseq: 6, ts: 17}, true},
		{"$JS.ACK.S.C.1.x.7.1.3", ackMeta{}, false},
		{"$JS.ACK.S.C.1.2.3", ackMeta{}, false},
		{"$JS.FC.S.C.1", ackMeta{}, false},
		{"$JS.ACK.S..1.2.3.4.5", ackMeta{}, false},
		{"", ackMeta{}, false},
	} {
		got, ok := parseAckReply(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSourceHeader(t *testing.T) {
	for _, tc := range []struct {
		iname, subj, ident, want string
	}{
		{"ORDERS > >", "orders.new", "", "ORDERS 1043 > > orders.new"},
		{"ORDERS:Xk3f9abc orders.* >", "orders.eu", "ID123456", "ORDERS:Xk3f9abc 1043 orders.* > orders.eu ID123456"},
		{"ORDERS a.*\fb.* x.{{wildcard(1)}}\fy.>", "a.1", "", "ORDERS 1043 a.*\fb.* x.{{wildcard(1)}}\fy.> a.1"},
	} {
		if got := sourceHeader(tc.iname, 1043, tc.subj, tc.ident); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.iname, got, tc.want)
		}
	}
}

// A sourced message keeps the origin's headers except the checks and
// framing that must not be replayed, and an earlier hop's source header.
func TestSourcedHeader(t *testing.T) {
	in := []byte("NATS/1.0\r\nA: 1\r\nNats-Expected-Last-Sequence: 4\r\nNats-Stream-Source: OLD 1 > > x\r\nNats-Batch-Id: b\r\nNats-Msg-Id: m1\r\n\r\n")
	got := string(sourcedHeader(nil, in, "NEW 9 > > x"))
	want := "NATS/1.0\r\nA: 1\r\nNats-Msg-Id: m1\r\nNats-Stream-Source: NEW 9 > > x\r\n\r\n"
	if got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := string(sourcedHeader(nil, nil, "S 1 > > x")); got != "NATS/1.0\r\nNats-Stream-Source: S 1 > > x\r\n\r\n" {
		t.Fatalf("no origin header: %q", got)
	}
}

func TestControlAndReplyHeaders(t *testing.T) {
	if !isControl([]byte("NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\n\r\n"), nil) {
		t.Fatal("heartbeat not a control message")
	}
	if isControl([]byte("NATS/1.0 100 Idle Heartbeat\r\n\r\n"), []byte("x")) || isControl([]byte("NATS/1.0\r\n\r\n"), nil) {
		t.Fatal("data or a plain header taken for control")
	}
	h := fcReplyHeader(7, 42)
	if headerUint(h, hdrLastConsumer) != 7 || headerUint(h, hdrLastStream) != 42 {
		t.Fatalf("flow-control reply %q", h)
	}
	if r := requestHeader(5, "IDENT"); string(proto.HeaderGet(r, hdrRequiredLevel)) != "5" || string(proto.HeaderGet(r, hdrStreamIdentity)) != "IDENT" {
		t.Fatalf("level 5 request %q", r)
	}
	if r := requestHeader(4, "IDENT"); strings.Contains(string(r), hdrStreamIdentity) {
		t.Fatalf("level 4 request names an identity: %q", r)
	}
	if requestHeader(0, "IDENT") != nil {
		t.Fatal("legacy request has a header")
	}
}

// Deliveries from an origin (subjects, replies, headers) never panic the
// parsers, and what parses back is what was written.
func FuzzDelivery(f *testing.F) {
	f.Add("$JS.ACK.S.C.1.42.7.1700000000000000000.3", []byte("NATS/1.0\r\nA: 1\r\n\r\n"))
	f.Add("$JS.ACK.d.h.S.C.1.2.3.4.5.x", []byte("NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 9\r\n\r\n"))
	f.Add("$JS.ACK....", []byte("NATS/1.0\r\nNats-Stream-Source: x\r\nNats-Expected-Stream: y\r\n\r\n"))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, reply string, hdr []byte) {
		if m, ok := parseAckReply(reply); ok && m.consumer == "" {
			t.Fatalf("empty consumer from %q", reply)
		}
		isControl(hdr, nil)
		headerUint(hdr, hdrLastConsumer)
		out := sourcedHeader(nil, hdr, "S 1 > > x")
		if string(proto.HeaderGet(out, hdrStreamSource)) != "S 1 > > x" {
			t.Fatalf("source header lost from %q: %q", hdr, out)
		}
		for line := range proto.HeaderLines(out) {
			if hasKeyPrefix(line, "Nats-Expected-") || hasKeyPrefix(line, "Nats-Batch-") {
				t.Fatalf("%q kept in %q", line, out)
			}
		}
	})
}
