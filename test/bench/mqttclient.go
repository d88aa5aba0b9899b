package main

// The MQTT load generator's client: raw MQTT 3.1.1 over TCP, or over
// WebSocket (wsclient.go), encoded and decoded with leafgate's own codec
// (mqtt/packet, which allocates nothing per packet), so that the
// generator costs far less per message than any broker it drives. 3.1.1
// because nats-server speaks nothing newer.

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/leafgate/leafgate/mqtt/packet"
)

const (
	mqttVersion   = packet.V311
	mqttKeepAlive = 60 // seconds; every run and measurement is far shorter
	mqttTimeout   = 10 * time.Second
	mqttReadBuf   = 256 << 10
)

// mqttConn is one MQTT connection. Connect and subscribe run on the caller's
// goroutine; afterwards one goroutine reads (readLoop) and at most one
// other writes.
type mqttConn struct {
	c   net.Conn
	buf []byte // bytes read and not yet consumed
}

// mqttDial connects to addr (host:port, or a ws:// URL for MQTT over
// WebSocket) and sends CONNECT, returning once the CONNACK accepts it
// (with its session-present flag).
func mqttDial(addr, clientID string, clean bool) (*mqttConn, bool, error) {
	var c net.Conn
	var err error
	if isWSURL(addr) {
		c, err = dialWS(addr)
	} else {
		c, err = net.DialTimeout("tcp", addr, mqttTimeout)
	}
	if err != nil {
		return nil, false, err
	}
	m := &mqttConn{c: c, buf: make([]byte, 0, 4096)}
	cp := packet.Connect{CleanStart: clean, KeepAlive: mqttKeepAlive, ClientID: []byte(clientID)}
	if _, err := c.Write(cp.Append(nil, mqttVersion)); err != nil {
		c.Close()
		return nil, false, err
	}
	pkt, err := m.expect(packet.CONNACK)
	if err != nil {
		c.Close()
		return nil, false, fmt.Errorf("CONNACK: %w", err)
	}
	var ca packet.Connack
	if err := ca.Decode(mqttVersion, pkt); err != nil {
		c.Close()
		return nil, false, err
	}
	if ca.Code != 0 {
		c.Close()
		return nil, false, fmt.Errorf("CONNACK return code %d", ca.Code)
	}
	return m, ca.SessionPresent, nil
}

// subscribe subscribes to filter and waits for a SUBACK granting it.
func (m *mqttConn) subscribe(filter string, qos byte) error {
	sp := packet.Subscribe{PacketID: 1, Filters: []packet.Subscription{{Filter: []byte(filter), QoS: qos}}}
	if _, err := m.c.Write(sp.Append(nil, mqttVersion)); err != nil {
		return err
	}
	pkt, err := m.expect(packet.SUBACK)
	if err != nil {
		return fmt.Errorf("SUBACK: %w", err)
	}
	var sa packet.Suback
	if err := sa.Decode(mqttVersion, pkt); err != nil {
		return err
	}
	if len(sa.Codes) != 1 || sa.Codes[0] != qos {
		return fmt.Errorf("SUBACK for %q at QoS %d: codes %x", filter, qos, sa.Codes)
	}
	return nil
}

// expect reads packets until one of type t and returns it; anything else
// before it is an error. Bytes after it stay buffered for readLoop.
func (m *mqttConn) expect(t packet.Type) ([]byte, error) {
	_ = m.c.SetReadDeadline(time.Now().Add(mqttTimeout))
	defer m.c.SetReadDeadline(time.Time{})
	for {
		h, complete, err := packet.Split(m.buf, 0)
		if err != nil {
			return nil, err
		}
		if complete {
			pkt := m.buf[:h.Len()]
			if h.Type != t {
				return nil, fmt.Errorf("got %v, want %v", h.Type, t)
			}
			// Copy out, so the buffer can be compacted.
			out := append([]byte(nil), pkt...)
			m.buf = append(m.buf[:0], m.buf[h.Len():]...)
			return out, nil
		}
		if err := m.fill(h.Len()); err != nil {
			return nil, err
		}
	}
}

// fill reads at least once, growing the buffer to hold need bytes.
func (m *mqttConn) fill(need int) error {
	if need > cap(m.buf) {
		m.buf = append(make([]byte, 0, need), m.buf...)
	}
	if len(m.buf) == cap(m.buf) {
		m.buf = append(make([]byte, 0, 2*cap(m.buf)), m.buf...)
	}
	n, err := m.c.Read(m.buf[len(m.buf):cap(m.buf)])
	m.buf = m.buf[:len(m.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readLoop hands each complete packet to onPacket, and calls onBatch after
// each read's worth of packets (to flush acknowledgements in one write),
// until the connection fails or onPacket returns an error. The packet is
// only valid during the call.
func (m *mqttConn) readLoop(onPacket func(h packet.FixedHeader, pkt []byte) error, onBatch func() error) error {
	if cap(m.buf) < mqttReadBuf {
		m.buf = append(make([]byte, 0, mqttReadBuf), m.buf...)
	}
	for {
		off := 0
		for {
			h, complete, err := packet.Split(m.buf[off:], 0)
			if err != nil {
				return err
			}
			if !complete {
				if h.HeaderLen > 0 && h.Len() > cap(m.buf) {
					m.buf = append(make([]byte, 0, h.Len()), m.buf[off:]...)
					off = 0
				}
				break
			}
			if err := onPacket(h, m.buf[off:off+h.Len()]); err != nil {
				return err
			}
			off += h.Len()
		}
		if err := onBatch(); err != nil {
			return err
		}
		m.buf = m.buf[:copy(m.buf, m.buf[off:])]
		if err := m.fill(0); err != nil {
			return err
		}
	}
}

// disconnect sends DISCONNECT and closes.
func (m *mqttConn) disconnect() {
	_ = m.c.SetWriteDeadline(time.Now().Add(time.Second))
	var d packet.Disconnect
	_, _ = m.c.Write(d.Append(nil, mqttVersion))
	m.c.Close()
}

func (m *mqttConn) close() { m.c.Close() }
