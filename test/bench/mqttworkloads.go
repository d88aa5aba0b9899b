package main

// MQTT workloads. Each run gets a freshly started broker (mqttphase.go), so
// its peak RSS and CPU belong to that run alone. Throughput runs last
// -mqtt-duration and report several metrics; the memory workloads run once.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// mqttMetric is one figure a workload reports, one table row each. Across
// repeats the median is reported, or with worst set the highest (losses,
// peak memory: one bad run must show).
type mqttMetric struct {
	name, unit string
	worst      bool
	// mustBeZero marks a figure any non-zero value of is an error (QoS 1
	// losses).
	mustBeZero bool
}

// mqttWorkload is one MQTT scenario.
type mqttWorkload struct {
	name    string
	metrics []mqttMetric
	once    bool // a memory figure: one run per broker, not -repeat
	stream  bool // needs JetStream, which mosquitto has not
	ws      bool // MQTT over WebSocket: the brokers' WebSocket listeners, path /mqtt
	run     func(b *mqttBroker) ([]float64, error)
}

const (
	mqttPayload = 64
	mqttWindow  = 256 // messages in flight per publisher
)

var (
	flagMQTTDuration = flag.Duration("mqtt-duration", 2*time.Second, "how long each MQTT throughput run publishes")
	flagMQTTConns    = flag.Int("mqtt-conns", 10_000, "connections (and sessions) of the MQTT memory workloads")
)

func throughputMetrics(qos byte, latency string) []mqttMetric {
	return []mqttMetric{
		{name: "throughput", unit: "msgs/s"},
		{name: "p50 " + latency, unit: "µs"},
		{name: "p99 " + latency, unit: "µs"},
		{name: "lost", unit: "msgs", worst: true, mustBeZero: qos > 0},
		{name: "broker CPU per message", unit: "µs/msg"},
		{name: "broker peak RSS", unit: "MiB", worst: true},
	}
}

func topicFor(prefix string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s/p%d", prefix, i) }
}

var mqttWorkloads = []mqttWorkload{
	loadWorkload("mqtt-qos0-1to1", loadSpec{pubs: 1, subs: 1, qos: 0, topic: topicFor("bench/q0"), filter: "bench/q0/p0"}),
	loadWorkload("mqtt-qos1-1to1", loadSpec{pubs: 1, subs: 1, qos: 1, topic: topicFor("bench/q1"), filter: "bench/q1/p0"}),
	loadWorkload("mqtt-qos0-fanout8", loadSpec{pubs: 1, subs: 8, qos: 0, topic: topicFor("bench/fan"), filter: "bench/fan/p0"}),
	loadWorkload("mqtt-qos1-4x4", loadSpec{pubs: 4, subs: 4, qos: 1, topic: topicFor("bench/4x4"), filter: "bench/4x4/+"}),
	{name: "mqtt-qos1-stream", metrics: throughputMetrics(1, "PUBACK latency"), stream: true, run: streamRun},
	{name: "mqtt-idle-10k", once: true, run: idleRun, metrics: []mqttMetric{
		{name: "memory per idle connection", unit: "KiB"}, {name: "connect rate", unit: "conns/s"}}},
	{name: "mqtt-sessions-10k", once: true, run: sessionsRun, metrics: []mqttMetric{
		{name: "memory per stored session", unit: "KiB"}, {name: "session set-up rate", unit: "sessions/s"}}},

	// MQTT over WebSocket (the "ws" group).
	wsWorkload(loadWorkload("mqtt-ws-qos0-1to1", loadSpec{pubs: 1, subs: 1, qos: 0, topic: topicFor("bench/ws0"), filter: "bench/ws0/p0"})),
	wsWorkload(loadWorkload("mqtt-ws-qos1-1to1", loadSpec{pubs: 1, subs: 1, qos: 1, topic: topicFor("bench/ws1"), filter: "bench/ws1/p0"})),
	{name: "mqtt-ws-idle-10k", once: true, ws: true, run: idleRun, metrics: []mqttMetric{
		{name: "memory per idle connection", unit: "KiB"}, {name: "connect rate", unit: "conns/s"}}},
}

func wsWorkload(w mqttWorkload) mqttWorkload {
	w.ws = true
	return w
}

var runSeq atomic.Int64

func runID(name string) string { return fmt.Sprintf("%s-%d", name, runSeq.Add(1)) }

// loadWorkload measures spec: deliveries per second, delivery latency,
// losses, the broker's CPU time per delivery and its peak RSS.
func loadWorkload(name string, spec loadSpec) mqttWorkload {
	spec.payload, spec.window, spec.clean = mqttPayload, mqttWindow, true
	return mqttWorkload{name: name, metrics: throughputMetrics(spec.qos, "latency"), run: func(b *mqttBroker) ([]float64, error) {
		cpu := b.cpuMeter()
		res, err := runLoad(b.addr, spec, mqttDuration(), runID(name))
		if err != nil {
			return nil, err
		}
		return loadFigures(b, res, res.delivered, res.lost(spec.subs), cpu()), nil
	}}
}

func loadFigures(b *mqttBroker, res loadResult, msgs, lost int64, cpu time.Duration) []float64 {
	per := 0.0
	if msgs > 0 {
		per = float64(cpu.Microseconds()) / float64(msgs)
	}
	rate := 0.0
	if res.elapsed > 0 {
		rate = float64(msgs) / res.elapsed.Seconds()
	}
	return []float64{
		rate,
		float64(res.lat.quantile(0.50)) / 1e3,
		float64(res.lat.quantile(0.99)) / 1e3,
		float64(lost),
		per,
		float64(rss(b.pid, "VmHWM")) / (1 << 20),
	}
}

func mqttDuration() time.Duration {
	if *flagQuick {
		return min(*flagMQTTDuration, 500*time.Millisecond)
	}
	return *flagMQTTDuration
}

const (
	streamName    = "MQTTBENCH"
	streamSubject = "bench.stream" // the MQTT topic bench/stream
)

// streamRun publishes at QoS 1 onto a subject a JetStream file stream
// captures, so each PUBACK stands for a stored message: acknowledged
// messages per second, PUBACK latency, and messages acknowledged but not
// in the stream.
func streamRun(b *mqttBroker) ([]float64, error) {
	nc, err := nats.Connect(b.natsURL, nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: streamName, Subjects: []string{streamSubject}, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	spec := loadSpec{pubs: 1, qos: 1, topic: func(int) string { return "bench/stream" }, payload: mqttPayload, window: mqttWindow, clean: true}
	cpu := b.cpuMeter()
	res, err := runLoad(b.addr, spec, mqttDuration(), runID("stream"))
	if err != nil {
		return nil, err
	}
	used := cpu()
	stored, err := storedSettled(ctx, st, res.sent)
	if err != nil {
		return nil, err
	}
	lost := max(res.sent-stored, res.sent-res.acked)
	return loadFigures(b, res, res.acked, lost, used), nil
}

// storedSettled is the stream's message count once it reaches want or
// stops growing for a second: nats-server acknowledges an MQTT publish once
// its own MQTT stream has it, and the stream capturing the subject may
// store it a moment later.
func storedSettled(ctx context.Context, st jetstream.Stream, want int64) (int64, error) {
	var last int64 = -1
	lastMove := time.Now()
	for {
		info, err := st.Info(ctx)
		if err != nil {
			return 0, err
		}
		n := int64(info.State.Msgs)
		if n >= want || (n == last && time.Since(lastMove) > time.Second) {
			return n, nil
		}
		if n != last {
			last, lastMove = n, time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleRun connects -mqtt-conns clients (clean session, no subscription)
// and reports the broker's RSS growth per connection, read after a second
// of quiet, and how fast they connected.
func idleRun(b *mqttBroker) ([]float64, error) {
	n := mqttConns()
	time.Sleep(300 * time.Millisecond)
	before := rss(b.pid, "VmRSS")
	start := time.Now()
	conns, err := connectMany(n, func(i int) (*mqttConn, error) {
		m, _, err := mqttDial(b.addr, fmt.Sprintf("bench-idle-%d", i), true)
		return m, err
	})
	elapsed := time.Since(start)
	defer func() {
		for _, m := range conns {
			m.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	after := rss(b.pid, "VmRSS")
	return []float64{float64(after-before) / float64(n) / 1024, float64(n) / elapsed.Seconds()}, nil
}

// sessionsRun creates -mqtt-conns persistent sessions (clean session 0),
// each with one QoS 1 subscription, disconnects them all, and reports the
// broker's RSS growth per session once it has settled, and how fast they
// were set up.
func sessionsRun(b *mqttBroker) ([]float64, error) {
	n := mqttConns()
	time.Sleep(300 * time.Millisecond)
	before := rss(b.pid, "VmRSS")
	start := time.Now()
	_, err := connectMany(n, func(i int) (*mqttConn, error) {
		m, _, err := mqttDial(b.addr, fmt.Sprintf("bench-sess-%d", i), false)
		if err != nil {
			return nil, err
		}
		if err := m.subscribe(fmt.Sprintf("bench/sess/%d", i), 1); err != nil {
			m.close()
			return nil, err
		}
		m.disconnect()
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	after := settledRSS(b.pid)
	return []float64{float64(after-before) / float64(n) / 1024, float64(n) / elapsed.Seconds()}, nil
}

// settledRSS reads VmRSS once it has stopped moving by more than 1% over
// half a second (at most 10 s): brokers finish storing sessions after
// their acknowledgements.
func settledRSS(pid int) int64 {
	last := rss(pid, "VmRSS")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		cur := rss(pid, "VmRSS")
		if d := cur - last; d < last/100 && -d < last/100 {
			return cur
		}
		last = cur
	}
	return last
}

// connectTimeout bounds a memory workload's set-up: a broker slower than
// this fails the run rather than stall the bench.
const connectTimeout = 2 * time.Minute

// connectMany runs dial for 0..n-1 on 32 goroutines and returns the
// connections it returned (nil ones left out), stopping at the first error
// or after connectTimeout.
func connectMany(n int, dial func(i int) (*mqttConn, error)) ([]*mqttConn, error) {
	deadline := time.Now().Add(connectTimeout)
	var (
		next  atomic.Int64
		mu    sync.Mutex
		conns []*mqttConn
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				m, err := dial(i)
				if err == nil && time.Now().After(deadline) {
					err = fmt.Errorf("set-up still not done after %v", connectTimeout)
				}
				mu.Lock()
				if m != nil {
					conns = append(conns, m)
				}
				if err != nil && first == nil {
					first = fmt.Errorf("connection %d: %w", i, err)
					next.Store(int64(n)) // stop the others
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return conns, first
}

// mqttConns is -mqtt-conns, fewer with -quick, and fewer than the open
// file limit allows (raiseNoFile lifts it as far as the system lets).
func mqttConns() int {
	n := *flagMQTTConns
	if *flagQuick {
		n = min(n, 1000)
	}
	return min(n, maxConns())
}

var noFileLimit atomic.Int64

// raiseNoFile lifts this process's open-file limit to its hard limit; the
// brokers it starts inherit it. It returns the limit now in force.
func raiseNoFile() int64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "bench: raise RLIMIT_NOFILE:", err)
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	noFileLimit.Store(int64(lim.Cur))
	return int64(lim.Cur)
}

// maxConns leaves room under the open-file limit for everything else the
// bench and a broker hold open.
func maxConns() int {
	lim := noFileLimit.Load()
	if lim == 0 {
		lim = raiseNoFile()
	}
	return int(max(lim-512, 100))
}
