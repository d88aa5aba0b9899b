package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// leafWindowBytes bounds what the upstream publisher may have sent and the
// hub's subscriber not yet received. A leafgate leaf drops messages for
// the hub beyond its max_pending (8 MB by default: core NATS is at most
// once) rather than slowing its clients, so an unbounded publisher would
// measure drops; nats-server's leaf stalls its publisher instead. Half of
// it keeps both lossless, and covers milliseconds at these rates.
const leafWindowBytes = 4 << 20

// localPubSub is the name of the local pub→sub rows; localCPUUpDown the
// row of the leaf's CPU per message with the link up over down, which
// the target bounds (budgets.go).
const (
	localPubSub    = "leaf: local pub -> sub"
	localCPUUpDown = localPubSub + ", server CPU, up / down"
)

// leafLocal: the core 1 pub -> 1 sub workload (16 B, the same count) with
// publisher and subscriber both on the leaf, on bench.fan, which the hub
// has no interest in, while the link is up and the leaf holds the hub's
// interest in hubInterest, and while it is down (the hub stopped, the
// leaf retrying). Each run is one leaf process measured both ways, in
// turn up first and down first; the rows are the medians, and the link
// up / down rows the medians of each run's quotient. Each process gets an
// unmeasured warm-up run first.
func leafLocal(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	const size = 16
	n := scale(1_000_000)
	type runs struct {
		rate, cpu           [2][]float64 // [0] link up, [1] link down
		rateRatio, cpuRatio []float64    // up / down, run by run
	}
	var res [2]runs
	var errs []string
	for i := 0; i < *flagRepeat; i++ {
		for j, name := range serverNames {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rate, cpu, err := localRun(bins, j, size, n, i%2 == 1)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			r := &res[j]
			for k := range 2 {
				r.rate[k] = append(r.rate[k], rate[k])
				r.cpu[k] = append(r.cpu[k], cpu[k])
			}
			r.rateRatio = append(r.rateRatio, rate[0]/rate[1])
			if cpu[1] > 0 {
				r.cpuRatio = append(r.cpuRatio, cpu[0]/cpu[1])
			}
		}
	}
	row := func(label string, unit string, v func(r *runs) []float64) Row {
		return Row{Workload: label, Payload: size, Unit: unit, Leafgate: median(v(&res[0])), NATS: median(v(&res[1])), Err: strings.Join(errs, "; ")}
	}
	rows := []Row{
		row(localPubSub+", link up", "msgs/s", func(r *runs) []float64 { return r.rate[0] }),
		row(localPubSub+", link down", "msgs/s", func(r *runs) []float64 { return r.rate[1] }),
		row(localPubSub+", link up / down", "x", func(r *runs) []float64 { return r.rateRatio }),
		row(localPubSub+", server CPU, link up", "µs/msg", func(r *runs) []float64 { return r.cpu[0] }),
		row(localPubSub+", server CPU, link down", "µs/msg", func(r *runs) []float64 { return r.cpu[1] }),
		row(localCPUUpDown, "x", func(r *runs) []float64 { return r.cpuRatio }),
	}
	for _, r := range rows {
		printLeafRow(out, r)
	}
	return rows, nil
}

// localRun starts server j as a leaf and measures the local workload on
// it with the link up and down in the order up, down, down, up or, with
// downFirst, down, up, up, down, and averages each state's two runs. It
// returns the rates and the leaf's CPU time per message, [0] with the
// link up and [1] down.
//
// The mirrored order matters: whichever state is measured first in a
// process costs more CPU (about 1.5× in a measurement on 2026-12-03,
// warm-up or not), and a drift over the run cancels out only when each
// state is measured as early as the other on average. Each state change
// is given a second to settle before its measurement: bringing a link up
// is a one-off cost (the handshake, S2 buffers, the first PING and the
// garbage collection they bring) that is not what the row measures, the
// per-message cost of local traffic while a link is up.
func localRun(bins []string, j, size, n int, downFirst bool) (rate, cpu [2]float64, err error) {
	const settle = time.Second
	p := &leafPair{hubPort: freePort()}
	defer p.stop()
	measure := func(k int) error {
		meter := cpuMeter(p.leaf.pid())
		v, err := fanout(1, "")(p.leaf.URL, size, n)
		if err != nil {
			return err
		}
		rate[k] += v / 2
		cpu[k] += float64(meter().Microseconds()) / float64(n) / 2
		return nil
	}
	up := func() error {
		if p.hub == nil {
			if err := p.startHub(bins[1], leafOptions{}); err != nil {
				return err
			}
		}
		if _, err := p.leaf.waitLinkUp(hubInterest); err != nil {
			return err
		}
		time.Sleep(settle)
		return measure(0)
	}
	down := func() error {
		p.stopHub()
		if err := p.leaf.waitLinkDown(); err != nil {
			return err
		}
		time.Sleep(settle)
		return measure(1)
	}
	steps := []func() error{up, down, down, up}
	if downFirst {
		steps = []func() error{down, up, up, down}
	} else if err := p.startHub(bins[1], leafOptions{}); err != nil {
		return rate, cpu, err
	}
	if p.leaf, err = startLeaf(j, bins[j], p.hubAddr(), leafOptions{}); err != nil {
		return rate, cpu, err
	}
	// A first run in a fresh process grows its heap and buffers (a
	// profile shows it copying far more); without a warm-up as long as a
	// measurement, the first measured state is the slower one.
	if _, err := fanout(1, "")(p.leaf.URL, size, n); err != nil {
		return rate, cpu, fmt.Errorf("warm-up: %w", err)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return rate, cpu, err
		}
	}
	return rate, cpu, nil
}

// linkDirection is one direction of the link throughput rows.
type linkDirection struct {
	name     string // the rows' name
	up       bool   // publisher on the leaf, subscriber on the hub; else the reverse
	payloads []int
}

// The link throughput rows. The issue asks for 16 B and 128 B each way;
// 1 KiB upstream is an extra row (a gateway forwarding larger readings).
var (
	upstream   = linkDirection{name: "leaf: leaf pub -> hub sub", up: true, payloads: []int{16, 128, 1024}}
	downstream = linkDirection{name: "leaf: hub pub -> leaf sub", payloads: []int{16, 128}}
)

// linkCount is the messages per link throughput run: about a second or
// two at each payload's rate over loopback.
var linkCount = map[int]int{16: 1_000_000, 128: 500_000, 1024: 300_000}

// leafLink: a publisher on one side of the link and a subscriber on the
// other, windowed (leafWindowBytes); messages received per second and the
// leaf's CPU time per message. Each server keeps one leaf and hub for all
// its runs; each run subscribes on a subject of its own and starts
// publishing once the publisher's side holds that interest: the leaf's
// /leafz lists the hub's interest, the hub's /leafz the leaf's.
func leafLink(d linkDirection) func(context.Context, io.Writer, []string) ([]Row, error) {
	return func(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
		var pairs []*leafPair
		defer func() {
			for _, p := range pairs {
				p.stop()
			}
		}()
		for j := range serverNames {
			p, err := startLeafPair(bins, j, leafOptions{}, nil)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, p)
		}
		var rows []Row
		for _, size := range d.payloads {
			n := scale(linkCount[size])
			var rates, cpus [2][]float64
			var errs []string
			for i := 0; i < *flagRepeat; i++ {
				for j, p := range pairs {
					if ctx.Err() != nil {
						return rows, ctx.Err()
					}
					rate, cpu, err := linkRun(p, d.up, size, n)
					if err != nil {
						errs = append(errs, fmt.Sprintf("%s: %v", serverNames[j], err))
						continue
					}
					rates[j] = append(rates[j], rate)
					cpus[j] = append(cpus[j], cpu)
				}
			}
			err := strings.Join(errs, "; ")
			for _, r := range []Row{
				{Workload: d.name, Payload: size, Unit: "msgs/s", Leafgate: median(rates[0]), NATS: median(rates[1]), Err: err},
				{Workload: d.name + ", leaf CPU", Payload: size, Unit: "µs/msg", Leafgate: median(cpus[0]), NATS: median(cpus[1]), Err: err},
			} {
				printLeafRow(out, r)
				rows = append(rows, r)
			}
		}
		return rows, nil
	}
}

// linkRun is one leafLink run over p: n messages of size bytes from the
// leaf to the hub (up) or from the hub to the leaf. It returns messages
// received per second and the leaf's CPU time per message.
func linkRun(p *leafPair, up bool, size, n int) (rate, cpu float64, err error) {
	subject := runID("bench.down")
	pubURL, subURL, publisherSide := p.hub.URL, p.leaf.URL, p.hub
	if up {
		subject = runID("bench.up")
		pubURL, subURL, publisherSide = p.leaf.URL, p.hub.URL, p.leaf
	}
	data := make([]byte, size)
	var meter func() time.Duration
	rate, err = windowedRun{
		pubURL: pubURL, subURL: subURL, filter: subject,
		window: windowMsgs(leafWindowBytes, subject, size),
		msg:    func(int) (string, []byte) { return subject, data },
		ready: func() error {
			_, err := publisherSide.waitLinkUp(subject)
			meter = cpuMeter(p.leaf.pid())
			return err
		},
	}.run(n)
	if err != nil {
		return 0, 0, err
	}
	return rate, float64(meter().Microseconds()) / float64(n), nil
}

// leafSelected returns whether the run selects the leaf workload name.
func leafSelected(name string) func() bool {
	return func() bool {
		return slices.ContainsFunc(selectedLeaf(), func(w leafWorkload) bool { return w.name == name })
	}
}

// leafHubSubs: a client on the hub subscribes to scale(10,000) distinct
// subjects; the leaf's RSS growth once its /leafz counts them all, per
// subscription. Each run is a fresh hub and leaf.
func leafHubSubs(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	n := scale(10_000)
	row := Row{Workload: fmt.Sprintf("leaf: memory per hub subscription (%d subs)", n), Unit: "B"}
	var vals [2][]float64
	var errs []string
	for i := 0; i < *flagRepeat; i++ {
		for j, name := range serverNames {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			v, err := hubSubsRun(bins, j, n)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			vals[j] = append(vals[j], v)
		}
	}
	row.Leafgate, row.NATS, row.Err = median(vals[0]), median(vals[1]), strings.Join(errs, "; ")
	printLeafRow(out, row)
	return []Row{row}, nil
}

// hubSubsRun is one leafHubSubs run on server j: bytes per subscription.
func hubSubsRun(bins []string, j, n int) (float64, error) {
	p, err := startLeafPair(bins, j, leafOptions{}, nil)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(500 * time.Millisecond) // start-up settles, as for idle RSS
	z, err := p.leaf.leafz(false)
	if err != nil {
		return 0, err
	}
	base := z.numSubs()
	before := rss(p.leaf.pid(), "VmRSS")
	for i := range n {
		if _, err := p.hubClient.Subscribe(fmt.Sprintf("hub.svc.%d.cmd", i), func(*nats.Msg) {}); err != nil {
			return 0, err
		}
	}
	if err := p.hubClient.Flush(); err != nil {
		return 0, err
	}
	want := base + n
	if _, err := p.leaf.waitLeafz(false, fmt.Sprintf("%d hub subscriptions", want), func(z *leafz) bool { return z.numSubs() >= want }); err != nil {
		return 0, err
	}
	time.Sleep(time.Second) // as the per-connection rows
	after := rss(p.leaf.pid(), "VmRSS")
	return float64(after-before) / float64(n), nil
}

// printLeafRow prints a leafnode row as it is measured.
func printLeafRow(out io.Writer, r Row) {
	payload := ""
	if r.Payload > 0 {
		payload = fmt.Sprintf("%dB", r.Payload)
	}
	fmt.Fprintf(out, "  %-47s %6s  leafgate %14s  nats-server %14s\n", r.Workload, payload, fmtVal(r.Leafgate, r.Unit), fmtVal(r.NATS, r.Unit))
	if r.Note != "" {
		fmt.Fprintf(out, "    %s\n", r.Note)
	}
	if r.Err != "" {
		fmt.Fprintf(out, "    error: %s\n", r.Err)
	}
}
