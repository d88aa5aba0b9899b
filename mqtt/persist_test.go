package mqtt

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/sessstore"
)

// restartable is a broker on a session store that a test can restart, as
// leafgate restarts on the same store directory.
type restartable struct {
	t    *testing.T
	path string
	hold atomic.Pointer[chan struct{}] // set: commits wait for it to close
	r    *router.Router
	b    *Broker
	addr string
	st   *sessstore.Store
	stop func()
}

func newRestartable(t *testing.T) *restartable {
	rb := &restartable{t: t, path: filepath.Join(t.TempDir(), "sessions.db")}
	rb.start()
	t.Cleanup(rb.close)
	return rb
}

func (rb *restartable) start() {
	t := rb.t
	st, err := sessstore.Open(sessstore.Options{Path: rb.path, BeforeCommit: func() error {
		if h := rb.hold.Load(); h != nil {
			<-*h
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	rb.st = st
	rb.r = router.New()
	b, err := New(Options{Router: rb.r, Sessions: st})
	if err != nil {
		t.Fatal(err)
	}
	rb.b = b
	lnb, addr := serveOn(t, b)
	rb.addr = addr
	rb.stop = lnb
}

func (rb *restartable) close() {
	if rb.stop == nil {
		return
	}
	rb.stop()
	rb.b.Close()
	rb.st.Close()
	rb.stop = nil
}

func (rb *restartable) restart() {
	rb.close()
	rb.start()
}

func TestPersistentQueueSurvivesRestartInOrder(t *testing.T) {
	rb := newRestartable(t)
	cp := packet.Connect{ClientID: []byte("sensor-sub")}
	sub, _ := dial(t, rb.addr, packet.V311, cp)
	subscribe(t, sub, packet.Subscription{Filter: []byte("t/#"), QoS: 2})
	sub.send(&packet.Disconnect{})
	pub, _ := dial(t, rb.addr, packet.V5, packet.Connect{ClientID: []byte("pub"), CleanStart: true})
	for i := range 20 {
		pub.send(&packet.Publish{QoS: 1 + byte(i%2), PacketID: uint16(i + 1), Topic: []byte("t/x"), Payload: []byte{byte(i)}})
	}
	for range 20 {
		a := pub.read().(*packet.Ack)
		if a.PacketType == packet.PUBREC {
			pub.send(&packet.Ack{PacketType: packet.PUBREL, PacketID: a.PacketID})
		}
	}
	rb.restart()
	sub2, ack := dial(t, rb.addr, packet.V311, cp)
	if !ack.SessionPresent {
		t.Fatal("session lost across restart")
	}
	for got := 0; got < 20; {
		switch p := sub2.read().(type) {
		case *packet.Publish:
			if p.Payload[0] != byte(got) || p.QoS != 1+byte(got%2) {
				t.Fatalf("message %d: payload %v qos %d", got, p.Payload, p.QoS)
			}
			got++
			if p.QoS == 1 {
				sub2.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: p.PacketID})
			} else {
				sub2.send(&packet.Ack{PacketType: packet.PUBREC, PacketID: p.PacketID})
			}
		case *packet.Ack:
			if p.PacketType == packet.PUBREL {
				sub2.send(&packet.Ack{PacketType: packet.PUBCOMP, PacketID: p.PacketID})
			}
		}
	}
	// The PUBRELs still coming.
	for {
		p, err := sub2.tryRead(300 * time.Millisecond)
		if err != nil {
			break
		}
		if a, ok := p.(*packet.Ack); ok && a.PacketType == packet.PUBREL {
			sub2.send(&packet.Ack{PacketType: packet.PUBCOMP, PacketID: a.PacketID})
		}
	}
	sub2.send(&packet.Disconnect{})
	time.Sleep(100 * time.Millisecond)
	rb.restart()
	sub3, _ := dial(t, rb.addr, packet.V311, cp)
	if p, err := sub3.tryRead(300 * time.Millisecond); err == nil {
		t.Fatalf("acknowledged message came back after restart: %+v", p)
	}
}

func TestUnackedKeepsPacketIDAcrossRestart(t *testing.T) {
	rb := newRestartable(t)
	cp := packet.Connect{ClientID: []byte("q2sub")}
	sub, _ := dial(t, rb.addr, packet.V311, cp)
	subscribe(t, sub, packet.Subscription{Filter: []byte("q2"), QoS: 2})
	rb.r.Publish(&router.Publisher{}, []byte("q2"), nil, []byte("NATS/1.0\r\nNmqtt-Pub:2\r\n\r\n"), []byte("once"))
	m := sub.read().(*packet.Publish)
	sub.send(&packet.Ack{PacketType: packet.PUBREC, PacketID: m.PacketID})
	if a := sub.read().(*packet.Ack); a.PacketType != packet.PUBREL {
		t.Fatalf("got %+v", a)
	}
	time.Sleep(100 * time.Millisecond) // the release is recorded
	rb.restart()
	sub2, _ := dial(t, rb.addr, packet.V311, cp)
	// Only the PUBREL is resent, with the same packet id [MQTT-4.4.0-1].
	a, ok := sub2.read().(*packet.Ack)
	if !ok || a.PacketType != packet.PUBREL || a.PacketID != m.PacketID {
		t.Fatalf("after restart got %+v, want PUBREL %d", a, m.PacketID)
	}
}

func TestInboundQoS2ExactlyOnceAcrossRestart(t *testing.T) {
	rb := newRestartable(t)
	cp := packet.Connect{ClientID: []byte("q2pub")}
	pub, _ := dial(t, rb.addr, packet.V311, cp)
	pub.send(&packet.Publish{QoS: 2, PacketID: 5, Topic: []byte("x"), Payload: []byte("1")})
	if a := pub.read().(*packet.Ack); a.PacketType != packet.PUBREC {
		t.Fatalf("got %+v", a)
	}
	rb.restart()
	n := newNATSSub(t, rb.r, "x", "")
	pub2, _ := dial(t, rb.addr, packet.V311, cp)
	pub2.send(&packet.Publish{QoS: 2, Dup: true, PacketID: 5, Topic: []byte("x"), Payload: []byte("1")})
	if a := pub2.read().(*packet.Ack); a.PacketType != packet.PUBREC || a.PacketID != 5 {
		t.Fatalf("got %+v", a)
	}
	pub2.send(&packet.Ack{PacketType: packet.PUBREL, PacketID: 5})
	if a := pub2.read().(*packet.Ack); a.PacketType != packet.PUBCOMP {
		t.Fatalf("got %+v", a)
	}
	select {
	case <-n.ch:
		t.Fatal("a QoS 2 message delivered before the restart was delivered again")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestPubackWaitsForSessionQueueSync(t *testing.T) {
	rb := newRestartable(t)
	sub, _ := dial(t, rb.addr, packet.V311, packet.Connect{ClientID: []byte("slow-disk")})
	subscribe(t, sub, packet.Subscription{Filter: []byte("d"), QoS: 1})
	pub, _ := dial(t, rb.addr, packet.V311, packet.Connect{ClientID: []byte("p"), CleanStart: true})
	hold := make(chan struct{})
	rb.hold.Store(&hold)
	pub.send(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("d"), Payload: []byte("x")})
	if p, err := pub.tryRead(300 * time.Millisecond); err == nil {
		t.Fatalf("PUBACK %+v before the session queue was synced", p)
	}
	close(hold)
	if a := pub.read().(*packet.Ack); a.PacketType != packet.PUBACK {
		t.Fatalf("got %+v", a)
	}
	rb.hold.Store(nil)
}

// Without a session file the store opens for the first persistent
// session, not before; what that session does is durable from then on.
func TestSessionStoreOpensOnFirstPersistentSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	var opened atomic.Pointer[sessstore.Store]
	r := router.New()
	b, err := New(Options{Router: r, OpenSessions: func() (*sessstore.Store, error) {
		st, err := sessstore.Open(sessstore.Options{Path: path})
		opened.Store(st)
		return st, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop, addr := serveOn(t, b)
	c, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("clean"), CleanStart: true})
	c.send(&packet.Disconnect{})
	if opened.Load() != nil {
		t.Fatal("store opened for a clean session")
	}
	p, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("keep")})
	subscribe(t, p, packet.Subscription{Filter: []byte("k"), QoS: 1})
	p.send(&packet.Disconnect{})
	st := opened.Load()
	if st == nil {
		t.Fatal("store not opened for a persistent session")
	}
	stop()
	b.Close()
	st.Close()

	st2, err := sessstore.Open(sessstore.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	b2, err := New(Options{Router: router.New(), Sessions: st2})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	stop2, addr2 := serveOn(t, b2)
	defer stop2()
	if _, ack := dial(t, addr2, packet.V311, packet.Connect{ClientID: []byte("keep")}); !ack.SessionPresent {
		t.Fatal("session lost")
	}
}

// A replaying publisher's messages (router.Mark: a downlink delivering
// its stream after a crash took its position) are stored once per
// persistent session and subscription, across a restart; a higher mark
// is stored.
func TestMarkedReplayStoredOnce(t *testing.T) {
	rb := newRestartable(t)
	cp := packet.Connect{ClientID: []byte("dev1")}
	sub, _ := dial(t, rb.addr, packet.V311, cp)
	subscribe(t, sub, packet.Subscription{Filter: []byte("commands/dev1"), QoS: 1})
	sub.send(&packet.Disconnect{})
	time.Sleep(100 * time.Millisecond)
	publish := func(seq uint64, payload string) {
		done := make(chan error, 1)
		c := router.NewConfirm(func(err error) { done <- err })
		rb.r.Publish(&router.Publisher{Confirm: c, Mark: &router.Mark{Key: "downlink-C", Seq: seq}}, []byte("commands.dev1"), nil, nil, []byte(payload))
		c.Release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	publish(1, "a")
	publish(2, "b")
	rb.restart()
	publish(1, "a") // the replay
	publish(2, "b")
	publish(3, "c")
	sub2, ack := dial(t, rb.addr, packet.V311, cp)
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	var got []string
	for {
		p, err := sub2.tryRead(500 * time.Millisecond)
		if err != nil {
			break
		}
		if pub, ok := p.(*packet.Publish); ok {
			got = append(got, string(pub.Payload))
			sub2.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: pub.PacketID})
		}
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("device got %v, want a,b,c once each", got)
	}
}
