// Package storetest is the conformance suite every msgstore.Store
// implementation must pass.
package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/leafgate/leafgate/store/msgstore"
)

// apply runs Apply and waits for done.
func apply(t *testing.T, s msgstore.Store, b *msgstore.Batch) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Apply(b, func(err error) { ch <- err })
	return <-ch
}

func appendN(t *testing.T, s msgstore.Store, from uint64, subjects ...string) {
	t.Helper()
	var b msgstore.Batch
	for i, subj := range subjects {
		seq := from + uint64(i)
		b.Append(msgstore.Msg{Seq: seq, Subject: subj, Data: []byte(fmt.Sprint(seq)), Time: int64(seq) * 1000})
	}
	if err := apply(t, s, &b); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func wantState(t *testing.T, s msgstore.Store, msgs, first, last uint64) {
	t.Helper()
	st := s.State()
	if st.Msgs != msgs || st.FirstSeq != first || st.LastSeq != last {
		t.Fatalf("state %+v, want msgs=%d first=%d last=%d", st, msgs, first, last)
	}
}

// Run runs the suite; open returns a fresh, empty store, and size is how
// the store counts a message's bytes (Msg.Size or Msg.FileSize).
func Run(t *testing.T, open func(t *testing.T) msgstore.Store, size func(*msgstore.Msg) uint64) {
	t.Run("empty", func(t *testing.T) {
		s := open(t)
		wantState(t, s, 0, 1, 0)
		if _, err := s.Load(1); !errors.Is(err, msgstore.ErrNotFound) {
			t.Fatalf("Load on empty: %v", err)
		}
		if _, err := s.LoadNext(">", 1); !errors.Is(err, msgstore.ErrNotFound) {
			t.Fatalf("LoadNext on empty: %v", err)
		}
	})
	t.Run("skip moves the last sequence", func(t *testing.T) {
		s := open(t)
		var b msgstore.Batch
		b.Skip(99)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, 0, 100, 99)
		b = msgstore.Batch{}
		b.Append(msgstore.Msg{Seq: 99, Subject: "a"})
		if err := apply(t, s, &b); !errors.Is(err, msgstore.ErrOutOfOrder) {
			t.Fatalf("append at skipped seq: %v", err)
		}
		appendN(t, s, 100, "a", "b")
		b = msgstore.Batch{}
		b.Skip(50) // behind: no effect
		b.RemoveRange(100, 101)
		b.Skip(200)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, 0, 201, 200)
		appendN(t, s, 201, "c")
		wantState(t, s, 1, 201, 201)
	})
	t.Run("count and last per subject", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 1, "a.x", "a.y", "b.x", "a.x", "b.x", "a.y")
		var b msgstore.Batch
		b.Remove(2)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			filter string
			start  uint64
			want   uint64
		}{{">", 1, 5}, {"", 3, 4}, {"a.*", 1, 3}, {"a.x", 4, 1}, {"*.x", 5, 1}, {"c", 1, 0}, {">", 7, 0}} {
			if got := s.Count(tc.filter, tc.start); got != tc.want {
				t.Errorf("Count(%q, %d) = %d, want %d", tc.filter, tc.start, got, tc.want)
			}
		}
		batch, err := s.LoadBatch("*.x", 1, 2)
		if err != nil || len(batch) != 2 || batch[0].Seq != 1 || batch[1].Seq != 3 {
			t.Errorf("LoadBatch(*.x, 1, 2) = %v, %v", batch, err)
		}
		if batch, err = s.LoadBatch(">", 2, 10); err != nil || len(batch) != 4 || batch[0].Seq != 3 {
			t.Errorf("LoadBatch(>, 2, 10) = %v, %v", batch, err)
		}
		if got := fmt.Sprint(s.LastSeqs(">", 0)); got != "[4 5 6]" {
			t.Errorf("LastSeqs(>) = %s", got)
		}
		if n := s.State().Subjects; n != 3 {
			t.Errorf("State().Subjects = %d, want 3", n)
		}
		if got := fmt.Sprint(s.Subjects("a.*")); got != "map[a.x:{2 4} a.y:{1 6}]" {
			t.Errorf("Subjects(a.*) = %s", got)
		}
		if got := fmt.Sprint(s.LastSeqs("a.*", 5)); got != "[6]" {
			t.Errorf("LastSeqs(a.*, 5) = %s", got)
		}
	})
	t.Run("index keys change with the batch", func(t *testing.T) {
		s := open(t)
		var b msgstore.Batch
		b.Append(msgstore.Msg{Seq: 1, Subject: "a"})
		b.IndexPut([]byte("k2"))
		b.IndexPut([]byte("k1"))
		b.IndexPut([]byte("k3"))
		b.IndexPut([]byte("j9"))
		b.IndexPut([]byte("l0"))
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		b = msgstore.Batch{}
		b.IndexDelete([]byte("k1"))
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%s", s.IndexScan([]byte("k"), -1)); got != "[k2 k3]" {
			t.Fatalf("IndexScan(k, -1) = %s", got)
		}
		if got := fmt.Sprintf("%s", s.IndexScan([]byte("k"), 1)); got != "[k2]" {
			t.Fatalf("IndexScan(k, 1) = %s", got)
		}
		if got := fmt.Sprintf("%s", s.IndexScan(nil, 2)); got != "[j9 k2]" {
			t.Fatalf("IndexScan(nil, 2) = %s", got)
		}
	})
	t.Run("append load", func(t *testing.T) {
		s := open(t)
		var b msgstore.Batch
		m1 := msgstore.Msg{Seq: 1, Subject: "a.b", Header: []byte("NATS/1.0\r\nX: y\r\n\r\n"), Data: []byte("one"), Time: 42}
		m2 := msgstore.Msg{Seq: 2, Subject: "a.c", Data: nil, Time: 43}
		b.Append(m1)
		b.Append(m2)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		m, err := s.Load(1)
		if err != nil || m.Subject != "a.b" || string(m.Data) != "one" || string(m.Header) != "NATS/1.0\r\nX: y\r\n\r\n" || m.Time != 42 || m.Seq != 1 {
			t.Fatalf("Load(1) = %+v, %v", m, err)
		}
		m, err = s.Load(2)
		if err != nil || m.Header != nil || len(m.Data) != 0 {
			t.Fatalf("Load(2) = %+v, %v", m, err)
		}
		st := s.State()
		if st.Msgs != 2 || st.FirstTime != 42 || st.LastTime != 43 || st.Bytes != size(&m1)+size(&m2) {
			t.Fatalf("state %+v", st)
		}
	})
	t.Run("sequence order enforced, batch atomic", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 1, "x", "y")
		var b msgstore.Batch
		b.Append(msgstore.Msg{Seq: 3, Subject: "ok"})
		b.Append(msgstore.Msg{Seq: 3, Subject: "dup"})
		if err := apply(t, s, &b); !errors.Is(err, msgstore.ErrOutOfOrder) {
			t.Fatalf("duplicate seq: %v", err)
		}
		wantState(t, s, 2, 1, 2) // nothing from the bad batch
		appendN(t, s, 10, "z")   // gaps are fine
		wantState(t, s, 3, 1, 10)
	})
	t.Run("load next and last by subject", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 1, "kv.a", "kv.b", "kv.a", "other", "kv.b")
		m, err := s.LoadNext("kv.b", 1)
		if err != nil || m.Seq != 2 {
			t.Fatalf("LoadNext kv.b from 1 = %d, %v", m.Seq, err)
		}
		m, err = s.LoadNext("kv.*", 4)
		if err != nil || m.Seq != 5 {
			t.Fatalf("LoadNext kv.* from 4 = %d, %v", m.Seq, err)
		}
		if _, err := s.LoadNext("nope", 1); !errors.Is(err, msgstore.ErrNotFound) {
			t.Fatalf("LoadNext nope: %v", err)
		}
		m, err = s.LoadLast("kv.a")
		if err != nil || m.Seq != 3 {
			t.Fatalf("LoadLast kv.a = %d, %v", m.Seq, err)
		}
		if ss := s.SubjectState("kv.b"); ss.Msgs != 2 || ss.Last != 5 {
			t.Fatalf("SubjectState kv.b = %+v", ss)
		}
		if ss := s.SubjectState("none"); ss.Msgs != 0 || ss.Last != 0 {
			t.Fatalf("SubjectState none = %+v", ss)
		}
	})
	t.Run("remove keeps indexes right", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 1, "a", "b", "a", "b", "a")
		var b msgstore.Batch
		b.Remove(5) // last of "a": its last becomes 3
		b.Remove(1) // first: first becomes 2
		b.Remove(99)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, 3, 2, 5)
		if ss := s.SubjectState("a"); ss.Msgs != 1 || ss.Last != 3 {
			t.Fatalf("a = %+v", ss)
		}
		if st := s.State(); st.FirstTime != 2000 {
			t.Fatalf("first time %d", st.FirstTime)
		}
		if _, err := s.Load(5); !errors.Is(err, msgstore.ErrNotFound) {
			t.Fatalf("removed message loads: %v", err)
		}
		var r msgstore.Batch
		r.RemoveRange(0, 4)
		if err := apply(t, s, &r); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, 0, 6, 5) // empty: first = last+1
		if ss := s.SubjectState("b"); ss.Msgs != 0 {
			t.Fatalf("b = %+v", ss)
		}
		appendN(t, s, 6, "c")
		wantState(t, s, 1, 6, 6)
	})
	t.Run("range removal across many", func(t *testing.T) {
		s := open(t)
		subjects := make([]string, 3000)
		for i := range subjects {
			subjects[i] = fmt.Sprintf("s.%d", i%7)
		}
		appendN(t, s, 1, subjects...)
		var b msgstore.Batch
		b.RemoveRange(1, 2500)
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, 500, 2501, 3000)
		var total uint64
		for i := 0; i < 7; i++ {
			ss := s.SubjectState(fmt.Sprintf("s.%d", i))
			total += ss.Msgs
			if m, err := s.LoadLast(fmt.Sprintf("s.%d", i)); err != nil || m.Seq != ss.Last {
				t.Fatalf("LoadLast s.%d = %d, %v; state %+v", i, m.Seq, err, ss)
			}
		}
		if total != 500 {
			t.Fatalf("subject counts sum to %d", total)
		}
	})
	t.Run("loaded messages are copies", func(t *testing.T) {
		s := open(t)
		data := []byte("orig")
		var b msgstore.Batch
		b.Append(msgstore.Msg{Seq: 1, Subject: "c", Data: data})
		if err := apply(t, s, &b); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X'
		m, _ := s.Load(1)
		m.Data[1] = 'Y'
		if m2, _ := s.Load(1); string(m2.Data) != "orig" {
			t.Fatalf("store shares memory with callers: %q", m2.Data)
		}
	})
	t.Run("closed", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var b msgstore.Batch
		b.Append(msgstore.Msg{Seq: 1, Subject: "x"})
		if err := apply(t, s, &b); !errors.Is(err, msgstore.ErrClosed) {
			t.Fatalf("Apply after Close: %v", err)
		}
		if _, err := s.Load(1); !errors.Is(err, msgstore.ErrClosed) {
			t.Fatalf("Load after Close: %v", err)
		}
	})
}
