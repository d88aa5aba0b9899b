package mqtt

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// testClient is a raw MQTT client on leafgate's own codec, so session
// tests can send exactly the packets they mean (including wrong ones).
type testClient struct {
	t   *testing.T
	nc  net.Conn
	v   packet.Version
	buf []byte
}

func startBroker(t *testing.T, opts Options) (*Broker, string) {
	t.Helper()
	if opts.Router == nil {
		opts.Router = router.New()
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	stop, addr := serveOn(t, b)
	t.Cleanup(func() {
		stop()
		b.Close()
	})
	return b, addr
}

// serveOn accepts connections for b until stop is called.
func serveOn(t *testing.T, b *Broker) (stop func(), addr string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closing := make(chan struct{})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go b.Serve(nc, closing)
		}
	}()
	return func() {
		ln.Close()
		close(closing)
	}, ln.Addr().String()
}

func dial(t *testing.T, addr string, v packet.Version, cp packet.Connect) (*testClient, *packet.Connack) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &testClient{t: t, nc: nc, v: v}
	c.send(&cp)
	p := c.read()
	ack, ok := p.(*packet.Connack)
	if !ok {
		t.Fatalf("got %T, want CONNACK", p)
	}
	return c, ack
}

func (c *testClient) send(p packet.Packet) {
	c.t.Helper()
	if _, err := c.nc.Write(p.Append(nil, c.v)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next packet, failing the test after 10 s.
func (c *testClient) read() packet.Packet {
	c.t.Helper()
	p, err := c.tryRead(10 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return p
}

func (c *testClient) tryRead(d time.Duration) (packet.Packet, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 64<<10)
	for {
		h, complete, err := packet.Split(c.buf, 1<<24)
		if err != nil {
			return nil, err
		}
		if complete {
			raw := append([]byte(nil), c.buf[:h.Len()]...)
			c.buf = c.buf[h.Len():]
			p := packet.New(packet.Type(raw[0] >> 4))
			if err := p.Decode(c.v, raw); err != nil {
				return nil, err
			}
			return p, nil
		}
		n, err := c.nc.Read(tmp)
		if err != nil {
			return nil, err
		}
		c.buf = append(c.buf, tmp[:n]...)
	}
}

func TestQoSRoundTrips(t *testing.T) {
	_, addr := startBroker(t, Options{})
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
			for subQoS := byte(0); subQoS <= 2; subQoS++ {
				sub, ack := dial(t, addr, v, packet.Connect{ClientID: []byte("sub"), CleanStart: true})
				if ack.Code != 0 {
					t.Fatalf("connack %v", ack.Code)
				}
				sub.send(&packet.Subscribe{PacketID: 1, Filters: []packet.Subscription{{Filter: []byte("a/+/c"), QoS: subQoS}}})
				sa := sub.read().(*packet.Suback)
				if sa.Codes[0] != subQoS {
					t.Fatalf("granted %d", sa.Codes[0])
				}
				pub, _ := dial(t, addr, v, packet.Connect{ClientID: []byte("pub"), CleanStart: true})
				pub.send(&packet.Publish{QoS: pubQoS, PacketID: 7, Topic: []byte("a/b/c"), Payload: []byte("hi")})
				switch pubQoS {
				case 1:
					if a := pub.read().(*packet.Ack); a.PacketType != packet.PUBACK || a.PacketID != 7 {
						t.Fatalf("ack %+v", a)
					}
				case 2:
					if a := pub.read().(*packet.Ack); a.PacketType != packet.PUBREC || a.PacketID != 7 {
						t.Fatalf("ack %+v", a)
					}
					pub.send(&packet.Ack{PacketType: packet.PUBREL, PacketID: 7})
					if a := pub.read().(*packet.Ack); a.PacketType != packet.PUBCOMP || a.PacketID != 7 {
						t.Fatalf("ack %+v", a)
					}
				}
				m, ok := sub.read().(*packet.Publish)
				if !ok || !bytes.Equal(m.Payload, []byte("hi")) || string(m.Topic) != "a/b/c" || m.QoS != min(pubQoS, subQoS) {
					t.Fatalf("v%d pub %d sub %d: got %+v", v, pubQoS, subQoS, m)
				}
				switch m.QoS {
				case 1:
					sub.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: m.PacketID})
				case 2:
					sub.send(&packet.Ack{PacketType: packet.PUBREC, PacketID: m.PacketID})
					if a := sub.read().(*packet.Ack); a.PacketType != packet.PUBREL {
						t.Fatalf("want PUBREL, got %+v", a)
					}
					sub.send(&packet.Ack{PacketType: packet.PUBCOMP, PacketID: m.PacketID})
				}
				sub.send(&packet.Disconnect{})
				pub.send(&packet.Disconnect{})
				sub.nc.Close()
				pub.nc.Close()
			}
		}
	}
}
