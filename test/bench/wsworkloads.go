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
)

// wsGroup is the -workloads name that selects every WebSocket workload.
const wsGroup = "ws"

var wsWorkloads = []workload{
	{"ws: 1 pub -> 1 sub", "msgs/s", []int{16, 1024}, byPayload(1_000_000, 300_000), fanout(1, "")},
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

// wsPhase runs the NATS-over-WebSocket rows on a pair of servers with
// WebSocket listeners: first the memory per idle WebSocket connection on
// the fresh servers (with -footprint, only that), then the throughput
// workloads. The servers are otherwise as the core workloads run them.
func wsPhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	names := strings.Split(*flagWorkloads, ",")
	memory := *flagFootprint || *flagWorkloads == "" || slices.ContainsFunc(names, func(n string) bool {
		n = strings.TrimSpace(n)
		return n == wsGroup || n == wsPerConnName
	})
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
		fmt.Fprintf(out, "  %-26s %6s  leafgate %12.1f  nats-server %12.1f %s\n", wsPerConnName, "", row.Leafgate, row.NATS, row.Unit)
		rows = append(rows, row)
	}
	onServer := func(j int, w workload, size, n int) (float64, ioCounters, error) {
		v, err := w.run(servers[j].WSURL, size, n)
		return v, ioCounters{}, err
	}
	wr, err := runWorkloads(ctx, out, selected, onServer)
	return append(rows, wr...), err
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
