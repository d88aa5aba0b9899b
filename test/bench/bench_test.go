package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/test/internal/harness"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

func TestMedianAndTable(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatalf("median = %v", m)
	}
	if m := median(nil); m != 0 {
		t.Fatalf("median(nil) = %v", m)
	}
	var buf bytes.Buffer
	printTable(&buf, []Row{{Workload: "w", Payload: 16, Unit: "msgs/s", Leafgate: 200, NATS: 100, Ratio: 2}})
	if !strings.Contains(buf.String(), "| w ") || !strings.Contains(buf.String(), "2.00") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

// Each workload runs briefly against both servers in-process and must
// produce a rate without losing messages.
func TestWorkloadsSmoke(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		for _, w := range workloads {
			v, err := w.run(tg.URL, 16, 200)
			if err != nil || v <= 0 {
				t.Fatalf("%s: %v, %v", w.name, v, err)
			}
		}
	})
}

// Each JetStream workload runs briefly against both servers in-process,
// each on a fresh server with an empty store as the harness runs them, and
// must produce a rate without losing messages.
func TestJSWorkloadsSmoke(t *testing.T) {
	for _, w := range jsWorkloads {
		t.Run(w.name, func(t *testing.T) {
			harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
				v, err := w.run(tg.URL, 128, 200)
				if err != nil || v <= 0 {
					t.Fatalf("%s: %v, %v", w.name, v, err)
				}
			})
		})
	}
}

func TestProcIO(t *testing.T) {
	before, err := procIO(os.Getpid())
	if err != nil {
		t.Skipf("no /proc/<pid>/io: %v", err)
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "f"), make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := settledIO(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after.sub(before); d.WChar < 1<<16 {
		t.Fatalf("wchar grew by %d, want >= %d", d.WChar, 1<<16)
	}
}

func TestBytesWrittenRow(t *testing.T) {
	disk := [2][]ioCounters{{{WriteBytes: 200, WChar: 900}}, {{WriteBytes: 100, WChar: 900}}}
	if r := bytesWrittenRow(disk, 100, 128); r.Leafgate != 2 || r.NATS != 1 || !strings.HasPrefix(r.Workload, "disk") {
		t.Fatalf("write_bytes row: %+v", r)
	}
	disk[1][0].WriteBytes = 0 // e.g. tmpfs: fall back to wchar for both
	if r := bytesWrittenRow(disk, 100, 128); r.Leafgate != 9 || r.NATS != 9 || !strings.HasPrefix(r.Workload, "wchar") {
		t.Fatalf("wchar row: %+v", r)
	}
}

// setFlags sets -workloads and -footprint for the rest of the test.
func setFlags(t *testing.T, workloads string, footprint bool) {
	w, f := *flagWorkloads, *flagFootprint
	t.Cleanup(func() { *flagWorkloads, *flagFootprint = w, f })
	*flagWorkloads, *flagFootprint = workloads, footprint
}

func TestBudgets(t *testing.T) {
	setFlags(t, "mqtt,ws", false) // every footprint row; no leafnode row
	rows := []Row{
		{Workload: "stripped linux/arm64 binary", Unit: "MiB", Leafgate: 7.8, NATS: 14.9, Ratio: 0.52},
		{Workload: "idle RSS", Unit: "MiB", Leafgate: 9.5, NATS: 13.1, Ratio: 0.725},
		{Workload: "idle RSS, anonymous memory only", Unit: "MiB", Leafgate: 1.6, NATS: 2.0, Ratio: 0.8},
		{Workload: "memory per idle connection (500 conns)", Unit: "KiB", Leafgate: 19.8, NATS: 55.9, Ratio: 0.35},
		{Workload: "mqtt-idle-10k", Metric: "memory per idle connection (10000 conns)", Unit: "KiB", Leafgate: 9.5, Mosquitto: 3.1, NATS: 40.2},
		{Workload: "memory per idle WebSocket connection (500 conns)", Unit: "KiB", Leafgate: 24.1, NATS: 70.3, Ratio: 0.34},
		{Workload: "mqtt-ws-idle-10k", Metric: "memory per idle connection (10000 conns)", Unit: "KiB", Leafgate: 33.5, Mosquitto: 4.0, NATS: 50.2},
	}
	want := map[string]string{
		"stripped linux/arm64 binary":               "PASS",
		"idle RSS":                                  "OVER", // ratio 0.725 > 0.7
		"idle RSS, anonymous memory only":           "PASS",
		"memory per idle connection":                "OVER", // 19.8 KiB > 16
		"memory per idle MQTT connection":           "PASS",
		"memory per idle WebSocket connection":      "PASS", // 24.1 KiB <= 32, not the 16 KiB of a TCP one
		"memory per idle MQTT WebSocket connection": "OVER", // 33.5 KiB > 32
	}
	for _, b := range budgets {
		if b.source == leafTargets || b.source == catchupTargets {
			want[b.name()] = statusNotRun
		}
	}
	res := checkBudgets(rows)
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, r := range res {
		if r.Status != want[r.name()] {
			t.Errorf("%s: %s (%v %s), want %s", r.name(), r.Status, r.Value, r.unitName(), want[r.name()])
		}
	}
	var buf bytes.Buffer
	printBudgets(&buf, res)
	if out := buf.String(); !strings.Contains(out, "OVER    memory per idle connection ") || !strings.Contains(out, "19.80 KiB (budget <= 16.00 KiB)") ||
		!strings.Contains(out, "0.72x nats-server (budget <= 0.70x nats-server)") || !strings.Contains(out, "3 of 7 budgets checked NOT MET") ||
		!strings.Contains(out, "OVER    memory per idle MQTT WebSocket connection        33.50 KiB (budget <= 32.00 KiB)") ||
		!strings.Contains(out, "NOT RUN leaf: leaf pub -> hub sub, 16B") {
		t.Fatalf("budget report:\n%s", out)
	}

	// A missing or failed row is never a pass, and everything met prints no banner.
	rows[1].Ratio = 0.68
	rows[3] = Row{Workload: "memory per idle connection (500 conns)", Unit: "KiB", Err: "connection 3: refused"}
	res = checkBudgets(rows[:3])
	if r := res[3]; r.Status != "ERROR" {
		t.Fatalf("missing row: %+v", r)
	}
	if r := checkBudgets(rows)[3]; r.Status != "ERROR" || r.Err == "" {
		t.Fatalf("failed row: %+v", r)
	}
	rows[3] = Row{Workload: "memory per idle connection (500 conns)", Unit: "KiB", Leafgate: 11.7, NATS: 55.9}
	rows[6].Leafgate = 21.0
	buf.Reset()
	printBudgets(&buf, checkBudgets(rows))
	if out := buf.String(); strings.Contains(out, "NOT MET") || strings.Count(out, "PASS ") != 7 {
		t.Fatalf("all met:\n%s", out)
	}

	// A leafgate without MQTT skips its MQTT budget; the references' figures are no pass.
	rows[4] = Row{Workload: "mqtt-idle-10k", Metric: "memory per idle connection (10000 conns)", Unit: "KiB", Mosquitto: 3.1, NATS: 40.2,
		Skipped: []string{"leafgate"}, Note: leafgateNoMQTT + " (it refused the mqtt configuration)"}
	buf.Reset()
	res = checkBudgets(rows)
	printBudgets(&buf, res)
	if r := res[4]; r.Status != "SKIP" {
		t.Fatalf("leafgate without MQTT: %+v", r)
	}
	if out := buf.String(); strings.Contains(out, "NOT MET") || !strings.Contains(out, "SKIP    memory per idle MQTT connection") {
		t.Fatalf("skipped budget:\n%s", out)
	}
	// leafgate measured nothing for another reason: an error.
	rows[4].Note = "leafgate: start: exit status 1"
	if r := checkBudgets(rows)[4]; r.Status != "ERROR" {
		t.Fatalf("leafgate failed: %+v", r)
	}
}

// Each MQTT workload runs briefly against mosquitto (configured as the
// bench runs it) and nats-server (and leafgate once mqttpeer starts its MQTT
// listener): every run must produce figures, and QoS 1 runs must lose
// nothing.
func TestMQTTWorkloadsSmoke(t *testing.T) {
	*flagQuick = true
	*flagMQTTConns = 200
	defer func() { *flagQuick = false; *flagMQTTConns = 10_000 }()
	for _, name := range mqttpeer.Targets() {
		t.Run(name, func(t *testing.T) {
			var pb *mqttpeer.Broker
			if name == "mosquitto" {
				pb = mqttpeer.StartMosquitto(t, benchMosquitto)
			} else {
				pb = mqttpeer.Start(t, name)
			}
			pid := pb.PID
			if pid == 0 {
				pid = os.Getpid() // in-process: CPU and RSS figures are the test's
			}
			b := &mqttBroker{name: pb.Name, addr: pb.Addr, natsURL: pb.NATSURL, pid: pid}
			for _, w := range mqttWorkloads {
				if w.stream && b.natsURL == "" || w.ws { // TestWSWorkloadsSmoke runs the ws ones
					continue
				}
				t.Run(w.name, func(t *testing.T) {
					v, err := w.run(b)
					if err != nil {
						t.Fatal(err)
					}
					if len(v) != len(w.metrics) {
						t.Fatalf("figures %v for metrics %v", v, w.metrics)
					}
					for i, m := range w.metrics {
						t.Logf("%s: %.2f %s", m.name, v[i], m.unit)
						if m.mustBeZero && v[i] != 0 {
							t.Errorf("%s: %v", m.name, v[i])
						}
					}
					// The rate: the first figure of a throughput workload,
					// the second of a memory one (whose memory figure is
					// noise at this size).
					if rate := v[0]; w.once && v[1] <= 0 || !w.once && rate <= 0 {
						t.Errorf("no rate: %v", v)
					}
				})
			}
		})
	}
}
