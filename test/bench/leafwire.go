package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wireMode is one leaf-wire configuration: the compression mode on the
// leaf's remote, and the round trip the proxy simulates (0: loopback).
type wireMode struct {
	mode string
	rtt  time.Duration
}

// wireModes are measured in this order; the first is the baseline the
// others' ratios divide by. s2_auto picks its level from the handshake's
// round trip, then from each PONG's: on loopback it would pick
// s2_uncompressed, so it runs over a simulated 70 ms link, an LTE round
// trip, where both pick s2_better (50-100 ms) and keep it.
var wireModes = []wireMode{
	{"off", 0},
	{"s2_fast", 0},
	{"s2_best", 0},
	{"s2_auto", 70 * time.Millisecond},
}

func (m wireMode) label() string {
	if m.rtt > 0 {
		return fmt.Sprintf("%s at %d ms RTT", m.mode, m.rtt.Milliseconds())
	}
	return m.mode
}

// wireName is the prefix of the wire-bytes rows.
const wireName = "leaf: uplink bytes"

// wireRatioName is the row of m's bytes over those with compression off.
func wireRatioName(m wireMode) string {
	return fmt.Sprintf("%s, %s / %s", wireName, m.label(), wireModes[0].mode)
}

// leafWire: scale(100,000) JSON telemetry messages (telemetry, about 200
// bytes) published on the leaf to a subscriber on the hub, through a
// counting proxy between leaf and hub; the bytes the leaf wrote to the
// link over the run, per message, for each compression mode on the leaf's
// remote. The hub's leafnode listener is `compression: accept`, so the
// leaf's mode decides (nats-server's negotiation: a remote's s2_* mode
// against accept is used as is). Each run is a fresh hub, proxy and leaf;
// all get the same messages.
func leafWire(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	n := scale(100_000)
	size := meanTelemetrySize(n)
	var rows []Row
	var base [2]float64 // bytes per message with compression off
	for mi, m := range wireModes {
		var vals [2][]float64
		var chosen [2][]string
		var errs []string
		for i := 0; i < *flagRepeat; i++ {
			for j, name := range serverNames {
				if ctx.Err() != nil {
					return rows, ctx.Err()
				}
				v, mode, err := wireRun(bins, j, m, n)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", name, err))
					continue
				}
				vals[j] = append(vals[j], v)
				if !strings.Contains(strings.Join(chosen[j], ","), mode) {
					chosen[j] = append(chosen[j], mode)
				}
			}
		}
		row := Row{Workload: wireName + ", " + m.label(), Payload: size, Unit: "B/msg",
			Leafgate: median(vals[0]), NATS: median(vals[1]), Err: strings.Join(errs, "; "),
			Note: fmt.Sprintf("link compression: leafgate %s, nats-server %s", strings.Join(chosen[0], "/"), strings.Join(chosen[1], "/"))}
		printLeafRow(out, row)
		rows = append(rows, row)
		if mi == 0 {
			base = [2]float64{row.Leafgate, row.NATS}
			continue
		}
		ratio := Row{Workload: wireRatioName(m), Payload: size, Unit: "x", Err: row.Err}
		if base[0] > 0 {
			ratio.Leafgate = row.Leafgate / base[0]
		}
		if base[1] > 0 {
			ratio.NATS = row.NATS / base[1]
		}
		printLeafRow(out, ratio)
		rows = append(rows, ratio)
	}
	return rows, nil
}

// wireRun is one leafWire run on server j: the leaf's bytes on the link
// per message, and the compression mode its /leafz reports before the
// run ("a->b" when it reports another after it).
func wireRun(bins []string, j int, m wireMode, n int) (float64, string, error) {
	var proxy *linkProxy
	defer func() {
		if proxy != nil {
			proxy.close()
		}
	}()
	p, err := startLeafPair(bins, j, leafOptions{compression: m.mode, hubCompression: "accept"}, func(hubAddr string) (string, error) {
		var err error
		proxy, err = startLinkProxy(hubAddr, m.rtt/2)
		if err != nil {
			return "", err
		}
		return proxy.addr(), nil
	})
	if err != nil {
		return 0, "", err
	}
	defer p.stop()
	const filter = "telemetry.>"
	tel := newTelemetry()
	var before int64
	var mode string
	_, err = windowedRun{
		pubURL: p.leaf.URL, subURL: p.hub.URL, filter: filter,
		window: windowMsgs(leafWindowBytes, "telemetry.gw-0042.th-00", 200),
		msg:    func(int) (string, []byte) { return tel.next() },
		ready: func() error {
			z, err := p.leaf.waitLinkUp(filter)
			if err != nil {
				return err
			}
			mode = z.compression()
			before = proxy.up.Load()
			return nil
		},
	}.run(n)
	if err != nil {
		return 0, "", err
	}
	// Every message has reached the hub's subscriber, so every byte the
	// leaf wrote for them has passed the proxy.
	perMsg := float64(proxy.up.Load()-before) / float64(n)
	// s2_auto may change level during the run: report both ends.
	if z, err := p.leaf.leafz(false); err == nil && z.compression() != mode {
		mode += "->" + z.compression()
	}
	return perMsg, mode, nil
}

// linkProxy forwards each TCP connection it accepts to target and counts
// the bytes each way. With a delay it simulates a link of round trip
// 2 × delay: it dials target delay after accepting (the client's TCP
// handshake takes a round trip on a real link, and the server's first
// INFO arrives a round trip after the client is connected), and forwards
// each chunk delay after reading it, without limiting throughput.
type linkProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	up     atomic.Int64 // bytes read from the accepted side (leaf → hub)
	down   atomic.Int64 // bytes read from target (hub → leaf)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn // closed by close
	closed bool
}

func startLinkProxy(target string, delay time.Duration) (*linkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &linkProxy{ln: ln, target: target, delay: delay}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	return p, nil
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

// track records c for close; it reports false (and closes c) once the
// proxy is closed.
func (p *linkProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *linkProxy) serve(c net.Conn) {
	if !p.track(c) {
		return
	}
	time.Sleep(p.delay)
	t, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(t) {
		c.Close()
		return
	}
	go func() {
		copyDelayed(t, c, &p.up, p.delay)
		t.Close()
		c.Close()
	}()
	copyDelayed(c, t, &p.down, p.delay)
	c.Close()
	t.Close()
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *linkProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	p.wg.Wait()
}

// copyDelayed copies src to dst, adding what it reads to count, each
// chunk written delay after it was read; until either side fails.
func copyDelayed(dst io.Writer, src io.Reader, count *atomic.Int64, delay time.Duration) {
	if delay <= 0 {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				count.Add(int64(n))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	type chunk struct {
		due time.Time
		b   []byte
	}
	line := make(chan chunk, 4096)
	go func() {
		defer close(line)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				count.Add(int64(n))
				line <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range line {
		if failed {
			continue // drain, so the reader never blocks
		}
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			if cl, ok := src.(io.Closer); ok {
				cl.Close() // ends the reader
			}
		}
	}
}

// telemetrySensors is how many sensors the telemetry gateway reports.
const telemetrySensors = 16

// telemetry generates the leaf-wire messages: JSON readings from the
// sensors of one gateway, each on its own subject, round robin, one
// reading per sensor per second, the values drifting as real readings
// do; about 200 bytes each. The sequence is the same on every run (a
// fixed seed), so every server and mode gets the same bytes.
type telemetry struct {
	rng      *rand.Rand
	seq      int
	ts       int64 // milliseconds
	sensors  [telemetrySensors]sensorReading
	subjects [telemetrySensors]string
	buf      []byte
}

type sensorReading struct {
	temp, rh, hpa, batt float64
	co2, rssi           int
	uptime              int64
}

func newTelemetry() *telemetry {
	t := &telemetry{rng: rand.New(rand.NewPCG(0x1eaf, 0x9a7e)), ts: 1764633600000}
	for i := range t.sensors {
		r := t.rng
		t.sensors[i] = sensorReading{
			temp: 18 + 6*r.Float64(), rh: 35 + 30*r.Float64(), hpa: 1005 + 15*r.Float64(),
			batt: 3.6 + 0.5*r.Float64(), co2: 450 + r.IntN(400), rssi: -90 + r.IntN(40),
			uptime: r.Int64N(1_000_000),
		}
		t.subjects[i] = fmt.Sprintf("telemetry.gw-0042.th-%02d", i)
	}
	return t
}

// next returns the next message's subject and payload; the payload is
// valid until the next call.
func (t *telemetry) next() (string, []byte) {
	i := t.seq % telemetrySensors
	if i == 0 {
		t.ts += 1000
	}
	r, s := t.rng, &t.sensors[i]
	s.temp += (r.Float64() - 0.5) * 0.2
	s.rh = min(max(s.rh+(r.Float64()-0.5), 5), 95)
	s.hpa += (r.Float64() - 0.5) * 0.1
	s.co2 = max(s.co2+r.IntN(21)-10, 400)
	s.batt -= r.Float64() * 0.0005
	s.rssi = min(max(s.rssi+r.IntN(5)-2, -110), -40)
	s.uptime++
	status := "ok"
	if s.co2 > 1000 || s.batt < 3.4 {
		status = "warn"
	}
	t.buf = fmt.Appendf(t.buf[:0], `{"gw":"gw-0042","sensor":"th-%02d","seq":%d,"ts":%d,"temp_c":%.2f,"rh_pct":%.1f,"pressure_hpa":%.2f,"co2_ppm":%d,"battery_v":%.3f,"rssi_dbm":%d,"uptime_s":%d,"status":%q,"fw":"2.4.1"}`,
		i, t.seq, t.ts+int64(r.IntN(200)), s.temp, s.rh, s.hpa, s.co2, s.batt, s.rssi, s.uptime, status)
	t.seq++
	return t.subjects[i], t.buf
}

// meanTelemetrySize is the mean payload of the first n messages, rounded.
func meanTelemetrySize(n int) int {
	t := newTelemetry()
	total := 0
	for range n {
		_, b := t.next()
		total += len(b)
	}
	return (total + n/2) / max(n, 1)
}
