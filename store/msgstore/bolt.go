package msgstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/leafgate/leafgate/leaf/subject"
)

// Bolt is one bbolt file holding the messages of many streams. All writes
// go through one committer goroutine that applies every batch waiting at
// that moment in a single bbolt transaction (group commit): one fsync
// covers many publishes, and nobody waits for a timer.
//
// Layout: bucket "streams" / <stream name> / { "m": seq → record,
// "s": subject → count|last, key "state": State }. Opening a stream reads
// its "state" key only: start-up cost does not grow with stored messages.
type Bolt struct {
	path string
	// db is replaced when the file is compacted (compact.go): readers hold
	// dbMu for reading around every transaction; writers outside the
	// commit loop also hold writeMu, which compaction holds throughout.
	dbMu        sync.RWMutex
	db          *bolt.DB
	writeMu     sync.Mutex
	compact     compactPolicy
	compactions atomic.Int32
	// Owned by the committer.
	compactFailed time.Time
	refillFailed  time.Time
	log           *slog.Logger

	reqs chan *applyReq
	quit chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex // guards streams and closed
	streams map[string]*boltStream
	closed  bool

	// reserve, when set, is spent on removals that find the disk full.
	reserve *Reserve
	// diskSize and diskFree are the file's size and free pages after the
	// last commit (see DiskUsage).
	diskSize, diskFree atomic.Int64

	// beforeCommit, when set (tests), runs inside the write transaction
	// just before it commits: holding it back holds back every ack.
	beforeCommit func()
}

type applyReq struct {
	s     *boltStream
	batch *Batch
	meta  *MetaBatch // set instead of s and batch for metadata writes
	done  func(error)
}

// maxGroup bounds how many batches one transaction takes.
const maxGroup = 4096

var (
	bucketStreams = []byte("streams")
	bucketMeta    = []byte("meta")
	bucketMsgs    = []byte("m")
	bucketSubj    = []byte("s")
	bucketIndex   = []byte("x")
	bucketBySubj  = []byte("p") // optional: subject, 0, seq → nothing
	keyState      = []byte("state")
)

// OpenBolt opens (creating if needed) the bbolt file at path. A file that
// is not a valid bbolt database is an error, never silently replaced.
func OpenBolt(path string) (*Bolt, error) {
	// A compaction interrupted before its rename leaves a partial copy;
	// the original is intact and authoritative.
	if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("msgstore: remove stale %s: %w", path+compactSuffix, err)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, fmt.Errorf("msgstore: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketStreams); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("msgstore: initialise %s: %w", path, err)
	}
	b := &Bolt{
		path:    path,
		db:      db,
		compact: defaultCompactPolicy,
		log:     slog.New(slog.DiscardHandler),
		reqs:    make(chan *applyReq, 1024),
		quit:    make(chan struct{}),
		streams: make(map[string]*boltStream),
	}
	b.refreshUsage()
	b.wg.Add(1)
	go b.commitLoop()
	return b, nil
}

// Close stops the committer (failing queued batches with ErrClosed) and
// closes the file.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, s := range b.streams {
		s.markClosed()
	}
	b.mu.Unlock()
	close(b.quit)
	b.wg.Wait()
	b.dbMu.Lock()
	defer b.dbMu.Unlock()
	if b.db == nil {
		return nil // a failed compaction closed it
	}
	return b.db.Close()
}

// Stream opens (creating if needed) the named stream's store.
func (b *Bolt) Stream(name string) (Store, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if s := b.streams[name]; s != nil {
		return s, nil
	}
	s := &boltStream{b: b, name: []byte(name)}
	err := b.update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bucketStreams).CreateBucketIfNotExists(s.name)
		if err != nil {
			return err
		}
		if _, err := sb.CreateBucketIfNotExists(bucketMsgs); err != nil {
			return err
		}
		if _, err := sb.CreateBucketIfNotExists(bucketSubj); err != nil {
			return err
		}
		if _, err := sb.CreateBucketIfNotExists(bucketIndex); err != nil {
			return err
		}
		s.state = State{FirstSeq: 1}
		if v := sb.Get(keyState); v != nil {
			if s.state, err = decodeState(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("msgstore: open stream %q: %w", name, err)
	}
	b.streams[name] = s
	return s, nil
}

// DeleteStream removes a stream and all its messages.
func (b *Bolt) DeleteStream(name string) error {
	b.mu.Lock()
	s := b.streams[name]
	delete(b.streams, name)
	b.mu.Unlock()
	if s != nil {
		s.markClosed()
	}
	err := b.update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketStreams).DeleteBucket([]byte(name))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("msgstore: delete stream %q: %w", name, err)
	}
	return nil
}

// commitLoop is the single writer.
func (b *Bolt) commitLoop() {
	defer b.wg.Done()
	group := make([]*applyReq, 0, 64)
	for {
		select {
		case r := <-b.reqs:
			group = append(group[:0], r)
		drain:
			for len(group) < maxGroup {
				select {
				case r := <-b.reqs:
					group = append(group, r)
				default:
					break drain
				}
			}
			b.commit(group)
		case <-b.quit:
			for {
				select {
				case r := <-b.reqs:
					r.done(ErrClosed)
				default:
					return
				}
			}
		}
	}
}

// commit applies a group of batches in one transaction. A batch that fails
// validation is skipped (its caller gets the error) without affecting the
// others; a failed commit fails them all and leaves state untouched. A
// group that only removes and found the disk full is tried once more with
// the reserve released (reserve.go).
func (b *Bolt) commit(group []*applyReq) {
	errs := make([]error, len(group))
	staged, err := b.commitGroup(group, errs)
	usedReserve := false
	if err != nil && IsNoSpace(err) && b.reserve != nil && onlyRemoves(group) {
		freed, rerr := b.reserve.Release()
		if rerr != nil {
			b.log.Error("msgstore: disk full and the reserve could not be released", "file", b.path, "err", rerr)
		} else if freed > 0 {
			usedReserve = true
			b.log.Warn("msgstore: disk full; the space reserve is released so that removals can commit",
				"file", b.path, "bytes", freed)
			clear(errs)
			staged, err = b.commitGroup(group, errs)
		}
	}
	removed := false
	var freed int64
	if err == nil {
		for s, st := range staged {
			old := s.durableState()
			removed = removed || st.Msgs < old.Msgs
			if old.Bytes > st.Bytes {
				freed += int64(old.Bytes - st.Bytes)
			}
			s.setDurableState(*st)
		}
		b.refreshUsage()
	}
	for i, r := range group {
		switch {
		case err != nil:
			r.done(fmt.Errorf("msgstore: commit: %w", err))
		default:
			r.done(errs[i])
		}
	}
	if removed || usedReserve {
		compactions := b.compactions.Load()
		spent := b.maybeCompact(freed, usedReserve)
		if b.reserve != nil {
			// After a compaction there is space to try at once.
			b.refillReserve(usedReserve || spent || b.compactions.Load() != compactions)
		}
	}
}

// commitGroup runs one write transaction for the group, filling errs with
// the batches it skipped, and returns the streams' new states.
func (b *Bolt) commitGroup(group []*applyReq, errs []error) (map[*boltStream]*State, error) {
	staged := make(map[*boltStream]*State)
	err := b.update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketStreams)
		// bbolt keeps references to Put values until the transaction
		// ends, so records are appended to an arena that only grows
		// within this transaction.
		var arena []byte
		for i, r := range group {
			if r.meta != nil {
				if err := r.meta.apply(tx.Bucket(bucketMeta)); err != nil {
					return err
				}
				continue
			}
			st := staged[r.s]
			if st == nil {
				cur := r.s.durableState()
				st = &cur
				staged[r.s] = st
			}
			if r.s.isClosed() {
				errs[i] = ErrClosed
				continue
			}
			if err := r.batch.checkOrder(st.LastSeq); err != nil {
				errs[i] = err
				continue
			}
			sb := root.Bucket(r.s.name)
			if sb == nil {
				errs[i] = ErrClosed
				continue
			}
			var err error
			if arena, err = applyBatch(sb, r.batch, st, arena); err != nil {
				return err
			}
			if err := r.batch.meta.apply(tx.Bucket(bucketMeta)); err != nil {
				return err
			}
		}
		for s, st := range staged {
			if sb := root.Bucket(s.name); sb != nil {
				if err := sb.Put(keyState, encodeState(st)); err != nil {
					return err
				}
			}
		}
		if b.beforeCommit != nil {
			b.beforeCommit()
		}
		return nil
	})
	return staged, err
}

// onlyRemoves reports whether a group removes something and adds nothing
// but consumer state: what may spend the reserve on a full disk. Appends
// never may, or publishing would eat the space kept for purges.
func onlyRemoves(group []*applyReq) bool {
	removes := false
	for _, r := range group {
		if r.meta != nil {
			for _, v := range r.meta.vals {
				if v != nil {
					return false
				}
				removes = true
			}
			continue
		}
		puts, dels := false, false
		for _, v := range r.batch.meta.vals {
			puts = puts || v != nil
			dels = dels || v == nil
		}
		for _, o := range r.batch.ops {
			switch o.kind {
			case opAppend, opIndexPut:
				return false
			case opRemove, opRemoveRange, opIndexDelete:
				dels = true
			}
		}
		if puts && !dels {
			return false // consumer state alone
		}
		removes = removes || dels
	}
	return removes
}

// MetaBatch is a set of metadata writes (stream configs, consumer state)
// applied atomically by Bolt.ApplyMeta.
type MetaBatch struct {
	keys [][]byte
	vals [][]byte // nil: delete
}

// Put sets key to a copy of val.
func (m *MetaBatch) Put(key string, val []byte) {
	m.keys = append(m.keys, []byte(key))
	m.vals = append(m.vals, append(make([]byte, 0, len(val)), val...))
}

// Delete removes key.
func (m *MetaBatch) Delete(key string) {
	m.keys = append(m.keys, []byte(key))
	m.vals = append(m.vals, nil)
}

// Len is the number of writes.
func (m *MetaBatch) Len() int { return len(m.keys) }

func (m *MetaBatch) apply(b *bolt.Bucket) error {
	for i, k := range m.keys {
		var err error
		if m.vals[i] == nil {
			err = b.Delete(k)
		} else {
			err = b.Put(k, m.vals[i])
		}
		if err != nil {
			return fmt.Errorf("meta %q: %w", k, err)
		}
	}
	return nil
}

// SetBeforeCommit installs fn to run inside every write transaction just
// before it commits; nil removes it. Tests use it to hold commits back and
// prove that nothing is acknowledged before its commit. Set it before
// concurrent use.
func (b *Bolt) SetBeforeCommit(fn func()) { b.beforeCommit = fn }

// ApplyMeta applies m in the next group commit and calls done after it is
// durable, like Store.Apply.
func (b *Bolt) ApplyMeta(m *MetaBatch, done func(error)) {
	select {
	case b.reqs <- &applyReq{meta: m, done: done}:
	case <-b.quit:
		done(ErrClosed)
	}
}

// ForEachMeta calls fn for every metadata key with the prefix, in key
// order. val is only valid during the call.
func (b *Bolt) ForEachMeta(prefix string, fn func(key string, val []byte) error) error {
	return b.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == prefix; k, v = c.Next() {
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyBatch writes one batch's operations into the stream bucket and
// updates st. Records are appended to arena (see commit); the grown arena
// is returned.
func applyBatch(sb *bolt.Bucket, batch *Batch, st *State, arena []byte) ([]byte, error) {
	msgs, subjs, bySubj := sb.Bucket(bucketMsgs), sb.Bucket(bucketSubj), sb.Bucket(bucketBySubj)
	// Sequences only grow, so pages can be filled before splitting: half
	// as many pages written (and less SD-card wear) than bbolt's default.
	msgs.FillPercent = 1.0
	for _, o := range batch.ops {
		switch o.kind {
		case opAppend:
			start := len(arena)
			var err error
			if arena, err = appendRecord(arena, &o.msg); err != nil {
				return arena, err
			}
			if err := msgs.Put(seqKey(o.msg.Seq), arena[start:len(arena):len(arena)]); err != nil {
				return arena, err
			}
			cnt, _ := getSubj(subjs, o.msg.Subject)
			if err := putSubj(subjs, o.msg.Subject, cnt+1, o.msg.Seq); err != nil {
				return arena, err
			}
			if bySubj != nil {
				start := len(arena)
				arena = appendBySubjKey(arena, o.msg.Subject, o.msg.Seq)
				if err := bySubj.Put(arena[start:len(arena):len(arena)], []byte{}); err != nil {
					return arena, err
				}
			}
			if cnt == 0 {
				st.Subjects++
			}
			if st.Msgs == 0 {
				st.FirstSeq, st.FirstTime = o.msg.Seq, o.msg.Time
			}
			st.Msgs++
			st.Bytes += o.msg.FileSize()
			st.LastSeq, st.LastTime = o.msg.Seq, o.msg.Time
		case opRemove:
			if err := removeSeq(msgs, subjs, bySubj, o.first, st); err != nil {
				return arena, err
			}
		case opRemoveRange:
			if err := removeRange(msgs, subjs, bySubj, o.first, o.last, st); err != nil {
				return arena, err
			}
		case opSkip:
			st.skip(o.first)
		case opIndexPut:
			if err := sb.Bucket(bucketIndex).Put(o.key, []byte{}); err != nil {
				return arena, err
			}
		case opIndexDelete:
			if err := sb.Bucket(bucketIndex).Delete(o.key); err != nil {
				return arena, err
			}
		}
	}
	return arena, nil
}

func removeRange(msgs, subjs, bySubj *bolt.Bucket, first, last uint64, st *State) error {
	// Collect keys in chunks: deleting under an iterating cursor can skip
	// entries in bbolt.
	var keys []uint64
	for {
		keys = keys[:0]
		c := msgs.Cursor()
		for k, _ := c.Seek(seqKey(first)); k != nil && len(keys) < 1024; k, _ = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq > last {
				break
			}
			keys = append(keys, seq)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, seq := range keys {
			if err := removeSeq(msgs, subjs, bySubj, seq, st); err != nil {
				return err
			}
		}
		first = keys[len(keys)-1] + 1
	}
}

func removeSeq(msgs, subjs, bySubj *bolt.Bucket, seq uint64, st *State) error {
	rec := msgs.Get(seqKey(seq))
	if rec == nil {
		return nil
	}
	m, err := decodeRecord(seq, rec)
	if err != nil {
		return err
	}
	if err := msgs.Delete(seqKey(seq)); err != nil {
		return err
	}
	if bySubj != nil {
		if err := bySubj.Delete(appendBySubjKey(nil, m.Subject, seq)); err != nil {
			return err
		}
	}
	st.Msgs--
	st.Bytes -= m.FileSize()
	cnt, lastSeq := getSubj(subjs, m.Subject)
	switch {
	case cnt <= 1:
		if err := subjs.Delete([]byte(m.Subject)); err != nil {
			return err
		}
		st.Subjects--
	case lastSeq == seq && bySubj != nil:
		// The subject's previous message is the key before ours.
		prev := uint64(0)
		prefix := appendBySubjKey(nil, m.Subject, 0)[:len(m.Subject)+1]
		c := bySubj.Cursor()
		k, _ := c.Seek(appendBySubjKey(nil, m.Subject, seq))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			prev = binary.BigEndian.Uint64(k[len(prefix):])
		}
		if err := putSubj(subjs, m.Subject, cnt-1, prev); err != nil {
			return err
		}
	case lastSeq == seq:
		// Find the subject's previous message, newest first.
		c := msgs.Cursor()
		prev := uint64(0)
		k, v := c.Seek(seqKey(seq))
		if k == nil {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			s := binary.BigEndian.Uint64(k)
			if s >= seq {
				continue
			}
			if _, subj, err := recordSubject(v); err == nil && string(subj) == m.Subject {
				prev = s
				break
			}
		}
		if err := putSubj(subjs, m.Subject, cnt-1, prev); err != nil {
			return err
		}
	default:
		if err := putSubj(subjs, m.Subject, cnt-1, lastSeq); err != nil {
			return err
		}
	}
	if st.Msgs == 0 {
		st.FirstSeq, st.FirstTime = st.LastSeq+1, 0
		return nil
	}
	if seq == st.FirstSeq {
		k, v := msgs.Cursor().Seek(seqKey(seq))
		if k != nil {
			st.FirstSeq = binary.BigEndian.Uint64(k)
			st.FirstTime, _, _ = recordSubject(v)
		}
	}
	return nil
}

func getSubj(subjs *bolt.Bucket, subj string) (count, last uint64) {
	v := subjs.Get([]byte(subj))
	if len(v) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
}

func putSubj(subjs *bolt.Bucket, subj string, count, last uint64) error {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], count)
	binary.BigEndian.PutUint64(v[8:], last)
	return subjs.Put([]byte(subj), v[:])
}

func encodeState(st *State) []byte {
	v := make([]byte, 0, 56)
	for _, x := range []uint64{st.Msgs, st.Bytes, st.FirstSeq, st.LastSeq, uint64(st.FirstTime), uint64(st.LastTime), st.Subjects} {
		v = binary.BigEndian.AppendUint64(v, x)
	}
	return v
}

// decodeState reads the state record a stream's bucket keeps. A record
// that no sequence of appends, removals and skips can produce is refused
// as corrupt rather than trusted: recovery and limits would otherwise
// walk ranges that do not exist.
func decodeState(v []byte) (State, error) {
	if len(v) != 56 {
		return State{}, fmt.Errorf("stream state: %w", errCorrupt)
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(v[i*8:]) }
	st := State{Msgs: u(0), Bytes: u(1), FirstSeq: u(2), LastSeq: u(3), FirstTime: int64(u(4)), LastTime: int64(u(5)), Subjects: u(6)}
	if err := st.check(); err != nil {
		return State{}, fmt.Errorf("stream state: %w: %v", errCorrupt, err)
	}
	return st, nil
}

// boltStream is one stream in a Bolt file.
type boltStream struct {
	b    *Bolt
	name []byte

	mu     sync.RWMutex // guards state and closed
	state  State        // durable state, updated by the committer after commit
	closed bool
}

var _ Store = (*boltStream)(nil)

func (s *boltStream) durableState() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state
}

func (s *boltStream) setDurableState(st State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

func (s *boltStream) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

func (s *boltStream) markClosed() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// Apply implements Store: the batch joins the next group commit.
func (s *boltStream) Apply(b *Batch, done func(error)) {
	if s.isClosed() {
		done(ErrClosed)
		return
	}
	select {
	case s.b.reqs <- &applyReq{s: s, batch: b, done: done}:
	case <-s.b.quit:
		done(ErrClosed)
	}
}

// view runs fn on the stream's buckets in a read transaction.
func (s *boltStream) view(fn func(msgs, subjs *bolt.Bucket) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	return s.b.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketStreams).Bucket(s.name)
		if sb == nil {
			return ErrClosed
		}
		return fn(sb.Bucket(bucketMsgs), sb.Bucket(bucketSubj))
	})
}

// Load implements Store.
func (s *boltStream) Load(seq uint64) (m Msg, err error) {
	err = s.view(func(msgs, _ *bolt.Bucket) error {
		rec := msgs.Get(seqKey(seq))
		if rec == nil {
			return ErrNotFound
		}
		m, err = decodeRecord(seq, rec)
		return err
	})
	return m, err
}

// LoadNext implements Store.
func (s *boltStream) LoadNext(filter string, start uint64) (m Msg, err error) {
	all := filter == "" || filter == ">"
	literal := !all && subject.IsLiteral([]byte(filter))
	err = s.view(func(msgs, subjs *bolt.Bucket) error {
		if literal {
			if by := msgs.Tx().Bucket(bucketStreams).Bucket(s.name).Bucket(bucketBySubj); by != nil {
				// With the per-subject index, one seek.
				prefix := appendBySubjKey(nil, filter, 0)[:len(filter)+1]
				k, _ := by.Cursor().Seek(appendBySubjKey(nil, filter, start))
				if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
					return ErrNotFound
				}
				seq := binary.BigEndian.Uint64(k[len(prefix):])
				rec := msgs.Get(seqKey(seq))
				if rec == nil {
					return fmt.Errorf("subject index points at missing seq %d: %w", seq, errCorrupt)
				}
				m, err = decodeRecord(seq, rec)
				return err
			}
		}
		found := false
		err := walkMatching(msgs, subjs, filter, start, func(seq uint64, rec []byte) (bool, error) {
			var err error
			m, err = decodeRecord(seq, rec)
			found = true
			return false, err
		})
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	return m, err
}

// Count implements Store.
func (s *boltStream) Count(filter string, start uint64) (n uint64) {
	all := filter == "" || filter == ">"
	if all && start <= s.durableState().FirstSeq {
		return s.durableState().Msgs
	}
	_ = s.view(func(msgs, subjs *bolt.Bucket) error {
		if start <= s.durableState().FirstSeq {
			n = countMatching(subjs, filter)
			return nil
		}
		return walkMatching(msgs, subjs, filter, start, func(uint64, []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n
}

// LastSeqs implements Store.
func (s *boltStream) LastSeqs(filter string, start uint64) (seqs []uint64) {
	all := filter == "" || filter == ">"
	_ = s.view(func(_, subjs *bolt.Bucket) error {
		return subjs.ForEach(func(k, v []byte) error {
			if len(v) != 16 || (!all && !subject.Matches(filter, string(k))) {
				return nil
			}
			if last := binary.BigEndian.Uint64(v[8:]); last >= start {
				seqs = append(seqs, last)
			}
			return nil
		})
	})
	slices.Sort(seqs)
	return seqs
}

// Subjects implements Store.
func (s *boltStream) Subjects(filter string) map[string]SubjectState {
	all := filter == "" || filter == ">"
	out := make(map[string]SubjectState)
	_ = s.view(func(_, subjs *bolt.Bucket) error {
		return subjs.ForEach(func(k, v []byte) error {
			if len(v) == 16 && (all || subject.Matches(filter, string(k))) {
				out[string(k)] = SubjectState{Msgs: binary.BigEndian.Uint64(v[:8]), Last: binary.BigEndian.Uint64(v[8:])}
			}
			return nil
		})
	})
	return out
}

// LoadBatch implements Store.
func (s *boltStream) LoadBatch(filter string, start uint64, max int) (out []Msg, err error) {
	if max <= 0 {
		return nil, nil
	}
	err = s.view(func(msgs, subjs *bolt.Bucket) error {
		return walkMatching(msgs, subjs, filter, start, func(seq uint64, rec []byte) (bool, error) {
			m, err := decodeRecord(seq, rec)
			if err != nil {
				return false, err
			}
			out = append(out, m)
			return len(out) < max, nil
		})
	})
	return out, err
}

// IndexScan implements Store.
func (s *boltStream) IndexScan(prefix []byte, n int) (keys [][]byte) {
	if s.isClosed() {
		return nil
	}
	_ = s.b.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketStreams).Bucket(s.name)
		if sb == nil || sb.Bucket(bucketIndex) == nil {
			return nil
		}
		c := sb.Bucket(bucketIndex).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (n < 0 || len(keys) < n); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	return keys
}

// appendBySubjKey appends the per-subject index key: subject, 0, sequence.
func appendBySubjKey(dst []byte, subj string, seq uint64) []byte {
	dst = append(dst, subj...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// IndexSubjects builds, once, an index of each subject's sequences, kept
// from then on with every write: the oldest or previous message of a
// subject becomes one seek instead of a scan. The stream layer turns it
// on where per-subject limits above one need it (it costs a key per
// message). Building it reads the stream once.
func (s *boltStream) IndexSubjects() error {
	if s.isClosed() {
		return ErrClosed
	}
	exists := false
	_ = s.b.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketStreams).Bucket(s.name)
		exists = sb != nil && sb.Bucket(bucketBySubj) != nil
		return nil
	})
	if exists {
		return nil // already on: start-up costs nothing
	}
	return s.b.update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketStreams).Bucket(s.name)
		if sb == nil {
			return ErrClosed
		}
		if sb.Bucket(bucketBySubj) != nil {
			return nil
		}
		by, err := sb.CreateBucket(bucketBySubj)
		if err != nil {
			return err
		}
		var arena []byte
		c := sb.Bucket(bucketMsgs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			_, subj, err := recordSubject(v)
			if err != nil {
				return err
			}
			start := len(arena)
			arena = appendBySubjKey(arena, string(subj), binary.BigEndian.Uint64(k))
			if err := by.Put(arena[start:len(arena):len(arena)], []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadLast implements Store.
func (s *boltStream) LoadLast(subj string) (m Msg, err error) {
	err = s.view(func(msgs, subjs *bolt.Bucket) error {
		cnt, last := getSubj(subjs, subj)
		if cnt == 0 {
			return ErrNotFound
		}
		rec := msgs.Get(seqKey(last))
		if rec == nil {
			return fmt.Errorf("subject %q index points at missing seq %d: %w", subj, last, errCorrupt)
		}
		m, err = decodeRecord(last, rec)
		return err
	})
	return m, err
}

// State implements Store.
func (s *boltStream) State() State { return s.durableState() }

// SubjectState implements Store.
func (s *boltStream) SubjectState(subj string) (ss SubjectState) {
	_ = s.view(func(_, subjs *bolt.Bucket) error {
		ss.Msgs, ss.Last = getSubj(subjs, subj)
		return nil
	})
	return ss
}

// Close implements Store for one stream; the file stays open.
func (s *boltStream) Close() error {
	s.markClosed()
	s.b.mu.Lock()
	if s.b.streams[string(s.name)] == s {
		delete(s.b.streams, string(s.name))
	}
	s.b.mu.Unlock()
	return nil
}
