package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// Replication over a bad link (issue 12's test list): a black-holed link,
// a throttled one, and leafgate killed while the hub catches up from it.
// Each runs every direction at once where it can: the uplink into the
// hub's HUBTEL, the hub's AGG sourcing leafgate's TELEMETRY, and
// leafgate's COMMANDS sourcing the hub's.

// bothWays is a hub and a leafgate replicating in every direction.
type bothWays struct {
	h        *hub.Hub
	p        *netproxy.Proxy
	e        *edge
	ejs, hjs jetstream.JetStream
}

// startBothWays starts startUplinkedWith's hub and leafgate, adds the
// hub's COMMANDS (sourced by leafgate's COMMANDS) and the hub's AGG
// (sourcing leafgate's TELEMETRY), and waits until the first 10
// messages went every way, so every path is set up.
func startBothWays(t *testing.T, o edgeOpts, remoteExtra string) *bothWays {
	t.Helper()
	h, p, e, ejs, hjs := startUplinkedWith(t, o, remoteExtra)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	h.WaitInterest(t, leafWait, "$JS.edge.API.STREAM.>")
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Subjects: []string{"commands.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Sources: []*jetstream.StreamSource{{Name: "COMMANDS", Domain: "hub"}}}); err != nil {
		t.Fatal(err)
	}
	hjs2, _ := jetstream.New(h.Connect(t), jetstream.WithPublishAsyncMaxPending(1<<14))
	b := &bothWays{h: h, p: p, e: e, ejs: ejs, hjs: hjs2}
	b.publish(t, 0, 10)
	b.wait(t, 10)
	return b
}

// publish adds telemetry from..from+n on leafgate and as many commands
// on the hub.
func (b *bothWays) publish(t *testing.T, from, n int) {
	t.Helper()
	jsPublishN(t, b.ejs, "telemetry.dev", from, n)
	hubPublishN(t, b.hjs, "commands.dev", from, n)
}

// wait waits until every path carried n messages, and checks each path's
// content: every message once, in order.
func (b *bothWays) wait(t *testing.T, n int) {
	t.Helper()
	waitStreamMsgs(t, b.hjs, "HUBTEL", uint64(n))
	waitStreamMsgs(t, b.hjs, "AGG", uint64(n))
	waitStreamMsgs(t, b.ejs, "COMMANDS", uint64(n))
}

func (b *bothWays) check(t *testing.T, n int) {
	t.Helper()
	checkUplinked(t, b.hjs, n)
	checkSourced(t, b.hjs, "AGG", n)
	checkFollowed(t, b.ejs, "COMMANDS", "commands.dev", n)
}

// A black-holed link (the path forwards nothing and closes nothing) while
// both sides keep publishing: leafgate's pings find it and drop the link;
// once the path is back every path catches up, every message once, in
// order.
func TestReplBlackHoledLink(t *testing.T) {
	t.Parallel()
	b := startBothWays(t, edgeOpts{leafnodes: fastPings}, "first_info_timeout: 1s")
	b.p.Pause()
	paused := time.Now()
	b.publish(t, 10, 500)
	hub.Until(t, replWait, func() string {
		if b.e.logCount(`msg="leafnode link down".*stale connection`) == 0 {
			return "leafgate did not find the black-holed link"
		}
		return ""
	})
	t.Logf("black hole found after %v", time.Since(paused).Round(10*time.Millisecond))
	time.Sleep(2 * time.Second) // and it stays black a while
	b.p.Resume()
	resumed := time.Now()
	b.wait(t, 510)
	t.Logf("every path caught up %v after the path returned", time.Since(resumed).Round(10*time.Millisecond))
	b.check(t, 510)
}

// A throttled link: 256 kbit/s each way with 300 ms latency each way.
// Everything arrives once, in order, the link stays up, and the uplink
// takes the slow link for what it is: with an ack_wait of 1 s, shorter
// than the link needs for the backlog, it neither counts a stall nor
// resends anything.
func TestReplThrottledLink(t *testing.T) {
	t.Parallel()
	const n = 600
	b := startBothWays(t, edgeOpts{config: "    ack_wait: 1s\n"}, "") // the uplink entry's
	b.p.SetRate(256_000 / 8)
	b.p.SetLatency(300 * time.Millisecond)
	start := time.Now()
	b.publish(t, 10, n)
	b.wait(t, 10+n)
	toUp, toHub := b.p.Bytes()
	t.Logf("%d messages each way over 256 kbit/s, 300 ms: all through after %v; proxy carried %d bytes to the hub, %d to leafgate (all told)",
		n, time.Since(start).Round(10*time.Millisecond), toUp, toHub)
	b.check(t, 10+n)
	if lz := b.e.leafz(t); !lz.Remotes[0].Connected || lz.Remotes[0].Reconnects != 0 {
		t.Fatalf("the throttled link went down: /leafz %+v", lz)
	}
	hub.Until(t, replWait, func() string {
		u := b.e.uplinkz(t).Uplinks[0]
		if u.Confirmed != 10+n {
			return fmt.Sprintf("/uplinkz %+v", u)
		}
		if u.Resent != 0 || u.Stalls != 0 {
			t.Fatalf("the uplink took the slow link for a stall: /uplinkz %+v", u)
		}
		return ""
	})
}

// leafgate killed with kill -9 twice while the hub catches up a backlog
// from it (throttled, so the kills fall mid-way): the hub's source
// recovers each time, and ends with every message once, in order.
func TestReplHubSourcesEdgeKillMidCatchUp(t *testing.T) {
	t.Parallel()
	n := 20_000
	if raceEnabled {
		n = 6_000
	}
	_, p, e, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}}}); err != nil {
		t.Fatal(err)
	}
	jsPublishN(t, ejs, "telemetry.dev", 0, 10)
	waitStreamMsgs(t, hjs, "AGG", 10)

	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 10, n)
	// About 150 bytes a message on the wire: the catch-up takes seconds.
	p.SetRate(n * 150 / 6)
	p.Refuse(false)
	for k := range 2 {
		got := waitStreamAtLeast(t, hjs, "AGG", uint64(10+(k+1)*n/4))
		t.Logf("kill -9 with AGG at %d of %d", got, 10+n)
		if got >= uint64(10+n) {
			t.Fatal("the catch-up ended before the kill: slow the link further")
		}
		e.Crash(t)
	}
	killed := time.Now()
	waitStreamMsgs(t, hjs, "AGG", uint64(10+n))
	t.Logf("AGG complete %v after the second kill", time.Since(killed).Round(10*time.Millisecond))
	checkSourced(t, hjs, "AGG", 10+n)
}
