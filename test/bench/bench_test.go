package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/test/internal/harness"
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

func TestBudgets(t *testing.T) {
	rows := []Row{
		{Workload: "stripped linux/arm64 binary", Unit: "MiB", Leafgate: 7.8, NATS: 14.9, Ratio: 0.52},
		{Workload: "idle RSS", Unit: "MiB", Leafgate: 9.5, NATS: 13.1, Ratio: 0.725},
		{Workload: "idle RSS, anonymous memory only", Unit: "MiB", Leafgate: 1.6, NATS: 2.0, Ratio: 0.8},
		{Workload: "memory per idle connection (500 conns)", Unit: "KiB", Leafgate: 19.8, NATS: 55.9, Ratio: 0.35},
	}
	want := map[string]string{
		"stripped linux/arm64 binary":     "PASS",
		"idle RSS":                        "OVER", // ratio 0.725 > 0.7
		"idle RSS, anonymous memory only": "PASS",
		"memory per idle connection":      "OVER", // 19.8 KiB > 16
	}
	res := checkBudgets(rows)
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, r := range res {
		if r.Status != want[r.row] {
			t.Errorf("%s: %s (%v %s), want %s", r.row, r.Status, r.Value, r.Unit, want[r.row])
		}
	}
	var buf bytes.Buffer
	printBudgets(&buf, res)
	if out := buf.String(); !strings.Contains(out, "OVER  memory per idle connection") || !strings.Contains(out, "19.8 KiB (budget <= 16.0 KiB)") ||
		!strings.Contains(out, "0.72x nats-server (budget <= 0.70x nats-server)") || !strings.Contains(out, "2 of 4 footprint budgets NOT MET") {
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
	buf.Reset()
	printBudgets(&buf, checkBudgets(rows))
	if out := buf.String(); strings.Contains(out, "NOT MET") || strings.Count(out, "PASS") != 4 {
		t.Fatalf("all met:\n%s", out)
	}
}
