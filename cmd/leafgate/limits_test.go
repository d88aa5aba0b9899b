package main

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/leafgate/leafgate/internal/testfs"
)

func TestStoreLimits(t *testing.T) {
	file := writeFile(t, "jetstream:\n  max_memory_store: 50%\n  max_file_store: 2GB\n")
	cfg, err := load(t, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JetStream.MaxMemoryStore != (StoreLimit{Percent: 50}) || cfg.JetStream.MaxFileStore != (StoreLimit{Bytes: 2 << 30}) {
		t.Fatalf("parsed %+v", cfg.JetStream)
	}
	t.Setenv("LEAFGATE_JETSTREAM_MAX_FILE_STORE", "0")
	if cfg, err = load(t, "--config", file); err != nil || cfg.JetStream.MaxFileStore != (StoreLimit{}) {
		t.Fatalf("env 0 (unlimited): %+v %v", cfg.JetStream.MaxFileStore, err)
	}
	if cfg, err = load(t, "--config", writeFile(t, "jetstream:\n  max_memory_store: 1048576\n")); err != nil ||
		cfg.JetStream.MaxMemoryStore != (StoreLimit{Bytes: 1 << 20}) {
		t.Fatalf("plain number: %+v %v", cfg.JetStream.MaxMemoryStore, err)
	}

	total := func(n int64, err error) func() (int64, error) { return func() (int64, error) { return n, err } }
	for _, tt := range []struct {
		l    StoreLimit
		tot  func() (int64, error)
		want int64
		err  bool
	}{
		{StoreLimit{}, total(0, errors.New("unused")), 0, false},
		{StoreLimit{Bytes: 5}, total(0, errors.New("unused")), 5, false},
		{StoreLimit{Percent: 75}, total(4000, nil), 3000, false},
		{StoreLimit{Percent: 100}, total(1<<40, nil), 1 << 40, false},
		{StoreLimit{Percent: 75}, total(0, nil), 0, true},
		{StoreLimit{Percent: 75}, total(0, errors.New("statfs")), 0, true},
	} {
		got, err := tt.l.resolve(tt.tot)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%v.resolve = %d, %v; want %d, err %v", tt.l, got, err, tt.want, tt.err)
		}
	}
}

// The defaults resolve on this machine: 75% of its memory and of the free
// space where the store goes.
func TestDefaultStoreLimitsResolve(t *testing.T) {
	cfg, err := load(t, "--store_dir", filepath.Join(t.TempDir(), "js"))
	if err != nil {
		t.Fatal(err)
	}
	jc := cfg.jetStreamConfig(newLogger(cfg, io.Discard))
	mem, _ := physicalMemory()
	disk, _ := diskForStore(cfg.JetStream.StoreDir)
	if mem == 0 || disk == 0 {
		t.Skip("memory or disk size unknown here")
	}
	if jc.MaxMemory <= 0 || jc.MaxMemory > mem || jc.MaxMemory < mem/2 {
		t.Errorf("max memory %d of %d", jc.MaxMemory, mem)
	}
	if jc.MaxStore <= 0 || jc.MaxStore > disk {
		t.Errorf("max store %d of %d free", jc.MaxStore, disk)
	}
}

// Any accepted store limit is a percentage of 1-100 or a non-negative size,
// never both, and its String form parses back to the same limit.
func FuzzParseStoreLimit(f *testing.F) {
	for _, s := range []string{"75%", "100%", "1%", "0%", "101%", "2GB", "1048576", "0", " 50 % ", "-1", "%", "1.5GB", "9223372036854775807%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseStoreLimit(s)
		if err != nil {
			return
		}
		if l.Percent != 0 && (l.Percent < 1 || l.Percent > 100 || l.Bytes != 0) || l.Bytes < 0 {
			t.Fatalf("ParseStoreLimit(%q) = %+v", s, l)
		}
		back, err := ParseStoreLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseStoreLimit(%q) = %+v; String %q parses to %+v, %v", s, l, l.String(), back, err)
		}
	})
}

func TestStoreReserve(t *testing.T) {
	for _, tt := range []struct{ disk, want int64 }{
		{0, 1 << 20},        // unknown
		{20 << 20, 1 << 20}, // a small SD card partition
		{2 << 30, 4 << 20},
		{32 << 30, 64 << 20},
		{1 << 40, 64 << 20},
	} {
		if got := storeReserve(tt.disk); got != tt.want {
			t.Errorf("storeReserve(%d) = %d, want %d", tt.disk, got, tt.want)
		}
	}
}

// On a 20 MB file system, the default 75% leaves a quarter of it for
// others: the space reserve comes out of the 75%. A size is the files'
// alone, beside the reserve.
func TestDefaultFileStoreLeavesHeadroom(t *testing.T) {
	dir := testfs.Mount(t, testfs.Ext4, 20<<20)
	cfg, err := load(t, "--store_dir", filepath.Join(dir, "js"))
	if err != nil {
		t.Fatal(err)
	}
	jc := cfg.jetStreamConfig(newLogger(cfg, io.Discard))
	disk, err := diskForStore(cfg.JetStream.StoreDir)
	if err != nil {
		t.Fatal(err)
	}
	if jc.Reserve != 1<<20 || jc.MaxStore != disk*3/4-jc.Reserve {
		t.Fatalf("max_file_store %d and reserve %d of %d; want %d and 1 MiB", jc.MaxStore, jc.Reserve, disk, disk*3/4-1<<20)
	}
	t.Setenv("LEAFGATE_JETSTREAM_MAX_FILE_STORE", "8MB")
	if cfg, err = load(t, "--store_dir", filepath.Join(dir, "js")); err != nil {
		t.Fatal(err)
	}
	if jc = cfg.jetStreamConfig(newLogger(cfg, io.Discard)); jc.MaxStore != 8<<20 || jc.Reserve != 1<<20 {
		t.Fatalf("max_file_store 8MB: %d, reserve %d", jc.MaxStore, jc.Reserve)
	}
}
