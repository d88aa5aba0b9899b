package router

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// counter is a Receiver that counts deliveries and flushes.
type counter struct {
	msgs    atomic.Int64
	flushes atomic.Int64
	dirty   atomic.Bool
}

func (c *counter) Deliver(*Sub, []byte, []byte, []byte, []byte) bool {
	c.msgs.Add(1)
	return !c.dirty.Swap(true)
}
func (c *counter) Flush() {
	c.flushes.Add(1)
	c.dirty.Store(false)
}

func TestPlainQueueAndEcho(t *testing.T) {
	r := New()
	a, b := &counter{}, &counter{}
	q := []*counter{{}, {}, {}}
	mustSub(t, r, &Sub{Subject: "x.*", Receiver: a})
	mustSub(t, r, &Sub{Subject: "x.y", Receiver: b})
	for _, c := range q {
		mustSub(t, r, &Sub{Subject: "x.>", Queue: "g", Receiver: c})
	}
	pending := &FlushSet{}
	pub := &Publisher{Origin: a, NoEcho: true, Pending: pending}
	for i := 0; i < 300; i++ {
		if n := r.Publish(pub, []byte("x.y"), nil, nil, []byte("m")); n != 2 {
			t.Fatalf("delivered to %d, want 2 (b and one queue member; a is the no-echo origin)", n)
		}
	}
	if a.msgs.Load() != 0 || b.msgs.Load() != 300 {
		t.Fatalf("a=%d b=%d", a.msgs.Load(), b.msgs.Load())
	}
	var total int64
	for i, c := range q {
		n := c.msgs.Load()
		if n < 50 {
			t.Errorf("queue member %d got %d of 300", i, n)
		}
		total += n
	}
	if total != 300 {
		t.Fatalf("queue group got %d, want 300", total)
	}
	// One flush per receiver per batch, not per message.
	if pending.Len() != 4 {
		t.Fatalf("flush set holds %d receivers, want 4", pending.Len())
	}
	pending.Flush()
	if b.flushes.Load() != 1 {
		t.Fatalf("b flushed %d times", b.flushes.Load())
	}
}

func TestAutoUnsubscribeExactUnderConcurrency(t *testing.T) {
	r := New()
	c := &counter{}
	s := &Sub{Subject: "limit", Receiver: c}
	s.SetMax(100)
	mustSub(t, r, s)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r.Publish(&Publisher{}, []byte("limit"), nil, nil, nil)
			}
		}()
	}
	wg.Wait()
	if got := c.msgs.Load(); got != 100 {
		t.Fatalf("delivered %d, want exactly the limit 100", got)
	}
	if r.Count() != 0 {
		t.Fatalf("subscription not removed at its limit")
	}
}

func TestInterestWatchers(t *testing.T) {
	r := New()
	var events []string
	var mu sync.Mutex
	r.Watch(func(subj, queue string, added bool) {
		mu.Lock()
		events = append(events, fmt.Sprintf("%s|%s|%v", subj, queue, added))
		mu.Unlock()
	})
	s1 := &Sub{Subject: "a.>", Receiver: &counter{}}
	s2 := &Sub{Subject: "a.>", Receiver: &counter{}}
	mustSub(t, r, s1)
	mustSub(t, r, s2)
	_ = r.Unsubscribe(s1)
	_ = r.Unsubscribe(s2)
	if err := r.Unsubscribe(s2); err != ErrNotSubscribed {
		t.Fatalf("double unsubscribe: %v", err)
	}
	want := []string{"a.>||true", "a.>||false"}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	if r.HasInterest([]byte("x")) {
		t.Fatal("interest with no subscriptions")
	}
}

func TestSubscribeValidation(t *testing.T) {
	r := New()
	if err := r.Subscribe(&Sub{Subject: "a..b", Receiver: &counter{}}); err == nil {
		t.Fatal("invalid subject accepted")
	}
	if err := r.Subscribe(&Sub{Subject: "a", Queue: "bad queue", Receiver: &counter{}}); err == nil {
		t.Fatal("invalid queue accepted")
	}
	if err := r.Subscribe(&Sub{Subject: "a"}); err == nil {
		t.Fatal("subscription without receiver accepted")
	}
}

func mustSub(t *testing.T, r *Router, s *Sub) {
	t.Helper()
	if err := r.Subscribe(s); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPublishOneSubscriber(b *testing.B) {
	r := New()
	c := &counter{}
	_ = r.Subscribe(&Sub{Subject: "bench.x", Receiver: c})
	pending := &FlushSet{}
	pub := &Publisher{Pending: pending}
	subj, data := []byte("bench.x"), make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		r.Publish(pub, subj, nil, nil, data)
		pending.Flush()
	}
}

// subjRecorder records the subjects it is handed.
type subjRecorder struct{ got []string }

func (r *subjRecorder) Deliver(_ *Sub, subj, _, _, _ []byte) bool {
	r.got = append(r.got, string(subj))
	return false
}
func (r *subjRecorder) Flush() {}

// PublishAs matches on the route but hands over the presented subject.
func TestPublishAs(t *testing.T) {
	r := New()
	inbox, other := &subjRecorder{}, &subjRecorder{}
	mustSub(t, r, &Sub{Subject: "_INBOX.abc", Receiver: inbox})
	mustSub(t, r, &Sub{Subject: "orders.>", Receiver: other})
	if n := r.PublishAs(&Publisher{}, []byte("_INBOX.abc"), []byte("orders.1"), nil, nil, []byte("m")); n != 1 {
		t.Fatalf("delivered to %d, want 1", n)
	}
	if fmt.Sprint(inbox.got) != "[orders.1]" || len(other.got) != 0 {
		t.Fatalf("inbox got %v, orders.> got %v", inbox.got, other.got)
	}
}

// BenchmarkPublishUniqueReplies publishes to a new subject each time, as
// replies to one wildcard inbox are (nats.go's JetStream acks, request
// replies): each is a cache miss.
func BenchmarkPublishUniqueReplies(b *testing.B) {
	r := New()
	c := &counter{}
	_ = r.Subscribe(&Sub{Subject: "_INBOX.abcdef.*", Receiver: c})
	pending := &FlushSet{}
	pub := &Publisher{Pending: pending}
	data := make([]byte, 16)
	subj := []byte("_INBOX.abcdef.")
	n := len(subj)
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		subj = strconv.AppendUint(subj[:n], i, 10)
		r.Publish(pub, subj, nil, nil, data)
		pending.Flush()
	}
}
