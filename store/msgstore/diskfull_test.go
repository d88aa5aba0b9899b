package msgstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/leafgate/leafgate/internal/testfs"
)

// tryApply applies b and returns the commit's error.
func tryApply(s Store, b *Batch) error {
	done := make(chan error, 1)
	s.Apply(b, func(err error) { done <- err })
	return <-done
}

// fillDisk appends to s until the disk is full: big batches, then single
// messages until even those fail (the file's own free pages used up), then
// a filler file takes whatever the file system has left. It returns the
// last stored sequence.
func fillDisk(t *testing.T, s Store, dir string) uint64 {
	t.Helper()
	payload := bytes.Repeat([]byte("x"), 300)
	seq := s.State().LastSeq
	// A failed commit may leave blocks it wrote behind for the next try,
	// so single appends go on until several fail in a row.
	appendUntilFull := func(per, fails int) {
		for failed := 0; failed < fails; {
			var b Batch
			for i := 1; i <= per; i++ {
				b.Append(Msg{Seq: seq + uint64(i), Subject: fmt.Sprintf("d.%d", i%5), Data: payload, Time: int64(seq) + int64(i)})
			}
			err := tryApply(s, &b)
			if err == nil {
				seq += uint64(per)
				failed = 0
				continue
			}
			if !IsNoSpace(err) {
				t.Fatalf("append on a filling disk: %v, want no space left", err)
			}
			failed++
		}
	}
	appendUntilFull(100, 1)
	appendUntilFull(1, 3)
	testfs.Fill(t, dir)
	appendUntilFull(1, 3)
	return seq
}

// On a small real file system filled to the last block, removing one
// message and purging everything still commit (the reserve pays for their
// copied pages), the purge gives the file's space back to the file system
// whatever the file's size, the reserve is whole again, and a new file can
// be created and written. Publishing never spends the reserve.
func TestPurgeOnFullDisk(t *testing.T) {
	for _, tc := range []struct {
		kind testfs.Kind
		size int64
	}{{testfs.Tmpfs, 4 << 20}, {testfs.Ext4, 8 << 20}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			dir := testfs.Mount(t, tc.kind, tc.size)
			res, err := OpenReserve(filepath.Join(dir, "reserve"), 256<<10)
			if err != nil || res.Held() != 256<<10 {
				t.Fatalf("reserve: %v, held %d", err, res.Held())
			}
			b := openTestBolt(t, filepath.Join(dir, "messages.db"))
			b.SetReserve(res)
			s, _ := b.Stream("S")
			last := fillDisk(t, s, dir)
			if free := testfs.Free(t, dir); free > 64<<10 {
				t.Fatalf("%d bytes free after filling the disk", free)
			}
			stored := s.State().Msgs
			if stored < 1000 {
				t.Fatalf("only %d messages stored", stored)
			}
			// The failed appends did not spend the reserve.
			if res.Held() != res.Size() {
				t.Fatalf("appends spent the reserve: held %d", res.Held())
			}
			// Reads work.
			if m, err := s.Load(last); err != nil || m.Seq != last {
				t.Fatalf("read on a full disk: %v", err)
			}

			var rm Batch
			rm.Remove(5)
			if err := tryApply(s, &rm); err != nil {
				t.Fatalf("removing a message on a full disk: %v", err)
			}
			size := b.FileStats().Size
			var purge Batch
			purge.RemoveRange(1, last)
			if err := tryApply(s, &purge); err != nil {
				t.Fatalf("purge on a full disk: %v", err)
			}
			settle(t, s)
			if st := s.State(); st.Msgs != 0 || st.FirstSeq != last+1 {
				t.Fatalf("state after purge: %+v", st)
			}
			fs := b.FileStats()
			if fs.Compacted == 0 || fs.Size > size/8 {
				t.Fatalf("file after purge: %+v, was %d bytes", fs, size)
			}
			if res.Held() != res.Size() {
				t.Fatalf("reserve after purge: held %d of %d", res.Held(), res.Size())
			}
			if free := testfs.Free(t, dir); free < size/2 {
				t.Fatalf("%d bytes free after purging a %d byte file", free, size)
			}
			// The space is there for other files and for the stream.
			b2 := openTestBolt(t, filepath.Join(dir, "other.db"))
			s2, err := b2.Stream("T")
			if err != nil {
				t.Fatal(err)
			}
			var w Batch
			w.Append(Msg{Seq: 1, Subject: "t", Data: bytes.Repeat([]byte("y"), 1000)})
			if err := tryApply(s2, &w); err != nil {
				t.Fatalf("write a new file after the purge: %v", err)
			}
			var app Batch
			app.Append(Msg{Seq: last + 1, Subject: "d.1", Data: []byte("x")})
			if err := tryApply(s, &app); err != nil {
				t.Fatalf("append after the purge: %v", err)
			}
		})
	}
}

// A reserve opened on a full disk holds what fits, without an error, and
// fills up once space comes back; Release gives its blocks to the file
// system.
func TestReserveHoldsWhatFits(t *testing.T) {
	dir := testfs.Mount(t, testfs.Tmpfs, 1<<20)
	filler := testfs.Fill(t, dir)
	res, err := OpenReserve(filepath.Join(dir, "reserve"), 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Held() != 0 {
		t.Fatalf("reserve on a full disk holds %d", res.Held())
	}
	if err := res.Refill(); !IsNoSpace(err) {
		t.Fatalf("refill on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	free := testfs.Free(t, dir)
	if err := res.Refill(); err != nil || res.Held() != 256<<10 {
		t.Fatalf("refill: %v, held %d", err, res.Held())
	}
	if got := free - testfs.Free(t, dir); got < 256<<10 {
		t.Fatalf("a full reserve takes %d bytes of the disk", got)
	}
	if n, err := res.Release(); err != nil || n != 256<<10 || testfs.Free(t, dir) != free {
		t.Fatalf("release: %d, %v; free %d, want %d", n, err, testfs.Free(t, dir), free)
	}
	// Reopened, a full reserve file is taken as it is.
	_ = res.Refill()
	res2, err := OpenReserve(filepath.Join(dir, "reserve"), 256<<10)
	if err != nil || res2.Held() != 256<<10 {
		t.Fatalf("reopen: %v, held %d", err, res2.Held())
	}
}

// Only groups that remove and add nothing but consumer state may spend the
// reserve.
func TestOnlyRemoves(t *testing.T) {
	batch := func(fn func(b *Batch)) *applyReq {
		var b Batch
		fn(&b)
		return &applyReq{batch: &b}
	}
	meta := func(fn func(m *MetaBatch)) *applyReq {
		var m MetaBatch
		fn(&m)
		return &applyReq{meta: &m}
	}
	for _, tc := range []struct {
		name  string
		group []*applyReq
		want  bool
	}{
		{"remove", []*applyReq{batch(func(b *Batch) { b.Remove(1) })}, true},
		{"range with consumer state", []*applyReq{batch(func(b *Batch) { b.RemoveRange(1, 9); b.PutMeta("cs/x", []byte{1}) })}, true},
		{"index delete", []*applyReq{batch(func(b *Batch) { b.IndexDelete([]byte("t")) })}, true},
		{"meta delete", []*applyReq{meta(func(m *MetaBatch) { m.Delete("s/x") })}, true},
		{"append", []*applyReq{batch(func(b *Batch) { b.Remove(1); b.Append(Msg{Seq: 2}) })}, false},
		{"index put", []*applyReq{batch(func(b *Batch) { b.IndexPut([]byte("t")) })}, false},
		{"consumer state alone", []*applyReq{batch(func(b *Batch) { b.PutMeta("cs/x", []byte{1}) })}, false},
		{"meta put", []*applyReq{meta(func(m *MetaBatch) { m.Delete("a"); m.Put("s/x", []byte{1}) })}, false},
		{"remove beside an append", []*applyReq{batch(func(b *Batch) { b.Remove(1) }), batch(func(b *Batch) { b.Append(Msg{Seq: 2}) })}, false},
		{"nothing", []*applyReq{batch(func(b *Batch) { b.Skip(5) })}, false},
	} {
		if got := onlyRemoves(tc.group); got != tc.want {
			t.Errorf("%s: onlyRemoves = %v, want %v", tc.name, got, tc.want)
		}
	}
}
