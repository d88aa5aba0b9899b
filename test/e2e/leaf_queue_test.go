package e2e

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// Queue groups across the leafnode link.

// drain reads every message sub has within leafQuiet after the last one,
// and returns their data.
func drainData(t *testing.T, sub *nats.Subscription) []string {
	t.Helper()
	var got []string
	for {
		m, err := sub.NextMsg(leafQuiet)
		if err != nil {
			return got
		}
		got = append(got, string(m.Data))
	}
}

// waitCount waits until the subscriptions together have n messages
// pending, then checks that none has more than it should.
func waitPending(t *testing.T, n int, subs ...*nats.Subscription) {
	t.Helper()
	hub.Until(t, leafWait, func() string {
		total := 0
		for _, s := range subs {
			p, _, _ := s.Pending()
			total += p
		}
		if total < n {
			return fmt.Sprintf("%d of %d messages arrived", total, n)
		}
		return ""
	})
}

// checkOnce checks that msgs ("0".."n-1") hold each of n messages exactly
// once.
func checkOnce(t *testing.T, what string, n int, msgs ...[]string) {
	t.Helper()
	seen := map[string]int{}
	for _, list := range msgs {
		for _, m := range list {
			seen[m]++
		}
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("%s: message %d arrived %d times, want once", what, i, c)
		}
		delete(seen, fmt.Sprint(i))
	}
	if len(seen) > 0 {
		t.Errorf("%s: unexpected messages %v", what, seen)
	}
}

// A publish at the edge goes to a local member of a queue group even
// though the hub has members of the same group: leafgate knows of the
// hub's members (they would get the messages if the edge had none), and
// prefers its own, as nats-server prefers local members over a leaf's.
func TestLeafQueueLocalPreferred(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	hq := queueSync(t, hc, "q.pref", "workers")
	e.waitHubInterest(t, "q.pref", 1)
	eq := queueSync(t, ec, "q.pref", "workers")
	h.WaitInterest(t, leafWait, "q.pref")

	const n = 50
	for i := range n {
		publish(t, ec, "q.pref", fmt.Sprint(i))
	}
	flush(t, ec)
	waitPending(t, n, eq)
	checkOnce(t, "edge member", n, drainData(t, eq))
	if got := drainData(t, hq); len(got) != 0 {
		t.Fatalf("the hub's member got %d of the edge's publishes while a local member was there", len(got))
	}

	// With the edge member gone, the hub's member gets them: the hub's
	// interest was there all along.
	if err := eq.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)
	for i := range n {
		publish(t, ec, "q.pref", fmt.Sprint(i))
	}
	flush(t, ec)
	waitPending(t, n, hq)
	checkOnce(t, "hub member after the edge's left", n, drainData(t, hq))
}

// Messages from the hub to a queue group whose members are all at the
// edge reach exactly one edge member each, and all of them arrive.
func TestLeafQueueEdgeMembersOnly(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc := h.Connect(t)
	e1, e2 := e.connect(t), e.connect(t)
	m1 := queueSync(t, e1, "q.edge", "g")
	m2 := queueSync(t, e2, "q.edge", "g")
	plain := subSync(t, e1, "q.edge")
	h.WaitInterest(t, leafWait, "q.edge")
	// Both the group (weight 2) and the plain subscription are interest.
	hub.Until(t, leafWait, func() string {
		n := 0
		for _, s := range h.LeafSubjects() {
			if s == "q.edge" {
				n++
			}
		}
		if n != 2 {
			return fmt.Sprintf("hub holds q.edge %d times, want 2 (the group and the plain subscription)", n)
		}
		return ""
	})

	const n = 100
	for i := range n {
		publish(t, hc, "q.edge", fmt.Sprint(i))
	}
	flush(t, hc)
	waitPending(t, 2*n, m1, m2, plain)
	g1, g2 := drainData(t, m1), drainData(t, m2)
	checkOnce(t, "queue group at the edge", n, g1, g2)
	checkOnce(t, "plain subscription at the edge", n, drainData(t, plain))
	t.Logf("edge members got %d and %d", len(g1), len(g2))
}

// A publish at the edge reaches the hub once per hub subscriber when the
// hub has plain and queue interest on the subject: each plain subscriber
// gets every message once, and each message goes to one member of each
// group.
func TestLeafQueueMixedInterestAtHub(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, hc2, ec := h.Connect(t), h.Connect(t), e.connect(t)
	p1 := subSync(t, hc, "mix.x")
	p2 := subSync(t, hc2, "mix.*")
	a1 := queueSync(t, hc, "mix.x", "a")
	a2 := queueSync(t, hc2, "mix.x", "a")
	b1 := queueSync(t, hc2, "mix.>", "b")
	e.waitHubInterest(t, "mix.x", 4) // mix.x, mix.*, mix.x a, mix.> b

	const n = 60
	for i := range n {
		publish(t, ec, "mix.x", fmt.Sprint(i))
	}
	flush(t, ec)
	waitPending(t, 4*n, p1, p2, a1, a2, b1)
	checkOnce(t, "plain mix.x", n, drainData(t, p1))
	checkOnce(t, "plain mix.*", n, drainData(t, p2))
	checkOnce(t, "group a", n, drainData(t, a1), drainData(t, a2))
	checkOnce(t, "group b", n, drainData(t, b1))
}
