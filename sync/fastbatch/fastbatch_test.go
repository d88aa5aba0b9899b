package fastbatch

import (
	"strings"
	"testing"
)

func TestAppendReply(t *testing.T) {
	for _, tc := range []struct {
		r    Reply
		want string
	}{
		{Reply{ID: "b1", Flow: 100, Seq: 1, Op: Start}, "_INBOX.u.b1.100.fail.1.0.$FI"},
		{Reply{ID: "b1", Flow: 100, Seq: 2, Op: Append}, "_INBOX.u.b1.100.fail.2.1.$FI"},
		{Reply{ID: "b1", Flow: 10, GapOK: true, Seq: 9, Op: Commit}, "_INBOX.u.b1.10.ok.9.2.$FI"},
		{Reply{ID: "b1", Flow: 100, Seq: 10, Op: CommitEOB}, "_INBOX.u.b1.100.fail.10.3.$FI"},
		{Reply{ID: "b1", Flow: 100, Seq: 10, Op: Ping}, "_INBOX.u.b1.100.fail.10.4.$FI"},
	} {
		got := string(AppendReply(nil, "_INBOX.u.", tc.r))
		if got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.r, got, tc.want)
		}
		prefix, r, ok := ParseReply(got)
		if !ok || prefix != "_INBOX.u." || r != tc.r {
			t.Errorf("%s read back as %q %+v %v", got, prefix, r, ok)
		}
	}
}

// ParseReply refuses what nats-server's getFastBatch refuses, and reads
// the flow as it does.
func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		subj string
		ok   bool
		flow uint16
	}{
		{"_INBOX.u.b.100.fail.1.0.$FI", true, 100},
		{"_INBOX.u.b.0.fail.1.0.$FI", true, 10},        // default flow
		{"_INBOX.u.b.x.fail.1.0.$FI", true, 10},        // not a number: nats-server's -1
		{"_INBOX.u.b.70000.fail.1.0.$FI", true, 65535}, // capped
		{"_INBOX.u.b.100.fail.2.0.$FI", false, 0},      // start not at 1
		{"_INBOX.u.b.100.fail.1.1.$FI", false, 0},      // append at 1
		{"_INBOX.u.b.100.fail.1.3.$FI", false, 0},      // EOB with nothing before it
		{"_INBOX.u.b.100.fail.0.2.$FI", false, 0},      // seq 0
		{"_INBOX.u.b.100.fail.1.5.$FI", false, 0},      // unknown op
		{"_INBOX.u.b.100.maybe.1.0.$FI", false, 0},     // unknown gap mode
		{"_INBOX.u.b.100.fail.1.0", false, 0},          // no suffix
		{"b.100.fail.1.0.$FI", false, 0},               // no prefix before the id
		{"_INBOX.u.b.100.fail.18446744073709551615.2.$FI", false, 0},
	} {
		_, r, ok := ParseReply(tc.subj)
		if ok != tc.ok || ok && r.Flow != tc.flow {
			t.Errorf("%s: %+v %v, want ok %v flow %d", tc.subj, r, ok, tc.ok, tc.flow)
		}
	}
}

// The answers as nats-server writes them (BatchFlowAck and friends'
// MarshalJSON, the commit's PubAck in fastBatchCommit, the first
// message's refusal).
func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Answer
	}{
		{`{"type":"ack","seq":0,"msgs":100}`, Answer{Kind: FlowAck, Seq: 0, Msgs: 100}},
		{`{"type":"ack","seq":300,"msgs":100}`, Answer{Kind: FlowAck, Seq: 300, Msgs: 100}},
		{`{"type":"gap","last_seq":5,"seq":7}`, Answer{Kind: Gap, LastSeq: 5, Seq: 7}},
		{`{"type":"err","seq":3,"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"}}`, Answer{Kind: Err, Seq: 3}},
		{`{"stream":"HUBTEL","domain":"hub","seq":1200,"batch":"b1","count":1000}`, Answer{Kind: PubAck, Stream: "HUBTEL", StreamSeq: 1200, Batch: "b1", Count: 1000}},
		{`{"stream":"HUBTEL","seq":7,"duplicate": true,"batch":"b1","count":1}`, Answer{Kind: PubAck, Stream: "HUBTEL", StreamSeq: 7, Batch: "b1", Count: 1, Duplicate: true}},
		{`{"error":{"code":400,"err_code":10205,"description":"batch publish is disabled"}}`, Answer{Kind: PubAck}},
	} {
		a, err := ParseAnswer([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if (a.Error != nil) != strings.Contains(tc.in, `"error"`) {
			t.Fatalf("%s: error %v", tc.in, a.Error)
		}
		a.Error = nil
		if a != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.in, a, tc.want)
		}
	}
	for _, bad := range []string{``, `{}`, `{"type":"what"}`, `{"type":"err","seq":1}`, `[1]`} {
		if a, err := ParseAnswer([]byte(bad)); err == nil {
			t.Errorf("%q read as %+v", bad, a)
		}
	}
	if a, _ := ParseAnswer([]byte(`{"error":{"code":400,"err_code":10205,"description":"batch publish is disabled"}}`)); a.Error.ErrCode != 10205 {
		t.Fatalf("error %+v", a.Error)
	}
}

// Whatever a reply subject holds, ParseReply does not panic, and what it
// accepts it writes back the same (up to the flow nats-server adjusts).
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"_INBOX.u.b.100.fail.1.0.$FI", "_INBOX.u.b.x.ok.2.1.$FI", "a.b.1.fail.3.3.$FI", ".$FI", "..........$FI"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subj string) {
		prefix, r, ok := ParseReply(subj)
		if !ok {
			return
		}
		back := string(AppendReply(nil, prefix, r))
		_, r2, ok2 := ParseReply(back)
		if !ok2 || r2 != r {
			t.Fatalf("%q: %+v written %q read %+v %v", subj, r, back, r2, ok2)
		}
	})
}

// ParseAnswer never panics on what the hub (or anything) sends.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{`{"type":"ack","seq":0,"msgs":100}`, `{"type":"gap","last_seq":5,"seq":7}`, `{"stream":"S","seq":1,"batch":"b","count":1}`, `{"error":{"code":400}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err == nil && a.Kind == 0 {
			t.Fatalf("%q: accepted without a kind", b)
		}
	})
}
