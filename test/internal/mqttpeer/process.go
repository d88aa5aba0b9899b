package mqttpeer

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is a broker run as a separate process.
type process struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
	grace  time.Duration // how long halt waits after SIGTERM before SIGKILL
}

// startProcess starts cmd (killed with the test binary: no orphans),
// capturing its output, and waits until every address in addrs accepts
// TCP connections; name is for errors.
func startProcess(name string, cmd *exec.Cmd, grace time.Duration, addrs ...string) (*process, error) {
	p := &process{cmd: cmd, log: &lockedBuffer{}, exited: make(chan struct{}), grace: grace}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	alive := func() error {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited: %s", name, strings.TrimSpace(p.log.String()))
		default:
			return nil
		}
	}
	for _, a := range addrs {
		if err := WaitListening(a, 20*time.Second, alive); err != nil {
			p.halt()
			return nil, err
		}
	}
	return p, nil
}

// halt stops the process with SIGTERM (brokers save their state on it),
// and with SIGKILL after the grace period.
func (p *process) halt() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(p.grace):
		p.kill()
	}
}

// kill stops the process with SIGKILL, as a power cut would.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
