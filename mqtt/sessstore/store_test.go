package sessstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "mqtt", "sessions.db")
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// apply commits b and returns done's error.
func apply(s *Store, b *Batch) error {
	ch := make(chan error, 1)
	s.Apply(b, func(err error) { ch <- err })
	return <-ch
}

func mustApply(t testing.TB, s *Store, b *Batch) {
	t.Helper()
	if err := apply(s, b); err != nil {
		t.Fatal(err)
	}
}

func session(id string) *Session {
	return &Session{ClientID: id, Version: 5, Expiry: 3600, Subs: []Sub{{Filter: "t/" + id + "/#", QoS: 1}}}
}

func loadAll(t testing.TB, s *Store) map[string]loaded {
	t.Helper()
	out := make(map[string]loaded)
	err := s.Load(func(sess *Session, queue []Entry, incoming []uint16) error {
		if _, dup := out[sess.ClientID]; dup {
			t.Errorf("Load gave %q twice", sess.ClientID)
		}
		out[sess.ClientID] = loaded{Sess: *sess, Queue: queue, Incoming: incoming}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func body(t testing.TB, s *Store, id BodyID) string {
	t.Helper()
	b, err := s.Body(id)
	if err != nil {
		t.Fatalf("body %d: %v", id, err)
	}
	return string(b)
}

// Everything a batch can store comes back through Close and Open, with
// the counts in Stats.
func TestRoundTripThroughReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt", "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	for i := range sampleSessions {
		b.PutSession(&sampleSessions[i])
	}
	b.PutSession(session("gone"))
	shared := b.AddBody([]byte("shared payload"))
	own := b.AddBody([]byte("own payload"))
	b.Enqueue("c", Entry{Seq: 1, Body: shared, QoS: 1})
	b.Enqueue("c", Entry{Seq: 2, Body: own, QoS: 2, Flags: 3})
	b.Enqueue("sensor-0042", Entry{Seq: 10, Body: shared, QoS: 0, Flags: 1})
	b.Enqueue("gone", Entry{Seq: 1, Body: shared, QoS: 1})
	b.AddIncoming("c", 7)
	b.AddIncoming("c", 3)
	b.AddIncoming("sensor-0042", 65535)
	mustApply(t, s, b)

	b.Reset()
	b.Update("c", Entry{Seq: 1, PacketID: 11, Flags: 8})
	b.Update("c", Entry{Seq: 2, PacketID: 12, Released: true}) // own is released: no longer stored
	b.DeleteSession("gone")
	b.RemoveIncoming("c", 3)
	mustApply(t, s, b)
	if _, err := s.Body(own); !errors.Is(err, ErrNotFound) {
		t.Fatalf("released body still stored: %v", err)
	}
	want := s.Stats()
	if want.Sessions != len(sampleSessions) || want.Entries != 3 || want.Bodies != 1 {
		t.Fatalf("stats: %+v", want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, Options{Path: path})
	got := s.Stats()
	if got.Sessions != want.Sessions || got.Entries != want.Entries || got.Bodies != want.Bodies || got.FileSize == 0 {
		t.Fatalf("stats after reopen %+v, before %+v", got, want)
	}
	all := loadAll(t, s)
	if len(all) != len(sampleSessions) {
		t.Fatalf("loaded %d sessions", len(all))
	}
	for _, sess := range sampleSessions {
		if !reflect.DeepEqual(all[sess.ClientID].Sess, sess) {
			t.Errorf("session %.20q: got %+v", sess.ClientID, all[sess.ClientID].Sess)
		}
	}
	c := all["c"]
	wantQ := []Entry{{Seq: 1, Body: shared, QoS: 1, Flags: 8, PacketID: 11}, {Seq: 2, Body: own, QoS: 2, Flags: 0, PacketID: 12, Released: true}}
	if !reflect.DeepEqual(c.Queue, wantQ) || !reflect.DeepEqual(c.Incoming, []uint16{7}) {
		t.Fatalf("c: queue %+v incoming %v", c.Queue, c.Incoming)
	}
	sn := all["sensor-0042"]
	if !reflect.DeepEqual(sn.Queue, []Entry{{Seq: 10, Body: shared, Flags: 1}}) || !reflect.DeepEqual(sn.Incoming, []uint16{65535}) {
		t.Fatalf("sensor: %+v", sn)
	}
	if got := body(t, s, shared); got != "shared payload" {
		t.Fatalf("shared body %q", got)
	}
	// Ids go on from the stored ones; sequences go on from the stored ones.
	b = s.NewBatch()
	if id := b.AddBody([]byte("x")); id <= own {
		t.Fatalf("body id %d after reopen, stored up to %d", id, own)
	}
	b.Enqueue("c", Entry{Seq: 2, Body: shared, QoS: 1})
	if err := apply(s, b); !errors.Is(err, ErrSeqOrder) {
		t.Fatalf("enqueue of a stored seq after reopen: %v", err)
	}
}

// Batches applied from many goroutines while a commit is in flight are
// merged into the next single transaction.
func TestGroupCommitMergesConcurrentApplies(t *testing.T) {
	var commits atomic.Int32
	entered := make(chan struct{})
	release := make(chan struct{})
	s := openTest(t, Options{BeforeCommit: func() error {
		if commits.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}})
	setup := s.NewBatch()
	for i := range 8 {
		setup.PutSession(session(fmt.Sprint("w", i)))
	}
	first := make(chan error, 1)
	s.Apply(setup, func(err error) { first <- err })
	<-entered // the first commit is in flight and held

	const writers, each = 8, 50
	var wg, applied sync.WaitGroup
	errs := make(chan error, writers*each)
	wg.Add(writers * each)
	applied.Add(writers)
	for w := range writers {
		go func() {
			defer applied.Done()
			client := fmt.Sprint("w", w)
			for i := range each {
				b := s.NewBatch()
				id := b.AddBody([]byte(fmt.Sprint(client, i)))
				b.Enqueue(client, Entry{Seq: uint64(i + 1), Body: id, QoS: 1})
				s.Apply(b, func(err error) { errs <- err; wg.Done() })
			}
		}()
	}
	applied.Wait() // every batch is queued behind the held commit
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := commits.Load(); n != 2 {
		t.Fatalf("%d transactions for 1 + %d batches, want 2", n, writers*each)
	}
	if st := s.Stats(); st.Commits != 2 || st.Batches != 1+writers*each || st.Entries != writers*each || st.Bodies != writers*each {
		t.Fatalf("stats %+v", st)
	}
}

// done is called only once the transaction has committed: hold the
// commit back and done waits; nothing is readable before it.
func TestDoneOnlyAfterCommit(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var hold atomic.Bool
	s := openTest(t, Options{BeforeCommit: func() error {
		if hold.Load() {
			entered <- struct{}{}
			<-release
		}
		return nil
	}})
	b := s.NewBatch()
	b.PutSession(session("a"))
	mustApply(t, s, b)

	hold.Store(true)
	b.Reset()
	id := b.AddBody([]byte("m"))
	b.Enqueue("a", Entry{Seq: 1, Body: id, QoS: 1})
	var called atomic.Bool
	done := make(chan error, 1)
	s.Apply(b, func(err error) { called.Store(true); done <- err })
	b.Reset() // the caller may reuse the batch at once
	<-entered
	time.Sleep(50 * time.Millisecond) // give a wrong early done the chance to show
	if called.Load() {
		t.Fatal("done called while the commit was held back")
	}
	if _, err := s.Body(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("body readable before the commit: %v", err)
	}
	if st := s.Stats(); st.Entries != 0 {
		t.Fatalf("stats count an uncommitted entry: %+v", st)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := body(t, s, id); got != "m" {
		t.Fatalf("body %q", got)
	}
}

// A body shared by three sessions stays until its last reference goes —
// a Remove, a QoS 2 release, a session delete — also across reopens.
func TestSharedBodyDeletedWithLastReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openTest(t, Options{Path: path})
	b := s.NewBatch()
	for _, c := range []string{"a", "b", "c"} {
		b.PutSession(session(c))
	}
	id := b.AddBody([]byte("fan-out"))
	other := b.AddBody([]byte("other"))
	b.Enqueue("a", Entry{Seq: 1, Body: id, QoS: 1})
	b.Enqueue("b", Entry{Seq: 1, Body: id, QoS: 2})
	b.Enqueue("c", Entry{Seq: 1, Body: id, QoS: 1})
	b.Enqueue("c", Entry{Seq: 2, Body: other, QoS: 1})
	mustApply(t, s, b)
	if st := s.Stats(); st.Bodies != 2 || st.Entries != 4 {
		t.Fatalf("stats %+v", st)
	}
	reopen := func() {
		t.Helper()
		s.Close()
		s = openTest(t, Options{Path: path})
	}
	stored := func(want bool) {
		t.Helper()
		_, err := s.Body(id)
		if got := err == nil; got != want {
			t.Fatalf("body stored %v, want %v (%v)", got, want, err)
		}
	}
	step := func(fn func(b *Batch)) {
		t.Helper()
		b := s.NewBatch()
		fn(b)
		mustApply(t, s, b)
	}

	step(func(b *Batch) { b.Remove("a", 1) })
	stored(true)
	reopen()
	stored(true)
	step(func(b *Batch) { b.Update("b", Entry{Seq: 1, PacketID: 4, Released: true}) })
	stored(true)
	reopen()
	stored(true)
	step(func(b *Batch) { b.DeleteSession("c") })
	stored(false)
	if _, err := s.Body(other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("body of a deleted session's entry: %v", err)
	}
	reopen()
	stored(false)
	if st := s.Stats(); st.Bodies != 0 || st.Entries != 1 || st.Sessions != 2 {
		t.Fatalf("stats %+v", st)
	}
	// The released entry is still queued (PUBCOMP pending) without a body.
	if q := loadAll(t, s)["b"].Queue; len(q) != 1 || !q[0].Released || q[0].PacketID != 4 {
		t.Fatalf("b's queue %+v", q)
	}
	// A body dropped and taken again in one transaction stays.
	step(func(b *Batch) {
		x := b.AddBody([]byte("again"))
		b.Enqueue("a", Entry{Seq: 2, Body: x, QoS: 1})
		b.Remove("a", 2)
		b.Enqueue("a", Entry{Seq: 3, Body: x, QoS: 1})
	})
	reopen()
	q := loadAll(t, s)["a"].Queue
	if len(q) != 1 || q[0].Seq != 3 || body(t, s, q[0].Body) != "again" {
		t.Fatalf("a's queue %+v", q)
	}
}

// A body that no entry references when its batch commits is not stored.
func TestUnreferencedBodyNotStored(t *testing.T) {
	s := openTest(t, Options{})
	b := s.NewBatch()
	id := b.AddBody([]byte("nobody"))
	mustApply(t, s, b)
	if _, err := s.Body(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unreferenced body: %v", err)
	}
	b.Reset()
	b.PutSession(session("a"))
	b.Enqueue("a", Entry{Seq: 1, Body: id, QoS: 1})
	if err := apply(s, b); !errors.Is(err, ErrUnknownBody) {
		t.Fatalf("enqueue of a dropped body: %v", err)
	}
}

// A batch that breaks a rule fails alone: the others in its transaction
// commit, and what the bad batch did before the broken rule is undone.
func TestBrokenRuleFailsOnlyItsBatch(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var hold atomic.Bool
	s := openTest(t, Options{BeforeCommit: func() error {
		if hold.Swap(false) {
			entered <- struct{}{}
			<-release
		}
		return nil
	}})
	b := s.NewBatch()
	b.PutSession(session("a"))
	id := b.AddBody([]byte("x"))
	b.Enqueue("a", Entry{Seq: 5, Body: id, QoS: 1})
	mustApply(t, s, b)

	hold.Store(true)
	blocker := s.NewBatch()
	blocker.PutSession(session("blocker"))
	held := make(chan error, 1)
	s.Apply(blocker, func(err error) { held <- err })
	<-entered

	type tc struct {
		name string
		fill func(b *Batch)
		want error
	}
	cases := []tc{
		{"good before", func(b *Batch) { b.PutSession(session("g1")) }, nil},
		{"no session", func(b *Batch) {
			b.PutSession(session("half")) // undone with the rest of the batch
			x := b.AddBody([]byte("y"))
			b.Enqueue("nobody", Entry{Seq: 1, Body: x, QoS: 1})
		}, ErrNoSession},
		{"seq order", func(b *Batch) { b.Remove("a", 5); b.Enqueue("a", Entry{Seq: 5, Body: id, QoS: 1}) }, ErrSeqOrder},
		{"unknown body", func(b *Batch) { b.Enqueue("a", Entry{Seq: 6, Body: id + 100, QoS: 1}) }, ErrUnknownBody},
		{"incoming without session", func(b *Batch) { b.AddIncoming("nobody", 1) }, ErrNoSession},
		{"invalid session", func(b *Batch) { b.PutSession(&Session{ClientID: "v3", Version: 3}) }, ErrInvalid},
		{"invalid entry", func(b *Batch) { b.Enqueue("a", Entry{Seq: 9, Body: id, QoS: 1, Released: true}) }, ErrInvalid},
		{"release at QoS 1", func(b *Batch) { b.Update("a", Entry{Seq: 5, Released: true}) }, ErrInvalid},
		{"good after", func(b *Batch) {
			x := b.AddBody([]byte("z"))
			b.Enqueue("a", Entry{Seq: 6, Body: x, QoS: 1})
		}, nil},
	}
	results := make([]chan error, len(cases))
	for i, c := range cases {
		b := s.NewBatch()
		c.fill(b)
		results[i] = make(chan error, 1)
		s.Apply(b, func(err error) { results[i] <- err })
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		err := <-results[i]
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	all := loadAll(t, s)
	if _, ok := all["half"]; ok {
		t.Error("a failed batch's PutSession was stored")
	}
	if _, ok := all["g1"]; !ok {
		t.Error("a good batch beside a bad one was not stored")
	}
	if q := all["a"].Queue; len(q) != 2 || q[0].Seq != 5 || q[1].Seq != 6 {
		t.Errorf("a's queue %+v", q)
	}
	if st := s.Stats(); st.Commits != 3 || st.Entries != 2 || st.Bodies != 2 || st.Sessions != 3 {
		t.Errorf("stats %+v", st)
	}
}

// A commit that fails (here: the hook, as a failed fsync would) reports
// the error to every batch in it and leaves the store as it was: the
// same changes can be applied again.
func TestFailedCommitChangesNothing(t *testing.T) {
	var fail atomic.Bool
	boom := errors.New("fsync: input/output error")
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var hold atomic.Bool
	s := openTest(t, Options{BeforeCommit: func() error {
		if hold.Swap(false) {
			entered <- struct{}{}
			<-release
		}
		if fail.Load() {
			return boom
		}
		return nil
	}})
	b := s.NewBatch()
	b.PutSession(session("a"))
	b.PutSession(session("b"))
	id := b.AddBody([]byte("x"))
	b.Enqueue("a", Entry{Seq: 1, Body: id, QoS: 1})
	mustApply(t, s, b)
	before := s.Stats()

	hold.Store(true)
	blocker := s.NewBatch()
	blocker.PutSession(session("c"))
	blocked := make(chan error, 1)
	s.Apply(blocker, func(err error) { blocked <- err })
	<-entered
	fail.Store(true)
	batches := []func(b *Batch){
		func(b *Batch) {
			b.PutSession(session("new"))
			x := b.AddBody([]byte("y"))
			b.Enqueue("new", Entry{Seq: 1, Body: x, QoS: 1})
			b.Enqueue("a", Entry{Seq: 2, Body: id, QoS: 1})
		},
		func(b *Batch) { b.Remove("a", 1) },
		func(b *Batch) { b.DeleteSession("b") },
	}
	results := make(chan error, len(batches))
	for _, fill := range batches {
		b := s.NewBatch()
		fill(b)
		s.Apply(b, func(err error) { results <- err })
	}
	close(release)
	if err := <-blocked; !errors.Is(err, boom) {
		t.Fatalf("held batch: %v", err)
	}
	for range batches {
		if err := <-results; !errors.Is(err, boom) {
			t.Fatalf("batch in the failed commit: %v, want %v", err, boom)
		}
	}
	if st := s.Stats(); st.Sessions != before.Sessions || st.Entries != before.Entries || st.Bodies != before.Bodies {
		t.Fatalf("stats after a failed commit %+v, before %+v", st, before)
	}
	fail.Store(false)
	// The index was rolled back: the same changes apply again.
	for _, fill := range batches {
		b := s.NewBatch()
		fill(b)
		mustApply(t, s, b)
	}
	all := loadAll(t, s)
	if _, ok := all["new"]; !ok || len(all) != 2 { // a and new; b deleted, c's commit failed
		t.Fatalf("sessions after retry: %v", len(all))
	}
	if q := all["a"].Queue; len(q) != 1 || q[0].Seq != 2 || body(t, s, q[0].Body) != "x" {
		t.Fatalf("a's queue %+v", q)
	}
}

// Close commits what was applied before it; Apply after Close fails.
func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 100)
	for i := range 100 {
		b := s.NewBatch()
		b.PutSession(session(fmt.Sprint("c", i)))
		s.Apply(b, func(err error) { results <- err })
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch()
	b.PutSession(session("late"))
	if err := apply(s, b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if _, err := s.Body(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Body after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, Options{Path: path})
	if n := s.Stats().Sessions; n != 100 {
		t.Fatalf("%d sessions after Close and reopen", n)
	}
}

// What a crash or a bug leaves behind is deleted at Open: bodies nobody
// references, entries and incoming ids of sessions that are gone, and
// entries whose body is missing.
func TestOpenSweepsLeftovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.PutSession(session("a"))
	id := b.AddBody([]byte("kept"))
	b.Enqueue("a", Entry{Seq: 1, Body: id, QoS: 1})
	b.AddIncoming("a", 9)
	mustApply(t, s, b)
	s.Close()

	// Damage the file behind the store's back.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(bucket []byte, k, v []byte) {
		t.Helper()
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
	orphan, missing := bodyKey(id+10), BodyID(id+20)
	put(bucketBodies, orphan[:], []byte("orphan"))
	qk := makeQueueKey(id, 77, 1) // session 77 does not exist
	put(bucketQueue, qk.bytes(), appendEntry(nil, &Entry{Seq: 1, Body: id, QoS: 1}))
	ik := incomingKey(77, 5)
	put(bucketIncoming, ik[:], nil)
	sk := sessionKey(1)
	dk := makeQueueKey(missing, 1, 2) // session a, body missing
	put(bucketQueue, dk.bytes(), appendEntry(nil, &Entry{Seq: 2, Body: missing, QoS: 1}))
	rk := makeQueueKey(missing, 1, 3) // released: needs no body
	put(bucketQueue, rk.bytes(), appendEntry(nil, &Entry{Seq: 3, Body: missing, QoS: 2, Released: true}))
	db.Close()

	s = openTest(t, Options{Path: path})
	if st := s.Stats(); st.Sessions != 1 || st.Entries != 2 || st.Bodies != 1 {
		t.Fatalf("stats after the sweep %+v", st)
	}
	if _, err := s.Body(id + 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan body: %v", err)
	}
	a := loadAll(t, s)["a"]
	if len(a.Queue) != 2 || a.Queue[0].Seq != 1 || a.Queue[1].Seq != 3 || !reflect.DeepEqual(a.Incoming, []uint16{9}) {
		t.Fatalf("a after the sweep: %+v", a)
	}
	s.Close()
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		for _, c := range []struct {
			bucket []byte
			key    []byte
		}{{bucketBodies, orphan[:]}, {bucketQueue, qk.bytes()}, {bucketIncoming, ik[:]}, {bucketQueue, dk.bytes()}} {
			if tx.Bucket(c.bucket).Get(c.key) != nil {
				t.Errorf("leftover %s/%x still in the file", c.bucket, c.key)
			}
		}
		if tx.Bucket(bucketSessions).Get(sk[:]) == nil {
			t.Error("session a was swept")
		}
		return nil
	})
}

// A damaged record stops Open with ErrCorrupt instead of being trusted;
// a file that is not bbolt is an error and left alone.
func TestCorruptRecordIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.PutSession(session("a"))
	mustApply(t, s, b)
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	sk := sessionKey(1)
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Put(sk[:], []byte{1, 5}) })
	db.Close()
	if _, err := Open(Options{Path: path}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a damaged session: %v", err)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	writeFile(t, garbage, bytes.Repeat([]byte("garbage!"), 4096))
	if _, err := Open(Options{Path: garbage}); err == nil {
		t.Fatal("Open of garbage succeeded")
	}
	if data := readFile(t, garbage); !bytes.HasPrefix(data, []byte("garbage!")) {
		t.Fatal("garbage file was modified")
	}
}

// A drained file is rewritten smaller (a low policy here), and nothing
// is lost: what remains loads, bodies read, and writes and a reopen go on
// from the new file.
func TestCompactionKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openTest(t, Options{Path: path})
	s.compact = compactPolicy{minFree: 128 << 10, maxLive: 32 << 20, ratio: 2, minPurge: 128 << 10} // before any Apply
	m := newModel()
	b := s.NewBatch()
	for k := range 60 {
		b.Reset()
		step(k, m, b)
		mustApply(t, s, b)
	}
	// A backlog for a few sessions, then drained.
	for seq := range 40 {
		b.Reset()
		id := b.AddBody(bytes.Repeat([]byte{'b'}, 4000))
		for _, c := range crashClients {
			if ms := m.sessions[c]; ms != nil {
				b.Enqueue(c, Entry{Seq: ms.nextSeq + uint64(seq), Body: id, QoS: 1})
			}
		}
		mustApply(t, s, b)
	}
	big := s.Stats()
	b.Reset()
	for _, c := range crashClients {
		if ms := m.sessions[c]; ms != nil {
			for seq := range 40 {
				b.Remove(c, ms.nextSeq+uint64(seq))
			}
			ms.nextSeq += 40
		}
	}
	mustApply(t, s, b)
	mustApply(t, s, s.NewBatch()) // compaction follows the done callbacks
	st := s.Stats()
	if st.Compacts == 0 || st.FileSize >= big.FileSize/2 {
		t.Fatalf("no compaction: %+v, was %+v", st, big)
	}
	got, _, err := storedModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, m); d != "" {
		t.Fatalf("after compaction: %s", d)
	}
	for k := 60; k < 80; k++ {
		b.Reset()
		step(k, m, b)
		mustApply(t, s, b)
	}
	s.Close()
	s = openTest(t, Options{Path: path})
	got, _, err = storedModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, m); d != "" {
		t.Fatalf("after compaction and reopen: %s", d)
	}
}

// Marks (a replaying publisher's position per session) come back after a
// reopen and go with their session.
func TestMarks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt", "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.PutSession(session("a"))
	b.PutSession(session("b"))
	b.PutMark("a", "downlink-C\x00commands/a", 7)
	b.PutMark("a", "downlink-C\x00commands/a", 9)
	b.PutMark("b", "downlink-C\x00commands/#", 3)
	mustApply(t, s, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.Marks()
	if err != nil || m["a"]["downlink-C\x00commands/a"] != 9 || m["b"]["downlink-C\x00commands/#"] != 3 || len(m) != 2 {
		t.Fatalf("marks %v %v", m, err)
	}
	b = s.NewBatch()
	b.DeleteSession("a")
	mustApply(t, s, b)
	if m, _ := s.Marks(); len(m) != 1 || m["a"] != nil {
		t.Fatalf("marks after deleting a: %v", m)
	}
}
