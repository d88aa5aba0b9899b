package main

// NATS over WebSocket: the core pub→sub workload run with nats.go over
// ws:// URLs against leafgate's WebSocket listener and nats-server's
// (`websocket { listen, no_tls: true }`), and the memory per idle
// WebSocket connection, in the main table. MQTT over WebSocket is in the
// MQTT phase (mqttworkloads.go, the mqtt-ws-… workloads).
//
// -workloads ws selects every WebSocket row, NATS and MQTT.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// wsGroup is the -workloads name that selects every WebSocket workload.
const wsGroup = "ws"

var wsWorkloads = []workload{
	{"ws: 1 pub -> 1 sub", "msgs/s", []int{16, 1024}, byPayload(1_000_000, 300_000), pubSubWindowed(wsWindowBytes)},
}

// wsWindowBytes bounds what the WebSocket publisher may have sent and the
// subscriber not yet received, counted as MSG protocol bytes. The core
// workloads let the publisher run ahead without a bound, and a server
// queues what the subscriber has not read yet; over WebSocket nats-server
// writes that whole queue as one frame (to clients other than browsers),
// and nats.go closes the connection on a frame larger than 8 x
// max_payload, 8 MiB, so an unbounded 1 KiB run measures that, not the
// server. 4 MiB covers milliseconds at these rates.
const wsWindowBytes = 4 << 20

// wsStall fails a windowed run whose subscriber has received nothing for
// this long (the publisher would otherwise wait for the window for ever).
const wsStall = 30 * time.Second

// pubSubWindowed: one publisher, one subscriber, at most windowBytes in
// flight; messages delivered per second, from the first publish to the
// last message received. Every message must arrive.
func pubSubWindowed(windowBytes int) func(string, int, int) (float64, error) {
	return func(url string, payload, n int) (float64, error) {
		// A subject of its own, so that nothing a failed run left
		// queued in the server counts in this one.
		subject := runID("bench.ws")
		data := make([]byte, payload)
		return windowedRun{
			pubURL: url, subURL: url, filter: subject,
			window: windowMsgs(windowBytes, subject, payload),
			msg:    func(int) (string, []byte) { return subject, data },
		}.run(n)
	}
}

// windowMsgs is how many messages of payload bytes on subject make
// windowBytes of MSG protocol, at least pubBatch.
func windowMsgs(windowBytes int, subject string, payload int) int64 {
	perMsg := len("MSG  1 \r\n\r\n") + len(subject) + len(strconv.Itoa(payload)) + payload
	return int64(max(windowBytes/perMsg, pubBatch))
}

// windowedRun is one windowed pub→sub run: a subscriber on subURL to
// filter and a publisher on pubURL (the same server, or a leafnode and
// its hub), with at most window messages published and not yet received.
type windowedRun struct {
	pubURL, subURL string
	filter         string
	window         int64
	msg            func(i int) (subject string, data []byte) // the i-th message
	ready          func() error                              // run once subscribed, before the first publish; may be nil
}

// run publishes n messages and returns messages delivered per second,
// from the first publish to the last message received. Every message
// must arrive, once.
func (r windowedRun) run(n int) (float64, error) {
	inflight := newWindow(r.window, 1)
	var got atomic.Int64
	done := make(chan struct{})
	var why atomic.Value // why the run stopped early
	stop := func(reason string) {
		why.CompareAndSwap(nil, reason)
		inflight.close()
	}
	defer stop("")
	var conns []*nats.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sub, err := conn(r.subURL, nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
		stop(fmt.Sprintf("subscriber disconnected: %v", err))
	}))
	if err != nil {
		return 0, err
	}
	conns = append(conns, sub)
	s, err := sub.Subscribe(r.filter, func(*nats.Msg) {
		inflight.give(1)
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	_ = s.SetPendingLimits(-1, -1)
	if err := sub.Flush(); err != nil {
		return 0, err
	}
	if r.ready != nil {
		if err := r.ready(); err != nil {
			return 0, err
		}
	}
	pub, err := conn(r.pubURL)
	if err != nil {
		return 0, err
	}
	conns = append(conns, pub)
	go func() { // the stall watchdog
		last := int64(-1)
		for t := time.NewTicker(wsStall); ; {
			select {
			case <-done:
				t.Stop()
				return
			case <-t.C:
				if g := got.Load(); g == last {
					stop(fmt.Sprintf("nothing received for %v", wsStall))
					t.Stop()
					return
				} else {
					last = g
				}
			}
		}
	}()
	start := time.Now()
	for sent := 0; sent < n; {
		// nats.go's flusher sends what Publish buffered, so the
		// window opens while this blocks.
		k := int(inflight.take(int64(min(pubBatch, n-sent)), true))
		if k == 0 {
			return 0, fmt.Errorf("received %d of %d messages: %v", got.Load(), n, why.Load())
		}
		for i := sent; i < sent+k; i++ {
			subject, data := r.msg(i)
			if err := pub.Publish(subject, data); err != nil {
				return 0, err
			}
		}
		sent += k
	}
	if err := pub.FlushTimeout(60 * time.Second); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return 0, fmt.Errorf("received %d of %d messages: %v", got.Load(), n, why.Load())
	}
	elapsed := time.Since(start)
	time.Sleep(20 * time.Millisecond)
	if g := got.Load(); g != int64(n) {
		return 0, fmt.Errorf("received %d messages, want %d (duplicates)", g, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// wsPerConnName is the NATS-over-WebSocket memory row, up to its " (N
// conns)" suffix; budgets.go checks it.
const wsPerConnName = "memory per idle WebSocket connection"

// selectedGroup is the part of list that -workloads names, one by one or
// all of them by group: list's workloads are all in that group.
func selectedGroup(list []workload, group string) []workload {
	names := strings.Split(*flagWorkloads, ",")
	if *flagWorkloads == "" || slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == group }) {
		return list
	}
	return selectedWorkloads(list)
}

// wsMemorySelected reports whether the run measures the memory per idle
// WebSocket connection: with -footprint, by default, or when -workloads
// names the group or the row.
func wsMemorySelected() bool {
	names := strings.Split(*flagWorkloads, ",")
	return *flagFootprint || *flagWorkloads == "" || slices.ContainsFunc(names, func(n string) bool {
		n = strings.TrimSpace(n)
		return n == wsGroup || n == wsPerConnName
	})
}

// wsPhase runs the NATS-over-WebSocket rows on a pair of servers with
// WebSocket listeners: first the memory per idle WebSocket connection on
// the fresh servers (with -footprint, only that), then the throughput
// workloads. The servers are otherwise as the core workloads run them.
func wsPhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	memory := wsMemorySelected()
	var selected []workload
	if !*flagFootprint {
		selected = selectedGroup(wsWorkloads, wsGroup)
	}
	if !memory && len(selected) == 0 {
		return nil, nil
	}
	servers, err := startWSServers(bins)
	if err != nil {
		return nil, err
	}
	defer stopAll(servers)
	fmt.Fprintln(out, "NATS over WebSocket (leafgate, nats-server):")
	var rows []Row
	if memory {
		row := Row{Workload: fmt.Sprintf("%s (%d conns)", wsPerConnName, *flagConns), Unit: "KiB"}
		for j, s := range servers {
			v, err := perConnMemory(s, s.WSURL, *flagConns)
			if err != nil {
				row.Err = fmt.Sprintf("%s: %v", s.Name, err)
			}
			if j == 0 {
				row.Leafgate = v / 1024
			} else {
				row.NATS = v / 1024
			}
		}
		fmt.Fprintf(out, "  %s  leafgate %.1f %s  nats-server %.1f %s\n", wsPerConnName, row.Leafgate, row.Unit, row.NATS, row.Unit)
		rows = append(rows, row)
	}
	// Each server's CPU time per message delivered, per workload and
	// payload: the clients share the machine's cores with the server, so
	// the rates can be bound by the clients (nats.go's WebSocket code) and
	// this shows what each server spent on them.
	type key struct {
		name    string
		payload int
	}
	cpu := map[key]*[2][]float64{}
	onServer := func(j int, w workload, size, n int) (float64, ioCounters, error) {
		meter := cpuMeter(servers[j].pid())
		v, err := w.run(servers[j].WSURL, size, n)
		if err == nil {
			k := key{w.name, size}
			if cpu[k] == nil {
				cpu[k] = &[2][]float64{}
			}
			cpu[k][j] = append(cpu[k][j], float64(meter().Microseconds())/float64(n))
		}
		return v, ioCounters{}, err
	}
	wr, err := runWorkloads(ctx, out, selected, onServer)
	rows = append(rows, wr...)
	for _, r := range wr {
		if c := cpu[key{r.Workload, r.Payload}]; c != nil {
			rows = append(rows, Row{Workload: r.Workload + ", server CPU", Payload: r.Payload, Unit: "µs/msg",
				Leafgate: median(c[0]), NATS: median(c[1])})
		}
	}
	return rows, err
}

// startWSServers starts leafgate and nats-server, each with a WebSocket
// listener on a free loopback port (no TLS), and sets their WSURL.
// leafgate runs as it ships (JetStream and MQTT on), nats-server without
// JetStream, as the core workloads run them.
func startWSServers(bins []string) ([]*Server, error) {
	var servers []*Server
	for j, name := range serverNames {
		dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-ws-"+name+"-")
		if err != nil {
			stopAll(servers)
			return nil, err
		}
		s := &Server{Name: name, Bin: bins[j], StoreDir: dir}
		port := freePort()
		if name == "leafgate" {
			s.Args = []string{"--store_dir", dir, "--mqtt_port", "0", "--websocket_port", strconv.Itoa(port)}
		} else {
			conf := filepath.Join(dir, "nats-server.conf")
			if err := os.WriteFile(conf, []byte(natsServerWSBlock(port)), 0o644); err != nil {
				stopAll(servers)
				return nil, err
			}
			s.Args = []string{"-c", conf}
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s.WSURL = "ws://" + addr
		err = s.start()
		if err == nil {
			err = s.waitListening(addr)
		}
		if err != nil {
			s.stop()
			stopAll(servers)
			return nil, fmt.Errorf("%s with a WebSocket listener: %w", name, err)
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// natsServerWSBlock is nats-server's configuration of a plain (ws://)
// WebSocket listener on 127.0.0.1:port. With an mqtt block in the same
// configuration, the listener also serves MQTT on the path /mqtt.
func natsServerWSBlock(port int) string {
	return fmt.Sprintf("websocket {\n  listen: \"127.0.0.1:%d\"\n  no_tls: true\n}\n", port)
}
