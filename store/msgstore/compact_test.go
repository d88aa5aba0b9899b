package msgstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// smallPolicy compacts files of a few MB, so tests stay fast.
var smallPolicy = compactPolicy{minFree: 1 << 20, maxLive: 2 << 20, ratio: 4}

func applySync(t *testing.T, s Store, b *Batch) {
	t.Helper()
	done := make(chan error, 1)
	s.Apply(b, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// settle waits until the committer has finished whatever follows the last
// commit (a compaction runs after the acks): a later batch is only
// committed after it.
func settle(t *testing.T, s Store) {
	t.Helper()
	applySync(t, s, &Batch{})
}

// fill appends n messages of 512 bytes after the stream's last sequence, in
// batches of 500, with one index key per message.
func fill(t *testing.T, s Store, n int) {
	t.Helper()
	payload := bytes.Repeat([]byte("x"), 512)
	first := s.State().LastSeq + 1
	var b Batch
	for seq := first; seq < first+uint64(n); seq++ {
		b.Append(Msg{Seq: seq, Subject: fmt.Sprintf("drain.%d", seq%7), Data: payload, Time: int64(seq)})
		b.IndexPut(fmt.Appendf(nil, "k%08d", seq))
		if b.Len() >= 1000 {
			applySync(t, s, &b)
			b.Reset()
		}
	}
	if b.Len() > 0 {
		applySync(t, s, &b)
	}
}

// Draining a stream that had grown its file swaps in a compact copy that
// keeps the state, the remaining messages and the index, and the copy
// survives a reopen.
func TestCompactAfterDrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	b.compact = smallPolicy
	s, _ := b.Stream("S")
	fill(t, s, 20000) // about 12 MB
	big := b.FileStats()
	if big.Size < 8<<20 || big.Compacted != 0 {
		t.Fatalf("after fill: %+v", big)
	}

	var rm Batch
	rm.RemoveRange(1, 19990)
	applySync(t, s, &rm)
	settle(t, s)
	small := b.FileStats()
	if small.Compacted != 1 {
		t.Fatalf("no compaction after draining: %+v", small)
	}
	if small.Size >= big.Size/8 {
		t.Fatalf("file %d bytes after compaction, was %d", small.Size, big.Size)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() >= big.Size/8 {
		t.Fatalf("file on disk after compaction: %v bytes, %v (was %d)", fi.Size(), err, big.Size)
	}
	want := s.State()
	if want.Msgs != 10 || want.FirstSeq != 19991 || want.LastSeq != 20000 {
		t.Fatalf("state after drain: %+v", want)
	}
	check := func(s Store) {
		t.Helper()
		if got := s.State(); got != want {
			t.Fatalf("state %+v, want %+v", got, want)
		}
		m, err := s.Load(19995)
		if err != nil || m.Subject != "drain.3" || len(m.Data) != 512 {
			t.Fatalf("Load(19995): %+v %v", m.Subject, err)
		}
		if _, err := s.Load(100); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load of a removed message: %v", err)
		}
		if keys := s.IndexScan([]byte("k"), -1); uint64(len(keys)) != want.LastSeq {
			t.Fatalf("index keys after compaction: %d, want %d", len(keys), want.LastSeq)
		}
		if ss := s.SubjectState("drain.3"); ss.Msgs == 0 {
			t.Fatalf("subject state lost: %+v", ss)
		}
	}
	check(s)
	// Writing continues on the new file.
	fill(t, s, 5)
	want = s.State()
	if want.LastSeq != 20005 {
		t.Fatalf("append after compaction: %+v", want)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := openTestBolt(t, path)
	s2, _ := b2.Stream("S")
	want.Msgs = 15
	check(s2)
}

// A file that is mostly live is not rewritten, however much is free.
func TestNoCompactWhileMostlyLive(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "messages.db"))
	b.compact = smallPolicy
	s, _ := b.Stream("S")
	fill(t, s, 20000)
	var rm Batch
	rm.RemoveRange(1, 10000) // half the data stays
	applySync(t, s, &rm)
	settle(t, s)
	if fs := b.FileStats(); fs.Compacted != 0 {
		t.Fatalf("compacted a half-full file: %+v", fs)
	}
}

// A copy left by a compaction interrupted before its rename is discarded
// at open; the original is what counts.
func TestStaleCompactCopyIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := b.Stream("S")
	fill(t, s, 10)
	b.Close()
	if err := os.WriteFile(path+compactSuffix, []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := openTestBolt(t, path)
	s2, _ := b2.Stream("S")
	if st := s2.State(); st.Msgs != 10 {
		t.Fatalf("state: %+v", st)
	}
	if _, err := os.Stat(path + compactSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale copy still there: %v", err)
	}
}

// Readers keep working while the file is swapped under them (run with
// -race): every Load either finds its message or reports it removed.
func TestCompactWithConcurrentReaders(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "messages.db"))
	b.compact = smallPolicy
	s, _ := b.Stream("S")
	fill(t, s, 20000)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(19999); !stop.Load(); seq = 19990 + seq%10 + 1 {
				if _, err := s.Load(seq); err != nil {
					errs <- err
					return
				}
				_ = s.IndexScan([]byte("k0001"), 5)
			}
		}()
	}
	var rm Batch
	rm.RemoveRange(1, 19980)
	applySync(t, s, &rm)
	settle(t, s)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reader during compaction: %v", err)
	}
	if fs := b.FileStats(); fs.Compacted != 1 {
		t.Fatalf("no compaction: %+v", fs)
	}
}

// killDrainer is the child of TestKillNineDuringCompaction: it fills the
// stream and drains it again and again, so the small policy compacts the
// file every few hundred milliseconds. It prints "a first last" for each
// acknowledged append, "r first last" before it asks for a removal, and
// "R first last compactions" once the removal is acknowledged.
func killDrainer(path string) {
	b, err := OpenBolt(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	b.compact = smallPolicy
	s, _ := b.Stream("S")
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
		mu.Unlock()
	}
	payload := bytes.Repeat([]byte("p"), 2048)
	next := s.State().LastSeq + 1
	sem := make(chan struct{}, 8)
	for {
		if st := s.State(); st.Msgs > 2000 {
			for range cap(sem) { // no appends in flight: removals see them all
				sem <- struct{}{}
			}
			first, last := st.FirstSeq, st.LastSeq-5
			say("r %d %d", first, last)
			var rm Batch
			rm.RemoveRange(first, last)
			done := make(chan error, 1)
			s.Apply(&rm, func(err error) { done <- err })
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			say("R %d %d %d", first, last, b.FileStats().Compacted)
			for range cap(sem) {
				<-sem
			}
		}
		sem <- struct{}{}
		var batch Batch
		first := next
		for range 50 {
			batch.Append(Msg{Seq: next, Subject: "d", Data: append(strconv.AppendUint(nil, next, 10), payload...), Time: int64(next)})
			next++
		}
		last := next - 1
		s.Apply(&batch, func(err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			say("a %d %d", first, last)
			<-sem
		})
	}
}

// Kill -9 a process that keeps draining and compacting its file: after
// every kill the file opens, every acknowledged message that no removal
// touched is intact, and no acknowledged removal is undone.
func TestKillNineDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	path := filepath.Join(t.TempDir(), "messages.db")
	type span struct{ first, last uint64 }
	var appended, removing, removed []span
	compactions := 0
	in := func(spans []span, seq uint64) bool {
		for _, sp := range spans {
			if seq >= sp.first && seq <= sp.last {
				return true
			}
		}
		return false
	}
	for round := 0; round < 6; round++ {
		roundCompactions := 0
		killChild(t, "MSGSTORE_KILL_DRAINER", path, 100+rand.IntN(400), func(line string) {
			var kind string
			var sp span
			if k, _ := fmt.Sscan(line, &kind, &sp.first, &sp.last, &roundCompactions); k < 3 {
				return
			}
			switch kind {
			case "a":
				appended = append(appended, sp)
			case "r":
				removing = append(removing, sp)
			case "R":
				removed = append(removed, sp)
			}
		})
		compactions += roundCompactions
		b, err := OpenBolt(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		s, _ := b.Stream("S")
		for _, sp := range appended {
			for seq := sp.first; seq <= sp.last; seq++ {
				m, err := s.Load(seq)
				switch {
				case in(removed, seq):
					if err == nil {
						b.Close()
						t.Fatalf("round %d: seq %d is back after its removal was acknowledged", round, seq)
					}
				case in(removing, seq):
					// Its removal may or may not have committed.
				case err != nil || !bytes.HasPrefix(m.Data, strconv.AppendUint(nil, seq, 10)):
					b.Close()
					t.Fatalf("round %d: acknowledged seq %d lost or damaged: %v", round, seq, err)
				}
			}
		}
		b.Close()
	}
	if compactions == 0 {
		t.Fatal("no compaction happened before the kills: the test proved nothing")
	}
	t.Logf("%d compactions across 6 kill -9 rounds; every acknowledged write held", compactions)
}

// A compaction that fails (here the copy's path is taken) leaves the file
// as it was, says so in the log, and is not retried by every later
// commit.
func TestFailedCompactionIsLoggedAndBacksOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.db")
	b := openTestBolt(t, path)
	b.compact = smallPolicy
	var logged bytes.Buffer
	b.SetLogger(slog.New(slog.NewTextHandler(&logged, nil)))
	if err := os.MkdirAll(filepath.Join(path+compactSuffix, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, _ := b.Stream("S")
	for round := 0; round < 2; round++ {
		fill(t, s, 20000)
		var rm Batch
		rm.RemoveRange(s.State().FirstSeq, s.State().LastSeq-10)
		applySync(t, s, &rm)
		settle(t, s)
	}
	if fs := b.FileStats(); fs.Compacted != 0 {
		t.Fatalf("compacted though the copy could not be written: %+v", fs)
	}
	if n := strings.Count(logged.String(), "compaction failed"); n != 1 {
		t.Fatalf("%d failure reports for two drains within a minute, want 1:\n%s", n, logged.String())
	}
	if st := s.State(); st.Msgs != 10 {
		t.Fatalf("state after failed compactions: %+v", st)
	}
}
