package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// leafgate as the follower (issue 12, part 2): streams on leafgate mirror
// and source a nats-server hub's streams across the leafnode link, by the
// hub's JetStream domain. nats-server serves the consumers leafgate asks
// for (its jsConsumerCreateRequest), as it would for a nats-server leaf.

// hubPublishN publishes payloads from..from+n-1 on subj.<i%3> at the hub,
// acknowledged by the hub's stream.
func hubPublishN(t *testing.T, js jetstream.JetStream, subj string, from, n int) {
	t.Helper()
	jsPublishN(t, js, subj, from, n)
}

// checkFollowed reads n messages of a leafgate stream that follows a hub
// stream and checks each once, in order: payload i on <prefix>.<i%3>.
func checkFollowed(t *testing.T, js jetstream.JetStream, stream, prefix string, n int) {
	t.Helper()
	for i, m := range streamMsgsBySeq(t, js, stream, n) {
		if string(m.Data()) != fmt.Sprint(i) || m.Subject() != fmt.Sprintf("%s.%d", prefix, i%3) {
			md, _ := m.Metadata()
			t.Fatalf("%s seq %d: %s %q, want payload %d", stream, md.Sequence.Stream, m.Subject(), m.Data(), i)
		}
	}
}

// leafgate sources and mirrors the hub's COMMANDS: every message once, in
// order; the mirror keeps the hub's sequences across a gap; the source
// header names the origin; STREAM.INFO reports both active; later
// messages follow.
func TestReplEdgeFollowsHubStream(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	ejs, _ := jetstream.New(ec)
	hjs, _ := jetstream.New(hc, jetstream.WithPublishAsyncMaxPending(1<<14))
	hs, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Subjects: []string{"commands.>"}})
	if err != nil {
		t.Fatal(err)
	}
	const first = 500
	hubPublishN(t, hjs, "commands.dev", 0, first)
	if err := hs.DeleteMsg(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "COMMANDS", Sources: []*jetstream.StreamSource{{Name: "COMMANDS", Domain: "hub"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "CMIRROR", Mirror: &jetstream.StreamSource{Name: "COMMANDS", Domain: "hub"},
	}); err != nil {
		t.Fatal(err)
	}
	waitStreamMsgs(t, ejs, "COMMANDS", first-1)
	waitStreamMsgs(t, ejs, "CMIRROR", first-1)
	hubPublishN(t, hjs, "commands.dev", first, 300)
	const total = first - 1 + 300
	waitStreamMsgs(t, ejs, "COMMANDS", total)
	mi := waitStreamMsgs(t, ejs, "CMIRROR", total)
	if mi.State.FirstSeq != 1 || mi.State.LastSeq != first+300 {
		t.Fatalf("mirror holds %d..%d, want 1..%d", mi.State.FirstSeq, mi.State.LastSeq, first+300)
	}
	for _, stream := range []string{"COMMANDS", "CMIRROR"} {
		want := 0
		for _, m := range streamMsgsBySeq(t, ejs, stream, total) {
			if want == 6 {
				want++ // the hub's seq 7 was deleted
			}
			md, _ := m.Metadata()
			if string(m.Data()) != fmt.Sprint(want) || m.Subject() != fmt.Sprintf("commands.dev.%d", want%3) {
				t.Fatalf("%s seq %d: %s %q, want %d", stream, md.Sequence.Stream, m.Subject(), m.Data(), want)
			}
			if stream == "CMIRROR" && md.Sequence.Stream != uint64(want+1) {
				t.Fatalf("mirror seq %d holds the hub's seq %d", md.Sequence.Stream, want+1)
			}
			if src := m.Headers().Get("Nats-Stream-Source"); stream == "COMMANDS" && !strings.HasPrefix(src, "COMMANDS:") {
				t.Fatalf("source header %q", src)
			}
			want++
		}
	}
	hub.Until(t, replWait, func() string {
		s, err := ejs.Stream(ctx, "COMMANDS")
		if err != nil {
			return err.Error()
		}
		si := s.CachedInfo()
		if len(si.Sources) != 1 || si.Sources[0].Error != nil || si.Sources[0].Lag != 0 || si.Sources[0].Active < 0 || si.Sources[0].Active > 5*time.Second {
			return fmt.Sprintf("source info %+v", si.Sources[0])
		}
		m, err := ejs.Stream(ctx, "CMIRROR")
		if err != nil {
			return err.Error()
		}
		if mi := m.CachedInfo().Mirror; mi == nil || mi.Error != nil || mi.Name != "COMMANDS" || mi.External == nil {
			return fmt.Sprintf("mirror info %+v", mi)
		}
		return ""
	})
}

// The hub's stream is deleted and created again while leafgate sources
// it (nats-server #6206): its sequences start over at 1, below what
// leafgate already has from it. leafgate notices (the stream identity the
// hub answers with is another), starts over from the new stream's first
// message and reports no error; it keeps the old stream's messages.
func TestReplEdgeFollowsHubStreamRecreated(t *testing.T) {
	t.Parallel() // waits, mostly: the hub's consumer goes quiet first
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*replWait)
	defer cancel()
	ejs, _ := jetstream.New(ec)
	hjs, _ := jetstream.New(hc, jetstream.WithPublishAsyncMaxPending(1<<14))
	cfg := jetstream.StreamConfig{Name: "COMMANDS", Subjects: []string{"commands.>"}}
	if _, err := hjs.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	hubPublishN(t, hjs, "commands.dev", 0, 100)
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "COMMANDS", Sources: []*jetstream.StreamSource{{Name: "COMMANDS", Domain: "hub"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitStreamMsgs(t, ejs, "COMMANDS", 100)

	if err := hjs.DeleteStream(ctx, "COMMANDS"); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	hubPublishN(t, hjs, "commands.dev", 100, 50)
	waitStreamMsgs(t, ejs, "COMMANDS", 150)
	t.Logf("the re-created stream's messages followed %v after it was created", time.Since(start).Round(time.Millisecond))
	checkFollowed(t, ejs, "COMMANDS", "commands.dev", 150)
	hub.Until(t, replWait, func() string {
		s, err := ejs.Stream(ctx, "COMMANDS")
		if err != nil {
			return err.Error()
		}
		if si := s.CachedInfo(); len(si.Sources) != 1 || si.Sources[0].Error != nil || si.Sources[0].Lag != 0 {
			return fmt.Sprintf("source info %+v", si.Sources[0])
		}
		return ""
	})
}

// hubPublishParts publishes n messages at the hub in parts with pauses,
// so link cuts fall while they are being sourced.
func hubPublishParts(t *testing.T, js jetstream.JetStream, subj string, n, parts int, pause time.Duration) {
	t.Helper()
	for p := 0; p < parts; p++ {
		hubPublishN(t, js, subj, p*(n/parts), n/parts)
		time.Sleep(pause)
	}
}

// leafgate sources the hub's COMMANDS while the link drops every 2 s:
// every message arrives once, in order.
func TestReplEdgeFollowsHubFlaps(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}
	_, p, _, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*replWait)
	defer cancel()
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Subjects: []string{"commands.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "COMMANDS", Sources: []*jetstream.StreamSource{{Name: "COMMANDS", Domain: "hub"}},
	}); err != nil {
		t.Fatal(err)
	}
	stop := flapper(p, 2*time.Second)
	start := time.Now()
	hubPublishParts(t, hjs, "commands.dev", n, 10, 500*time.Millisecond)
	waitStreamMsgs(t, ejs, "COMMANDS", uint64(n))
	t.Logf("all %d at the edge after %v, %d link cuts", n, time.Since(start).Round(time.Millisecond), stop())
	checkFollowed(t, ejs, "COMMANDS", "commands.dev", n)
}

// leafgate sources a work-queue stream of the hub (nats-server gives it
// a durable acknowledged by leafgate's flow-control replies) and is
// killed with kill -9 twice mid-stream: every message ends on leafgate
// once, and the hub's queue empties — a flow-control reply only ever
// confirmed what leafgate had made durable.
func TestReplEdgeFollowsHubWorkQueueKill(t *testing.T) {
	n := 50_000
	if raceEnabled {
		n = 10_000
	}
	_, _, e, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*replWait)
	defer cancel()
	hs, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{"jobs.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "JOBS", Sources: []*jetstream.StreamSource{{Name: "JOBS", Domain: "hub"}},
	}); err != nil {
		t.Fatal(err)
	}
	for part := 0; part < 3; part++ {
		hubPublishN(t, hjs, "jobs.dev", part*(n/3), n/3)
		// Kill leafgate once part of this batch has arrived.
		waitStreamAtLeast(t, ejs, "JOBS", uint64(part*(n/3))+1)
		if part < 2 {
			e.Crash(t)
			ec := e.connect(t)
			ejs, _ = jetstream.New(ec)
		}
	}
	rest := n - 3*(n/3)
	hubPublishN(t, hjs, "jobs.dev", 3*(n/3), rest)
	defer func() {
		if t.Failed() {
			hi, _ := hs.Info(context.Background())
			s, _ := ejs.Stream(context.Background(), "JOBS")
			if hi != nil && s != nil {
				t.Logf("the hub's JOBS holds %d (first %d last %d); leafgate's sources: %+v", hi.State.Msgs, hi.State.FirstSeq, hi.State.LastSeq, s.CachedInfo().Sources[0])
				have := map[string]bool{}
				got := int(s.CachedInfo().State.Msgs)
				for _, m := range streamMsgsBySeq(t, ejs, "JOBS", got) {
					have[string(m.Data())] = true
				}
				var missing []int
				for i := 0; i < n; i++ {
					if !have[fmt.Sprint(i)] {
						missing = append(missing, i)
					}
				}
				if len(missing) > 0 {
					t.Logf("missing %d: first %d last %d", len(missing), missing[0], missing[len(missing)-1])
				}
			}
		}
	}()
	waitStreamMsgs(t, ejs, "JOBS", uint64(n))
	checkFollowed(t, ejs, "JOBS", "jobs.dev", n)
	waitEmpty(t, ctx, hs, "the hub's work queue, after leafgate stored everything")
}
