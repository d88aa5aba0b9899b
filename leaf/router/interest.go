package router

import (
	"slices"
	"strings"
	"sync"
)

// Interest is one exact (subject, queue) pair of exported interest and its
// weight: 1 for plain subscriptions (however many there are), the number of
// members for a queue group, 0 when the pair went away. It is what a
// leafnode link advertises upstream as LS+ and LS-.
type Interest struct {
	Subject string
	Queue   string
	Weight  int32
}

// exports is the router's exported interest: every subscription that is
// neither Local nor Remote, counted per exact (subject, queue), with the
// feeds that follow it. Its mutex serializes the index change and the
// notification of every exported Subscribe and Unsubscribe, so feeds see
// changes in the order they took effect: a subscribe and an unsubscribe
// racing on two goroutines can never reach a feed reversed.
type exports struct {
	mu     sync.Mutex
	counts map[ikey]int32
	feeds  map[*feed]struct{}
}

type ikey struct{ subject, queue string }

type feed struct{ fn func(Interest) }

// exported reports whether s counts as interest a link advertises.
func (s *Sub) exported() bool { return !s.Local && !s.Remote }

// WatchInterest registers fn to follow the exported interest. fn is first
// called with every current (subject, queue) pair, sorted, and from then
// on with every change, in the order the changes happened: none missed and
// none repeated. fn runs with the router's interest lock held: it must not
// block and must not subscribe or unsubscribe. stop ends the feed; fn is
// not called once stop has returned.
func (r *Router) WatchInterest(fn func(Interest)) (stop func()) {
	e := &r.exp
	e.mu.Lock()
	defer e.mu.Unlock()
	now := make([]Interest, 0, len(e.counts))
	for k, n := range e.counts {
		now = append(now, Interest{Subject: k.subject, Queue: k.queue, Weight: weight(k.queue, n)})
	}
	slices.SortFunc(now, func(a, b Interest) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return strings.Compare(a.Queue, b.Queue)
	})
	for _, in := range now {
		fn(in)
	}
	f := &feed{fn: fn}
	if e.feeds == nil {
		e.feeds = make(map[*feed]struct{})
	}
	e.feeds[f] = struct{}{}
	return func() {
		e.mu.Lock()
		delete(e.feeds, f)
		e.mu.Unlock()
	}
}

// weight is what a link advertises for n exported subscriptions.
func weight(queue string, n int32) int32 {
	if queue == "" && n > 0 {
		return 1
	}
	return n
}

// insert adds an exported subscription to the index and the counts, and
// tells the feeds when the advertised weight changed.
func (e *exports) insert(r *Router, s *Sub) (first bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	first, err = r.index.Insert(s.Subject, s.Queue, s)
	if err != nil {
		return false, err
	}
	k := ikey{s.Subject, s.Queue}
	if e.counts == nil {
		e.counts = make(map[ikey]int32)
	}
	n := e.counts[k] + 1
	e.counts[k] = n
	if s.Queue != "" || n == 1 {
		e.notify(Interest{Subject: s.Subject, Queue: s.Queue, Weight: weight(s.Queue, n)})
	}
	return first, nil
}

// remove is insert's reverse.
func (e *exports) remove(r *Router, s *Sub) (last bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	last, err = r.index.Remove(s.Subject, s.Queue, s)
	if err != nil {
		return false, err
	}
	k := ikey{s.Subject, s.Queue}
	n := e.counts[k] - 1
	if n <= 0 {
		delete(e.counts, k)
		n = 0
	} else {
		e.counts[k] = n
	}
	if s.Queue != "" || n == 0 {
		e.notify(Interest{Subject: s.Subject, Queue: s.Queue, Weight: weight(s.Queue, n)})
	}
	return last, nil
}

func (e *exports) notify(in Interest) {
	for f := range e.feeds {
		f.fn(in)
	}
}
