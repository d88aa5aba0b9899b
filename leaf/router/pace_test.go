package router

import (
	"sync"
	"testing"
	"time"
)

// fakePacer is a Pacer whose stall the test controls.
type fakePacer struct {
	mu       sync.Mutex
	ch       chan struct{} // nil: not stalled
	progress int64
	stalls   int // Stall calls
	waited   []waitedCall
}

type waitedCall struct {
	ch       <-chan struct{}
	progress int64
}

func (f *fakePacer) Deliver(*Sub, []byte, []byte, []byte, []byte) bool { return true }
func (f *fakePacer) Flush()                                            {}

func (f *fakePacer) Stall() (<-chan struct{}, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalls++
	if f.ch == nil {
		return nil, 0
	}
	return f.ch, f.progress
}

func (f *fakePacer) Waited(ch <-chan struct{}, progress int64) {
	f.mu.Lock()
	f.waited = append(f.waited, waitedCall{ch, progress})
	f.mu.Unlock()
}

func (f *fakePacer) waitedCalls() []waitedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]waitedCall(nil), f.waited...)
}

func stalledPacer(progress int64) *fakePacer {
	return &fakePacer{ch: make(chan struct{}), progress: progress}
}

func TestStallsWaitsUntilDrained(t *testing.T) {
	p := stalledPacer(7)
	var fs FlushSet
	fs.Add(p)
	var s Stalls
	s.Collect(&fs, nil)
	if s.Len() != 1 {
		t.Fatalf("collected %d, want 1", s.Len())
	}
	fs.Flush()
	var drained sync.WaitGroup
	drained.Add(1)
	closedAt := make(chan time.Time, 1)
	go func() {
		defer drained.Done()
		time.Sleep(20 * time.Millisecond)
		closedAt <- time.Now()
		close(p.ch)
	}()
	s.Wait(time.Minute, nil)
	returned := time.Now()
	drained.Wait()
	if at := <-closedAt; returned.Before(at) {
		t.Fatalf("Wait returned %v before the receiver drained", at.Sub(returned))
	}
	if w := p.waitedCalls(); len(w) != 0 {
		t.Fatalf("Waited called for a receiver that drained: %v", w)
	}
	if s.Len() != 0 {
		t.Fatalf("%d stalls left after Wait", s.Len())
	}
}

func TestStallsTimesOutAndReportsProgress(t *testing.T) {
	p := stalledPacer(42)
	var fs FlushSet
	fs.Add(p)
	var s Stalls
	s.Collect(&fs, nil)
	fs.Flush()
	// The receiver moves on while the publisher waits; Waited must get
	// the count from when the wait started.
	p.mu.Lock()
	p.progress = 100
	p.mu.Unlock()
	const max = 30 * time.Millisecond
	start := time.Now()
	s.Wait(max, nil)
	if d := time.Since(start); d < max {
		t.Fatalf("Wait returned after %v, before its %v", d, max)
	}
	w := p.waitedCalls()
	if len(w) != 1 || w[0].ch != p.ch || w[0].progress != 42 {
		t.Fatalf("Waited calls %v, want one on the stall with progress 42", w)
	}
	// Reused for the next batch: the timer is reused too.
	fs.Add(p)
	s.Collect(&fs, nil)
	s.Wait(max, nil)
	if w := p.waitedCalls(); len(w) != 2 || w[1].progress != 100 {
		t.Fatalf("second batch: Waited calls %v, want a second with progress 100", w)
	}
}

// Receivers that are not stalled, not Pacers, or the publisher itself
// are not collected.
func TestStallsCollectSkips(t *testing.T) {
	self := stalledPacer(1)
	calm := &fakePacer{}
	other := stalledPacer(2)
	var fs FlushSet
	for _, r := range []Receiver{self, calm, &counter{}, other} {
		fs.Add(r)
	}
	var s Stalls
	s.Collect(&fs, self)
	if s.Len() != 1 {
		t.Fatalf("collected %d, want only the other stalled receiver", s.Len())
	}
	if self.stalls != 0 {
		t.Fatalf("the publisher's own Stall was called")
	}
	if calm.stalls != 1 {
		t.Fatalf("a calm pacer's Stall called %d times, want 1", calm.stalls)
	}
	s.Wait(0, nil)
	if len(self.waitedCalls()) != 0 || len(other.waitedCalls()) != 1 {
		t.Fatalf("Waited: self %v, other %v", self.waitedCalls(), other.waitedCalls())
	}
}

// Several stalled receivers share one deadline; those that drain are not
// told they were waited for.
func TestStallsSharedDeadline(t *testing.T) {
	slow, quick := stalledPacer(1), stalledPacer(2)
	close(quick.ch)
	var fs FlushSet
	fs.Add(slow)
	fs.Add(quick)
	var s Stalls
	s.Collect(&fs, nil)
	if s.Len() != 2 {
		t.Fatalf("collected %d, want 2", s.Len())
	}
	s.Wait(10*time.Millisecond, nil)
	if len(slow.waitedCalls()) != 1 || len(quick.waitedCalls()) != 0 {
		t.Fatalf("Waited: slow %v, quick %v", slow.waitedCalls(), quick.waitedCalls())
	}
}

func TestStallsCancel(t *testing.T) {
	p := stalledPacer(3)
	var fs FlushSet
	fs.Add(p)
	var s Stalls
	s.Collect(&fs, nil)
	cancel := make(chan struct{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(cancel)
	}()
	done := make(chan struct{})
	go func() {
		s.Wait(time.Minute, cancel)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return when cancelled")
	}
	if w := p.waitedCalls(); len(w) != 0 {
		t.Fatalf("Waited called on a cancelled wait: %v", w)
	}
	if s.Len() != 0 {
		t.Fatalf("%d stalls left after a cancelled Wait", s.Len())
	}
}

func TestFlushSetContains(t *testing.T) {
	a, b := &counter{}, &counter{}
	var fs FlushSet
	fs.Add(a)
	if !fs.Contains(a) || fs.Contains(b) {
		t.Fatal("Contains is wrong before Flush")
	}
	fs.Flush()
	if fs.Contains(a) {
		t.Fatal("Contains after Flush")
	}
}
