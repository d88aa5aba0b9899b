package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// requestDirection is one direction of the request/reply rows.
type requestDirection struct {
	name        string // the rows' name, up to ", median" or ", p99"
	hubRequests bool   // requester on the hub, responder on the leaf; else the reverse
}

var requestDirections = []requestDirection{
	{name: "leaf: hub request -> leaf reply", hubRequests: true},
	{name: "leaf: leaf request -> hub reply"},
}

// requestPayload is the size of each request and each reply: a command
// to a gateway, a reading back.
const requestPayload = 16

// requestCount is the round trips measured per run: 5,000 keep a run to a
// few seconds at the hundreds of µs a loopback round trip through two
// servers takes, and leave 50 above the p99.
const requestCount = 5_000

// leafRequest: sequential request/reply round trips over the link, one
// requester and one responder, 16 B each way; each run's median and p99
// round trip in µs, reported as the median over the runs. Both
// directions: a requester on the hub and the responder on the leaf, and
// the reverse. Each server keeps one leaf and hub for all its runs.
func leafRequest(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
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
	n := scale(requestCount)
	var rows []Row
	for _, d := range requestDirections {
		var p50, p99 [2][]float64
		var errs []string
		for i := 0; i < *flagRepeat; i++ {
			for j, p := range pairs {
				if ctx.Err() != nil {
					return rows, ctx.Err()
				}
				reqURL, repURL, requesterSide := p.leaf.URL, p.hub.URL, p.leaf
				if d.hubRequests {
					reqURL, repURL, requesterSide = p.hub.URL, p.leaf.URL, p.hub
				}
				subject := runID("bench.svc")
				q, err := requestRun(reqURL, repURL, subject, n, func() error {
					_, err := requesterSide.waitLinkUp(subject)
					return err
				})
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", serverNames[j], err))
					continue
				}
				p50[j] = append(p50[j], q[0])
				p99[j] = append(p99[j], q[1])
			}
		}
		err := strings.Join(errs, "; ")
		for _, r := range []Row{
			{Workload: d.name + ", median", Payload: requestPayload, Unit: "µs", Leafgate: median(p50[0]), NATS: median(p50[1]), Err: err},
			{Workload: d.name + ", p99", Payload: requestPayload, Unit: "µs", Leafgate: median(p99[0]), NATS: median(p99[1]), Err: err},
		} {
			printLeafRow(out, r)
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// requestRun starts a responder on repURL answering subject and a
// requester on reqURL, waits for ready (the requester's side holds the
// responder's interest), and times n sequential requests after an
// unmeasured warm-up. It returns the median and p99 round trip in µs.
func requestRun(reqURL, repURL, subject string, n int, ready func() error) ([2]float64, error) {
	data := make([]byte, requestPayload)
	svc, err := conn(repURL)
	if err != nil {
		return [2]float64{}, err
	}
	defer svc.Close()
	if _, err := svc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(data) }); err != nil {
		return [2]float64{}, err
	}
	if err := svc.Flush(); err != nil {
		return [2]float64{}, err
	}
	if ready != nil {
		if err := ready(); err != nil {
			return [2]float64{}, err
		}
	}
	nc, err := conn(reqURL)
	if err != nil {
		return [2]float64{}, err
	}
	defer nc.Close()
	request := func(timeout time.Duration) error {
		resp, err := nc.Request(subject, data, timeout)
		if err != nil {
			return err
		}
		if len(resp.Data) != requestPayload {
			return errors.New("short reply")
		}
		return nil
	}
	// The first request subscribes the requester's reply inbox; a reply
	// that overtook that interest on its way across the link is lost, so
	// the first answer is waited for with retries.
	deadline := time.Now().Add(leafWait)
	for {
		err := request(time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return [2]float64{}, fmt.Errorf("no reply within %v: %w", leafWait, err)
		}
		if errors.Is(err, nats.ErrNoResponders) {
			time.Sleep(10 * time.Millisecond) // answered at once: do not spin
		}
	}
	for range max(n/10, 10) {
		if err := request(5 * time.Second); err != nil {
			return [2]float64{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var h histogram
	for i := range n {
		start := time.Now()
		if err := request(5 * time.Second); err != nil {
			return [2]float64{}, fmt.Errorf("request %d: %w", i, err)
		}
		h.record(time.Since(start).Nanoseconds())
	}
	return [2]float64{float64(h.quantile(0.5)) / 1e3, float64(h.quantile(0.99)) / 1e3}, nil
}
