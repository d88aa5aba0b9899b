package retain

import "testing"

// Scenario tests for the index: states from the watch and from PubAcks,
// in every order they can arrive.

func put(key string, seq uint64, payload string) *entry {
	return &entry{key: key, topic: []byte(key), payload: []byte(payload), seq: seq, hi: -1}
}

func del(key string, seq uint64) *entry {
	return &entry{key: key, topic: []byte(key), seq: seq, gone: true, hi: -1}
}

// value is the key's matched payload, "" when Match finds none.
func (ix *index) value(key string) string {
	var got string
	ix.trie.match([]byte(key), func(e *entry) { got = string(e.payload) })
	return got
}

func TestIndexAckThenWatch(t *testing.T) {
	ix := newIndex()
	ix.fromAck(put("k", 5, "v5"), 0)
	if ix.value("k") != "v5" || ix.live != 1 {
		t.Fatalf("after ack: %q live %d", ix.value("k"), ix.live)
	}
	// The watch delivers the same message: nothing changes.
	ix.fromWatch(put("k", 5, "v5"), 0)
	// An older delivery still queued (stored before 5) changes nothing.
	ix.fromWatch(put("k", 3, "v3"), 0)
	if ix.value("k") != "v5" || ix.live != 1 {
		t.Fatalf("after watch: %q live %d", ix.value("k"), ix.live)
	}
}

// A clear acknowledged before the watch delivers the message it cleared:
// the tombstone keeps the message from coming back, and goes once the
// watch passes it.
func TestIndexTombstone(t *testing.T) {
	ix := newIndex()
	ix.fromWatch(put("k", 1, "v1"), 0)
	ix.fromAck(put("k", 2, "v2"), 0)
	ix.fromAck(del("k", 3), 0)
	if ix.value("k") != "" || ix.live != 0 || len(ix.tombs) != 1 {
		t.Fatalf("after clear: %q live %d tombs %d", ix.value("k"), ix.live, len(ix.tombs))
	}
	ix.fromWatch(put("k", 2, "v2"), 0)
	ix.pruneTombs()
	if ix.value("k") != "" || len(ix.tombs) != 1 {
		t.Fatalf("stale put brought the key back: %q", ix.value("k"))
	}
	ix.fromWatch(del("k", 3), 0)
	ix.pruneTombs()
	if len(ix.tombs) != 0 || len(ix.byKey) != 0 {
		t.Fatalf("tombstone kept after the watch passed it: %d tombs, %d keys", len(ix.tombs), len(ix.byKey))
	}
	// A late PubAck for a state the watch passed is stale.
	ix.fromAck(put("k", 2, "v2"), 0)
	if ix.value("k") != "" {
		t.Fatal("stale ack applied")
	}
	// A newer one is not.
	ix.fromAck(put("k", 4, "v4"), 0)
	if ix.value("k") != "v4" {
		t.Fatal("new ack not applied")
	}
}

// The watch's delete of a key removes it outright.
func TestIndexWatchDelete(t *testing.T) {
	ix := newIndex()
	ix.fromWatch(put("a", 1, "x"), 0)
	ix.fromWatch(put("b", 2, "y"), 0)
	ix.fromWatch(del("a", 3), 0)
	if ix.value("a") != "" || ix.value("b") != "y" || ix.live != 1 || len(ix.byKey) != 1 {
		t.Fatalf("a %q b %q live %d keys %d", ix.value("a"), ix.value("b"), ix.live, len(ix.byKey))
	}
}

func TestIndexExpiry(t *testing.T) {
	ix := newIndex()
	a, b := put("a", 1, "x"), put("b", 2, "y")
	a.expires, b.expires = 100, 200
	ix.fromWatch(a, 0)
	ix.fromWatch(b, 0)
	if next := ix.expire(50); next != 100 {
		t.Fatalf("next expiry %d, want 100", next)
	}
	if next := ix.expire(150); next != 200 || ix.value("a") != "" || ix.value("b") != "y" || ix.live != 1 {
		t.Fatalf("at 150: next %d a %q b %q live %d", next, ix.value("a"), ix.value("b"), ix.live)
	}
	// Replacing b takes its old expiry off the heap.
	b2 := put("b", 3, "z")
	ix.fromAck(b2, 150)
	if ix.exp.Len() != 0 || ix.nextExpiry() != 0 {
		t.Fatalf("heap holds %d", ix.exp.Len())
	}
	// An expired message is never stored as live.
	c := put("c", 4, "w")
	c.expires = 10
	ix.fromWatch(c, 150)
	if ix.value("c") != "" || ix.live != 1 {
		t.Fatalf("expired message stored: %q live %d", ix.value("c"), ix.live)
	}
	// A tombstone from expiry beyond the watch blocks an older message.
	d := put("d", 10, "v")
	d.expires = 160
	ix.fromAck(d, 150)
	ix.expire(170)
	ix.fromWatch(put("d", 9, "old"), 170)
	if ix.value("d") != "" {
		t.Fatal("older message came back after expiry")
	}
}

// A sync drops the keys the new watch did not deliver, but keeps those a
// Set stored meanwhile.
func TestIndexSync(t *testing.T) {
	ix := newIndex()
	ix.startSync()
	ix.fromWatch(put("a", 1, "x"), 0)
	ix.fromWatch(put("b", 2, "y"), 0)
	ix.fromWatch(put("c", 3, "z"), 0)
	ix.endSync()
	if ix.live != 3 {
		t.Fatalf("live %d", ix.live)
	}
	// Blind: b is deleted, d is put; then a new watch.
	ix.startSync()
	ix.fromWatch(put("a", 1, "x"), 0)
	ix.fromAck(put("e", 7, "new"), 0)
	ix.fromWatch(put("c", 3, "z"), 0)
	ix.fromWatch(put("d", 6, "w"), 0)
	ix.endSync()
	for k, want := range map[string]string{"a": "x", "b": "", "c": "z", "d": "w", "e": "new"} {
		if got := ix.value(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ix.live != 4 || len(ix.byKey) != 4 {
		t.Fatalf("live %d keys %d", ix.live, len(ix.byKey))
	}
}
