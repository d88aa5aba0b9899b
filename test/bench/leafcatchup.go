package main

// leaf-catchup (issue 12): catch-up after an outage. A nats-server hub
// (JetStream domain hub) and one leaf (JetStream domain edge) through a
// proxy that can refuse the link. The link goes down; scale(200,000)
// 128-byte messages are published into the leaf's stream TELEMETRY (each
// acknowledged); after at least outageFor the link comes back, and the
// bench measures how the backlog reaches a hub stream:
//
//   - uplink: leafgate's uplink publishes it into the hub stream HUBTEL
//     (telemetry.>);
//   - sourced: the hub stream AGG sources TELEMETRY by domain, from
//     leafgate, and, as the reference, from a nats-server leaf.
//
// Per run: the time from the link's return to the first backlog message
// stored at the hub, the drain rate (messages over the time from the
// first to the last), the bytes the leaf wrote to the link per message,
// and loss and duplicates (the hub stream must end with exactly n). With
// s2_fast and with compression off (the default, s2_auto, picks no
// compression on loopback). A second scenario
// restarts the hub (same store) instead of cutting the link, with a
// smaller backlog, for the first-message time.
//
// Rows: leafgate's uplink (per-message publishes, and fast batches into a
// hub stream with allow_batched) and leafgate sourced, each against the
// nats-server leaf sourced.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// outageFor is how long the link stays down at least: longer than
// nats-server's source health check (10 s), as a real outage would be.
const outageFor = 12 * time.Second

// catchupPath is how the backlog reaches the hub.
type catchupPath struct {
	name   string
	server int  // serverNames index of the leaf
	uplink bool // leafgate's uplink; otherwise the hub sources the leaf
	// fastBatch: the uplink's fast_batch, into a hub stream with
	// allow_batched.
	fastBatch bool
}

var catchupPaths = []catchupPath{
	{"uplink", 0, true, false},
	{"uplink fast batch", 0, true, true},
	{"sourced", 0, false, false},
	{"sourced", 1, false, false},
}

// catchupRef is the reference path: the hub sourcing a nats-server leaf.
var catchupRef = catchupPaths[3]

func (p catchupPath) label() string {
	return fmt.Sprintf("%s, %s", serverNames[p.server], p.name)
}

// catchupResult is one run's figures.
type catchupResult struct {
	first   time.Duration
	drain   float64 // messages per second
	wire    float64 // leaf→hub bytes per message
	stored  int
	elapsed time.Duration
	// CPU the hub and the leaf used from the link's return to the end of
	// the catch-up, per 100,000 messages.
	hubCPU, leafCPU time.Duration
	// uplink is what leafgate's /uplinkz said at the end (uplink paths).
	uplink string
}

func leafCatchup(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	n := scale(200_000)
	var rows []Row
	reps := max(*flagRepeat, 1)
	for _, comp := range []string{"s2_fast", "off"} {
		// Each path reps times, the paths taking turns; each figure is
		// the median of its path's runs.
		runs := map[string][]catchupResult{}
		for range reps {
			for _, p := range catchupPaths {
				if ctx.Err() != nil {
					return rows, ctx.Err()
				}
				r, err := catchupRun(bins, p, comp, n, false)
				if err != nil {
					return rows, fmt.Errorf("%s: %w", p.label(), err)
				}
				fmt.Fprintf(out, "  catch-up %s, compression %s: first message %v after the link returned, %.0f msgs/s, %.1f wire bytes/msg, %d of %d stored; CPU per 100k messages: hub %v, leaf %v%s\n",
					p.label(), orDefault(comp), r.first.Round(time.Millisecond), r.drain, r.wire, r.stored, n, r.hubCPU.Round(10*time.Millisecond), r.leafCPU.Round(10*time.Millisecond), r.uplink)
				runs[p.label()] = append(runs[p.label()], r)
			}
		}
		res := map[string]catchupResult{}
		for _, p := range catchupPaths {
			r := medianCatchup(runs[p.label()])
			if reps > 1 {
				fmt.Fprintf(out, "  catch-up %s, compression %s, median of %d runs: first message %v, %.0f msgs/s, %.1f wire bytes/msg; CPU per 100k messages: hub %v, leaf %v\n",
					p.label(), orDefault(comp), reps, r.first.Round(time.Millisecond), r.drain, r.wire, r.hubCPU.Round(10*time.Millisecond), r.leafCPU.Round(10*time.Millisecond))
			}
			res[p.label()] = r
		}
		ref := res[catchupRef.label()]
		for _, p := range catchupPaths[:3] {
			r := res[p.label()]
			tag := catchupTag(p, comp)
			rows = append(rows,
				Row{Workload: tag + ": drain", Payload: 128, Unit: "msgs/s", Leafgate: r.drain, NATS: ref.drain, Ratio: r.drain / ref.drain},
				Row{Workload: tag + ": first message after the link returns", Payload: 128, Unit: "s", Leafgate: r.first.Seconds(), NATS: ref.first.Seconds(), Ratio: r.first.Seconds() / ref.first.Seconds()},
				Row{Workload: tag + ": wire bytes per message", Payload: 128, Unit: "B", Leafgate: r.wire, NATS: ref.wire, Ratio: r.wire / ref.wire},
			)
		}
	}
	// Hub restart instead of a cut: the first-message time.
	res := map[string]catchupResult{}
	for _, p := range catchupPaths {
		r, err := catchupRun(bins, p, "", n/10, true)
		if err != nil {
			return rows, fmt.Errorf("%s, hub restart: %w", p.label(), err)
		}
		fmt.Fprintf(out, "  catch-up %s after a hub restart: first message %v after the hub listened, %d of %d stored\n",
			p.label(), r.first.Round(time.Millisecond), r.stored, n/10)
		res[p.label()] = r
	}
	ref := res[catchupRef.label()]
	for _, p := range catchupPaths[:3] {
		r := res[p.label()]
		rows = append(rows, Row{Workload: catchupRestartTag(p),
			Payload: 128, Unit: "s", Leafgate: r.first.Seconds(), NATS: ref.first.Seconds(), Ratio: r.first.Seconds() / ref.first.Seconds()})
	}
	return rows, nil
}

// medianCatchup is the median of each of rs's figures; stored is the
// fewest any run stored.
func medianCatchup(rs []catchupResult) catchupResult {
	med := func(f func(catchupResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	return catchupResult{
		first:   time.Duration(med(func(r catchupResult) float64 { return float64(r.first) })),
		drain:   med(func(r catchupResult) float64 { return r.drain }),
		wire:    med(func(r catchupResult) float64 { return r.wire }),
		hubCPU:  time.Duration(med(func(r catchupResult) float64 { return float64(r.hubCPU) })),
		leafCPU: time.Duration(med(func(r catchupResult) float64 { return float64(r.leafCPU) })),
		stored:  slices.MinFunc(rs, func(a, b catchupResult) int { return a.stored - b.stored }).stored,
		uplink:  rs[len(rs)-1].uplink,
	}
}

// catchupTag starts the names of path p's rows at compression comp.
func catchupTag(p catchupPath, comp string) string {
	return fmt.Sprintf("leaf catch-up %s vs nats-server leaf sourced, compression %s", p.name, orDefault(comp))
}

// catchupRestartTag names path p's hub-restart row.
func catchupRestartTag(p catchupPath) string {
	return fmt.Sprintf("leaf catch-up %s vs nats-server leaf sourced, hub restart: first message", p.name)
}

func orDefault(s string) string {
	if s == "" {
		return "s2_auto"
	}
	return s
}

// catchupRun runs one outage and catch-up.
func catchupRun(bins []string, p catchupPath, compression string, n int, restartHub bool) (catchupResult, error) {
	var res catchupResult
	hubLeafPort := freePort()
	hubDir, err := os.MkdirTemp(*flagStore, "leafgate-bench-catchup-hub-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(hubDir)
	hubConf := filepath.Join(hubDir, "hub.conf")
	text := fmt.Sprintf("server_name: bench-hub\njetstream {\n  store_dir: %q\n  domain: hub\n}\nleafnodes {\n  listen: \"127.0.0.1:%d\"\n  no_advertise: true\n}\n", filepath.Join(hubDir, "js"), hubLeafPort)
	if err := os.WriteFile(hubConf, []byte(text), 0o644); err != nil {
		return res, err
	}
	hub := &Server{Name: "hub", Bin: bins[1], Args: []string{"-c", hubConf}}
	if err := hub.start(); err != nil {
		return res, err
	}
	defer func() { hub.stop() }()
	if err := hub.waitListening(fmt.Sprintf("127.0.0.1:%d", hubLeafPort)); err != nil {
		return res, err
	}
	px, err := netproxy.New(fmt.Sprintf("127.0.0.1:%d", hubLeafPort))
	if err != nil {
		return res, err
	}
	defer px.Close()
	leaf, err := startCatchupLeaf(p, bins[p.server], px.Addr(), compression)
	if err != nil {
		return res, err
	}
	defer leaf.stop()

	hc, err := conn(hub.URL)
	if err != nil {
		return res, err
	}
	defer func() { hc.Close() }()
	lc, err := conn(leaf.URL)
	if err != nil {
		return res, err
	}
	defer lc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ljs, _ := jetstream.New(lc, jetstream.WithPublishAsyncMaxPending(1<<14))
	if err := waitFor(30*time.Second, func() bool {
		ejs, err := jetstream.NewWithDomain(hc, "edge")
		if err != nil {
			return false
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = ejs.AccountInfo(c)
		return err == nil
	}); err != nil {
		return res, fmt.Errorf("link up: %w", err)
	}
	if _, err := ljs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		return res, fmt.Errorf("leaf stream: %w", err)
	}
	hjs, _ := jetstream.New(hc)
	hubStream := "AGG"
	if p.uplink {
		hubStream = "HUBTEL"
		_, err = hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "HUBTEL", Subjects: []string{"telemetry.>"}, Duplicates: time.Hour, AllowBatchPublish: p.fastBatch})
	} else {
		_, err = hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}}})
	}
	if err != nil {
		return res, fmt.Errorf("hub stream: %w", err)
	}
	// One message through first: the path works before the outage.
	if _, err := ljs.Publish(ctx, "telemetry.warmup", []byte("x")); err != nil {
		return res, err
	}
	if err := waitFor(60*time.Second, func() bool { return streamMsgs(ctx, hjs, hubStream) == 1 }); err != nil {
		return res, fmt.Errorf("first message through: %w", err)
	}

	// The outage.
	down := time.Now()
	if restartHub {
		hc.Close()
		hub.stop()
	} else {
		px.Refuse(true)
		px.Cut()
	}
	if !restartHub {
		// The link is down when leafgate or nats-server says so.
		if err := waitFor(30*time.Second, func() bool {
			c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			ejs, _ := jetstream.NewWithDomain(hc, "edge")
			_, err := ejs.AccountInfo(c)
			return err != nil
		}); err != nil {
			return res, fmt.Errorf("link down: %w", err)
		}
	}
	payload := []byte(strings.Repeat("x", 128))
	for i := 0; i < n; i++ {
		if _, err := ljs.PublishAsync(fmt.Sprintf("telemetry.dev%d", i%100), payload); err != nil {
			return res, err
		}
		if (i+1)%1000 == 0 || i == n-1 {
			select {
			case <-ljs.PublishAsyncComplete():
			case <-ctx.Done():
				return res, fmt.Errorf("publishes not acknowledged")
			}
		}
	}
	if got := streamMsgs(ctx, hjs, hubStream); !restartHub && got != 1 {
		return res, fmt.Errorf("the hub stream got %d messages while the link was down", got-1)
	}
	time.Sleep(time.Until(down.Add(outageFor)))
	toHub0, _ := px.Bytes()
	var back time.Time
	if restartHub {
		if err := hub.start(); err != nil {
			return res, err
		}
		if err := hub.waitListening(fmt.Sprintf("127.0.0.1:%d", hubLeafPort)); err != nil {
			return res, err
		}
		back = time.Now()
		if hc, err = conn(hub.URL); err != nil {
			return res, err
		}
		hjs, _ = jetstream.New(hc)
	} else {
		px.Refuse(false)
		back = time.Now()
	}
	hubCPU, leafCPU := cpuMeter(hub.cmd.Process.Pid), cpuMeter(leaf.cmd.Process.Pid)
	want := n + 1
	var first time.Time
	err = waitFor(5*time.Minute, func() bool {
		got := streamMsgs(ctx, hjs, hubStream)
		if got > 1 && first.IsZero() {
			first = time.Now()
		}
		return got >= want
	})
	done := time.Now()
	res.hubCPU, res.leafCPU = hubCPU()*100_000/time.Duration(n), leafCPU()*100_000/time.Duration(n)
	toHub1, _ := px.Bytes()
	res.stored = streamMsgs(ctx, hjs, hubStream) - 1
	if err != nil {
		return res, fmt.Errorf("catch-up: %d of %d stored: %w", res.stored, n, err)
	}
	// Nothing more trickles in (duplicates).
	time.Sleep(time.Second)
	if got := streamMsgs(ctx, hjs, hubStream); got != want {
		return res, fmt.Errorf("the hub stream holds %d, want %d: duplicates", got-1, n)
	}
	res.first = first.Sub(back)
	if d := done.Sub(first); d > 0 {
		res.drain = float64(n) / d.Seconds()
	}
	res.wire = float64(toHub1-toHub0) / float64(n)
	res.elapsed = done.Sub(back)
	if p.uplink {
		res.uplink = leaf.uplinkCounters()
	}
	return res, nil
}

// startCatchupLeaf starts the leaf of a catch-up run: JetStream domain
// edge, one remote through the proxy.
func startCatchupLeaf(p catchupPath, bin, via, compression string) (*Server, error) {
	name := serverNames[p.server]
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-catchup-"+name+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{Name: name, Bin: bin, StoreDir: dir}
	url := "nats-leaf://" + via
	var text, conf string
	if name == "leafgate" {
		text = fmt.Sprintf("server_name: gw1\njetstream:\n  domain: edge\nleafnodes:\n  remotes:\n    - url: %s\n", url)
		if compression != "" {
			text += fmt.Sprintf("      compression: %s\n", compression)
		}
		if p.uplink {
			text += "uplinks:\n  - stream: TELEMETRY\n    filter: telemetry.>\n"
			// Said either way: the single-publish path must not try
			// batches (unset, the uplink would try them first).
			text += fmt.Sprintf("    fast_batch: %v\n", p.fastBatch)
		}
		conf = filepath.Join(dir, "leafgate.yaml")
		s.Args = []string{"--config", conf, "--store_dir", filepath.Join(dir, "store"), "--mqtt_port", "0", "--websocket_port", "0"}
	} else {
		text = fmt.Sprintf("server_name: bench-leaf\njetstream {\n  store_dir: %q\n  domain: edge\n}\nleafnodes {\n  remotes = [\n    {\n      url: %q\n", filepath.Join(dir, "js"), url)
		if compression != "" {
			text += fmt.Sprintf("      compression: %s\n", compression)
		}
		text += "    }\n  ]\n}\n"
		conf = filepath.Join(dir, "leaf.conf")
		s.Args = []string{"-c", conf}
	}
	return startConfigured(s, dir, conf, text)
}

func streamMsgs(ctx context.Context, js jetstream.JetStream, name string) int {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(c, name)
	if err != nil {
		return -1
	}
	return int(s.CachedInfo().State.Msgs)
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// uplinkCounters is leafgate's /uplinkz for the first uplink, as a log
// suffix: sends, resends, stalls, batches and the last error.
func (s *Server) uplinkCounters() string {
	resp, err := monitorClient.Get(fmt.Sprintf("http://127.0.0.1:%d/uplinkz", s.monPort))
	if err != nil {
		return "; /uplinkz: " + err.Error()
	}
	defer resp.Body.Close()
	var z struct {
		Uplinks []struct {
			Sent      uint64 `json:"sent"`
			Resent    uint64 `json:"resent"`
			Stalls    uint64 `json:"stalls"`
			Batches   uint64 `json:"batches"`
			LastError string `json:"last_error"`
		} `json:"uplinks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&z); err != nil || len(z.Uplinks) == 0 {
		return fmt.Sprintf("; /uplinkz unreadable: %v", err)
	}
	u := z.Uplinks[0]
	return fmt.Sprintf("; uplink sent %d, resent %d, stalls %d, batches %d, last error %q", u.Sent, u.Resent, u.Stalls, u.Batches, u.LastError)
}
