//go:build !unix

package netio

import "syscall"

// rawReads: elsewhere every connection reads into a buffer of its own.
const rawReads = false

func sysRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }
