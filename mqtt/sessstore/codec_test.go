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
		got, err := decodeEntry(e.Seq, v)
		if err != nil || got != e {
			t.Fatalf("round trip of %+v: %+v, %v", e, got, err)
		}
	}
	if n := len(appendEntry(nil, &sampleEntries[0])); n != entryFixed+1 {
		t.Fatalf("a small entry takes %d bytes", n)
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	good := appendEntry(nil, &Entry{Seq: 1, Body: 200, QoS: 2})
	for name, v := range map[string][]byte{
		"empty":            nil,
		"no body":          good[:entryFixed],
		"version 0":        append([]byte{0}, good[1:]...),
		"QoS 3":            append([]byte{1, 3}, good[2:]...),
		"unknown bit":      append([]byte{1, 0x0a}, good[2:]...),
		"released QoS 1":   append([]byte{1, entReleased | 1}, good[2:]...),
		"body 0":           append(bytes.Clone(good[:entryFixed]), 0),
		"overlong body":    append(bytes.Clone(good[:entryFixed]), 0x81, 0x00),
		"trailing byte":    append(bytes.Clone(good), 7),
		"truncated varint": append(bytes.Clone(good[:entryFixed]), 0x80),
	} {
		if _, err := decodeEntry(1, v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	qk := queueKey(7, 1<<33)
	if sid, seq, err := decodeQueueKey(qk[:]); err != nil || sid != 7 || seq != 1<<33 {
		t.Fatalf("queue key: %d %d %v", sid, seq, err)
	}
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
	// A session's queue sorts by Seq and stays inside its prefix.
	a, b, c := queueKey(1, 255), queueKey(1, 256), queueKey(2, 0)
	if bytes.Compare(a[:], b[:]) >= 0 || bytes.Compare(b[:], c[:]) >= 0 {
		t.Fatal("queue keys out of order")
	}
	zero := [][]byte{make([]byte, 4), make([]byte, 12), make([]byte, 6), make([]byte, 8), {1}}
	if _, err := decodeSessionKey(zero[0]); !errors.Is(err, ErrCorrupt) {
		t.Error("session id 0 accepted")
	}
	if _, _, err := decodeQueueKey(zero[1]); !errors.Is(err, ErrCorrupt) {
		t.Error("queue key of session 0 accepted")
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

// FuzzDecodeEntry: the same for entry records.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range sampleEntries {
		f.Add(e.Seq, appendEntry(nil, &e))
	}
	f.Add(uint64(0), []byte{})
	f.Add(uint64(1), []byte{1, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, seq uint64, v []byte) {
		e, err := decodeEntry(seq, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if e.Seq != seq || checkEntry(&e) != nil {
			t.Fatalf("decoded entry %+v is not valid", e)
		}
		if again := appendEntry(nil, &e); !bytes.Equal(again, v) {
			t.Fatalf("entry %+v re-encodes to %x, read from %x", e, again, v)
		}
	})
}

// FuzzDecodeKeys: every key decoder refuses what its encoder cannot
// produce and round-trips what it accepts.
func FuzzDecodeKeys(f *testing.F) {
	sk, qk, ik, bk := sessionKey(1), queueKey(2, 3), incomingKey(4, 5), bodyKey(6)
	for _, k := range [][]byte{sk[:], qk[:], ik[:], bk[:], {}, make([]byte, 12)} {
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
		if sid, seq, err := decodeQueueKey(k); err == nil {
			if again := queueKey(sid, seq); !bytes.Equal(again[:], k) {
				t.Fatalf("queue key %x", k)
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
