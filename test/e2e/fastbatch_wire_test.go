package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/sync/fastbatch"
	"github.com/leafgate/leafgate/test/internal/hub"
)

// sync/fastbatch against nats-server itself: a batch whose replies it
// builds is taken by a stream with allow_batched, with flow
// acknowledgements and a commit PubAck it reads, duplicates (by
// Nats-Msg-Id) counted as stored; a stream without allow_batched refuses
// the first message with the error it reads.
func TestFastBatchWire(t *testing.T) {
	h := hub.Start(t, hub.Options{JetStream: true, Domain: "hub"})
	nc := h.Connect(t)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}, AllowBatchPublish: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NB", Subjects: []string{"nb.>"}}); err != nil {
		t.Fatal(err)
	}
	const prefix = "_INBOX.fbtest."
	answers, err := nc.SubscribeSync(prefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	next := func() (fastbatch.Answer, fastbatch.Reply) {
		t.Helper()
		m, err := answers.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		a, err := fastbatch.ParseAnswer(m.Data)
		if err != nil {
			t.Fatalf("answer %q on %s: %v", m.Data, m.Subject, err)
		}
		_, r, ok := fastbatch.ParseReply(m.Subject)
		if !ok {
			t.Fatalf("answer on %s, not a batch reply", m.Subject)
		}
		return a, r
	}
	pub := func(subj string, r fastbatch.Reply, id string) {
		t.Helper()
		m := &nats.Msg{Subject: subj, Reply: string(fastbatch.AppendReply(nil, prefix, r)), Data: []byte(fmt.Sprint(r.Seq)), Header: nats.Header{}}
		if id != "" {
			m.Header.Set("Nats-Msg-Id", id)
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}

	// 25 messages, acknowledged every 10; the 5th repeats the 4th's id.
	const n = 25
	for seq := uint64(1); seq <= n; seq++ {
		op := fastbatch.Append
		if seq == 1 {
			op = fastbatch.Start
		}
		id := fmt.Sprintf("m%d", seq)
		if seq == 5 {
			id = "m4"
		}
		pub("b.x", fastbatch.Reply{ID: "batch1", Flow: 10, Seq: seq, Op: op}, id)
	}
	pub("b.x", fastbatch.Reply{ID: "batch1", Flow: 10, Seq: n + 1, Op: fastbatch.CommitEOB}, "")
	var acked uint64
	for {
		a, r := next()
		if r.ID != "batch1" {
			t.Fatalf("answer for batch %q", r.ID)
		}
		switch a.Kind {
		case fastbatch.FlowAck:
			if a.Msgs != 10 || a.Seq < acked {
				t.Fatalf("flow ack %+v after %d", a, acked)
			}
			acked = a.Seq
			continue
		case fastbatch.PubAck:
			if a.Error != nil || a.Stream != "B" || a.Batch != "batch1" || a.Count != n || a.StreamSeq != n-1 {
				t.Fatalf("commit %+v (error %v), want batch1, %d messages, stream seq %d", a, a.Error, n, n-1)
			}
		default:
			t.Fatalf("answer %+v", a)
		}
		break
	}
	if acked < 20 {
		t.Fatalf("flow acknowledged up to %d before the commit, want 20", acked)
	}
	s, _ := js.Stream(ctx, "B")
	if got := s.CachedInfo().State.Msgs; got != n-1 {
		t.Fatalf("stream B holds %d, want %d (one duplicate)", got, n-1)
	}

	// A stream without allow_batched refuses the first message.
	pub("nb.x", fastbatch.Reply{ID: "batch2", Flow: 10, Seq: 1, Op: fastbatch.Start}, "")
	if a, _ := next(); a.Kind != fastbatch.PubAck || a.Error == nil || a.Error.ErrCode != 10205 {
		t.Fatalf("batch to a stream without allow_batched: %+v %v, want error 10205", a, a.Error)
	}
}
