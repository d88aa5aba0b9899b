package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/mqtt/packet"
)

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
	// Values spread over five decades: every quantile within 2%.
	vals := make([]int64, 100_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range vals {
		vals[i] = int64(float64(int64(100)<<r.IntN(17)) * (1 + r.Float64()))
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		want := vals[int(q*float64(len(vals)-1))]
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
			t.Errorf("q%.2f = %d, want %d (%.1f%% off)", q, got, want, 100*d)
		}
	}
	// Small, negative and huge values land in range.
	var s histogram
	for _, v := range []int64{-5, 0, 1, 127, 128, 1 << 62} {
		s.record(v)
	}
	if s.quantile(0) != 1 || s.quantile(1) < 1<<61 {
		t.Fatalf("extremes: %d %d", s.quantile(0), s.quantile(1))
	}
	var m histogram
	m.merge(&h)
	m.merge(&s)
	if m.n != h.n+s.n {
		t.Fatalf("merged count %d", m.n)
	}
	for i := 64; i <= histBucket(math.MaxInt64); i++ {
		if b := histBucket(histValue(i)); b != i {
			t.Fatalf("bucket %d's value %d falls in bucket %d", i, histValue(i), b)
		}
	}
}

func TestSetBit(t *testing.T) {
	var set []uint64
	for _, i := range []uint32{0, 63, 64, 1000, 5} {
		if !setBit(&set, i) {
			t.Fatalf("bit %d set before", i)
		}
	}
	if setBit(&set, 1000) || setBit(&set, 0) {
		t.Fatal("duplicate not seen")
	}
}

func TestWindow(t *testing.T) {
	w := newWindow(8*4, 4) // 8 messages for 4 subscribers
	if n := w.take(5, false); n != 5 {
		t.Fatalf("took %d of 5", n)
	}
	if n := w.take(5, false); n != 3 {
		t.Fatalf("took %d, want the 3 left", n)
	}
	if n := w.take(1, false); n != 0 {
		t.Fatalf("took %d from a full window", n)
	}
	// A blocked taker wakes once a quarter of the window is free again.
	got := make(chan int64)
	go func() { got <- w.take(8, true) }()
	w.give(4) // one message's deliveries: less than a quarter
	select {
	case n := <-got:
		// The waiter may have run before it had to sleep: it gets one.
		if n != 1 {
			t.Fatalf("took %d with one free", n)
		}
		go func() { got <- w.take(8, true) }() // full again: this one waits

	case <-time.After(50 * time.Millisecond):
	}
	w.give(4 * 2)
	if n := <-got; n < 2 {
		t.Fatalf("woke with %d", n)
	}
	// Close wakes a blocked taker with nothing.
	for w.take(8, false) > 0 {
	}
	go func() { got <- w.take(1, true) }()
	time.Sleep(10 * time.Millisecond)
	w.close()
	if n := <-got; n != 0 {
		t.Fatalf("closed window gave %d", n)
	}

	// Many takers and givers: no unit lost or invented.
	w = newWindow(64, 1)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; {
				n := w.take(7, true)
				i += int(n)
				w.give(n)
			}
		}()
	}
	wg.Wait()
	if u := w.used.Load(); u != 0 {
		t.Fatalf("%d units still taken", u)
	}
}

func TestProcCPU(t *testing.T) {
	before := procCPU(os.Getpid())
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	if d := procCPU(os.Getpid()) - before; d < 30*time.Millisecond {
		t.Fatalf("100 ms of spinning counted as %v", d)
	}
	if procCPU(-1) != 0 {
		t.Fatal("no process, some CPU")
	}
}

func TestMQTTTable(t *testing.T) {
	note := leafgateNoMQTT + " (it refused the mqtt configuration)"
	rows := []Row{
		{Workload: "pub-only", Unit: "msgs/s", Leafgate: 1, NATS: 1},
		{Workload: "mqtt-qos1-1to1", Metric: "throughput", Payload: 64, Unit: "msgs/s", Mosquitto: 20000, NATS: 40000, Skipped: []string{"leafgate"}, Note: note, Err: "mosquitto lost 3 QoS 1 messages"},
		{Workload: "mqtt-qos1-1to1", Metric: "lost", Payload: 64, Unit: "msgs", Mosquitto: 3, Skipped: []string{"leafgate", "nats-server"}, Note: note, Err: "mosquitto lost 3 QoS 1 messages"},
		{Workload: "mqtt-idle-10k", Metric: "memory per idle connection (10000 conns)", Unit: "KiB", Leafgate: 8, Mosquitto: 4, NATS: 32},
	}
	var buf bytes.Buffer
	printTable(&buf, rows)
	if out := buf.String(); strings.Contains(out, "mqtt-") || !strings.Contains(out, "pub-only") {
		t.Fatalf("NATS table:\n%s", out)
	}
	buf.Reset()
	printMQTTTable(&buf, rows)
	out := buf.String()
	for _, want := range []string{
		"|               - |    20000 msgs/s |    40000 msgs/s |       - |       - |",
		"|               - |          3 msgs |               - |       - |       - |",
		"|         8.0 KiB |         4.0 KiB |        32.0 KiB |    2.00 |    0.25 |",
		"not measured: " + note + "\n",
		"error: mqtt-qos1-1to1: mosquitto lost 3 QoS 1 messages\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("MQTT table lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "not measured") != 1 || strings.Count(out, "error:") != 1 || strings.Contains(out, "pub-only") {
		t.Errorf("MQTT table:\n%s", out)
	}
}

func TestSelectedMQTT(t *testing.T) {
	defer func(w string, f bool) { *flagWorkloads, *flagFootprint = w, f }(*flagWorkloads, *flagFootprint)
	names := func() (out []string) {
		for _, w := range selectedMQTT() {
			out = append(out, w.name)
		}
		return out
	}
	overWS := []string{"mqtt-ws-qos0-1to1", "mqtt-ws-qos1-1to1", "mqtt-ws-idle-10k"}
	*flagWorkloads = ""
	if n := names(); len(n) != len(mqttWorkloads) {
		t.Fatalf("default: %v", n)
	}
	*flagWorkloads = "mqtt"
	if n := names(); len(n) != len(mqttWorkloads)-len(overWS) || slices.ContainsFunc(n, func(s string) bool { return strings.Contains(s, "-ws-") }) {
		t.Fatalf("mqtt: %v", n)
	}
	*flagWorkloads = "ws"
	if n := names(); !slices.Equal(n, overWS) {
		t.Fatalf("ws: %v", n)
	}
	*flagWorkloads = "mqtt, ws"
	if n := names(); len(n) != len(mqttWorkloads) {
		t.Fatalf("mqtt and ws: %v", n)
	}
	*flagWorkloads = "pub-only, mqtt-qos1-4x4"
	if n := names(); !slices.Equal(n, []string{"mqtt-qos1-4x4"}) {
		t.Fatalf("one: %v", n)
	}
	*flagWorkloads, *flagFootprint = "", true
	if n := names(); !slices.Equal(n, []string{"mqtt-idle-10k", "mqtt-ws-idle-10k"}) {
		t.Fatalf("footprint: %v", n)
	}
}

func TestParsePublish(t *testing.T) {
	for _, p := range []packet.Publish{
		{QoS: 0, Topic: []byte("a/b"), Payload: []byte("zero")},
		{QoS: 1, Topic: []byte("bench/q1/p0"), PacketID: 0xBEEF, Payload: make([]byte, 64)},
		{QoS: 2, Topic: []byte("x"), PacketID: 7, Payload: nil},
	} {
		pkt := p.Append(nil, packet.V311)
		h, complete, err := packet.Split(pkt, 0)
		if err != nil || !complete {
			t.Fatalf("split: %v %v", complete, err)
		}
		qos, id, payload, err := parsePublish(h, pkt)
		if err != nil || qos != p.QoS || id != p.PacketID || !bytes.Equal(payload, p.Payload) {
			t.Errorf("%+v: got qos %d id %d payload %q err %v", p, qos, id, payload, err)
		}
	}
	// A topic length past the end is an error, not a panic.
	pkt := []byte{0x30, 3, 0, 9, 'a'}
	h, _, _ := packet.Split(pkt, 0)
	if _, _, _, err := parsePublish(h, pkt); err == nil {
		t.Fatal("short PUBLISH parsed")
	}
}
