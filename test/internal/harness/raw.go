package harness

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// Raw is a hand-driven protocol connection for exact wire checks.
type Raw struct {
	t    testing.TB
	Conn net.Conn
	R    *bufio.Reader
	Info map[string]any
}

// DialRaw connects, reads INFO and, when connect is not empty, sends
// "CONNECT <connect>".
func DialRaw(t testing.TB, tg *Target, connect string) *Raw {
	t.Helper()
	conn, err := net.Dial("tcp", tg.Addr)
	if err != nil {
		t.Fatalf("dial %s: %v", tg.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &Raw{t: t, Conn: conn, R: bufio.NewReader(conn)}
	line := r.Line()
	if !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("%s greeting %q", tg.Name, line)
	}
	if err := json.Unmarshal([]byte(line[5:]), &r.Info); err != nil {
		t.Fatalf("%s INFO json: %v", tg.Name, err)
	}
	if connect != "" {
		r.Send("CONNECT " + connect + "\r\n")
	}
	return r
}

// Send writes s.
func (r *Raw) Send(s string) {
	r.t.Helper()
	if _, err := r.Conn.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// Line reads one line without CRLF, failing after 5 s.
func (r *Raw) Line() string {
	r.t.Helper()
	l, err := r.TryLine(5 * time.Second)
	if err != nil {
		r.t.Fatalf("read: %v (partial %q)", err, l)
	}
	return l
}

// TryLine reads one line within d.
func (r *Raw) TryLine(d time.Duration) (string, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(d))
	s, err := r.R.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

// Expect reads lines, answering server PINGs, until one arrives, and fails
// unless it equals want.
func (r *Raw) Expect(want string) {
	r.t.Helper()
	for {
		l := r.Line()
		if l == "PING" && want != "PING" {
			r.Send("PONG\r\n")
			continue
		}
		if l != want {
			r.t.Fatalf("got %q, want %q", l, want)
		}
		return
	}
}

// Flush round-trips PING/PONG.
func (r *Raw) Flush() {
	r.t.Helper()
	r.Send("PING\r\n")
	r.Expect("PONG")
}

// ExpectClosed reads until EOF within d, failing on timeout. It returns
// every line read on the way.
func (r *Raw) ExpectClosed(d time.Duration) []string {
	r.t.Helper()
	deadline := time.Now().Add(d)
	var lines []string
	for {
		l, err := r.TryLine(time.Until(deadline))
		if l != "" {
			lines = append(lines, l)
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatalf("connection not closed within %v; read %q", d, lines)
			}
			return lines
		}
	}
}
