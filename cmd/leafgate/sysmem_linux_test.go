package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryMax(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "cgroup")
	root := filepath.Join(dir, "fs")
	svc := filepath.Join(root, "system.slice", "leafgate.service")
	if err := os.MkdirAll(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(self, "0::/system.slice/leafgate.service\n")
	write(filepath.Join(svc, "memory.max"), "268435456\n")
	if got := cgroupMemoryMax(self, root); got != 256<<20 {
		t.Fatalf("memory.max 256 MiB read as %d", got)
	}
	write(filepath.Join(svc, "memory.max"), "max\n")
	if got := cgroupMemoryMax(self, root); got != 0 {
		t.Fatalf("memory.max \"max\" read as %d", got)
	}
	write(self, "12:memory:/x\n") // cgroup v1 only
	if got := cgroupMemoryMax(self, root); got != 0 {
		t.Fatalf("v1 cgroup read as %d", got)
	}
}

// A store that grew does not shrink its own percentage limit: the space it
// takes counts as available to it.
func TestDiskForStoreCountsTheStore(t *testing.T) {
	// Other processes (other test packages, on CI too) write to the same
	// disk meanwhile: allow 16 MiB, and try a few times, since such
	// writes come and go while the store's 64 MiB stay.
	var before, after int64
	for attempt := range 5 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(attempt))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		var err error
		if before, err = diskForStore(dir); err != nil {
			t.Skip(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "messages.db"), make([]byte, 64<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		if after, err = diskForStore(dir); err != nil {
			t.Fatal(err)
		}
		if d := before - after; d <= 16<<20 && d >= -16<<20 {
			return
		}
		_ = os.Remove(filepath.Join(dir, "messages.db"))
	}
	t.Fatalf("64 MiB written into the store moved its available space from %d to %d", before, after)
}
