package main

import (
	"bufio"
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

// diskAvailable is the space an unprivileged process may still use on
// the file system holding dir, which is created if missing.
func diskAvailable(dir string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
