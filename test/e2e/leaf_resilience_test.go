package e2e

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// The link survives what real uplinks do: the hub restarting, a NAT
// mapping silently dropped (black hole), the hub refusing connections for
// a while, a dead first URL. leafgate is never restarted.

// fastPings makes a black-holed link show within ping_interval x
// (ping_max + 1) = 3 s.
var fastPings = map[string]string{"ping_interval": "1s", "ping_max": "2"}

// linkCheck proves the link carries messages both ways right now, on
// fresh subjects (tag), with fresh clients.
func linkCheck(t *testing.T, h *hub.Hub, e *edge, tag string) {
	t.Helper()
	hc, ec := h.Connect(t), e.connect(t)
	down := subSync(t, ec, "chk.down."+tag)
	up := subSync(t, hc, "chk.up."+tag)
	h.WaitInterest(t, leafWait, "chk.down."+tag)
	e.waitHubInterest(t, "chk.up."+tag, 1)
	publish(t, hc, "chk.down."+tag, tag)
	publish(t, ec, "chk.up."+tag, tag)
	recv(t, down, "chk.down."+tag, tag)
	recv(t, up, "chk.up."+tag, tag)
}

// After the hub restarts, the link comes back by itself and the whole
// local interest is there again: what was subscribed before, and what was
// subscribed while the hub was down; not what was unsubscribed while it
// was down. The hub's interest made after the restart reaches the edge.
func TestLeafHubRestart(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	ec := e.connect(t)
	before := subSync(t, ec, "rs.before")
	gone := subSync(t, ec, "rs.gone")
	h.WaitInterest(t, leafWait, "rs.before", "rs.gone")

	h.Shutdown()
	e.waitLog(t, `msg="leafnode link down"`, 1, leafWait)
	during := subSync(t, ec, "rs.during")
	if err := gone.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)

	h.Restart(t)
	e.waitLinks(t, 2)
	h.WaitLeafs(t, 1, leafWait)
	h.WaitInterest(t, leafWait, "rs.before", "rs.during")
	if got := h.LeafSubjects(); contains(got, "rs.gone") {
		t.Fatalf("hub holds rs.gone, unsubscribed while it was down: %q", got)
	}
	hc := h.Connect(t)
	publish(t, hc, "rs.before", "1")
	publish(t, hc, "rs.during", "2")
	recv(t, before, "rs.before", "1")
	recv(t, during, "rs.during", "2")
	linkCheck(t, h, e, "restart")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A black-holed link (the proxy stops forwarding and closes nothing) is
// found by leafgate's pings within ping_interval x (ping_max + 1) plus a
// tick, dropped, and reconnected once the path is back, with interest and
// messages flowing again. leafgate is not restarted.
func TestLeafBlackHoleDetected(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	p := netproxy.Start(t, h.LeafAddr)
	e := startEdge(t, edgeOpts{
		remotes:   []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}, extra: "first_info_timeout: 1s"}},
		leafnodes: fastPings,
	})
	e.waitLinks(t, 1)
	ec := e.connect(t)
	sub := subSync(t, ec, "bh.x")
	h.WaitInterest(t, leafWait, "bh.x")
	hc := h.Connect(t)
	publish(t, hc, "bh.x", "before")
	recv(t, sub, "bh.x", "before")

	downs := e.logCount(`msg="leafnode link down"`)
	p.Pause()
	paused := time.Now()
	// Detection: the "link down" line naming the unanswered PINGs.
	const limit = 3*time.Second + time.Second + 4*time.Second // ping_interval x (ping_max+1), a tick, margin for a busy machine
	var detected time.Duration
	hub.Until(t, limit+5*time.Second, func() string {
		if e.logCount(`msg="leafnode link down".*stale connection`) == 0 {
			return "leafgate did not find the black-holed link"
		}
		detected = time.Since(paused)
		return ""
	})
	t.Logf("black hole detected after %v", detected.Round(10*time.Millisecond))
	if detected > limit {
		t.Fatalf("black hole detected after %v, want within %v", detected, limit)
	}
	if detected < time.Second {
		t.Fatalf("link dropped %v after the pause: before a single ping interval, so not by its pings", detected)
	}
	if n := e.logCount(`msg="leafnode link down"`); n <= downs {
		t.Fatal("no link-down line")
	}
	if lz := e.leafz(t); lz.NumLeafs != 0 || lz.Remotes[0].Connected || !strings.Contains(lz.Remotes[0].LastError, "stale") {
		t.Fatalf("/leafz while black-holed: %+v", lz)
	}

	// The path returns; the hub's side of the old connection (which saw
	// nothing) closes when the held close comes through.
	p.Resume()
	e.waitLinks(t, 2)
	h.WaitLeafs(t, 1, leafWait)
	h.WaitInterest(t, leafWait, "bh.x")
	publish(t, hc, "bh.x", "after")
	m, err := sub.NextMsg(leafWait)
	if err != nil || string(m.Data) != "after" {
		t.Fatalf("after the black hole: %v %q, want \"after\"", err, msgData(m))
	}
	if lz := e.leafz(t); lz.NumLeafs != 1 || !lz.Remotes[0].Connected || lz.Remotes[0].Reconnects < 1 {
		t.Fatalf("/leafz after the black hole: %+v", lz)
	}
	linkCheck(t, h, e, "blackhole")
}

// While the hub refuses connections, leafgate backs off (reconnect 100ms
// doubling to reconnect_max 1s, jittered): over a 5 s window it tries a
// handful of times, far from the 50 a fixed 100ms retry would make, but
// it keeps trying, and the link is back soon after the refusal ends.
func TestLeafRefusedBackoff(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	p := netproxy.Start(t, h.LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}}}})
	e.waitLinks(t, 1)

	p.Refuse(true)
	if n := p.Cut(); n != 1 {
		t.Fatalf("cut %d connections, want 1", n)
	}
	e.waitLog(t, `msg="leafnode link down"`, 1, leafWait)
	start := p.Attempts()
	// A measurement window, not a wait for an event: count the attempts
	// made in it.
	const window = 5 * time.Second
	time.Sleep(window)
	n := p.Attempts() - start
	t.Logf("%d connection attempts in %v of refusal", n, window)
	if n > 20 {
		t.Fatalf("%d connection attempts in %v while refused: no back-off (reconnect 100ms, reconnect_max 1s)", n, window)
	}
	if n < 3 {
		t.Fatalf("%d connection attempts in %v while refused: leafgate stopped retrying (reconnect_max is 1s)", n, window)
	}
	if lz := e.leafz(t); lz.Remotes[0].Connected || lz.Remotes[0].FailedAttempts < n {
		t.Errorf("/leafz while refused: %+v, want disconnected with at least %d failed attempts", lz, n)
	}

	p.Refuse(false)
	refusedUntil := time.Now()
	e.waitLinks(t, 2)
	t.Logf("link back %v after the refusal ended", time.Since(refusedUntil).Round(10*time.Millisecond))
	linkCheck(t, h, e, "refused")
}

// With two URLs, the first dead (nothing listens there) and tried first
// (no_randomize), the link comes up on the second.
func TestLeafSecondURL(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	dead, err := mqttpeer.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	deadURL := fmt.Sprintf("nats-leaf://127.0.0.1:%d", dead)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{deadURL, h.LeafURL}, extra: "no_randomize: true"}}})
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	log := e.Log()
	if !strings.Contains(log, fmt.Sprintf("127.0.0.1:%d", dead)) {
		t.Errorf("leafgate never tried the dead first URL:\n%s", log)
	}
	if e.logCount(`msg="leafnode link up".* url=`+regexp.QuoteMeta(h.LeafURL)+` `) != 1 {
		t.Errorf("the link did not come up on the second URL %s", h.LeafURL)
	}
	linkCheck(t, h, e, "second")
}

// Interest stays exact through link cuts: 100 random subscribes,
// unsubscribes and cuts of the link (with subscribes and unsubscribes
// racing the reconnect), then the hub must hold exactly the subjects that
// still have a subscription at the edge: none stale, none missing.
func TestLeafInterestAfterCuts(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	p := netproxy.Start(t, h.LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}}},
		leafnodes: map[string]string{"reconnect": "20ms", "reconnect_max": "100ms"}})
	e.waitLinks(t, 1)
	ec := e.connect(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(11, seed))
	subs := map[string][]*nats.Subscription{}
	cuts := 0
	check := func(step int) {
		t.Helper()
		flush(t, ec)
		var want []string
		for s, l := range subs {
			if len(l) > 0 {
				want = append(want, s)
			}
		}
		slices.Sort(want)
		hub.Until(t, leafWait, func() string {
			var got []string
			for _, s := range h.LeafSubjects() {
				if strings.HasPrefix(s, "ri.") {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("after step %d (%d cuts): hub holds %q, edge has %q", step, cuts, got, want)
			}
			return ""
		})
	}
	for step := range 100 {
		subj := fmt.Sprintf("ri.%d", rng.IntN(12))
		switch r := rng.IntN(10); {
		case r < 5:
			sub, err := ec.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			subs[subj] = append(subs[subj], sub)
		case r < 9:
			if l := subs[subj]; len(l) > 0 {
				if err := l[0].Unsubscribe(); err != nil {
					t.Fatal(err)
				}
				subs[subj] = l[1:]
			}
		default:
			cuts += p.Cut()
		}
		if step%25 == 24 {
			check(step)
		}
	}
	t.Logf("%d cuts, %d link-up lines", cuts, e.logCount(`msg="leafnode link up"`))
}
