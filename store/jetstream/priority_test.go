package jetstream

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

func TestCheckPriorityConfig(t *testing.T) {
	scfg := &jsapi.StreamConfig{Name: "S", Replicas: 1}
	for _, tc := range []struct {
		name string
		cc   jsapi.ConsumerConfig
		want uint16
		ttl  time.Duration
	}{
		{"none", jsapi.ConsumerConfig{}, 0, 0},
		{"overflow", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityOverflow, PriorityGroups: []string{"A"}}, 0, 0},
		{"pinned default ttl", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityPinnedClient, PriorityGroups: []string{"A"}}, 0, defaultPinnedTTL},
		{"pinned ttl", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityPinnedClient, PriorityGroups: []string{"A"}, PinnedTTL: time.Second}, 0, time.Second},
		{"pinned negative ttl", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityPinnedClient, PriorityGroups: []string{"A"}, PinnedTTL: -1}, 0, defaultPinnedTTL},
		{"prioritized", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityPrioritized, PriorityGroups: []string{"A", "b-_/=9"}}, 0, 0},
		{"no group", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityOverflow}, 10159, 0},
		{"empty group", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityOverflow, PriorityGroups: []string{""}}, 10161, 0},
		{"bad group", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityOverflow, PriorityGroups: []string{"a.b"}}, 10162, 0},
		{"long group", jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityOverflow, PriorityGroups: []string{strings.Repeat("a", 17)}}, 10162, 0},
		{"push", jsapi.ConsumerConfig{DeliverSubject: "d", PriorityPolicy: jsapi.PriorityOverflow, PriorityGroups: []string{"A"}}, 10178, 0},
		{"groups without policy", jsapi.ConsumerConfig{PriorityGroups: []string{"A"}}, 10196, 0},
		{"ttl without policy", jsapi.ConsumerConfig{PinnedTTL: time.Second}, 10197, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := tc.cc
			cc.AckPolicy = jsapi.AckExplicit
			e := checkConsumerConfig(&cc, scfg)
			var got uint16
			if e != nil {
				got = e.ErrCode
			}
			if got != tc.want {
				t.Fatalf("error %v, want %d", e, tc.want)
			}
			if e == nil && cc.PinnedTTL != tc.ttl {
				t.Fatalf("priority_timeout %v, want %v", cc.PinnedTTL, tc.ttl)
			}
		})
	}
}

func TestPriorityPolicyJSON(t *testing.T) {
	for in, want := range map[string]jsapi.PriorityPolicy{
		`"none"`: jsapi.PriorityNone, `"overflow"`: jsapi.PriorityOverflow,
		`"pinned_client"`: jsapi.PriorityPinnedClient, `"prioritized"`: jsapi.PriorityPrioritized,
	} {
		var p jsapi.PriorityPolicy
		if err := json.Unmarshal([]byte(in), &p); err != nil || p != want {
			t.Errorf("%s: %q %v", in, p, err)
		}
	}
	for _, in := range []string{`"bogus"`, `1`, `""`} {
		var p jsapi.PriorityPolicy
		if err := json.Unmarshal([]byte(in), &p); err == nil || err.Error() != "unknown priority policy: "+in {
			t.Errorf("%s: %v", in, err)
		}
	}
	b, _ := json.Marshal(jsapi.ConsumerConfig{})
	if strings.Contains(string(b), "priority") {
		t.Fatalf("policy none on the wire: %s", b)
	}
}

// Under prioritized, requests queue by priority (no priority group last)
// and a request served with more to go returns behind its equals.
func TestPrioritizedQueue(t *testing.T) {
	c := &consumer{cfg: jsapi.ConsumerConfig{PriorityPolicy: jsapi.PriorityPrioritized}}
	req := func(name string, prio int, hasPG bool, n int) *pullRequest {
		return &pullRequest{reply: name, n: n, hasPG: hasPG, pg: jsapi.PriorityGroup{Priority: prio}}
	}
	for _, wr := range []*pullRequest{req("bare", 0, false, 1), req("p7", 7, true, 2), req("p2a", 2, true, 2), req("p2b", 2, true, 2), req("p0", 0, true, 1)} {
		c.addWaiting(wr)
	}
	var order []string
	for len(c.waiting) > 0 {
		wr := c.waiting[0]
		order = append(order, wr.reply)
		wr.n--
		c.served(wr)
	}
	if got := strings.Join(order, " "); got != "p0 p2a p2b p2a p2b p7 p7 bare" {
		t.Fatalf("served %s", got)
	}
	// Without prioritized, arrival order and round robin.
	c = &consumer{}
	for _, wr := range []*pullRequest{req("a", 5, true, 2), req("b", 0, true, 1), req("c", 0, false, 1)} {
		c.addWaiting(wr)
	}
	order = order[:0]
	for len(c.waiting) > 0 {
		wr := c.waiting[0]
		order = append(order, wr.reply)
		wr.n--
		c.served(wr)
	}
	if got := strings.Join(order, " "); got != "a b c a" {
		t.Fatalf("served %s", got)
	}
}

// ackReplyLen, which max_bytes accounting uses, is the ack reply's length.
func TestAckReplyLen(t *testing.T) {
	c := &consumer{ms: &stream{name: "ORDERS"}, name: "worker-1"}
	vals := []uint64{0, 1, 9, 10, 99, 100, 1<<63 - 1, 1<<64 - 1}
	for range 200 {
		vals = append(vals, rand.Uint64N(1<<uint(rand.IntN(63)+1)))
	}
	for i := range vals {
		a, b, d, p := vals[i], vals[(i+1)%len(vals)], vals[(i+2)%len(vals)], vals[(i+3)%len(vals)]
		ts := int64(vals[(i+4)%len(vals)] >> 1)
		if got, want := c.ackReplyLen(a, b, d, ts, p), len(c.ackReply(a, b, d, ts, p)); got != want {
			t.Fatalf("ackReplyLen(%d,%d,%d,%d,%d) = %d, want %d", a, b, d, ts, p, got, want)
		}
	}
}

// pullBatch sends one pull request and returns its messages, up to n or
// the status line that ends it.
func (e *env) pullBatch(stream, cons, body string, n int) (msgs []inMsg, status string) {
	e.t.Helper()
	e.seq++
	reply := fmt.Sprintf("_INBOX.pull.%d", e.seq)
	ib := newInbox(e.t, e.r, reply)
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+cons), []byte(reply), nil, []byte(body))
	for i := 0; i < n; i++ {
		m := ib.wait(e.t, i, 5*time.Second)
		if len(m.data) == 0 && strings.HasPrefix(string(m.hdr), "NATS/1.0 4") {
			line, _, _ := strings.Cut(string(m.hdr), "\r\n")
			return msgs, strings.TrimPrefix(line, "NATS/1.0 ")
		}
		msgs = append(msgs, m)
	}
	return msgs, ""
}

// max_bytes counts a message as nats-server does: headers_only counts the
// delivered Nats-Msg-Size header and no payload; a request whose batch
// ends with bytes left says 409 Batch Completed.
func TestPullMaxBytesHeadersOnly(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "H", AckPolicy: jsapi.AckExplicit, HeadersOnly: true})
	for range 4 {
		e.publish("s", strings.Repeat("x", 100))
	}
	// Each delivery counts 72: "s" (1), "$JS.ACK.S.H.1.<seq>.<dseq>.<ts>.<pending>"
	// (39), "NATS/1.0\r\nNats-Msg-Size: 100\r\n\r\n" (32) and no payload.
	msgs, st := e.pullBatch("S", "H", `{"batch":10,"max_bytes":130,"no_wait":true}`, 10)
	if len(msgs) != 1 || len(msgs[0].data) != 0 || st != "409 Message Size Exceeds MaxBytes" {
		t.Fatalf("got %d messages, %q", len(msgs), st)
	}
	msgs, st = e.pullBatch("S", "H", `{"batch":2,"max_bytes":1000,"no_wait":true}`, 3)
	if len(msgs) != 2 || st != "409 Batch Completed" {
		t.Fatalf("got %d messages, %q", len(msgs), st)
	}
}

// Pinned client: messages carry the pin, another id gets 423, a pin not
// renewed within priority_timeout goes.
func TestPinnedClientPin(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "P", AckPolicy: jsapi.AckExplicit,
		PriorityPolicy: jsapi.PriorityPinnedClient, PriorityGroups: []string{"A"}, PinnedTTL: 200 * time.Millisecond})
	for range 4 {
		e.publish("s", "x")
	}
	msgs, _ := e.pullBatch("S", "P", `{"batch":1,"group":"A","no_wait":true}`, 1)
	pin := string(headerValue(msgs[0].hdr, pinIDHeader))
	if len(pin) != 22 {
		t.Fatalf("pin %q in %q", pin, msgs[0].hdr)
	}
	if _, st := e.pullBatch("S", "P", `{"batch":1,"group":"A","id":"other"}`, 1); st != "423 Nats-Pin-Id mismatch" {
		t.Fatalf("other id: %q", st)
	}
	var info struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info.PriorityGroups = nil
		e.api("CONSUMER.INFO.S.P", nil, &info)
		if info.PriorityGroups[0].PinnedClientID == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pin not expired: %+v (was %s)", info.PriorityGroups, pin)
		}
	}
	if _, st := e.pullBatch("S", "P", `{"batch":1,"group":"A","id":"`+pin+`","no_wait":true}`, 1); st != "423 Nats-Wrong-Pin-Id" {
		t.Fatalf("stale id: %q", st)
	}
}

func headerValue(hdr []byte, key string) []byte {
	for _, line := range strings.Split(string(hdr), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == key {
			return []byte(v)
		}
	}
	return nil
}

// CONSUMER.RESET moves back to the ack floor or to a sequence, forgetting
// pending deliveries; consumer sequences start again.
func TestConsumerReset(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "R", AckPolicy: jsapi.AckExplicit})
	e.durable("S", jsapi.ConsumerConfig{Durable: "N", AckPolicy: jsapi.AckExplicit, DeliverPolicy: jsapi.DeliverNew})
	for range 6 {
		e.publish("s", "x")
	}
	msgs, _ := e.pullBatch("S", "R", `{"batch":3,"no_wait":true}`, 3)
	e.r.Publish(&router.Publisher{}, []byte(msgs[0].reply), nil, nil, nil)
	var resp consumerResetResp
	decodeReset := func(body string) {
		t.Helper()
		m := e.request("$JS.API.CONSUMER.RESET.S.R", body)
		resp = consumerResetResp{}
		if err := json.Unmarshal(m.data, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Type != jsapi.TypeConsumerReset {
			t.Fatalf("type %q", resp.Type)
		}
	}
	decodeReset("")
	if resp.Error != nil || resp.ResetSeq != 2 || resp.NumAckPending != 0 || resp.Delivered.Consumer != 0 || resp.Delivered.Stream != 1 || resp.NumPending != 5 {
		t.Fatalf("reset: %+v %+v", resp.Error, resp.ConsumerInfo)
	}
	msgs, _ = e.pullBatch("S", "R", `{"batch":1,"no_wait":true}`, 1)
	if !strings.HasPrefix(msgs[0].reply, "$JS.ACK.S.R.1.2.1.") {
		t.Fatalf("after reset: %s", msgs[0].reply)
	}
	decodeReset(`{"seq":5}`)
	if resp.ResetSeq != 5 || resp.NumPending != 2 {
		t.Fatalf("reset to 5: %+v", resp)
	}
	decodeReset(`{"seq":`)
	if resp.Error == nil || resp.Error.ErrCode != 10025 {
		t.Fatalf("bad JSON: %+v", resp.Error)
	}
	m := e.request("$JS.API.CONSUMER.RESET.S.N", `{"seq":2}`)
	if !strings.Contains(string(m.data), `"err_code":10204,"description":"invalid reset: not allowed"`) || !strings.Contains(string(m.data), `"reset_seq":0`) {
		t.Fatalf("deliver new: %s", m.data)
	}
}

// A reset position and priority settings survive a restart.
func TestConsumerResetAndPrioritySurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "R", AckPolicy: jsapi.AckExplicit,
		PriorityPolicy: jsapi.PriorityPinnedClient, PriorityGroups: []string{"A"}, PinnedTTL: time.Minute})
	for range 6 {
		e.publish("s", "x")
	}
	e.pullBatch("S", "R", `{"batch":3,"group":"A","no_wait":true}`, 3)
	m := e.request("$JS.API.CONSUMER.RESET.S.R", `{"seq":5}`)
	if !strings.Contains(string(m.data), `"reset_seq":5`) {
		t.Fatalf("reset: %s", m.data)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	var info struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.INFO.S.R", nil, &info)
	if info.Error != nil || info.NumAckPending != 0 || info.Delivered.Stream != 4 || info.Delivered.Consumer != 0 || info.NumPending != 2 {
		t.Fatalf("after restart: %+v %+v", info.Error, info.ConsumerInfo)
	}
	if c := info.Config; c.PriorityPolicy != jsapi.PriorityPinnedClient || c.PinnedTTL != time.Minute || len(c.PriorityGroups) != 1 {
		t.Fatalf("config after restart: %+v", c)
	}
	// The pin is not kept across a restart (nor by nats-server).
	if len(info.PriorityGroups) != 1 || info.PriorityGroups[0].PinnedClientID != "" {
		t.Fatalf("priority groups after restart: %+v", info.PriorityGroups)
	}
}
