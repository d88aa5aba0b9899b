// Command bench runs the same workloads against leafgate and nats-server
// v2.15.2 in one run and prints each figure with the ratio
// leafgate/nats-server. Both servers are built from source into a temp dir
// (leafgate from this repository, nats-server at the version test/go.mod
// pins) and run as separate processes on loopback. The core NATS workloads
// share one pair of processes; each JetStream workload run gets a fresh
// server with an empty file store.
//
//	cd test && go run ./bench            # full run, a few minutes
//	cd test && go run ./bench -quick     # smoke run, seconds
//	cd test && go run ./bench -footprint # size and memory rows only, under a minute
//	cd test && go run ./bench -workloads mqtt -repeat 1   # the MQTT workloads only
//	cd test && go run ./bench -workloads ws      # the WebSocket workloads only
//	cd test && go run ./bench -workloads leaf    # the leafnode rows only
//
// The MQTT workloads (mqtt*.go) also run mosquitto, when installed, and
// print a second table with the ratios leafgate/mosquitto and
// leafgate/nats-server. The WebSocket workloads (ws*.go) run NATS over
// WebSocket in the first table and MQTT over WebSocket in the second. The
// leafnode workloads (leaf*.go) run leafgate and nats-server each as a
// leafnode of a nats-server hub, in the first table.
//
// After the table it checks the footprint budgets and the leafnode
// targets (budgets.go) and prints PASS, OVER or UNDER for each, NOT RUN
// for one whose row -workloads or -footprint left out; it still exits 0,
// as the bench is a report.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
	"github.com/leafgate/leafgate/test/internal/release"
)

var (
	flagQuick     = flag.Bool("quick", false, "short smoke run")
	flagJSON      = flag.String("json", "", "also write results as JSON to this file")
	flagWorkloads = flag.String("workloads", "", "comma-separated workload names (default all)")
	flagRepeat    = flag.Int("repeat", 3, "runs per workload and server; the median is reported")
	flagConns     = flag.Int("conns", 500, "idle connections for the per-connection memory figure")
	flagStore     = flag.String("store", "", "parent of the servers' JetStream store dirs (default the system temp dir); use a disk-backed path")
	flagFootprint = flag.Bool("footprint", false, "only the footprint rows (binary size, idle RSS, memory per connection) and their budgets")
)

// diskIOWorkload is the workload around which each server's disk writes
// are measured.
const diskIOWorkload = "js-pub-async"

// Server is one server process under test.
type Server struct {
	Name     string
	Bin      string
	URL      string
	WSURL    string   // NATS over WebSocket (ws://host:port), when it listens for it
	Args     []string // extra command-line flags
	StoreDir string   // fresh JetStream store dir, removed by stop
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has exited
	stderr   *tailBuffer
	monPort  int
}

// Row is one line of a result table. MQTT rows (workloads named mqtt-…)
// carry one Metric of their workload each, and mosquitto's figure too.
type Row struct {
	Workload       string   `json:"workload"`
	Metric         string   `json:"metric,omitempty"`
	Payload        int      `json:"payload"`
	Unit           string   `json:"unit"`
	Leafgate       float64  `json:"leafgate"`
	NATS           float64  `json:"nats_server"`
	Mosquitto      float64  `json:"mosquitto,omitempty"`
	Ratio          float64  `json:"ratio"`
	RatioMosquitto float64  `json:"ratio_mosquitto,omitempty"`
	Skipped        []string `json:"skipped,omitempty"` // brokers not measured (MQTT rows), see Note
	Note           string   `json:"note,omitempty"`
	Err            string   `json:"error,omitempty"`
}

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "leafgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintln(out, "building leafgate and nats-server ...")
	lgBin := filepath.Join(dir, "leafgate")
	nsBin := filepath.Join(dir, "nats-server")
	// Both static and stripped, as they ship; RSS includes the binary's mapped pages.
	if err := goBuild(ctx, lgBin, "github.com/leafgate/leafgate/cmd/leafgate", []string{"CGO_ENABLED=0"}, "-tags", release.Tags, "-ldflags", "-s -w"); err != nil {
		return err
	}
	if err := goBuild(ctx, nsBin, "github.com/nats-io/nats-server/v2", []string{"CGO_ENABLED=0"}, "-ldflags", "-s -w"); err != nil {
		return err
	}
	var rows []Row
	rows = append(rows, binarySizes(ctx, dir)...)
	bins := []string{lgBin, nsBin} // in serverNames order
	core, err := corePhase(ctx, out, bins)
	rows = append(rows, core...)
	if err != nil {
		return err
	}
	if !*flagFootprint {
		js, err := jsPhase(ctx, out, bins)
		rows = append(rows, js...)
		if err != nil {
			return err
		}
	}
	ws, err := wsPhase(ctx, out, bins)
	rows = append(rows, ws...)
	if err != nil {
		return err
	}
	leaf, err := leafPhase(ctx, out, bins)
	rows = append(rows, leaf...)
	if err != nil {
		return err
	}
	mq, err := mqttPhase(ctx, out, bins)
	rows = append(rows, mq...)
	if err != nil {
		return err
	}

	for i := range rows {
		if rows[i].NATS > 0 {
			rows[i].Ratio = rows[i].Leafgate / rows[i].NATS
		}
		if rows[i].Mosquitto > 0 {
			rows[i].RatioMosquitto = rows[i].Leafgate / rows[i].Mosquitto
		}
	}
	printTable(out, rows)
	printMQTTTable(out, rows)
	printBudgets(out, checkBudgets(rows))
	if *flagJSON != "" {
		data, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(*flagJSON, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// corePhase measures footprint and the core NATS workloads. The footprint
// rows compare the servers with the same listeners on — NATS clients,
// monitoring and MQTT, so JetStream too, which nats-server's MQTT needs —
// as the budgets are defined. The workloads run on a pair as they ship:
// leafgate with JetStream and MQTT on (its default), nats-server without.
func corePhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	// Idle RSS is the median over -repeat fresh starts: one start can land
	// a few hundred KiB either way (what the runtime happened to touch).
	var samples [][]Row
	var fp []*Server
	for i := range max(*flagRepeat, 1) {
		var err error
		if fp, err = footprintServers(bins); err != nil {
			return nil, err
		}
		time.Sleep(500 * time.Millisecond)
		samples = append(samples, idleRows(fp))
		if i < max(*flagRepeat, 1)-1 {
			stopAll(fp)
		}
	}
	rows := medianRows(samples)
	rows = append(rows, perConnRow(fp))
	stopAll(fp)
	if *flagFootprint {
		return rows, nil
	}
	servers, err := startServers(bins, false)
	if err != nil {
		return nil, err
	}
	defer stopAll(servers)
	onServer := func(j int, w workload, size, n int) (float64, ioCounters, error) {
		v, err := w.run(servers[j].URL, size, n)
		return v, ioCounters{}, err
	}
	wr, err := runWorkloads(ctx, out, selectedWorkloads(workloads), onServer)
	rows = append(rows, wr...)
	if err != nil {
		return rows, err
	}
	peak := [2]int64{rss(servers[0].pid(), "VmHWM"), rss(servers[1].pid(), "VmHWM")}
	return append(rows, peakRow(peak, "peak RSS over the run")), nil
}

// jsPhase runs each JetStream workload run on a freshly started server
// with JetStream on file storage in an empty store dir, so no run sees
// another's data. The peak RSS row is the highest of those processes.
func jsPhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	selected := selectedWorkloads(jsWorkloads)
	if len(selected) == 0 {
		return nil, nil
	}
	var peak [2]int64
	onFresh := func(j int, w workload, size, n int) (float64, ioCounters, error) {
		s, err := startServer(serverNames[j], bins[j], true)
		if err != nil {
			return 0, ioCounters{}, err
		}
		defer s.stop()
		v, disk, err := runOnce(s, w, size, n, w.name == diskIOWorkload)
		peak[j] = max(peak[j], rss(s.pid(), "VmHWM"))
		return v, disk, err
	}
	rows, err := runWorkloads(ctx, out, selected, onFresh)
	if err != nil {
		return rows, err
	}
	return append(rows, peakRow(peak, "peak RSS over the JetStream workloads")), nil
}

// serverNames are the servers under test, in Row order (Leafgate, NATS).
var serverNames = []string{"leafgate", "nats-server"}

// startServer starts one server with a fresh store dir. leafgate runs
// JetStream as it ships (always on); nats-server only when js is set.
func startServer(name, bin string, js bool) (*Server, error) {
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-store-"+name+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{Name: name, Bin: bin, StoreDir: dir}
	switch {
	case name == "leafgate":
		// Its MQTT and WebSocket listeners on free ports rather than
		// 1883 and 8080, which something else on the machine may hold.
		s.Args = []string{"--store_dir", dir, "--mqtt_port", "0", "--websocket_port", "0"}
	case js:
		s.Args = []string{"-js", "-sd", dir}
	}
	if err := s.start(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// footprintServers starts both servers with the same listeners: client,
// monitoring, MQTT (JetStream on, which nats-server's MQTT requires) and
// WebSocket, as leafgate ships.
func footprintServers(bins []string) ([]*Server, error) {
	var servers []*Server
	for j, name := range serverNames {
		dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-fp-"+name+"-")
		if err != nil {
			stopAll(servers)
			return nil, err
		}
		s := &Server{Name: name, Bin: bins[j], StoreDir: dir}
		port, wsPort := freePort(), freePort()
		if name == "leafgate" {
			s.Args = []string{"--store_dir", dir, "--mqtt_port", strconv.Itoa(port), "--websocket_port", strconv.Itoa(wsPort)}
		} else {
			conf := filepath.Join(dir, "nats-server.conf")
			text := mqttpeer.NATSServerConfig(filepath.Join(dir, "store"), port) + natsServerWSBlock(wsPort)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				stopAll(servers)
				return nil, err
			}
			s.Args = []string{"-c", conf}
		}
		if err := s.start(); err != nil {
			s.stop()
			stopAll(servers)
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func startServers(bins []string, js bool) ([]*Server, error) {
	var servers []*Server
	for j, name := range serverNames {
		s, err := startServer(name, bins[j], js)
		if err != nil {
			stopAll(servers)
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func stopAll(servers []*Server) {
	for _, s := range servers {
		s.stop()
	}
}

// idleRows are the idle RSS and its anonymous part: the rest is the
// binary's own mapped pages, which the kernel can drop and re-read.
func idleRows(servers []*Server) []Row {
	var rows []Row
	for _, f := range []struct{ label, field string }{{"idle RSS", "VmRSS"}, {"idle RSS, anonymous memory only", "RssAnon"}} {
		rows = append(rows, Row{Workload: f.label, Unit: "MiB",
			Leafgate: float64(rss(servers[0].pid(), f.field)) / (1 << 20),
			NATS:     float64(rss(servers[1].pid(), f.field)) / (1 << 20)})
	}
	return rows
}

// medianRows is, row by row, the median of each server's figure over the
// samples (each a list of the same rows).
func medianRows(samples [][]Row) []Row {
	out := append([]Row(nil), samples[0]...)
	for r := range out {
		var lg, ns []float64
		for _, s := range samples {
			lg = append(lg, s[r].Leafgate)
			ns = append(ns, s[r].NATS)
		}
		out[r].Leafgate, out[r].NATS = median(lg), median(ns)
	}
	return out
}

func perConnRow(servers []*Server) Row {
	per := Row{Workload: fmt.Sprintf("memory per idle connection (%d conns)", *flagConns), Unit: "KiB"}
	for i, s := range servers {
		v, err := perConnMemory(s, s.URL, *flagConns)
		if err != nil {
			per.Err = err.Error()
		}
		if i == 0 {
			per.Leafgate = v / 1024
		} else {
			per.NATS = v / 1024
		}
	}
	return per
}

// peakRow reports VmHWM figures in bytes, leafgate's first.
func peakRow(hwm [2]int64, label string) Row {
	return Row{Workload: label, Unit: "MiB", Leafgate: float64(hwm[0]) / (1 << 20), NATS: float64(hwm[1]) / (1 << 20)}
}

// runWorkloads runs each workload -repeat times per payload, alternating
// between the servers (run j on server j), and reports the medians. For
// diskIOWorkload it adds a row of the servers' disk writes.
func runWorkloads(ctx context.Context, out io.Writer, ws []workload, run func(j int, w workload, size, n int) (float64, ioCounters, error)) ([]Row, error) {
	var rows []Row
	for _, w := range ws {
		for _, size := range w.payloads {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			n := scale(w.count(size))
			row := Row{Workload: w.name, Payload: size, Unit: w.unit}
			var vals [2][]float64
			var written [2][]ioCounters
			for i := 0; i < *flagRepeat; i++ {
				for j, name := range serverNames {
					v, disk, err := run(j, w, size, n)
					if err != nil {
						row.Err = fmt.Sprintf("%s: %v", name, err)
						continue
					}
					vals[j] = append(vals[j], v)
					written[j] = append(written[j], disk)
				}
			}
			row.Leafgate, row.NATS = median(vals[0]), median(vals[1])
			rows = append(rows, row)
			fmt.Fprintf(out, "  %-26s %5dB  leafgate %12.0f  nats-server %12.0f %s\n", w.name, size, row.Leafgate, row.NATS, w.unit)
			if w.name == diskIOWorkload {
				d := bytesWrittenRow(written, int64(n)*int64(size), size)
				rows = append(rows, d)
				fmt.Fprintf(out, "  %-26s %5dB  leafgate %12.2f  nats-server %12.2f %s\n", d.Workload, size, d.Leafgate, d.NATS, d.Unit)
			}
		}
	}
	return rows, nil
}

// runOnce runs w once against s. With diskIO set it also returns how much
// the server process wrote over the run, with both readings taken once
// its writes have settled (start-up writes before, and messages flushed
// after they were acknowledged).
func runOnce(s *Server, w workload, size, n int, diskIO bool) (float64, ioCounters, error) {
	if !diskIO {
		v, err := w.run(s.URL, size, n)
		return v, ioCounters{}, err
	}
	before, err := settledIO(s.pid())
	if err != nil {
		return 0, ioCounters{}, err
	}
	v, err := w.run(s.URL, size, n)
	if err != nil {
		return 0, ioCounters{}, err
	}
	after, err := settledIO(s.pid())
	return v, after.sub(before), err
}

func scale(n int) int {
	if *flagQuick {
		return max(n/50, 100)
	}
	return n
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// repoRoot is the product module's directory: leafgate is built there,
// with the product go.mod, not with the test module's.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/leafgate/leafgate\n") {
			return d
		}
	}
	return filepath.Join(dir, "..")
}

func goBuild(ctx context.Context, out, pkg string, env []string, extra ...string) error {
	args := append([]string{"build", "-trimpath", "-o", out}, extra...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	if strings.HasPrefix(pkg, "github.com/leafgate/leafgate/") {
		cmd.Dir = repoRoot()
		cmd.Args[len(cmd.Args)-1] = "./" + strings.TrimPrefix(pkg, "github.com/leafgate/leafgate/")
	}
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// binarySizes builds stripped linux/arm64 binaries of both servers.
func binarySizes(ctx context.Context, dir string) []Row {
	row := Row{Workload: "stripped linux/arm64 binary", Unit: "MiB"}
	env := []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}
	for i, pkg := range []string{"github.com/leafgate/leafgate/cmd/leafgate", "github.com/nats-io/nats-server/v2"} {
		out := filepath.Join(dir, fmt.Sprintf("arm64-%d", i))
		extra := []string{"-ldflags", "-s -w"}
		if i == 0 {
			extra = append(extra, "-tags", release.Tags) // as the Makefile ships it
		}
		if err := goBuild(ctx, out, pkg, env, extra...); err != nil {
			row.Err = err.Error()
			continue
		}
		st, err := os.Stat(out)
		if err != nil {
			row.Err = err.Error()
			continue
		}
		if i == 0 {
			row.Leafgate = float64(st.Size()) / (1 << 20)
		} else {
			row.NATS = float64(st.Size()) / (1 << 20)
		}
	}
	return []Row{row}
}

// freePort returns a loopback port that was free a moment ago and that it
// has not returned before: the kernel may hand the same free port out
// twice in a row, and a server given one port for two listeners fails.
func freePort() int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

func (s *Server) start() error {
	port := freePort()
	s.monPort = freePort()
	s.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(s.monPort)}
	s.cmd = exec.Command(s.Bin, append(args, s.Args...)...)
	s.stderr = &tailBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s.waitListening(fmt.Sprintf("127.0.0.1:%d", port))
}

// waitListening waits up to 10 s for addr to accept connections, and fails
// at once, with the end of the server's standard error, if it exits.
func (s *Server) waitListening(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited: %s", s.Name, strings.TrimSpace(s.stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not start listening on %s", s.Name, addr)
}

func (s *Server) pid() int { return s.cmd.Process.Pid }

func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil && s.exited != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.StoreDir != "" {
		_ = os.RemoveAll(s.StoreDir)
	}
}

// tailBuffer keeps the last 4 KiB written to it: a server's standard
// error, to say why it did not start.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 4096; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// rss reads a /proc/<pid>/status field in bytes (VmRSS, VmHWM).
func rss(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// ioCounters are the /proc/<pid>/io fields the disk figure uses, in bytes:
// write_bytes (pages the process dirtied for the storage layer) and wchar
// (everything passed to write calls, sockets included).
type ioCounters struct {
	WriteBytes, WChar int64
}

func (c ioCounters) sub(o ioCounters) ioCounters {
	return ioCounters{c.WriteBytes - o.WriteBytes, c.WChar - o.WChar}
}

func procIO(pid int) (ioCounters, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioCounters{}, err
	}
	var c ioCounters
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "write_bytes":
			c.WriteBytes = n
		case "wchar":
			c.WChar = n
		}
	}
	return c, nil
}

// settledIO returns pid's counters once they have not moved for 300 ms
// (at most 10 s).
func settledIO(pid int) (ioCounters, error) {
	last, err := procIO(pid)
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		var c ioCounters
		if c, err = procIO(pid); err == nil && c == last {
			break
		}
		last = c
	}
	return last, err
}

// bytesWrittenRow divides each server's median write growth by the bytes
// stored. It uses write_bytes when every run of both servers moved it, and
// wchar otherwise (write_bytes stays 0 on tmpfs or without task I/O
// accounting); the row names the counter used.
func bytesWrittenRow(written [2][]ioCounters, stored int64, payload int) Row {
	field, label := "write_bytes", "disk bytes written per stored byte"
	for _, runs := range written {
		for _, c := range runs {
			if c.WriteBytes <= 0 {
				field, label = "wchar", "wchar bytes per stored byte"
			}
		}
	}
	row := Row{Workload: label, Payload: payload, Unit: "B/B"}
	var per [2]float64
	for j, runs := range written {
		var v []float64
		for _, c := range runs {
			b := c.WriteBytes
			if field == "wchar" {
				b = c.WChar
			}
			v = append(v, float64(b)/float64(stored))
		}
		per[j] = median(v)
	}
	row.Leafgate, row.NATS = per[0], per[1]
	return row
}

func printTable(out io.Writer, rows []Row) {
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| %-48s | %7s | %14s | %14s | %6s |\n", "workload", "payload", "leafgate", "nats-server", "ratio")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 50), strings.Repeat("-", 9), strings.Repeat("-", 16), strings.Repeat("-", 16), strings.Repeat("-", 8))
	for _, r := range rows {
		if isMQTTRow(r) {
			continue // printMQTTTable's
		}
		payload := ""
		if r.Payload > 0 {
			payload = fmt.Sprintf("%dB", r.Payload)
		}
		fmt.Fprintf(out, "| %-48s | %7s | %14s | %14s | %6.2f |", r.Workload, payload, fmtVal(r.Leafgate, r.Unit), fmtVal(r.NATS, r.Unit), r.Ratio)
		if r.Note != "" {
			fmt.Fprintf(out, " %s", r.Note)
		}
		if r.Err != "" {
			fmt.Fprintf(out, " error: %s", r.Err)
		}
		fmt.Fprintln(out)
	}
}

func fmtVal(v float64, unit string) string {
	switch unit {
	case "MiB", "KiB":
		return fmt.Sprintf("%.1f %s", v, unit)
	case "B/B", "µs/msg":
		return fmt.Sprintf("%.2f %s", v, unit)
	case "B/msg":
		return fmt.Sprintf("%.1f %s", v, unit)
	case "x":
		return fmt.Sprintf("%.2fx", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
