package main

// The MQTT phase: the MQTT workloads against leafgate, mosquitto 2.0
// (Debian's package) and nats-server v2.15.2's MQTT listener, each run on a
// freshly started broker, reported in a table of its own with the ratios
// leafgate/mosquitto and leafgate/nats-server. The MQTT-over-WebSocket
// workloads (mqtt-ws-…) run on brokers started with a WebSocket listener
// as well: mosquitto's `protocol websockets` listener and nats-server's
// websocket block, both serving MQTT on ws://host:port/mqtt.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// mqttBroker is one running broker of the MQTT phase.
type mqttBroker struct {
	name    string
	addr    string // where the workload's clients connect: host:port, or ws://host:port/mqtt
	natsURL string // NATS client URL (leafgate, nats-server)
	pid     int
	stop    func()
}

// cpuMeter returns a function reporting the CPU time (user and system)
// the broker has used since cpuMeter was called.
func (b *mqttBroker) cpuMeter() func() time.Duration { return cpuMeter(b.pid) }

// cpuMeter returns a function reporting the CPU time (user and system)
// process pid has used since cpuMeter was called.
func cpuMeter(pid int) func() time.Duration {
	start := procCPU(pid)
	return func() time.Duration { return procCPU(pid) - start }
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU is the utime+stime of pid, from /proc/<pid>/stat (0 if
// unreadable).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 > len(data) {
		return 0
	}
	f := strings.Fields(string(data[i+2:])) // from field 3, state
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// mqttTarget is one broker kind; skip says why it is not measured.
type mqttTarget struct {
	name  string
	skip  string
	start func(ws bool) (*mqttBroker, error) // ws: addr is the MQTT-over-WebSocket URL
}

// leafgateNoMQTT notes a leafgate that refused the mqtt configuration
// section: a build without MQTT, whose rows are skipped, not failed. A
// leafgate that accepts the section but does not listen fails its rows.
const leafgateNoMQTT = "leafgate: no MQTT listener"

func mqttTargets(bins []string) []*mqttTarget {
	lg := &mqttTarget{name: "leafgate", start: func(ws bool) (*mqttBroker, error) { return startLeafgateMQTT(bins[0], ws) }}
	if b, err := lg.start(false); err != nil {
		if strings.Contains(err.Error(), `unknown key "mqtt`) {
			lg.skip = fmt.Sprintf("%s (it refused the mqtt configuration: %s)", leafgateNoMQTT, lastLine(err.Error()))
		}
	} else {
		b.stop()
	}
	mq := &mqttTarget{name: "mosquitto", start: startMosquitto}
	if _, err := mqttpeer.MosquittoPath(); err != nil {
		mq.skip = "mosquitto: " + err.Error()
	}
	ns := &mqttTarget{name: "nats-server", start: func(ws bool) (*mqttBroker, error) { return startNATSServerMQTT(bins[1], ws) }}
	return []*mqttTarget{lg, mq, ns}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// startLeafgateMQTT starts leafgate as it ships (JetStream, MQTT and
// WebSocket on, a fresh store) with its MQTT and WebSocket listeners on
// free loopback ports (`mqtt: {host, port}`, `websocket: {host, port,
// no_tls}`); with ws set the broker's addr is MQTT over WebSocket.
func startLeafgateMQTT(bin string, ws bool) (*mqttBroker, error) {
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-mqtt-")
	if err != nil {
		return nil, err
	}
	port, wsPort := freePort(), freePort()
	conf := filepath.Join(dir, "leafgate.yaml")
	text := fmt.Sprintf("mqtt:\n  host: 127.0.0.1\n  port: %d\nwebsocket:\n  host: 127.0.0.1\n  port: %d\n  no_tls: true\n", port, wsPort)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Name: "leafgate", Bin: bin, StoreDir: dir, Args: []string{"--config", conf, "--store_dir", filepath.Join(dir, "store")}}
	return startMQTTServer(s, port, wsPort, ws)
}

// startNATSServerMQTT starts nats-server with what MQTT needs: a server
// name, JetStream on a fresh store, and the MQTT listener; with ws set
// also a WebSocket listener, which serves MQTT on /mqtt, and the broker's
// addr is that.
func startNATSServerMQTT(bin string, ws bool) (*mqttBroker, error) {
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-mqtt-nats-")
	if err != nil {
		return nil, err
	}
	port, wsPort := freePort(), 0
	text := mqttpeer.NATSServerConfig(filepath.Join(dir, "store"), port)
	if ws {
		wsPort = freePort()
		text += natsServerWSBlock(wsPort)
	}
	conf := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Name: "nats-server", Bin: bin, StoreDir: dir, Args: []string{"-c", conf}}
	return startMQTTServer(s, port, wsPort, ws)
}

// startMQTTServer starts s and waits for its MQTT listener on port, and
// on wsPort when not 0; with ws set the broker's addr is MQTT over
// WebSocket on wsPort.
func startMQTTServer(s *Server, port, wsPort int, ws bool) (*mqttBroker, error) {
	if err := s.start(); err != nil {
		s.stop()
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := s.waitListening(addr); err != nil {
		s.stop()
		return nil, fmt.Errorf("MQTT listener: %w", err)
	}
	if wsPort != 0 {
		wsAddr := fmt.Sprintf("127.0.0.1:%d", wsPort)
		if err := s.waitListening(wsAddr); err != nil {
			s.stop()
			return nil, fmt.Errorf("WebSocket listener: %w", err)
		}
		if ws {
			addr = mqttWSURL(wsAddr)
		}
	}
	return &mqttBroker{name: s.Name, addr: addr, natsURL: s.URL, pid: s.pid(), stop: s.stop}, nil
}

// mqttWSURL is the MQTT-over-WebSocket URL of a WebSocket listener at
// host:port; /mqtt is the path nats-server and leafgate route to MQTT
// (mosquitto serves any path).
func mqttWSURL(hostPort string) string { return "ws://" + hostPort + "/mqtt" }

// benchMosquitto is mosquitto as Debian configures it (persistence on),
// with two changes so that it delivers every QoS 1 message under the
// generator's load: no limit on QoS 1 messages in flight to a client
// (max_inflight_messages 0 instead of 20; the generator's windows bound
// them anyway), because 2.0.11's in-flight quota leaves some queued
// messages undelivered for good when publishers outrun a subscriber (its
// maintainer points to in-flight quota fixes in 2.0.13); and room to queue
// 10,000 per client, leafgate's default, instead of 1,000, past which it
// drops them.
var benchMosquitto = mqttpeer.MosquittoOptions{Persistence: true, MaxQueuedMessages: 10_000, MaxInflightMessages: -1}

// startMosquitto starts benchMosquitto; with ws set with a second
// listener, `protocol websockets` (Debian builds mosquitto with
// libwebsockets), and the broker's addr is that.
func startMosquitto(ws bool) (*mqttBroker, error) {
	o := benchMosquitto
	var wsAddr string
	if ws {
		port := freePort()
		wsAddr = fmt.Sprintf("127.0.0.1:%d", port)
		o.Extra = append(slices.Clone(o.Extra), fmt.Sprintf("listener %d 127.0.0.1", port), "protocol websockets")
	}
	b, err := mqttpeer.RunMosquitto(o)
	if err != nil {
		return nil, err
	}
	addr := b.Addr
	if ws {
		if err := mqttpeer.WaitListening(wsAddr, 10*time.Second, nil); err != nil {
			b.Stop()
			return nil, fmt.Errorf("WebSocket listener: %w", err)
		}
		addr = mqttWSURL(wsAddr)
	}
	return &mqttBroker{name: "mosquitto", addr: addr, pid: b.PID, stop: b.Stop}, nil
}

// selectedMQTT is the part of mqttWorkloads -workloads names ("mqtt" names
// the ones over TCP, "ws" the ones over WebSocket); with -footprint only
// the idle-connection figures.
func selectedMQTT() []mqttWorkload {
	var out []mqttWorkload
	names := strings.Split(*flagWorkloads, ",")
	for _, w := range mqttWorkloads {
		if *flagFootprint {
			if w.name == "mqtt-idle-10k" || w.name == "mqtt-ws-idle-10k" {
				out = append(out, w)
			}
			continue
		}
		if *flagWorkloads == "" || slices.ContainsFunc(names, func(n string) bool {
			n = strings.TrimSpace(n)
			return n == w.name || n == "mqtt" && !w.ws || n == wsGroup && w.ws
		}) {
			out = append(out, w)
		}
	}
	return out
}

// mqttSelected returns whether the run selects the MQTT workload name.
func mqttSelected(name string) func() bool {
	return func() bool {
		return slices.ContainsFunc(selectedMQTT(), func(w mqttWorkload) bool { return w.name == name })
	}
}

// mqttPhase runs the selected MQTT workloads and returns their rows.
func mqttPhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	ws := selectedMQTT()
	if len(ws) == 0 {
		return nil, nil
	}
	raiseNoFile()
	targets := mqttTargets(bins)
	fmt.Fprintln(out, "MQTT workloads (leafgate, mosquitto, nats-server):")
	for _, tg := range targets {
		if tg.skip != "" {
			fmt.Fprintf(out, "  skipped: %s\n", tg.skip)
		}
	}
	var rows []Row
	for _, w := range ws {
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		rows = append(rows, runMQTTWorkload(out, w, targets)...)
	}
	return rows, nil
}

// runMQTTWorkload runs w -repeat times (once for a memory figure) on each
// target, alternating between them, and reduces the runs to one row per
// metric.
func runMQTTWorkload(out io.Writer, w mqttWorkload, targets []*mqttTarget) []Row {
	reps := *flagRepeat
	if w.once {
		reps = 1
	}
	runs := make([][][]float64, len(targets)) // target, run, metric
	var errs, notes []string
	for _, tg := range targets {
		switch {
		case tg.skip != "":
			notes = append(notes, tg.skip)
		case w.stream && tg.name == "mosquitto":
			notes = append(notes, "mosquitto: no JetStream")
		}
	}
	for i := 0; i < reps; i++ {
		for j, tg := range targets {
			if tg.skip != "" || (w.stream && tg.name == "mosquitto") {
				continue
			}
			b, err := tg.start(w.ws)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: start: %v", tg.name, err))
				continue
			}
			v, err := w.run(b)
			b.stop()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", tg.name, err))
				continue
			}
			runs[j] = append(runs[j], v)
		}
	}
	// A QoS 1 loss makes every figure of that broker's runs suspect (a
	// stalled run's rate covers only the time before the stall): say so on
	// every row of the workload.
	for mi, m := range w.metrics {
		for j, tg := range targets {
			bad, most := 0, 0.0
			for _, r := range runs[j] {
				if m.mustBeZero && r[mi] > 0 {
					bad, most = bad+1, max(most, r[mi])
				}
			}
			if bad > 0 {
				errs = append(errs, fmt.Sprintf("%s lost QoS 1 messages in %d of %d runs (up to %.0f), so its figures are not valid",
					tg.name, bad, len(runs[j]), most))
			}
		}
	}
	var rows []Row
	for mi, m := range w.metrics {
		row := Row{Workload: w.name, Payload: mqttPayload, Metric: m.name, Unit: m.unit, Note: strings.Join(notes, "; ")}
		if w.once {
			row.Payload = 0
			row.Metric = fmt.Sprintf("%s (%d conns)", m.name, mqttConns())
		}
		for j, tg := range targets {
			var vals []float64
			for _, r := range runs[j] {
				vals = append(vals, r[mi])
			}
			if len(vals) == 0 {
				row.Skipped = append(row.Skipped, tg.name)
				continue
			}
			v := median(vals)
			if m.worst {
				v = slices.Max(vals)
			}
			row.setBroker(tg.name, v)
		}
		row.Err = strings.Join(errs, "; ")
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		r := rows[0]
		fmt.Fprintf(out, "  %-18s %-42s leafgate %14s  mosquitto %14s  nats-server %14s\n", r.Workload, r.Metric,
			mqttCell(r, "leafgate", r.Leafgate), mqttCell(r, "mosquitto", r.Mosquitto), mqttCell(r, "nats-server", r.NATS))
		for _, e := range errs {
			fmt.Fprintf(out, "    error: %s\n", e)
		}
	}
	return rows
}

func (r *Row) setBroker(name string, v float64) {
	switch name {
	case "leafgate":
		r.Leafgate = v
	case "mosquitto":
		r.Mosquitto = v
	case "nats-server":
		r.NATS = v
	}
}

func isMQTTRow(r Row) bool { return strings.HasPrefix(r.Workload, "mqtt-") }

// mqttCell is one broker's figure in a row, "-" when not measured.
func mqttCell(r Row, broker string, v float64) string {
	if slices.Contains(r.Skipped, broker) {
		return "-"
	}
	switch r.Unit {
	case "MiB", "KiB":
		return fmt.Sprintf("%.1f %s", v, r.Unit)
	case "µs/msg":
		return fmt.Sprintf("%.2f %s", v, r.Unit)
	}
	return fmt.Sprintf("%.0f %s", v, r.Unit)
}

// mqttRatio is leafgate's figure over another's, "-" when either is
// missing or the other is 0.
func mqttRatio(r Row, broker string, v float64) string {
	if slices.Contains(r.Skipped, "leafgate") || slices.Contains(r.Skipped, broker) || v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.Leafgate/v)
}

// printMQTTTable prints the MQTT rows, with the notes on brokers not
// measured and the errors below.
func printMQTTTable(out io.Writer, rows []Row) {
	var mrows []Row
	for _, r := range rows {
		if isMQTTRow(r) {
			mrows = append(mrows, r)
		}
	}
	if len(mrows) == 0 {
		return
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| %-17s | %-42s | %15s | %15s | %15s | %7s | %7s |\n", "MQTT workload", "metric", "leafgate", "mosquitto", "nats-server", "lg/mosq", "lg/nats")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 19), strings.Repeat("-", 44), strings.Repeat("-", 17),
		strings.Repeat("-", 17), strings.Repeat("-", 17), strings.Repeat("-", 9), strings.Repeat("-", 9))
	var notes, errs []string
	for _, r := range mrows {
		fmt.Fprintf(out, "| %-17s | %-42s | %15s | %15s | %15s | %7s | %7s |\n", r.Workload, r.Metric,
			mqttCell(r, "leafgate", r.Leafgate), mqttCell(r, "mosquitto", r.Mosquitto), mqttCell(r, "nats-server", r.NATS),
			mqttRatio(r, "mosquitto", r.Mosquitto), mqttRatio(r, "nats-server", r.NATS))
		for _, n := range strings.Split(r.Note, "; ") {
			if n != "" && !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
		for _, e := range strings.Split(r.Err, "; ") {
			if e = r.Workload + ": " + e; r.Err != "" && !slices.Contains(errs, e) {
				errs = append(errs, e) // every row of a workload carries its errors
			}
		}
	}
	for _, n := range notes {
		fmt.Fprintf(out, "  not measured: %s\n", n)
	}
	for _, e := range errs {
		fmt.Fprintf(out, "  error: %s\n", e)
	}
}
