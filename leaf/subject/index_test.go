package subject

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

func plainOf(r *Result[int]) []int {
	out := slices.Clone(r.Plain)
	sort.Ints(out)
	return out
}

func TestIndexBasics(t *testing.T) {
	ix := NewIndex[int]()
	mustInsert := func(p, q string, v int, wantFirst bool) {
		t.Helper()
		first, err := ix.Insert(p, q, v)
		if err != nil {
			t.Fatalf("Insert(%q,%q,%d): %v", p, q, v, err)
		}
		if first != wantFirst {
			t.Fatalf("Insert(%q,%q,%d) first = %v, want %v", p, q, v, first, wantFirst)
		}
	}
	mustInsert("foo.bar", "", 1, true)
	mustInsert("foo.*", "", 2, true)
	mustInsert("foo.>", "", 3, true)
	mustInsert(">", "", 4, true)
	mustInsert("foo.bar", "", 5, false)
	mustInsert("foo.bar", "q", 6, true)
	mustInsert("foo.*", "q", 7, true)
	mustInsert("foo.*", "other", 8, true)

	r := ix.Match([]byte("foo.bar"))
	if got, want := plainOf(r), []int{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("plain = %v, want %v", got, want)
	}
	if len(r.Queues) != 2 {
		t.Fatalf("queues = %+v, want 2 groups", r.Queues)
	}
	for _, g := range r.Queues {
		m := slices.Clone(g.Members)
		sort.Ints(m)
		switch g.Name {
		case "q":
			if !slices.Equal(m, []int{6, 7}) {
				t.Fatalf("group q = %v, want merged [6 7]", m)
			}
		case "other":
			if !slices.Equal(m, []int{8}) {
				t.Fatalf("group other = %v", m)
			}
		default:
			t.Fatalf("unexpected group %q", g.Name)
		}
	}
	if got := plainOf(ix.Match([]byte("foo.bar.baz"))); !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("foo.bar.baz plain = %v", got)
	}
	if got := plainOf(ix.Match([]byte("foo"))); !slices.Equal(got, []int{4}) {
		t.Fatalf("foo plain = %v", got)
	}
	if ix.Count() != 8 {
		t.Fatalf("Count = %d", ix.Count())
	}

	old := ix.Match([]byte("foo.bar"))
	last, err := ix.Remove("foo.bar", "", 1)
	if err != nil || last {
		t.Fatalf("Remove 1: last=%v err=%v", last, err)
	}
	if got := plainOf(old); !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("a handed-out result changed after Remove: %v", got)
	}
	if got := plainOf(ix.Match([]byte("foo.bar"))); !slices.Equal(got, []int{2, 3, 4, 5}) {
		t.Fatalf("after remove: %v", got)
	}
	if last, err = ix.Remove("foo.bar", "", 5); err != nil || !last {
		t.Fatalf("Remove 5: last=%v err=%v", last, err)
	}
	if _, err = ix.Remove("foo.bar", "", 5); err != ErrNotFound {
		t.Fatalf("second Remove err = %v, want ErrNotFound", err)
	}
	if _, err = ix.Remove("no.such", "", 1); err != ErrNotFound {
		t.Fatalf("Remove missing err = %v", err)
	}
	if _, err := ix.Insert("foo..bar", "", 1); err != ErrInvalidSubject {
		t.Fatalf("Insert invalid err = %v", err)
	}
}

func TestIndexPrunesEmptyNodes(t *testing.T) {
	ix := NewIndex[int]()
	for i := 0; i < 100; i++ {
		p := fmt.Sprintf("a.%d.b.*", i)
		if _, err := ix.Insert(p, "", i); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.Remove(p, "", i); err != nil {
			t.Fatal(err)
		}
	}
	if !ix.root.empty() {
		t.Fatalf("trie not pruned: %+v", ix.root)
	}
}

// randomPattern builds patterns over a small alphabet so they collide.
func randomPattern(r *rand.Rand, literal bool) string {
	n := 1 + r.IntN(4)
	toks := make([]string, n)
	for i := range toks {
		switch x := r.IntN(10); {
		case !literal && x == 0:
			toks[i] = "*"
		case !literal && x == 1 && i == n-1:
			toks[i] = ">"
		default:
			toks[i] = string(rune('a' + r.IntN(3)))
		}
	}
	return strings.Join(toks, ".")
}

type entry struct {
	pattern, queue string
	v              int
}

func bruteForce(entries []entry, subj string) (plain []int, queues map[string][]int) {
	queues = map[string][]int{}
	for _, e := range entries {
		if !Matches(e.pattern, subj) {
			continue
		}
		if e.queue == "" {
			plain = append(plain, e.v)
		} else {
			queues[e.queue] = append(queues[e.queue], e.v)
		}
	}
	sort.Ints(plain)
	for _, m := range queues {
		sort.Ints(m)
	}
	return plain, queues
}

func checkAgainstBruteForce(t *testing.T, ix *Index[int], entries []entry, subj string) {
	t.Helper()
	r := ix.Match([]byte(subj))
	wantPlain, wantQ := bruteForce(entries, subj)
	if got := plainOf(r); !slices.Equal(got, wantPlain) {
		t.Fatalf("Match(%q) plain = %v, want %v (entries %v)", subj, got, wantPlain, entries)
	}
	if len(r.Queues) != len(wantQ) {
		t.Fatalf("Match(%q) %d queue groups, want %d", subj, len(r.Queues), len(wantQ))
	}
	for _, g := range r.Queues {
		m := slices.Clone(g.Members)
		sort.Ints(m)
		if !slices.Equal(m, wantQ[g.Name]) {
			t.Fatalf("Match(%q) group %q = %v, want %v", subj, g.Name, m, wantQ[g.Name])
		}
	}
}

// TestIndexRandomized interleaves inserts, removes and (cached) matches and
// compares every match with a brute-force scan.
func TestIndexRandomized(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewIndex[int]()
	var entries []entry
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); {
		case op < 3:
			e := entry{randomPattern(r, false), "", step}
			if r.IntN(3) == 0 {
				e.queue = []string{"q1", "q2"}[r.IntN(2)]
			}
			if _, err := ix.Insert(e.pattern, e.queue, e.v); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		case op < 5 && len(entries) > 0:
			i := r.IntN(len(entries))
			e := entries[i]
			if _, err := ix.Remove(e.pattern, e.queue, e.v); err != nil {
				t.Fatalf("Remove(%+v): %v", e, err)
			}
			entries = slices.Delete(entries, i, i+1)
		default:
			checkAgainstBruteForce(t, ix, entries, randomPattern(r, true))
		}
	}
	if ix.Count() != len(entries) {
		t.Fatalf("Count = %d, want %d", ix.Count(), len(entries))
	}
}

func TestIndexConcurrent(t *testing.T) {
	ix := NewIndex[int]()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 2000; i++ {
				p := randomPattern(r, false)
				v := w*100000 + i
				if _, err := ix.Insert(p, "", v); err != nil {
					t.Error(err)
					return
				}
				ix.Match([]byte(randomPattern(r, true)))
				if _, err := ix.Remove(p, "", v); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if ix.Count() != 0 {
		t.Fatalf("Count = %d after balanced inserts/removes", ix.Count())
	}
	if r := ix.Match([]byte("a.b")); len(r.Plain) != 0 {
		t.Fatalf("stale cached result after concurrent churn: %v", r.Plain)
	}
}

func TestMatchCachedDoesNotAllocate(t *testing.T) {
	ix := NewIndex[int]()
	_, _ = ix.Insert("foo.*", "", 1)
	subj := []byte("foo.bar")
	ix.Match(subj)
	if n := testing.AllocsPerRun(100, func() { ix.Match(subj) }); n != 0 {
		t.Fatalf("cached Match allocates %v times", n)
	}
}

func FuzzIndex(f *testing.F) {
	f.Add("foo.*", "foo.>", ">", "foo.bar")
	f.Add("a.b.c", "*.b.*", "a.>", "a.b.c")
	f.Add("x", "*", "x.>", "x.y")
	f.Fuzz(func(t *testing.T, p1, p2, p3, subj string) {
		ix := NewIndex[int]()
		var entries []entry
		for i, p := range []string{p1, p2, p3} {
			if _, err := ix.Insert(p, "", i); err != nil {
				if ValidPattern([]byte(p)) {
					t.Fatalf("valid pattern %q rejected: %v", p, err)
				}
				continue
			}
			entries = append(entries, entry{p, "", i})
		}
		if !ValidLiteral([]byte(subj)) {
			ix.Match([]byte(subj)) // must not panic
			return
		}
		checkAgainstBruteForce(t, ix, entries, subj)
		checkAgainstBruteForce(t, ix, entries, subj) // cached
	})
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"foo", "foo.*", "foo.>", ">.a", "a..b", " ", "a b", ".", "*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ValidPattern([]byte(s))
		l := ValidLiteral([]byte(s))
		if l && !p {
			t.Fatalf("%q literal but not a pattern", s)
		}
		if p {
			// A valid pattern matches itself when literal.
			if l && !Matches(s, s) {
				t.Fatalf("literal %q does not match itself", s)
			}
			if !SubsetOf(s, s) || !Overlap(s, s) {
				t.Fatalf("%q not a subset of / overlapping itself", s)
			}
		}
	})
}

func benchIndex(b *testing.B, n int) *Index[int] {
	ix := NewIndex[int]()
	for i := 0; i < n; i++ {
		var p string
		switch i % 4 {
		case 0:
			p = fmt.Sprintf("sensors.%d.temp", i)
		case 1:
			p = fmt.Sprintf("sensors.%d.*", i)
		case 2:
			p = fmt.Sprintf("devices.%d.>", i)
		default:
			p = fmt.Sprintf("cmd.%d.reply", i)
		}
		if _, err := ix.Insert(p, "", i); err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

func BenchmarkMatchCached(b *testing.B) {
	ix := benchIndex(b, 10000)
	subj := []byte("sensors.1.temp")
	ix.Match(subj)
	b.ReportAllocs()
	for b.Loop() {
		ix.Match(subj)
	}
}

func BenchmarkMatchUncached(b *testing.B) {
	ix := benchIndex(b, 10000)
	subjects := make([][]byte, 4096)
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "sensors.%d.temp", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ix.mu.RLock()
		ix.matchLocked(subjects[i%len(subjects)])
		ix.mu.RUnlock()
		i++
	}
}

func BenchmarkInsertRemove(b *testing.B) {
	ix := benchIndex(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ix.Insert("bench.x.*", "", -1)
		_, _ = ix.Remove("bench.x.*", "", -1)
	}
}
