//go:build !unix

package server

import "syscall"

// rawReads: elsewhere every connection reads into a buffer of its own.
const rawReads = false

func sysRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }
