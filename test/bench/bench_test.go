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
