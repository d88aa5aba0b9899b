package sessstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/leafgate/leafgate/store/msgstore"
)

// A bbolt file never shrinks. Sessions' queues grow while their clients
// are away and drain when they come back; after a long outage the file
// keeps its high-water size, every commit writes the larger free-page
// list, and the disk space stays taken (and, after a full disk, the space
// reserve cannot be filled again). So, as msgstore does, when little is
// live and much is free the committer copies the live data into a fresh
// file and swaps it in.

// compactPolicy says when a file is worth rewriting: at most maxLive bytes
// in use (this bounds the copy, which holds back commits), free at least
// ratio times live, and either at least minFree bytes of free pages or at
// least minPurge free after a commit that deleted a quarter of the file or
// more (sessions deleted, a backlog drained at once).
type compactPolicy struct {
	minFree, maxLive, ratio, minPurge int64
}

var defaultCompactPolicy = compactPolicy{minFree: 64 << 20, maxLive: 32 << 20, ratio: 8, minPurge: 256 << 10}

// refillRetry is how long deletes wait to fill the reserve again after the
// disk was too full for it; compactRetry, how long a failed compaction
// waits before the next try.
const (
	refillRetry  = 5 * time.Second
	compactRetry = time.Minute
)

// maybeCompact runs on the committer after a commit that gave freed bytes
// of pages back, or that needed the reserve (urgent). It reports whether
// it spent the reserve.
func (s *Store) maybeCompact(freed int64, urgent bool) (spent bool) {
	p := s.compact
	if p.minFree <= 0 || (!urgent && time.Since(s.compactFailed) < compactRetry) {
		return false
	}
	st := s.Stats() // published by this commit
	live := st.FileSize - st.FileFree
	switch {
	case st.FileFree < p.minFree && (st.FileFree < p.minPurge || 4*freed < st.FileSize):
		return false
	case live > p.maxLive || st.FileFree < p.ratio*live:
		return false
	}
	err := s.compactNow()
	if err != nil && msgstore.IsNoSpace(err) && s.reserve != nil {
		// The copy is small: spend the reserve, which the old file's
		// space fills again.
		if n, rerr := s.reserve.Release(); rerr == nil && n > 0 {
			spent = true
			s.log.Warn("sessstore: disk full; the space reserve is released for the compacted copy", "file", s.path, "bytes", n)
			err = s.compactNow()
		}
	}
	if err != nil {
		s.compactFailed = time.Now()
		s.log.Warn("sessstore: compaction failed; the file keeps its free pages and it is tried again in a minute",
			"file", s.path, "err", err)
		return spent
	}
	s.statsMu.Lock()
	s.stats.Compacts++
	s.statsMu.Unlock()
	s.publishStats(0, 0)
	s.log.Info("sessstore: compacted a drained file", "file", s.path, "bytes_before", st.FileSize, "live_bytes", live)
	return spent
}

// refillReserve fills the reserve again once deletes or a compaction may
// have given space back. After a failure, deletes try again only every
// refillRetry; force (the reserve was just spent) tries at once.
func (s *Store) refillReserve(force bool) {
	if s.reserve.Held() >= s.reserve.Size() || (!force && time.Since(s.refillFailed) < refillRetry) {
		return
	}
	if err := s.reserve.Refill(); err != nil {
		s.refillFailed = time.Now()
		s.log.Warn("sessstore: the space reserve could not be filled again; delete sessions or free disk space",
			"file", s.path, "held", s.reserve.Held(), "size", s.reserve.Size(), "err", err)
	}
}

// compactNow compacts the file (msgstore.CompactFile). Only the committer
// calls it, so nothing is written meanwhile; readers continue on the old
// file until the swap.
func (s *Store) compactNow() error {
	if err := msgstore.CompactFile(s.path, &s.dbMu, &s.db, openDB); err != nil {
		if errors.Is(err, msgstore.ErrUnavailable) {
			return errUnavailable
		}
		return fmt.Errorf("sessstore: %w", err)
	}
	return nil
}
