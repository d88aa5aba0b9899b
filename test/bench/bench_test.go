package main

import (
	"bytes"
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
