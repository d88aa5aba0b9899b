package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// Compatibility points from nats.go's behaviour, each checked against both
// servers: the same request gives the same answer.

// A push consumer whose deliver subject gains a subscriber after messages
// were stored delivers them at once, without a heartbeat or a new publish
// to wake it.
func TestJSPushDeliversWhenInterestAppears(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "LATE", "late.>")
		if _, err := s.CreateOrUpdatePushConsumer(ctx, jetstream.ConsumerConfig{
			Durable: "L", DeliverSubject: "deliver.late", AckPolicy: jetstream.AckNonePolicy,
		}); err != nil {
			t.Fatal(err)
		}
		consPub(t, ctx, js, "late.x", 3)
		// Nobody listened while they were stored; now someone does.
		sub, err := nc.SubscribeSync("deliver.late")
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			m := nextMsg(t, sub)
			if want := fmt.Sprintf("late.x-%d", i); string(m.Data) != want {
				t.Fatalf("message %d: %q", i, m.Data)
			}
		}
	})
}

// A stream with no_ack that captures request subjects stays silent: the
// requester gets its responder's answer, not a PubAck.
func TestJSNoAckStreamLeavesRequestsAlone(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CAPTURE", Subjects: []string{"svc.>"}, NoAck: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond([]byte("echo:" + string(m.Data))) }); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			resp, err := nc.Request("svc.echo", []byte("hi"), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Data) != "echo:hi" {
				t.Fatalf("request %d answered with %q", i, resp.Data)
			}
		}
		// The requests are stored all the same (unacknowledged, so
		// possibly a moment later).
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, err := js.Stream(ctx, "CAPTURE")
			if err != nil {
				t.Fatal(err)
			}
			n := info.CachedInfo().State.Msgs
			if n >= 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no_ack stream stored %d messages, want at least 5", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Pull requests waiting on one consumer share new messages round-robin:
// each worker gets work, not the first one a whole batch.
func TestJSPullRequestsShareRoundRobin(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "RR", "rr.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy})
		const workers = 3
		var subs []*nats.Subscription
		for range workers {
			subs = append(subs, parkPull(t, nc, c, "RR", "W", `{"batch":10,"expires":30000000000}`))
		}
		consPub(t, ctx, js, "rr.x", 6)
		for i, sub := range subs {
			got, _ := pullReplies(t, sub, 2, 10*time.Second)
			if len(got) != 2 {
				t.Fatalf("worker %d got %d of 6 messages shared by %d", i, len(got), workers)
			}
		}
	})
}

// deleted_details lists every interior and trailing deleted sequence.
func TestJSDeletedDetailsIncludeTheLast(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "DD", "dd")
		consPub(t, ctx, js, "dd", 4)
		for _, seq := range []uint64{2, 4} {
			if err := s.DeleteMsg(ctx, seq); err != nil {
				t.Fatal(err)
			}
		}
		info, err := s.Info(ctx, jetstream.WithDeletedDetails(true))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.NumDeleted != 2 || !slices.Equal(info.State.Deleted, []uint64{2, 4}) {
			t.Fatalf("num_deleted %d deleted %v, want 2 and [2 4]", info.State.NumDeleted, info.State.Deleted)
		}
	})
}

// Consumer create requests are judged as nats-server judges them.
func TestJSConsumerCreateRules(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		consStream(t, ctx, js, "CR", "cr.>")
		create := func(subj, body string) (code int, name, durable string) {
			t.Helper()
			m, err := nc.Request(subj, []byte(body), 10*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", subj, err)
			}
			var resp struct {
				Error *struct {
					ErrCode int `json:"err_code"`
				} `json:"error"`
				Name   string `json:"name"`
				Config struct {
					Durable string `json:"durable_name"`
				} `json:"config"`
			}
			if err := json.Unmarshal(m.Data, &resp); err != nil {
				t.Fatalf("%s: %v: %s", subj, err, m.Data)
			}
			if resp.Error != nil {
				return resp.Error.ErrCode, "", ""
			}
			return 0, resp.Name, resp.Config.Durable
		}
		// filter_subject together with filter_subjects: 10136.
		if code, _, _ := create("$JS.API.CONSUMER.CREATE.CR.A", `{"stream_name":"CR","config":{"name":"A","filter_subject":"cr.a","filter_subjects":["cr.b"]}}`); code != 10136 {
			t.Fatalf("filter_subject with filter_subjects: err_code %d, want 10136", code)
		}
		// A config name that differs from the subject's: the subject's name wins.
		if code, name, _ := create("$JS.API.CONSUMER.CREATE.CR.SUBJ", `{"stream_name":"CR","config":{"name":"OTHER","ack_policy":"explicit"}}`); code != 0 || name != "SUBJ" {
			t.Fatalf("name mismatch: err_code %d name %q, want the subject's name SUBJ", code, name)
		}
		// An update that sets durable_name on that consumer is accepted.
		if code, name, durable := create("$JS.API.CONSUMER.CREATE.CR.SUBJ", `{"stream_name":"CR","config":{"durable_name":"SUBJ","ack_policy":"explicit"}}`); code != 0 || name != "SUBJ" || durable != "SUBJ" {
			t.Fatalf("update setting durable_name: err_code %d name %q durable %q", code, name, durable)
		}
		// A durable_name that differs from the subject's name: 10017.
		if code, _, _ := create("$JS.API.CONSUMER.CREATE.CR.C", `{"stream_name":"CR","config":{"durable_name":"D","ack_policy":"explicit"}}`); code != 10017 {
			t.Fatalf("durable differing from the subject's name: err_code %d, want 10017", code)
		}
	})
}

// An ephemeral consumer outlives a server restart, so a client's Consume
// does not stall when the server comes back.
func TestJSEphemeralConsumerSurvivesRestart(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, probe *harness.Target) {
		probe.Shutdown()
		opts := harness.Options{JetStream: true, StoreDir: t.TempDir()}
		tg := harness.Start(t, probe.Name, opts)
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "EPH", "eph.>")
		consPub(t, ctx, js, "eph.x", 4)
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, InactiveThreshold: time.Hour})
		name := c.CachedInfo().Name
		consAck(t, consFetch(t, c, 2, 10*time.Second)...)
		tg.Shutdown()

		tg = harness.Start(t, probe.Name, opts)
		_, js, ctx = jsConnect(t, tg)
		c, err := js.Consumer(ctx, "EPH", name)
		if err != nil {
			t.Fatalf("ephemeral %s after restart: %v", name, err)
		}
		msgs := consFetch(t, c, 2, 10*time.Second)
		consWantSeqs(t, "after restart", msgs, 3, 4)
	})
}
