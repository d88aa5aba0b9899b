package msgstore

import (
	"os"
	"syscall"
)

// allocate gives f real blocks for [off, off+n) without writing them (a
// first start on a large SD card would otherwise write the whole reserve),
// extending the file.
func allocate(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	return syscall.Fallocate(int(f.Fd()), 0, off, n)
}
