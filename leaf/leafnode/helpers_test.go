package leafnode

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
)

// TestMain fails the package when a link goroutine outlives the tests:
// every test closes its links, and Close must leave nothing running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := waitNoLinkGoroutines(testWait); left != "" {
			fmt.Fprintf(os.Stderr, "leafnode goroutines still running after all tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// linkGoroutines are the stacks of goroutines running this package's
// production code (not its tests, not the fake hub).
func linkGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "leafnode.TestMain") {
			continue // a test's own goroutine, maybe inside Close
		}
		for _, line := range strings.Split(g, "\n") {
			line = strings.TrimSpace(line)
			if strings.Contains(line, "/leaf/leafnode/") && strings.Contains(line, ".go:") &&
				!strings.Contains(line, "_test.go:") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// waitNoLinkGoroutines waits up to d for linkGoroutines to be empty and
// returns the stacks left, or "".
func waitNoLinkGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		left := linkGoroutines()
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testRemote is a remote with timeouts fit for tests: the waits that are
// not under test are long (they are never reached), reconnecting is quick.
func testRemote(urls ...*url.URL) Remote {
	return Remote{
		URLs:             urls,
		NoRandomize:      true,
		DialTimeout:      testWait,
		FirstInfoTimeout: testWait,
		ConnectTimeout:   testWait,
		ReconnectDelay:   5 * time.Millisecond,
		ReconnectMax:     20 * time.Millisecond,
		PingInterval:     time.Hour,
	}
}

func testOptions(r *router.Router, remotes ...Remote) Options {
	return Options{
		Router:     r,
		ServerID:   "NEDGESERVERID",
		ServerName: "edge-1",
		Version:    "2.15.2",
		MaxPayload: 1 << 20,
		Remotes:    remotes,
	}
}

// startSet makes and starts the links of opts, closed when the test ends.
func startSet(t testing.TB, opts Options) *Set {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// startLink starts one link to hub with remote modified by mod (if any).
func startLink(t testing.TB, r *router.Router, hub *fakeHub, mod func(*Remote)) (*Set, *Link) {
	t.Helper()
	rem := testRemote(hub.url())
	if mod != nil {
		mod(&rem)
	}
	s := startSet(t, testOptions(r, rem))
	return s, s.Links()[0]
}

// waitFor polls cond until it holds, failing the test after testWait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitDown waits until the link reports an error containing text and is
// not connected, and returns its status.
func waitDown(t testing.TB, l *Link, text string) Status {
	t.Helper()
	var st Status
	waitFor(t, fmt.Sprintf("link down with %q", text), func() bool {
		st = l.Status()
		return !st.Connected && strings.Contains(st.LastError, text)
	})
	return st
}

// delivery is one message a local subscriber got.
type delivery struct {
	subject, reply string
	hdr, payload   []byte
}

func (d delivery) String() string {
	return fmt.Sprintf("%s reply=%q hdr=%q payload=%q", d.subject, d.reply, d.hdr, d.payload)
}

// inbox is a local subscriber: a router.Receiver that queues copies.
type inbox struct{ ch chan delivery }

func newInbox() *inbox { return &inbox{ch: make(chan delivery, 1024)} }

func (b *inbox) Deliver(_ *router.Sub, subj, reply, hdr, payload []byte) bool {
	b.ch <- delivery{string(subj), string(reply), bytes.Clone(hdr), bytes.Clone(payload)}
	return false
}

func (b *inbox) Flush() {}

func (b *inbox) next(t testing.TB) delivery {
	t.Helper()
	select {
	case d := <-b.ch:
		return d
	case <-time.After(testWait):
		t.Fatal("no message for the local subscriber")
	}
	return delivery{}
}

func (b *inbox) expectNone(t testing.TB) {
	t.Helper()
	select {
	case d := <-b.ch:
		t.Fatalf("unexpected message for the local subscriber: %s", d)
	default:
	}
}

// linkInbox is a router.LinkReceiver that is not a leafnode link, for
// Remote subscriptions the test makes itself.
type linkInbox struct{ inbox }

func (b *linkInbox) DeliverLink(_ *router.Publisher, _, subj, reply, hdr, payload []byte, _ []string) bool {
	return b.Deliver(nil, subj, reply, hdr, payload)
}

// subscribe makes a local subscription, removed when the test ends if
// still there.
func subscribe(t testing.TB, r *router.Router, subj, queue string, rcv router.Receiver) *router.Sub {
	t.Helper()
	s := &router.Sub{Subject: subj, Queue: queue, Receiver: rcv}
	if err := r.Subscribe(s); err != nil {
		t.Fatalf("subscribe %q %q: %v", subj, queue, err)
	}
	return s
}

func unsubscribe(t testing.TB, r *router.Router, s *router.Sub) {
	t.Helper()
	if err := r.Unsubscribe(s); err != nil {
		t.Fatalf("unsubscribe %q %q: %v", s.Subject, s.Queue, err)
	}
}

// publish publishes as an anonymous local client.
func publish(r *router.Router, subj, reply string, hdr, payload []byte) {
	r.Publish(&router.Publisher{}, []byte(subj), []byte(reply), hdr, payload)
}
