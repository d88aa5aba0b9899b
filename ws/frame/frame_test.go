package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// clientFrame builds a masked client frame.
func clientFrame(b0 byte, payload []byte, key [4]byte) []byte {
	var out []byte
	n := len(payload)
	switch {
	case n <= 125:
		out = append(out, b0, maskBit|byte(n))
	case n <= 0xFFFF:
		out = append(out, b0, maskBit|126, byte(n>>8), byte(n))
	default:
		out = append(out, b0, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, key[:]...)
	m := append([]byte(nil), payload...)
	Mask(key, 0, m)
	return append(out, m...)
}

var key = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// serverFrame builds an unmasked server frame (what a client decodes).
func serverFrame(b0 byte, payload []byte) []byte {
	out := appendHeader(nil, b0&0x0F, b0&finBit != 0, b0&rsv1Bit != 0, len(payload), 0)
	out[0] |= b0 & (rsv2Bit | rsv3Bit)
	return append(out, payload...)
}

// sides are the two ends a Decoder decodes for, with the frames the peer
// sends: a server decodes masked client frames, a client unmasked server
// frames.
var sides = []struct {
	name   string
	client bool
	frame  func(b0 byte, payload []byte) []byte
}{
	{"server", false, func(b0 byte, p []byte) []byte { return clientFrame(b0, p, key) }},
	{"client", true, serverFrame},
}

// decodeAll feeds in to a decoder in pieces of step bytes and gathers what
// it reports.
func decodeAll(d *Decoder, in []byte, step int) (data []byte, ctl []Event, err error) {
	in = append([]byte(nil), in...)
	for off := 0; off < len(in); off += step {
		p := in[off:min(off+step, len(in))]
		for len(p) > 0 {
			var ev Event
			ev, p, err = d.Next(p)
			if err != nil {
				return data, ctl, err
			}
			switch ev.Kind {
			case Data:
				data = append(data, ev.Payload...)
			case Control:
				ev.Payload = append([]byte(nil), ev.Payload...)
				ctl = append(ctl, ev)
			}
		}
	}
	return data, ctl, nil
}

func TestDecodeSplitAnywhere(t *testing.T) {
	for _, side := range sides {
		t.Run(side.name, func(t *testing.T) { testDecodeSplitAnywhere(t, side.client, side.frame) })
	}
}

func testDecodeSplitAnywhere(t *testing.T, client bool, mk func(byte, []byte) []byte) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: 64-bit length
	mid := bytes.Repeat([]byte("x"), 300)                 // 16-bit length
	var in []byte
	in = append(in, mk(finBit|OpBinary, []byte("PUB a 1\r\nx\r\n"))...)
	in = append(in, mk(OpBinary, mid[:100])...)         // fragmented message...
	in = append(in, mk(finBit|OpPing, []byte("hi"))...) // ...with a ping inside
	in = append(in, mk(OpContinuation, nil)...)         // empty fragment
	in = append(in, mk(finBit|OpContinuation, mid[100:])...)
	in = append(in, mk(finBit|OpBinary, big)...)
	in = append(in, mk(finBit|OpClose, []byte{0x03, 0xE8, 'b', 'y', 'e'})...)
	want := append(append([]byte("PUB a 1\r\nx\r\n"), mid...), big...)
	for _, step := range []int{1, 2, 3, 7, 13, 1000, len(in)} {
		d := Decoder{Client: client}
		data, ctl, err := decodeAll(&d, in, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("step %d: data differs (%d bytes, want %d)", step, len(data), len(want))
		}
		if len(ctl) != 2 || ctl[0].Op != OpPing || string(ctl[0].Payload) != "hi" || ctl[1].Op != OpClose {
			t.Fatalf("step %d: control frames %+v", step, ctl)
		}
		code, reason, err := ParseClose(ctl[1].Payload)
		if code != 1000 || reason != "bye" || err != nil {
			t.Fatalf("close %d %q %v", code, reason, err)
		}
		if d.InMessage() {
			t.Fatalf("step %d: message still open", step)
		}
	}
}

// TestMaskedEncodersDecode: what a client encodes (masked header, control
// and close frames) is what a server's decoder reads back, at every
// length form, and the key is on the wire.
func TestMaskedEncodersDecode(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 0xFFFF, 0x10000} {
		payload := bytes.Repeat([]byte{'a', 'b', 'c'}, n/3+1)[:n]
		f := AppendMaskedHeader(nil, OpBinary, true, true, n, key)
		if f[1]&maskBit == 0 || !bytes.Equal(f[len(f)-4:], key[:]) {
			t.Fatalf("n=%d: header %x has no mask", n, f)
		}
		start := len(f)
		f = append(f, payload...)
		Mask(key, 0, f[start:])
		d := Decoder{Compression: true}
		data, _, err := decodeAll(&d, f, len(f))
		if err != nil || !bytes.Equal(data, payload) {
			t.Fatalf("n=%d: %v, data equal %v", n, err, bytes.Equal(data, payload))
		}
	}
	ping := []byte("ping payload")
	f := AppendMaskedControl(nil, OpPing, ping, key)
	f = AppendMaskedClose(f, CloseGoingAway, string(bytes.Repeat([]byte("é"), 100)), key)
	if string(ping) != "ping payload" {
		t.Fatal("AppendMaskedControl changed its input")
	}
	var d Decoder
	_, ctl, err := decodeAll(&d, f, 5)
	if err != nil || len(ctl) != 2 || ctl[0].Op != OpPing || string(ctl[0].Payload) != "ping payload" {
		t.Fatalf("control frames %+v %v", ctl, err)
	}
	code, reason, err := ParseClose(ctl[1].Payload)
	if code != CloseGoingAway || len(reason) != 122 || err != nil {
		t.Fatalf("close %d, %d bytes, %v", code, len(reason), err)
	}
	// A server's own frames are what a client's decoder reads.
	f = AppendControl(nil, OpPong, nil)
	f = append(AppendHeader(f, OpBinary, true, false, 2), "hi"...)
	f = AppendClose(f, CloseNormal, "bye")
	cd := Decoder{Client: true}
	data, ctl, err := decodeAll(&cd, f, 1)
	if err != nil || string(data) != "hi" || len(ctl) != 2 || ctl[0].Op != OpPong || ctl[1].Op != OpClose {
		t.Fatalf("client decode: %q %+v %v", data, ctl, err)
	}
}

func TestDecodeFinalAndCompressed(t *testing.T) {
	d := Decoder{Compression: true}
	in := clientFrame(finBit|rsv1Bit|OpBinary, []byte("abc"), key)
	ev, rest, err := d.Next(in)
	if err != nil || ev.Kind != Data || !ev.Final || !ev.Compressed || string(ev.Payload) != "abc" || len(rest) != 0 {
		t.Fatalf("got %+v rest %d err %v", ev, len(rest), err)
	}
	// An empty final frame is still reported: it ends a message.
	ev, _, err = d.Next(clientFrame(finBit|OpText, nil, key))
	if err != nil || ev.Kind != Data || !ev.Final || ev.Op != OpText {
		t.Fatalf("empty final frame: %+v %v", ev, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	long := bytes.Repeat([]byte("z"), 200)
	tests := []struct {
		name string
		d    Decoder
		in   []byte
		code int
	}{
		{"unmasked", Decoder{}, []byte{finBit | OpBinary, 1, 'x'}, CloseProtocolError},
		{"rsv2", Decoder{}, clientFrame(finBit|rsv2Bit|OpBinary, nil, key), CloseProtocolError},
		{"rsv1 without compression", Decoder{}, clientFrame(finBit|rsv1Bit|OpBinary, []byte("x"), key), CloseProtocolError},
		{"rsv1 on a control frame", Decoder{Compression: true}, clientFrame(finBit|rsv1Bit|OpPing, nil, key), CloseProtocolError},
		{"fragmented ping", Decoder{}, clientFrame(OpPing, []byte("x"), key), CloseProtocolError},
		{"long ping", Decoder{}, clientFrame(finBit|OpPing, long, key), CloseProtocolError},
		{"reserved opcode", Decoder{}, clientFrame(finBit|0x3, nil, key), CloseProtocolError},
		{"reserved control opcode", Decoder{}, clientFrame(finBit|0xB, nil, key), CloseProtocolError},
		{"lone continuation", Decoder{}, clientFrame(finBit|OpContinuation, []byte("x"), key), CloseProtocolError},
		{"data inside a fragmented message", Decoder{},
			append(clientFrame(OpBinary, []byte("a"), key), clientFrame(finBit|OpBinary, []byte("b"), key)...), CloseProtocolError},
		{"text on binary-only", Decoder{BinaryOnly: true}, clientFrame(finBit|OpText, []byte("x"), key), CloseUnsupportedData},
		{"too big", Decoder{MaxMessage: 100}, clientFrame(finBit|OpBinary, long, key), CloseMessageTooBig},
		{"too big across fragments", Decoder{MaxMessage: 300},
			append(clientFrame(OpBinary, long, key), clientFrame(finBit|OpContinuation, long, key)...), CloseMessageTooBig},
		{"64-bit length msb", Decoder{}, append([]byte{finBit | OpBinary, maskBit | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, key[:]...), CloseProtocolError},
		{"close of one byte", Decoder{}, clientFrame(finBit|OpClose, []byte{3}, key), CloseProtocolError},
		{"close with code 1005", Decoder{}, clientFrame(finBit|OpClose, []byte{0x03, 0xED}, key), CloseProtocolError},
		{"close with code 999", Decoder{}, clientFrame(finBit|OpClose, []byte{0x03, 0xE7}, key), CloseProtocolError},
		{"close reason not utf-8", Decoder{}, clientFrame(finBit|OpClose, []byte{0x03, 0xE8, 0xff}, key), CloseInvalidPayload},
		// A client decodes a server's frames: unmasked, the same rules otherwise.
		{"client: masked", Decoder{Client: true}, clientFrame(finBit|OpBinary, []byte("x"), key), CloseProtocolError},
		{"client: masked ping", Decoder{Client: true}, clientFrame(finBit|OpPing, nil, key), CloseProtocolError},
		{"client: rsv1 without compression", Decoder{Client: true}, serverFrame(finBit|rsv1Bit|OpBinary, []byte("x")), CloseProtocolError},
		{"client: rsv3", Decoder{Client: true}, serverFrame(finBit|rsv3Bit|OpBinary, nil), CloseProtocolError},
		{"client: rsv1 on a continuation", Decoder{Client: true, Compression: true},
			append(serverFrame(rsv1Bit|OpBinary, []byte("a")), serverFrame(finBit|rsv1Bit|OpContinuation, []byte("b"))...), CloseProtocolError},
		{"client: fragmented close", Decoder{Client: true}, serverFrame(OpClose, []byte{3, 0xE8}), CloseProtocolError},
		{"client: long pong", Decoder{Client: true}, serverFrame(finBit|OpPong, long), CloseProtocolError},
		{"client: lone continuation", Decoder{Client: true}, serverFrame(finBit|OpContinuation, nil), CloseProtocolError},
		{"client: too big", Decoder{Client: true, MaxMessage: 100}, serverFrame(finBit|OpBinary, long), CloseMessageTooBig},
		{"client: 64-bit length msb", Decoder{Client: true}, []byte{finBit | OpBinary, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, CloseProtocolError},
		{"client: close with code 1006", Decoder{Client: true}, serverFrame(finBit|OpClose, []byte{0x03, 0xEE}), CloseProtocolError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeAll(&tc.d, tc.in, len(tc.in))
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("err %v, want close %d", err, tc.code)
			}
		})
	}
}

func TestMaskMatchesBytewise(t *testing.T) {
	for n := range 40 {
		for pos := range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := append([]byte(nil), b...)
			p := pos
			for i := range want {
				want[i] ^= key[p]
				p = (p + 1) & 3
			}
			if got := Mask(key, pos, b); got != p || !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: pos %d want %d, bytes differ %v", n, pos, got, p, !bytes.Equal(b, want))
			}
		}
	}
}

func TestAppendHeaderLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xFFFF, 0x10000} {
		h := AppendHeader(nil, OpBinary, true, true, n)
		if h[0] != finBit|rsv1Bit|OpBinary {
			t.Fatalf("n=%d: first byte %#x", n, h[0])
		}
		var got int
		switch h[1] {
		case 126:
			got = int(binary.BigEndian.Uint16(h[2:]))
		case 127:
			got = int(binary.BigEndian.Uint64(h[2:]))
		default:
			got = int(h[1])
		}
		if got != n || h[1]&maskBit != 0 {
			t.Fatalf("n=%d: header %x", n, h)
		}
	}
}

func TestAppendCloseCutsReason(t *testing.T) {
	reason := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes
	f := AppendClose(nil, CloseProtocolError, reason)
	if len(f)-2 > MaxControlPayload {
		t.Fatalf("close payload %d bytes", len(f)-2)
	}
	code, r, err := ParseClose(f[2:])
	if err != nil || code != CloseProtocolError || len(r) != 122 {
		t.Fatalf("code %d reason %d bytes err %v", code, len(r), err)
	}
}
