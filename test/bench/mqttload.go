package main

// The MQTT load generator: publishers and subscribers on raw connections
// (mqttclient.go), flow-controlled by windows so that a run measures the
// broker at full speed without building queues that no broker should be
// asked to hold: a publisher has at most loadSpec.window messages not yet
// received by every subscriber, and at QoS 1 at most as many without a
// PUBACK. Every payload carries its send time, publisher and sequence
// number, so subscribers measure latency and count losses and duplicates
// exactly.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/mqtt/packet"
)

// loadSpec is one throughput scenario.
type loadSpec struct {
	pubs, subs int
	qos        byte
	topic      func(pub int) string // each publisher's topic
	filter     string               // every subscriber's filter
	payload    int                  // bytes, at least payloadHeader
	window     int                  // messages in flight per publisher
	clean      bool                 // subscribers' clean session flag
}

// loadResult is what one run measured.
type loadResult struct {
	sent      int64 // messages published
	acked     int64 // PUBACKs received (QoS 1)
	delivered int64 // distinct messages received, all subscribers together
	dups      int64 // messages received again
	elapsed   time.Duration
	lat       histogram // delivery latency, or PUBACK latency without subscribers
}

// lost is what should have arrived and did not: deliveries with
// subscribers, otherwise unacknowledged publishes.
func (r loadResult) lost(subs int) int64 {
	if subs > 0 {
		return r.sent*int64(subs) - r.delivered
	}
	return r.sent - r.acked
}

// payloadHeader is the part of each payload the generator reads: send
// time (ns since the run's start), sequence number, publisher index.
const payloadHeader = 14

const (
	pubBatch     = 64       // messages encoded per window reservation
	pubFlushSize = 32 << 10 // write once this much is encoded
	drainStall   = 3 * time.Second
	drainMax     = 20 * time.Second
)

// runLoad runs spec against the broker at addr for about dur, then waits
// for everything sent to arrive (or to stop arriving).
func runLoad(addr string, spec loadSpec, dur time.Duration, runID string) (loadResult, error) {
	if spec.payload < payloadHeader {
		spec.payload = payloadHeader
	}
	r := &loadRun{spec: spec, start: time.Now()}
	defer r.closeAll()
	for i := 0; i < spec.subs; i++ {
		m, _, err := mqttDial(addr, fmt.Sprintf("%s-sub-%d", runID, i), spec.clean)
		if err != nil {
			return loadResult{}, fmt.Errorf("subscriber %d: %w", i, err)
		}
		r.conns = append(r.conns, m)
		if err := m.subscribe(spec.filter, spec.qos); err != nil {
			return loadResult{}, fmt.Errorf("subscriber %d: %w", i, err)
		}
		s := &loadSub{run: r, conn: m, seen: make([][]uint64, spec.pubs), fresh: make([]int64, spec.pubs)}
		r.subs = append(r.subs, s)
	}
	for i := 0; i < spec.pubs; i++ {
		m, _, err := mqttDial(addr, fmt.Sprintf("%s-pub-%d", runID, i), true)
		if err != nil {
			return loadResult{}, fmt.Errorf("publisher %d: %w", i, err)
		}
		r.conns = append(r.conns, m)
		p := &loadPub{run: r, idx: i, conn: m, topic: []byte(spec.topic(i))}
		if spec.subs > 0 {
			p.e2e = newWindow(int64(spec.window*spec.subs), int64(spec.subs))
		}
		if spec.qos > 0 {
			p.acks = newWindow(int64(spec.window), 1)
			p.sentAt = make([]atomic.Int64, 1<<16)
		}
		r.pubs = append(r.pubs, p)
	}
	r.start = time.Now()
	r.last.Store(0)
	for _, s := range r.subs {
		r.readers.Add(1)
		go func() { defer r.readers.Done(); r.fail(s.read()) }()
	}
	for _, p := range r.pubs {
		if p.acks != nil {
			r.readers.Add(1)
			go func() { defer r.readers.Done(); r.fail(p.readAcks()) }()
		}
		r.writers.Add(1)
		go func() { defer r.writers.Done(); r.fail(p.publish()) }()
	}
	time.Sleep(dur)
	r.stop.Store(true)
	r.drain()
	return r.result(), r.firstErr()
}

// loadRun is the shared state of one run.
type loadRun struct {
	spec    loadSpec
	start   time.Time
	conns   []*mqttConn
	subs    []*loadSub
	pubs    []*loadPub
	readers sync.WaitGroup
	writers sync.WaitGroup
	stop    atomic.Bool
	closing atomic.Bool

	sent      atomic.Int64
	acked     atomic.Int64
	delivered atomic.Int64
	last      atomic.Int64 // ns since start of the last delivery or ack

	errMu sync.Mutex
	err   error
}

func (r *loadRun) now() int64 { return int64(time.Since(r.start)) }

func (r *loadRun) fail(err error) {
	if err == nil || r.closing.Load() {
		return
	}
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
}

func (r *loadRun) firstErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// done reports whether everything sent has been delivered and acknowledged.
func (r *loadRun) done() bool {
	sent := r.sent.Load()
	if r.spec.qos > 0 && r.acked.Load() < sent {
		return false
	}
	return r.delivered.Load() >= sent*int64(r.spec.subs)
}

// drain waits for the publishers to stop and for what they sent to arrive,
// giving up when nothing has moved for drainStall (lost messages) or after
// drainMax.
func (r *loadRun) drain() {
	pubsDone := make(chan struct{})
	go func() { r.writers.Wait(); close(pubsDone) }()
	deadline := time.Now().Add(drainMax)
	lastMove, lastSeen := time.Now(), int64(-1)
	for time.Now().Before(deadline) && r.firstErr() == nil {
		select {
		case <-pubsDone:
			if r.done() {
				return
			}
		default:
		}
		if seen := r.delivered.Load() + r.acked.Load(); seen != lastSeen {
			lastSeen, lastMove = seen, time.Now()
		} else if time.Since(lastMove) > drainStall {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// closeAll ends every goroutine of the run and closes its connections.
func (r *loadRun) closeAll() {
	r.closing.Store(true)
	r.stop.Store(true)
	for _, p := range r.pubs {
		for _, w := range []*window{p.e2e, p.acks} {
			if w != nil {
				w.close()
			}
		}
	}
	for _, c := range r.conns {
		c.close()
	}
	r.writers.Wait()
	r.readers.Wait()
}

func (r *loadRun) result() loadResult {
	r.closeAll() // the counts settle, and the histograms are the readers' until they stop
	res := loadResult{
		sent:      r.sent.Load(),
		acked:     r.acked.Load(),
		delivered: r.delivered.Load(),
		elapsed:   time.Duration(r.last.Load()),
	}
	for _, s := range r.subs {
		res.dups += s.dups
		res.lat.merge(&s.lat)
	}
	if r.spec.subs == 0 {
		for _, p := range r.pubs {
			res.lat.merge(&p.lat)
		}
	}
	return res
}

// loadPub is one publisher: a writing goroutine (publish) and, at QoS 1,
// a reading one (readAcks).
type loadPub struct {
	run    *loadRun
	idx    int
	conn   *mqttConn
	topic  []byte
	e2e    *window        // deliveries outstanding, a unit per subscriber and message
	acks   *window        // QoS 1: PUBACKs outstanding
	sentAt []atomic.Int64 // QoS 1: send time by packet identifier
	lat    histogram      // PUBACK latency; the reader's
}

func (p *loadPub) publish() error {
	r := p.run
	payload := make([]byte, r.spec.payload)
	pp := packet.Publish{QoS: r.spec.qos, Topic: p.topic, Payload: payload}
	binary.LittleEndian.PutUint16(payload[12:], uint16(p.idx))
	buf := make([]byte, 0, pubFlushSize+r.spec.payload+64)
	var seq uint32
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := p.conn.c.Write(buf)
		buf = buf[:0]
		return err
	}
	// reserve takes up to pubBatch from w without blocking, or after
	// flushing what is encoded (the window cannot open before it is sent).
	reserve := func(w *window, want int64) (int64, error) {
		if n := w.take(want, false); n > 0 {
			return n, nil
		}
		if err := flush(); err != nil {
			return 0, err
		}
		return w.take(want, true), nil
	}
	for !r.stop.Load() {
		n := int64(pubBatch)
		var err error
		if p.e2e != nil {
			if n, err = reserve(p.e2e, n); err != nil || n == 0 {
				return err
			}
		}
		if p.acks != nil {
			m, err := reserve(p.acks, n)
			if p.e2e != nil && m < n {
				p.e2e.give((n - m) * p.e2e.unit)
			}
			if err != nil || m == 0 {
				return err
			}
			n = m
		}
		for i := int64(0); i < n; i++ {
			now := r.now()
			binary.LittleEndian.PutUint64(payload, uint64(now))
			binary.LittleEndian.PutUint32(payload[8:], seq)
			if p.acks != nil {
				pp.PacketID = uint16(seq%0xFFFF) + 1
				p.sentAt[pp.PacketID].Store(now)
			}
			seq++
			buf = pp.Append(buf, mqttVersion)
			if len(buf) >= pubFlushSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		r.sent.Add(n)
	}
	return flush()
}

func (p *loadPub) readAcks() error {
	r := p.run
	var ack packet.Ack
	var n int64
	return p.conn.readLoop(func(h packet.FixedHeader, pkt []byte) error {
		if h.Type != packet.PUBACK {
			return fmt.Errorf("publisher %d: unexpected %v", p.idx, h.Type)
		}
		if err := ack.Decode(mqttVersion, pkt); err != nil {
			return err
		}
		p.lat.record(r.now() - p.sentAt[ack.PacketID].Load())
		n++
		return nil
	}, func() error {
		if n > 0 {
			r.acked.Add(n)
			r.last.Store(r.now())
			p.acks.give(n)
			n = 0
		}
		return nil
	})
}

// loadSub is one subscriber, read by one goroutine (read), which owns
// everything here.
type loadSub struct {
	run   *loadRun
	conn  *mqttConn
	seen  [][]uint64 // per publisher, a bit per sequence number received
	fresh []int64    // per publisher, first deliveries since the last batch
	dups  int64
	lat   histogram
}

func (s *loadSub) read() error {
	r := s.run
	var ack = packet.Ack{PacketType: packet.PUBACK}
	var out []byte
	var fresh int64     // all publishers'
	recvAt := int64(-1) // when this read's bytes arrived: one clock reading per read
	return s.conn.readLoop(func(h packet.FixedHeader, pkt []byte) error {
		if h.Type != packet.PUBLISH {
			return fmt.Errorf("subscriber: unexpected %v", h.Type)
		}
		qos, id, payload, err := parsePublish(h, pkt)
		if err != nil {
			return err
		}
		if len(payload) < payloadHeader {
			return fmt.Errorf("subscriber: %d-byte payload", len(payload))
		}
		ts := int64(binary.LittleEndian.Uint64(payload))
		seq := binary.LittleEndian.Uint32(payload[8:])
		idx := int(binary.LittleEndian.Uint16(payload[12:]))
		if idx >= len(s.seen) {
			return fmt.Errorf("subscriber: publisher %d unknown", idx)
		}
		if recvAt < 0 {
			recvAt = r.now()
		}
		if setBit(&s.seen[idx], seq) {
			fresh++
			s.fresh[idx]++
			s.lat.record(recvAt - ts)
		} else {
			s.dups++
		}
		if qos > 0 {
			ack.PacketID = id
			out = ack.Append(out, mqttVersion)
		}
		return nil
	}, func() error {
		if len(out) > 0 {
			if _, err := s.conn.c.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
		if fresh > 0 {
			r.delivered.Add(fresh)
			r.last.Store(r.now())
			for i, n := range s.fresh {
				if n > 0 {
					r.pubs[i].e2e.give(n)
					s.fresh[i] = 0
				}
			}
			fresh = 0
		}
		recvAt = -1
		return nil
	})
}

// parsePublish reads a 3.1.1 PUBLISH's QoS, packet identifier and payload.
// It stands in for packet.Publish.Decode, whose checks of the topic name
// (UTF-8, no wildcards) were a quarter of a subscriber's time: Split has
// already checked the fixed header, and the generator trusts the brokers'
// topics (the e2e tests check those with real clients).
func parsePublish(h packet.FixedHeader, pkt []byte) (qos byte, id uint16, payload []byte, err error) {
	body := pkt[h.HeaderLen:]
	qos = (h.Flags >> 1) & 3
	n := 2
	if len(body) >= 2 {
		n += int(binary.BigEndian.Uint16(body))
	}
	if qos > 0 {
		n += 2
	}
	if len(body) < n {
		return 0, 0, nil, fmt.Errorf("subscriber: PUBLISH of %d bytes is short", len(pkt))
	}
	if qos > 0 {
		id = binary.BigEndian.Uint16(body[n-2:])
	}
	return qos, id, body[n:], nil
}

// setBit sets bit i, growing the set, and reports whether it was clear.
func setBit(set *[]uint64, i uint32) bool {
	w := int(i / 64)
	if w >= len(*set) {
		*set = append(*set, make([]uint64, w+1-len(*set)+len(*set)/2)...)
	}
	b := uint64(1) << (i % 64)
	if (*set)[w]&b != 0 {
		return false
	}
	(*set)[w] |= b
	return true
}

// window is a counting semaphore of limit units that goroutines take in
// multiples of unit and give back one unit at a time. Waiters sleep on a
// condition variable until a quarter of the window is free again, so a
// full window costs one wake-up per quarter, not one per unit.
type window struct {
	limit, unit int64
	used        atomic.Int64
	waiters     atomic.Int32
	closed      atomic.Bool
	mu          sync.Mutex
	cond        *sync.Cond
}

func newWindow(limit, unit int64) *window {
	w := &window{limit: limit, unit: unit}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// take reserves up to want multiples of unit and returns how many it got.
// With block set it waits while none are free; it returns 0 only when the
// window is closed (or, without block, when none are free).
func (w *window) take(want int64, block bool) int64 {
	for !w.closed.Load() {
		used := w.used.Load()
		if free := (w.limit - used) / w.unit; free > 0 {
			n := min(free, want)
			if w.used.CompareAndSwap(used, used+n*w.unit) {
				return n
			}
			continue
		}
		if !block {
			return 0
		}
		w.mu.Lock()
		w.waiters.Add(1)
		for !w.closed.Load() && w.limit-w.used.Load() < w.limit/4 {
			w.cond.Wait()
		}
		w.waiters.Add(-1)
		w.mu.Unlock()
	}
	return 0
}

// give returns n units.
func (w *window) give(n int64) {
	used := w.used.Add(-n)
	// A waiter registers before it checks the free space, and give frees
	// before it looks for waiters, so no wake-up is lost.
	if w.waiters.Load() > 0 && w.limit-used >= w.limit/4 {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

// close wakes every waiter for good.
func (w *window) close() {
	w.closed.Store(true)
	w.mu.Lock()
	w.cond.Broadcast()
	w.mu.Unlock()
}

// histogram records non-negative durations in nanoseconds in log-linear
// buckets: 2 ns wide below 128 ns, then 64 buckets per power of two
// (within 1.6%). Fixed size, no allocation per value.
type histogram struct {
	counts [64 * 64]uint64
	n      uint64
}

func histBucket(v int64) int {
	if v < 128 {
		if v < 0 {
			v = 0
		}
		return int(v) / 2 // 0..63: 2 ns wide
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128); e >= 1
	return e*64 + int(uint64(v)>>e) - 64
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < 64 {
		return int64(i*2) + 1
	}
	e, m := i/64, int64(i%64+64)
	return m<<e + (int64(1)<<e)/2
}

func (h *histogram) record(v int64) {
	i := histBucket(v)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0..1) in nanoseconds, 0 when empty.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return histValue(i)
		}
	}
	return histValue(len(h.counts) - 1)
}
