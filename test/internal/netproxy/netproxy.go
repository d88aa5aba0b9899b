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
//
// Attempts counts every connection accepted, refused or not, so a test
// can measure how hard a client retries.
package netproxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards connections from its loopback listener to a target.
type Proxy struct {
	ln     net.Listener
	target string

	attempts atomic.Int64
	refused  atomic.Int64

	mu       sync.Mutex
	paused   bool
	resumed  chan struct{} // closed by Resume; a fresh one per Pause
	refusing bool
	closed   bool
	pairs    map[*pair]struct{}

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

// New starts a proxy to target (host:port) on a free loopback port.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, pairs: map[*pair]struct{}{}, resumed: make(chan struct{})}
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
	tc, err := net.DialTimeout("tcp", p.target, 5*time.Second)
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
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(pr, tc, pr.client) }()
	go func() { defer wg.Done(); p.pump(pr, pr.client, tc) }()
	wg.Wait()
}

// pump copies src to dst, holding every write (and the close that ends
// the copy) while the proxy is paused.
func (p *Proxy) pump(pr *pair, dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.hold(pr) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if p.hold(pr) {
		pr.close()
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
