package sessstore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/leafgate/leafgate/internal/testfs"
	"github.com/leafgate/leafgate/store/msgstore"
)

// With the disk "full" (the hook fails every commit with ENOSPC while the
// reserve holds space, as a real full disk would), groups that add fail
// without touching the reserve, and groups that only remove or rewrite
// spend it and commit. Reads go on throughout.
func TestReserveLetsDeletesCommit(t *testing.T) {
	dir := t.TempDir()
	res, err := msgstore.OpenReserve(filepath.Join(dir, "space.reserve"), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	var full atomic.Bool
	var releases atomic.Int32
	s := openTest(t, Options{Path: filepath.Join(dir, "mqtt", "sessions.db"), Reserve: res, BeforeCommit: func() error {
		if !full.Load() {
			return nil
		}
		if res.Held() > 0 {
			return fmt.Errorf("write sessions.db: %w", syscall.ENOSPC)
		}
		releases.Add(1)
		return nil
	}})
	b := s.NewBatch()
	for _, c := range []string{"a", "b"} {
		b.PutSession(session(c))
	}
	id := b.AddBody([]byte("m"))
	for seq := uint64(1); seq <= 3; seq++ {
		b.Enqueue("a", Entry{Seq: seq, Body: id, QoS: 2})
		b.Enqueue("b", Entry{Seq: seq, Body: id, QoS: 1})
	}
	mustApply(t, s, b)

	full.Store(true)
	add := func() *Batch {
		b := s.NewBatch()
		x := b.AddBody([]byte("n"))
		b.Enqueue("a", Entry{Seq: 10, Body: x, QoS: 1})
		return b
	}
	if err := apply(s, add()); !msgstore.IsNoSpace(err) {
		t.Fatalf("enqueue on a full disk: %v", err)
	}
	if res.Held() != res.Size() {
		t.Fatal("an enqueue spent the reserve")
	}
	// Reads work on a full disk.
	if got := body(t, s, id); got != "m" {
		t.Fatalf("body %q", got)
	}
	if n := len(loadAll(t, s)); n != 2 {
		t.Fatalf("loaded %d sessions", n)
	}
	// A remove beside an enqueue in one batch does not spend it either.
	b = add()
	b.Remove("a", 1)
	if err := apply(s, b); !msgstore.IsNoSpace(err) || res.Held() != res.Size() {
		t.Fatalf("mixed batch on a full disk: %v, reserve %d", err, res.Held())
	}
	for i, fill := range []func(b *Batch){
		func(b *Batch) { b.Remove("b", 1) },
		func(b *Batch) { b.Update("a", Entry{Seq: 1, PacketID: 1, Released: true}) },
		func(b *Batch) { b.RemoveIncoming("a", 1); b.Remove("a", 1) },
		func(b *Batch) { b.DeleteSession("b") },
	} {
		b := s.NewBatch()
		fill(b)
		if err := apply(s, b); err != nil {
			t.Fatalf("delete %d on a full disk: %v", i, err)
		}
		if int(releases.Load()) != i+1 {
			t.Fatalf("delete %d committed without spending the reserve", i)
		}
		// The disk here is not really full: the reserve is filled again
		// (after done: an empty batch waits for the committer).
		mustApply(t, s, s.NewBatch())
		if res.Held() != res.Size() {
			t.Fatalf("reserve not refilled: %d", res.Held())
		}
	}
	full.Store(false)
	mustApply(t, s, add())
	if st := s.Stats(); st.Sessions != 1 || st.Entries != 3 || st.Bodies != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// On a small real file system filled to the last block: every batch of a
// failing commit gets the error, reads work, removing entries and
// deleting sessions commit (the reserve pays), the deletes give the
// space back (the file is compacted), the reserve is whole again and new
// sessions can be stored.
func TestFullDisk(t *testing.T) {
	for _, tc := range []struct {
		kind testfs.Kind
		size int64
	}{{testfs.Tmpfs, 4 << 20}, {testfs.Ext4, 8 << 20}} {
		t.Run(string(tc.kind), func(t *testing.T) { testFullDisk(t, testfs.Mount(t, tc.kind, tc.size)) })
	}
}

func testFullDisk(t *testing.T, dir string) {
	res, err := msgstore.OpenReserve(filepath.Join(dir, "space.reserve"), 256<<10)
	if err != nil || res.Held() != 256<<10 {
		t.Fatalf("reserve: %v, held %d", err, res.Held())
	}
	s := openTest(t, Options{Path: filepath.Join(dir, "mqtt", "sessions.db"), Reserve: res})
	payload := bytes.Repeat([]byte("p"), 1900) // two to a page
	clients := 0
	seq := uint64(0)
	// Sessions with queues until the disk is full, then enqueues until
	// several fail in a row (a failed commit may leave blocks the next
	// one uses); then a filler takes whatever is left, and again.
	fill := func() {
		for fails := 0; fails < 3; {
			b := s.NewBatch()
			if clients < 200 {
				for range 10 {
					clients++
					b.PutSession(session(fmt.Sprint("c", clients)))
				}
			}
			for range 4 {
				seq++
				id := b.AddBody(payload)
				for c := 1; c <= clients; c += 7 {
					b.Enqueue(fmt.Sprint("c", c), Entry{Seq: seq, Body: id, QoS: 1})
				}
			}
			err := apply(s, b)
			if err == nil {
				fails = 0
				continue
			}
			if !msgstore.IsNoSpace(err) {
				t.Fatalf("enqueue on a filling disk: %v", err)
			}
			if clients < 200 {
				clients -= 10
			}
			fails++
		}
	}
	fill()
	testfs.Fill(t, dir)
	fill()
	// Then the shape of batch tried below, until the file's own free
	// pages are used up too.
	extra := 0
	for fails := 0; fails < 3; {
		b := s.NewBatch()
		b.PutSession(session(fmt.Sprint("x", extra)))
		seq++
		b.Enqueue("c1", Entry{Seq: seq, Body: b.AddBody(payload), QoS: 1})
		if err := apply(s, b); err == nil {
			extra++
			fails = 0
		} else if msgstore.IsNoSpace(err) {
			fails++
		} else {
			t.Fatal(err)
		}
	}
	stored := s.Stats()
	if stored.Entries < 1000 || stored.Sessions < 100 {
		t.Fatalf("only %+v stored before the disk was full", stored)
	}
	// Concurrent batches share the failing commit: each gets the error.
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		b := s.NewBatch()
		b.PutSession(session(fmt.Sprint("late", i)))
		b.Enqueue("c1", Entry{Seq: seq + 1 + uint64(i), Body: b.AddBody(payload), QoS: 1})
		s.Apply(b, func(err error) { errs[i] = err; wg.Done() })
	}
	wg.Wait()
	for i, err := range errs {
		if !msgstore.IsNoSpace(err) {
			t.Fatalf("batch %d on a full disk: %v", i, err)
		}
	}
	if res.Held() != res.Size() {
		t.Fatalf("adds spent the reserve: held %d", res.Held())
	}
	// Reads.
	all := loadAll(t, s)
	q := all["c1"].Queue
	if len(all) != stored.Sessions || len(q) == 0 || body(t, s, q[0].Body) != string(payload) {
		t.Fatalf("reads on a full disk: %d sessions, c1 queue %d", len(all), len(q))
	}
	// An ack, then every session deleted.
	b := s.NewBatch()
	b.Remove("c1", q[0].Seq)
	if err := apply(s, b); err != nil {
		t.Fatalf("ack on a full disk: %v", err)
	}
	size := s.Stats().FileSize
	b.Reset()
	for c := range all {
		b.DeleteSession(c)
	}
	if err := apply(s, b); err != nil {
		t.Fatalf("deleting sessions on a full disk: %v", err)
	}
	mustApply(t, s, s.NewBatch()) // compaction and refill follow the done callbacks
	st := s.Stats()
	if st.Sessions != 0 || st.Entries != 0 || st.Bodies != 0 {
		t.Fatalf("stats after deleting everything: %+v", st)
	}
	if st.Compacts == 0 || st.FileSize > size/4 {
		t.Fatalf("file after deleting everything: %+v, was %d bytes", st, size)
	}
	if res.Held() != res.Size() {
		t.Fatalf("reserve after the deletes: held %d of %d", res.Held(), res.Size())
	}
	if free := testfs.Free(t, dir); free < size/2 {
		t.Fatalf("%d bytes free after deleting a %d byte store", free, size)
	}
	b.Reset()
	b.PutSession(session("new"))
	b.Enqueue("new", Entry{Seq: 1, Body: b.AddBody(payload), QoS: 1})
	if err := apply(s, b); err != nil {
		t.Fatalf("store after the deletes: %v", err)
	}
}
