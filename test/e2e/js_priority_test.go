package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// apiErrCode sends an API request and returns the error code of the
// answer, 0 for success.
func apiErrCode(t *testing.T, nc *nats.Conn, subj, body string) (int, string) {
	t.Helper()
	m, err := nc.Request(subj, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subj, err)
	}
	var resp struct {
		Type  string `json:"type"`
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatalf("%s: %s: %v", subj, m.Data, err)
	}
	if resp.Error == nil {
		return 0, resp.Type
	}
	return resp.Error.ErrCode, resp.Error.Description
}

// parkPull sends a pull request from a fresh inbox and waits until the
// consumer counts it as waiting.
func parkPull(t *testing.T, nc *nats.Conn, c jetstream.Consumer, stream, name, body string) *nats.Subscription {
	t.Helper()
	before := consWaiting(t, c)
	sub := sendPull(t, nc, stream, name, body)
	deadline := time.Now().Add(10 * time.Second)
	for consWaiting(t, c) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("pull request %s is not waiting", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sub
}

// sendPull sends a pull request from a fresh inbox.
func sendPull(t *testing.T, nc *nats.Conn, stream, name, body string) *nats.Subscription {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+name, inbox, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return sub
}

func consWaiting(t *testing.T, c jetstream.Consumer) int {
	t.Helper()
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumWaiting
}

// pullReplies reads n messages (or fewer, up to a status message) from sub.
func pullReplies(t *testing.T, sub *nats.Subscription, n int, wait time.Duration) (msgs []*nats.Msg, status string) {
	t.Helper()
	for len(msgs) < n {
		m, err := sub.NextMsg(wait)
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				return msgs, ""
			}
			t.Fatal(err)
		}
		if s := m.Header.Get("Status"); s != "" && len(m.Data) == 0 {
			return msgs, s + " " + m.Header.Get("Description")
		}
		msgs = append(msgs, m)
	}
	return msgs, ""
}

// noReply checks nothing arrives on sub for a while.
func noReply(t *testing.T, sub *nats.Subscription, wait time.Duration) {
	t.Helper()
	if m, err := sub.NextMsg(wait); err == nil {
		t.Fatalf("unexpected reply %q %v", m.Data, m.Header)
	}
}

// Priority-group settings are validated as nats-server validates them.
func TestJSPriorityConfigErrors(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		consStream(t, ctx, js, "PC", "pc.>")
		cases := []struct {
			cfg  string
			want int
		}{
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"overflow"}`, 10159},
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":[""]}`, 10161},
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["way-too-long-group-name"]}`, 10162},
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["a b"]}`, 10162},
			{`{"durable_name":"A","ack_policy":"explicit","deliver_subject":"dl","priority_policy":"overflow","priority_groups":["A"]}`, 10178},
			{`{"durable_name":"A","ack_policy":"explicit","priority_groups":["A"]}`, 10196},
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"none","priority_timeout":1000000000}`, 10197},
			{`{"durable_name":"A","ack_policy":"explicit","priority_policy":"bogus","priority_groups":["A"]}`, 10025},
		}
		for _, tc := range cases {
			code, desc := apiErrCode(t, nc, "$JS.API.CONSUMER.CREATE.PC.A", `{"stream_name":"PC","config":`+tc.cfg+`}`)
			if code != tc.want {
				t.Errorf("%s: error %d %q, want %d", tc.cfg, code, desc, tc.want)
			}
		}
		// pinned_client gets the 2 minute default priority_timeout; "none" is not echoed.
		m, err := nc.Request("$JS.API.CONSUMER.CREATE.PC.P", []byte(`{"stream_name":"PC","config":{"durable_name":"P","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A","b/=_-9"]}}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ci jetstream.ConsumerInfo
		if err := json.Unmarshal(m.Data, &ci); err != nil {
			t.Fatal(err)
		}
		if ci.Config.PinnedTTL != 2*time.Minute || ci.Config.PriorityPolicy != jetstream.PriorityPolicyPinned {
			t.Fatalf("config %+v", ci.Config)
		}
		if len(ci.PriorityGroups) != 1 || ci.PriorityGroups[0].Group != "A" || ci.PriorityGroups[0].PinnedClientID != "" {
			t.Fatalf("priority groups %+v", ci.PriorityGroups)
		}
		m, err = nc.Request("$JS.API.CONSUMER.CREATE.PC.N", []byte(`{"stream_name":"PC","config":{"durable_name":"N","ack_policy":"explicit","priority_policy":"none"}}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Config map[string]any  `json:"config"`
			Groups json.RawMessage `json:"priority_groups"`
		}
		if err := json.Unmarshal(m.Data, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.Config["priority_policy"]; ok {
			t.Fatalf("policy none echoed: %s", m.Data)
		}
		if raw.Groups != nil {
			t.Fatalf("priority_groups without groups: %s", m.Data)
		}
	})
}

// Pull requests' priority fields are checked against the consumer's policy.
func TestJSPriorityPullRequestErrors(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PR", "pr.>")
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "PLAIN", AckPolicy: jetstream.AckExplicitPolicy})
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "OV", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyOverflow, PriorityGroups: []string{"A"}})
		cases := []struct{ cons, body, want string }{
			{"PLAIN", `{"batch":1,"min_pending":5,"group":"A"}`, "400 Bad Request - Not a Overflow Priority consumer"},
			{"PLAIN", `{"batch":1,"id":"x","group":"A"}`, "400 Bad Request - Not a Pinned Client Priority consumer"},
			{"PLAIN", `{"batch":1,"priority":10}`, "400 Bad Request - Priority must be between 0 and 9"},
			{"PLAIN", `{"batch":1,"idle_heartbeat":1000000000,"expires":1500000000}`, "400 Bad Request - heartbeat value too large"},
			{"OV", `{"batch":1,"id":"x","group":"A"}`, "400 Bad Request - Not a Pinned Client Priority consumer"},
			{"OV", `{"batch":1,"expires":1000000000}`, "400 Bad Request - Priority Group missing"},
			{"OV", `{"batch":1,"group":"B"}`, "400 Bad Request - Invalid Priority Group"},
			{"OV", `{"batch":1,"group":"A","priority":-1}`, "400 Bad Request - Priority must be between 0 and 9"},
		}
		for _, tc := range cases {
			inbox := nats.NewInbox()
			sub, err := nc.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.PR."+tc.cons, inbox, []byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			if _, st := pullReplies(t, sub, 1, 5*time.Second); st != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.cons, tc.body, st, tc.want)
			}
			_ = sub.Unsubscribe()
		}
	})
}

// Overflow: a request with min_pending or min_ack_pending only gets
// messages while the consumer is at or over one of them (the nats.go
// client test's sequence).
func TestJSPriorityOverflow(t *testing.T) {
	t.Parallel() // waits, mostly: it overlaps with the other waiting tests
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "OF", "of.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "O", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyOverflow, PriorityGroups: []string{"A"}})
		if c.CachedInfo().Config.PriorityPolicy != jetstream.PriorityPolicyOverflow {
			t.Fatalf("policy %v", c.CachedInfo().Config.PriorityPolicy)
		}
		consPub(t, ctx, js, "of.x", 100)
		fetch := func(want int, wait time.Duration, opts ...jetstream.FetchOpt) []jetstream.Msg {
			t.Helper()
			b, err := c.Fetch(10, append(opts, jetstream.FetchPriorityGroup("A"), jetstream.FetchMaxWait(wait))...)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []jetstream.Msg
			for m := range b.Messages() {
				msgs = append(msgs, m)
			}
			if len(msgs) != want {
				t.Fatalf("fetched %d, want %d (%v)", len(msgs), want, b.Error())
			}
			return msgs
		}
		// 100 pending: under min_pending 110.
		fetch(0, time.Second, jetstream.FetchMinPending(110))
		consPub(t, ctx, js, "of.x", 100)
		for _, m := range fetch(10, 10*time.Second, jetstream.FetchMinPending(110)) {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Nothing unacknowledged: under min_ack_pending 10.
		fetch(0, time.Second, jetstream.FetchMinAckPending(10))
		// 10 left unacknowledged, then min_ack_pending 10 is met.
		fetch(10, 10*time.Second)
		fetch(10, 10*time.Second, jetstream.FetchMinAckPending(10))
		// A request of the group without thresholds is served as usual.
		fetch(10, 10*time.Second)

		// The boundary: min_pending counts the message about to go.
		// 160 pending: served at 160, 159 and 158, not at 157.
		fetch(3, 5*time.Second, jetstream.FetchMinPending(158))
		fetch(0, time.Second, jetstream.FetchMinPending(158))
	})
}

// Pinned client with nats.go's Messages: the pinned iterator gets the
// messages; once it stops, priority_timeout hands the pin to the other.
func TestJSPriorityPinnedHandover(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PH", "ph.>")
		// A 3 s pin timeout, renewed by each pull the pinned iterator
		// sends, holds on a busy machine. A 2 s ack wait: the stopped
		// iterator's last pull request may still be waiting at the
		// server and take one message before the pin moves (nats-server
		// does); it comes back to the new pin holder after the ack wait.
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Second,
			PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}, PinnedTTL: 3 * time.Second})
		handle := func() jetstream.Consumer {
			c, err := s.Consumer(ctx, "P")
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		consPub(t, ctx, js, "ph.x", 5)
		first, err := handle().Messages(jetstream.PullPriorityGroup("A"))
		if err != nil {
			t.Fatal(err)
		}
		var pin string
		for i := range 5 {
			m, err := first.Next()
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				pin = m.Headers().Get("Nats-Pin-Id")
			} else if m.Headers().Get("Nats-Pin-Id") != pin {
				t.Fatalf("pin changed: %q, %q", pin, m.Headers().Get("Nats-Pin-Id"))
			}
			_ = m.Ack()
		}
		if _, err := handle().Messages(jetstream.PullMaxMessages(10)); err == nil {
			t.Fatal("nats.go accepted Messages without the priority group")
		}
		second, err := handle().Messages(jetstream.PullPriorityGroup("A"))
		if err != nil {
			t.Fatal(err)
		}
		defer second.Stop()
		got := make(chan jetstream.Msg, 10)
		go func() {
			for {
				m, err := second.Next()
				if err != nil {
					return
				}
				_ = m.Ack()
				got <- m
			}
		}()
		consPub(t, ctx, js, "ph.x", 5)
		// The pinned iterator still takes them.
		for range 5 {
			m, err := first.Next()
			if err != nil {
				t.Fatal(err)
			}
			_ = m.Ack()
		}
		select {
		case m := <-got:
			t.Fatalf("unpinned iterator got %s", m.Subject())
		case <-time.After(300 * time.Millisecond):
		}
		first.Stop()
		consPub(t, ctx, js, "ph.x", 5)
		seen := map[uint64]bool{}
		for len(seen) < 5 {
			select {
			case m := <-got:
				if p := m.Headers().Get("Nats-Pin-Id"); p == "" || p == pin {
					t.Fatalf("new pin %q, old %q", p, pin)
				}
				seen[consMeta(t, m).Sequence.Stream] = true
			case <-time.After(20 * time.Second):
				t.Fatalf("the second iterator got %d of 5 messages after the handover", len(seen))
			}
		}
	})
}

// Pinned client: the first request's client is pinned and is the only one
// served; the pin id rides on each message and in consumer info; another
// id ends with 423; UNPIN hands over to a waiting client.
func TestJSPriorityPinned(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PN", "pn.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}, PinnedTTL: time.Minute})
		consPub(t, ctx, js, "pn.x", 20)
		adv, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.*.PN.P")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}

		// nats.go: one consumer handle takes the pin, another waits.
		first, err := s.Consumer(ctx, "P")
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Consumer(ctx, "P")
		if err != nil {
			t.Fatal(err)
		}
		fetchN := func(h jetstream.Consumer, wait time.Duration) ([]jetstream.Msg, error) {
			b, err := h.Fetch(2, jetstream.FetchPriorityGroup("A"), jetstream.FetchMaxWait(wait))
			if err != nil {
				t.Fatal(err)
			}
			var msgs []jetstream.Msg
			for m := range b.Messages() {
				msgs = append(msgs, m)
				_ = m.Ack()
			}
			return msgs, b.Error()
		}
		msgs, _ := fetchN(first, 10*time.Second)
		if len(msgs) != 2 {
			t.Fatalf("pinned fetch got %d", len(msgs))
		}
		pin := msgs[0].Headers().Get("Nats-Pin-Id")
		if len(pin) != 22 || msgs[1].Headers().Get("Nats-Pin-Id") != pin {
			t.Fatalf("pin ids %q %q", pin, msgs[1].Headers().Get("Nats-Pin-Id"))
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.PriorityGroups) != 1 || info.PriorityGroups[0].PinnedClientID != pin || info.PriorityGroups[0].PinnedTS.IsZero() {
			t.Fatalf("priority groups %+v, pin %s", info.PriorityGroups, pin)
		}
		if msgs, _ := fetchN(second, time.Second); len(msgs) != 0 {
			t.Fatalf("unpinned client got %d messages", len(msgs))
		}
		if msgs, _ := fetchN(first, 10*time.Second); len(msgs) != 2 {
			t.Fatalf("pinned client got %d messages", len(msgs))
		}

		// Raw: another id ends at once with 423.
		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.PN.P", inbox, []byte(`{"batch":1,"group":"A","id":"bogus","expires":5000000000}`)); err != nil {
			t.Fatal(err)
		}
		if _, st := pullReplies(t, sub, 1, 5*time.Second); st != "423 Nats-Pin-Id mismatch" {
			t.Fatalf("wrong id: %q", st)
		}

		// A request without the id waits; UNPIN hands the pin to it.
		waiter := parkPull(t, nc, c, "PN", "P", `{"batch":2,"group":"A","expires":30000000000}`)
		noReply(t, waiter, 300*time.Millisecond)
		for _, tc := range []struct {
			cons, body string
			want       int
		}{
			{"P", ``, 10025},
			{"P", `{}`, 10025},
			{"P", `{"group":"B"}`, 10160},
			{"P", `{"group":"bad group"}`, 10162},
			{"NOPE", `{"group":"A"}`, 10014},
		} {
			if code, desc := apiErrCode(t, nc, "$JS.API.CONSUMER.UNPIN.PN."+tc.cons, tc.body); code != tc.want {
				t.Errorf("unpin %s %s: %d %q, want %d", tc.cons, tc.body, code, desc, tc.want)
			}
		}
		if code, typ := apiErrCode(t, nc, "$JS.API.CONSUMER.UNPIN.NOPE.P", `{"group":"A"}`); code != 10059 {
			t.Errorf("unpin on a missing stream: %d %s", code, typ)
		}
		if err := s.UnpinConsumer(ctx, "P", "A"); err != nil {
			t.Fatal(err)
		}
		got, _ := pullReplies(t, waiter, 2, 10*time.Second)
		if len(got) != 2 {
			t.Fatalf("after unpin the waiting request got %d", len(got))
		}
		newPin := got[0].Header.Get("Nats-Pin-Id")
		if newPin == "" || newPin == pin {
			t.Fatalf("new pin %q, old %q", newPin, pin)
		}
		// Both servers advised the pin, its end by UNPIN and the new pin.
		type pinEvent struct {
			Type, Account, Stream, Consumer, Group, Reason string
			PinnedID                                       string `json:"pinned_id"`
		}
		wantEvents := []pinEvent{
			{Type: "io.nats.jetstream.advisory.v1.consumer_group_pinned", Account: "$G", Stream: "PN", Consumer: "P", Group: "A", PinnedID: pin},
			{Type: "io.nats.jetstream.advisory.v1.consumer_group_unpinned", Account: "$G", Stream: "PN", Consumer: "P", Group: "A", Reason: "admin"},
			{Type: "io.nats.jetstream.advisory.v1.consumer_group_pinned", Account: "$G", Stream: "PN", Consumer: "P", Group: "A", PinnedID: newPin},
		}
		wantSubj := []string{"$JS.EVENT.ADVISORY.CONSUMER.PINNED.PN.P", "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PN.P", "$JS.EVENT.ADVISORY.CONSUMER.PINNED.PN.P"}
		for i, want := range wantEvents {
			m := nextMsg(t, adv)
			var got pinEvent
			if err := json.Unmarshal(m.Data, &got); err != nil {
				t.Fatalf("advisory %s: %v", m.Data, err)
			}
			if m.Subject != wantSubj[i] || got != want {
				t.Fatalf("advisory %d on %s: %+v, want %+v on %s", i, m.Subject, got, want, wantSubj[i])
			}
		}

		// The old holder's id is refused now.
		if _, err := fetchN(first, 5*time.Second); !errors.Is(err, jetstream.ErrPinIDMismatch) {
			t.Fatalf("old pin holder: %v", err)
		}
		if code, typ := apiErrCode(t, nc, "$JS.API.CONSUMER.UNPIN.PN.P", `{"group":"A"}`); code != 0 || typ != "io.nats.jetstream.api.v1.consumer_unpin_response" {
			t.Fatalf("unpin: %d %s", code, typ)
		}
	})
}

// A pin that no request renews within priority_timeout goes; a request
// still carrying it then ends with 423 Nats-Wrong-Pin-Id, and a new
// client is pinned.
func TestJSPriorityPinnedTTL(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PT", "pt.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}, PinnedTTL: 500 * time.Millisecond})
		consPub(t, ctx, js, "pt.x", 5)
		sub := sendPull(t, nc, "PT", "P", `{"batch":1,"group":"A","expires":10000000000}`)
		got, _ := pullReplies(t, sub, 1, 10*time.Second)
		if len(got) != 1 {
			t.Fatal("no message for the first request")
		}
		pin := got[0].Header.Get("Nats-Pin-Id")
		deadline := time.Now().Add(15 * time.Second)
		for {
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.PriorityGroups[0].PinnedClientID == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the pin did not expire")
			}
			time.Sleep(50 * time.Millisecond)
		}
		stale := sendPull(t, nc, "PT", "P", fmt.Sprintf(`{"batch":1,"group":"A","id":%q,"expires":10000000000}`, pin))
		if _, st := pullReplies(t, stale, 1, 10*time.Second); st != "423 Nats-Wrong-Pin-Id" {
			t.Fatalf("stale pin: %q", st)
		}
		fresh := sendPull(t, nc, "PT", "P", `{"batch":1,"group":"A","expires":10000000000}`)
		got, _ = pullReplies(t, fresh, 1, 10*time.Second)
		if len(got) != 1 || got[0].Header.Get("Nats-Pin-Id") == pin || got[0].Header.Get("Nats-Pin-Id") == "" {
			t.Fatalf("new client: %d messages", len(got))
		}
	})
}

// Prioritized: waiting requests are served by priority, 0 first; equal
// priorities take turns; a bare batch request comes last.
func TestJSPriorityPrioritized(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PP", "pp.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPrioritized, PriorityGroups: []string{"A"}})
		bare := parkPull(t, nc, c, "PP", "P", `1`)
		low := parkPull(t, nc, c, "PP", "P", `{"batch":2,"group":"A","priority":7,"expires":30000000000}`)
		hiA := parkPull(t, nc, c, "PP", "P", `{"batch":2,"group":"A","priority":2,"expires":30000000000}`)
		hiB := parkPull(t, nc, c, "PP", "P", `{"batch":2,"group":"A","priority":2,"expires":30000000000}`)
		top := parkPull(t, nc, c, "PP", "P", `{"batch":1,"group":"A","expires":30000000000}`)
		consPub(t, ctx, js, "pp.x", 8)
		want := []struct {
			sub  *nats.Subscription
			seqs []uint64
		}{
			{top, []uint64{1}},
			{hiA, []uint64{2, 4}},
			{hiB, []uint64{3, 5}},
			{low, []uint64{6, 7}},
			{bare, []uint64{8}},
		}
		for i, w := range want {
			got, _ := pullReplies(t, w.sub, len(w.seqs), 10*time.Second)
			if len(got) != len(w.seqs) {
				t.Fatalf("request %d got %d messages, want %d", i, len(got), len(w.seqs))
			}
			for j, m := range got {
				if seq := ackStreamSeq(t, m); seq != w.seqs[j] {
					t.Fatalf("request %d message %d: stream seq %d, want %d", i, j, seq, w.seqs[j])
				}
			}
		}
		// nats.go's FetchPrioritized sends the priority.
		b, err := c.Fetch(1, jetstream.FetchPriorityGroup("A"), jetstream.FetchPrioritized(3), jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for range b.Messages() {
			t.Fatal("no message expected")
		}
		if err := b.Error(); err != nil {
			t.Fatalf("prioritized fetch: %v", err)
		}
	})
}

// ackStreamSeq is the stream sequence in a delivery's ack reply.
func ackStreamSeq(t *testing.T, m *nats.Msg) uint64 {
	t.Helper()
	toks := strings.Split(m.Reply, ".")
	if len(toks) != 9 {
		t.Fatalf("ack reply %q", m.Reply)
	}
	n, err := strconv.ParseUint(toks[5], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// no_wait requests end as nats-server ends them: with 404 at once when
// nothing can be delivered now (empty, or under overflow thresholds) or
// after some messages, but a no_wait request with expires that got
// nothing waits for its expiry (408).
func TestJSPullNoWaitEnds(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "NW", "nw.>")
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy})
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "O", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyOverflow, PriorityGroups: []string{"A"}})
		steps := []struct {
			cons, body string
			n          int
			status     string
		}{
			{"D", `{"batch":5,"no_wait":true,"expires":1000000000}`, 0, "408 Request Timeout"},
			{"D", `{"batch":5,"no_wait":true}`, 0, "404 No Messages"},
			{"", "", 0, ""}, // publish 3
			{"O", `{"batch":5,"no_wait":true,"group":"A","min_pending":10}`, 0, "404 No Messages"},
			{"O", `{"batch":5,"no_wait":true,"expires":1000000000,"group":"A","min_pending":10}`, 0, "408 Request Timeout"},
			{"O", `{"batch":5,"no_wait":true,"group":"A","min_pending":2}`, 2, "404 No Messages"},
			{"D", `{"batch":5,"no_wait":true,"expires":1000000000}`, 3, "404 No Messages"},
		}
		for _, st := range steps {
			if st.cons == "" {
				consPub(t, ctx, js, "nw.x", 3)
				continue
			}
			msgs, status := pullReplies(t, sendPull(t, nc, "NW", st.cons, st.body), 10, 10*time.Second)
			if len(msgs) != st.n || status != st.status {
				t.Errorf("%s %s: %d messages, %q; want %d, %q", st.cons, st.body, len(msgs), status, st.n, st.status)
			}
		}
	})
}

// A bare batch-size request (not JSON) has no priority group: on a pinned
// consumer with no pin it is served without taking the pin (its messages
// carry an empty Nats-Pin-Id), and while a pin is held it waits; on an
// overflow consumer it is served as usual.
func TestJSPriorityBareRequests(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PB", "pb.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}})
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "O", AckPolicy: jetstream.AckExplicitPolicy,
			PriorityPolicy: jetstream.PriorityPolicyOverflow, PriorityGroups: []string{"A"}})
		consPub(t, ctx, js, "pb.x", 6)
		pinOf := func() string {
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return info.PriorityGroups[0].PinnedClientID
		}
		msgs, _ := pullReplies(t, sendPull(t, nc, "PB", "P", `2`), 2, 10*time.Second)
		if len(msgs) != 2 || pinOf() != "" {
			t.Fatalf("bare request: %d messages, pin %q", len(msgs), pinOf())
		}
		for _, m := range msgs {
			if v := m.Header.Values("Nats-Pin-Id"); len(v) != 1 || v[0] != "" {
				t.Fatalf("pin header %q", v)
			}
		}
		msgs, _ = pullReplies(t, sendPull(t, nc, "PB", "P", `{"batch":1,"group":"A","expires":5000000000}`), 1, 10*time.Second)
		if len(msgs) != 1 || pinOf() == "" {
			t.Fatalf("group request: %d messages, pin %q", len(msgs), pinOf())
		}
		noReply(t, parkPull(t, nc, c, "PB", "P", `1`), 500*time.Millisecond)
		if msgs, _ := pullReplies(t, sendPull(t, nc, "PB", "O", `2`), 2, 10*time.Second); len(msgs) != 2 {
			t.Fatalf("bare request on overflow: %d messages", len(msgs))
		}
	})
}
