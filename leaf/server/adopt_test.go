package server_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

// statusConn records the close status the client code sets, as ws.Conn
// would send it.
type statusConn struct {
	net.Conn
	mu     sync.Mutex
	status int
	reason string
}

func (c *statusConn) SetCloseStatus(code int, reason string) {
	c.mu.Lock()
	if c.status == 0 {
		c.status, c.reason = code, reason
	}
	c.mu.Unlock()
}

// NetConn lets ServeClient take over the listener's connection, as it does
// through ws.Conn.
func (c *statusConn) NetConn() net.Conn { return c.Conn }

func (c *statusConn) closeStatus() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.reason
}

// adoptingListener serves every connection of an added listener as a NATS
// client of another transport, as the WebSocket listener does.
func adoptingListener(t *testing.T, s *server.Server, o server.ClientOptions) (net.Addr, chan *statusConn) {
	t.Helper()
	conns := make(chan *statusConn, 8)
	addr, err := s.AddListener(server.ListenerConfig{Name: "adopt", Addr: "127.0.0.1:0",
		Serve: func(conn net.Conn, _ <-chan struct{}) {
			sc := &statusConn{Conn: conn}
			conns <- sc
			s.ServeClient(sc, o)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return addr, conns
}

func readInfo(t *testing.T, r *bufio.Reader) map[string]any {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("greeting %q: %v", line, err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func TestServeClientInfoAndConnz(t *testing.T) {
	s := servertest.Run(t, server.Options{Auth: auth.Config{Users: []auth.User{{Name: "alice", Password: "pw"}}}})
	addr, _ := adoptingListener(t, s, server.ClientOptions{
		Transport: "websocket", Host: "gw.local", Port: 8080, ConnectURLs: []string{"gw.local:8080"},
		User: "alice", Password: "pw", // from cookies
	})
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	info := readInfo(t, r)
	if info["host"] != "gw.local" || info["port"] != float64(8080) || info["tls_required"] == true {
		t.Fatalf("INFO describes the wrong listener: %v", info)
	}
	if urls, _ := info["connect_urls"].([]any); len(urls) != 1 || urls[0] != "gw.local:8080" {
		t.Fatalf("connect_urls %v", info["connect_urls"])
	}
	// No credentials in CONNECT: the cookie's are used.
	if _, err := nc.Write([]byte("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("after CONNECT: %q %v", line, err)
	}
	if n := s.NumClients(); n != 1 {
		t.Fatalf("NumClients %d, want 1: counted once", n)
	}
	cz, err := s.Connz(monitor.ConnzOptions{Username: true})
	if err != nil || len(cz.Conns) != 1 {
		t.Fatalf("connz %v %v", cz, err)
	}
	ci := cz.Conns[0]
	if ci.Type != "websocket" || ci.Transport != "websocket" || ci.AuthorizedUser != "alice" || ci.NumSubs != 1 {
		t.Fatalf("connz entry %+v", ci)
	}
	nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.NumClients() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("NumClients %d after close", s.NumClients())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeClientCloseStatus(t *testing.T) {
	s := servertest.Run(t, server.Options{Auth: auth.Config{Users: []auth.User{{Name: "alice", Password: "pw"}}}})
	addr, conns := adoptingListener(t, s, server.ClientOptions{Transport: "websocket"})
	for _, tc := range []struct {
		send   string
		status int
	}{
		{"CONNECT {\"user\":\"alice\",\"pass\":\"wrong\"}\r\n", 1008},
		{"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\nBOGUS\r\n", 1002},
		{"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\nPUB a 99999999\r\n", 1009},
	} {
		nc, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		sc := <-conns
		r := bufio.NewReader(nc)
		readInfo(t, r)
		_, _ = nc.Write([]byte(tc.send))
		line, _ := r.ReadString('\n')
		if !strings.HasPrefix(line, "-ERR") {
			t.Fatalf("%q: got %q, want -ERR", tc.send, line)
		}
		if _, err := r.ReadByte(); err == nil {
			t.Fatalf("%q: connection still open", tc.send)
		}
		if code, reason := sc.closeStatus(); code != tc.status {
			t.Fatalf("%q: close status %d (%s), want %d", tc.send, code, reason, tc.status)
		}
		nc.Close()
	}
}
