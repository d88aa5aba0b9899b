package e2e

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// The link over the uplinks a gateway really has, made by the proxy
// between leafgate and the hub: a long round trip (satellite, a congested
// cellular cell), a thin pipe (64 KB/s), a black hole. Each test gives
// leafgate its defaults for what it is about: compression s2_auto, the
// default max_pending, the default pings.

// slowLeafz is the part of leafgate's /leafz these tests read.
type slowLeafz struct {
	Leafs []struct {
		RTT         string `json:"rtt"`
		Compression string `json:"compression"`
		OutMsgs     int64  `json:"out_msgs"`
	} `json:"leafs"`
	Remotes []struct {
		Connected      bool   `json:"connected"`
		LastError      string `json:"last_error"`
		Reconnects     int64  `json:"reconnects"`
		FailedAttempts int64  `json:"failed_attempts"`
		Dropped        int64  `json:"dropped"`
	} `json:"remotes"`
}

func (e *edge) slowLeafz(t *testing.T) slowLeafz {
	t.Helper()
	var lz slowLeafz
	monitorGet(t, e.Broker, "/leafz", &lz)
	if len(lz.Remotes) != 1 {
		t.Fatalf("/leafz lists %d remotes, want 1: %+v", len(lz.Remotes), lz)
	}
	return lz
}

// mem is leafgate's memory as its /varz reports it ("mem", bytes).
func (e *edge) mem(t *testing.T) int64 {
	t.Helper()
	var v struct {
		Mem int64 `json:"mem"`
	}
	monitorGet(t, e.Broker, "/varz", &v)
	return v.Mem
}

// startProxied starts a hub, a proxy in front of its leafnode port with
// the given one-way latency, and a leafgate whose one remote goes through
// the proxy (extra: more keys of the remote), and waits for the link.
func startProxied(t *testing.T, latency time.Duration, extra string) (*hub.Hub, *netproxy.Proxy, *edge) {
	t.Helper()
	h := hub.Start(t, hub.Options{})
	p := netproxy.Start(t, h.LeafAddr)
	p.SetLatency(latency)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}, extra: extra}}})
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	return h, p, e
}

// telemetry is one JSON reading as a gateway forwards them: the same keys
// every time, values that vary.
func telemetry(rng *rand.Rand, seq int) []byte {
	return fmt.Appendf(nil, `{"device":"gw-%03d","sensor":"temp-%d","seq":%d,"ts":%d,"value":%.2f,"unit":"C","battery":%d,"status":"ok"}`,
		rng.IntN(8), rng.IntN(4), seq, 1_767_225_600_000+int64(seq)*250+rng.Int64N(50), 15+10*rng.Float64(), 20+rng.IntN(80))
}

// sendTelemetry publishes n JSON readings from pub on subj and waits for
// all of them at sub; it returns the bytes the proxy forwarded in the
// direction given (toTarget: edge → hub) meanwhile.
func sendTelemetry(t *testing.T, p *netproxy.Proxy, toTarget bool, pub *nats.Conn, sub *nats.Subscription, subj string, n int) int64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	wire := func() int64 {
		up, down := p.Bytes()
		if toTarget {
			return up
		}
		return down
	}
	before := wire()
	for i := range n {
		if err := pub.Publish(subj, telemetry(rng, i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	for i := range n {
		m, err := sub.NextMsg(leafWait)
		if err != nil {
			t.Fatalf("%s: message %d of %d: %v", subj, i, n, err)
		}
		if !strings.Contains(string(m.Data), fmt.Sprintf(`"seq":%d,`, i)) {
			t.Fatalf("%s: message %d is %q", subj, i, m.Data)
		}
	}
	return wire() - before
}

// Over a 120 ms round trip, s2_auto (the remote's default) picks the
// strongest level (above 100 ms with the default 10/50/100 ms thresholds)
// and 2000 JSON readings cost at most half the wire bytes they cost with
// compression off, both ways; messages flow both ways either way.
func TestLeafSlowLinkCompression(t *testing.T) {
	const latency = 60 * time.Millisecond
	const n = 2000
	wire := map[string][2]int64{} // mode → {edge → hub, hub → edge}
	for _, tc := range []struct{ mode, extra, want string }{
		{"s2_auto", "", "s2_best"},
		{"off", "compression: off", "off"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			h, p, e := startProxied(t, latency, tc.extra)
			// The level s2_auto picks from the handshake's round trip
			// and then from each PONG's; both are at least 120 ms here.
			hub.Until(t, leafWait, func() string {
				lz := e.slowLeafz(t)
				if len(lz.Leafs) != 1 || lz.Leafs[0].Compression != tc.want {
					return fmt.Sprintf("/leafz: %+v, want one link compressed %s", lz, tc.want)
				}
				return ""
			})
			linkCheck(t, h, e, "slow"+tc.mode)

			hc, ec := h.Connect(t), e.connect(t)
			upSub := subSync(t, hc, "tele.up")
			downSub := subSync(t, ec, "tele.down")
			if err := upSub.SetPendingLimits(-1, -1); err != nil {
				t.Fatal(err)
			}
			if err := downSub.SetPendingLimits(-1, -1); err != nil {
				t.Fatal(err)
			}
			e.waitHubInterest(t, "tele.up", 1)
			h.WaitInterest(t, leafWait, "tele.down")
			up := sendTelemetry(t, p, true, ec, upSub, "tele.up", n)
			down := sendTelemetry(t, p, false, hc, downSub, "tele.down", n)
			wire[tc.mode] = [2]int64{up, down}
			lz := e.slowLeafz(t)
			t.Logf("%s: %d JSON readings took %d wire bytes edge → hub, %d hub → edge; /leafz rtt %s, compression %s",
				tc.mode, n, up, down, lz.Leafs[0].RTT, lz.Leafs[0].Compression)
			if lz.Leafs[0].Compression != tc.want || lz.Remotes[0].Reconnects != 0 {
				t.Fatalf("/leafz after the readings: %+v, want %s and no reconnect", lz, tc.want)
			}
		})
	}
	auto, off := wire["s2_auto"], wire["off"]
	if t.Failed() || off[0] == 0 {
		return
	}
	for i, dir := range []string{"edge → hub (leafgate compresses)", "hub → edge (nats-server compresses)"} {
		ratio := float64(auto[i]) / float64(off[i])
		t.Logf("%s: s2_auto/off = %d/%d = %.2f", dir, auto[i], off[i], ratio)
		if ratio > 0.5 {
			t.Errorf("%s: s2_auto put %d bytes on the wire for %d JSON readings, %.2f of the %d with compression off; want at most 0.5",
				dir, auto[i], n, ratio, off[i])
		}
	}
}

// A 64 KB/s uplink under a publisher thirty times faster for 10 s: the
// link stays up (no reconnect, no failed attempt), leafgate drops what its
// buffer (max_pending) cannot hold and counts it instead of growing, and
// what reaches the hub arrives in order. Once the link is fast again the
// backlog drains: every message leafgate did not count as dropped arrives.
func TestLeafSlowLinkThrottled(t *testing.T) {
	const (
		rate     = 64 << 10
		size     = 1024
		perTick  = 100 // messages every tick: 2 MB/s, 30 × the link
		tick     = 50 * time.Millisecond
		duration = 10 * time.Second
		memLimit = 64 << 20
	)
	h, p, e := startProxied(t, 0, "")
	hc, ec := h.Connect(t), e.connect(t)

	var mu sync.Mutex
	var got []uint64
	disorder := ""
	sub, err := hc.Subscribe("thr.seq", func(m *nats.Msg) {
		if len(m.Data) != size {
			return
		}
		seq := binary.BigEndian.Uint64(m.Data)
		mu.Lock()
		if n := len(got); n > 0 && seq <= got[n-1] && disorder == "" {
			disorder = fmt.Sprintf("seq %d after %d", seq, got[n-1])
		}
		got = append(got, seq)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	flush(t, hc)
	e.waitHubInterest(t, "thr.seq", 1)
	received := func() (int, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got), disorder
	}

	p.SetRate(rate)
	// Random payloads: S2 (s2_auto) cannot shrink them below the rate.
	rng := rand.NewChaCha8([32]byte{11})
	payload := make([]byte, size)
	var published uint64
	var maxMem int64
	checkLink := func(when string) {
		t.Helper()
		lz := e.slowLeafz(t)
		r := lz.Remotes[0]
		if !r.Connected || r.Reconnects != 0 || r.FailedAttempts != 0 {
			t.Fatalf("%s: the throttled link went down: /leafz %+v", when, lz)
		}
		maxMem = max(maxMem, e.mem(t))
	}
	start := time.Now()
	next := start
	lastCheck := start
	for time.Since(start) < duration {
		for range perTick {
			published++
			_, _ = rng.Read(payload[8:])
			binary.BigEndian.PutUint64(payload, published)
			if err := ec.Publish("thr.seq", payload); err != nil {
				t.Fatal(err)
			}
		}
		if time.Since(lastCheck) >= 500*time.Millisecond {
			checkLink(fmt.Sprintf("%v into publishing", time.Since(start).Round(time.Millisecond)))
			lastCheck = time.Now()
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	flush(t, ec)
	// The link stays throttled, its backlog draining slowly, past what
	// would end it if leafgate took the slow link for a dead one: its
	// default pings' verdict on silence and its write deadline.
	hold := leafnode.DefaultPingInterval*time.Duration(leafnode.DefaultMaxPingsOut+1) +
		leafnode.DefaultPingInterval/4 + 2*time.Second
	for time.Since(start) < hold {
		checkLink(fmt.Sprintf("%v into the throttle", time.Since(start).Round(time.Millisecond)))
		time.Sleep(500 * time.Millisecond)
	}
	checkLink("at the end of the throttle")
	n, bad := received()
	lz := e.slowLeafz(t)
	up, _ := p.Bytes()
	t.Logf("published %d messages (%d MB) in %v; after %v of throttle the hub has %d, leafgate dropped %d, the proxy forwarded %d bytes to the hub; leafgate's /varz mem peaked at %.1f MiB",
		published, published*size>>20, duration, time.Since(start).Round(time.Millisecond), n, lz.Remotes[0].Dropped, up, float64(maxMem)/(1<<20))
	if bad != "" {
		t.Fatalf("out of order at the hub: %s", bad)
	}
	if n == 0 {
		t.Fatal("nothing reached the hub over the throttled link")
	}
	if lz.Remotes[0].Dropped == 0 {
		t.Fatalf("leafgate dropped nothing of %d MB over a 64 KB/s link in %v: /leafz %+v", published*size>>20, duration, lz)
	}
	if maxMem > memLimit {
		t.Fatalf("leafgate's /varz mem reached %.1f MiB, want under %d MiB", float64(maxMem)/(1<<20), memLimit>>20)
	}

	// The link is fast again: what leafgate kept goes through, all of it.
	p.SetRate(0)
	hub.Until(t, leafWait, func() string {
		n, bad := received()
		lz := e.slowLeafz(t)
		if bad != "" {
			return "out of order at the hub: " + bad
		}
		if want := int64(published) - lz.Remotes[0].Dropped; int64(n) != want {
			return fmt.Sprintf("the hub has %d messages; %d published, %d dropped at the edge: want %d", n, published, lz.Remotes[0].Dropped, want)
		}
		return ""
	})
	if n, bad := received(); bad != "" || n == 0 {
		t.Fatalf("after draining: %d messages, disorder %q", n, bad)
	}
	checkLink("after draining")
	linkCheck(t, h, e, "throttled")
}

// A black hole with leafgate's default pings (nothing overridden) is found
// within ping_interval × (ping_max + 1) plus a quarter interval (the
// check's tick), and that bound meets the 15 s; the link comes
// back once the path does.
func TestLeafBlackHoleDefaultPings(t *testing.T) {
	const target = 15 * time.Second
	interval, pings := leafnode.DefaultPingInterval, leafnode.DefaultMaxPingsOut
	silence := interval * time.Duration(pings+1) // the verdict
	bound := silence + interval/4                // and its check's tick
	t.Logf("defaults: ping_interval %v, ping_max %d: detection within %v", interval, pings, bound)
	if bound > target {
		t.Fatalf("the default pings (every %v, %d missed) find a black hole only within %v; the target is %v", interval, pings, bound, target)
	}
	h, p, e := startProxied(t, 0, "")
	ec, hc := e.connect(t), h.Connect(t)
	sub := subSync(t, ec, "bh.default")
	h.WaitInterest(t, leafWait, "bh.default")

	// A message from the hub just before the pause: the link's silence
	// starts now, not at the last PONG, so the verdict must take the whole
	// silence period.
	publish(t, hc, "bh.default", "before")
	recv(t, sub, "bh.default", "before")
	p.Pause()
	paused := time.Now()
	var detected time.Duration
	hub.Until(t, target+10*time.Second, func() string {
		if lz := e.slowLeafz(t); lz.Remotes[0].Connected {
			return "leafgate did not find the black-holed link"
		}
		detected = time.Since(paused)
		return ""
	})
	lz := e.slowLeafz(t)
	t.Logf("black hole detected after %v; /leafz last_error %q", detected.Round(10*time.Millisecond), lz.Remotes[0].LastError)
	if detected > target {
		t.Fatalf("black hole detected after %v with the default pings, want within %v (the defaults promise %v)", detected, target, bound)
	}
	if early := silence - interval/4; detected < early {
		t.Fatalf("link dropped %v after the pause, before %v of silence: not by the default pings", detected, early)
	}
	if !strings.Contains(lz.Remotes[0].LastError, "stale") {
		t.Fatalf("/leafz while black-holed: %+v, want a stale-connection error", lz)
	}

	p.Resume()
	hub.Until(t, leafWait, func() string {
		if lz := e.slowLeafz(t); !lz.Remotes[0].Connected || lz.Remotes[0].Reconnects < 1 {
			return fmt.Sprintf("/leafz after Resume: %+v, want connected again", lz)
		}
		return ""
	})
	h.WaitLeafs(t, 1, leafWait)
	h.WaitInterest(t, leafWait, "bh.default")
	publish(t, hc, "bh.default", "after")
	recv(t, sub, "bh.default", "after")
	linkCheck(t, h, e, "bhdefault")
}
