package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// SIGHUP reloads the configuration file of the real binary: a user added
// by the edit can connect, the removed one is refused, a connected client
// of the removed user is disconnected, and the process keeps running; a
// bad file afterwards changes nothing.
func TestSIGHUPReloadsUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "leafgate.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	users := func(name string) string {
		return "authorization:\n  users:\n    - user: " + name + "\n      password: pw\n"
	}
	write(users("alice"))
	p := startProc(t, filepath.Join(dir, "js"), nil, "-c", file)
	login := func(user string, opts ...nats.Option) (*nats.Conn, error) {
		return nats.Connect(p.url, append(opts, nats.UserInfo(user, "pw"), nats.MaxReconnects(0))...)
	}
	disconnected := make(chan struct{})
	asyncErr := make(chan error, 4)
	alice, err := login("alice", nats.ClosedHandler(func(*nats.Conn) { close(disconnected) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr <- err }))
	if err != nil {
		t.Fatalf("alice before the reload: %v", err)
	}
	defer alice.Close()

	hup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	write(users("bob"))
	hup()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := login("bob")
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob still refused after SIGHUP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := login("alice"); err == nil {
		t.Fatal("alice, removed, could still connect")
	}
	select {
	case <-disconnected:
		select {
		case err := <-asyncErr:
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("alice got %v, want an authorization violation", err)
			}
		default:
			t.Fatal("alice was closed without an authorization violation")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's existing connection was not closed")
	}

	write("max_payload: lots\n" + users("carol"))
	hup()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-p.done:
		t.Fatal("leafgate exited on a bad configuration file")
	default:
	}
	if _, err := login("carol"); err == nil {
		t.Fatal("a bad file was applied")
	}
	nc, err := login("bob")
	if err != nil {
		t.Fatalf("bob after the bad file: %v", err)
	}
	nc.Close()
}
