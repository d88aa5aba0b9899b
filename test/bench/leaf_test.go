package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// The proxy forwards both ways and counts what each side sent; with a
// delay, a round trip through it takes at least the simulated RTT (a
// lower bound, which a busy machine cannot break).
func TestLinkProxy(t *testing.T) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // echo server
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { _, _ = io.Copy(c, c); c.Close() }()
			}
		}()
		p, err := startLinkProxy(ln.Addr().String(), delay)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", p.addr())
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("telemetry "), 10_000)
		start := time.Now()
		go func() { _, _ = c.Write(msg) }()
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("delay %v: %v", delay, err)
		}
		if rtt := time.Since(start); rtt < 2*delay {
			t.Errorf("delay %v: echoed in %v, want at least %v", delay, rtt, 2*delay)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("delay %v: echo differs", delay)
		}
		if up, down := p.up.Load(), p.down.Load(); up != int64(len(msg)) || down != int64(len(msg)) {
			t.Errorf("delay %v: counted up %d, down %d, want %d each", delay, up, down, len(msg))
		}
		c.Close()
		p.close() // returns only once every goroutine of the proxy has
	}
}

// The telemetry is valid JSON of about 200 bytes, on one subject per
// sensor, with values that vary, and the same on every run.
func TestTelemetry(t *testing.T) {
	a, b := newTelemetry(), newTelemetry()
	subjects := map[string]bool{}
	var first []byte
	total := 0
	const n = 1000
	for i := range n {
		sa, pa := a.next()
		sb, pb := b.next()
		if sa != sb || !bytes.Equal(pa, pb) {
			t.Fatalf("message %d differs between two generators", i)
		}
		if !json.Valid(pa) {
			t.Fatalf("message %d is not JSON: %s", i, pa)
		}
		if !strings.HasPrefix(sa, "telemetry.gw-0042.") {
			t.Fatalf("subject %q", sa)
		}
		subjects[sa] = true
		if i == 0 {
			first = append([]byte(nil), pa...)
		} else if bytes.Equal(pa, first) {
			t.Fatalf("message %d repeats the first", i)
		}
		total += len(pa)
	}
	if len(subjects) != telemetrySensors {
		t.Errorf("%d subjects, want %d", len(subjects), telemetrySensors)
	}
	if mean := total / n; mean < 180 || mean > 230 {
		t.Errorf("mean payload %d bytes, want about 200", mean)
	}
	if m := meanTelemetrySize(n); m != (total+n/2)/n {
		t.Errorf("meanTelemetrySize = %d, want %d", m, (total+n/2)/n)
	}
}

// /leafz of either server decodes into what the bench reads.
func TestLeafz(t *testing.T) {
	var z leafz
	doc := `{"server_id":"N","leafnodes":1,"leafs":[{"name":"hub","subscriptions":3,"subscriptions_list":["$LDS.x","hub.events.>","a"],"compression":"s2_fast"}]}`
	if err := json.Unmarshal([]byte(doc), &z); err != nil {
		t.Fatal(err)
	}
	if !z.hasSub(hubInterest) || z.hasSub("b") || z.numSubs() != 3 || z.compression() != "s2_fast" {
		t.Fatalf("decoded %+v", z)
	}
	z = leafz{}
	if err := json.Unmarshal([]byte(`{"leafnodes":0,"leafs":[]}`), &z); err != nil {
		t.Fatal(err)
	}
	if z.hasSub(hubInterest) || z.numSubs() != -1 || z.compression() != "" {
		t.Fatalf("no link: %+v", z)
	}
}

func TestSelectedLeaf(t *testing.T) {
	defer func(w string, f bool) { *flagWorkloads, *flagFootprint = w, f }(*flagWorkloads, *flagFootprint)
	names := func() string {
		var out []string
		for _, w := range selectedLeaf() {
			out = append(out, w.name)
		}
		return strings.Join(out, ",")
	}
	all := "leaf-local,leaf-upstream,leaf-downstream,leaf-request,leaf-wire,leaf-hub-subs,leaf-catchup"
	for _, c := range []struct {
		workloads string
		footprint bool
		want      string
	}{
		{"", false, all},
		{"leaf", false, all},
		{"ws, leaf", false, all},
		{"leaf-wire,leaf-hub-subs", false, "leaf-wire,leaf-hub-subs"},
		{"leaf-request, leaf-downstream", false, "leaf-downstream,leaf-request"},
		{"ws", false, ""},
		{"", true, ""},
	} {
		*flagWorkloads, *flagFootprint = c.workloads, c.footprint
		if got := names(); got != c.want {
			t.Errorf("-workloads %q -footprint=%v: %q, want %q", c.workloads, c.footprint, got, c.want)
		}
	}
}

// The targets are checked on the rows they name, lower bounds
// included, only when the leaf rows ran; footprint budgets of groups a
// -workloads run left out are NOT RUN, not errors.
func TestLeafBudgets(t *testing.T) {
	setFlags(t, "leaf", false)
	wire := func(m wireMode, v float64) Row {
		return Row{Workload: wireRatioName(m), Payload: 210, Unit: "x", Leafgate: v, NATS: 0.18, Ratio: v / 0.18}
	}
	rows := []Row{
		{Workload: "stripped linux/arm64 binary", Unit: "MiB", Leafgate: 7.8, NATS: 14.9, Ratio: 0.52},
		{Workload: "idle RSS", Unit: "MiB", Leafgate: 9.5, NATS: 14.1, Ratio: 0.67},
		{Workload: "idle RSS, anonymous memory only", Unit: "MiB", Leafgate: 1.6, NATS: 2.0, Ratio: 0.8},
		{Workload: "memory per idle connection (500 conns)", Unit: "KiB", Leafgate: 10.2, NATS: 55.9, Ratio: 0.18},
		{Workload: upstream.name, Payload: 16, Unit: "msgs/s", Leafgate: 620_000, NATS: 590_000, Ratio: 1.05},
		{Workload: upstream.name + ", leaf CPU", Payload: 16, Unit: "µs/msg", Leafgate: 0.5, NATS: 1, Ratio: 0.5},
		{Workload: upstream.name, Payload: 128, Unit: "msgs/s", Leafgate: 400_000, NATS: 420_000, Ratio: 0.95},
		{Workload: upstream.name, Payload: 1024, Unit: "msgs/s", Leafgate: 70_000, NATS: 120_000, Ratio: 0.58}, // no target
		{Workload: downstream.name, Payload: 16, Unit: "msgs/s", Err: "leafgate: received 10 of 100 messages"},
		{Workload: localPubSub + ", link up / down", Payload: 16, Unit: "x", Leafgate: 0.8, NATS: 1, Ratio: 0.8},
		{Workload: localCPUUpDown, Payload: 16, Unit: "x", Leafgate: 1.08, NATS: 1.3, Ratio: 0.83},
		wire(wireModes[1], 0.2), wire(wireModes[2], 0.51), wire(wireModes[3], 0.19),
	}
	want := map[string]string{
		"stripped linux/arm64 binary":                    statusPass,
		"idle RSS":                                       statusPass,
		"idle RSS, anonymous memory only":                statusPass,
		"memory per idle connection":                     statusPass,
		"memory per idle MQTT connection":                statusNotRun,
		"memory per idle WebSocket connection":           statusNotRun,
		"memory per idle MQTT WebSocket connection":      statusNotRun,
		upstream.name + ", 16B":                          statusPass,
		upstream.name + ", 128B":                         statusUnder, // 0.95x < 1.0x
		downstream.name + ", 16B":                        statusError, // failed
		downstream.name + ", 128B":                       statusError, // missing
		localCPUUpDown:                                   statusPass,  // 1.08 <= 1.10, leafgate's own quotient
		"leaf: uplink bytes, s2_fast / off":              statusPass,
		"leaf: uplink bytes, s2_best / off":              statusOver, // 0.51 > 0.5
		"leaf: uplink bytes, s2_auto at 70 ms RTT / off": statusPass,
	}
	// The catch-up targets: every one met but a fast-batch drain under
	// the nats-server leaf's and a hub-restart start over 2 s.
	for _, b := range budgets {
		if b.source != catchupTargets {
			continue
		}
		r := Row{Workload: b.row, Payload: 128, Unit: "s", Leafgate: 0.6, NATS: 38, Ratio: 0.6 / 38}
		want[b.name()] = statusPass
		switch {
		case b.ratio:
			r = Row{Workload: b.row, Payload: 128, Unit: "msgs/s", Leafgate: 90_000, NATS: 85_000, Ratio: 90_000.0 / 85_000}
			if strings.Contains(b.row, "fast batch") && strings.Contains(b.row, "s2_fast") {
				r.Leafgate, r.Ratio = 70_000, 70_000.0/85_000
				want[b.name()] = statusUnder
			}
		case b.row == catchupRestartTag(catchupPaths[2]): // leafgate sourced
			r.Leafgate, r.Ratio = 40, 1
			want[b.name()] = statusOver
		}
		rows = append(rows, r)
	}
	res := checkBudgets(rows)
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, r := range res {
		if r.Status != want[r.name()] {
			t.Errorf("%s: %s (%v %s, %s), want %s", r.name(), r.Status, r.Value, r.unitName(), r.Err, want[r.name()])
		}
	}
	var buf bytes.Buffer
	printBudgets(&buf, res)
	out := buf.String()
	for _, line := range []string{
		"Footprint budgets (product guide):",
		"Leafnode targets (issue 11):",
		"NOT RUN memory per idle MQTT connection                  - (budget <= 16.00 KiB)",
		"UNDER   leaf: leaf pub -> hub sub, 128B                  0.95x nats-server (budget >= 1.00x nats-server)",
		"ERROR   leaf: hub pub -> leaf sub, 128B                  - (budget >= 1.00x nats-server): row not measured",
		"PASS    leaf: local pub -> sub, server CPU, up / down    1.08x (budget <= 1.10x)",
		"OVER    leaf: uplink bytes, s2_best / off                0.51x (budget <= 0.50x)",
		"Catch-up targets (issue 12):",
		"UNDER   catch-up uplink fast batch, s2_fast: drain, 128B",
		"OVER    catch-up sourced: first message after a hub restart, 128B",
		"PASS    catch-up uplink, off: first message, 128B",
		"6 of 25 budgets checked NOT MET",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("report lacks %q:\n%s", line, out)
		}
	}

	// Without the leaf rows (here -footprint), their targets are not run.
	setFlags(t, "", true)
	for _, r := range checkBudgets(rows[:4]) {
		if r.source == leafTargets && r.Status != statusNotRun {
			t.Errorf("-footprint: %s: %s", r.name(), r.Status)
		}
	}
	// One leaf workload named: only its targets are checked.
	setFlags(t, "leaf-wire", false)
	for _, r := range checkBudgets(rows) {
		wireRow := strings.HasPrefix(r.row, wireName)
		if r.source == leafTargets && (r.Status == statusNotRun) == wireRow {
			t.Errorf("-workloads leaf-wire: %s: %s", r.name(), r.Status)
		}
	}
}

// A request/reply run times every round trip: against one server (both
// sides on it), each of leafgate and nats-server, the median and p99 are
// positive and ordered; a readiness failure is the run's error.
func TestRequestRun(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		q, err := requestRun(tg.URL, tg.URL, runID("bench.svc"), 200, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q[0] <= 0 || q[1] < q[0] {
			t.Fatalf("median %v µs, p99 %v µs", q[0], q[1])
		}
		if _, err := requestRun(tg.URL, tg.URL, runID("bench.svc"), 200, func() error { return errors.New("no link") }); err == nil || err.Error() != "no link" {
			t.Fatalf("ready failed: %v", err)
		}
	})
}

// The catch-up's figures are each the median of the path's runs, and
// stored the fewest any run stored (a loss is never hidden by the others).
func TestMedianCatchup(t *testing.T) {
	rs := []catchupResult{
		{first: 3 * time.Second, drain: 70_000, wire: 14, stored: 200_000, hubCPU: time.Second},
		{first: time.Second, drain: 90_000, wire: 15, stored: 199_999, hubCPU: 3 * time.Second},
		{first: 2 * time.Second, drain: 80_000, wire: 13, stored: 200_000, hubCPU: 2 * time.Second},
	}
	m := medianCatchup(rs)
	if m.first != 2*time.Second || m.drain != 80_000 || m.wire != 14 || m.hubCPU != 2*time.Second || m.stored != 199_999 {
		t.Fatalf("median %+v", m)
	}
}
