package msgstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// A bbolt commit writes before it frees: it copies every page it changes
// and writes the free-page list anew, so even a removal needs free pages,
// and on a full disk a purge fails with "no space left on device" just
// when an operator needs it. A Reserve is a file of zeros whose blocks are
// really allocated, set aside while there is space; a Bolt that cannot
// commit a batch that only removes gives the reserve up and tries again,
// then gives the freed space back (compaction, compact.go) and fills the
// reserve anew.
//
// One Reserve may serve many Bolt files (a JetStream store directory);
// its mutex serialises them. Between Release and Refill another writer on
// the same file system could take the space: the stream layer refuses
// publishes once its disk limit is reached, so in practice only removals
// run then.
type Reserve struct {
	path string
	size int64

	mu   sync.Mutex // guards held and serialises Release/Refill
	held int64      // bytes of the file that are written and synced
}

// reserveChunk is how much Refill writes at a time.
const reserveChunk = 64 << 10

// OpenReserve opens (creating if needed) the reserve file at path and fills
// it up to size bytes. Failing to fill it (a full disk, a file size limit)
// is not an error: the reserve holds what fits, reported by Held, and
// Refill tries again later.
func OpenReserve(path string, size int64) (*Reserve, error) {
	if size <= 0 {
		return nil, fmt.Errorf("msgstore: reserve size %d", size)
	}
	r := &Reserve{path: path, size: size}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		r.held = min(fi.Size(), size)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("msgstore: reserve: %w", err)
	}
	_ = r.Refill()
	return r, nil
}

// Size is the reserve's full size; Held is what it holds now.
func (r *Reserve) Size() int64 { return r.size }

// Held is how many bytes the reserve holds now.
func (r *Reserve) Held() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Release empties the reserve file, returning its blocks to the file
// system, and reports how many bytes it freed.
func (r *Reserve) Release() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	freed := r.held
	if err := os.Truncate(r.path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("msgstore: release reserve: %w", err)
	}
	r.held = 0
	return freed, nil
}

// Refill writes the reserve back up to its size. On a full disk it keeps
// what it could write and returns the error (IsNoSpace reports it).
func (r *Reserve) Refill() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held >= r.size {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("msgstore: refill reserve: %w", err)
	}
	defer f.Close()
	off := r.held
	var werr error
	if allocate(f, off, r.size-off) == nil {
		off = r.size
	} else {
		// No fallocate here, or not room for all of it: write zeros,
		// which also takes what room there is.
		zeros := make([]byte, reserveChunk)
		for off < r.size {
			n, err := f.WriteAt(zeros[:min(int64(len(zeros)), r.size-off)], off)
			off += int64(n)
			if err != nil {
				werr = err
				break
			}
		}
	}
	// Only synced blocks count: a delayed allocation could still fail.
	if err := f.Sync(); err != nil {
		off = r.held
		werr = errors.Join(werr, err)
	}
	if werr != nil {
		// Drop a partial tail so the file never claims blocks it lacks.
		_ = f.Truncate(off)
		r.held = off
		return fmt.Errorf("msgstore: refill reserve: %w", werr)
	}
	r.held = off
	return nil
}

// IsNoSpace reports whether err is the file system being full (or over
// quota).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
