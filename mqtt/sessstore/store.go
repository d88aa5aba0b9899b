package sessstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leafgate/leafgate/store/msgstore"
)

// Errors callers branch on. A batch that breaks a rule (ErrNoSession,
// ErrSeqOrder, ErrUnknownBody, ErrInvalid) fails alone: the other batches
// of its group commit.
var (
	ErrClosed      = errors.New("sessstore: store closed")
	ErrNotFound    = errors.New("sessstore: not found")
	ErrCorrupt     = errors.New("sessstore: corrupt record")
	ErrInvalid     = errors.New("sessstore: invalid value")
	ErrNoSession   = errors.New("sessstore: no stored session for the client")
	ErrSeqOrder    = errors.New("sessstore: entry sequence not above the session's last")
	ErrUnknownBody = errors.New("sessstore: entry references a body that is not stored")
)

// Options configures Open. Only Path is required.
type Options struct {
	// Path is the bbolt file, e.g. <store_dir>/mqtt/sessions.db; its
	// directory is created if needed.
	Path string
	// Reserve, when set, is spent by a commit that only removes or
	// rewrites (acks, session deletes) and finds the disk full, as in
	// msgstore; it may be the JetStream store's reserve (one Reserve
	// serves many files).
	Reserve *msgstore.Reserve
	// Logger receives start-up repairs, full-disk events and
	// compactions; nil discards.
	Logger *slog.Logger
	// MaxPending bounds the batches waiting for the committer: Apply
	// blocks while that many wait (back-pressure). 0 means 1024.
	MaxPending int

	// BeforeCommit (tests) runs inside every write transaction just
	// before it commits, on the committer goroutine: blocking holds back
	// every done callback, counting counts transactions, and an error
	// fails the transaction as a failed fsync or a full disk would.
	BeforeCommit func() error
}

// Store is the durable copy of the broker's persistent MQTT sessions in
// one bbolt file. The broker owns all session state in memory; the Store
// only makes changes durable (Apply) and hands them back at start-up
// (Load). Its methods are safe for concurrent use.
//
// Goroutines and locks: one committer goroutine does every write and owns
// idx (the in-memory index: session ids, last sequences, each queued
// entry's Seq and body, body reference counts) and txn. Apply only queues a copy of the batch on reqs. Readers (Body,
// Load) take dbMu for reading around each read transaction; compaction
// takes it for writing to swap the file. Lock order: applyMu, then dbMu,
// then statsMu; none is held across a callback.
type Store struct {
	path         string
	log          *slog.Logger
	reserve      *msgstore.Reserve
	beforeCommit func() error
	compact      compactPolicy

	dbMu sync.RWMutex
	db   *bolt.DB // nil after a compaction that could not reopen the file

	// nextBody is the last body id handed out by Batch.AddBody.
	nextBody atomic.Uint64

	applyMu sync.RWMutex // guards closed, so no Apply sends after Close
	closed  bool
	reqs    chan *request
	quit    chan struct{}
	stopped chan struct{}

	// Owned by the committer (and by Open before it starts it).
	idx           index
	txn           txn
	compactFailed time.Time
	refillFailed  time.Time

	statsMu     sync.Mutex
	stats       Stats
	writtenBase int64 // bbolt's page bytes count at the last publishStats
}

// request is one applied batch waiting for its commit.
type request struct {
	ops  []op
	done func(error)
}

// Stats describes the store, for monitoring and benchmarks.
type Stats struct {
	Sessions int   // stored sessions
	Entries  int   // queued entries of all sessions
	Bodies   int   // stored message bodies
	FileSize int64 // bytes of the file up to its high-water mark
	FileFree int64 // bytes of free pages inside it, reused before it grows
	Commits  int64 // write transactions committed since Open
	Batches  int64 // batches committed since Open
	Compacts int   // compactions since Open
	// Written is the bytes of pages committed since Open: bbolt writes
	// every page a transaction changes, whole (and a meta page, not
	// counted). What the store costs an SD card.
	Written int64
}

var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("s")
	bucketQueue    = []byte("q")
	bucketIncoming = []byte("i")
	bucketBodies   = []byte("b")
	keyFormat      = []byte("format")
	buckets        = [][]byte{bucketMeta, bucketSessions, bucketQueue, bucketIncoming, bucketBodies}
)

// fileFormat is the meta "format" value; Open refuses others.
const fileFormat = 1

// compactSuffix names the copy a compaction writes; Open removes a
// leftover one (the original is intact until the rename).
const compactSuffix = ".compact"

// Open opens (creating if needed) the store at opts.Path, rebuilds the
// in-memory index from it (session ids, every session's last sequence,
// body reference counts) and deletes what a crash or bug left behind:
// bodies no entry references, entries and incoming ids of sessions that
// are gone, and entries whose body is missing. A file that is not a
// bbolt database or holds a record that does not decode is an error.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sessstore: no path")
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("sessstore: %w", err)
	}
	if err := os.Remove(opts.Path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sessstore: remove stale %s: %w", opts.Path+compactSuffix, err)
	}
	db, err := openDB(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("sessstore: open %s: %w", opts.Path, err)
	}
	s := &Store{
		path:         opts.Path,
		log:          opts.Logger,
		reserve:      opts.Reserve,
		beforeCommit: opts.BeforeCommit,
		compact:      defaultCompactPolicy,
		db:           db,
		quit:         make(chan struct{}),
		stopped:      make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	pending := opts.MaxPending
	if pending <= 0 {
		pending = 1024
	}
	s.reqs = make(chan *request, pending)
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sessstore: open %s: %w", opts.Path, err)
	}
	s.publishStats(0, 0)
	go s.commitLoop()
	return s, nil
}

func openDB(path string) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      2 * time.Second, // another process holds the lock
		FreelistType: bolt.FreelistMapType,
	})
}

// init creates the buckets of a new file, checks the format of an old one
// and builds the index (scan.go).
func (s *Store) init() error {
	ready := false
	if err := s.db.View(func(tx *bolt.Tx) error {
		ready = true
		for _, name := range buckets {
			ready = ready && tx.Bucket(name) != nil
		}
		return checkFormat(tx)
	}); err != nil {
		return err
	}
	if !ready {
		// Only a new file needs a write here: opening on a full disk
		// must still work.
		if err := s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range buckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keyFormat, []byte{fileFormat})
		}); err != nil {
			return err
		}
	}
	return s.scan()
}

func checkFormat(tx *bolt.Tx) error {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		return nil
	}
	if v := m.Get(keyFormat); v != nil && (len(v) != 1 || v[0] != fileFormat) {
		return fmt.Errorf("file format %x, want %d (written by a newer leafgate?)", v, fileFormat)
	}
	return nil
}

// Close commits the batches already applied, stops the committer and
// closes the file. Apply after Close calls done with ErrClosed.
func (s *Store) Close() error {
	s.applyMu.Lock()
	if s.closed {
		s.applyMu.Unlock()
		return nil
	}
	s.closed = true
	s.applyMu.Unlock()
	close(s.quit)
	<-s.stopped
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// NewBatch returns an empty batch bound to s.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Apply commits b in the next group commit: the batches submitted while a
// commit is in flight are merged into one transaction and one fsync.
// done is called once that transaction has synced (nil) or failed (the
// error, given to every batch in it), or with the error that b alone
// breaks a rule (then the rest of the group commits). b's changes are
// copied; the caller may reuse b once Apply returns.
//
// Apply does no I/O. It blocks only while Options.MaxPending batches
// (default 1024) already wait for the committer. done runs on the
// committer goroutine, in commit order: it must not block, and must not
// wait for another Apply. Only a batch refused before it is queued (an
// invalid change recorded by the Batch, a batch of another Store, a
// closed Store) has done called at once, from Apply.
func (s *Store) Apply(b *Batch, done func(error)) {
	if b.err != nil {
		done(b.err)
		return
	}
	if b.s != nil && b.s != s {
		done(fmt.Errorf("%w: a batch made by another Store", ErrInvalid))
		return
	}
	r := &request{ops: slices.Clone(b.ops), done: done}
	s.applyMu.RLock()
	if s.closed {
		s.applyMu.RUnlock()
		done(ErrClosed)
		return
	}
	s.reqs <- r // the committer runs until Close, which waits for applyMu
	s.applyMu.RUnlock()
}

// view runs fn in a read transaction on the current file.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.View(fn)
}

// Body returns a copy of the stored body id, or ErrNotFound. Bodies of
// batches not yet committed are not found.
func (s *Store) Body(id BodyID) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		k := bodyKey(id)
		v := tx.Bucket(bucketBodies).Get(k[:])
		if v == nil {
			return ErrNotFound
		}
		out = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sessstore: body %d: %w", id, err)
	}
	return out, nil
}

// Load calls fn once per stored session, in session id order (the order
// in which they were first stored), with its queue in Seq order and its
// incoming QoS 2 packet ids in order. Call it at start-up, before any
// Apply. It reads the file in one pass and holds every queue in memory
// until fn has seen it; fn runs outside any transaction (it may call
// Body), and what it is given is its own. An error from fn stops Load and
// is returned.
func (s *Store) Load(fn func(sess *Session, queue []Entry, incoming []uint16) error) error {
	var all []loaded
	err := s.view(func(tx *bolt.Tx) error {
		bySid := make(map[uint32]*loaded)
		if err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			sid, err := decodeSessionKey(k)
			if err != nil {
				return err
			}
			sess, err := decodeSession(v)
			if err != nil {
				return fmt.Errorf("session %d: %w", sid, err)
			}
			all = append(all, loaded{Sess: *sess, sid: sid})
			return nil
		}); err != nil {
			return err
		}
		for i := range all {
			bySid[all[i].sid] = &all[i]
		}
		bodies := tx.Bucket(bucketBodies)
		// Entries come in body order: look each body up once.
		lastBody, lastStored := BodyID(0), false
		if err := tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			body, sid, seq, err := decodeQueueKey(k)
			if err != nil {
				return err
			}
			l := bySid[sid]
			if l == nil {
				return nil // a leftover Open could not delete
			}
			e, err := decodeEntry(body, seq, v)
			if err != nil {
				return fmt.Errorf("session %q: %w", l.Sess.ClientID, err)
			}
			if !e.Released && body != lastBody {
				bk := bodyKey(body)
				lastBody, lastStored = body, bodies.Get(bk[:]) != nil
			}
			if !e.Released && !lastStored {
				return nil // its body is lost (see Open)
			}
			l.Queue = append(l.Queue, e)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketIncoming).ForEach(func(k, _ []byte) error {
			sid, pid, err := decodeIncomingKey(k)
			if err != nil {
				return err
			}
			if l := bySid[sid]; l != nil {
				l.Incoming = append(l.Incoming, pid)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("sessstore: load: %w", err)
	}
	for i := range all {
		l := &all[i]
		// Queue keys come by body: put each queue in Seq order.
		slices.SortFunc(l.Queue, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
		if err := fn(&l.Sess, l.Queue, l.Incoming); err != nil {
			return err
		}
		all[i] = loaded{} // fn owns it now
	}
	return nil
}

// loaded is one session as Load reads it.
type loaded struct {
	Sess     Session
	Queue    []Entry
	Incoming []uint16
	sid      uint32
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}

// Stats reports the store's counts as of the last commit.
func (s *Store) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

// publishStats copies the committer's counts into Stats after a commit
// (or at Open), with the file's size and free pages.
func (s *Store) publishStats(commits, batches int64) {
	var size, free, written int64
	s.dbMu.RLock()
	if s.db != nil {
		st := s.db.Stats()
		free = int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
		written = st.TxStats.GetPageAlloc()
		_ = s.db.View(func(tx *bolt.Tx) error {
			size = tx.Size()
			return nil
		})
	}
	s.dbMu.RUnlock()
	s.statsMu.Lock()
	s.stats.Sessions = len(s.idx.sessions)
	s.stats.Entries = s.idx.entries
	s.stats.Bodies = len(s.idx.refs)
	s.stats.FileSize, s.stats.FileFree = size, free
	if written < s.writtenBase {
		s.writtenBase = 0 // a compaction's new file counts from 0
	}
	s.stats.Written += written - s.writtenBase
	s.writtenBase = written
	s.stats.Commits += commits
	s.stats.Batches += batches
	s.statsMu.Unlock()
}

// Marks returns every client's marks (Batch.PutMark): by client id, then
// by the publisher's key. Call it at start-up, with Load.
func (s *Store) Marks() (map[string]map[string]uint64, error) {
	out := map[string]map[string]uint64{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		prefix := []byte(markPrefix)
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			rest := string(k[len(prefix):])
			i := strings.IndexByte(rest, 0)
			if i < 0 {
				continue
			}
			seq, n := binary.Uvarint(v)
			if n <= 0 {
				continue
			}
			client, key := rest[:i], rest[i+1:]
			if out[client] == nil {
				out[client] = map[string]uint64{}
			}
			out[client][key] = seq
		}
		return nil
	})
	return out, err
}
