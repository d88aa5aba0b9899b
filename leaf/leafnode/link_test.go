package leafnode

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/router"
)

// TestLoopDetected: the hub advertising the leaf's own loop-detection
// subject means the interest went round a loop: the leaf says so with
// nats-server's -ERR, closes, and waits 30 s before the next attempt.
func TestLoopDetected(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	set, l := startLink(t, router.New(), hub, nil)
	c := hub.up(set)
	c.sync()
	before := time.Now()
	c.sendSub(set.lds, "", 0)
	op := c.next()
	const want = `Loop detected for leafnode account="$G". Delaying attempt to reconnect for 30s`
	if op.Op != "-ERR" || op.Raw != want || op.Raw != leafproto.LoopErrText(globalAccount) {
		t.Errorf("got %q, want -ERR %q", op, want)
	}
	if !bytes.Contains(c.rawBytes(), []byte("-ERR '"+want+"'\r\n")) {
		t.Errorf("the -ERR line is not byte for byte nats-server's: %q", c.rawBytes())
	}
	c.waitClosed()
	st := waitDown(t, l, "Loop detected")
	if wait := st.NextAttempt.Sub(before); wait < leafproto.LoopReconnectDelay || wait > leafproto.LoopReconnectDelay+testWait {
		t.Errorf("next attempt in %v, want %v", wait, leafproto.LoopReconnectDelay)
	}
	hub.noConnWithin(100 * time.Millisecond)
}

// TestLoopSubjectOfOthers: another server's loop-detection subject is
// neither an error nor interest to deliver to.
func TestLoopSubjectOfOthers(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, l := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.sendSub("$LDS.0123456789abcdef", "", 0)
	c.sync()
	c.expectNone()
	if r.Count() != 0 || !l.Status().Connected {
		t.Errorf("router count %d, status %+v", r.Count(), l.Status())
	}
}

// TestHubErrDelays: after the hub's -ERR and close, loop, permission,
// same cluster and min version errors impose their delay on the next
// attempt, others leave the normal back-off; the -ERR is the reason.
func TestHubErrDelays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		delay time.Duration // 0: the back-off
	}{
		{leafproto.LoopErrText("HUBACC"), leafproto.LoopReconnectDelay},
		{leafproto.PubPermErrText([]byte("foo")), leafproto.PermViolationReconnectDelay},
		{leafproto.SubPermErrText([]byte("foo.>")), leafproto.PermViolationReconnectDelay},
		{leafproto.ErrTextSameClusterName, leafproto.SameClusterReconnectDelay},
		{leafproto.MinVersionErrText("2.16.0"), leafproto.MinVersionReconnectDelay},
		{leafproto.ErrTextDuplicateRemote, leafproto.LoopReconnectDelay}, // leafgate waits rather than flap
		{leafproto.ErrTextAuthViolation, 0},
		{"Something else entirely", 0},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			set, l := startLink(t, router.New(), hub, nil)
			c := hub.up(set)
			c.sync()
			before := time.Now()
			c.sendErr(tc.text)
			c.sync() // the -ERR is read before the hub closes, as a hub sends it
			c.close()
			st := waitDown(t, l, tc.text)
			seen := time.Now()
			if tc.delay > 0 {
				if wait := st.NextAttempt.Sub(before); wait < tc.delay || wait > tc.delay+testWait {
					t.Errorf("next attempt in %v, want %v", wait, tc.delay)
				}
				hub.noConnWithin(100 * time.Millisecond)
				return
			}
			if wait := st.NextAttempt.Sub(seen); wait > l.remote.ReconnectMax {
				t.Errorf("next attempt in %v, more than ReconnectMax %v", wait, l.remote.ReconnectMax)
			}
			hub.accept()
		})
	}
}

// TestProbe: a probe is answered once the hub answered its PING, not
// before; a probe of a session that ended counts as answered (a new
// session is the caller's signal).
func TestProbe(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	set, l := startLink(t, router.New(), hub, nil) // no keepalive pings
	c := hub.up(set)
	c.sync()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitFor("the session's first PING never reached the hub", func() bool { return c.pings.Load() >= 1 })
	answered := set.Probe()
	waitFor("a probe the hub answered never counted", answered)

	c.noPong.Store(true)
	before := c.pings.Load()
	answered = set.Probe()
	waitFor("the probe's PING never reached the hub", func() bool { return c.pings.Load() > before })
	time.Sleep(50 * time.Millisecond)
	if answered() {
		t.Fatal("a probe the hub did not answer counted as answered")
	}
	c.close()
	waitDown(t, l, "")
	waitFor("a probe of an ended session never counted as answered", answered)
	if set.Probe()() != true {
		t.Fatal("a probe with no link up must count as answered: nothing is in flight on one")
	}
}

// TestHalfOpen: a hub that stops reading and answering without closing
// (a black-holed NAT mapping) is noticed by unanswered PINGs, and the link
// reconnects.
func TestHalfOpen(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	set, l := startLink(t, router.New(), hub, func(r *Remote) {
		r.PingInterval = 50 * time.Millisecond
		r.MaxPingsOut = 2
	})
	c := hub.up(set)
	c.sync()
	start := time.Now()
	c.stall()
	waitDown(t, l, "stale")
	// Two unanswered PINGs 50 ms apart; allow a busy machine plenty.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("half-open link noticed after %v", d)
	}
	c2 := hub.accept()
	c2.sendInfo(hub.info())
	c2.expectConnect()
}

// TestInboundTrafficIsLiveness: while the hub keeps sending, the link
// needs no PONG to stay up; once the hub falls silent, the unanswered
// PINGs drop it.
func TestInboundTrafficIsLiveness(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	const interval = 200 * time.Millisecond
	set, l := startLink(t, router.New(), hub, func(r *Remote) {
		r.PingInterval = interval
		r.MaxPingsOut = 2
	})
	c := hub.up(set)
	c.sync()
	c.noPong.Store(true)
	pings := c.pings.Load()
	for end := time.Now().Add(8 * interval); time.Now().Before(end); {
		c.sendMsg("nobody.listens", "", nil, "tick")
		time.Sleep(5 * time.Millisecond)
		if c.closedWithin(0) {
			t.Fatalf("the link dropped a hub that kept sending: %q", l.Status().LastError)
		}
	}
	t.Logf("PINGs while the hub was sending: %d", c.pings.Load()-pings)
	if !l.Status().Connected {
		t.Fatalf("not connected: %q", l.Status().LastError)
	}
	waitDown(t, l, "stale")
}

// TestSlowUplinkIsLiveness: a hub that reads, only slowly, keeps the link
// while the backlog drains, though the PING queued behind it goes
// unanswered for longer than the stale verdict's silence and the batch
// takes longer than the write deadline to go out; once the backlog is out
// and the hub still does not answer, the link is dropped as stale.
//
// The times are in seconds because the kernel, with loopback's large
// segments, lets a blocked writer go only when a good share of its
// megabytes of socket buffer has drained: a fraction of a second here.
func TestSlowUplinkIsLiveness(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	rem := testRemote(hub.url())
	rem.PingInterval = time.Second
	rem.MaxPingsOut = 2 // stale after 3 s of silence
	opts := testOptions(r, rem)
	opts.MaxPending = 32 << 20
	opts.WriteDeadline = 2 * time.Second
	set := startSet(t, opts)
	l := set.Links()[0]
	c := hub.up(set)
	c.sendSub("bulk", "", 0)
	c.sync()
	c.dropMsgs.Store(true)
	c.noPong.Store(true)
	c.readRate.Store(2 << 20)

	// 8 MB: four seconds at the hub's 2 MB/s.
	payload := make([]byte, 16*1024)
	const n = 8 << 20 / (16 * 1024)
	for range n {
		publish(r, "bulk", "", nil, payload)
	}
	start := time.Now()
	for c.msgs.Load() < n {
		st := l.Status()
		if !st.Connected {
			t.Fatalf("a hub reading at 2 MB/s was dropped %v into the drain, with %d of %d messages read: %q",
				time.Since(start).Round(time.Millisecond), c.msgs.Load(), n, st.LastError)
		}
		if st.Dropped != 0 {
			t.Fatalf("%d messages dropped under max_pending", st.Dropped)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d messages read in %v, the link up throughout", n, time.Since(start).Round(time.Millisecond))
	// The drain is over; the hub still answers no PING.
	waitDown(t, l, "stale")
}

// TestSlowUplinkWriteDeadline: the write deadline bounds a write that
// makes no progress, not a batch that takes long to go out: 32 MB to a
// hub that reads 8 MB/s take longer than the write deadline, and the link
// stays. (A deadline of 1 s failed once with three -race test binaries
// sharing two cores: the fake hub's reader went a second without running.)
func TestSlowUplinkWriteDeadline(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	opts := testOptions(r, testRemote(hub.url())) // no pings
	opts.MaxPending = 64 << 20
	opts.WriteDeadline = 3 * time.Second
	set := startSet(t, opts)
	l := set.Links()[0]
	c := hub.up(set)
	c.sendSub("bulk", "", 0)
	c.sync()
	c.dropMsgs.Store(true)
	c.readRate.Store(8 << 20)

	payload := make([]byte, 64*1024)
	const n = 32 << 20 / (64 * 1024)
	for range n {
		publish(r, "bulk", "", nil, payload)
	}
	start := time.Now()
	for c.msgs.Load() < n {
		if st := l.Status(); !st.Connected || st.Dropped != 0 {
			t.Fatalf("%v into the drain, %d of %d messages read: connected %v, dropped %d, %q",
				time.Since(start).Round(time.Millisecond), c.msgs.Load(), n, st.Connected, st.Dropped, st.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d messages read in %v, the link up throughout", n, time.Since(start).Round(time.Millisecond))
}

// TestBackoff: ReconnectDelay doubles per attempt up to ReconnectMax,
// with jitter in [d/2, d].
func TestBackoff(t *testing.T) {
	t.Parallel()
	l := &Link{remote: Remote{ReconnectDelay: 100 * time.Millisecond, ReconnectMax: time.Second}}
	for _, tc := range []struct {
		n int
		d time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{5, time.Second},
		{100, time.Second},
		{1 << 30, time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := l.backoff(tc.n)
			if w < tc.d/2 || w > tc.d {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tc.n, w, tc.d/2, tc.d)
			}
			seen[w] = true
		}
		if len(seen) < 100 {
			t.Errorf("backoff(%d): %d distinct waits in 200, want jitter", tc.n, len(seen))
		}
	}
}

// TestBackoffGrowsAndResets: failed attempts wait longer and longer; a
// session that lasted longer than ReconnectMax starts over from
// ReconnectDelay. Only lower bounds of real time are checked, plus one
// upper bound with half a second to spare.
func TestBackoffGrowsAndResets(t *testing.T) {
	t.Parallel()
	const (
		delay = 5 * time.Millisecond
		capD  = 1200 * time.Millisecond
	)
	hub := newFakeHub(t)
	set, l := startLink(t, router.New(), hub, func(r *Remote) {
		r.ReconnectDelay, r.ReconnectMax = delay, capD
	})
	d := delay
	for i := range 8 {
		c := hub.accept()
		before := time.Now()
		c.close()
		waitFor(t, "the attempt to fail", func() bool { return l.Status().Failures == int64(i+1) })
		if wait := l.Status().NextAttempt.Sub(before); wait < d/2 {
			t.Errorf("failure %d: next attempt in %v, want at least %v", i+1, wait, d/2)
		}
		d = min(2*d, capD)
	}
	// Without a reset the next wait would be at least capD/2: a session
	// that got established, however short, resets it (a hub restart).
	a := answer()
	c, _ := hub.handshake(hub.info(), &a)
	c.expect("LS+ " + set.lds)
	before := time.Now()
	c.close()
	waitFor(t, "the session to end", func() bool { return l.Status().Failures == 9 })
	if wait := l.Status().NextAttempt.Sub(before); wait >= capD/2 {
		t.Errorf("after an established session the next attempt waits %v; the back-off was not reset", wait)
	}
	hub.accept()
}

// TestURLRotation: attempts go through the URLs in turn.
func TestURLRotation(t *testing.T) {
	t.Parallel()
	a, b := newFakeHub(t), newFakeHub(t)
	r := testRemote(a.url(), b.url())
	startSet(t, testOptions(router.New(), r))
	for _, h := range []*fakeHub{a, b, a, b} {
		h.accept().close()
	}
}

// TestDiscoveredURLs: leafnode_urls in the first INFO and in a later
// async INFO join the rotation, with the configured URL's credentials;
// each list replaces the one before.
func TestDiscoveredURLs(t *testing.T) {
	t.Parallel()
	a, b, c := newFakeHub(t), newFakeHub(t), newFakeHub(t)
	u := a.url()
	u.User = url.UserPassword("alice", "pw")
	set := startSet(t, testOptions(router.New(), testRemote(u)))

	info := a.info()
	info.LeafNodeURLs = []string{a.addr(), b.addr()}
	ca := a.accept()
	ca.sendInfo(info)
	ca.expectConnect()
	ca.close()

	ans := answer()
	cb, conn := b.handshake(b.info(), &ans)
	if conn.User != "alice" || conn.Pass != "pw" {
		t.Errorf("CONNECT to a discovered URL: user %q pass %q", conn.User, conn.Pass)
	}
	cb.expect("LS+ " + set.lds)
	// The hub's latest list replaces the discovered part: b is gone, so
	// the rotation is a (configured) then c.
	cb.sendInfo(leafproto.Info{LeafNodeURLs: []string{c.addr()}})
	cb.sync()
	cb.close()

	a.accept().close()
	cc, conn := c.handshake(c.info(), &ans)
	if conn.User != "alice" || conn.Pass != "pw" {
		t.Errorf("CONNECT to a discovered URL: user %q pass %q", conn.User, conn.Pass)
	}
	cc.close()
	a.accept().close()
	c.accept().close()
	b.noConnWithin(100 * time.Millisecond)
}

// TestMaxPending: messages beyond MaxPending are dropped and counted
// while the hub does not read; protocol (LS+, PONG) is never dropped.
func TestMaxPending(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	opts := testOptions(r, testRemote(hub.url()))
	opts.MaxPending = 64 * 1024
	set := startSet(t, opts)
	l := set.Links()[0]
	c := hub.up(set)
	c.sendSub("big", "", 0)
	c.sync()
	c.dropMsgs.Store(true)
	c.stall()

	payload := make([]byte, 8*1024)
	published := int64(0)
	for published < 20000 && l.Status().Dropped < 10 {
		publish(r, "big", "", nil, payload)
		published++
	}
	if l.Status().Dropped == 0 {
		t.Fatalf("nothing dropped after %d messages of %d bytes to a hub that does not read", published, len(payload))
	}
	subscribe(t, r, "proto.check", "", newInbox())
	c.write(leafproto.PingLine)
	c.noPong.Store(false)
	c.resumeReading()
	c.sync()
	c.expect("LS+ proto.check")
	st := l.Status()
	if st.OutMsgs+st.Dropped != published {
		t.Errorf("OutMsgs %d + Dropped %d != %d published", st.OutMsgs, st.Dropped, published)
	}
	if got := c.msgs.Load(); got != st.OutMsgs {
		t.Errorf("the hub got %d messages, OutMsgs is %d", got, st.OutMsgs)
	}
	if !st.Connected {
		t.Errorf("link down: %q", st.LastError)
	}
}

// TestStatus: what Status reports before and while connected.
func TestStatus(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	subscribe(t, r, "a", "", newInbox())
	subscribe(t, r, "b", "q", newInbox())
	subscribe(t, r, "b", "q", newInbox())
	u := hub.url()
	u.User = url.UserPassword("alice", "s3cret")
	set, l := startLink(t, r, hub, func(rem *Remote) { rem.URLs = []*url.URL{u} })

	if st := l.Status(); st.Connected || st.Name != hub.addr() || l.Name() != hub.addr() {
		t.Errorf("before connecting: %+v", st)
	}
	c := hub.up(set)
	c.expectSet("LS+ a", "LS+ b q 2")
	c.sendSub("x", "", 0)
	c.sync()
	waitFor(t, "an RTT from the first PING", func() bool { return l.Status().RTT > 0 })
	publish(r, "x", "", nil, []byte("12345"))
	c.expect("LMSG x 5")
	c.sendHMsg("a", "", nil, testHdr, "abc")
	c.sync()

	st := l.Status()
	wantURL := "nats-leaf://alice:xxxxx@" + hub.addr()
	if !st.Connected || st.Connecting || st.URL != wantURL || st.Since.IsZero() ||
		st.HubServer != "hub-1" || st.HubID != "NHUBSERVERID" || st.HubCluster != "hubcluster" ||
		st.HubDomain != "hubdomain" || st.RemoteAccount != "HUBACC" || st.LastError != "" ||
		!st.NextAttempt.IsZero() {
		t.Errorf("connected status %+v", st)
	}
	if st.LocalInterest != 2 || st.HubSubs != 1 || st.OutMsgs != 1 || st.OutBytes != 5 ||
		st.InMsgs != 1 || st.InBytes != 21 || st.Dropped != 0 || st.Reconnects != 0 {
		t.Errorf("counters %+v", st)
	}
	if strings.Contains(st.URL, "s3cret") {
		t.Errorf("password in status URL %q", st.URL)
	}
	o := l.Describe()
	if o.Kind != "Leafnode" || o.Name != "hub-1" || o.Host != "127.0.0.1" || o.RTT <= 0 || o.Start.IsZero() {
		t.Errorf("Describe() = %+v", o)
	}

	c.close()
	st = waitDown(t, l, "closed by the hub")
	if st.Failures < 1 || st.NextAttempt.IsZero() {
		t.Errorf("after the hub closed: %+v", st)
	}
}

// TestNewValidates: configuration errors name the remote.
func TestNewValidates(t *testing.T) {
	t.Parallel()
	u := func(s string) *url.URL {
		p, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		rem  Remote
		want string
	}{
		{"no url", Remote{}, "no url"},
		{"websocket", Remote{URLs: []*url.URL{u("ws://h:80")}}, "WebSocket"},
		{"scheme", Remote{URLs: []*url.URL{u("http://h:80")}}, "scheme"},
		{"no host", Remote{URLs: []*url.URL{u("nats-leaf:///x")}}, "no host"},
		{"creds and nkey", Remote{URLs: []*url.URL{u("nats://h")}, CredsFile: "x", Nkey: "y"}, "both"},
		{"password redacted", Remote{URLs: []*url.URL{u("http://bob:pw@h")}}, "xxxxx"},
	}
	for _, tc := range tests {
		_, err := New(Options{Router: router.New(), Remotes: []Remote{{URLs: []*url.URL{u("nats://ok")}}, tc.rem}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "remotes[1]") ||
			strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%s: err %v, want one with %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Error("no router: no error")
	}
	s, err := New(Options{Router: router.New(), Remotes: []Remote{
		{URLs: []*url.URL{u("nats://h:1")}}, {URLs: []*url.URL{u("nats://h:1")}}, {Name: "x", URLs: []*url.URL{u("nats://h:2")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range s.Links() {
		names = append(names, l.Name())
	}
	if strings.Join(names, ",") != "h:1,h:1#1,x" {
		t.Errorf("names %q", names)
	}
	s.Close() // never started
}

// TestHubProtocolErrors: a malformed operation from the hub, or a message
// over the local max_payload, ends the session; the hub's interest goes
// with it and the link reconnects.
func TestHubProtocolErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, send, lastErr string }{
		{"unknown operation", "FOO bar\r\n", leafproto.ErrUnknownOp.Error()},
		{"LS+ without subject", "LS+\r\n", leafproto.ErrBadArgs.Error()},
		{"LMSG with a bad size", "LMSG foo x\r\nabc\r\n", leafproto.ErrBadArgs.Error()},
		{"LMSG over max_payload", "LMSG foo 17\r\n12345678901234567\r\n", leafproto.ErrMaxPayload.Error()},
		{"payload not ended by CRLF", "LMSG foo 3\r\nabcd\r\n", leafproto.ErrPayloadEnd.Error()},
		{"CONNECT from the hub", "CONNECT {}\r\n", "CONNECT from the hub"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			r := router.New()
			opts := testOptions(r, testRemote(hub.url()))
			opts.MaxPayload = 16
			set := startSet(t, opts)
			l := set.Links()[0]
			c := hub.up(set)
			c.sendSub("hub.sub", "", 0)
			c.sendMsg("ok", "", nil, "1234567890123456") // exactly max_payload
			c.sync()
			if r.Count() != 1 {
				t.Fatalf("router count %d", r.Count())
			}
			c.write([]byte(tc.send))
			c.waitClosed()
			waitDown(t, l, tc.lastErr)
			if r.Count() != 0 {
				t.Errorf("router count %d after the session", r.Count())
			}
			hub.accept()
		})
	}
}

// TestHubErrKeepsLink: an -ERR the hub does not close after (Maximum
// Subscriptions Exceeded) leaves the link up, as with a nats-server leaf:
// redialing would only hit it again.
func TestHubErrKeepsLink(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	set, l := startLink(t, router.New(), hub, nil)
	c := hub.up(set)
	c.sendErr("Maximum Subscriptions Exceeded")
	c.sync()
	c.sendSub("after.err", "", 0)
	c.sync()
	if st := l.Status(); !st.Connected || st.HubSubs != 1 {
		t.Fatalf("after a non-fatal -ERR: connected %v, hub subscriptions %d", st.Connected, st.HubSubs)
	}
}
