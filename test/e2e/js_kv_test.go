package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// kvRecv takes the next value from a watcher channel, failing on timeout
// or a closed channel.
func kvRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watcher channel closed", what)
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no watcher update within 5s", what)
	}
	var zero T
	return zero
}

// kvQuiet asserts nothing arrives on ch for a short while.
func kvQuiet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: unexpected watcher update %+v", what, v)
	case <-time.After(200 * time.Millisecond):
	}
}

func kvEntry(t *testing.T, e jetstream.KeyValueEntry, key, val string, rev uint64, op jetstream.KeyValueOp) {
	t.Helper()
	if e == nil {
		t.Fatalf("want entry %s=%q rev %d %v, got nil (init marker)", key, val, rev, op)
	}
	if e.Key() != key || string(e.Value()) != val || e.Revision() != rev || e.Operation() != op {
		t.Fatalf("entry: got %s=%q rev %d %v, want %s=%q rev %d %v",
			e.Key(), e.Value(), e.Revision(), e.Operation(), key, val, rev, op)
	}
}

func kvStreamInfo(t *testing.T, st jetstream.KeyValueStatus) *jetstream.StreamInfo {
	t.Helper()
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || bs.StreamInfo() == nil {
		t.Fatalf("status %T carries no stream info", st)
	}
	return bs.StreamInfo()
}

func kvAPICode(err error) int {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return int(apiErr.ErrorCode)
	}
	return 0
}

func kvDrain[T any](t *testing.T, ch <-chan T, errf func() error) []T {
	t.Helper()
	var out []T
	for v := range ch {
		out = append(out, v)
	}
	if err := errf(); err != nil {
		t.Fatalf("lister error: %v", err)
	}
	return out
}

func TestJSKVBasics(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: "CFG", Description: "config", History: 5, TTL: time.Hour,
		})
		if err != nil {
			t.Fatalf("CreateKeyValue: %v", err)
		}
		if kv.Bucket() != "CFG" {
			t.Fatalf("Bucket() = %q", kv.Bucket())
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.Bucket() != "CFG" || st.History() != 5 || st.TTL() != time.Hour || st.Values() != 0 ||
			st.BackingStore() != "JetStream" || st.Config().Description != "config" {
			t.Fatalf("fresh status: bucket %q history %d ttl %v values %d backing %q desc %q",
				st.Bucket(), st.History(), st.TTL(), st.Values(), st.BackingStore(), st.Config().Description)
		}
		if si := kvStreamInfo(t, st); si.Config.Name != "KV_CFG" || !slices.Equal(si.Config.Subjects, []string{"$KV.CFG.>"}) ||
			si.Config.MaxMsgsPerSubject != 5 || si.Config.MaxAge != time.Hour || !si.Config.AllowRollup ||
			si.Config.Discard != jetstream.DiscardNew || !si.Config.DenyDelete {
			t.Fatalf("backing stream config: %+v", si.Config)
		}

		put := func(key, val string, want uint64) {
			t.Helper()
			rev, err := kv.Put(ctx, key, []byte(val))
			if err != nil || rev != want {
				t.Fatalf("Put %s=%q: rev %d err %v, want rev %d", key, val, rev, err, want)
			}
		}
		put("a", "1", 1)
		put("b", "x", 2)
		put("a", "2", 3)
		before := time.Now().Add(-time.Minute)
		e, err := kv.Get(ctx, "a")
		if err != nil {
			t.Fatalf("Get a: %v", err)
		}
		kvEntry(t, e, "a", "2", 3, jetstream.KeyValuePut)
		if e.Bucket() != "CFG" || e.Created().Before(before) || e.Created().After(time.Now().Add(time.Minute)) {
			t.Fatalf("Get a: bucket %q created %v", e.Bucket(), e.Created())
		}
		e, err = kv.GetRevision(ctx, "a", 1)
		if err != nil {
			t.Fatalf("GetRevision a 1: %v", err)
		}
		kvEntry(t, e, "a", "1", 1, jetstream.KeyValuePut)
		if _, err := kv.GetRevision(ctx, "a", 2); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("GetRevision a 2 (revision of b): want ErrKeyNotFound, got %v", err)
		}
		if _, err := kv.Get(ctx, "missing"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("Get missing: want ErrKeyNotFound, got %v", err)
		}

		// Create fails on an existing key.
		if rev, err := kv.Create(ctx, "a", []byte("nope")); !errors.Is(err, jetstream.ErrKeyExists) || kvAPICode(err) != 10071 {
			t.Fatalf("Create existing: rev %d err %v (code %d), want ErrKeyExists / 10071", rev, err, kvAPICode(err))
		}
		if rev, err := kv.Create(ctx, "c", []byte("c1")); err != nil || rev != 4 {
			t.Fatalf("Create c: rev %d err %v, want 4", rev, err)
		}
		// Update with a stale revision is rejected; with the current one it works.
		if rev, err := kv.Update(ctx, "c", []byte("bad"), 1); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || kvAPICode(err) != 10071 {
			t.Fatalf("Update c@1: rev %d err %v (code %d), want ErrKeyRevisionMismatch / 10071", rev, err, kvAPICode(err))
		}
		if rev, err := kv.Update(ctx, "c", []byte("c2"), 4); err != nil || rev != 5 {
			t.Fatalf("Update c@4: rev %d err %v, want 5", rev, err)
		}
		if e, err := kv.Get(ctx, "c"); err != nil {
			t.Fatalf("Get c: %v", err)
		} else {
			kvEntry(t, e, "c", "c2", 5, jetstream.KeyValuePut)
		}

		// Delete leaves a marker: Get reports not found, history stays.
		if err := kv.Delete(ctx, "b"); err != nil {
			t.Fatalf("Delete b: %v", err)
		}
		if _, err := kv.Get(ctx, "b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("Get deleted b: want ErrKeyNotFound, got %v", err)
		}
		if e, err := kv.GetRevision(ctx, "b", 2); err != nil {
			t.Fatalf("GetRevision b 2 after delete: %v", err)
		} else {
			kvEntry(t, e, "b", "x", 2, jetstream.KeyValuePut)
		}
		// Create succeeds over a delete marker.
		if rev, err := kv.Create(ctx, "b", []byte("again")); err != nil || rev != 7 {
			t.Fatalf("Create over deleted b: rev %d err %v, want 7", rev, err)
		}
		hist, err := kv.History(ctx, "b")
		if err != nil {
			t.Fatalf("History b: %v", err)
		}
		if len(hist) != 3 {
			t.Fatalf("History b: %d entries, want 3", len(hist))
		}
		kvEntry(t, hist[0], "b", "x", 2, jetstream.KeyValuePut)
		kvEntry(t, hist[1], "b", "", 6, jetstream.KeyValueDelete)
		kvEntry(t, hist[2], "b", "again", 7, jetstream.KeyValuePut)

		// Purge removes all earlier revisions, leaving one purge marker.
		put("p", "p1", 8)
		put("p", "p2", 9)
		if err := kv.Purge(ctx, "p"); err != nil {
			t.Fatalf("Purge p: %v", err)
		}
		if _, err := kv.Get(ctx, "p"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("Get purged p: want ErrKeyNotFound, got %v", err)
		}
		hist, err = kv.History(ctx, "p")
		if err != nil {
			t.Fatalf("History p: %v", err)
		}
		if len(hist) != 1 {
			t.Fatalf("History p after purge: %d entries, want 1", len(hist))
		}
		kvEntry(t, hist[0], "p", "", 10, jetstream.KeyValuePurge)
		if _, err := kv.GetRevision(ctx, "p", 8); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("GetRevision purged p 8: want ErrKeyNotFound, got %v", err)
		}

		// History keeps the last 5 revisions per key.
		for i, v := range []string{"3", "4", "5", "6", "7"} {
			put("a", v, uint64(11+i))
		}
		hist, err = kv.History(ctx, "a")
		if err != nil {
			t.Fatalf("History a: %v", err)
		}
		if len(hist) != 5 {
			t.Fatalf("History a: %d entries, want 5", len(hist))
		}
		for i, e := range hist {
			kvEntry(t, e, "a", string(rune('3'+i)), uint64(11+i), jetstream.KeyValuePut)
		}
		if _, err := kv.History(ctx, "missing"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("History missing: want ErrKeyNotFound, got %v", err)
		}

		// The initial state of a watcher is the last entry per key in
		// revision order; Delta counts the entries still to come, and the
		// nil marker follows the last one.
		wa, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatalf("WatchAll: %v", err)
		}
		for i, want := range []struct {
			key, val string
			rev      uint64
			op       jetstream.KeyValueOp
		}{{"c", "c2", 5, jetstream.KeyValuePut}, {"b", "again", 7, jetstream.KeyValuePut},
			{"p", "", 10, jetstream.KeyValuePurge}, {"a", "7", 15, jetstream.KeyValuePut}} {
			e := kvRecv(t, wa.Updates(), "WatchAll initial "+want.key)
			kvEntry(t, e, want.key, want.val, want.rev, want.op)
			if e.Delta() != uint64(3-i) {
				t.Errorf("WatchAll initial %s: Delta (pending in $JS.ACK reply) = %d, want %d", want.key, e.Delta(), 3-i)
			}
		}
		if e := kvRecv(t, wa.Updates(), "WatchAll init marker after 4 entries"); e != nil {
			t.Fatalf("WatchAll: want nil marker, got %s rev %d", e.Key(), e.Revision())
		}
		_ = wa.Stop()

		// Keys and ListKeys end at the init marker; when it never comes they
		// only end when the context expires, so bound and time them.
		kctx, kcancel := context.WithTimeout(ctx, 30*time.Second)
		defer kcancel()
		start := time.Now()
		keys, err := kv.Keys(kctx)
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		if el := time.Since(start); el > 15*time.Second {
			t.Fatalf("Keys took %v: it returned only when its context expired (no end-of-initial-values)", el)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"a", "b", "c"}) {
			t.Fatalf("Keys = %v, want [a b c]", keys)
		}
		kl, err := kv.ListKeys(kctx)
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		var listed []string
		for k := range kl.Keys() {
			listed = append(listed, k)
		}
		if el := time.Since(start); el > 15*time.Second {
			t.Fatalf("Keys+ListKeys took %v: ListKeys ended only when its context expired", el)
		}
		slices.Sort(listed)
		if !slices.Equal(listed, []string{"a", "b", "c"}) {
			t.Fatalf("ListKeys = %v, want [a b c]", listed)
		}

		// a: 5 revisions, b: 3, c: 2, p: purge marker.
		st, err = kv.Status(ctx)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.Values() != 11 || st.Bytes() == 0 || kvStreamInfo(t, st).State.LastSeq != 15 {
			t.Fatalf("status after writes: values %d bytes %d last seq %d, want 11 / >0 / 15",
				st.Values(), st.Bytes(), kvStreamInfo(t, st).State.LastSeq)
		}

		// An empty bucket has no keys.
		empty, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "EMPTY"})
		if err != nil {
			t.Fatalf("CreateKeyValue EMPTY: %v", err)
		}
		if keys, err := empty.Keys(ctx); !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Fatalf("Keys on empty bucket: %v %v, want ErrNoKeysFound", keys, err)
		}
		if st, err := empty.Status(ctx); err != nil || st.History() != 1 || st.TTL() != 0 {
			t.Fatalf("EMPTY status: %v, err %v (want history 1, no ttl)", st, err)
		}
	})
}

func TestJSKVWatch(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "W", History: 5})
		if err != nil {
			t.Fatalf("CreateKeyValue: %v", err)
		}
		// A watcher on an empty bucket sends the init marker at once.
		w0, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatalf("WatchAll on empty: %v", err)
		}
		defer w0.Stop()
		if e := kvRecv(t, w0.Updates(), "empty WatchAll"); e != nil {
			t.Fatalf("empty WatchAll: want nil marker, got %s rev %d", e.Key(), e.Revision())
		}

		for _, kvp := range [][2]string{{"dev.a", "a1"}, {"dev.b", "b1"}, {"dev.a", "a2"}, {"other", "o1"}} {
			if _, err := kv.Put(ctx, kvp[0], []byte(kvp[1])); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		// w0 saw the live puts.
		kvEntry(t, kvRecv(t, w0.Updates(), "w0"), "dev.a", "a1", 1, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, w0.Updates(), "w0"), "dev.b", "b1", 2, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, w0.Updates(), "w0"), "dev.a", "a2", 3, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, w0.Updates(), "w0"), "other", "o1", 4, jetstream.KeyValuePut)

		// WatchAll: latest value per key in revision order, then nil.
		all, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatalf("WatchAll: %v", err)
		}
		defer all.Stop()
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll init"), "dev.b", "b1", 2, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll init"), "dev.a", "a2", 3, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll init"), "other", "o1", 4, jetstream.KeyValuePut)
		if e := kvRecv(t, all.Updates(), "WatchAll init marker"); e != nil {
			t.Fatalf("WatchAll: want nil marker, got %s rev %d", e.Key(), e.Revision())
		}

		// Filtered watch.
		w, err := kv.Watch(ctx, "dev.*")
		if err != nil {
			t.Fatalf("Watch dev.*: %v", err)
		}
		defer w.Stop()
		kvEntry(t, kvRecv(t, w.Updates(), "Watch init"), "dev.b", "b1", 2, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, w.Updates(), "Watch init"), "dev.a", "a2", 3, jetstream.KeyValuePut)
		if e := kvRecv(t, w.Updates(), "Watch init marker"); e != nil {
			t.Fatalf("Watch: want nil marker, got %s rev %d", e.Key(), e.Revision())
		}
		kvQuiet(t, w.Updates(), "Watch after init")

		// Live updates, a non-matching key, then a delete and a purge.
		if _, err := kv.Put(ctx, "other", []byte("o2")); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "dev.b", []byte("b2")); err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, "dev.a"); err != nil {
			t.Fatal(err)
		}
		if err := kv.Purge(ctx, "dev.b"); err != nil {
			t.Fatal(err)
		}
		kvEntry(t, kvRecv(t, w.Updates(), "Watch live"), "dev.b", "b2", 6, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, w.Updates(), "Watch delete"), "dev.a", "", 7, jetstream.KeyValueDelete)
		kvEntry(t, kvRecv(t, w.Updates(), "Watch purge"), "dev.b", "", 8, jetstream.KeyValuePurge)
		kvQuiet(t, w.Updates(), "Watch after purge")

		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll live"), "other", "o2", 5, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll live"), "dev.b", "b2", 6, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll live"), "dev.a", "", 7, jetstream.KeyValueDelete)
		kvEntry(t, kvRecv(t, all.Updates(), "WatchAll live"), "dev.b", "", 8, jetstream.KeyValuePurge)

		// IgnoreDeletes hides the markers from the initial state; a later
		// watcher of a single key sees its latest (delete) entry.
		nd, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			t.Fatalf("WatchAll IgnoreDeletes: %v", err)
		}
		defer nd.Stop()
		kvEntry(t, kvRecv(t, nd.Updates(), "IgnoreDeletes init"), "other", "o2", 5, jetstream.KeyValuePut)
		if e := kvRecv(t, nd.Updates(), "IgnoreDeletes marker"); e != nil {
			t.Fatalf("IgnoreDeletes: want nil marker, got %s rev %d op %v", e.Key(), e.Revision(), e.Operation())
		}
		one, err := kv.Watch(ctx, "dev.a")
		if err != nil {
			t.Fatalf("Watch dev.a: %v", err)
		}
		defer one.Stop()
		kvEntry(t, kvRecv(t, one.Updates(), "Watch dev.a init"), "dev.a", "", 7, jetstream.KeyValueDelete)
		if e := kvRecv(t, one.Updates(), "Watch dev.a marker"); e != nil {
			t.Fatalf("Watch dev.a: want nil marker, got rev %d", e.Revision())
		}

		// IncludeHistory replays every retained revision; UpdatesOnly none.
		hw, err := kv.Watch(ctx, "other", jetstream.IncludeHistory())
		if err != nil {
			t.Fatalf("Watch IncludeHistory: %v", err)
		}
		defer hw.Stop()
		kvEntry(t, kvRecv(t, hw.Updates(), "IncludeHistory"), "other", "o1", 4, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, hw.Updates(), "IncludeHistory"), "other", "o2", 5, jetstream.KeyValuePut)
		if e := kvRecv(t, hw.Updates(), "IncludeHistory marker"); e != nil {
			t.Fatalf("IncludeHistory: want nil marker, got rev %d", e.Revision())
		}
		uo, err := kv.Watch(ctx, "other", jetstream.UpdatesOnly())
		if err != nil {
			t.Fatalf("Watch UpdatesOnly: %v", err)
		}
		defer uo.Stop()
		kvQuiet(t, uo.Updates(), "UpdatesOnly")
		if _, err := kv.Put(ctx, "other", []byte("o3")); err != nil {
			t.Fatal(err)
		}
		kvEntry(t, kvRecv(t, uo.Updates(), "UpdatesOnly live"), "other", "o3", 9, jetstream.KeyValuePut)
		kvEntry(t, kvRecv(t, hw.Updates(), "IncludeHistory live"), "other", "o3", 9, jetstream.KeyValuePut)
	})
}

func TestJSKVBucketTTL(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "TTL", TTL: time.Second})
		if err != nil {
			t.Fatalf("CreateKeyValue: %v", err)
		}
		if st, err := kv.Status(ctx); err != nil || st.TTL() != time.Second {
			t.Fatalf("Status TTL: %v err %v", st, err)
		}
		start := time.Now()
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
			t.Fatalf("Get before expiry: %v", err)
		}
		for {
			_, err := kv.Get(ctx, "k")
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("Get while waiting for expiry: %v", err)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatal("key still present 20s after put into a bucket with 1s TTL")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Fatalf("key expired after %v, before the 1s TTL", el)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatalf("Status after expiry: %v", err)
		}
		if st.Values() != 0 {
			t.Fatalf("Status after expiry: values %d, want 0", st.Values())
		}
		if _, err := kv.Keys(ctx); !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Fatalf("Keys after expiry: want ErrNoKeysFound, got %v", err)
		}
		// The sequence keeps going after expiry.
		if rev, err := kv.Put(ctx, "k", []byte("v2")); err != nil || rev != 2 {
			t.Fatalf("Put after expiry: rev %d err %v, want 2", rev, err)
		}
	})
}

func TestJSKVBucketListing(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		for _, b := range []string{"L1", "L2"} {
			if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b, History: 3, Description: "bucket " + b}); err != nil {
				t.Fatalf("CreateKeyValue %s: %v", b, err)
			}
		}
		// Neither a plain stream (even one named like a KV stream) nor an
		// object store is a KV bucket.
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KV_FAKE", Subjects: []string{"fake.>"}}); err != nil {
			t.Fatalf("CreateStream: %v", err)
		}
		if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "LOBJ"}); err != nil {
			t.Fatalf("CreateObjectStore: %v", err)
		}
		names := func() []string {
			l := js.KeyValueStoreNames(ctx)
			n := kvDrain(t, l.Name(), l.Error)
			slices.Sort(n)
			return n
		}
		if n := names(); !slices.Equal(n, []string{"L1", "L2"}) {
			t.Fatalf("KeyValueStoreNames = %v, want [L1 L2]", n)
		}
		l := js.KeyValueStores(ctx)
		var got []string
		for _, st := range kvDrain(t, l.Status(), l.Error) {
			if st.History() != 3 || st.Config().Description != "bucket "+st.Bucket() {
				t.Fatalf("KeyValueStores %s: history %d desc %q", st.Bucket(), st.History(), st.Config().Description)
			}
			got = append(got, st.Bucket())
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"L1", "L2"}) {
			t.Fatalf("KeyValueStores = %v, want [L1 L2]", got)
		}
		// The legacy nats.go JetStreamContext lists the same buckets.
		legacy, err := connect(t, tg).JetStream()
		if err != nil {
			t.Fatal(err)
		}
		var lnames []string
		for n := range legacy.KeyValueStoreNames() {
			lnames = append(lnames, n)
		}
		slices.Sort(lnames)
		if !slices.Equal(lnames, []string{"L1", "L2"}) {
			t.Fatalf("legacy KeyValueStoreNames = %v, want [L1 L2]", lnames)
		}

		// Same name, different config: the bucket exists.
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "L1", History: 7}); !errors.Is(err, jetstream.ErrBucketExists) {
			t.Fatalf("CreateKeyValue L1 with other config: want ErrBucketExists, got %v", err)
		}
		// Same config again is idempotent.
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "L1", History: 3, Description: "bucket L1"}); err != nil {
			t.Fatalf("CreateKeyValue L1 identical: %v", err)
		}
		if _, err := js.KeyValue(ctx, "NOPE"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("KeyValue NOPE: want ErrBucketNotFound, got %v", err)
		}

		if err := js.DeleteKeyValue(ctx, "L1"); err != nil {
			t.Fatalf("DeleteKeyValue L1: %v", err)
		}
		if _, err := js.KeyValue(ctx, "L1"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("KeyValue after delete: want ErrBucketNotFound, got %v", err)
		}
		if err := js.DeleteKeyValue(ctx, "L1"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("DeleteKeyValue L1 twice: want ErrBucketNotFound, got %v", err)
		}
		if n := names(); !slices.Equal(n, []string{"L2"}) {
			t.Fatalf("KeyValueStoreNames after delete = %v, want [L2]", n)
		}
	})
}

func objDigest(sum []byte) string {
	return "SHA-256=" + base64.URLEncoding.EncodeToString(sum)
}

func TestJSObjectBasics(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "FILES", Description: "files"})
		if err != nil {
			t.Fatalf("CreateObjectStore: %v", err)
		}
		st, err := obs.Status(ctx)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.Bucket() != "FILES" || st.Description() != "files" || st.Sealed() || st.Size() != 0 || st.BackingStore() != "JetStream" {
			t.Fatalf("status: bucket %q desc %q sealed %v size %d backing %q",
				st.Bucket(), st.Description(), st.Sealed(), st.Size(), st.BackingStore())
		}
		if _, err := obs.List(ctx); !errors.Is(err, jetstream.ErrNoObjectsFound) {
			t.Fatalf("List empty: want ErrNoObjectsFound, got %v", err)
		}

		w, err := obs.Watch(ctx)
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
		defer w.Stop()
		if oi := kvRecv(t, w.Updates(), "object Watch init"); oi != nil {
			t.Fatalf("object Watch on empty store: want nil marker, got %+v", oi)
		}

		small := []byte("hello object store")
		sum := sha256.Sum256(small)
		info, err := obs.PutBytes(ctx, "greeting.txt", small)
		if err != nil {
			t.Fatalf("PutBytes: %v", err)
		}
		if info.Name != "greeting.txt" || info.Bucket != "FILES" || info.Size != uint64(len(small)) ||
			info.Chunks != 1 || info.Digest != objDigest(sum[:]) || info.NUID == "" || info.Deleted {
			t.Fatalf("PutBytes info: %+v", info)
		}
		got, err := obs.GetBytes(ctx, "greeting.txt")
		if err != nil || !bytes.Equal(got, small) {
			t.Fatalf("GetBytes: %q %v", got, err)
		}
		if oi := kvRecv(t, w.Updates(), "object Watch put"); oi == nil || oi.Name != "greeting.txt" || oi.Size != uint64(len(small)) || oi.Deleted {
			t.Fatalf("object Watch put: %+v", oi)
		}

		// A multi-chunk object with metadata, chunk size 1 KiB.
		multi := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3200 bytes
		msum := sha256.Sum256(multi)
		minfo, err := obs.Put(ctx, jetstream.ObjectMeta{
			Name: "multi.bin", Description: "three and a bit chunks",
			Headers:  nats.Header{"X-Kind": []string{"test"}},
			Metadata: map[string]string{"owner": "e2e"},
			Opts:     &jetstream.ObjectMetaOptions{ChunkSize: 1024},
		}, bytes.NewReader(multi))
		if err != nil {
			t.Fatalf("Put multi: %v", err)
		}
		if minfo.Size != 3200 || minfo.Chunks != 4 || minfo.Digest != objDigest(msum[:]) {
			t.Fatalf("Put multi info: size %d chunks %d digest %s", minfo.Size, minfo.Chunks, minfo.Digest)
		}
		gi, err := obs.GetInfo(ctx, "multi.bin")
		if err != nil {
			t.Fatalf("GetInfo multi: %v", err)
		}
		if gi.Description != "three and a bit chunks" || gi.Headers.Get("X-Kind") != "test" || gi.Metadata["owner"] != "e2e" ||
			gi.Size != 3200 || gi.Chunks != 4 || gi.NUID != minfo.NUID || gi.Digest != minfo.Digest {
			t.Fatalf("GetInfo multi: %+v", gi)
		}
		if got, err := obs.GetBytes(ctx, "multi.bin"); err != nil || !bytes.Equal(got, multi) {
			t.Fatalf("GetBytes multi: %d bytes, err %v", len(got), err)
		}
		if oi := kvRecv(t, w.Updates(), "object Watch put multi"); oi == nil || oi.Name != "multi.bin" || oi.Chunks != 4 {
			t.Fatalf("object Watch put multi: %+v", oi)
		}

		// Overwrite replaces the content.
		if _, err := obs.PutString(ctx, "greeting.txt", "hello again"); err != nil {
			t.Fatalf("PutString overwrite: %v", err)
		}
		if s, err := obs.GetString(ctx, "greeting.txt"); err != nil || s != "hello again" {
			t.Fatalf("GetString after overwrite: %q %v", s, err)
		}
		if oi := kvRecv(t, w.Updates(), "object Watch overwrite"); oi == nil || oi.Name != "greeting.txt" || oi.Size != 11 {
			t.Fatalf("object Watch overwrite: %+v", oi)
		}

		// Links.
		target, err := obs.GetInfo(ctx, "greeting.txt")
		if err != nil {
			t.Fatal(err)
		}
		link, err := obs.AddLink(ctx, "alias.txt", target)
		if err != nil {
			t.Fatalf("AddLink: %v", err)
		}
		if link.Name != "alias.txt" || link.Opts == nil || link.Opts.Link == nil ||
			link.Opts.Link.Bucket != "FILES" || link.Opts.Link.Name != "greeting.txt" {
			t.Fatalf("AddLink info: %+v", link)
		}
		li, err := obs.GetInfo(ctx, "alias.txt")
		if err != nil {
			t.Fatalf("GetInfo link: %v", err)
		}
		if li.Opts == nil || li.Opts.Link == nil || li.Opts.Link.Name != "greeting.txt" || li.Opts.Link.Bucket != "FILES" || li.Size != 0 {
			t.Fatalf("GetInfo link: %+v", li)
		}
		if s, err := obs.GetString(ctx, "alias.txt"); err != nil || s != "hello again" {
			t.Fatalf("GetString through link: %q %v", s, err)
		}
		if _, err := obs.AddLink(ctx, "alias2.txt", li); !errors.Is(err, jetstream.ErrNoLinkToLink) {
			t.Fatalf("AddLink to a link: want ErrNoLinkToLink, got %v", err)
		}
		if oi := kvRecv(t, w.Updates(), "object Watch link"); oi == nil || oi.Name != "alias.txt" || oi.Opts == nil || oi.Opts.Link == nil {
			t.Fatalf("object Watch link: %+v", oi)
		}

		list, err := obs.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var names []string
		for _, oi := range list {
			names = append(names, oi.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"alias.txt", "greeting.txt", "multi.bin"}) {
			t.Fatalf("List = %v", names)
		}

		// Delete purges the chunks and leaves a deleted marker.
		if err := obs.Delete(ctx, "multi.bin"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := obs.GetBytes(ctx, "multi.bin"); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Fatalf("GetBytes deleted: want ErrObjectNotFound, got %v", err)
		}
		if _, err := obs.GetInfo(ctx, "multi.bin"); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Fatalf("GetInfo deleted: want ErrObjectNotFound, got %v", err)
		}
		di, err := obs.GetInfo(ctx, "multi.bin", jetstream.GetObjectInfoShowDeleted())
		if err != nil || !di.Deleted || di.Size != 0 || di.Chunks != 0 {
			t.Fatalf("GetInfo ShowDeleted: %+v %v", di, err)
		}
		if err := obs.Delete(ctx, "never-existed"); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Fatalf("Delete missing: want ErrObjectNotFound, got %v", err)
		}
		if oi := kvRecv(t, w.Updates(), "object Watch delete"); oi == nil || oi.Name != "multi.bin" || !oi.Deleted {
			t.Fatalf("object Watch delete: %+v", oi)
		}
		kvQuiet(t, w.Updates(), "object Watch after delete")
		list, err = obs.List(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("List after delete: %d entries err %v, want 2", len(list), err)
		}
		if _, err := obs.AddLink(ctx, "dead.txt", di); !errors.Is(err, jetstream.ErrNoLinkToDeleted) {
			t.Fatalf("AddLink to deleted: want ErrNoLinkToDeleted, got %v", err)
		}

		// A fresh watcher gets the latest info per object, then nil.
		w2, err := obs.Watch(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Stop()
		var seen []string
		for {
			oi := kvRecv(t, w2.Updates(), "object Watch init (IgnoreDeletes)")
			if oi == nil {
				break
			}
			seen = append(seen, oi.Name)
		}
		if !slices.Equal(seen, []string{"greeting.txt", "alias.txt"}) {
			t.Fatalf("object Watch initial = %v, want [greeting.txt alias.txt]", seen)
		}

		// Chunks were purged: only the two live objects' data and meta remain.
		sinfo, err := js.Stream(ctx, "OBJ_FILES")
		if err != nil {
			t.Fatalf("stream OBJ_FILES: %v", err)
		}
		// greeting.txt: 1 chunk + meta; alias.txt: meta; multi.bin: meta.
		if n := sinfo.CachedInfo().State.Msgs; n != 4 {
			t.Fatalf("OBJ_FILES holds %d messages, want 4", n)
		}
	})
}

func TestJSObjectBucketListing(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		for _, b := range []string{"O1", "O2"} {
			if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: b, Description: "store " + b}); err != nil {
				t.Fatalf("CreateObjectStore %s: %v", b, err)
			}
		}
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "NOTOBJ"}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OBJ_FAKE", Subjects: []string{"objfake.>"}}); err != nil {
			t.Fatal(err)
		}
		names := func() []string {
			l := js.ObjectStoreNames(ctx)
			n := kvDrain(t, l.Name(), l.Error)
			slices.Sort(n)
			return n
		}
		if n := names(); !slices.Equal(n, []string{"O1", "O2"}) {
			t.Fatalf("ObjectStoreNames = %v, want [O1 O2]", n)
		}
		l := js.ObjectStores(ctx)
		var got []string
		for _, st := range kvDrain(t, l.Status(), l.Error) {
			if st.Description() != "store "+st.Bucket() {
				t.Fatalf("ObjectStores %s: desc %q", st.Bucket(), st.Description())
			}
			got = append(got, st.Bucket())
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"O1", "O2"}) {
			t.Fatalf("ObjectStores = %v, want [O1 O2]", got)
		}
		if err := js.DeleteObjectStore(ctx, "O1"); err != nil {
			t.Fatalf("DeleteObjectStore: %v", err)
		}
		if _, err := js.ObjectStore(ctx, "O1"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("ObjectStore after delete: want ErrBucketNotFound, got %v", err)
		}
		if n := names(); !slices.Equal(n, []string{"O2"}) {
			t.Fatalf("ObjectStoreNames after delete = %v, want [O2]", n)
		}
	})
}

// TestJSObjectLarge streams 64 MiB of random data in and out of an object
// store and compares SHA-256 sums.
func TestJSObjectLarge(t *testing.T) {
	// 64 MiB takes about a second each way without the race detector. With
	// it (make test), on a fresh 2-core machine on 2026-12-03, 64 and even
	// 16 MiB timed out against either server (nats-server as well: the
	// race runtime spent most of its time in the kernel), and 4 MiB took
	// 2-7 s a way; 4 MiB is still 32 chunks, far over max_payload, so
	// every chunking and flow-control path is crossed. Run it without
	// -race for the 64 MiB figure.
	size := 64 << 20
	if raceEnabled {
		size = 4 << 20
	}
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "BIG"})
		if err != nil {
			t.Fatalf("CreateObjectStore: %v", err)
		}
		var seed [32]byte
		copy(seed[:], tg.Name+time.Now().String())
		in := sha256.New()
		src := io.TeeReader(io.LimitReader(rand.NewChaCha8(seed), int64(size)), in)
		start := time.Now()
		info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: "big.bin"}, src)
		if err != nil {
			t.Fatalf("Put 64 MiB: %v", err)
		}
		putTime := time.Since(start)
		wantSum := in.Sum(nil)
		if info.Size != uint64(size) || info.Chunks != uint32(size/(128<<10)) || info.Digest != objDigest(wantSum) {
			t.Fatalf("Put info: size %d chunks %d digest %s, want %d / %d / %s",
				info.Size, info.Chunks, info.Digest, size, size/(128<<10), objDigest(wantSum))
		}

		start = time.Now()
		res, err := obs.Get(ctx, "big.bin")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer res.Close()
		out := sha256.New()
		n, err := io.Copy(out, res)
		if err != nil {
			t.Fatalf("reading object: %v after %d bytes", err, n)
		}
		if n != int64(size) || !bytes.Equal(out.Sum(nil), wantSum) {
			t.Fatalf("read %d bytes, sha256 %x, want %d bytes %x", n, out.Sum(nil), size, wantSum)
		}
		gi, err := res.Info()
		if err != nil || gi.Digest != info.Digest || gi.NUID != info.NUID {
			t.Fatalf("result info: %+v %v", gi, err)
		}
		t.Logf("%s: put %v, get %v", tg.Name, putTime, time.Since(start))

		st, err := obs.Status(ctx)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.Size() < uint64(size) {
			t.Fatalf("Status size %d, want >= %d", st.Size(), size)
		}
		if err := obs.Delete(ctx, "big.bin"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if st, err = obs.Status(ctx); err != nil {
			t.Fatalf("Status after delete: %v", err)
		}
		if st.Size() >= 1<<20 {
			t.Fatalf("Status after delete: size %d, want < 1 MiB", st.Size())
		}
	})
}

// kvCLI runs natscli against tg with -s, returning combined output; wantErr
// inverts the exit status check.
func kvCLI(t *testing.T, bin string, tg *harness.Target, wantErr bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-s", tg.URL, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		t.Fatalf("nats %s: err %v (want error: %v)\n%s", strings.Join(args, " "), err, wantErr, out)
	}
	return string(out)
}

func TestJSKVNatsCLI(t *testing.T) {
	bin := natsCLI(t)
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kvCLI(t, bin, tg, false, "kv", "add", "CLIKV", "--history", "5", "--ttl", "1h", "--description", "from cli")
		kv, err := js.KeyValue(ctx, "CLIKV")
		if err != nil {
			t.Fatalf("KeyValue CLIKV created by cli: %v", err)
		}
		if st, err := kv.Status(ctx); err != nil || st.History() != 5 || st.TTL() != time.Hour || st.Config().Description != "from cli" {
			t.Fatalf("CLIKV status: %v err %v", st, err)
		}

		kvCLI(t, bin, tg, false, "kv", "put", "CLIKV", "color", "red")
		kvCLI(t, bin, tg, false, "kv", "put", "CLIKV", "color", "green")
		kvCLI(t, bin, tg, false, "kv", "put", "CLIKV", "shape", "circle")
		if _, err := kv.Put(ctx, "size", []byte("large")); err != nil {
			t.Fatal(err)
		}
		if e, err := kv.Get(ctx, "color"); err != nil || string(e.Value()) != "green" || e.Revision() != 2 {
			t.Fatalf("Go Get of cli put: %v", err)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "get", "CLIKV", "color", "--raw"); out != "green" && out != "green\n" {
			t.Fatalf("kv get --raw color = %q, want green", out)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "get", "CLIKV", "size", "--raw"); strings.TrimSpace(out) != "large" {
			t.Fatalf("kv get --raw size = %q, want large", out)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "get", "CLIKV", "color", "--revision", "1", "--raw"); strings.TrimSpace(out) != "red" {
			t.Fatalf("kv get --revision 1 = %q, want red", out)
		}

		out := kvCLI(t, bin, tg, false, "kv", "ls", "CLIKV")
		if keys := strings.Fields(out); !slices.Equal(slices.Sorted(slices.Values(keys)), []string{"color", "shape", "size"}) {
			t.Fatalf("kv ls CLIKV = %q, want color, shape, size", out)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "ls", "--names"); !slices.Equal(strings.Fields(out), []string{"CLIKV"}) {
			t.Fatalf("kv ls --names = %q", out)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "ls"); !strings.Contains(out, "CLIKV") || !strings.Contains(out, "from cli") {
			t.Fatalf("kv ls:\n%s", out)
		}

		out = kvCLI(t, bin, tg, false, "kv", "history", "CLIKV", "color")
		if !strings.Contains(out, "red") || !strings.Contains(out, "green") || !strings.Contains(out, "PUT") ||
			strings.Index(out, "red") > strings.Index(out, "green") {
			t.Fatalf("kv history color:\n%s", out)
		}

		kvCLI(t, bin, tg, false, "kv", "del", "-f", "CLIKV", "color")
		if _, err := kv.Get(ctx, "color"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("Go Get after cli del: want ErrKeyNotFound, got %v", err)
		}
		hist, err := kv.History(ctx, "color")
		if err != nil || len(hist) != 3 || hist[2].Operation() != jetstream.KeyValueDelete {
			t.Fatalf("History after cli del: %d entries err %v", len(hist), err)
		}
		if out := kvCLI(t, bin, tg, true, "kv", "get", "CLIKV", "color", "--raw"); !strings.Contains(out, "key not found") {
			t.Fatalf("kv get of deleted key: %q, want key not found", out)
		}
		if out := kvCLI(t, bin, tg, false, "kv", "history", "CLIKV", "color"); !strings.Contains(out, "DELETE") {
			t.Fatalf("kv history after del:\n%s", out)
		}

		// Deleting the bucket.
		kvCLI(t, bin, tg, false, "kv", "del", "-f", "CLIKV")
		if _, err := js.KeyValue(ctx, "CLIKV"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("KeyValue after cli bucket delete: want ErrBucketNotFound, got %v", err)
		}
	})
}

func TestJSObjectNatsCLI(t *testing.T) {
	bin := natsCLI(t)
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kvCLI(t, bin, tg, false, "object", "add", "CLIOBJ", "--description", "cli objects")
		obs, err := js.ObjectStore(ctx, "CLIOBJ")
		if err != nil {
			t.Fatalf("ObjectStore CLIOBJ created by cli: %v", err)
		}
		if st, err := obs.Status(ctx); err != nil || st.Description() != "cli objects" {
			t.Fatalf("CLIOBJ status: %v err %v", st, err)
		}

		dir := t.TempDir()
		data := make([]byte, 300<<10+17) // three chunks at the default 128 KiB
		r := rand.NewChaCha8([32]byte{1, 2, 3})
		_, _ = r.Read(data)
		src := filepath.Join(dir, "upload.bin")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		kvCLI(t, bin, tg, false, "object", "put", "CLIOBJ", src, "--name", "upload.bin", "--no-progress", "-f")
		info, err := obs.GetInfo(ctx, "upload.bin")
		if err != nil {
			t.Fatalf("Go GetInfo of cli put: %v", err)
		}
		sum := sha256.Sum256(data)
		if info.Size != uint64(len(data)) || info.Chunks != 3 || info.Digest != objDigest(sum[:]) {
			t.Fatalf("cli put info: size %d chunks %d digest %s", info.Size, info.Chunks, info.Digest)
		}
		if got, err := obs.GetBytes(ctx, "upload.bin"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Go GetBytes of cli put: %d bytes err %v", len(got), err)
		}

		// An object put by the Go client, read by the cli.
		if _, err := obs.PutString(ctx, "note.txt", "written by nats.go"); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "download.bin")
		kvCLI(t, bin, tg, false, "object", "get", "CLIOBJ", "upload.bin", "-O", dst, "--no-progress", "-f")
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("cli get upload.bin: %d bytes err %v, want %d identical bytes", len(got), err, len(data))
		}
		note := filepath.Join(dir, "note.txt")
		kvCLI(t, bin, tg, false, "object", "get", "CLIOBJ", "note.txt", "-O", note, "--no-progress", "-f")
		if got, err := os.ReadFile(note); err != nil || string(got) != "written by nats.go" {
			t.Fatalf("cli get note.txt: %q err %v", got, err)
		}

		out := kvCLI(t, bin, tg, false, "object", "ls", "CLIOBJ")
		if !strings.Contains(out, "upload.bin") || !strings.Contains(out, "note.txt") {
			t.Fatalf("object ls CLIOBJ:\n%s", out)
		}
		if out := kvCLI(t, bin, tg, false, "object", "ls", "--names"); !slices.Equal(strings.Fields(out), []string{"CLIOBJ"}) {
			t.Fatalf("object ls --names = %q", out)
		}

		kvCLI(t, bin, tg, false, "object", "rm", "-f", "CLIOBJ", "upload.bin")
		if _, err := obs.GetInfo(ctx, "upload.bin"); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Fatalf("Go GetInfo after cli rm: want ErrObjectNotFound, got %v", err)
		}
		if out := kvCLI(t, bin, tg, true, "object", "get", "CLIOBJ", "upload.bin", "-O", filepath.Join(dir, "gone"), "--no-progress", "-f"); !strings.Contains(out, "object not found") {
			t.Fatalf("object get of removed object: %q, want object not found", out)
		}
		if out := kvCLI(t, bin, tg, false, "object", "ls", "CLIOBJ"); strings.Contains(out, "upload.bin") || !strings.Contains(out, "note.txt") {
			t.Fatalf("object ls after rm:\n%s", out)
		}

		kvCLI(t, bin, tg, false, "object", "rm", "-f", "CLIOBJ")
		if _, err := js.ObjectStore(ctx, "CLIOBJ"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("ObjectStore after cli bucket rm: want ErrBucketNotFound, got %v", err)
		}
	})
}
