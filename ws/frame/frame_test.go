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
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: 64-bit length
	mid := bytes.Repeat([]byte("x"), 300)                 // 16-bit length
	var in []byte
	in = append(in, clientFrame(finBit|OpBinary, []byte("PUB a 1\r\nx\r\n"), key)...)
	in = append(in, clientFrame(OpBinary, mid[:100], key)...)         // fragmented message...
	in = append(in, clientFrame(finBit|OpPing, []byte("hi"), key)...) // ...with a ping inside
	in = append(in, clientFrame(OpContinuation, nil, key)...)         // empty fragment
	in = append(in, clientFrame(finBit|OpContinuation, mid[100:], key)...)
	in = append(in, clientFrame(finBit|OpBinary, big, key)...)
	in = append(in, clientFrame(finBit|OpClose, []byte{0x03, 0xE8, 'b', 'y', 'e'}, key)...)
	want := append(append([]byte("PUB a 1\r\nx\r\n"), mid...), big...)
	for _, step := range []int{1, 2, 3, 7, 13, 1000, len(in)} {
		var d Decoder
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
