package jetstream

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/store/jsapi"
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
		if ai, ok := parseAck(subj); ok && ai.sseq == 0 && ai.delivered == 0 && ai.cseq == 0 && strings.Count(subj, ".") < 8 {
			t.Fatalf("ack parsed from %q, too few tokens", subj)
		}
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

// The waiting queue, under any sequence of arrivals and deliveries, keeps
// every request exactly once until it is done and, under prioritized, in
// priority order.
func FuzzWaitingQueue(f *testing.F) {
	f.Add(true, []byte{3, 200, 7, 0, 11, 200, 200, 5, 200})
	f.Add(false, []byte{1, 2, 200, 3, 200, 200})
	f.Fuzz(func(t *testing.T, prioritized bool, ops []byte) {
		c := &consumer{}
		if prioritized {
			c.cfg.PriorityPolicy = jsapi.PriorityPrioritized
		}
		live := 0
		for i, op := range ops {
			if op < 200 {
				// Arrival: priority 0-9 or none, batch 1-3.
				wr := &pullRequest{n: int(op/11)%3 + 1, hasPG: op%11 != 10, pg: jsapi.PriorityGroup{Priority: int(op % 11)}}
				c.addWaiting(wr)
				live++
			} else if len(c.waiting) > 0 {
				wr := c.waiting[0]
				wr.n--
				c.served(wr)
				if wr.n == 0 {
					live--
				}
			}
			if len(c.waiting) != live {
				t.Fatalf("op %d: %d waiting, want %d", i, len(c.waiting), live)
			}
			seen := make(map[*pullRequest]bool)
			for j, wr := range c.waiting {
				if seen[wr] || wr.n <= 0 {
					t.Fatalf("op %d: request %d repeated or done", i, j)
				}
				seen[wr] = true
				if prioritized && j > 0 && c.waiting[j-1].priority() > wr.priority() {
					t.Fatalf("op %d: out of priority order at %d", i, j)
				}
			}
		}
	})
}

// Stream and consumer configurations from clients never panic the
// validators; a configuration that passes is stable (checking it again
// changes nothing and it is a valid update of itself), and consumers are
// checked against it.
func FuzzStreamConfig(f *testing.F) {
	for _, s := range []string{
		`{"name":"S","subjects":["a.>"]}`,
		`{"name":"ORDERS","subjects":["orders.*","x.>"],"retention":"workqueue","storage":"memory","max_msgs":10,"max_bytes":-1,"max_age":1000000000,"max_msgs_per_subject":3,"discard":"new","discard_new_per_subject":true,"duplicate_window":120000000000,"num_replicas":1}`,
		`{"name":"KV_b","subjects":["$KV.b.>"],"max_msgs_per_subject":5,"allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000}`,
		`{"name":"T","subjects":["in.*.*"],"subject_transform":{"src":"in.*.*","dest":"out.{{wildcard(2)}}.{{wildcard(1)}}"},"republish":{"src":">","dest":"re.>","headers_only":true}}`,
		`{"name":"F","first_seq":100,"sealed":false,"metadata":{"k":"v"},"compression":"s2","placement":{"cluster":"c"}}`,
		`{"name":"M","mirror":{"name":"S"}}`,
		`{"name":"SC","subjects":["s.>"],"allow_msg_schedules":true,"deny_purge":true,"persist_mode":"default"}`,
		`{"name":"U","allow_msg_counter":true,"allow_atomic":true,"allow_batched":true,"persist_mode":"async"}`,
		`{"name":"","subjects":[""]}`,
		`{"name":"a.b"}`,
		`{"name":"S","subjects":["a"],"num_replicas":3}`,
		`{"name":"S","max_msg_size":-5,"max_consumers":-1,"retention":"bogus"}`,
		`{`,
	} {
		f.Add([]byte(s), []byte(`{"durable_name":"D","ack_policy":"explicit","filter_subject":"a.b","deliver_policy":"by_start_sequence","opt_start_seq":5}`))
	}
	f.Add([]byte(`{"name":"S","subjects":["a.>"]}`), []byte(`{"name":"C","filter_subjects":["a.x","a.y"],"deliver_subject":"d","idle_heartbeat":5000000000,"flow_control":true,"rate_limit_bps":1000,"replay_policy":"original"}`))
	f.Add([]byte(`{"name":"S","subjects":["a.>"]}`), []byte(`{"ack_policy":"none","deliver_policy":"last_per_subject","backoff":[1000000000,2000000000],"max_deliver":1,"max_waiting":-1,"inactive_threshold":-1}`))
	f.Add([]byte(`{"name":"S","subjects":["a.>"],"retention":"interest"}`), []byte(`{"durable_name":"a.b","deliver_group":"q","headers_only":true,"max_batch":-1,"max_expires":-1,"pause_until":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"name":"S","subjects":["a.>"]}`), []byte(`{"durable_name":"P","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A","b"],"priority_timeout":-1}`))
	f.Add([]byte(`{"name":"S","subjects":["a.>"]}`), []byte(`{"ack_policy":"explicit","priority_policy":"none","priority_timeout":5}`))
	f.Fuzz(func(t *testing.T, streamJSON, consumerJSON []byte) {
		var in jsapi.StreamConfig
		if json.Unmarshal(streamJSON, &in) != nil {
			return
		}
		cfg, jerr := checkStreamConfig(in)
		if jerr != nil {
			if jerr.Code == 0 || jerr.ErrCode == 0 || jerr.Description == "" {
				t.Fatalf("unusable error %+v for %s", jerr, streamJSON)
			}
			return
		}
		again, jerr := checkStreamConfig(cfg)
		if jerr != nil {
			t.Fatalf("checked configuration rejected on a second check: %v\n%s", jerr, streamJSON)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("second check changed the configuration:\n%+v\n%+v", cfg, again)
		}
		if jerr := checkStreamUpdate(cfg, cfg); jerr != nil {
			t.Fatalf("configuration is not a valid update of itself: %v", jerr)
		}
		var cc jsapi.ConsumerConfig
		if json.Unmarshal(consumerJSON, &cc) != nil {
			return
		}
		if jerr := checkConsumerConfig(&cc, &cfg); jerr != nil && (jerr.Code == 0 || jerr.Description == "") {
			t.Fatalf("unusable consumer error %+v", jerr)
		}
	})
}
