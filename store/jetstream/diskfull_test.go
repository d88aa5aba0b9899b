package jetstream

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leafgate/leafgate/internal/testfs"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// diskBlocks is what the files under dir take on disk, except the reserve.
func diskBlocks(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ReserveFile {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// max_file_store holds for the files on disk, not only for the message
// bytes: bbolt's keys, page slack and free-page list count too, so the
// limit leaves the disk space it promises.
func TestStoreLimitCountsFileSizes(t *testing.T) {
	const limit = 512 << 10
	dir := t.TempDir()
	r := router.New()
	svc, err := Open(Config{Dir: dir, MaxStore: limit, Reserve: -1}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	e := &env{t: t, r: r, svc: svc, dir: dir}
	e.createStream(jsapi.StreamConfig{Name: "L", Subjects: []string{"l.>"}})
	payload := strings.Repeat("x", 300)
	var last jsapi.PubAckResponse
	for i := 0; i < 20000; i++ {
		if last = e.publish("l."+string(rune('a'+i%20)), payload); last.Error != nil {
			break
		}
	}
	if last.Error == nil || last.Error.ErrCode != 10047 {
		t.Fatalf("publishing past max_file_store: %+v", last.Error)
	}
	used := diskBlocks(t, dir)
	if used > limit+8<<10 {
		t.Fatalf("the store takes %d bytes of disk with max_file_store %d", used, limit)
	}
	if used < limit*3/4 {
		t.Fatalf("the store stopped at %d bytes of disk with max_file_store %d", used, limit)
	}
	t.Logf("disk %d, message bytes %d", used, e.svc.fileUsed.Load())
}

// fillStream publishes to subj until the disk is full (a publish fails
// with 10077, the store's write error), then fills what is left of the
// file system with another file, and returns the last stored sequence.
func fillStream(t *testing.T, e *env, dir, subj string) uint64 {
	t.Helper()
	var last uint64
	// Big messages until one fails, then the rest of the disk goes to
	// another file, then tiny messages take the stream file's own free
	// pages until several fail in a row.
	for _, step := range []struct{ size, fails int }{{2000, 1}, {10, 3}} {
		payload := strings.Repeat("x", step.size)
		for fails, i := 0, 0; fails < step.fails && i < 100000; i++ {
			ack := e.publish(subj, payload)
			if ack.Error == nil {
				last, fails = ack.Sequence, 0
				continue
			}
			if ack.Error.ErrCode != 10077 {
				t.Fatalf("publish on a filling disk: %+v, want 10077", ack.Error)
			}
			fails++
		}
		testfs.Fill(t, dir)
	}
	return last
}

// On a small real file system filled to the last block by a stream, an
// operator can still delete a message and purge the stream; the purge
// gives the space back to the file system, so a new stream and a KV
// bucket can be created and written, and the full stream takes publishes
// again. Reads work throughout.
func TestFullDiskPurgeGivesSpaceBack(t *testing.T) {
	for _, tc := range []struct {
		kind testfs.Kind
		size int64
	}{{testfs.Tmpfs, 6 << 20}, {testfs.Ext4, 8 << 20}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			dir := testfs.Mount(t, tc.kind, tc.size)
			e := openEnv(t, dir)
			e.createStream(jsapi.StreamConfig{Name: "F", Subjects: []string{"f.>"}})
			e.durable("F", jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit})
			last := fillStream(t, e, dir, "f.data")
			if last < 500 {
				t.Fatalf("only %d messages stored", last)
			}
			if free := testfs.Free(t, dir); free > 64<<10 {
				t.Fatalf("%d bytes free after filling the disk", free)
			}
			var info struct {
				jsapi.Response
				jsapi.StreamInfo
			}
			e.api("STREAM.INFO.F", nil, &info)
			if info.Error != nil || info.State.Msgs != last {
				t.Fatalf("stream info on a full disk: %+v, msgs %d want %d", info.Error, info.State.Msgs, last)
			}
			var get struct {
				jsapi.Response
				Message *jsapi.StoredMsg `json:"message"`
			}
			e.api("STREAM.MSG.GET.F", jsapi.MsgGetRequest{Seq: last}, &get)
			if get.Error != nil {
				t.Fatalf("get on a full disk: %+v", get.Error)
			}

			var del struct {
				jsapi.Response
				Success bool `json:"success"`
			}
			e.api("STREAM.MSG.DELETE.F", jsapi.MsgDeleteRequest{Seq: 2}, &del)
			if del.Error != nil || !del.Success {
				t.Fatalf("rmm on a full disk: %+v", del.Error)
			}
			before := testfs.Free(t, dir)
			var purge purgeResp
			e.api("STREAM.PURGE.F", nil, &purge)
			if purge.Error != nil || purge.Purged != last-1 {
				t.Fatalf("purge on a full disk: %+v, purged %d of %d", purge.Error, purge.Purged, last-1)
			}
			// The compaction runs after the purge's reply.
			waitFor(t, func() bool { return testfs.Free(t, dir)-before > tc.size/2 },
				"the purge to give space back")

			e.createStream(jsapi.StreamConfig{Name: "G", Subjects: []string{"g.>"}})
			e.createStream(jsapi.StreamConfig{Name: "KV_b", Subjects: []string{"$KV.b.>"}, MaxMsgsPer: 1, AllowDirect: true, AllowRollup: true, DenyDelete: true})
			for _, subj := range []string{"g.1", "$KV.b.k", "f.data"} {
				if ack := e.publish(subj, strings.Repeat("y", 1000)); ack.Error != nil {
					t.Fatalf("publish to %s after the purge: %+v", subj, ack.Error)
				}
			}

			// Full again: a stream delete commits too, and the reserve
			// is whole once its file is gone.
			fillStream(t, e, dir, "g.1")
			var sd struct {
				jsapi.Response
				Success bool `json:"success"`
			}
			e.api("STREAM.DELETE.G", nil, &sd)
			if sd.Error != nil || !sd.Success {
				t.Fatalf("stream delete on a full disk: %+v", sd.Error)
			}
			if e.svc.reserve.Held() != e.svc.reserve.Size() {
				t.Fatalf("reserve after the delete: %d of %d", e.svc.reserve.Held(), e.svc.reserve.Size())
			}
		})
	}
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stream file's free pages, beyond a little churn, are room under
// max_file_store: after a purge that keeps a quarter of a full stream
// (too much live data for a compaction), publishing works again without
// the file growing.
func TestStoreLimitReusesFreePages(t *testing.T) {
	const limit = 1 << 20
	dir := t.TempDir()
	r := router.New()
	svc, err := Open(Config{Dir: dir, MaxStore: limit, Reserve: -1}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	e := &env{t: t, r: r, svc: svc, dir: dir}
	e.createStream(jsapi.StreamConfig{Name: "L", Subjects: []string{"l"}})
	payload := strings.Repeat("x", 2000)
	publishAll := func() int {
		for i := 0; ; i++ {
			ack := e.publish("l", payload)
			if ack.Error != nil {
				if ack.Error.ErrCode != 10047 {
					t.Fatalf("publish: %+v", ack.Error)
				}
				return i
			}
		}
	}
	stored := publishAll()
	var purge purgeResp
	e.api("STREAM.PURGE.L", jsapi.StreamPurgeRequest{Keep: uint64(stored / 4)}, &purge)
	if purge.Error != nil {
		t.Fatalf("purge: %+v", purge.Error)
	}
	file := svc.lookup("L").file
	size := file.FileStats().Size
	again := publishAll()
	if again < stored/3 {
		t.Fatalf("%d publishes after purging %d of %d messages", again, purge.Purged, stored)
	}
	if fs := file.FileStats(); fs.Compacted != 0 || fs.Size > size+64<<10 {
		t.Fatalf("file after refilling its free pages: %+v, was %d bytes", fs, size)
	}
}
