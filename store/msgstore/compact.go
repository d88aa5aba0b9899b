package msgstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A bbolt file never shrinks, and it writes its whole free-page list on
// every commit. After a stream is drained (a backlog forwarded once the
// uplink returns, a purge), the file keeps its high-water size and every
// later commit pays for the list: measured on a 176 MB file emptied of 1M
// messages, commits fell from 3,400/s to 1,460/s. So when little is live
// and much is free, the committer copies the live data into a fresh file
// and swaps it in.

// compactSuffix names the copy being written; OpenBolt removes a leftover
// one (the original is intact until the rename).
const compactSuffix = ".compact"

// compactPolicy says when a file is worth rewriting: at most maxLive bytes
// in use (this bounds the copy, which holds back writes), free at least
// ratio times live, and either at least minFree bytes of free pages or
// at least minPurge free after a commit that removed messages of a quarter
// of the file's size or more (a purge, a big expiry): an operator's purge gives the space back whatever the
// file's size, which matters most on a small disk.
type compactPolicy struct {
	minFree, maxLive, ratio, minPurge int64
}

var defaultCompactPolicy = compactPolicy{minFree: 64 << 20, maxLive: 32 << 20, ratio: 8, minPurge: 256 << 10}

// refillRetry is how long a removal waits to fill the reserve again after
// the disk was too full for it.
const refillRetry = 5 * time.Second

// compactRetry is how long a failed compaction (a full disk, most likely)
// waits before the next try, so commits do not each repeat the copy.
const compactRetry = time.Minute

// SetLogger sets where compactions are reported; the default discards.
// Call it before the first write.
func (b *Bolt) SetLogger(log *slog.Logger) { b.log = log }

// errUnavailable is returned once a failed compaction could not reopen the
// file: every later read and write fails rather than act on a stale view.
var errUnavailable = errors.New("msgstore: store file unavailable after a failed compaction")

// ErrUnavailable is errUnavailable for other packages' files (CompactFile).
var ErrUnavailable = errUnavailable

func openDB(path string) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      2 * time.Second, // another process holds the lock
		FreelistType: bolt.FreelistMapType,
	})
}

// view runs fn in a read transaction on the current file.
func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return errUnavailable
	}
	return b.db.View(fn)
}

// update runs fn in a write transaction on the current file.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return errUnavailable
	}
	return b.db.Update(fn)
}

// FileStats describes the file's pages, for tests and monitoring.
type FileStats struct {
	Size, Free int64 // bytes: the file, and its free pages
	Compacted  int   // compactions since open
}

// FileStats reports the file's size and free space.
func (b *Bolt) FileStats() FileStats {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	fs := FileStats{Compacted: int(b.compactions.Load())}
	if b.db == nil {
		return fs
	}
	st := b.db.Stats()
	fs.Free = int64(st.FreePageN+st.PendingPageN) * int64(b.db.Info().PageSize)
	_ = b.db.View(func(tx *bolt.Tx) error {
		fs.Size = tx.Size()
		return nil
	})
	return fs
}

// maybeCompact runs on the committer after a commit that removed messages
// (freed is the bytes of messages it removed) or that needed the reserve
// (urgent: the disk is full, so the rewrite is not put off after a failure).
// It reports whether it spent the reserve.
func (b *Bolt) maybeCompact(freed int64, urgent bool) (spent bool) {
	p := b.compact
	if p.minFree <= 0 || (!urgent && time.Since(b.compactFailed) < compactRetry) {
		return false
	}
	// Work queues remove on every ack: look at the free-page count (kept
	// by bbolt) before opening a transaction for the file size.
	b.dbMu.RLock()
	db := b.db
	var free int64
	if db != nil {
		st := db.Stats()
		free = int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize)
	}
	b.dbMu.RUnlock()
	if free < p.minFree && (free < p.minPurge || 4*freed < p.minPurge) {
		return false
	}
	fs := b.FileStats()
	live := fs.Size - fs.Free
	if live > p.maxLive || fs.Free < p.ratio*live {
		return false
	}
	if fs.Free < p.minFree && (fs.Free < p.minPurge || 4*freed < fs.Size) {
		return false
	}
	// A failure leaves the original in place (or, at worst, the store
	// unavailable with errUnavailable, which writers see on their next
	// batch).
	err := b.compactNow()
	if err != nil && IsNoSpace(err) && b.reserve != nil {
		// The disk is full, and the copy is small: spend the reserve,
		// which the old file's space then fills again (commit).
		if n, rerr := b.reserve.Release(); rerr == nil && n > 0 {
			spent = true
			b.log.Warn("msgstore: disk full; the space reserve is released for the compacted copy",
				"file", b.path, "bytes", n)
			err = b.compactNow()
		}
	}
	if err != nil {
		b.compactFailed = time.Now()
		b.log.Warn("msgstore: compaction failed; the file keeps its free pages and it is tried again in a minute",
			"file", b.path, "err", err)
		return spent
	}
	b.refreshUsage()
	b.log.Info("msgstore: compacted a drained file", "file", b.path, "bytes_before", fs.Size, "live_bytes", live)
	return spent
}

// SetReserve makes removals that find the disk full spend r (reserve.go).
// Call it before the first write.
func (b *Bolt) SetReserve(r *Reserve) { b.reserve = r }

// refillReserve fills the reserve again once removals or a compaction may
// have given space back; on a disk still full it keeps what it got. After
// a failure, removals (a work queue's acks) try again only every
// refillRetry; force, after the reserve was spent, tries at once.
func (b *Bolt) refillReserve(force bool) {
	if b.reserve.Held() >= b.reserve.Size() || (!force && time.Since(b.refillFailed) < refillRetry) {
		return
	}
	if err := b.reserve.Refill(); err != nil {
		b.refillFailed = time.Now()
		b.log.Warn("msgstore: the space reserve could not be filled again; purge or delete streams to free disk space",
			"file", b.path, "held", b.reserve.Held(), "size", b.reserve.Size(), "err", err)
	}
}

// DiskUsage is, as of the last commit, the disk space the file takes (the
// pages up to its high-water mark: bbolt extends the file sparsely beyond)
// and how much of that is free pages, which later commits fill before the
// file grows. Messages cost more than their bytes here: keys, page slack,
// branch pages, the free-page list.
func (b *Bolt) DiskUsage() (size, free int64) { return b.diskSize.Load(), b.diskFree.Load() }

// refreshUsage recomputes DiskUsage.
func (b *Bolt) refreshUsage() {
	fs := b.FileStats()
	b.diskSize.Store(fs.Size)
	b.diskFree.Store(fs.Free)
}

// compactNow copies the live data into path.compact, then closes the file,
// renames the copy over it and reopens it. Only the committer calls it,
// and it holds writeMu throughout, so nothing is written meanwhile;
// readers continue on the old file until the swap.
func (b *Bolt) compactNow() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	if err := CompactFile(b.path, &b.dbMu, &b.db, openDB); err != nil {
		return fmt.Errorf("msgstore: %w", err)
	}
	b.compactions.Add(1)
	return nil
}

// CompactFile compacts the bbolt file at path that *db has open: it copies
// the live data into path.compact (in 4 MiB transactions, bounding the
// memory the copy needs), closes the file, renames the copy over it
// (syncing the directory) and reopens it with open. The caller makes sure
// nothing writes meanwhile. mu guards *db: readers hold it for reading and
// go on reading the old file until the swap, which CompactFile does
// holding it for writing. Afterwards *db is whichever file is at path —
// the copy, or the untouched original if the rename failed — or nil if it
// could not be reopened. msgstore's stream files and MQTT's session store
// share it.
func CompactFile(path string, mu *sync.RWMutex, db **bolt.DB, open func(string) (*bolt.DB, error)) error {
	tmp := path + compactSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := open(tmp)
	if err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	mu.RLock()
	src := *db
	mu.RUnlock()
	if src == nil {
		dst.Close()
		os.Remove(tmp)
		return errUnavailable
	}
	if err := bolt.Compact(dst, src, 4<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if err := (*db).Close(); err != nil {
		*db = nil
		return fmt.Errorf("compact %s: close: %w", path, err)
	}
	*db = nil
	renameErr := os.Rename(tmp, path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(path))
	} else {
		os.Remove(tmp)
	}
	reopened, err := open(path)
	if err != nil {
		return fmt.Errorf("compact %s: reopen: %w", path, err)
	}
	*db = reopened
	if renameErr != nil {
		return fmt.Errorf("compact %s: %w", path, renameErr)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
