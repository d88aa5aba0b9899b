package e2e

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// rawMQTT is a minimal 3.1.1 client on leafgate's own codec, cheap enough
// to run ten thousand sessions from one test.
type rawMQTT struct {
	nc  net.Conn
	buf []byte
}

func rawDial(addr, id string, clean bool) (*rawMQTT, bool, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, false, err
	}
	c := &rawMQTT{nc: nc}
	cp := packet.Connect{ClientID: []byte(id), CleanStart: clean, KeepAlive: 60}
	if err := c.send(&cp); err != nil {
		nc.Close()
		return nil, false, err
	}
	p, err := c.read(30 * time.Second)
	if err != nil {
		nc.Close()
		return nil, false, err
	}
	ack, ok := p.(*packet.Connack)
	if !ok || ack.Code != 0 {
		nc.Close()
		return nil, false, fmt.Errorf("connect %s: %+v", id, p)
	}
	return c, ack.SessionPresent, nil
}

func (c *rawMQTT) send(p packet.Packet) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.nc.Write(p.Append(nil, packet.V311))
	return err
}

func (c *rawMQTT) read(d time.Duration) (packet.Packet, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 4096)
	for {
		h, complete, err := packet.Split(c.buf, 1<<20)
		if err != nil {
			return nil, err
		}
		if complete {
			raw := append([]byte(nil), c.buf[:h.Len()]...)
			c.buf = c.buf[h.Len():]
			p := packet.New(packet.Type(raw[0] >> 4))
			return p, p.Decode(packet.V311, raw)
		}
		n, err := c.nc.Read(tmp)
		if err != nil {
			return nil, err
		}
		c.buf = append(c.buf, tmp[:n]...)
	}
}

// forSessions runs fn for 0..n-1 on 32 goroutines and returns the first
// error.
func forSessions(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return *e
	}
	return nil
}

// Ten thousand persistent sessions with a QoS 1 subscription each, as the
// issue asks a Pi to carry: a QoS 1 message acknowledged to its publisher
// reaches all of them after leafgate is killed with SIGKILL and restarts,
// once each, with their sessions present.
func TestMQTTTenThousandSessionsResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 sessions and a kill")
	}
	const n = 10000
	b := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{})
	start := time.Now()
	err := forSessions(n, func(i int) error {
		c, _, err := rawDial(b.Addr, fmt.Sprintf("pi-%d", i), false)
		if err != nil {
			return err
		}
		defer c.nc.Close()
		if err := c.send(&packet.Subscribe{PacketID: 1, Filters: []packet.Subscription{{Filter: []byte("fleet/cmd"), QoS: 1}}}); err != nil {
			return err
		}
		p, err := c.read(30 * time.Second)
		if sa, ok := p.(*packet.Suback); err != nil || !ok || sa.Codes[0] != 1 {
			return fmt.Errorf("subscribe pi-%d: %+v %v", i, p, err)
		}
		return c.send(&packet.Disconnect{})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions set up in %v", n, time.Since(start))

	pub, _, err := rawDial(b.Addr, "fleet-pub", true)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := pub.send(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("fleet/cmd"), Payload: []byte("update")}); err != nil {
		t.Fatal(err)
	}
	if p, err := pub.read(60 * time.Second); err != nil {
		t.Fatalf("PUBACK: %v", err)
	} else if a, ok := p.(*packet.Ack); !ok || a.PacketType != packet.PUBACK {
		t.Fatalf("got %+v", p)
	}
	t.Logf("one QoS 1 message queued durably for %d offline sessions in %v", n, time.Since(start))
	pub.nc.Close()

	b.Crash(t)

	var got atomic.Int64
	start = time.Now()
	err = forSessions(n, func(i int) error {
		c, present, err := rawDial(b.Addr, fmt.Sprintf("pi-%d", i), false)
		if err != nil {
			return err
		}
		defer c.nc.Close()
		if !present {
			return fmt.Errorf("pi-%d: session lost", i)
		}
		p, err := c.read(60 * time.Second)
		m, ok := p.(*packet.Publish)
		if err != nil || !ok || string(m.Payload) != "update" || m.QoS != 1 {
			return fmt.Errorf("pi-%d: got %+v, %v", i, p, err)
		}
		got.Add(1)
		if err := c.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: m.PacketID}); err != nil {
			return err
		}
		return c.send(&packet.Disconnect{})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions resumed after kill -9 and got their message in %v", got.Load(), time.Since(start))
}
