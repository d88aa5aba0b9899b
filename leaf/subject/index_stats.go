package subject

// IndexStats describes an Index for monitoring (nats-server's sublist
// stats, less the per-match counters the Index does not keep).
type IndexStats struct {
	Entries   int // values held
	Cache     int // literal subjects with a cached Result
	MaxFanout int // largest plain+queue-group count among cached Results
	// TotalFanout is the sum of plain+queue-group counts over cached
	// Results; TotalFanout/Cache is nats-server's avg_fanout.
	TotalFanout int
}

// Stats walks the match cache under the read lock. It is for monitoring
// requests, not for hot paths.
func (ix *Index[T]) Stats() IndexStats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := IndexStats{Entries: ix.count, Cache: len(ix.cache)}
	for _, r := range ix.cache {
		n := len(r.Plain) + len(r.Queues)
		st.TotalFanout += n
		st.MaxFanout = max(st.MaxFanout, n)
	}
	return st
}

// Each calls fn for every value with the pattern and queue it was inserted
// under, holding the read lock: fn must not call back into the Index.
func (ix *Index[T]) Each(fn func(pattern, queue string, v T)) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	eachLevel(ix.root, "", fn)
}

func eachLevel[T comparable](l *level[T], prefix string, fn func(pattern, queue string, v T)) {
	if l == nil {
		return
	}
	visit := func(tok string, n *node[T]) {
		p := tok
		if prefix != "" {
			p = prefix + "." + tok
		}
		for _, v := range n.plain {
			fn(p, "", v)
		}
		for q, members := range n.queues {
			for _, v := range members {
				fn(p, q, v)
			}
		}
		eachLevel(n.next, p, fn)
	}
	for tok, n := range l.nodes {
		visit(tok, n)
	}
	if l.pwc != nil {
		visit("*", l.pwc)
	}
	if l.fwc != nil {
		visit(">", l.fwc)
	}
}
