//go:build unix

package netio

import "syscall"

// rawReads: on Unix, plain TCP sockets are read through the poller into a
// borrowed buffer (Reader).
const rawReads = true

func sysRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }
