package main

import (
	"bufio"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// physicalMemory is the memory leafgate may use: the machine's RAM, or
// less when GOMEMLIMIT or the service's cgroup (systemd MemoryMax=) says
// so.
func physicalMemory() (int64, error) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0, err
	}
	mem := int64(si.Totalram) * int64(si.Unit)
	if gml := debug.SetMemoryLimit(-1); gml != math.MaxInt64 && gml < mem {
		mem = gml
	}
	if cg := cgroupMemoryMax("/proc/self/cgroup", "/sys/fs/cgroup"); cg > 0 && cg < mem {
		mem = cg
	}
	return mem, nil
}

// cgroupMemoryMax reads the cgroup v2 memory.max of this process's cgroup;
// 0 when there is none or it is "max".
func cgroupMemoryMax(selfCgroup, root string) int64 {
	f, err := os.Open(selfCgroup)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path, ok := strings.CutPrefix(sc.Text(), "0::")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.Clean("/"+path), "memory.max"))
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0 // "max"
		}
		return n
	}
	return 0
}

// diskForStore is the disk space JetStream could have under dir, which is
// created if missing: what an unprivileged process may still use on its
// file system plus what the store already takes. Counting the store's own
// files keeps a percentage limit from shrinking at every restart as the
// store grows (nats-server#5871).
func diskForStore(dir string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	used, err := diskUsage(dir)
	if err != nil {
		return 0, err
	}
	return int64(st.Bavail)*int64(st.Bsize) + used, nil
}

// diskUsage is the space the files under dir take on disk.
func diskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n, err
}
