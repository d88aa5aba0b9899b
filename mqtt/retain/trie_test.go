package retain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/mqtt/packet"
	mqtopic "github.com/leafgate/leafgate/mqtt/topic"
)

// refMatch is MQTT's matching rule, level by level, with leafgate's
// reading of a "*" or ">" level as the NATS wildcard it maps to.
func refMatch(filter, topic string) bool {
	f, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	if (f[0] == "+" || f[0] == "#" || f[0] == "*" || f[0] == ">") && strings.HasPrefix(topic, "$") {
		return false // [MQTT-4.7.2-1]
	}
	for i, lvl := range f {
		if lvl == "#" || lvl == ">" {
			return i == len(f)-1 && i <= len(tl)
		}
		if i >= len(tl) {
			return false
		}
		if lvl != "+" && lvl != "*" && lvl != tl[i] {
			return false
		}
	}
	return len(f) == len(tl)
}

// natsMatch is how a live subscription to filter sees a publish to topic:
// mqtt/topic's subjects, the '#' level-up, and the '$' rule.
func natsMatch(filter, topic string) (match, ok bool) {
	sub, err := mqtopic.ParseFilter([]byte(filter))
	if err != nil {
		return false, false
	}
	subj, err := mqtopic.AppendSubject(nil, []byte(topic))
	if err != nil {
		return false, false
	}
	if mqtopic.SkipForDollar(sub.NoDollar, subj) {
		return false, true
	}
	return subject.Matches(sub.Subject, string(subj)) || sub.LevelUp != "" && subject.Matches(sub.LevelUp, string(subj)), true
}

func trieMatch(tr *trie, filter string) []string {
	var got []string
	tr.match([]byte(filter), func(e *entry) { got = append(got, string(e.topic)) })
	slices.Sort(got)
	return got
}

func TestTrieMatch(t *testing.T) {
	topics := []string{"a", "a/b", "a/b/c", "a/c", "/a", "a/", "/", "$SYS/x", "$SYS", "b/$x", "a.b/c", "x y/z", "café"}
	var tr trie
	for _, tp := range topics {
		tr.put(&entry{topic: []byte(tp)})
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"a", []string{"a"}},
		{"a/b", []string{"a/b"}},
		{"a/#", []string{"a", "a/", "a/b", "a/b/c", "a/c"}},
		{"a/+", []string{"a/", "a/b", "a/c"}},
		{"+/b", []string{"a/b"}},
		{"+", []string{"a", "café"}},
		{"+/+", []string{"/", "/a", "a/", "a/b", "a/c", "a.b/c", "b/$x", "x y/z"}},
		{"#", []string{"/", "/a", "a", "a/", "a/b", "a/b/c", "a/c", "a.b/c", "b/$x", "café", "x y/z"}},
		{"$SYS/#", []string{"$SYS", "$SYS/x"}},
		{"$SYS/+", []string{"$SYS/x"}},
		{"+/x", nil}, // not $SYS/x [MQTT-4.7.2-1]
		{"b/+", []string{"b/$x"}},
		{"/+", []string{"/", "/a"}},
		{"a/*", []string{"a/", "a/b", "a/c"}}, // as nats-server: "*" is a wildcard level
		{"a/>", []string{"a", "a/", "a/b", "a/b/c", "a/c"}},
		{"a/>/c", nil},
		{"nope/#", nil},
		{"a/b/c/d", nil},
	} {
		slices.Sort(tc.want)
		if got := trieMatch(&tr, tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("match %q = %q, want %q", tc.filter, got, tc.want)
		}
	}
	// Removing prunes: after every topic goes, the trie is empty.
	for _, tp := range topics {
		tr.remove([]byte(tp))
	}
	if len(tr.root.kids) != 0 {
		t.Fatalf("trie not pruned: %d children left", len(tr.root.kids))
	}
}

// The trie agrees with MQTT's rule and, where the topic and filter have
// NATS subjects, with how a live subscription matches.
func TestTrieRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []string{"a", "b", "", "$s", "c.d", "*", "é"}
	fLevels := []string{"a", "b", "", "$s", "c.d", "+", "+", "*", "é"}
	gen := func(pool []string) string {
		n := 1 + rng.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = pool[rng.IntN(len(pool))]
		}
		return strings.Join(parts, "/")
	}
	var tr trie
	set := map[string]bool{}
	for range 300 {
		tp := gen(levels)
		if set[tp] {
			tr.remove([]byte(tp))
			delete(set, tp)
			continue
		}
		set[tp] = true
		tr.put(&entry{topic: []byte(tp)})
	}
	checkedNATS := 0
	for range 2000 {
		f := gen(fLevels)
		switch rng.IntN(4) {
		case 0:
			f += "/#"
		case 1:
			f = "#"
		}
		if packet.CheckTopicFilter([]byte(f)) != nil {
			continue
		}
		var want []string
		for tp := range set {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
			if m, ok := natsMatch(f, tp); ok {
				checkedNATS++
				if m != refMatch(f, tp) {
					t.Fatalf("filter %q topic %q: NATS subjects say %v, MQTT rule %v", f, tp, m, !m)
				}
			}
		}
		slices.Sort(want)
		if got := trieMatch(&tr, f); !slices.Equal(got, want) {
			t.Fatalf("match %q = %q, want %q", f, got, want)
		}
	}
	if checkedNATS < 1000 {
		t.Fatalf("only %d NATS cross-checks", checkedNATS)
	}
}

func BenchmarkTrieMatch(b *testing.B) {
	var tr trie
	for i := range 100_000 {
		tr.put(&entry{topic: fmt.Appendf(nil, "site/%d/dev/%d/temp", i%100, i)})
	}
	for _, f := range []string{"site/42/dev/4242/temp", "site/42/#", "site/+/dev/4242/temp"} {
		b.Run(f, func(b *testing.B) {
			n := 0
			for b.Loop() {
				tr.match([]byte(f), func(*entry) { n++ })
			}
		})
	}
}
