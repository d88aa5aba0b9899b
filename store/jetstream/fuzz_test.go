package jetstream

import (
	"testing"
)

// Consumer state read back from disk never panics, and state that decodes
// re-encodes to the same positions.
func FuzzConsumerState(f *testing.F) {
	c := &consumer{pending: map[uint64]*pendingMsg{}, rdc: map[uint64]uint64{}}
	f.Add(c.encodeState())
	c.dseq, c.sseq, c.floorC, c.floorS = 9, 12, 3, 4
	c.pending[5] = &pendingMsg{cseq: 4, ts: 1e18}
	c.pending[12] = &pendingMsg{cseq: 9, ts: -1}
	c.rdc[5] = 2
	f.Add(c.encodeState())
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &consumer{pending: map[uint64]*pendingMsg{}, rdc: map[uint64]uint64{}}
		if err := c.decodeState(b); err != nil {
			return
		}
		d := &consumer{pending: map[uint64]*pendingMsg{}, rdc: map[uint64]uint64{}}
		if err := d.decodeState(c.encodeState()); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d.dseq != c.dseq || d.sseq != c.sseq || d.floorS != c.floorS || len(d.pending) != len(c.pending) {
			t.Fatalf("round trip changed the state")
		}
	})
}

// Ack subjects and bodies from clients never panic the parsers.
func FuzzAckParsing(f *testing.F) {
	for _, s := range []string{
		"$JS.ACK.S.C.1.2.3.1700000000000000000.0",
		"$JS.ACK.dom.hash.S.C.1.2.3.4.5.tok",
		"$JS.FC.S.C.x",
		"$JS.ACK..",
		"",
	} {
		f.Add(s, []byte("+ACK"))
	}
	f.Add("$JS.ACK.S.C.1.2.3.4.5", []byte(`-NAK {"delay": 1000000000}`))
	f.Add("$JS.ACK.S.C.1.2.3.4.5", []byte("+NXT 10"))
	f.Fuzz(func(t *testing.T, subj string, body []byte) {
		if name, ok := ackStream(subj); ok && name == "" && len(subj) < 8 {
			t.Fatalf("empty stream name from %q", subj)
		}
		parseAck(subj)
		ackKind(body)
	})
}

// Pull request bodies never panic; what parses is a usable request.
func FuzzPullRequest(f *testing.F) {
	for _, s := range []string{``, `1`, `{"batch":5,"expires":1000000000}`, `{"batch":-1,"no_wait":true}`, `{"max_bytes":10}`, `x`, `{`, `{"expires":-5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseNextRequest(body)
		if err != nil {
			return
		}
		if req.Batch <= 0 || req.Expires < 0 || req.MaxBytes < 0 || req.Heartbeat < 0 {
			t.Fatalf("accepted unusable request %+v from %q", req, body)
		}
	})
}
