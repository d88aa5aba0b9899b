package sessstore

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// makeSessions stores n sessions with one QoS 1 subscription each, in
// batches of 1000, and returns their client ids.
func makeSessions(tb testing.TB, s *Store, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	b := s.NewBatch()
	for i := range ids {
		ids[i] = fmt.Sprintf("sensor-%05d", i)
		b.PutSession(&Session{ClientID: ids[i], Version: 5, Expiry: 0xFFFFFFFF, Disconnected: time.Now().UnixNano(),
			Subs: []Sub{{Filter: "plant/" + ids[i] + "/cmd/#", QoS: 1}}})
		if b.Len() == 1000 || i == n-1 {
			mustApply(tb, s, b)
			b.Reset()
		}
	}
	return ids
}

// One message of 256 bytes fanned out to 1000 offline sessions: one
// body, 1000 queue entries, one transaction.
func BenchmarkEnqueue1000Sessions(b *testing.B) {
	s := openTest(b, Options{})
	ids := makeSessions(b, s, 1000)
	payload := make([]byte, 256)
	batch := s.NewBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		batch.Reset()
		id := batch.AddBody(payload)
		for _, c := range ids {
			batch.Enqueue(c, Entry{Seq: uint64(i + 1), Body: id, QoS: 1})
		}
		mustApply(b, s, batch)
	}
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(st.FileSize-st.FileFree)/float64(st.Entries), "file-B/entry")
}

// The same from 8 publishers at once: their batches share commits.
func BenchmarkEnqueue1000SessionsParallel(b *testing.B) {
	s := openTest(b, Options{})
	ids := makeSessions(b, s, 1000)
	payload := make([]byte, 256)
	// Each publisher enqueues to its own slice of sessions: sequences
	// per session stay in order without coordination.
	const publishers = 8
	next := make(chan int, publishers)
	for p := range publishers {
		next <- p
	}
	b.SetParallelism(publishers / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := <-next
		mine := ids[p*len(ids)/publishers : (p+1)*len(ids)/publishers]
		batch := s.NewBatch()
		for seq := uint64(1); pb.Next(); seq++ {
			batch.Reset()
			id := batch.AddBody(payload)
			for _, c := range mine {
				batch.Enqueue(c, Entry{Seq: seq, Body: id, QoS: 1})
			}
			mustApply(b, s, batch)
		}
	})
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(st.Batches)/float64(st.Commits), "batches/commit")
}

// An ack: one entry removed (its body with it, when it was the last).
func BenchmarkRemove(b *testing.B) {
	s := openTest(b, Options{})
	ids := makeSessions(b, s, 100)
	batch := s.NewBatch()
	for seq := uint64(1); seq <= uint64(b.N/len(ids)+1); seq++ {
		id := batch.AddBody(make([]byte, 64))
		for _, c := range ids {
			batch.Enqueue(c, Entry{Seq: seq, Body: id, QoS: 1})
		}
		if batch.Len() > 10000 {
			mustApply(b, s, batch)
			batch.Reset()
		}
	}
	mustApply(b, s, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		batch.Reset()
		batch.Remove(ids[i%len(ids)], uint64(i/len(ids)+1))
		mustApply(b, s, batch)
	}
}

// The target: 10,000 persistent sessions with a QoS 1
// subscription each on a Raspberry Pi. Measures the file and the memory
// the store's index takes after a restart, and how long Open and Load
// take, with no queue and with one message queued for every session
// (stored once).
func TestFootprint10000Sessions(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 10,000 sessions")
	}
	const n = 10_000
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ids := makeSessions(t, s, n)
	s.Close()
	empty := measureReopen(t, path, n)

	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	id := b.AddBody(make([]byte, 256))
	for _, c := range ids {
		b.Enqueue(c, Entry{Seq: 1, Body: id, QoS: 1})
	}
	mustApply(t, s, b)
	if st := s.Stats(); st.Bodies != 1 || st.Entries != n {
		t.Fatalf("stats %+v", st)
	}
	s.Close()
	queued := measureReopen(t, path, n)

	// A backlog: 49 more messages for every session, one fan-out per
	// commit, measuring the pages each commit writes.
	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	b = s.NewBatch()
	for seq := uint64(2); seq <= 50; seq++ {
		b.Reset()
		id := b.AddBody(make([]byte, 256))
		for _, c := range ids {
			b.Enqueue(c, Entry{Seq: seq, Body: id, QoS: 1})
		}
		mustApply(t, s, b)
	}
	after := s.Stats()
	s.Close()
	backlog := measureReopen(t, path, n)
	perFanOut := (after.Written - before.Written) / 49

	t.Logf("10,000 sessions, one QoS 1 subscription each: file %d bytes (%d live, %.0f B/session); index in memory %d bytes (%.0f B/session); Open %v, Load %v",
		empty.file, empty.live, float64(empty.live)/n, empty.heap, float64(empty.heap)/n, empty.open, empty.load)
	t.Logf("plus one 256-byte message queued for each (one body): file %d bytes (%d live, +%.0f B/entry); index %d bytes; Open %v, Load %v",
		queued.file, queued.live, float64(queued.live-empty.live)/n, queued.heap, queued.open, queued.load)
	t.Logf("a backlog of 50 messages for each (500,000 entries, 50 bodies): %d bytes of pages written per fan-out to 10,000 sessions; file %d bytes (%d live, %.0f B/entry); index %d bytes (%.0f B/entry); Open %v, Load %v",
		perFanOut, backlog.file, backlog.live, float64(backlog.live-empty.live)/(50*n), backlog.heap, float64(backlog.heap-empty.heap)/(50*n), backlog.open, backlog.load)
	// Generous bounds that still catch a key or record gone wrong (a
	// client id in every queue key, a body per entry, an index entry per
	// queued message).
	if empty.live > 300*n || queued.live-empty.live > 80*n {
		t.Errorf("file too large: %d bytes live for the sessions, %d more for their queues", empty.live, queued.live-empty.live)
	}
	if empty.heap > 300*n || queued.heap > empty.heap+50*n {
		t.Errorf("index too large: %d bytes, %d with the queues", empty.heap, queued.heap)
	}
	// A fan-out writes its entries' pages, not a page per session's queue
	// (which would be 10,000 pages, 40 MB).
	if perFanOut > 100*n {
		t.Errorf("a fan-out to %d sessions writes %d bytes of pages", n, perFanOut)
	}
}

type footprint struct {
	file, live int64
	heap       uint64
	open, load time.Duration
}

func measureReopen(t *testing.T, path string, n int) footprint {
	t.Helper()
	var f footprint
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f.file = fi.Size()
	start := time.Now()
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	f.open = time.Since(start)
	start = time.Now()
	sessions := 0
	if err := s.Load(func(*Session, []Entry, []uint16) error { sessions++; return nil }); err != nil {
		t.Fatal(err)
	}
	f.load = time.Since(start)
	if sessions != n {
		t.Fatalf("loaded %d sessions", sessions)
	}
	st := s.Stats()
	f.live = st.FileSize - st.FileFree
	// What the open store keeps on the heap: the heap with it, less the
	// heap once it is closed and gone (the file itself is mapped, not
	// on the heap).
	var open, closed runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&open)
	s.Close()
	s = nil
	runtime.GC()
	runtime.ReadMemStats(&closed)
	if open.HeapAlloc > closed.HeapAlloc {
		f.heap = open.HeapAlloc - closed.HeapAlloc
	}
	return f
}
