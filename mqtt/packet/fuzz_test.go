package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/packet/packettest"
)

// The fuzz targets: one per decoder, plus the frame splitter and the
// property decoder. Seeds are the golden and malformed tables. Each asserts
// that nothing panics, that every error is a *packet.Error with a reason
// code a session can send, and that whatever decodes re-encodes to bytes
// that decode to the same values and encode to the same bytes again.

var errorCodes = map[packet.ReasonCode]bool{
	packet.MalformedPacket: true, packet.ProtocolError: true, packet.PacketTooLarge: true,
	packet.UnsupportedProtocolVersion: true, packet.ClientIdentifierNotValid: true,
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var pe *packet.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *packet.Error", err, err)
	}
	if !errorCodes[pe.Code] {
		t.Fatalf("error %v has unexpected code %#x", err, byte(pe.Code))
	}
}

func version(v5 bool) packet.Version {
	if v5 {
		return packet.V5
	}
	return packet.V311
}

// checkRoundTrip asserts decode(encode(p)) == p and that encoding is stable.
func checkRoundTrip(t *testing.T, p packet.Packet, v packet.Version) {
	t.Helper()
	if c, ok := p.(*packet.Connect); ok {
		v = c.Version
	}
	b1 := p.Append(nil, v)
	if len(b1) != p.Len(v) {
		t.Fatalf("Len %d, Append wrote %d bytes", p.Len(v), len(b1))
	}
	h, complete, err := packet.Split(b1, 0)
	if err != nil || !complete || h.Len() != len(b1) {
		t.Fatalf("Split of encoded % X: %+v %v %v", b1, h, complete, err)
	}
	p2 := packet.New(p.Type())
	if err := p2.Decode(v, b1); err != nil {
		t.Fatalf("re-decode of % X: %v (from %+v)", b1, err, p)
	}
	if !packettest.Equal(p, p2) {
		t.Fatalf("round trip changed the packet:\n%+v\n%+v", p, p2)
	}
	if b2 := p2.Append(nil, v); !bytes.Equal(b1, b2) {
		t.Fatalf("encoding unstable:\n% X\n% X", b1, b2)
	}
}

func seed(f *testing.F, types ...packet.Type) {
	is := func(b []byte) bool {
		for _, ty := range types {
			if len(b) > 0 && packet.Type(b[0]>>4) == ty {
				return true
			}
		}
		return false
	}
	for _, g := range packettest.Table() {
		if is(g.Bytes) {
			f.Add(g.Version == packet.V5, g.Bytes)
		}
	}
	for _, b := range packettest.BadTable() {
		if is(b.Bytes) {
			f.Add(b.Version == packet.V5, b.Bytes)
		}
	}
}

// fuzzType decodes data as a packet of type ty (the type nibble is forced,
// so the fuzzer's effort goes into the body).
func fuzzType(f *testing.F, types ...packet.Type) {
	seed(f, types...)
	f.Fuzz(func(t *testing.T, v5 bool, data []byte) {
		if len(data) == 0 {
			return
		}
		for _, ty := range types {
			d := append([]byte(nil), data...)
			d[0] = d[0]&0x0F | byte(ty)<<4
			v := version(v5)
			p := packet.New(ty)
			if err := p.Decode(v, d); err != nil {
				checkErr(t, err)
				continue
			}
			checkRoundTrip(t, p, v)
		}
	})
}

func FuzzConnect(f *testing.F)     { fuzzType(f, packet.CONNECT) }
func FuzzConnack(f *testing.F)     { fuzzType(f, packet.CONNACK) }
func FuzzPublish(f *testing.F)     { fuzzType(f, packet.PUBLISH) }
func FuzzAck(f *testing.F)         { fuzzType(f, packet.PUBACK, packet.PUBREC, packet.PUBREL, packet.PUBCOMP) }
func FuzzSubscribe(f *testing.F)   { fuzzType(f, packet.SUBSCRIBE) }
func FuzzSuback(f *testing.F)      { fuzzType(f, packet.SUBACK) }
func FuzzUnsubscribe(f *testing.F) { fuzzType(f, packet.UNSUBSCRIBE) }
func FuzzUnsuback(f *testing.F)    { fuzzType(f, packet.UNSUBACK) }
func FuzzPing(f *testing.F)        { fuzzType(f, packet.PINGREQ, packet.PINGRESP) }
func FuzzDisconnect(f *testing.F)  { fuzzType(f, packet.DISCONNECT) }
func FuzzAuth(f *testing.F)        { fuzzType(f, packet.AUTH) }

// FuzzSplit runs the frame splitter over arbitrary streams with arbitrary
// limits, then decodes what it frames, as a read loop would.
func FuzzSplit(f *testing.F) {
	// The limit is a uint16 in units of 16 bytes: the fuzzer minimizes
	// integers one step at a time, and a uint32 kept it busy for minutes.
	for _, g := range packettest.Table() {
		f.Add(g.Version == packet.V5, uint16(0), g.Bytes)
	}
	for _, b := range packettest.BadTable() {
		f.Add(b.Version == packet.V5, uint16(b.MaxSize/16), b.Bytes)
	}
	f.Fuzz(func(t *testing.T, v5 bool, max uint16, data []byte) {
		v := version(v5)
		limit := int(max) * 16
		for len(data) > 0 {
			h, complete, err := packet.Split(data, limit)
			if err != nil {
				checkErr(t, err)
				return
			}
			if h.HeaderLen == 0 {
				if complete || len(data) > 4 {
					t.Fatalf("no header from % X but complete=%v", data, complete)
				}
				return
			}
			if h.HeaderLen < 2 || h.HeaderLen > 5 || (limit > 0 && h.Len() > limit) || h.Len() > packet.MaxPacketSize {
				t.Fatalf("header %+v breaks the limits (max %d)", h, limit)
			}
			if complete != (len(data) >= h.Len()) {
				t.Fatalf("complete=%v with %d of %d bytes", complete, len(data), h.Len())
			}
			if !complete {
				return
			}
			p := packet.New(h.Type)
			if err := p.Decode(v, data[:h.Len()]); err != nil {
				checkErr(t, err)
			} else {
				checkRoundTrip(t, p, v)
			}
			data = data[h.Len():]
		}
	})
}

// FuzzProperties decodes property blocks in every context.
func FuzzProperties(f *testing.F) {
	for _, g := range packettest.Table() {
		var ps []*packet.Properties
		ctx := g.Packet.Type()
		switch p := g.Packet.(type) {
		case *packet.Connect:
			ps = append(ps, &p.Props)
			f.Add(byte(packet.WillProperties), p.WillProps.Append(nil))
		case *packet.Connack:
			ps = append(ps, &p.Props)
		case *packet.Publish:
			ps = append(ps, &p.Props)
		case *packet.Ack:
			ps = append(ps, &p.Props)
		case *packet.Subscribe:
			ps = append(ps, &p.Props)
		case *packet.Suback:
			ps = append(ps, &p.Props)
		case *packet.Unsubscribe:
			ps = append(ps, &p.Props)
		case *packet.Unsuback:
			ps = append(ps, &p.Props)
		case *packet.Disconnect:
			ps = append(ps, &p.Props)
		case *packet.Auth:
			ps = append(ps, &p.Props)
		}
		for _, p := range ps {
			f.Add(byte(ctx), p.Append(nil))
		}
	}
	f.Fuzz(func(t *testing.T, ctx byte, data []byte) {
		ty := packet.Type(ctx % 16)
		var p packet.Properties
		n, err := p.Decode(data, ty)
		if err != nil {
			checkErr(t, err)
			return
		}
		if n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		b := p.Append(nil)
		if len(b) != p.Len() {
			t.Fatalf("Len %d, Append wrote %d", p.Len(), len(b))
		}
		var q packet.Properties
		if m, err := q.Decode(b, ty); err != nil || m != len(b) {
			t.Fatalf("re-decode of % X: %d %v", b, m, err)
		}
		if !packettest.Equal(p, q) {
			t.Fatalf("round trip changed properties:\n%+v\n%+v", p, q)
		}
		if b2 := q.Append(nil); !bytes.Equal(b, b2) {
			t.Fatalf("encoding unstable")
		}
	})
}
