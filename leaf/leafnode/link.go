// Package leafnode is leafgate's side of nats-server's leafnode protocol:
// the links a gateway solicits to its hub cluster. Each configured remote
// is one Link that dials the hub, authenticates, exchanges interest and
// carries messages both ways, and reconnects by itself, forever, when the
// link drops, stalls or is refused.
//
// A Link is a client of the router like any other: it follows the router's
// exported interest (router.WatchInterest) to advertise local interest as
// LS+/LS-, subscribes what the hub advertises as Remote subscriptions so
// local publishes reach the hub (router.LinkReceiver gets one copy per
// publish with its queue groups), and publishes what the hub sends with
// Publisher.Link set, so the hub's queue choice is kept.
//
// Goroutines: per link, run (dial, handshake, read loop; it owns the
// session) and, while connected, one writer and one pinger. Lock order:
// the router's interest lock, then Link.mu, then session.mu.
package leafnode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/leaf/leafproto"
)

// Set is the links of one server.
type Set struct {
	opts  Options
	log   *slog.Logger
	lds   string // this server's loop-detection subject
	links []*Link
}

// New validates opts and returns the links, not started.
func New(opts Options) (*Set, error) {
	if opts.Router == nil {
		return nil, errors.New("leafnode: no router")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.WriteDeadline <= 0 {
		opts.WriteDeadline = DefaultWriteDeadline
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	s := &Set{opts: opts, log: opts.Log, lds: "$LDS." + hex.EncodeToString(id[:])}
	names := map[string]bool{}
	for i := range opts.Remotes {
		r := opts.Remotes[i]
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("leafnodes.remotes[%d]: %w", i, err)
		}
		if s := r.URLs[0].Scheme; (s == "ws" || s == "wss") && opts.DialWebSocket == nil {
			return nil, fmt.Errorf("leafnodes.remotes[%d]: WebSocket URLs need a WebSocket dialer", i)
		}
		r.URLs = append([]*url.URL(nil), r.URLs...)
		r.withDefaults()
		if names[r.Name] {
			r.Name = fmt.Sprintf("%s#%d", r.Name, i)
		}
		names[r.Name] = true
		s.links = append(s.links, newLink(s, r))
	}
	return s, nil
}

// Start starts every link; each dials in the background.
func (s *Set) Start() {
	for _, l := range s.links {
		l.start()
	}
}

// Close ends every link and waits for their goroutines.
func (s *Set) Close() {
	for _, l := range s.links {
		l.close()
	}
	for _, l := range s.links {
		l.wg.Wait()
	}
}

// Links are the set's links, in configuration order.
func (s *Set) Links() []*Link { return s.links }

// Sessions counts the sessions established on all the links so far. It
// changes whenever a link comes back: what was in flight on the session
// before is lost (an uplink resends it at once).
func (s *Set) Sessions() uint64 {
	var n uint64
	for _, l := range s.links {
		if l.stats.everUp.Load() {
			n += 1 + uint64(l.stats.reconnects.Load())
		}
	}
	return n
}

// Probe sends a PING on every link that is up, behind everything already
// queued for the hub, and returns answered: true once each of those PINGs
// has had its PONG (or its session ended). The hub answers in order, so
// by then it has read everything written to the links before the probe;
// an uplink waiting for an acknowledgement tells a lost one (the hub read
// the publish and said nothing) from a slow link (it has not read it
// yet).
func (s *Set) Probe() (answered func() bool) {
	type sent struct {
		sess *session
		n    uint64
	}
	var pings []sent
	for _, l := range s.links {
		l.mu.Lock()
		sess := l.sess
		l.mu.Unlock()
		if sess != nil {
			pings = append(pings, sent{sess, sess.sendPing()})
		}
	}
	return func() bool {
		for _, p := range pings {
			if !p.sess.answered(p.n) {
				return false
			}
		}
		return true
	}
}

// Link is one configured remote: the current session, if any, and what
// outlives sessions (the local interest mirror, counters, the URL list).
type Link struct {
	set    *Set
	remote Remote
	log    *slog.Logger

	// ctx is cancelled when the link closes: the dial, the waits and
	// the session watch it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	local  map[interestKey]int32   // exported local interest, as the router reports it
	sess   *session                // the established session; nil while down
	cur    atomic.Pointer[session] // sess, for publishers that take no lock
	stopIn func()                  // ends the interest feed
	urls   []*url.URL              // configured then discovered, tried in turn
	next   int
	delay  time.Duration // a protocol-imposed wait before the next attempt
	status Status

	stats stats
}

// stats are counters read by /leafz without locks.
type stats struct {
	inMsgs, outMsgs, inBytes, outBytes atomic.Int64
	dropped                            atomic.Int64 // messages not sent: over MaxPending, too big for the hub, or denied
	hubSubsIgnored                     atomic.Int64 // hub interest over MaxHubSubs
	protoIn, protoOut                  atomic.Int64 // protocol bytes, before S2 compression
	wireIn, wireOut                    atomic.Int64 // bytes on the wire (TLS and WebSocket framing included), after it
	reconnects                         atomic.Int64 // sessions established after the first
	failures                           atomic.Int64 // attempts and sessions that ended
	everUp                             atomic.Bool
}

type interestKey struct{ subject, queue string }

func newLink(s *Set, r Remote) *Link {
	l := &Link{
		set:    s,
		remote: r,
		log:    s.log.With("leafnode", r.Name),
		local:  map[interestKey]int32{},
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.urls = append(l.urls, r.URLs...)
	if !r.NoRandomize {
		mrand.Shuffle(len(l.urls), func(i, j int) { l.urls[i], l.urls[j] = l.urls[j], l.urls[i] })
	}
	return l
}

// Name is the link's label.
func (l *Link) Name() string { return l.remote.Name }

func (l *Link) start() {
	// Follow local interest from now on, across sessions: the mirror is
	// what a new session advertises, and changes go out in order.
	l.stopIn = l.set.opts.Router.WatchInterest(l.onInterest)
	l.wg.Add(1)
	go l.run()
}

func (l *Link) close() {
	if l.ctx.Err() != nil {
		return
	}
	if l.stopIn != nil {
		l.stopIn()
	}
	l.cancel() // ends the session (connect watches ctx), a dial and a wait
}

var errClosed = errors.New("leafnode: link closed")

// run connects, serves the session until it ends, waits and repeats until
// the link is closed. It never gives up.
func (l *Link) run() {
	defer l.wg.Done()
	attempt := 0
	var lastWarn time.Time
	for {
		u := l.nextURL()
		start := time.Now()
		wasUp, err := l.connect(u)
		if l.ctx.Err() != nil {
			return
		}
		// A session that got established resets the back-off: the link
		// was good (a hub restart, a cut), so try again promptly; what
		// keeps a hub that ends sessions at once from a tight loop is its
		// own delays (loop, permissions, duplicate) and the first wait.
		// A long attempt (a slow dial or handshake) resets it too.
		if wasUp || time.Since(start) > l.remote.ReconnectMax {
			attempt = 0
		}
		wait := l.backoff(attempt)
		l.mu.Lock()
		if l.delay > 0 {
			wait, l.delay = max(wait, l.delay), 0
		}
		l.status.LastError = err.Error()
		l.status.NextAttempt = time.Now().Add(wait)
		l.status.Backoff = wait
		l.mu.Unlock()
		// One line when the link goes down and for the first few failed
		// attempts, then one per quiet period, not one per retry: a hub
		// down for a day must not fill a gateway's SD card with logs.
		switch {
		case wasUp || attempt < 3 || time.Since(lastWarn) >= 10*time.Minute:
			l.log.Warn("leafnode link down", "url", Redact(u), "err", err, "retry_in", wait.Round(time.Millisecond),
				"failed_attempts", attempt+1)
			lastWarn = time.Now()
		default:
			l.log.Debug("leafnode link down", "url", Redact(u), "err", err, "retry_in", wait.Round(time.Millisecond),
				"failed_attempts", attempt+1)
		}
		attempt++
		l.stats.failures.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt n+1: ReconnectDelay doubled per
// failed attempt up to ReconnectMax, with "equal jitter" (half fixed, half
// random) so a fleet that lost its hub at once does not return at once.
func (l *Link) backoff(n int) time.Duration {
	d := l.remote.ReconnectDelay
	for i := 0; i < n && d < l.remote.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, l.remote.ReconnectMax)
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(half)+1))
}

// nextURL picks the URL for the next attempt, rotating through the list.
func (l *Link) nextURL() *url.URL {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.urls[l.next%len(l.urls)]
	l.next++
	return u
}

// delayNext makes the next attempt wait at least d (the hub's delays).
func (l *Link) delayNext(d time.Duration) {
	l.mu.Lock()
	l.delay = max(l.delay, d)
	l.mu.Unlock()
}

// setDiscovered makes the URLs the hub advertised in an INFO the
// discovered part of the list, after the configured ones: the hub's
// latest list replaces the one before, as in nats-server, so a cluster
// that changed does not leave dead URLs behind. A WebSocket remote takes
// the hub's ws_connect_urls, any other its leafnode_urls; a discovered
// URL keeps the scheme and credentials of the one in use.
func (l *Link) setDiscovered(info *leafproto.Info, like *url.URL) {
	hostports := info.LeafNodeURLs
	if like.Scheme == "ws" || like.Scheme == "wss" {
		hostports = info.WSConnectURLs
	}
	if len(hostports) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.remote.URLs) // the configured URLs lead l.urls (newLink)
	urls := l.urls[:n:n]
	for _, hp := range hostports {
		if slices.ContainsFunc(urls, func(u *url.URL) bool { return u.Host == hp }) {
			continue
		}
		nu := *like
		nu.Host = hp
		urls = append(urls, &nu)
	}
	l.urls = urls
}
