package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/internal/testfs"
)

// These run leafgate alone: nats-server's file store on a full disk is a
// different design (it reserves no space and keeps block files), so there
// is no common behaviour to compare.

// publishUntil publishes payloads of size bytes to subj until one fails
// (fails in a row, when more than one), and returns the last error and the
// last stored sequence.
func publishUntil(t *testing.T, js jetstream.JetStream, subj string, size, fails int) (*jetstream.APIError, uint64) {
	t.Helper()
	payload := []byte(strings.Repeat("x", size))
	var last uint64
	var apiErr *jetstream.APIError
	for n, i := 0, 0; n < fails; i++ {
		if i > 200000 {
			t.Fatalf("%d publishes and the disk is not full", i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ack, err := js.Publish(ctx, subj, payload)
		cancel()
		if err == nil {
			last, n = ack.Sequence, 0
			continue
		}
		if !errors.As(err, &apiErr) {
			t.Fatalf("publish after seq %d: %v is not a JetStream API error", last, err)
		}
		n++
	}
	return apiErr, last
}

// On a small ext4 file system filled to the last block, `nats stream rmm`
// and `nats stream purge` succeed, the purge gives the stream file's space
// back to the file system, and a new KV bucket and stream can be created
// and written; reads work while the disk is full.
func TestJSFullDiskPurgeGivesSpaceBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := testfs.Mount(t, testfs.Ext4, 16<<20)
	t.Setenv("LEAFGATE_JETSTREAM_MAX_FILE_STORE", "0") // the disk fills, not the limit
	p := startProc(t, filepath.Join(dir, "js"), nil)
	_, js, ctx := p.connectJS(t)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "F", Subjects: []string{"f.>"}})
	if err != nil {
		t.Fatal(err)
	}
	apiErr, _ := publishUntil(t, js, "f.data", 16000, 1)
	if apiErr.ErrorCode != 10077 {
		t.Fatalf("publish on a full disk: %+v, want err_code 10077", apiErr)
	}
	// Whatever is left goes to another file, then small messages take
	// the stream file's last free pages.
	testfs.Fill(t, dir)
	apiErr, _ = publishUntil(t, js, "f.data", 1000, 3)
	if apiErr.ErrorCode != 10077 {
		t.Fatalf("small publish on a full disk: %+v, want err_code 10077", apiErr)
	}
	if free := testfs.Free(t, dir); free > 64<<10 {
		t.Fatalf("%d bytes free after filling the disk", free)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs < 500 {
		t.Fatalf("stream info on a full disk: %v, %+v", err, info)
	}
	if _, err := s.GetMsg(ctx, info.State.LastSeq); err != nil {
		t.Fatalf("get on a full disk: %v", err)
	}
	file := filepath.Join(dir, "js", "streams", "F", "messages.db")
	full, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteMsg(ctx, 2); err != nil {
		t.Fatalf("rmm on a full disk: %v", err)
	}
	if err := s.Purge(ctx); err != nil {
		t.Fatalf("purge on a full disk: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for testfs.Free(t, dir) < 8<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes free 30s after the purge of a %d byte file", testfs.Free(t, dir), full.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() > full.Size()/8 {
		t.Fatalf("stream file after the purge: %v bytes (was %d), %v", fi.Size(), full.Size(), err)
	}

	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatalf("create a KV bucket after the purge: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("KV put after the purge: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "G", Subjects: []string{"g.>"}}); err != nil {
		t.Fatalf("create a stream after the purge: %v", err)
	}
	for _, subj := range []string{"g.1", "f.data"} {
		if _, err := js.Publish(ctx, subj, []byte("after")); err != nil {
			t.Fatalf("publish to %s after the purge: %v", subj, err)
		}
	}
}

// With the default max_file_store of 75%, filling a stream on a 20 MB
// ext4 file system stops with "insufficient storage resources" while a
// quarter of the space that was free at start-up is still free: bbolt's
// overhead and the space reserve are counted.
func TestJSDefaultFileStoreLeavesHeadroom(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := testfs.Mount(t, testfs.Ext4, 20<<20)
	total := testfs.Free(t, dir)
	p := startProc(t, filepath.Join(dir, "js"), nil)
	_, js, ctx := p.connectJS(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "F", Subjects: []string{"f.>"}}); err != nil {
		t.Fatal(err)
	}
	apiErr, last := publishUntil(t, js, "f.data", 16000, 1)
	if apiErr.ErrorCode != 10047 {
		t.Fatalf("publish past the default limit after seq %d: %+v, want err_code 10047", last, apiErr)
	}
	free := testfs.Free(t, dir)
	if free < total/4-128<<10 {
		t.Fatalf("%d of %d bytes free at the default limit, want a quarter", free, total)
	}
	if free > total/4+2<<20 {
		t.Fatalf("%d of %d bytes free at the default limit: the store stopped early", free, total)
	}
	t.Logf("%d of %d bytes free after %d messages", free, total, last)
}
