package retain

import "container/heap"

// entry is what the index knows about one key: its retained message, or a
// tombstone saying it was deleted. The message fields (topic, hdr,
// payload, expires) never change once the entry is in the index, so Match
// may read them after releasing the lock; seq, gone and gen are only
// touched under it (a changed message is a new entry).
type entry struct {
	key     string
	topic   []byte
	hdr     []byte // user headers (userHeader), nil when none
	payload []byte
	expires int64 // unix nanoseconds, 0 never

	seq  uint64 // the stream sequence of the message that set this state
	gone bool   // a tombstone: the key was deleted at seq
	gen  uint64 // the last sync generation that saw the key
	hi   int    // position in index.exp, -1 when not there
}

func (e *entry) expired(now int64) bool { return e.expires != 0 && e.expires <= now }

func (e *entry) tombstone() *entry {
	return &entry{key: e.key, topic: e.topic, seq: e.seq, gen: e.gen, gone: true, hi: -1}
}

// index is the retained messages, kept current from two sources:
//
//   - the watch: the bucket's consumer delivers every stored message in
//     stream order (last value per key first, then each new one), from
//     Set and from NATS applications alike;
//   - the PubAck of a Set, so the message is matched as soon as Set
//     reports it stored, whether or not the watch has delivered it yet.
//
// The stream sequence orders them: a state replaces the key's current
// state only if its sequence is higher. Deletes the watch has not yet
// passed stay as tombstones, so an older message still on its way (a
// delivery queued before the delete was acknowledged) cannot bring the
// key back; once the watch's position (seen) passes a tombstone it is
// dropped, since nothing older can arrive after it.
//
// An index is not safe for concurrent use; Store.mu guards it.
type index struct {
	byKey map[string]*entry
	trie  trie // live (not gone) entries by topic
	live  int
	seen  uint64 // the highest stream sequence the watch has delivered
	gen   uint64 // the current sync generation (see endSync)
	tombs []*entry
	exp   expiries
}

func newIndex() index { return index{byKey: make(map[string]*entry)} }

// fromWatch applies a state the watch delivered.
func (ix *index) fromWatch(e *entry, now int64) {
	ix.seen = max(ix.seen, e.seq)
	cur := ix.byKey[e.key]
	if cur != nil {
		cur.gen = ix.gen
		if e.seq <= cur.seq {
			return
		}
	}
	e.gen = ix.gen
	ix.set(cur, e, now)
}

// fromAck applies the state a Set stored, once JetStream acknowledged it
// with e.seq. With no entry for the key and the watch already past e.seq,
// the watch has delivered this or a later state of the key and found it
// deleted: e is stale.
func (ix *index) fromAck(e *entry, now int64) {
	cur := ix.byKey[e.key]
	if cur != nil && e.seq <= cur.seq || cur == nil && e.seq <= ix.seen {
		return
	}
	e.gen = ix.gen
	ix.set(cur, e, now)
}

// set makes e the key's state in place of cur. An expired message is
// stored as the tombstone it is; a tombstone the watch has passed is not
// stored at all.
func (ix *index) set(cur, e *entry, now int64) {
	if !e.gone && e.expired(now) {
		e = e.tombstone()
	}
	if cur != nil && !cur.gone {
		ix.live--
		if e.gone {
			ix.trie.remove(cur.topic)
		}
		ix.unexpire(cur)
	}
	if e.gone {
		if e.seq <= ix.seen {
			delete(ix.byKey, e.key)
			return
		}
		ix.byKey[e.key] = e
		ix.tombs = append(ix.tombs, e)
		return
	}
	ix.byKey[e.key] = e
	ix.trie.put(e)
	ix.live++
	if e.expires != 0 {
		heap.Push(&ix.exp, e)
	}
}

// unexpire takes e off the expiry heap.
func (ix *index) unexpire(e *entry) {
	if e.hi >= 0 && e.hi < len(ix.exp) && ix.exp[e.hi] == e {
		heap.Remove(&ix.exp, e.hi)
	}
}

// remove forgets the key of cur, its current state.
func (ix *index) remove(cur *entry) {
	if !cur.gone {
		ix.live--
		ix.trie.remove(cur.topic)
		ix.unexpire(cur)
	}
	delete(ix.byKey, cur.key)
}

// pruneTombs drops the tombstones the watch has passed.
func (ix *index) pruneTombs() {
	keep := ix.tombs[:0]
	for _, t := range ix.tombs {
		switch {
		case ix.byKey[t.key] != t:
			// Replaced already.
		case t.seq <= ix.seen:
			delete(ix.byKey, t.key)
		default:
			keep = append(keep, t)
		}
	}
	clear(ix.tombs[len(keep):])
	ix.tombs = keep
}

// expire turns messages whose time has come into tombstones and returns
// when the next one expires (0: none).
func (ix *index) expire(now int64) (next int64) {
	for ix.exp.Len() > 0 {
		e := ix.exp[0]
		if !e.expired(now) {
			return e.expires
		}
		ix.set(e, e.tombstone(), now) // takes e off the heap
	}
	return 0
}

// nextExpiry is when the next message expires (0: none).
func (ix *index) nextExpiry() int64 {
	if ix.exp.Len() == 0 {
		return 0
	}
	return ix.exp[0].expires
}

// startSync begins a new sync generation: a new watch that delivers the
// bucket's current state from the start.
func (ix *index) startSync() { ix.gen++ }

// endSync ends a sync: the watch has delivered the bucket's whole state,
// so a key it did not deliver (and no Set stored meanwhile) was deleted
// while the index was not watching.
func (ix *index) endSync() {
	for _, e := range ix.byKey {
		if e.gen < ix.gen {
			ix.remove(e)
		}
	}
}

// expiries is a min-heap of the live entries that expire, by expiry
// time; each knows its position (entry.hi) so a replaced one leaves at
// once.
type expiries []*entry

func (h expiries) Len() int           { return len(h) }
func (h expiries) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiries) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}
func (h *expiries) Push(x any) {
	e := x.(*entry)
	e.hi = len(*h)
	*h = append(*h, e)
}
func (h *expiries) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.hi = -1
	*h = old[:len(old)-1]
	return e
}
