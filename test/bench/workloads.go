package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// workload is one measured scenario, run with the same nats.go client code
// against each server.
type workload struct {
	name     string
	unit     string
	payloads []int
	count    func(payload int) int // messages (or round trips) per run
	run      func(url string, payload, n int) (float64, error)
}

var workloads = []workload{
	{"pub-only", "msgs/s", []int{16, 1024}, byPayload(2_000_000, 400_000), pubOnly},
	{"1 pub -> 1 sub", "msgs/s", []int{16, 1024}, byPayload(1_000_000, 300_000), fanout(1, "")},
	{"1 pub -> 4 subs (fan-out)", "msgs/s", []int{16, 1024}, byPayload(500_000, 100_000), fanout(4, "")},
	{"queue group of 4", "msgs/s", []int{16, 1024}, byPayload(1_000_000, 300_000), fanout(4, "q")},
	{"request/reply", "rtt/s", []int{16, 1024}, byPayload(20_000, 20_000), requestReply},
}

func byPayload(small, large int) func(int) int {
	return func(p int) int {
		if p <= 64 {
			return small
		}
		return large
	}
}

func fixed(n int) func(int) int {
	return func(int) int { return n }
}

// selectedWorkloads is the part of list that -workloads names.
func selectedWorkloads(list []workload) []workload {
	if *flagWorkloads == "" {
		return list
	}
	var out []workload
	for _, w := range list {
		for _, name := range strings.Split(*flagWorkloads, ",") {
			if strings.TrimSpace(name) == w.name {
				out = append(out, w)
			}
		}
	}
	return out
}

func conn(url string, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(url, append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)...)
}

// pubOnly: one publisher, nobody subscribed; msgs/s until the server has
// acknowledged the final flush.
func pubOnly(url string, payload, n int) (float64, error) {
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	data := make([]byte, payload)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := nc.Publish("bench.pub", data); err != nil {
			return 0, err
		}
	}
	if err := nc.FlushTimeout(60 * time.Second); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// fanout: one publisher, subs subscribers (in queue group q when not
// empty); reports messages delivered per second, from the first publish to
// the last message received. Every message must arrive: a run that loses
// any is an error, not a number.
func fanout(subs int, q string) func(string, int, int) (float64, error) {
	return func(url string, payload, n int) (float64, error) {
		expected := int64(n * subs)
		if q != "" {
			expected = int64(n)
		}
		var got atomic.Int64
		done := make(chan struct{})
		var once sync.Once
		var conns []*nats.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < subs; i++ {
			nc, err := conn(url)
			if err != nil {
				return 0, err
			}
			conns = append(conns, nc)
			h := func(*nats.Msg) {
				if got.Add(1) == expected {
					once.Do(func() { close(done) })
				}
			}
			var s *nats.Subscription
			if q != "" {
				s, err = nc.QueueSubscribe("bench.fan", q, h)
			} else {
				s, err = nc.Subscribe("bench.fan", h)
			}
			if err != nil {
				return 0, err
			}
			_ = s.SetPendingLimits(-1, -1)
			if err := nc.Flush(); err != nil {
				return 0, err
			}
		}
		pub, err := conn(url)
		if err != nil {
			return 0, err
		}
		conns = append(conns, pub)
		data := make([]byte, payload)
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := pub.Publish("bench.fan", data); err != nil {
				return 0, err
			}
		}
		if err := pub.FlushTimeout(60 * time.Second); err != nil {
			return 0, err
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			return 0, fmt.Errorf("received %d of %d messages", got.Load(), expected)
		}
		elapsed := time.Since(start)
		time.Sleep(20 * time.Millisecond)
		if g := got.Load(); g != expected {
			return 0, fmt.Errorf("received %d messages, want %d (duplicates)", g, expected)
		}
		return float64(expected) / elapsed.Seconds(), nil
	}
}

// requestReply: one requester, one responder, sequential round trips.
func requestReply(url string, payload, n int) (float64, error) {
	svc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer svc.Close()
	data := make([]byte, payload)
	if _, err := svc.Subscribe("bench.svc", func(m *nats.Msg) { _ = m.Respond(data) }); err != nil {
		return 0, err
	}
	if err := svc.Flush(); err != nil {
		return 0, err
	}
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, err := nc.Request("bench.svc", data, 5*time.Second)
		if err != nil {
			return 0, err
		}
		if len(resp.Data) != payload {
			return 0, errors.New("short reply")
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// perConnMemory opens n idle connections to url (s's client URL, or its
// WebSocket URL) with one subscription each and returns the server's RSS
// growth per connection in bytes.
func perConnMemory(s *Server, url string, n int) (float64, error) {
	pid := s.cmd.Process.Pid
	before := rss(pid, "VmRSS")
	var conns []*nats.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		nc, err := conn(url)
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, nc)
		if _, err := nc.SubscribeSync(fmt.Sprintf("idle.%d", i)); err != nil {
			return 0, err
		}
	}
	for _, c := range conns {
		if err := c.Flush(); err != nil {
			return 0, err
		}
	}
	time.Sleep(time.Second)
	after := rss(pid, "VmRSS")
	return float64(after-before) / float64(n), nil
}
