package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// CONSUMER.RESET moves a consumer back to its ack floor or to a stream
// sequence, forgetting pending deliveries, with the same answers and
// errors from both servers.
func TestJSConsumerReset(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "RS", "rs.>")
		consPub(t, ctx, js, "rs.x", 10)
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "R", AckPolicy: jetstream.AckExplicitPolicy})
		msgs := consFetch(t, c, 5, 5*time.Second)
		for _, m := range msgs[:2] {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := js.ResetConsumer(ctx, "RS", "R")
		if err != nil {
			t.Fatal(err)
		}
		if resp.ResetSeq != 3 || resp.NumAckPending != 0 || resp.NumPending != 8 || resp.NumRedelivered != 0 ||
			resp.Delivered.Consumer != 0 || resp.Delivered.Stream != 2 || resp.Delivered.Last != nil ||
			resp.AckFloor.Consumer != 0 || resp.AckFloor.Stream != 2 || resp.AckFloor.Last != nil {
			t.Fatalf("reset to the ack floor: seq %d, %+v", resp.ResetSeq, resp.ConsumerInfo)
		}
		msgs = consFetch(t, c, 1, 5*time.Second)
		meta, err := msgs[0].Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if meta.Sequence.Stream != 3 || meta.Sequence.Consumer != 1 || meta.NumDelivered != 1 {
			t.Fatalf("first delivery after reset: %+v", meta)
		}
		resp, err = s.ResetConsumerToSequence(ctx, "R", 8)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ResetSeq != 8 || resp.NumPending != 3 || resp.Delivered.Stream != 7 {
			t.Fatalf("reset to 8: %+v", resp.ConsumerInfo)
		}
		msgs = consFetch(t, c, 1, 5*time.Second)
		if meta, _ := msgs[0].Metadata(); meta.Sequence.Stream != 8 {
			t.Fatalf("after reset to 8: %+v", meta)
		}
		resp, err = s.ResetConsumerToSequence(ctx, "R", 100)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ResetSeq != 100 || resp.NumPending != 0 || resp.Delivered.Stream != 99 {
			t.Fatalf("reset past the end: %+v", resp.ConsumerInfo)
		}

		// Only deliver policies all, by_start_sequence and by_start_time
		// take a sequence; every policy can go back to its ack floor.
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "N", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy})
		if _, err := s.ResetConsumerToSequence(ctx, "N", 2); !errors.Is(err, jetstream.ErrConsumerInvalidReset) {
			t.Fatalf("deliver new with a sequence: %v", err)
		}
		if resp, err := s.ResetConsumer(ctx, "N"); err != nil || resp.ResetSeq != 11 {
			t.Fatalf("deliver new to its floor: %v %+v", err, resp)
		}
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "B", AckPolicy: jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 5})
		for _, tc := range []struct{ cons, body, want string }{
			{"B", `{"seq":3}`, `"error":{"code":400,"err_code":10204,"description":"invalid reset: below start seq"}`},
			{"N", `{"seq":3}`, `"error":{"code":400,"err_code":10204,"description":"invalid reset: not allowed"}`},
			{"B", `{"seq":`, `"err_code":10025`},
			{"B", `{"seq":6}`, `"reset_seq":6`},
		} {
			m, err := nc.Request("$JS.API.CONSUMER.RESET.RS."+tc.cons, []byte(tc.body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(m.Data), tc.want) || !strings.Contains(string(m.Data), `"type":"io.nats.jetstream.api.v1.consumer_reset_response"`) {
				t.Errorf("%s %s: %s", tc.cons, tc.body, m.Data)
			}
		}
		// Under interest retention, messages a reset skips past are no
		// longer wanted by anyone and go.
		is, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RI", Subjects: []string{"ri.>"}, Retention: jetstream.InterestPolicy})
		if err != nil {
			t.Fatal(err)
		}
		consCreate(t, ctx, is, jetstream.ConsumerConfig{Durable: "I", AckPolicy: jetstream.AckExplicitPolicy})
		consPub(t, ctx, js, "ri.x", 5)
		if _, err := is.ResetConsumerToSequence(ctx, "I", 4); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			info, err := is.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs == 2 && info.State.FirstSeq == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("interest stream after reset: %+v", info.State)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// A reset for a consumer or stream that does not exist is not
		// answered (nats-server has a responder, so no 503 either).
		for _, subj := range []string{"$JS.API.CONSUMER.RESET.RS.NOPE", "$JS.API.CONSUMER.RESET.NOPE.R"} {
			if _, err := nc.Request(subj, nil, time.Second); !errors.Is(err, nats.ErrTimeout) {
				t.Fatalf("%s: %v", subj, err)
			}
		}
	})
}
