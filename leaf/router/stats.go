package router

// Stats is what the router can report about its subscriptions for
// /subsz. It keeps no per-publish counters (matches, cache hits): counting
// on every publish would cost the hot path, so those are not reported.
type Stats struct {
	Subscriptions int
	Inserts       uint64 // successful Subscribe calls
	Removes       uint64 // successful Unsubscribe calls
	Cache         int    // literal subjects with a cached match result
	MaxFanout     int    // largest plain+queue-group count among cached results
	TotalFanout   int    // sum of plain+queue-group counts over cached results
}

// Stats reports subscription counters and match-cache fanout.
func (r *Router) Stats() Stats {
	ix := r.index.Stats()
	return Stats{
		Subscriptions: ix.Entries,
		Inserts:       r.inserts.Load(),
		Removes:       r.removes.Load(),
		Cache:         ix.Cache,
		MaxFanout:     ix.MaxFanout,
		TotalFanout:   ix.TotalFanout,
	}
}

// Each calls fn for every registered subscription, holding the index's
// read lock: fn must not subscribe, unsubscribe or publish.
func (r *Router) Each(fn func(*Sub)) {
	r.index.Each(func(_, _ string, s *Sub) { fn(s) })
}
