package subject

import (
	"slices"
	"testing"
)

func TestIndexStatsAndEach(t *testing.T) {
	ix := NewIndex[int]()
	entries := []struct {
		pattern, queue string
		v              int
	}{
		{"a.b", "", 1}, {"a.*", "", 2}, {"a.>", "q", 3}, {"a.>", "q", 4}, {">", "", 5}, {"c", "r", 6},
	}
	for _, e := range entries {
		if _, err := ix.Insert(e.pattern, e.queue, e.v); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	ix.Each(func(p, q string, v int) { got = append(got, p+"|"+q+"|"+string(rune('0'+v))) })
	slices.Sort(got)
	want := []string{">||5", "a.*||2", "a.>|q|3", "a.>|q|4", "a.b||1", "c|r|6"}
	if !slices.Equal(got, want) {
		t.Fatalf("Each: %v, want %v", got, want)
	}
	// Two misses put a subject in the cache.
	for _, s := range []string{"a.b", "a.b", "c", "c"} {
		ix.Match([]byte(s))
	}
	st := ix.Stats()
	// a.b: plain 1, 2, 5 and queue group q = 4; c: plain 5 and group r = 2.
	if st.Entries != 6 || st.Cache != 2 || st.MaxFanout != 4 || st.TotalFanout != 6 {
		t.Fatalf("stats %+v", st)
	}
}
