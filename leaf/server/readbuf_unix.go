//go:build unix

package server

import "syscall"

// rawReads: on Unix, plain TCP sockets are read through the poller into a
// borrowed buffer (connReader).
const rawReads = true

func sysRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }
