package netproxy

import "syscall"

// clampMSS sets a socket's TCP maximum segment size before it connects
// or listens (accepted connections inherit a listener's).
func clampMSS(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, linkMSS)
}
