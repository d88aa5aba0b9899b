// Command bench runs the same workloads against leafgate and nats-server
// v2.15.2 in one run and prints each figure with the ratio
// leafgate/nats-server. Both servers are built from source into a temp dir
// (leafgate from this repository, nats-server at the version test/go.mod
// pins) and run as separate processes on loopback.
//
//	cd test && go run ./bench            # full run, a few minutes
//	cd test && go run ./bench -quick     # smoke run, seconds
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
	"syscall"
	"time"
)

var (
	flagQuick     = flag.Bool("quick", false, "short smoke run")
	flagJSON      = flag.String("json", "", "also write results as JSON to this file")
	flagWorkloads = flag.String("workloads", "", "comma-separated workload names (default all)")
	flagRepeat    = flag.Int("repeat", 3, "runs per workload and server; the median is reported")
	flagConns     = flag.Int("conns", 500, "idle connections for the per-connection memory figure")
)

// Server is one server process under test.
type Server struct {
	Name    string
	Bin     string
	URL     string
	cmd     *exec.Cmd
	monPort int
}

// Row is one line of the result table.
type Row struct {
	Workload string  `json:"workload"`
	Payload  int     `json:"payload"`
	Unit     string  `json:"unit"`
	Leafgate float64 `json:"leafgate"`
	NATS     float64 `json:"nats_server"`
	Ratio    float64 `json:"ratio"`
	Err      string  `json:"error,omitempty"`
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
	if err := goBuild(ctx, lgBin, "github.com/leafgate/leafgate/cmd/leafgate", []string{"CGO_ENABLED=0"}, "-ldflags", "-s -w"); err != nil {
		return err
	}
	if err := goBuild(ctx, nsBin, "github.com/nats-io/nats-server/v2", []string{"CGO_ENABLED=0"}, "-ldflags", "-s -w"); err != nil {
		return err
	}
	var rows []Row
	rows = append(rows, binarySizes(ctx, dir)...)

	servers := []*Server{{Name: "leafgate", Bin: lgBin}, {Name: "nats-server", Bin: nsBin}}
	for _, s := range servers {
		if err := s.start(); err != nil {
			return err
		}
		defer s.stop()
	}
	time.Sleep(500 * time.Millisecond)
	idle := Row{Workload: "idle RSS", Unit: "MiB"}
	idle.Leafgate = float64(rss(servers[0].cmd.Process.Pid, "VmRSS")) / (1 << 20)
	idle.NATS = float64(rss(servers[1].cmd.Process.Pid, "VmRSS")) / (1 << 20)
	rows = append(rows, idle)

	per := Row{Workload: fmt.Sprintf("memory per idle connection (%d conns)", *flagConns), Unit: "KiB"}
	for i, s := range servers {
		v, err := perConnMemory(s, *flagConns)
		if err != nil {
			per.Err = err.Error()
		}
		if i == 0 {
			per.Leafgate = v / 1024
		} else {
			per.NATS = v / 1024
		}
	}
	rows = append(rows, per)

	for _, w := range selectedWorkloads() {
		for _, size := range w.payloads {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			row := Row{Workload: w.name, Payload: size, Unit: w.unit}
			var lg, ns []float64
			for i := 0; i < *flagRepeat; i++ {
				for j, s := range servers {
					v, err := w.run(s.URL, size, scale(w.count(size)))
					if err != nil {
						row.Err = fmt.Sprintf("%s: %v", s.Name, err)
						continue
					}
					if j == 0 {
						lg = append(lg, v)
					} else {
						ns = append(ns, v)
					}
				}
			}
			row.Leafgate, row.NATS = median(lg), median(ns)
			rows = append(rows, row)
			fmt.Fprintf(out, "  %-26s %5dB  leafgate %12.0f  nats-server %12.0f %s\n", w.name, size, row.Leafgate, row.NATS, w.unit)
		}
	}
	peak := Row{Workload: "peak RSS over the run", Unit: "MiB"}
	peak.Leafgate = float64(rss(servers[0].cmd.Process.Pid, "VmHWM")) / (1 << 20)
	peak.NATS = float64(rss(servers[1].cmd.Process.Pid, "VmHWM")) / (1 << 20)
	rows = append(rows, peak)

	for i := range rows {
		if rows[i].NATS > 0 {
			rows[i].Ratio = rows[i].Leafgate / rows[i].NATS
		}
	}
	printTable(out, rows)
	if *flagJSON != "" {
		data, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(*flagJSON, data, 0o644); err != nil {
			return err
		}
	}
	return nil
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
		if err := goBuild(ctx, out, pkg, env, "-ldflags", "-s -w"); err != nil {
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

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start() error {
	port := freePort()
	s.monPort = freePort()
	s.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	s.cmd = exec.Command(s.Bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(s.monPort))
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start listening", s.Name)
}

func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
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

func printTable(out io.Writer, rows []Row) {
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| %-38s | %7s | %14s | %14s | %6s |\n", "workload", "payload", "leafgate", "nats-server", "ratio")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 40), strings.Repeat("-", 9), strings.Repeat("-", 16), strings.Repeat("-", 16), strings.Repeat("-", 8))
	for _, r := range rows {
		payload := ""
		if r.Payload > 0 {
			payload = fmt.Sprintf("%dB", r.Payload)
		}
		fmt.Fprintf(out, "| %-38s | %7s | %14s | %14s | %6.2f |", r.Workload, payload, fmtVal(r.Leafgate, r.Unit), fmtVal(r.NATS, r.Unit), r.Ratio)
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
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
