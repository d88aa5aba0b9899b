package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// signalNames maps --signal commands to signals, as nats-server's -sl does.
var signalNames = map[string]syscall.Signal{
	"ldm":    syscall.SIGUSR2,
	"stop":   syscall.SIGTERM,
	"term":   syscall.SIGTERM,
	"quit":   syscall.SIGINT,
	"reload": syscall.SIGHUP,
}

// sendSignal handles --signal CMD[=PID]: the PID comes from the argument,
// else the pid_file, else the only other running leafgate found in procDir.
func sendSignal(arg, pidFile, procDir string) error {
	name, pidStr, hasPID := strings.Cut(arg, "=")
	sig, ok := signalNames[name]
	if !ok {
		return fmt.Errorf("unknown command %q (want ldm, reload, stop or quit)", name)
	}
	var pid int
	var err error
	switch {
	case hasPID:
		if pid, err = strconv.Atoi(pidStr); err != nil || pid <= 0 {
			return fmt.Errorf("invalid pid %q", pidStr)
		}
	case pidFile != "":
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return fmt.Errorf("read pid_file: %w", err)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil || pid <= 0 {
			return fmt.Errorf("pid_file %s holds no pid", pidFile)
		}
	default:
		if pid, err = findLeafgate(procDir, os.Getpid()); err != nil {
			return err
		}
	}
	if err := checkLeafgate(procDir, pid, pidFile, hasPID); err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return nil
}

// checkLeafgate refuses to signal a pid that is not a running leafgate: a
// stale pid_file may name a process that has since exited, or an unrelated
// one that reused the pid. Without a /proc to look in it cannot tell, and
// lets the signal go.
func checkLeafgate(procDir string, pid int, pidFile string, explicit bool) error {
	if _, err := os.Stat(procDir); err != nil {
		return nil
	}
	from := "pid " + strconv.Itoa(pid)
	if !explicit && pidFile != "" {
		from += " (from pid_file " + pidFile + ", which may be stale)"
	}
	comm, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "comm"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no such process", from)
		}
		return fmt.Errorf("%s: read process name: %w", from, err)
	}
	name := strings.TrimSpace(string(comm))
	if strings.HasPrefix(name, "leafgate") {
		return nil
	}
	if exe, err := os.Readlink(filepath.Join(procDir, strconv.Itoa(pid), "exe")); err == nil &&
		strings.HasPrefix(filepath.Base(strings.TrimSuffix(exe, " (deleted)")), "leafgate") {
		return nil
	}
	return fmt.Errorf("%s is %q, not leafgate; not signalling it", from, name)
}

// findLeafgate returns the pid of the one process named leafgate other than
// self.
func findLeafgate(procDir string, self int) (int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil {
			continue
		}
		if strings.TrimSpace(string(comm)) == "leafgate" {
			found = append(found, pid)
		}
	}
	switch len(found) {
	case 0:
		return 0, errors.New("no running leafgate found; pass =PID or set pid_file")
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%d leafgate processes running (%v); pass =PID", len(found), found)
}

// notifySystemd sends a state line to systemd when run as Type=notify. It
// needs no dependency: the protocol is one datagram on NOTIFY_SOCKET.
func notifySystemd(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.Write([]byte(state))
}
