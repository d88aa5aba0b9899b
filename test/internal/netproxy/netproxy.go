// Package netproxy is a TCP proxy a test puts between leafgate and its hub
// to break the link the ways real networks do, without restarting either
// side:
//
//   - Pause black-holes it: connections stay open and no byte moves in
//     either direction, not even a close, as when a NAT mapping is
//     silently dropped or a cellular link stalls. Connections made while
//     paused are accepted and black-holed too. Resume lets the bytes held
//     meanwhile through, in order, and with them any close that happened.
//   - Cut closes every connection (both ends), as a reset would.
//   - Refuse turns new connections away: each is accepted (and counted)
//     and reset at once, as a hub that is down answers. Connections
//     already open are not touched.
//   - SetLatency delays every byte by a one-way latency in each direction
//     (a round trip of twice that), order kept; a new connection's first
//     bytes from the target come a round trip after the client connected,
//     as its TCP handshake would take one.
//   - SetRate throttles each direction of each connection to a number of
//     bytes a second, with a link buffer of about a quarter second (plus
//     the latency's worth) in the proxy: beyond it the proxy stops
//     reading, so a fast sender feels TCP's back-pressure as on a slow
//     uplink. (The kernel's socket buffers on both sides of the proxy
//     hold more; a test must allow for that. The proxy's connections use
//     Ethernet's segment size, so those buffers stay near a real link's
//     size rather than loopback's megabytes.)
//
// Latency and rate apply to open connections from the next chunk on.
// Attempts counts every connection accepted, refused or not, so a test
// can measure how hard a client retries; Bytes counts what was forwarded
// each way, so it can measure what a protocol puts on the wire.
package netproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Proxy forwards connections from its loopback listener to a target.
type Proxy struct {
	ln     net.Listener
	target string

	attempts atomic.Int64
	refused  atomic.Int64
	toTarget atomic.Int64 // bytes written to the target side
	toClient atomic.Int64 // bytes written to the client side

	mu       sync.Mutex
	paused   bool
	resumed  chan struct{} // closed by Resume; a fresh one per Pause
	refusing bool
	closed   bool
	pairs    map[*pair]struct{}
	latency  time.Duration
	rate     int           // bytes a second per direction; 0: unlimited
	changed  chan struct{} // closed (and replaced) when latency or rate change

	wg sync.WaitGroup
}

// pair is one proxied connection: the client's and the target's side.
type pair struct {
	client net.Conn
	done   chan struct{} // closed by close

	mu     sync.Mutex
	target net.Conn
	closed bool
}

func (p *pair) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	t := p.target
	p.mu.Unlock()
	_ = p.client.Close()
	if t != nil {
		_ = t.Close()
	}
}

// setTarget records the target's side; false if the pair was closed.
func (p *pair) setTarget(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.target = c
	return true
}

// linkMSS is the TCP segment size of the proxy's connections: Ethernet's,
// not loopback's 64 KiB. The kernel sizes a sender's socket buffer in
// segments and wakes a blocked writer when a share of it is free, so with
// loopback's segments a sender ahead of a throttled proxy would hold
// megabytes in its kernel and wait tens of seconds in one write, which no
// real uplink does.
const linkMSS = 1460

// control clamps the MSS of the proxy's sockets, both the listener (whose
// connections inherit it) and those it dials.
func control(_, _ string, rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) { err = clampMSS(fd) }); cerr != nil {
		return cerr
	}
	return err
}

// New starts a proxy to target (host:port) on a free loopback port.
func New(target string) (*Proxy, error) {
	lc := net.ListenConfig{Control: control}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, pairs: map[*pair]struct{}{},
		resumed: make(chan struct{}), changed: make(chan struct{})}
	close(p.resumed)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Start starts a proxy for t, closed at cleanup.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatalf("netproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Attempts is the number of connections accepted so far, refused ones
// included.
func (p *Proxy) Attempts() int64 { return p.attempts.Load() }

// Refused is the number of connections reset because of Refuse.
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// Bytes reports the bytes forwarded so far over all connections: to the
// target (client → target) and to the client (target → client). Bytes
// are counted as they are written, before the far side can read them.
func (p *Proxy) Bytes() (toTarget, toClient int64) {
	return p.toTarget.Load(), p.toClient.Load()
}

// Active is the number of connections open through the proxy.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Pause stops forwarding in both directions, on open connections and new
// ones, until Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumed = make(chan struct{})
	}
}

// Resume forwards again what Pause held and everything after it.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
}

// SetLatency delays each direction by d (a round trip of 2d), on open
// connections and new ones; 0 forwards at once. Bytes read after the
// change get the new latency; order is always kept.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = max(d, 0)
	p.changedLocked()
}

// SetRate limits each direction of each connection to bytesPerSecond;
// 0 (or less) lifts the limit. It applies to open connections at once.
func (p *Proxy) SetRate(bytesPerSecond int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = max(bytesPerSecond, 0)
	p.changedLocked()
}

// changedLocked wakes the writers waiting out a latency or a rate.
func (p *Proxy) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// shape is the current latency and rate, and a channel closed when they
// next change.
func (p *Proxy) shape() (time.Duration, int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency, p.rate, p.changed
}

// Cut closes every open connection and reports how many there were.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.pairs))
	for pr := range p.pairs {
		pairs = append(pairs, pr)
	}
	p.mu.Unlock()
	for _, pr := range pairs {
		pr.close()
	}
	return len(pairs)
}

// Refuse turns new connections away (on) or lets them through again.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refusing = on
	p.mu.Unlock()
}

// Close stops the listener, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.attempts.Add(1)
		p.mu.Lock()
		refuse, closed := p.refusing, p.closed
		p.mu.Unlock()
		if refuse || closed {
			p.refused.Add(1)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as a closed port answers
			}
			_ = c.Close()
			continue
		}
		pr := &pair{client: c, done: make(chan struct{})}
		p.mu.Lock()
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(pr)
	}
}

// serve dials the target for one accepted connection and forwards both
// ways until either side closes or the pair is cut.
func (p *Proxy) serve(pr *pair) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.pairs, pr)
		p.mu.Unlock()
	}()
	// The client's connect returned at once; on a link with latency d it
	// would have taken a round trip, and the target would have accepted
	// d later still. Dialing d late puts the target's first bytes at the
	// client 2d after its connect, as over such a link.
	if lat, _, _ := p.shape(); lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-pr.done:
			t.Stop()
			return
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: control}
	tc, err := d.Dial("tcp", p.target)
	if err != nil {
		// The target is down: close the client's side once a pause (if
		// any) is over, as its reset would have come through then.
		if p.hold(pr) {
			pr.close()
		}
		return
	}
	if !pr.setTarget(tc) { // cut while dialing
		_ = tc.Close()
		return
	}
	var wg sync.WaitGroup
	up, down := newQueue(), newQueue()
	wg.Add(4)
	go func() { defer wg.Done(); p.read(pr, pr.client, up) }()
	go func() { defer wg.Done(); p.write(pr, tc, up, &p.toTarget) }()
	go func() { defer wg.Done(); p.read(pr, tc, down) }()
	go func() { defer wg.Done(); p.write(pr, pr.client, down, &p.toClient) }()
	wg.Wait()
}

// Buffering in the proxy, per direction: unthrottled, enough for a fast
// sender over a long latency; throttled, a link buffer of about
// linkBuffer plus the latency's worth, read in pieces of at most a
// twentieth of a second's bytes so pacing stays smooth.
const (
	maxQueued  = 4 << 20
	maxRead    = 32 << 10
	minQueued  = 4 << 10
	linkBuffer = 250 * time.Millisecond
	// quantum is the pacing step: a throttled writer writes at most this
	// long's worth of bytes at a time.
	quantum = 20 * time.Millisecond
)

// limits are how much a direction may hold queued and how much one read
// takes, for the current latency and rate.
func (p *Proxy) limits() (queued, read int) {
	lat, rate, _ := p.shape()
	if rate == 0 {
		return maxQueued, maxRead
	}
	queued = max(bytesIn(rate, linkBuffer+lat), minQueued)
	return queued, min(max(bytesIn(rate, quantum), 512), maxRead, queued)
}

// bytesIn is how many bytes rate moves in d, at least 1.
func bytesIn(rate int, d time.Duration) int {
	return max(int(int64(rate)*int64(d)/int64(time.Second)), 1)
}

// read moves what src sends into q, stamped with when it arrived, holding
// (as the old single copy loop did) while the proxy is paused. It ends q
// when src ends; a cut just stops it.
func (p *Proxy) read(pr *pair, src net.Conn, q *queue) {
	buf := make([]byte, maxRead)
	for {
		limit, size := p.limits()
		if !q.waitSpace(limit, pr.done) {
			return
		}
		n, err := src.Read(buf[:size])
		if n > 0 {
			c := chunk{b: append([]byte(nil), buf[:n]...), at: time.Now()}
			if !p.hold(pr) {
				return
			}
			q.put(c)
		}
		if err != nil {
			if p.hold(pr) { // a close is held while paused, like bytes
				q.end()
			}
			return
		}
	}
}

// write forwards q to dst: each chunk no sooner than the latency after it
// was read, at most at the rate, never while paused; then closes the pair
// when q ends. count gets the bytes written.
func (p *Proxy) write(pr *pair, dst net.Conn, q *queue, count *atomic.Int64) {
	var free time.Time // when a throttled direction may write again
	for {
		c, ok := q.take(pr.done)
		if !ok {
			break
		}
		for { // latency, recomputed if it changes meanwhile
			lat, _, changed := p.shape()
			wait := time.Until(c.at.Add(lat))
			if wait <= 0 {
				break
			}
			if !sleep(wait, changed, pr.done) {
				return
			}
		}
		if !p.hold(pr) {
			return
		}
		for b := c.b; len(b) > 0; {
			_, rate, changed := p.shape()
			n := len(b)
			if rate > 0 {
				n = min(n, bytesIn(rate, quantum))
				if wait := time.Until(free); wait > 0 {
					if !sleep(wait, changed, pr.done) {
						return
					}
					continue // the rate may have changed
				}
			}
			start := time.Now()
			// Counted first, so a test that saw the bytes arrive sees
			// them counted; a failed write overcounts the last piece.
			count.Add(int64(n))
			if _, err := dst.Write(b[:n]); err != nil {
				pr.close()
				return
			}
			if rate > 0 {
				free = start.Add(time.Duration(int64(n) * int64(time.Second) / int64(rate)))
			}
			b = b[n:]
		}
	}
	select {
	case <-pr.done:
	default:
		pr.close() // q ended: the other side closed
	}
}

// sleep waits d; it returns early, true, when wake closes, and false when
// done closes.
func sleep(d time.Duration, wake <-chan struct{}, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-done:
		return false
	}
}

// hold waits while the proxy is paused; it reports false when the pair
// was closed meanwhile.
func (p *Proxy) hold(pr *pair) bool {
	for {
		p.mu.Lock()
		paused, resumed := p.paused, p.resumed
		p.mu.Unlock()
		if !paused {
			select {
			case <-pr.done:
				return false
			default:
				return true
			}
		}
		select {
		case <-resumed:
		case <-pr.done:
			return false
		}
	}
}

// chunk is one read's bytes and when they were read.
type chunk struct {
	b  []byte
	at time.Time
}

// queue is one direction's chunks between its reader and its writer.
type queue struct {
	mu     sync.Mutex
	chunks []chunk
	size   int
	ended  bool
	ready  chan struct{} // a chunk or the end was put (capacity 1)
	space  chan struct{} // a chunk was taken (capacity 1)
}

func newQueue() *queue {
	return &queue{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (q *queue) put(c chunk) {
	q.mu.Lock()
	q.chunks = append(q.chunks, c)
	q.size += len(c.b)
	q.mu.Unlock()
	signal(q.ready)
}

func (q *queue) end() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	signal(q.ready)
}

// waitSpace waits until fewer than limit bytes are queued; false when
// done closes first.
func (q *queue) waitSpace(limit int, done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		ok := q.size < limit
		q.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-q.space:
		case <-done:
			return false
		}
	}
}

// take waits for the next chunk; false when q ended and is empty, or when
// done closes.
func (q *queue) take(done <-chan struct{}) (chunk, bool) {
	for {
		q.mu.Lock()
		if len(q.chunks) > 0 {
			c := q.chunks[0]
			q.chunks[0] = chunk{}
			q.chunks = q.chunks[1:]
			q.size -= len(c.b)
			q.mu.Unlock()
			signal(q.space)
			return c, true
		}
		ended := q.ended
		q.mu.Unlock()
		if ended {
			return chunk{}, false
		}
		select {
		case <-q.ready:
		case <-done:
			return chunk{}, false
		}
	}
}
