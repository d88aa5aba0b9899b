package jetstream

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// events collects $JS.EVENT.> and looks advisories up by subject.
type events struct {
	t  *testing.T
	ib *inbox
}

func watchEvents(t *testing.T, r *router.Router) *events {
	return &events{t: t, ib: newInbox(t, r, "$JS.EVENT.>")}
}

// next waits for the next advisory on subj (after those already
// returned for it) and decodes it into a map.
func (ev *events) find(subj string, nth int) map[string]any {
	ev.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := 0
		ev.ib.mu.Lock()
		for _, m := range ev.ib.msgs {
			if m.subject != subj {
				continue
			}
			if seen == nth {
				ev.ib.mu.Unlock()
				var v map[string]any
				if err := json.Unmarshal(m.data, &v); err != nil {
					ev.t.Fatalf("%s: %v: %s", subj, err, m.data)
				}
				return v
			}
			seen++
		}
		ev.ib.mu.Unlock()
		if time.Now().After(deadline) {
			ev.t.Fatalf("no advisory #%d on %s; got %v", nth, subj, ev.subjects())
		}
		select {
		case <-ev.ib.sig:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (ev *events) subjects() []string {
	ev.ib.mu.Lock()
	defer ev.ib.mu.Unlock()
	var out []string
	for _, m := range ev.ib.msgs {
		out = append(out, m.subject)
	}
	return out
}

// check asserts the advisory's fields; "*" means present and not empty.
func check(t *testing.T, v map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := v[k]
		switch {
		case !ok:
			t.Fatalf("%v: no %q", v, k)
		case w == "*":
			if got == "" || got == nil {
				t.Fatalf("%v: %q empty", v, k)
			}
		case got != w:
			t.Fatalf("%v: %q = %v (%T), want %v (%T)", v, k, got, got, w, w)
		}
	}
	if id, _ := v["id"].(string); len(id) != 22 {
		t.Fatalf("%v: id %q is not 22 characters", v, id)
	}
	if _, err := time.Parse(time.RFC3339Nano, v["timestamp"].(string)); err != nil {
		t.Fatalf("%v: timestamp: %v", v, err)
	}
}

// pull asks consumer S.D for n messages into inbox subj.
func (e *env) pull(subj string, n int) {
	body, _ := json.Marshal(jsapi.NextRequest{Batch: n, Expires: 5 * time.Second})
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.S.D"), []byte(subj), nil, body)
}

// The lifecycle of a stream and a consumer sends nats-server's advisories
// with its subjects and fields.
func TestAdvisories(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ev := watchEvents(t, e.r)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	check(t, ev.find("$JS.EVENT.ADVISORY.STREAM.CREATED.S", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.stream_action", "stream": "S", "action": "create"})
	var si struct{ jsapi.Response }
	e.api("STREAM.UPDATE.S", jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxMsgs: 10}, &si)
	check(t, ev.find("$JS.EVENT.ADVISORY.STREAM.UPDATED.S", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.stream_action", "stream": "S", "action": "modify"})
	e.durable("S", jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit, MaxDeliver: 2, SampleFrequency: "100%"})
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.D", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.consumer_action", "stream": "S", "consumer": "D", "action": "create"})

	for range 3 {
		e.publish("s.a", "x")
	}
	got := newInbox(t, e.r, "_INBOX.pull")
	e.pull("_INBOX.pull", 3)
	ack := func(i int, body string) {
		e.r.Publish(&router.Publisher{}, []byte(got.wait(t, i, 5*time.Second).reply), nil, nil, []byte(body))
	}
	ack(0, "-NAK")
	ack(1, "+TERM bad input")
	ack(2, "+ACK")
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.S.D", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.nak", "stream": "S", "consumer": "D",
		"consumer_seq": 1.0, "stream_seq": 1.0, "deliveries": 1.0})
	term := ev.find("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.D", 0)
	check(t, term, map[string]any{
		"type": "io.nats.jetstream.advisory.v1.terminated", "consumer_seq": 2.0, "stream_seq": 2.0, "deliveries": 1.0, "reason": "bad input"})
	metric := ev.find("$JS.EVENT.METRIC.CONSUMER.ACK.S.D", 0)
	check(t, metric, map[string]any{
		"type": "io.nats.jetstream.metric.v1.consumer_ack", "consumer_seq": 3.0, "stream_seq": 3.0, "deliveries": 1.0})
	if at, _ := metric["ack_time"].(float64); at <= 0 {
		t.Fatalf("ack_time %v", metric["ack_time"])
	}
	// The second delivery of message 1 is its last (max_deliver 2): naked
	// again, it is given up when the consumer comes to it.
	e.pull("_INBOX.pull", 1)
	ack(3, "-NAK")
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.S.D", 1), map[string]any{
		"consumer_seq": 4.0, "stream_seq": 1.0, "deliveries": 2.0})
	e.pull("_INBOX.pull", 1)
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.D", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.max_deliver", "stream": "S", "consumer": "D", "stream_seq": 1.0, "deliveries": 2.0})

	until := time.Now().Add(time.Hour).UTC()
	var pr struct{ jsapi.Response }
	e.api("CONSUMER.PAUSE.S.D", jsapi.ConsumerPauseRequest{PauseUntil: until}, &pr)
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.D", 0), map[string]any{
		"type": "io.nats.jetstream.advisory.v1.consumer_pause", "paused": true, "pause_until": until.Format(time.RFC3339Nano)})
	e.api("CONSUMER.PAUSE.S.D", nil, &pr)
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.D", 1), map[string]any{
		"paused": false, "pause_until": "0001-01-01T00:00:00Z"})

	var dr struct{ jsapi.Response }
	e.api("STREAM.DELETE.S", nil, &dr)
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.D", 0), map[string]any{"action": "delete", "consumer": "D"})
	check(t, ev.find("$JS.EVENT.ADVISORY.STREAM.DELETED.S", 0), map[string]any{"action": "delete", "stream": "S"})
	subs := ev.subjects()
	var cd, sd int
	for i, s := range subs {
		switch s {
		case "$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.D":
			cd = i
		case "$JS.EVENT.ADVISORY.STREAM.DELETED.S":
			sd = i
		}
	}
	if cd > sd {
		t.Fatalf("stream deleted before its consumer: %v", subs)
	}
	for _, k := range []string{"server", "domain"} {
		if _, ok := ev.find("$JS.EVENT.ADVISORY.STREAM.DELETED.S", 0)[k]; ok {
			t.Fatalf("stream advisory has %q", k)
		}
	}
}

// Every answered API request is audited with its subject, request body
// and response body; the client is the one account's.
func TestAPIAuditAdvisory(t *testing.T) {
	r := router.New()
	svc, err := Open(Config{Dir: t.TempDir(), Domain: "hub", ServerName: "gw1"}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	e := &env{t: t, r: r, svc: svc}
	ev := watchEvents(t, r)
	e.createStream(jsapi.StreamConfig{Name: "A", Subjects: []string{"a"}})
	var resp struct{ jsapi.Response }
	e.api("STREAM.INFO.NOPE", nil, &resp)
	first := ev.find(jsapi.AdvisoryAPI, 0)
	check(t, first, map[string]any{
		"type": "io.nats.jetstream.advisory.v1.api_audit", "server": "gw1", "domain": "hub",
		"subject": "$JS.API.STREAM.CREATE.A", "request": "*", "response": "*"})
	if !strings.Contains(first["response"].(string), `"type":"io.nats.jetstream.api.v1.stream_create_response"`) {
		t.Fatalf("response %v", first["response"])
	}
	client, _ := first["client"].(map[string]any)
	if client["acc"] != "$G" || client["server"] != "gw1" {
		t.Fatalf("client %v", client)
	}
	second := ev.find(jsapi.AdvisoryAPI, 1)
	check(t, second, map[string]any{"subject": "$JS.API.STREAM.INFO.NOPE"})
	if _, ok := second["request"]; ok {
		t.Fatalf("empty request not omitted: %v", second)
	}
	if !strings.Contains(second["response"].(string), `"err_code":10059`) {
		t.Fatalf("response %v", second["response"])
	}
	// With a domain, stream advisories carry it too.
	check(t, ev.find("$JS.EVENT.ADVISORY.STREAM.CREATED.A", 0), map[string]any{"domain": "hub"})
}

// With nobody subscribed, no advisory is built: no id is ever drawn.
func TestNoAdvisoryWithoutInterest(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit})
	e.publish("s.a", "x")
	got := newInbox(t, e.r, "_INBOX.pull")
	e.pull("_INBOX.pull", 1)
	e.r.Publish(&router.Publisher{}, []byte(got.wait(t, 0, 5*time.Second).reply), nil, nil, []byte("+TERM"))
	// Checking for a listener costs no allocation on the stream's goroutine.
	st := e.svc.lookup("S")
	st.do(func() {
		c := st.consumers["D"]
		ai := ackInfo{sseq: 1, cseq: 1, delivered: 1}
		if n := testing.AllocsPerRun(100, func() {
			c.adviseDelivery(jsapi.AdvisoryMsgNaked, jsapi.TypeNak, ai, "")
			c.adviseMaxDeliver(1, 1)
			c.sampleAck(ai, &pendingMsg{}) // every ack calls it; no sample_freq here
		}); n != 0 {
			t.Errorf("%v allocations per advisory nobody listens to", n)
		}
	})
	var resp struct{ jsapi.Response }
	e.api("STREAM.DELETE.S", nil, &resp)
	e.svc.ids.mu.Lock()
	defer e.svc.ids.mu.Unlock()
	if e.svc.ids.init {
		t.Fatal("an advisory id was drawn with nobody listening")
	}
}

func TestEventIDsUnique(t *testing.T) {
	var g eventIDs
	seen := make(map[string]bool)
	for range 20000 {
		id := g.next()
		if len(id) != 22 || seen[id] {
			t.Fatalf("id %q (len %d) repeated or malformed", id, len(id))
		}
		seen[id] = true
	}
	g.seq = idMaxSeq - 1 // rolls over to a new prefix
	if id := g.next(); len(id) != 22 || seen[id] {
		t.Fatalf("id after rollover %q", id)
	}
}

// sample_freq is checked as nats-server checks it.
func TestSampleFrequencyValidation(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	for _, tc := range []struct {
		freq, err string
	}{
		{"50", ""},
		{"50%", ""},
		{"x%", `failed to parse consumer sampling configuration: strconv.Atoi: parsing "x": invalid syntax`},
		{"-1", "failed to parse consumer sampling configuration: <nil>"},
	} {
		var resp struct{ jsapi.Response }
		e.api("CONSUMER.CREATE.S.C", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{Durable: "C", SampleFrequency: tc.freq}}, &resp)
		switch {
		case tc.err == "" && resp.Error != nil:
			t.Fatalf("%q: %+v", tc.freq, resp.Error)
		case tc.err != "" && (resp.Error == nil || resp.Error.ErrCode != 10095 || resp.Error.Description != tc.err):
			t.Fatalf("%q: %+v, want 10095 %q", tc.freq, resp.Error, tc.err)
		}
		var dr struct{ jsapi.Response }
		e.api("CONSUMER.DELETE.S.C", nil, &dr)
	}
}

// A pause that runs out, a pause set by a consumer update, and an
// ephemeral consumer removed for inactivity each send their advisory.
func TestConsumerAdvisoriesWithoutAPIRequest(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ev := watchEvents(t, e.r)
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	until := time.Now().Add(300 * time.Millisecond).UTC()
	e.durable("S", jsapi.ConsumerConfig{Durable: "P", AckPolicy: jsapi.AckExplicit, PauseUntil: &until})
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.P", 0), map[string]any{
		"paused": false, "pause_until": until.Format(time.RFC3339Nano)})

	later := time.Now().Add(time.Hour).UTC()
	e.durable("S", jsapi.ConsumerConfig{Durable: "P", AckPolicy: jsapi.AckExplicit, PauseUntil: &later})
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.P", 1), map[string]any{
		"paused": true, "pause_until": later.Format(time.RFC3339Nano)})
	var info struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.INFO.S.P", nil, &info)
	if !info.Paused {
		t.Fatalf("an update setting pause_until did not pause: %+v", info)
	}

	var resp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE.S", jsapi.CreateConsumerRequest{Stream: "S", Config: jsapi.ConsumerConfig{
		AckPolicy: jsapi.AckExplicit, InactiveThreshold: 200 * time.Millisecond}}, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	check(t, ev.find("$JS.EVENT.ADVISORY.CONSUMER.DELETED.S."+resp.Name, 0), map[string]any{
		"action": "delete", "consumer": resp.Name})
}
