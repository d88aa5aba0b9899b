// Package testfs mounts small real file systems for tests that must see a
// disk fill up: a tmpfs, or an ext4 image on a loop device (ext4 frees and
// reserves blocks the way an SD card's file system does). Mounting needs
// root; without it the test is skipped with a message saying so. As root
// a mount that fails fails the test: the machines that run `make test` run
// as root, so these tests must run there.
package testfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Kind is a file system to mount.
type Kind string

const (
	Tmpfs Kind = "tmpfs"
	Ext4  Kind = "ext4" // an image file on a loop device
)

// Mount mounts a file system of about size bytes and returns its mount
// point; t.Cleanup unmounts it (and removes the image) even when the test
// fails.
func Mount(t testing.TB, kind Kind, size int64) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("mounting a %s needs Linux", kind)
	}
	if os.Geteuid() != 0 {
		t.Skipf("mounting a %s of %d bytes needs root (run as root to test a full disk)", kind, size)
	}
	if !capSysAdmin() {
		t.Skipf("mounting a %s needs CAP_SYS_ADMIN, which this root lacks (a container without it)", kind)
	}
	if _, err := os.Stat("/dev/loop-control"); kind == Ext4 && err != nil {
		t.Skipf("no loop devices here (/dev/loop-control: %v): cannot mount an ext4 image", err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch kind {
	case Tmpfs:
		cmd = exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir)
	case Ext4:
		mkfs, err := exec.LookPath("mkfs.ext4")
		if err != nil {
			t.Skip("mkfs.ext4 not installed: cannot make a small ext4 file system")
		}
		img := filepath.Join(base, "fs.img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		// No reserved blocks and no lazy init: the space df reports is
		// what the test can fill.
		if out, err := exec.Command(mkfs, "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", img).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v: %s", err, out)
		}
		cmd = exec.Command("mount", "-o", "loop", img, dir)
	default:
		t.Fatalf("testfs: unknown kind %q", kind)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v: %s", kind, err, out)
	}
	t.Cleanup(func() {
		// Lazy: a file still open in a leaked goroutine must not leave
		// the mount behind.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Free is the space an unprivileged writer may still use under dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Fill writes a file under dir until the file system is full, leaving
// nothing free, and returns its path: removing it gives the space back.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{64 << 10, 4096, 512} {
		chunk := make([]byte, n)
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
	}
	_ = f.Sync()
	return path
}

// capSysAdmin reports whether the process holds CAP_SYS_ADMIN, which
// mount(2) needs: root in a container often lacks it.
func capSysAdmin() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<21) != 0
		}
	}
	return false
}
