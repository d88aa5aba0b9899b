package sessstore

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var sampleSessions = []Session{
	{ClientID: "c", Version: 4},
	{ClientID: "sensor-0042", Version: 5, Expiry: 0xFFFFFFFF, Disconnected: 1_700_000_000_123_456_789,
		Subs: []Sub{{Filter: "sensors/+/temp", QoS: 1, ID: 7}, {Filter: "$share/g/cmd/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: maxSubID}},
		Will: []byte("will-bytes")},
	{ClientID: "empty-will", Version: 5, Will: []byte{}, Disconnected: -1},
	{ClientID: strings.Repeat("x", maxString), Version: 4, Subs: []Sub{{Filter: strings.Repeat("f", maxString), RetainHandling: 1}}},
}

var sampleEntries = []Entry{
	{Seq: 1, Body: 1, QoS: 1},
	{Seq: 1 << 40, Body: 1 << 62, QoS: 2, Flags: 0xff, PacketID: 65535, Released: true},
	{Seq: 5, Body: 300, QoS: 0, Flags: 1},
}

func TestSessionRoundTrip(t *testing.T) {
	for _, sess := range sampleSessions {
		if err := checkSession(&sess); err != nil {
			t.Fatalf("%q: %v", sess.ClientID[:min(10, len(sess.ClientID))], err)
		}
		got, err := decodeSession(appendSession(nil, &sess))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, sess) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, sess)
		}
	}
}

func TestCheckSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		sess Session
	}{
		{"no client id", Session{Version: 4}},
		{"long client id", Session{ClientID: strings.Repeat("x", maxString+1), Version: 4}},
		{"version 3", Session{ClientID: "c", Version: 3}},
		{"empty filter", Session{ClientID: "c", Version: 4, Subs: []Sub{{}}}},
		{"QoS 3", Session{ClientID: "c", Version: 4, Subs: []Sub{{Filter: "a", QoS: 3}}}},
		{"retain handling 3", Session{ClientID: "c", Version: 5, Subs: []Sub{{Filter: "a", RetainHandling: 3}}}},
		{"sub id too big", Session{ClientID: "c", Version: 5, Subs: []Sub{{Filter: "a", ID: maxSubID + 1}}}},
	} {
		if err := checkSession(&tc.sess); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestDecodeSessionRefuses(t *testing.T) {
	good := appendSession(nil, &sampleSessions[1])
	mutate := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	for name, v := range map[string][]byte{
		"empty":          nil,
		"short":          good[:sessionFixed-1],
		"version 2":      mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"protocol 3":     mutate(func(b []byte) []byte { b[1] = 3; return b }),
		"unknown flag":   mutate(func(b []byte) []byte { b[2] |= 2; return b }),
		"truncated":      good[:len(good)-1],
		"trailing byte":  append(bytes.Clone(good), 0),
		"no will":        mutate(func(b []byte) []byte { b[2] = 0; return b }),
		"overlong count": append(append(bytes.Clone(good[:sessionFixed]), 0x81, 0x00, 'c'), 0),
		"huge count":     append(append(bytes.Clone(good[:sessionFixed]), 1, 'c'), 0xff, 0xff, 0xff, 0xff, 0x0f),
	} {
		if _, err := decodeSession(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range sampleEntries {
		v := appendEntry(nil, &e)
		got, err := decodeEntry(e.Body, e.Seq, v)
		if err != nil || got != e {
			t.Fatalf("round trip of %+v: %+v, %v", e, got, err)
		}
		k := makeQueueKey(e.Body, 7, e.Seq)
		if body, sid, seq, err := decodeQueueKey(k.bytes()); err != nil || body != e.Body || sid != 7 || seq != e.Seq {
			t.Fatalf("queue key of %+v: %d %d %d %v", e, body, sid, seq, err)
		}
	}
	if n := len(appendEntry(nil, &sampleEntries[0])); n != entryLen {
		t.Fatalf("an entry takes %d bytes", n)
	}
	if k := makeQueueKey(1, 1, 100); len(k.bytes()) != 13 {
		t.Fatalf("a queue key with a small Seq takes %d bytes", len(k.bytes()))
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	good := appendEntry(nil, &Entry{Seq: 1, Body: 200, QoS: 2})
	for name, v := range map[string][]byte{
		"empty":          nil,
		"short":          good[:entryLen-1],
		"version 0":      append([]byte{0}, good[1:]...),
		"QoS 3":          append([]byte{1, 3}, good[2:]...),
		"unknown bit":    append([]byte{1, 0x0a}, good[2:]...),
		"released QoS 1": append([]byte{1, entReleased | 1}, good[2:]...),
		"trailing byte":  append(bytes.Clone(good), 7),
	} {
		if _, err := decodeEntry(200, 1, v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	for name, body := range map[string]BodyID{"body 0": 0, "body with the top bit": 1 << 63} {
		if _, err := decodeEntry(body, 1, good); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	ik := incomingKey(9, 513)
	if sid, pid, err := decodeIncomingKey(ik[:]); err != nil || sid != 9 || pid != 513 {
		t.Fatalf("incoming key: %d %d %v", sid, pid, err)
	}
	bk := bodyKey(77)
	if id, err := decodeBodyKey(bk[:]); err != nil || id != 77 {
		t.Fatalf("body key: %d %v", id, err)
	}
	sk := sessionKey(3)
	if sid, err := decodeSessionKey(sk[:]); err != nil || sid != 3 {
		t.Fatalf("session key: %d %v", sid, err)
	}
	// A body's entries sort together, whatever their session and Seq.
	a, b, c := makeQueueKey(1, 9, 1<<40), makeQueueKey(2, 1, 1), makeQueueKey(256, 1, 1)
	if bytes.Compare(a.bytes(), b.bytes()) >= 0 || bytes.Compare(b.bytes(), c.bytes()) >= 0 {
		t.Fatal("queue keys out of order")
	}
	for name, k := range map[string][]byte{
		"short":          make([]byte, queueKeyMin-1),
		"body 0":         append(make([]byte, 8), 0, 0, 0, 1, 1),
		"session 0":      append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, 0, 0, 0, 0, 1),
		"overlong seq":   append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, 0, 0, 0, 1, 0x81, 0),
		"trailing bytes": append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, 0, 0, 0, 1, 1, 1),
		"long":           make([]byte, queueKeyMax+1),
	} {
		if _, _, _, err := decodeQueueKey(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("queue key %s: %v", name, err)
		}
	}
	zero := [][]byte{make([]byte, 4), nil, make([]byte, 6), make([]byte, 8), {1}}
	if _, err := decodeSessionKey(zero[0]); !errors.Is(err, ErrCorrupt) {
		t.Error("session id 0 accepted")
	}
	if _, _, err := decodeIncomingKey(zero[2]); !errors.Is(err, ErrCorrupt) {
		t.Error("incoming key of session 0 accepted")
	}
	if _, err := decodeBodyKey(zero[3]); !errors.Is(err, ErrCorrupt) {
		t.Error("body id 0 accepted")
	}
	if _, err := decodeBodyKey(zero[4]); !errors.Is(err, ErrCorrupt) {
		t.Error("short body key accepted")
	}
}

// FuzzDecodeSession: a session record read from disk either decodes to a
// valid session that encodes back to the same bytes, or is refused with
// ErrCorrupt; it never panics.
func FuzzDecodeSession(f *testing.F) {
	for _, sess := range sampleSessions[:3] {
		f.Add(appendSession(nil, &sess))
	}
	f.Add([]byte{})
	f.Add(make([]byte, sessionFixed))
	f.Add([]byte{1, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'c', 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		sess, err := decodeSession(v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if err := checkSession(sess); err != nil {
			t.Fatalf("decoded session fails its check: %v", err)
		}
		if again := appendSession(nil, sess); !bytes.Equal(again, v) {
			t.Fatalf("session %+v re-encodes to %x, read from %x", sess, again, v)
		}
	})
}

// FuzzDecodeEntry: the same for entry records with their keys.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range sampleEntries {
		k := makeQueueKey(e.Body, 3, e.Seq)
		f.Add(k.bytes(), appendEntry(nil, &e))
	}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, queueKeyMin), []byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		body, sid, seq, err := decodeQueueKey(k)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if again := makeQueueKey(body, sid, seq); !bytes.Equal(again.bytes(), k) {
			t.Fatalf("queue key %x re-encodes to %x", k, again.bytes())
		}
		e, err := decodeEntry(body, seq, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if e.Seq != seq || e.Body != body || checkEntry(&e) != nil {
			t.Fatalf("decoded entry %+v is not valid", e)
		}
		if again := appendEntry(nil, &e); !bytes.Equal(again, v) {
			t.Fatalf("entry %+v re-encodes to %x, read from %x", e, again, v)
		}
	})
}

// FuzzDecodeKeys: every other key decoder refuses what its encoder cannot
// produce and round-trips what it accepts.
func FuzzDecodeKeys(f *testing.F) {
	sk, ik, bk := sessionKey(1), incomingKey(4, 5), bodyKey(6)
	for _, k := range [][]byte{sk[:], ik[:], bk[:], {}, make([]byte, 12)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		if sid, err := decodeSessionKey(k); err == nil {
			if again := sessionKey(sid); !bytes.Equal(again[:], k) {
				t.Fatalf("session key %x", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if sid, pid, err := decodeIncomingKey(k); err == nil {
			if again := incomingKey(sid, pid); !bytes.Equal(again[:], k) {
				t.Fatalf("incoming key %x", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if id, err := decodeBodyKey(k); err == nil {
			if again := bodyKey(id); !bytes.Equal(again[:], k) {
				t.Fatalf("body key %x", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
	})
}
