package leafnode

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/router"
)

// TestInterestSnapshotThenChanges: the hub first gets the loop-detection
// subject and every local subscription made before the link came up,
// then each change in order; queue groups carry their member count;
// Local and Remote subscriptions are never advertised.
func TestInterestSnapshotThenChanges(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	inb := newInbox()
	a := subscribe(t, r, "a", "", inb)
	subscribe(t, r, "b.*", "", inb)
	var q []*router.Sub
	for range 3 {
		q = append(q, subscribe(t, r, "q.subj", "g", inb))
	}
	local := &router.Sub{Subject: "local.only", Receiver: inb, Local: true}
	remote := &router.Sub{Subject: "remote.only", Receiver: &linkInbox{}, Remote: true}
	for _, s := range []*router.Sub{local, remote} {
		if err := r.Subscribe(s); err != nil {
			t.Fatal(err)
		}
	}

	set, _ := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.expectSet("LS+ a", "LS+ b.*", "LS+ q.subj g 3")
	c.sync()
	c.expectNone()

	steps := []struct {
		do   func()
		want []string
	}{
		{func() { subscribe(t, r, "c", "", inb) }, []string{"LS+ c"}},
		{func() { a2 := subscribe(t, r, "a", "", inb); unsubscribe(t, r, a2) }, nil}, // a stays at weight 1
		{func() { unsubscribe(t, r, a) }, []string{"LS- a"}},
		{func() { unsubscribe(t, r, q[0]) }, []string{"LS+ q.subj g 2"}},
		{func() { unsubscribe(t, r, q[1]) }, []string{"LS+ q.subj g 1"}},
		{func() { subscribe(t, r, "q.subj", "h", inb) }, []string{"LS+ q.subj h 1"}},
		{func() { unsubscribe(t, r, q[2]) }, []string{"LS- q.subj g"}},
		{func() {
			for _, s := range []*router.Sub{
				{Subject: "local.y", Receiver: inb, Local: true},
				{Subject: "remote.y", Receiver: &linkInbox{}, Remote: true},
				{Subject: "remote.q", Queue: "g", Receiver: &linkInbox{}, Remote: true},
			} {
				if err := r.Subscribe(s); err != nil {
					t.Fatal(err)
				}
			}
		}, nil},
		{func() {
			for _, s := range []*router.Sub{local, remote} {
				unsubscribe(t, r, s)
			}
		}, nil},
	}
	for i, st := range steps {
		st.do()
		c.expect(st.want...)
		c.sync()
		c.expectNone()
		if t.Failed() {
			t.Fatalf("step %d", i)
		}
	}
}

// TestInterestChurnOrdered: subscribes and unsubscribes racing on several
// goroutines reach the hub in the order they took effect, so the hub's
// view ends equal to the router's.
func TestInterestChurnOrdered(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, _ := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.sync()

	const workers, steps = 4, 150
	subjects := []string{"s.0", "s.1", "s.2", "s.3"}
	queues := []string{"", "", "g", "h"}
	var mu sync.Mutex
	live := map[*router.Sub]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []*router.Sub
			inb := newInbox()
			for range steps {
				if len(mine) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(mine))
					s := mine[i]
					mine = slices.Delete(mine, i, i+1)
					if err := r.Unsubscribe(s); err != nil {
						t.Error(err)
					}
					mu.Lock()
					delete(live, s)
					mu.Unlock()
					continue
				}
				s := &router.Sub{Subject: subjects[rng.IntN(len(subjects))], Queue: queues[rng.IntN(len(queues))], Receiver: inb}
				if err := r.Subscribe(s); err != nil {
					t.Error(err)
				}
				mine = append(mine, s)
				mu.Lock()
				live[s] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c.sync()

	want := map[string]int32{}
	for s := range live {
		k := s.Subject + " " + s.Queue
		if s.Queue == "" {
			want[k] = 1
		} else {
			want[k]++
		}
	}
	got := map[string]int32{}
	for {
		var op hubOp
		select {
		case op = <-c.ops:
		default:
		}
		if op.Op == "" {
			break
		}
		k := op.Subject + " " + op.Queue
		switch op.Op {
		case "LS+":
			got[k] = max(op.Weight, 1)
		case "LS-":
			if _, ok := got[k]; !ok {
				t.Errorf("LS- %q without LS+ before it", k)
			}
			delete(got, k)
		default:
			t.Fatalf("unexpected %q", op)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("hub interest %v, router interest %v", got, want)
	}
}

// TestInterestResentOnReconnect: a new session advertises the whole
// current interest, including what changed while the link was down, and
// nothing that went away meanwhile; a change during the handshake is
// advertised once.
func TestInterestResentOnReconnect(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	inb := newInbox()
	subscribe(t, r, "a", "", inb)
	b := subscribe(t, r, "b", "", inb)
	q1 := subscribe(t, r, "q", "g", inb)
	subscribe(t, r, "q", "g", inb)
	set, l := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.expectSet("LS+ a", "LS+ b", "LS+ q g 2")
	c.sync()

	c.close()
	waitDown(t, l, "closed by the hub")
	unsubscribe(t, r, b)
	unsubscribe(t, r, q1)
	subscribe(t, r, "c", "", inb)

	c = hub.accept()
	c.sendInfo(hub.info())
	c.expectConnect()
	// Between CONNECT and the hub's answer.
	d := subscribe(t, r, "d", "", inb)
	c.sendInfo(answer())
	c.expect("LS+ " + set.lds)
	c.expectSet("LS+ a", "LS+ c", "LS+ d", "LS+ q g 1")
	c.sync()
	c.expectNone()
	unsubscribe(t, r, d)
	c.expect("LS- d")
}

// TestInterestPermissions: what the hub's import permissions, the
// remote's deny_imports and nats-server's JetStream denies forbid is never
// advertised, neither in the snapshot nor as a change.
func TestInterestPermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      func(*Options)
		rem       func(*Remote)
		answer    func(*leafproto.Info) // nil answer: an old hub
		oldHub    bool
		shown     []string
		notShown  []string
		queueSubs map[string]bool // "subject queue" -> shown
	}{
		{
			name:     "hub import allow",
			answer:   func(i *leafproto.Info) { i.Import = &leafproto.SubjectPermission{Allow: []string{"allowed.>"}} },
			shown:    []string{"allowed.x", "allowed.>"},
			notShown: []string{"other.y", ">"},
		},
		{
			name:     "hub import deny",
			answer:   func(i *leafproto.Info) { i.Import = &leafproto.SubjectPermission{Deny: []string{"secret.>"}} },
			shown:    []string{"open.x", "secretx"},
			notShown: []string{"secret.x", "secret.>"},
		},
		{
			name:      "hub import queue permission",
			answer:    func(i *leafproto.Info) { i.Import = &leafproto.SubjectPermission{Allow: []string{"work.> workers"}} },
			queueSubs: map[string]bool{"work.a workers": true, "work.a others": false},
		},
		{
			name: "deny_imports, hub answer with permissions",
			rem:  func(r *Remote) { r.DenyImports = []string{"private.>"} },
			answer: func(i *leafproto.Info) {
				i.Export = &leafproto.SubjectPermission{Deny: []string{"x"}}
			},
			shown:    []string{"public.x"},
			notShown: []string{"private.x"},
		},
		{
			name:     "deny_imports, hub answer without permissions",
			rem:      func(r *Remote) { r.DenyImports = []string{"private.>"} },
			answer:   func(*leafproto.Info) {},
			shown:    []string{"public.x"},
			notShown: []string{"private.x"},
		},
		{
			name:     "deny_imports, old hub",
			rem:      func(r *Remote) { r.DenyImports = []string{"private.>"} },
			oldHub:   true,
			shown:    []string{"public.x"},
			notShown: []string{"private.x"},
		},
		{
			name:   "JetStream denies",
			opts:   func(o *Options) { o.Domain, o.JetStream = "edge", true },
			answer: func(*leafproto.Info) {},
			// The local domain's API is what the hub uses to reach the
			// gateway's JetStream.
			shown:    []string{"$JS.edge.API.>", "$JS.edge.API.STREAM.INFO.s", "$JS.ACK.s.>"},
			notShown: []string{"$JS.API.>", "$JS.API.STREAM.INFO.s", "$KV.>", "$KV.bucket.>", "$OBJ.b.>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			r := router.New()
			inb := newInbox()
			type entry struct {
				subj, queue string
				shown       bool
			}
			var all []entry
			for _, s := range tc.shown {
				all = append(all, entry{s, "", true})
			}
			for _, s := range tc.notShown {
				all = append(all, entry{s, "", false})
			}
			for k, shown := range tc.queueSubs {
				var subj, q string
				fmt.Sscan(k, &subj, &q)
				all = append(all, entry{subj, q, shown})
			}
			wire := func(e entry, plus bool) string {
				switch {
				case plus && e.queue != "":
					return "LS+ " + e.subj + " " + e.queue + " 1"
				case plus:
					return "LS+ " + e.subj
				case e.queue != "":
					return "LS- " + e.subj + " " + e.queue
				}
				return "LS- " + e.subj
			}
			subs := map[entry]*router.Sub{}
			var want []string
			for _, e := range all {
				subs[e] = subscribe(t, r, e.subj, e.queue, inb)
				if e.shown {
					want = append(want, wire(e, true))
				}
			}
			rem := testRemote(hub.url())
			if tc.rem != nil {
				tc.rem(&rem)
			}
			opts := testOptions(r, rem)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			set := startSet(t, opts)
			info := hub.info()
			var c *hubConn
			if tc.oldHub {
				info.InfoOnConnect = false
				c, _ = hub.handshake(info, nil)
			} else {
				a := answer()
				tc.answer(&a)
				c, _ = hub.handshake(info, &a)
			}
			c.expect("LS+ " + set.lds)
			c.expectSet(want...)
			c.sync()
			c.expectNone()

			// The same as changes.
			for _, e := range all {
				unsubscribe(t, r, subs[e])
				subs[e] = subscribe(t, r, e.subj, e.queue, inb)
				if e.shown {
					c.expect(wire(e, false), wire(e, true))
				}
				c.sync()
				c.expectNone()
			}
		})
	}
}

// TestSettledHubInterest: Remote.Settled gets, once per session, the
// hub's plain literal interest as it stood when the hub answered the
// session's first PING; what comes after is not reported again.
func TestSettledHubInterest(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	got := make(chan []string, 4)
	set, l := startLink(t, router.New(), hub, func(r *Remote) {
		r.Settled = func(_ string, subs []string) { got <- subs }
	})
	for session := 0; session < 2; session++ {
		c := hub.accept()
		c.noPong.Store(true) // the first PING waits for the interest below
		c.sendInfo(hub.info())
		c.expectConnect()
		c.sendInfo(answer())
		c.expect("LS+ " + set.lds)
		c.sendSub("$JSC.R.abc", "", 0)
		c.sendSub("foo", "", 0)
		c.sendSub("work", "q", 1)
		c.sendSub("bar.*", "", 0)
		select {
		case subs := <-got:
			t.Fatalf("Settled before the PONG: %q", subs)
		case <-time.After(50 * time.Millisecond):
		}
		c.write(leafproto.PongLine)
		c.noPong.Store(false)
		select {
		case subs := <-got:
			if want := []string{"$JSC.R.abc", "foo"}; !slices.Equal(subs, want) {
				t.Fatalf("session %d: Settled got %q, want %q", session, subs, want)
			}
		case <-time.After(testWait):
			t.Fatalf("session %d: Settled not called", session)
		}
		c.sendSub("later", "", 0)
		c.sync() // the leaf's own PINGs are answered now
		c.write(leafproto.PongLine)
		c.sync()
		select {
		case subs := <-got:
			t.Fatalf("session %d: Settled again: %q", session, subs)
		default:
		}
		c.close()
		waitDown(t, l, "closed by the hub")
	}
}
