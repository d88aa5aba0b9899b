package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

func consStream(t *testing.T, ctx context.Context, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects})
	if err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	return s
}

// consPub publishes n messages to subj with bodies "<subj>-<i>" (i from 1)
// and checks the stream sequences they were given are consecutive.
func consPub(t *testing.T, ctx context.Context, js jetstream.JetStream, subj string, n int) {
	t.Helper()
	var first uint64
	for i := 1; i <= n; i++ {
		ack, err := js.Publish(ctx, subj, []byte(fmt.Sprintf("%s-%d", subj, i)))
		if err != nil {
			t.Fatalf("publish %s #%d: %v", subj, i, err)
		}
		if i == 1 {
			first = ack.Sequence
		} else if ack.Sequence != first+uint64(i-1) {
			t.Fatalf("publish %s #%d: sequence %d, want %d", subj, i, ack.Sequence, first+uint64(i-1))
		}
	}
}

// consPubAsync publishes n small messages to subj asynchronously.
func consPubAsync(t *testing.T, js jetstream.JetStream, subj string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := js.PublishAsync(subj, []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("publish async #%d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(15 * time.Second):
		t.Fatalf("async publish: %d acks still pending", js.PublishAsyncPending())
	}
}

func consCreate(t *testing.T, ctx context.Context, s jetstream.Stream, cfg jetstream.ConsumerConfig) jetstream.Consumer {
	t.Helper()
	c, err := s.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		t.Fatalf("create consumer %+v: %v", cfg, err)
	}
	return c
}

// consFetch fetches up to n messages waiting at most wait.
func consFetch(t *testing.T, c jetstream.Consumer, n int, wait time.Duration) []jetstream.Msg {
	t.Helper()
	b, err := c.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatalf("fetch %d: %v", n, err)
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if err := b.Error(); err != nil {
		t.Fatalf("fetch %d: batch error: %v", n, err)
	}
	return msgs
}

func consMeta(t *testing.T, m jetstream.Msg) *jetstream.MsgMetadata {
	t.Helper()
	md, err := m.Metadata()
	if err != nil {
		t.Fatalf("metadata of %q (reply %q): %v", m.Subject(), m.Reply(), err)
	}
	return md
}

// consSeqs returns the stream sequences of msgs.
func consSeqs(t *testing.T, msgs []jetstream.Msg) []uint64 {
	t.Helper()
	seqs := []uint64{}
	for _, m := range msgs {
		seqs = append(seqs, consMeta(t, m).Sequence.Stream)
	}
	return seqs
}

func consWantSeqs(t *testing.T, what string, msgs []jetstream.Msg, want ...uint64) {
	t.Helper()
	if want == nil {
		want = []uint64{}
	}
	if got := consSeqs(t, msgs); !slices.Equal(got, want) {
		t.Fatalf("%s: stream sequences %v, want %v", what, got, want)
	}
}

func consAck(t *testing.T, msgs ...jetstream.Msg) {
	t.Helper()
	for _, m := range msgs {
		if err := m.DoubleAck(context.Background()); err != nil {
			t.Fatalf("ack %q: %v", m.Subject(), err)
		}
	}
}

func consInfo(t *testing.T, ctx context.Context, c jetstream.Consumer) *jetstream.ConsumerInfo {
	t.Helper()
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return ci
}

// consCounts is the part of consumer info most tests check.
type consCounts struct {
	Pending, AckPending, Redelivered int
	Delivered, AckFloor              jetstream.SequenceInfo
}

// consWantInfo waits up to 2 s for the consumer's counts to become want:
// plain acks are processed asynchronously by both servers.
func consWantInfo(t *testing.T, ctx context.Context, c jetstream.Consumer, want consCounts) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		ci := consInfo(t, ctx, c)
		got := consCounts{
			Pending: int(ci.NumPending), AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered,
			Delivered: jetstream.SequenceInfo{Consumer: ci.Delivered.Consumer, Stream: ci.Delivered.Stream},
			AckFloor:  jetstream.SequenceInfo{Consumer: ci.AckFloor.Consumer, Stream: ci.AckFloor.Stream},
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s info:\n got %+v\nwant %+v", ci.Name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sq(consumer, stream uint64) jetstream.SequenceInfo {
	return jetstream.SequenceInfo{Consumer: consumer, Stream: stream}
}

func TestJSConsumerPullFetch(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "PULL", "pull.>")

		// Empty stream: FetchNoWait returns nothing at once, Fetch waits
		// for MaxWait and returns nothing.
		dur := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "dur", AckPolicy: jetstream.AckExplicitPolicy})
		start := time.Now()
		b, err := dur.FetchNoWait(5)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range b.Messages() {
			n++
		}
		if n != 0 || b.Error() != nil {
			t.Fatalf("FetchNoWait on empty stream: %d messages, err %v", n, b.Error())
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("FetchNoWait on empty stream took %v", el)
		}
		start = time.Now()
		if msgs := consFetch(t, dur, 5, 400*time.Millisecond); len(msgs) != 0 {
			t.Fatalf("Fetch on empty stream: %d messages", len(msgs))
		}
		if el := time.Since(start); el < 350*time.Millisecond || el > 10*time.Second {
			t.Fatalf("Fetch with MaxWait 400ms on empty stream returned after %v", el)
		}

		consPub(t, ctx, js, "pull.a", 10)

		// Durable: config, fetch with metadata, explicit acks.
		consWantInfo(t, ctx, dur, consCounts{Pending: 10})
		ci := consInfo(t, ctx, dur)
		if ci.Name != "dur" || ci.Config.Durable != "dur" || ci.Stream != "PULL" || ci.Config.AckPolicy != jetstream.AckExplicitPolicy ||
			ci.Config.DeliverPolicy != jetstream.DeliverAllPolicy || ci.Config.AckWait != 30*time.Second || ci.Config.MaxAckPending != 1000 ||
			ci.Config.MaxDeliver != -1 || ci.Config.MaxWaiting != 512 || ci.NumPending != 10 {
			t.Fatalf("durable consumer info: %+v config %+v", ci, ci.Config)
		}
		msgs := consFetch(t, dur, 4, 2*time.Second)
		consWantSeqs(t, "fetch 4", msgs, 1, 2, 3, 4)
		for i, m := range msgs {
			md := consMeta(t, m)
			if m.Subject() != "pull.a" || string(m.Data()) != fmt.Sprintf("pull.a-%d", i+1) || md.Stream != "PULL" || md.Consumer != "dur" ||
				md.Sequence.Consumer != uint64(i+1) || md.NumDelivered != 1 || md.NumPending != uint64(10-i-1) ||
				time.Since(md.Timestamp) > time.Minute || md.Timestamp.After(time.Now().Add(time.Second)) {
				t.Fatalf("message %d: subject %q data %q metadata %+v", i, m.Subject(), m.Data(), md)
			}
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		// A sync round trip after the plain acks so they are processed.
		consWantInfo(t, ctx, dur, consCounts{Pending: 6, Delivered: sq(4, 4), AckFloor: sq(4, 4)})
		msgs = consFetch(t, dur, 100, 300*time.Millisecond)
		consWantSeqs(t, "fetch rest", msgs, 5, 6, 7, 8, 9, 10)
		consAck(t, msgs...)
		consWantInfo(t, ctx, dur, consCounts{Delivered: sq(10, 10), AckFloor: sq(10, 10)})

		// Ephemeral: server-chosen name, gone from the config's durable.
		eph := consCreate(t, ctx, s, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, InactiveThreshold: time.Minute})
		ci = consInfo(t, ctx, eph)
		if ci.Name == "" || ci.Config.Durable != "" || ci.Config.InactiveThreshold != time.Minute || ci.NumPending != 10 {
			t.Fatalf("ephemeral consumer info: name %q config %+v pending %d", ci.Name, ci.Config, ci.NumPending)
		}
		msgs = consFetch(t, eph, 3, 2*time.Second)
		consWantSeqs(t, "ephemeral fetch", msgs, 1, 2, 3)
		if md := consMeta(t, msgs[0]); md.Consumer != ci.Name {
			t.Fatalf("ephemeral metadata consumer %q, want %q", md.Consumer, ci.Name)
		}

		// FetchBytes: each message on the wire is subject + reply + data;
		// a budget that fits two but not three returns two.
		fb := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "fb", AckPolicy: jetstream.AckNonePolicy})
		one := consFetch(t, fb, 1, 2*time.Second)
		sz := len(one[0].Subject()) + len(one[0].Reply()) + len(one[0].Data())
		b, err = fb.FetchBytes(2*sz+sz/2, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		msgs = nil
		for m := range b.Messages() {
			msgs = append(msgs, m)
		}
		if b.Error() != nil {
			t.Fatalf("FetchBytes: %v", b.Error())
		}
		consWantSeqs(t, fmt.Sprintf("FetchBytes(%d) with %d-byte messages", 2*sz+sz/2, sz), msgs, 2, 3)
	})
}

func TestJSConsumerConsumeAndMessages(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "CONS", "cons.>")
		const total = 1000
		consPubAsync(t, js, "cons.x", total)

		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "cb", AckPolicy: jetstream.AckExplicitPolicy})
		var mu sync.Mutex
		var seqs []uint64
		done := make(chan struct{})
		cc, err := c.Consume(func(m jetstream.Msg) {
			md, err := m.Metadata()
			if err != nil {
				t.Errorf("metadata: %v", err)
				return
			}
			if err := m.Ack(); err != nil {
				t.Errorf("ack: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			seqs = append(seqs, md.Sequence.Stream)
			if len(seqs) == total {
				close(done)
			}
		}, jetstream.PullMaxMessages(100))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			mu.Lock()
			n := len(seqs)
			mu.Unlock()
			t.Fatalf("Consume: %d of %d messages", n, total)
		}
		cc.Stop()
		<-cc.Closed()
		mu.Lock()
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("Consume: message %d has stream sequence %d", i, seq)
			}
		}
		mu.Unlock()
		// Acks are published; wait until the server has applied them all.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ci := consInfo(t, ctx, c)
			if ci.AckFloor.Stream == total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Consume: ack floor %+v, ack pending %d", ci.AckFloor, ci.NumAckPending)
			}
			time.Sleep(20 * time.Millisecond)
		}
		consWantInfo(t, ctx, c, consCounts{Delivered: sq(total, total), AckFloor: sq(total, total)})

		// Messages() iterator.
		c2 := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "it", AckPolicy: jetstream.AckExplicitPolicy})
		it, err := c2.Messages(jetstream.PullMaxMessages(10))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 25; i++ {
			m, err := it.Next()
			if err != nil {
				t.Fatalf("Messages().Next #%d: %v", i, err)
			}
			md := consMeta(t, m)
			if md.Sequence.Stream != uint64(i) || string(m.Data()) != strconv.Itoa(i) {
				t.Fatalf("Messages().Next #%d: seq %d data %q", i, md.Sequence.Stream, m.Data())
			}
			consAck(t, m)
		}
		it.Stop()
		if _, err := it.Next(); !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			t.Fatalf("Next after Stop: %v, want ErrMsgIteratorClosed", err)
		}
		ci := consInfo(t, ctx, c2)
		if ci.AckFloor.Stream != 25 || ci.NumPending+uint64(ci.NumAckPending) != total-25 {
			t.Fatalf("after iterator: ack floor %+v pending %d ack pending %d", ci.AckFloor, ci.NumPending, ci.NumAckPending)
		}
	})
}

func TestJSConsumerAckKinds(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "ACKS", "ak.>")
		for _, k := range []string{"ack", "nak", "delay", "wip", "term"} {
			consPub(t, ctx, js, "ak."+k, 2)
		}
		// cons takes the subtest's t: a t.Fatal must stop the subtest,
		// never the parent from inside a subtest.
		cons := func(t *testing.T, kind string, ackWait time.Duration) jetstream.Consumer {
			t.Helper()
			return consCreate(t, ctx, s, jetstream.ConsumerConfig{
				Durable: kind, FilterSubject: "ak." + kind, AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
			})
		}

		t.Run("ack", func(t *testing.T) {
			c := cons(t, "ack", 600*time.Millisecond)
			msgs := consFetch(t, c, 2, 2*time.Second)
			consWantSeqs(t, "ack fetch", msgs, 1, 2)
			if err := msgs[0].Ack(); err != nil {
				t.Fatal(err)
			}
			if err := msgs[1].DoubleAck(ctx); err != nil {
				t.Fatalf("DoubleAck: %v", err)
			}
			// Acking twice is an error the client catches.
			if err := msgs[0].Ack(); !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
				t.Fatalf("second ack: %v, want ErrMsgAlreadyAckd", err)
			}
			consWantInfo(t, ctx, c, consCounts{Delivered: sq(2, 2), AckFloor: sq(2, 2)})
			if msgs := consFetch(t, c, 2, 900*time.Millisecond); len(msgs) != 0 {
				t.Fatalf("acked messages redelivered: %v", consSeqs(t, msgs))
			}
		})

		t.Run("nak", func(t *testing.T) {
			// A 60 s ack wait: a redelivery within the test's time can
			// only come from the nak.
			c := cons(t, "nak", time.Minute)
			msgs := consFetch(t, c, 1, 2*time.Second)
			consWantSeqs(t, "nak fetch", msgs, 3)
			// -NAK sent as a request: both servers answer once it is
			// applied, so the next fetch sees it.
			if _, err := nc.Request(msgs[0].Reply(), []byte("-NAK"), 10*time.Second); err != nil {
				t.Fatalf("nak: %v", err)
			}
			msgs = consFetch(t, c, 1, 20*time.Second)
			consWantSeqs(t, "after nak", msgs, 3)
			md := consMeta(t, msgs[0])
			if md.NumDelivered != 2 || md.Sequence.Consumer != 2 || md.NumPending != 1 {
				t.Fatalf("redelivered metadata %+v", md)
			}
			consAck(t, msgs[0])
			consWantInfo(t, ctx, c, consCounts{Pending: 1, Delivered: sq(2, 3), AckFloor: sq(2, 3)})
		})

		t.Run("nak-with-delay", func(t *testing.T) {
			c := cons(t, "delay", time.Minute)
			msgs := consFetch(t, c, 1, 2*time.Second)
			consWantSeqs(t, "delay fetch", msgs, 5)
			start := time.Now()
			if err := msgs[0].NakWithDelay(2 * time.Second); err != nil {
				t.Fatal(err)
			}
			// Before the delay only the next message comes.
			msgs = consFetch(t, c, 2, 500*time.Millisecond)
			consWantSeqs(t, "during nak delay", msgs, 6)
			consAck(t, msgs...)
			msgs = consFetch(t, c, 1, 20*time.Second)
			el := time.Since(start)
			consWantSeqs(t, "after nak delay", msgs, 5)
			if el < 1900*time.Millisecond {
				t.Fatalf("message nak'd with 2s delay redelivered after %v", el)
			}
			if md := consMeta(t, msgs[0]); md.NumDelivered != 2 {
				t.Fatalf("after nak delay: NumDelivered %d", md.NumDelivered)
			}
			consAck(t, msgs...)
		})

		t.Run("in-progress", func(t *testing.T) {
			c := cons(t, "wip", 2*time.Second)
			msgs := consFetch(t, c, 1, 2*time.Second)
			consWantSeqs(t, "wip fetch", msgs, 7)
			// Keep extending the 2 s ack wait for 3.5 s; no redelivery.
			// Each round takes a 250 ms fetch, far inside the ack wait
			// even on a busy machine.
			stop := time.Now().Add(3500 * time.Millisecond)
			for time.Now().Before(stop) {
				if err := msgs[0].InProgress(); err != nil {
					t.Fatal(err)
				}
				if got := consFetch(t, c, 1, 250*time.Millisecond); len(got) != 0 {
					md := consMeta(t, got[0])
					if md.Sequence.Stream == 7 {
						t.Fatalf("in-progress message redelivered: %+v", md)
					}
					consAck(t, got...) // seq 8
				}
			}
			consAck(t, msgs[0])
			ci := consInfo(t, ctx, c)
			if ci.NumRedelivered != 0 || ci.AckFloor.Stream != 8 || ci.NumAckPending != 0 || ci.Delivered.Consumer != 2 {
				t.Fatalf("after in-progress: %+v ack floor %+v delivered %+v", ci, ci.AckFloor, ci.Delivered)
			}
		})

		t.Run("term", func(t *testing.T) {
			c := cons(t, "term", 600*time.Millisecond)
			msgs := consFetch(t, c, 2, 2*time.Second)
			consWantSeqs(t, "term fetch", msgs, 9, 10)
			if err := msgs[0].Term(); err != nil {
				t.Fatal(err)
			}
			if err := msgs[1].TermWithReason("bad"); err != nil {
				t.Fatal(err)
			}
			// Past the ack wait: nothing comes back.
			if got := consFetch(t, c, 2, 1200*time.Millisecond); len(got) != 0 {
				t.Fatalf("terminated messages redelivered: %v", consSeqs(t, got))
			}
			consWantInfo(t, ctx, c, consCounts{Delivered: sq(2, 10), AckFloor: sq(2, 10)})
		})
	})
}

func TestJSConsumerRedelivery(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "RED", "red.>")
		consPub(t, ctx, js, "red.wait", 1)    // 1
		consPub(t, ctx, js, "red.max", 1)     // 2
		consPub(t, ctx, js, "red.backoff", 1) // 3

		t.Run("ack-wait", func(t *testing.T) {
			c := consCreate(t, ctx, s, jetstream.ConsumerConfig{
				Durable: "wait", FilterSubject: "red.wait", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 500 * time.Millisecond,
			})
			msgs := consFetch(t, c, 1, 2*time.Second)
			start := time.Now()
			consWantSeqs(t, "first delivery", msgs, 1)
			msgs = consFetch(t, c, 1, 20*time.Second)
			el := time.Since(start)
			consWantSeqs(t, "redelivery", msgs, 1)
			if el < 400*time.Millisecond {
				t.Fatalf("redelivery after %v with 500ms ack wait", el)
			}
			if md := consMeta(t, msgs[0]); md.NumDelivered != 2 || md.Sequence.Consumer != 2 {
				t.Fatalf("redelivered metadata %+v", md)
			}
			consWantInfo(t, ctx, c, consCounts{AckPending: 1, Redelivered: 1, Delivered: sq(2, 1)})
			consAck(t, msgs...)
			consWantInfo(t, ctx, c, consCounts{Delivered: sq(2, 1), AckFloor: sq(2, 1)})
		})

		t.Run("max-deliver", func(t *testing.T) {
			c := consCreate(t, ctx, s, jetstream.ConsumerConfig{
				Durable: "max", FilterSubject: "red.max", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 300 * time.Millisecond, MaxDeliver: 2,
			})
			for i := 1; i <= 2; i++ {
				msgs := consFetch(t, c, 1, 2*time.Second)
				consWantSeqs(t, fmt.Sprintf("delivery %d", i), msgs, 2)
				if md := consMeta(t, msgs[0]); md.NumDelivered != uint64(i) {
					t.Fatalf("delivery %d: NumDelivered %d", i, md.NumDelivered)
				}
			}
			if msgs := consFetch(t, c, 1, time.Second); len(msgs) != 0 {
				t.Fatalf("delivered past MaxDeliver 2: %+v", consMeta(t, msgs[0]))
			}
			ci := consInfo(t, ctx, c)
			if ci.Config.MaxDeliver != 2 || ci.Delivered.Consumer != 2 || ci.Delivered.Stream != 2 || ci.NumPending != 0 {
				t.Fatalf("after MaxDeliver: config max deliver %d delivered %+v pending %d", ci.Config.MaxDeliver, ci.Delivered, ci.NumPending)
			}
		})

		t.Run("backoff", func(t *testing.T) {
			c := consCreate(t, ctx, s, jetstream.ConsumerConfig{
				Durable: "backoff", FilterSubject: "red.backoff", AckPolicy: jetstream.AckExplicitPolicy,
				BackOff: []time.Duration{200 * time.Millisecond, 800 * time.Millisecond}, MaxDeliver: 4,
			})
			ci := consInfo(t, ctx, c)
			if !slices.Equal(ci.Config.BackOff, []time.Duration{200 * time.Millisecond, 800 * time.Millisecond}) || ci.Config.AckWait != 200*time.Millisecond {
				t.Fatalf("backoff config: backoff %v ack wait %v", ci.Config.BackOff, ci.Config.AckWait)
			}
			var at []time.Time
			for i := 1; i <= 3; i++ {
				msgs := consFetch(t, c, 1, 20*time.Second)
				at = append(at, time.Now())
				consWantSeqs(t, fmt.Sprintf("backoff delivery %d", i), msgs, 3)
				if md := consMeta(t, msgs[0]); md.NumDelivered != uint64(i) {
					t.Fatalf("backoff delivery %d: NumDelivered %d", i, md.NumDelivered)
				}
			}
			// Lower bounds prove which backoff step applied; the upper
			// bounds only catch a server ignoring BackOff altogether
			// (then AckWait would be 30 s), with room for a busy machine.
			if d := at[1].Sub(at[0]); d < 150*time.Millisecond || d > 10*time.Second {
				t.Fatalf("first backoff redelivery after %v, want ~200ms", d)
			}
			if d := at[2].Sub(at[1]); d < 700*time.Millisecond || d > 10*time.Second {
				t.Fatalf("second backoff redelivery after %v, want ~800ms", d)
			}
		})
	})
}

func TestJSConsumerAckPolicies(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "POL", "pol.>")
		consPub(t, ctx, js, "pol.x", 8)

		all := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "all", AckPolicy: jetstream.AckAllPolicy})
		msgs := consFetch(t, all, 5, 2*time.Second)
		consWantSeqs(t, "ack all fetch", msgs, 1, 2, 3, 4, 5)
		consWantInfo(t, ctx, all, consCounts{Pending: 3, AckPending: 5, Delivered: sq(5, 5)})
		consAck(t, msgs[2])
		consWantInfo(t, ctx, all, consCounts{Pending: 3, AckPending: 2, Delivered: sq(5, 5), AckFloor: sq(3, 3)})
		consAck(t, msgs[4])
		consWantInfo(t, ctx, all, consCounts{Pending: 3, Delivered: sq(5, 5), AckFloor: sq(5, 5)})

		none := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "none", AckPolicy: jetstream.AckNonePolicy, AckWait: 300 * time.Millisecond})
		msgs = consFetch(t, none, 5, 2*time.Second)
		consWantSeqs(t, "ack none fetch", msgs, 1, 2, 3, 4, 5)
		if md := consMeta(t, msgs[4]); md.NumDelivered != 1 || md.NumPending != 3 || md.Sequence.Consumer != 5 {
			t.Fatalf("ack none metadata %+v", md)
		}
		consWantInfo(t, ctx, none, consCounts{Pending: 3, Delivered: sq(5, 5), AckFloor: sq(5, 5)})
		// Never redelivered: the next fetch, past the ack wait, gets 6..8.
		time.Sleep(400 * time.Millisecond)
		msgs = consFetch(t, none, 10, 500*time.Millisecond)
		consWantSeqs(t, "ack none second fetch", msgs, 6, 7, 8)
	})
}

func TestJSConsumerDeliverPolicies(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "DP", "dp.>")
		for _, subj := range []string{"dp.a", "dp.b", "dp.c"} { // 1..3
			consPub(t, ctx, js, subj, 1)
		}
		time.Sleep(20 * time.Millisecond)
		mid := time.Now()
		time.Sleep(20 * time.Millisecond)
		for _, subj := range []string{"dp.a", "dp.b", "dp.c"} { // 4..6
			consPub(t, ctx, js, subj, 1)
		}
		cases := []struct {
			name    string
			cfg     jetstream.ConsumerConfig
			pending uint64
			want    []uint64
		}{
			{"all", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}, 6, []uint64{1, 2, 3, 4, 5, 6}},
			{"last", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPolicy}, 1, []uint64{6}},
			{"last-filtered", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPolicy, FilterSubject: "dp.a"}, 1, []uint64{4}},
			{"by-start-seq", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 4}, 3, []uint64{4, 5, 6}},
			{"by-start-time", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &mid}, 3, []uint64{4, 5, 6}},
			{"last-per-subject", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, FilterSubject: "dp.*"}, 3, []uint64{4, 5, 6}},
			{"last-per-subject-filtered", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, FilterSubject: "dp.b"}, 1, []uint64{5}},
			{"filter-subject", jetstream.ConsumerConfig{FilterSubject: "dp.a"}, 2, []uint64{1, 4}},
			{"filter-subjects", jetstream.ConsumerConfig{FilterSubjects: []string{"dp.a", "dp.c"}}, 4, []uint64{1, 3, 4, 6}},
			{"filter-wildcard-start-seq", jetstream.ConsumerConfig{FilterSubject: "dp.*", DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 5}, 2, []uint64{5, 6}},
		}
		for _, tc := range cases {
			tc.cfg.Durable = tc.name
			tc.cfg.AckPolicy = jetstream.AckExplicitPolicy
			c := consCreate(t, ctx, s, tc.cfg)
			if ci := consInfo(t, ctx, c); ci.NumPending != tc.pending {
				t.Fatalf("%s: num_pending %d, want %d", tc.name, ci.NumPending, tc.pending)
			}
			msgs := consFetch(t, c, 10, 300*time.Millisecond)
			consWantSeqs(t, tc.name, msgs, tc.want...)
			for i, m := range msgs {
				if md := consMeta(t, m); md.NumPending != uint64(len(msgs)-i-1) || md.Sequence.Consumer != uint64(i+1) {
					t.Fatalf("%s: message %d metadata %+v", tc.name, i, md)
				}
			}
		}

		// new: nothing now, then what is published after creation.
		nw := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "new", DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy})
		if ci := consInfo(t, ctx, nw); ci.NumPending != 0 || ci.Delivered.Stream != 6 {
			t.Fatalf("new: pending %d delivered %+v", ci.NumPending, ci.Delivered)
		}
		if msgs := consFetch(t, nw, 10, 200*time.Millisecond); len(msgs) != 0 {
			t.Fatalf("new: got old messages %v", consSeqs(t, msgs))
		}
		consPub(t, ctx, js, "dp.a", 1) // 7
		consWantSeqs(t, "new after publish", consFetch(t, nw, 10, 300*time.Millisecond), 7)

		// Invalid combinations are rejected.
		if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bad1", DeliverPolicy: jetstream.DeliverByStartSequencePolicy}); err == nil {
			t.Fatal("by_start_sequence without opt_start_seq accepted")
		}
	})
}

func TestJSConsumerInfoAndManagement(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "MGMT", "mgmt.>")
		consPub(t, ctx, js, "mgmt.x", 10)

		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "c1", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 500 * time.Millisecond})
		consWantInfo(t, ctx, c, consCounts{Pending: 10})
		msgs := consFetch(t, c, 4, 2*time.Second)
		consWantSeqs(t, "fetch 4", msgs, 1, 2, 3, 4)
		consAck(t, msgs[0], msgs[1])
		consWantInfo(t, ctx, c, consCounts{Pending: 6, AckPending: 2, Delivered: sq(4, 4), AckFloor: sq(2, 2)})
		// Ack 4 but not 3: the floor stays at 2.
		consAck(t, msgs[3])
		consWantInfo(t, ctx, c, consCounts{Pending: 6, AckPending: 1, Delivered: sq(4, 4), AckFloor: sq(2, 2)})
		// 3 is redelivered after the ack wait, before the new messages.
		time.Sleep(600 * time.Millisecond)
		msgs = consFetch(t, c, 2, 3*time.Second)
		consWantSeqs(t, "redelivery then new", msgs, 3, 5)
		if md := consMeta(t, msgs[0]); md.NumDelivered != 2 || md.Sequence.Consumer != 5 {
			t.Fatalf("redelivered 3: metadata %+v", md)
		}
		if md := consMeta(t, msgs[1]); md.NumDelivered != 1 || md.Sequence.Consumer != 6 || md.NumPending != 5 {
			t.Fatalf("message 5: metadata %+v", md)
		}
		consWantInfo(t, ctx, c, consCounts{Pending: 5, AckPending: 2, Redelivered: 1, Delivered: sq(6, 5), AckFloor: sq(2, 2)})
		consAck(t, msgs...)
		consWantInfo(t, ctx, c, consCounts{Pending: 5, Delivered: sq(6, 5), AckFloor: sq(6, 5)})

		// List and names.
		for _, name := range []string{"c3", "c2"} {
			consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "mgmt." + name})
		}
		var names []string
		nl := s.ConsumerNames(ctx)
		for n := range nl.Name() {
			names = append(names, n)
		}
		if nl.Err() != nil {
			t.Fatal(nl.Err())
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"c1", "c2", "c3"}) {
			t.Fatalf("consumer names %v", names)
		}
		infos := map[string]*jetstream.ConsumerInfo{}
		il := s.ListConsumers(ctx)
		for ci := range il.Info() {
			infos[ci.Name] = ci
		}
		if il.Err() != nil {
			t.Fatal(il.Err())
		}
		if len(infos) != 3 || infos["c1"] == nil || infos["c1"].Delivered.Stream != 5 || infos["c1"].NumPending != 5 ||
			infos["c2"] == nil || infos["c2"].Config.FilterSubject != "mgmt.c2" || infos["c2"].NumPending != 0 || infos["c2"].Stream != "MGMT" {
			t.Fatalf("consumer list %+v", infos)
		}
		sinfo, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sinfo.State.Consumers != 3 {
			t.Fatalf("stream state consumers %d", sinfo.State.Consumers)
		}

		// Create with a different config fails; update with CreateOrUpdate works.
		if _, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c2", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "mgmt.other"}); !errors.Is(err, jetstream.ErrConsumerExists) {
			t.Fatalf("CreateConsumer over a different config: %v, want ErrConsumerExists", err)
		}
		upd := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "c2", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "mgmt.c2", MaxAckPending: 7})
		if ci := consInfo(t, ctx, upd); ci.Config.MaxAckPending != 7 {
			t.Fatalf("updated max_ack_pending %d", ci.Config.MaxAckPending)
		}

		// Pause and resume.
		until := time.Now().Add(time.Hour).UTC()
		pr, err := s.PauseConsumer(ctx, "c1", until)
		if err != nil {
			t.Fatalf("pause: %v", err)
		}
		if !pr.Paused || !pr.PauseUntil.Equal(until) || pr.PauseRemaining < 59*time.Minute || pr.PauseRemaining > time.Hour {
			t.Fatalf("pause response %+v", pr)
		}
		ci := consInfo(t, ctx, c)
		if !ci.Paused || ci.PauseRemaining < 59*time.Minute || ci.Config.PauseUntil == nil || !ci.Config.PauseUntil.Equal(until) {
			t.Fatalf("paused consumer info: paused %v remaining %v until %v", ci.Paused, ci.PauseRemaining, ci.Config.PauseUntil)
		}
		if msgs := consFetch(t, c, 1, 400*time.Millisecond); len(msgs) != 0 {
			t.Fatalf("paused consumer delivered %v", consSeqs(t, msgs))
		}
		pr, err = s.ResumeConsumer(ctx, "c1")
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		if pr.Paused || pr.PauseRemaining != 0 {
			t.Fatalf("resume response %+v", pr)
		}
		if ci := consInfo(t, ctx, c); ci.Paused {
			t.Fatal("consumer still paused after resume")
		}
		consWantSeqs(t, "after resume", consFetch(t, c, 1, 2*time.Second), 6)
		if _, err := s.PauseConsumer(ctx, "nope", until); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("pause unknown consumer: %v", err)
		}
		// Created paused: pause_until in the config.
		pc := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "paused", AckPolicy: jetstream.AckExplicitPolicy, PauseUntil: &until})
		if ci := consInfo(t, ctx, pc); !ci.Paused {
			t.Fatal("consumer created with pause_until is not paused")
		}

		// Delete.
		if err := s.DeleteConsumer(ctx, "c3"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Consumer(ctx, "c3"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("deleted consumer lookup: %v", err)
		}
		if err := s.DeleteConsumer(ctx, "c3"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := c.Info(ctx); err != nil {
			t.Fatalf("c1 lost after deleting c3: %v", err)
		}
	})
}

func TestJSConsumerMaxAckPending(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "MAP", "map.>")
		consPub(t, ctx, js, "map.x", 10)
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "map", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 3})
		msgs := consFetch(t, c, 10, 500*time.Millisecond)
		consWantSeqs(t, "fetch with max_ack_pending 3", msgs, 1, 2, 3)
		if got := consFetch(t, c, 1, 300*time.Millisecond); len(got) != 0 {
			t.Fatalf("delivered beyond max_ack_pending: %v", consSeqs(t, got))
		}
		consWantInfo(t, ctx, c, consCounts{Pending: 7, AckPending: 3, Delivered: sq(3, 3)})
		consAck(t, msgs[1])
		consWantSeqs(t, "after one ack", consFetch(t, c, 10, 500*time.Millisecond), 4)
		// 1 is still unacknowledged, so the floor stays at 0.
		consWantInfo(t, ctx, c, consCounts{Pending: 6, AckPending: 3, Delivered: sq(4, 4)})
	})
}

func TestJSConsumerPullStatus(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "ST", "st.>")
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy})
		const next = "$JS.API.CONSUMER.MSG.NEXT.ST.d"
		status := func(m *nats.Msg, code, desc string) {
			t.Helper()
			if got, gotDesc := m.Header.Get("Status"), m.Header.Get("Description"); got != code || gotDesc != desc || len(m.Data) != 0 {
				t.Fatalf("status %q %q data %q (headers %v), want %q %q", got, gotDesc, m.Data, m.Header, code, desc)
			}
		}

		m, err := nc.Request(next, []byte(`{"batch":1,"no_wait":true}`), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		status(m, "404", "No Messages")

		start := time.Now()
		m, err = nc.Request(next, []byte(`{"batch":1,"expires":200000000}`), 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		status(m, "408", "Request Timeout")
		if el := time.Since(start); el < 150*time.Millisecond || el > 10*time.Second {
			t.Fatalf("408 after %v for a 200ms expiry", el)
		}
		if m.Header.Get("Nats-Pending-Messages") != "1" || m.Header.Get("Nats-Pending-Bytes") != "0" {
			t.Fatalf("408 pending headers %v", m.Header)
		}

		// A batch of 3 with 1 message available and no_wait: the message,
		// then a 404 ends the request.
		consPub(t, ctx, js, "st.a", 1)
		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest(next, inbox, []byte(`{"batch":3,"no_wait":true}`)); err != nil {
			t.Fatal(err)
		}
		m = nextMsg(t, sub)
		if m.Subject != "st.a" || string(m.Data) != "st.a-1" || m.Reply == "" || m.Header.Get("Status") != "" {
			t.Fatalf("pull data message: subject %q reply %q data %q header %v", m.Subject, m.Reply, m.Data, m.Header)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		status(nextMsg(t, sub), "404", "No Messages")
		noMsg(t, sub)

		// A batch of 2 with expiry: 1 message, then 408 reporting 1 left.
		consPub(t, ctx, js, "st.a", 1)
		if err := nc.PublishRequest(next, inbox, []byte(`{"batch":2,"expires":300000000}`)); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); string(m.Data) != "st.a-1" || m.Header.Get("Status") != "" {
			t.Fatalf("pull data message: %q %v", m.Data, m.Header)
		}
		m = nextMsg(t, sub)
		status(m, "408", "Request Timeout")
		if m.Header.Get("Nats-Pending-Messages") != "1" {
			t.Fatalf("408 pending messages %q", m.Header.Get("Nats-Pending-Messages"))
		}

		// Batch beyond max_request_batch.
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "small", AckPolicy: jetstream.AckExplicitPolicy, MaxRequestBatch: 2})
		m, err = nc.Request("$JS.API.CONSUMER.MSG.NEXT.ST.small", []byte(`{"batch":5,"no_wait":true}`), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		status(m, "409", "Exceeded MaxRequestBatch of 2")

		// Unknown consumer: nobody is listening on its subject.
		if _, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.ST.nope", []byte(`{"batch":1,"no_wait":true}`), 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("pull from unknown consumer: %v, want no responders", err)
		}
		// Deleting the consumer ends a waiting pull request with 409.
		if err := nc.PublishRequest(next, inbox, []byte(`{"batch":1,"expires":5000000000}`)); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if err := s.DeleteConsumer(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		status(nextMsg(t, sub), "409", "Consumer Deleted")
	})
}

func TestJSConsumerPushLegacy(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		// A window above the most any subtest publishes: nats.go's default
		// (4000) fails PublishAsync after a 200 ms stall, which a busy
		// machine and a store that syncs before every ack can reach.
		js, err := nc.JetStream(nats.PublishAsyncMaxPending(1 << 15))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.AddStream(&nats.StreamConfig{Name: "PUSH", Subjects: []string{"push.>"}}); err != nil {
			t.Fatal(err)
		}
		pub := func(t *testing.T, subj string, n int) {
			t.Helper()
			for i := 1; i <= n; i++ {
				if _, err := js.PublishAsync(subj, []byte(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(15 * time.Second):
				t.Fatalf("async publish: %d pending", js.PublishAsyncPending())
			}
		}

		t.Run("durable-manual-ack", func(t *testing.T) {
			pub(t, "push.d", 10)
			sub, err := js.SubscribeSync("push.d", nats.Durable("pd"), nats.DeliverSubject("deliver.pd"), nats.ManualAck(), nats.AckWait(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			// When each message arrived and when its AckSync returned: a
			// busy machine may ack a message after its 1 s ack wait, and
			// then both servers rightly redeliver it.
			var got, acked [11]time.Time
			for i := 1; i <= 10; i++ {
				m := nextMsg(t, sub)
				got[i] = time.Now()
				md, err := m.Metadata()
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != "push.d" || string(m.Data) != strconv.Itoa(i) || md.Stream != "PUSH" || md.Consumer != "pd" ||
					md.Sequence.Stream != uint64(i) || md.Sequence.Consumer != uint64(i) || md.NumDelivered != 1 || md.NumPending != uint64(10-i) {
					t.Fatalf("push message %d: %q %q %+v", i, m.Subject, m.Data, md)
				}
				if i <= 8 {
					if err := m.AckSync(); err != nil {
						t.Fatal(err)
					}
					acked[i] = time.Now()
				}
			}
			ci, err := js.ConsumerInfo("PUSH", "pd")
			if err != nil {
				t.Fatal(err)
			}
			if ci.Config.DeliverSubject != "deliver.pd" || ci.Config.FilterSubject != "push.d" || ci.Config.AckPolicy != nats.AckExplicitPolicy ||
				ci.NumAckPending != 2 || ci.AckFloor.Stream != 8 || ci.Delivered.Stream != 10 || !ci.PushBound {
				t.Fatalf("push consumer info %+v config %+v", ci, ci.Config)
			}
			// The two unacked are redelivered after the 1s ack wait, in
			// stream order. A message acked in time is never redelivered;
			// one whose ack came later than its ack wait may be.
			var redelivered []uint64
			for len(redelivered) < 2 {
				m := nextMsg(t, sub)
				md, _ := m.Metadata()
				seq := md.Sequence.Stream
				if seq <= 8 {
					if late := acked[seq].Sub(got[seq]); late < 900*time.Millisecond {
						t.Fatalf("stream seq %d redelivered %+v although AckSync returned %v after it arrived", seq, md, late)
					}
					continue
				}
				if md.NumDelivered != 2 {
					t.Fatalf("push redelivery %+v, want NumDelivered 2", md)
				}
				redelivered = append(redelivered, seq)
				if err := m.AckSync(); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(redelivered, []uint64{9, 10}) {
				t.Fatalf("redelivered stream seqs %v, want [9 10]", redelivered)
			}
			if err := sub.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
			// Unsubscribe keeps a durable created by Subscribe? No: nats.go
			// deletes consumers it created. Either way, it is not bound.
			if ci, err := js.ConsumerInfo("PUSH", "pd"); err == nil && ci.PushBound {
				t.Fatal("consumer still bound after unsubscribe")
			}
		})

		t.Run("queue", func(t *testing.T) {
			var counts [2]atomic.Int32
			var mu sync.Mutex
			seen := map[string]int{}
			var subs []*nats.Subscription
			for i := range 2 {
				sub, err := js.QueueSubscribe("push.q", "workers", func(m *nats.Msg) {
					counts[i].Add(1)
					mu.Lock()
					seen[string(m.Data)]++
					mu.Unlock()
					_ = m.Ack()
				}, nats.Durable("qd"), nats.ManualAck())
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, sub)
			}
			ci, err := js.ConsumerInfo("PUSH", "qd")
			if err != nil {
				t.Fatal(err)
			}
			if ci.Config.DeliverGroup != "workers" || ci.Config.DeliverSubject == "" {
				t.Fatalf("queue consumer config %+v", ci.Config)
			}
			pub(t, "push.q", 200)
			deadline := time.Now().Add(5 * time.Second)
			for counts[0].Load()+counts[1].Load() < 200 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 200 || counts[0].Load()+counts[1].Load() != 200 {
				t.Fatalf("queue: %d distinct, %d+%d deliveries", len(seen), counts[0].Load(), counts[1].Load())
			}
			if counts[0].Load() == 0 || counts[1].Load() == 0 {
				t.Fatalf("queue: one member got everything: %d/%d", counts[0].Load(), counts[1].Load())
			}
			for _, sub := range subs {
				_ = sub.Unsubscribe()
			}
		})

		t.Run("ordered", func(t *testing.T) {
			const total = 5000
			pub(t, "push.o", total)
			sub, err := js.SubscribeSync("push.o", nats.OrderedConsumer())
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			for i := 1; i <= total; i++ {
				m := nextMsg(t, sub)
				if string(m.Data) != strconv.Itoa(i) {
					t.Fatalf("ordered: message %d has data %q", i, m.Data)
				}
			}
			noMsg(t, sub)
			ci, err := sub.ConsumerInfo()
			if err != nil {
				t.Fatal(err)
			}
			if ci.Config.AckPolicy != nats.AckNonePolicy || ci.Config.FlowControl != true || ci.Config.Heartbeat == 0 ||
				ci.Config.MemoryStorage != true || ci.Config.Replicas != 1 || ci.Delivered.Consumer != total {
				t.Fatalf("ordered consumer info %+v config %+v", ci, ci.Config)
			}
		})

		t.Run("flow-control", func(t *testing.T) {
			const total = 20000
			pub(t, "push.fc", total)
			var got atomic.Int32
			var bad atomic.Value
			done := make(chan struct{})
			start := time.Now()
			sub, err := js.Subscribe("push.fc", func(m *nats.Msg) {
				n := got.Add(1)
				if string(m.Data) != strconv.Itoa(int(n)) && bad.Load() == nil {
					bad.Store(fmt.Sprintf("message %d has data %q", n, m.Data))
				}
				if n == total {
					close(done)
				}
			}, nats.Durable("fc"), nats.DeliverSubject("deliver.fc"), nats.IdleHeartbeat(time.Second), nats.EnableFlowControl(), nats.AckNone())
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatalf("flow control: %d of %d messages", got.Load(), total)
			}
			if b := bad.Load(); b != nil {
				t.Fatal(b)
			}
			t.Logf("flow control: %d messages in %v", total, time.Since(start))
			ci, err := js.ConsumerInfo("PUSH", "fc")
			if err != nil {
				t.Fatal(err)
			}
			si, err := js.StreamInfo("PUSH")
			if err != nil {
				t.Fatal(err)
			}
			if !ci.Config.FlowControl || ci.Config.Heartbeat != time.Second || ci.Delivered.Consumer != total || ci.Delivered.Stream != si.State.LastSeq || ci.NumPending != 0 {
				t.Fatalf("flow control consumer info delivered %+v pending %d config %+v", ci.Delivered, ci.NumPending, ci.Config)
			}
		})
	})
}

func TestJSConsumerOrdered(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		consStream(t, ctx, js, "ORD", "ord.>")
		const total = 2000
		consPubAsync(t, js, "ord.a", total)
		oc, err := js.OrderedConsumer(ctx, "ORD", jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		it, err := oc.Messages()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Stop()
		for i := 1; i <= total; i++ {
			m, err := it.Next()
			if err != nil {
				t.Fatalf("ordered Next #%d: %v", i, err)
			}
			md := consMeta(t, m)
			if string(m.Data()) != strconv.Itoa(i) || md.Sequence.Stream != uint64(i) || md.Sequence.Consumer != uint64(i) || md.NumPending != uint64(total-i) {
				t.Fatalf("ordered message %d: data %q metadata %+v", i, m.Data(), md)
			}
		}
		it.Stop()

		// A second ordered consumer filtered and started mid-stream, via Fetch.
		consPub(t, ctx, js, "ord.b", 3) // total+1..total+3
		oc2, err := js.OrderedConsumer(ctx, "ORD", jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{"ord.b"}, DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			t.Fatal(err)
		}
		msgs := consFetch(t, oc2, 10, 500*time.Millisecond)
		consWantSeqs(t, "ordered filtered fetch", msgs, total+1, total+2, total+3)
	})
}

func TestJSConsumerRestart(t *testing.T) {
	for _, name := range consTargets() {
		t.Run(name, func(t *testing.T) {
			opts := harness.Options{JetStream: true, StoreDir: t.TempDir()}
			tg := harness.Start(t, name, opts)
			_, js, ctx := jsConnect(t, tg)
			s := consStream(t, ctx, js, "RS", "rs.>")
			consPub(t, ctx, js, "rs.x", 10)
			c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "keep", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 700 * time.Millisecond})
			msgs := consFetch(t, c, 8, 2*time.Second)
			consWantSeqs(t, "before restart", msgs, 1, 2, 3, 4, 5, 6, 7, 8)
			consAck(t, msgs[0], msgs[1], msgs[2], msgs[3], msgs[6])
			consWantInfo(t, ctx, c, consCounts{Pending: 2, AckPending: 3, Delivered: sq(8, 8), AckFloor: sq(4, 4)})

			tg.Shutdown()
			tg = harness.Start(t, name, opts)
			_, js, ctx = jsConnect(t, tg)
			c, err := js.Consumer(ctx, "RS", "keep")
			if err != nil {
				t.Fatalf("durable consumer after restart: %v", err)
			}
			ci := consInfo(t, ctx, c)
			if ci.Config.AckWait != 700*time.Millisecond || ci.Delivered.Stream != 8 || ci.AckFloor.Stream != 4 || ci.NumPending != 2 {
				t.Fatalf("consumer after restart: delivered %+v ack floor %+v pending %d ack pending %d config %+v",
					ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumAckPending, ci.Config)
			}
			// The new 9, 10 and the unacknowledged 5, 6, 8 (redelivered
			// once their ack wait ends; the order depends on when that is)
			// come back; acked 1-4 and 7 never do.
			var got []jetstream.Msg
			deadline := time.Now().Add(5 * time.Second)
			for len(got) < 5 && time.Now().Before(deadline) {
				got = append(got, consFetch(t, c, 5-len(got), time.Second)...)
			}
			slices.SortFunc(got, func(a, b jetstream.Msg) int {
				return int(consMeta(t, a).Sequence.Stream) - int(consMeta(t, b).Sequence.Stream)
			})
			consWantSeqs(t, "after restart", got, 5, 6, 8, 9, 10)
			for i, m := range got {
				want := uint64(2)
				if i >= 3 {
					want = 1
				}
				if md := consMeta(t, m); md.NumDelivered != want {
					t.Fatalf("after restart: stream seq %d delivered %d times, want %d", md.Sequence.Stream, md.NumDelivered, want)
				}
			}
			consAck(t, got...)
			if more := consFetch(t, c, 10, time.Second); len(more) != 0 {
				t.Fatalf("after restart and acks: got %v", consSeqs(t, more))
			}
			ci = consInfo(t, ctx, c)
			if ci.AckFloor.Stream != 10 || ci.NumAckPending != 0 || ci.NumPending != 0 {
				t.Fatalf("final: ack floor %+v ack pending %d pending %d", ci.AckFloor, ci.NumAckPending, ci.NumPending)
			}
		})
	}
}

// consTargets mirrors harness target selection for tests that start and
// restart servers themselves.
func consTargets() []string {
	if s := os.Getenv("LEAFGATE_E2E_TARGETS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"leafgate", "nats-server"}
}

// Deleting a stream ends its consumers: a pull request still waiting gets
// 409 Consumer Deleted, and a later pull request has no responder.
func TestJSConsumerGoneWithStream(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "GONE", "gone.>")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy})

		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.GONE.C", inbox, []byte(`{"batch":1,"expires":30000000000}`)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for consInfo(t, ctx, c).NumWaiting != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the pull request never showed as waiting", tg.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := js.DeleteStream(ctx, "GONE"); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: waiting pull request not ended by the stream's deletion: %v", tg.Name, err)
		}
		if st, desc := m.Header.Get("Status"), m.Header.Get("Description"); st != "409" || desc != "Consumer Deleted" {
			t.Fatalf("%s: waiting pull request ended with %q %q, want 409 Consumer Deleted", tg.Name, st, desc)
		}
		_, err = nc.Request("$JS.API.CONSUMER.MSG.NEXT.GONE.C", []byte(`{"batch":1,"no_wait":true}`), 2*time.Second)
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("%s: pull on a deleted stream's consumer: %v, want no responders", tg.Name, err)
		}
	})
}
