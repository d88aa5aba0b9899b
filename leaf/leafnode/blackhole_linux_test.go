//go:build linux

package leafnode

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// blackHoleAddr is a loopback address where a TCP dial hangs: a listener
// with a backlog of 0 whose accept queue is full, so Linux drops further
// SYNs. It skips the test when the machine does not behave so.
func blackHoleAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skipf("getsockname: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return addr // the queue is full: dials hang
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("cannot make a TCP dial hang on this machine")
	return ""
}
