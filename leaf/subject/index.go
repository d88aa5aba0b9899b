package subject

import (
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// Errors returned by Index.
var (
	ErrInvalidSubject = errors.New("invalid subject")
	ErrNotFound       = errors.New("no such entry")
)

// maxCache bounds the match cache; when full, a slice of entries is evicted.
const maxCache = 1024

// Result is what a literal subject matches: plain entries, and queue groups
// merged by name across every matching pattern. A value inserted under two
// patterns that both match appears twice in Plain (NATS delivers once per
// subscription). Results are shared snapshots: never modify one.
type Result[T comparable] struct {
	Plain  []T
	Queues []QueueGroup[T]
}

// QueueGroup is the members of one queue group matching a subject.
type QueueGroup[T comparable] struct {
	Name    string
	Members []T
}

// Index maps subject patterns to values and finds the values whose patterns
// match a literal subject. It is a trie of tokens with a bounded cache of
// match results, safe for concurrent use.
//
// Invariants: mu guards the trie, cache and gen. A cached Result is never
// modified after it is stored; Insert and Remove drop the cache entries
// their pattern matches, so a cached result is always the current answer.
type Index[T comparable] struct {
	mu    sync.RWMutex
	root  *level[T]
	count int
	cache map[string]*Result[T]
	gen   uint64 // bumped by every Insert and Remove

	// seen holds hashes of recently missed subjects. A subject is cached
	// only on its second miss, so one-shot subjects (ack and reply
	// inboxes) neither take the write lock nor evict useful entries.
	seen [seenSlots]atomic.Uint64
	seed maphash.Seed
}

// seenSlots sizes the second-chance filter in front of the cache.
const seenSlots = 4096

type level[T comparable] struct {
	nodes    map[string]*node[T]
	pwc, fwc *node[T]
}

type node[T comparable] struct {
	next   *level[T]
	plain  []T
	queues map[string][]T
}

func (n *node[T]) empty() bool {
	return len(n.plain) == 0 && len(n.queues) == 0 && (n.next == nil || n.next.empty())
}

func (l *level[T]) empty() bool {
	return len(l.nodes) == 0 && l.pwc == nil && l.fwc == nil
}

// NewIndex returns an empty index.
func NewIndex[T comparable]() *Index[T] {
	return &Index[T]{root: &level[T]{}, cache: make(map[string]*Result[T]), seed: maphash.MakeSeed()}
}

// Count is the number of entries.
func (ix *Index[T]) Count() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.count
}

// Insert adds v under (pattern, queue); queue "" is a plain entry. first
// reports whether v is the first entry for this exact (pattern, queue).
func (ix *Index[T]) Insert(pattern, queue string, v T) (first bool, err error) {
	if !ValidPattern([]byte(pattern)) {
		return false, ErrInvalidSubject
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	l := ix.root
	var n *node[T]
	for tok := range strings.SplitSeq(pattern, ".") {
		n = l.child(tok, true)
		if n.next == nil {
			n.next = &level[T]{}
		}
		l = n.next
	}
	if queue == "" {
		first = len(n.plain) == 0
		n.plain = append(n.plain, v)
	} else {
		if n.queues == nil {
			n.queues = make(map[string][]T)
		}
		first = len(n.queues[queue]) == 0
		n.queues[queue] = append(n.queues[queue], v)
	}
	ix.count++
	ix.invalidateLocked(pattern)
	return first, nil
}

// Remove deletes one entry v under (pattern, queue). last reports whether
// no entries remain for this exact (pattern, queue).
func (ix *Index[T]) Remove(pattern, queue string, v T) (last bool, err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	// Walk down remembering the path so empty nodes can be pruned.
	type step struct {
		l   *level[T]
		tok string
	}
	var path []step
	l := ix.root
	var n *node[T]
	for tok := range strings.SplitSeq(pattern, ".") {
		if l == nil {
			return false, ErrNotFound
		}
		n = l.child(tok, false)
		if n == nil {
			return false, ErrNotFound
		}
		path = append(path, step{l, tok})
		l = n.next
	}
	if n == nil {
		return false, ErrNotFound
	}
	if queue == "" {
		var ok bool
		n.plain, ok = removeValue(n.plain, v)
		if !ok {
			return false, ErrNotFound
		}
		last = len(n.plain) == 0
	} else {
		members, ok := removeValue(n.queues[queue], v)
		if !ok {
			return false, ErrNotFound
		}
		if len(members) == 0 {
			delete(n.queues, queue)
			last = true
		} else {
			n.queues[queue] = members
		}
	}
	ix.count--
	// Prune nodes left empty, deepest first.
	for i := len(path) - 1; i >= 0; i-- {
		s := path[i]
		c := s.l.child(s.tok, false)
		if c == nil || !c.empty() {
			break
		}
		s.l.remove(s.tok)
	}
	ix.invalidateLocked(pattern)
	return last, nil
}

// removeValue removes one occurrence of v, keeping order. It copies so
// results already handed out (which may share the backing array) stay
// intact.
func removeValue[T comparable](s []T, v T) ([]T, bool) {
	for i, x := range s {
		if x == v {
			out := make([]T, 0, len(s)-1)
			out = append(out, s[:i]...)
			return append(out, s[i+1:]...), true
		}
	}
	return s, false
}

func (l *level[T]) child(tok string, create bool) *node[T] {
	switch tok {
	case "*":
		if l.pwc == nil && create {
			l.pwc = &node[T]{}
		}
		return l.pwc
	case ">":
		if l.fwc == nil && create {
			l.fwc = &node[T]{}
		}
		return l.fwc
	}
	n := l.nodes[tok]
	if n == nil && create {
		if l.nodes == nil {
			l.nodes = make(map[string]*node[T])
		}
		n = &node[T]{}
		l.nodes[tok] = n
	}
	return n
}

func (l *level[T]) remove(tok string) {
	switch tok {
	case "*":
		l.pwc = nil
	case ">":
		l.fwc = nil
	default:
		delete(l.nodes, tok)
	}
}

// invalidateLocked drops cached results that pattern could change.
func (ix *Index[T]) invalidateLocked(pattern string) {
	ix.gen++
	if IsLiteral([]byte(pattern)) {
		delete(ix.cache, pattern)
		return
	}
	for subj := range ix.cache {
		if Matches(pattern, subj) {
			delete(ix.cache, subj)
		}
	}
}

// Match returns the entries matching the literal subject. The result is a
// shared read-only snapshot. A cache hit does not allocate.
func (ix *Index[T]) Match(subject []byte) *Result[T] {
	ix.mu.RLock()
	if r, ok := ix.cache[string(subject)]; ok {
		ix.mu.RUnlock()
		return r
	}
	gen := ix.gen
	r := ix.matchLocked(subject)
	ix.mu.RUnlock()

	h := maphash.Bytes(ix.seed, subject) | 1 // never 0, the empty slot
	if slot := &ix.seen[h%seenSlots]; slot.Load() != h {
		slot.Store(h)
		return r
	}
	ix.mu.Lock()
	if ix.gen == gen {
		if len(ix.cache) >= maxCache {
			n := 0
			for k := range ix.cache {
				delete(ix.cache, k)
				if n++; n >= maxCache/8 {
					break
				}
			}
		}
		ix.cache[string(subject)] = r
	}
	ix.mu.Unlock()
	return r
}

// matchLocked walks the trie; mu must be held (read).
func (ix *Index[T]) matchLocked(subject []byte) *Result[T] {
	var toks [32][]byte
	tokens := toks[:0]
	start := 0
	for i, b := range subject {
		if b == sep {
			tokens = append(tokens, subject[start:i])
			start = i + 1
		}
	}
	tokens = append(tokens, subject[start:])
	for _, t := range tokens {
		if len(t) == 0 {
			return &Result[T]{} // not a valid subject: matches nothing
		}
	}
	r := &Result[T]{}
	var qidx map[string]int
	collect := func(n *node[T]) {
		r.Plain = append(r.Plain, n.plain...)
		for name, members := range n.queues {
			if qidx == nil {
				qidx = make(map[string]int)
			}
			if i, ok := qidx[name]; ok {
				r.Queues[i].Members = append(r.Queues[i].Members, members...)
				continue
			}
			qidx[name] = len(r.Queues)
			r.Queues = append(r.Queues, QueueGroup[T]{Name: name, Members: append([]T(nil), members...)})
		}
	}
	matchLevel(ix.root, tokens, collect)
	return r
}

// matchLevel visits every node whose pattern matches tokens.
func matchLevel[T comparable](l *level[T], tokens [][]byte, visit func(*node[T])) {
	for i, t := range tokens {
		if l == nil {
			return
		}
		if l.fwc != nil {
			visit(l.fwc)
		}
		if l.pwc != nil {
			if i == len(tokens)-1 {
				visit(l.pwc)
			} else {
				matchLevel(l.pwc.next, tokens[i+1:], visit)
			}
		}
		n := l.nodes[string(t)]
		if n == nil {
			return
		}
		if i == len(tokens)-1 {
			visit(n)
			return
		}
		l = n.next
	}
}
