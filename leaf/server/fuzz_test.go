package server_test

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
	"github.com/leafgate/leafgate/leaf/tlsconf"
)

// FuzzClientSession plays arbitrary bytes as a client session against a
// running server that offers TLS without requiring it (so a session that
// starts like a ClientHello goes through the TLS handshake path), with a
// second client subscribed to everything. Whatever
// the bytes, the server must not panic, must close or keep the session,
// and once the session's socket is closed it must hold no client and no
// subscription of it: nothing leaks on any path through the protocol.
func FuzzClientSession(f *testing.F) {
	for _, s := range []string{
		"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n",
		"CONNECT {\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.x 1\r\nHPUB svc _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		"CONNECT {}\r\nSUB a.* q 1\r\nSUB a.> 2\r\nUNSUB 1\r\nUNSUB 2 1\r\nPUB a.b 0\r\n\r\n",
		"CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\nSUB a 1\r\n",
		"CONNECT {\"pedantic\":true}\r\nPUB a..b 0\r\n\r\nSUB a 1\r\n",
		"SUB a 1\r\n",
		"CONNECT {}\r\nPUB a 999999999\r\n",
		"CONNECT {}\r\nSUB a 1\r\nSUB a 1\r\nBOGUS\r\n",
		"CONNECT {\"echo\":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPONG\r\nPING\r\n",
		"\x16\x03\x01\x00\x05hello",
		"",
	} {
		f.Add([]byte(s))
	}
	certs, err := tlsconf.WriteTestCerts(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	tc, err := tlsconf.Options{CertFile: certs.CertFile, KeyFile: certs.KeyFile}.ServerConfig()
	if err != nil {
		f.Fatal(err)
	}
	s := servertest.Run(f, server.Options{
		TLS:              tc,
		AllowNonTLS:      true,
		TLSTimeout:       200 * time.Millisecond,
		MaxPayload:       1 << 12,
		MaxPending:       1 << 16,
		MaxSubscriptions: 20,
		WriteDeadline:    time.Second,
		AuthTimeout:      time.Second,
		Auth:             auth.Config{Users: []auth.User{{Name: "u", Password: "p"}, {Name: "v", Password: "w"}}},
	})
	// A subscriber that sees everything, so publishes are delivered.
	watcher, err := net.Dial("tcp", s.ClientAddr().String())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { watcher.Close() })
	go io.Copy(io.Discard, watcher)
	if _, err := watcher.Write([]byte("CONNECT {\"verbose\":false,\"user\":\"v\",\"pass\":\"w\"}\r\nSUB > 1\r\n")); err != nil {
		f.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Router().Count() != 1 {
		if time.Now().After(deadline) {
			f.Fatal("watcher never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	f.Fuzz(func(t *testing.T, session []byte) {
		conn, err := net.Dial("tcp", s.ClientAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, conn); close(done) }()
		_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Write(session)
		conn.Close()
		<-done
		deadline := time.Now().Add(5 * time.Second)
		for s.NumClients() != 1 || s.Router().Count() != 1 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("after the session closed: %d clients, %d subscriptions (want 1 and 1)\n%s",
					s.NumClients(), s.Router().Count(), buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
}
