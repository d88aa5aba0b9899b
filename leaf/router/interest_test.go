package router

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// mirror applies a feed to a map the way a leafnode link keeps the hub's
// view: the snapshot first, then every change.
type mirror struct {
	mu sync.Mutex
	m  map[ikey]int32
	n  int
}

func (m *mirror) apply(in Interest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	if in.Weight == 0 {
		delete(m.m, ikey{in.Subject, in.Queue})
		return
	}
	m.m[ikey{in.Subject, in.Queue}] = in.Weight
}

func watch(r *Router) (*mirror, func()) {
	m := &mirror{m: map[ikey]int32{}}
	return m, r.WatchInterest(m.apply)
}

func TestInterestFeedWeightsAndScopes(t *testing.T) {
	r := New()
	a := &counter{}
	pre := &Sub{Subject: "before", Receiver: a}
	mustSub(t, r, pre)
	m, stop := watch(r)
	defer stop()
	if m.m[ikey{"before", ""}] != 1 {
		t.Fatalf("snapshot lacks the earlier subscription: %v", m.m)
	}
	subs := []*Sub{
		{Subject: "x", Receiver: a},
		{Subject: "x", Receiver: a},
		{Subject: "q.>", Queue: "g", Receiver: a},
		{Subject: "q.>", Queue: "g", Receiver: a},
		{Subject: "q.>", Queue: "g", Receiver: a},
		{Subject: "internal.*", Receiver: a, Local: true},
		{Subject: "from.hub", Receiver: &linkRecorder{}, Remote: true},
		{Subject: "q.>", Queue: "g", Receiver: &linkRecorder{}, Remote: true},
	}
	for _, s := range subs {
		mustSub(t, r, s)
	}
	want := map[ikey]int32{{"before", ""}: 1, {"x", ""}: 1, {"q.>", "g"}: 3}
	if fmt.Sprint(m.m) != fmt.Sprint(want) {
		t.Fatalf("mirror %v, want %v", m.m, want)
	}
	// Plain: one notification for the first and one for the last; a queue
	// group: one per weight change.
	if m.n != 1+1+3 {
		t.Fatalf("%d notifications, want 5 (the snapshot's one, x once, g three times)", m.n)
	}
	for _, s := range subs {
		if err := r.Unsubscribe(s); err != nil {
			t.Fatal(err)
		}
		if s.Subject == "x" && len(m.m) == 3 && m.m[ikey{"x", ""}] == 0 {
			t.Fatal("x withdrawn while a subscription remains")
		}
	}
	if fmt.Sprint(m.m) != fmt.Sprint(map[ikey]int32{{"before", ""}: 1}) {
		t.Fatalf("after unsubscribing: %v", m.m)
	}
	stop()
	mustSub(t, r, &Sub{Subject: "after.stop", Receiver: a})
	if _, ok := m.m[ikey{"after.stop", ""}]; ok {
		t.Fatal("a stopped feed was called")
	}
}

// TestInterestFeedOrderUnderRace subscribes and unsubscribes the same
// subjects from many goroutines while feeds come and go; every feed's
// mirror must end equal to the router's real state, which only holds if
// changes reach feeds in the order they took effect.
func TestInterestFeedOrderUnderRace(t *testing.T) {
	r := New()
	a := &counter{}
	m, stop := watch(r)
	defer stop()
	var wg sync.WaitGroup
	const workers, rounds = 8, 300
	keep := make([][]*Sub, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				subj := fmt.Sprintf("s.%d", i%5)
				q := ""
				if i%3 == 0 {
					q = "g"
				}
				s := &Sub{Subject: subj, Queue: q, Receiver: a}
				mustSub(t, r, s)
				if i%7 == 0 {
					keep[w] = append(keep[w], s)
					continue
				}
				if err := r.Unsubscribe(s); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// A feed that joins mid-way must agree too.
	late := make(chan *mirror, 1)
	go func() {
		lm, _ := watch(r)
		late <- lm
	}()
	wg.Wait()
	lm := <-late
	want := map[ikey]int32{}
	for _, ks := range keep {
		for _, s := range ks {
			want[ikey{s.Subject, s.Queue}]++
		}
	}
	for k, n := range want {
		want[k] = weight(k.queue, n)
	}
	for name, got := range map[string]*mirror{"first": m, "late": lm} {
		if fmt.Sprint(got.m) != fmt.Sprint(want) {
			t.Fatalf("%s feed mirror %v, want %v", name, got.m, want)
		}
	}
}

// linkRecorder is a LinkReceiver that records what each DeliverLink got.
type linkRecorder struct {
	counter
	mu    sync.Mutex
	calls []string
}

func (l *linkRecorder) DeliverLink(_ *Publisher, _, subj, _, _, _ []byte, queues []string) bool {
	l.mu.Lock()
	l.calls = append(l.calls, fmt.Sprintf("%s%q", subj, slices.Sorted(slices.Values(queues))))
	l.mu.Unlock()
	return l.Deliver(nil, subj, nil, nil, nil)
}

func TestQueuePrefersLocalMembers(t *testing.T) {
	r := New()
	local, hub := &counter{}, &linkRecorder{}
	loc := &Sub{Subject: "jobs", Queue: "w", Receiver: local}
	mustSub(t, r, loc)
	mustSub(t, r, &Sub{Subject: "jobs", Queue: "w", Receiver: hub, Remote: true})
	for range 200 {
		if r.Publish(&Publisher{}, []byte("jobs"), nil, nil, []byte("m")) != 1 {
			t.Fatal("not delivered")
		}
	}
	if local.msgs.Load() != 200 || hub.msgs.Load() != 0 {
		t.Fatalf("local %d hub %d: the local member must take all", local.msgs.Load(), hub.msgs.Load())
	}
	// Without a local member the hub's interest takes it.
	if err := r.Unsubscribe(loc); err != nil {
		t.Fatal(err)
	}
	r.Publish(&Publisher{}, []byte("jobs"), nil, nil, []byte("m"))
	if hub.msgs.Load() != 1 {
		t.Fatalf("hub got %d, want 1", hub.msgs.Load())
	}
	// A message from the hub never goes back to it.
	if n := r.Publish(&Publisher{Origin: hub, Link: true, Queues: [][]byte{[]byte("w")}}, []byte("jobs"), nil, nil, []byte("m")); n != 0 {
		t.Fatalf("echoed to the hub: %d", n)
	}
}

func TestLinkMessagesReachOnlyNamedQueues(t *testing.T) {
	r := New()
	plain, g1, g2 := &counter{}, &counter{}, &counter{}
	mustSub(t, r, &Sub{Subject: "a.b", Receiver: plain})
	mustSub(t, r, &Sub{Subject: "a.*", Queue: "g1", Receiver: g1})
	mustSub(t, r, &Sub{Subject: "a.>", Queue: "g2", Receiver: g2})
	link := &counter{}
	for _, tc := range []struct {
		queues [][]byte
		g1, g2 int64 // totals after the publish
	}{
		{nil, 0, 0},
		{[][]byte{[]byte("g2")}, 0, 1},
		{[][]byte{[]byte("g1"), []byte("g2")}, 1, 2},
	} {
		before := g1.msgs.Load() + g2.msgs.Load()
		n := r.Publish(&Publisher{Origin: link, Link: true, Queues: tc.queues}, []byte("a.b"), nil, nil, []byte("m"))
		if got := int64(n) - 1; got != g1.msgs.Load()+g2.msgs.Load()-before {
			t.Fatalf("queues %q: Publish reports %d deliveries, counters differ", tc.queues, n)
		}
		if g1.msgs.Load() != tc.g1 || g2.msgs.Load() != tc.g2 {
			t.Fatalf("queues %q: g1=%d g2=%d, want %d %d", tc.queues, g1.msgs.Load(), g2.msgs.Load(), tc.g1, tc.g2)
		}
	}
	if plain.msgs.Load() != 3 {
		t.Fatalf("plain got %d, want 3", plain.msgs.Load())
	}
}

// TestOneCopyPerLink: a publish matching several of a link's
// subscriptions, plain and queue, reaches the link once, naming the queue
// groups that chose it, so the hub delivers it once to its plain
// subscribers.
func TestOneCopyPerLink(t *testing.T) {
	r := New()
	l1, l2 := &linkRecorder{}, &linkRecorder{}
	for _, s := range []*Sub{
		{Subject: "t.*", Receiver: l1, Remote: true},
		{Subject: "t.>", Receiver: l1, Remote: true},
		{Subject: "t.x", Queue: "a", Receiver: l1, Remote: true},
		{Subject: "t.>", Queue: "b", Receiver: l1, Remote: true},
		{Subject: "t.>", Queue: "c", Receiver: l1, Remote: true},
		{Subject: "t.x", Receiver: l2, Remote: true},
	} {
		mustSub(t, r, s)
	}
	if n := r.Publish(&Publisher{}, []byte("t.x"), nil, nil, []byte("m")); n != 2+3 {
		t.Fatalf("Publish reports %d, want 5 (two links, three queue groups)", n)
	}
	if got := fmt.Sprint(l1.calls); got != `[t.x["a" "b" "c"]]` {
		t.Fatalf("link 1 got %s", got)
	}
	if got := fmt.Sprint(l2.calls); got != `[t.x[]]` {
		t.Fatalf("link 2 got %s", got)
	}
	// From link 1 itself: nothing goes back to it; link 2 gets it.
	r.Publish(&Publisher{Origin: l1, Link: true}, []byte("t.x"), nil, nil, []byte("m"))
	if len(l1.calls) != 1 || len(l2.calls) != 2 {
		t.Fatalf("echo to the origin link: %v / %v", l1.calls, l2.calls)
	}
	if err := r.Subscribe(&Sub{Subject: "z", Receiver: &counter{}, Remote: true}); err == nil {
		t.Fatal("a remote subscription must have a link receiver")
	}
}

// BenchmarkPublishToLink: a message going upstream with a queue group
// allocates nothing.
func BenchmarkPublishToLink(b *testing.B) {
	r := New()
	nop := &nopLink{}
	if err := r.Subscribe(&Sub{Subject: "up.>", Receiver: nop, Remote: true}); err != nil {
		b.Fatal(err)
	}
	if err := r.Subscribe(&Sub{Subject: "up.x", Queue: "w", Receiver: nop, Remote: true}); err != nil {
		b.Fatal(err)
	}
	subj, msg := []byte("up.x"), []byte("hello")
	p := &Publisher{}
	b.ReportAllocs()
	for b.Loop() {
		r.Publish(p, subj, nil, nil, msg)
	}
	if nop.n == 0 || nop.q != 1 {
		b.Fatalf("link got %d messages, %d queues", nop.n, nop.q)
	}
	if a := testing.AllocsPerRun(100, func() { r.Publish(p, subj, nil, nil, msg) }); a != 0 {
		b.Fatalf("%v allocations per upstream publish, want 0", a)
	}
}

type nopLink struct{ n, q int }

func (l *nopLink) Deliver(*Sub, []byte, []byte, []byte, []byte) bool { return false }
func (l *nopLink) Flush()                                            {}
func (l *nopLink) DeliverLink(_ *Publisher, _, _, _, _, _ []byte, queues []string) bool {
	l.n++
	l.q = len(queues)
	return false
}

// Subjects reserved for uplinks reach local subscribers but not the hub,
// except from an Upstream publish, which reaches only the hub.
func TestUpstreamReserved(t *testing.T) {
	r := New()
	local, hub, hubQ := &counter{}, &linkRecorder{}, &linkRecorder{}
	mustSub(t, r, &Sub{Subject: "telemetry.>", Receiver: local})
	mustSub(t, r, &Sub{Subject: "telemetry.>", Receiver: hub, Remote: true})
	mustSub(t, r, &Sub{Subject: "telemetry.>", Queue: "q", Receiver: hubQ, Remote: true})
	mustSub(t, r, &Sub{Subject: "other", Receiver: hub, Remote: true})
	pub := func(p *Publisher, subj string) { r.Publish(p, []byte(subj), nil, nil, []byte("m")) }

	pub(&Publisher{}, "telemetry.a") // before any reservation: everywhere
	if local.msgs.Load() != 1 || hub.msgs.Load() != 1 || hubQ.msgs.Load() != 1 {
		t.Fatalf("unreserved: local %d hub %d queue %d", local.msgs.Load(), hub.msgs.Load(), hubQ.msgs.Load())
	}
	r.ReserveUpstream([]string{"telemetry.>"})
	pub(&Publisher{}, "telemetry.a")
	pub(&Publisher{}, "other")
	if local.msgs.Load() != 2 || hub.msgs.Load() != 2 || hubQ.msgs.Load() != 1 {
		t.Fatalf("reserved: local %d hub %d (one for \"other\") queue %d", local.msgs.Load(), hub.msgs.Load(), hubQ.msgs.Load())
	}
	pub(&Publisher{Upstream: true}, "telemetry.a")
	if local.msgs.Load() != 2 || hub.msgs.Load() != 3 || hubQ.msgs.Load() != 1 {
		t.Fatalf("upstream: local %d hub %d queue %d", local.msgs.Load(), hub.msgs.Load(), hubQ.msgs.Load())
	}
	r.ReserveUpstream(nil)
	pub(&Publisher{}, "telemetry.a")
	if hub.msgs.Load() != 4 {
		t.Fatalf("reservation lifted: hub %d", hub.msgs.Load())
	}
}
