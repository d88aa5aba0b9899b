package ws

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/leafgate/leafgate/ws/frame"
)

// chunkSource hands out its input in pieces, as reads of a socket would.
type chunkSource struct {
	in   []byte
	step int
}

func (s *chunkSource) Next() ([]byte, error) {
	if len(s.in) == 0 {
		return nil, io.EOF
	}
	n := min(s.step, len(s.in))
	p := append([]byte(nil), s.in[:n]...) // a fresh buffer, as the pool's
	s.in = s.in[n:]
	return p, nil
}

func (s *chunkSource) Release() {}

// sink is a net.Conn that takes writes and reads nothing.
type sink struct{ bytes.Buffer }

func (s *sink) Read([]byte) (int, error)         { return 0, io.EOF }
func (s *sink) Close() error                     { return nil }
func (s *sink) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *sink) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *sink) SetDeadline(time.Time) error      { return nil }
func (s *sink) SetReadDeadline(time.Time) error  { return nil }
func (s *sink) SetWriteDeadline(time.Time) error { return nil }

// FuzzConnRead checks the connection's read path (payload moved together
// in place, control frames answered, compressed messages inflated)
// against the pure decoder: for any bytes, in any read sizes, Next yields
// exactly the data the decoder finds (for uncompressed input), ends with
// the decoder's verdict, and never panics.
func FuzzConnRead(f *testing.F) {
	f.Add(maskedFrame(0x80|frame.OpBinary, []byte("PUB a 1\r\nx\r\n")), 3, false)
	f.Add(append(append(maskedFrame(frame.OpBinary, []byte("ab")), maskedFrame(0x80|frame.OpPing, []byte("p"))...),
		maskedFrame(0x80|frame.OpContinuation, []byte("cd"))...), 5, false)
	f.Add(append(maskedFrame(0x80|frame.OpBinary, []byte("x")), maskedFrame(0x80|frame.OpClose, []byte{3, 232})...), 100, false)
	// "hello" deflated, without its tail.
	f.Add(maskedFrame(0x80|0x40|frame.OpBinary, []byte{0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x04, 0x00}), 2, true)
	f.Fuzz(func(t *testing.T, in []byte, step int, compress bool) {
		if step <= 0 {
			step = 1
		}
		dec := frame.Decoder{MaxMessage: 1 << 16, Compression: compress}
		c := newConn(&sink{}, dec, nil)
		c.src = &chunkSource{in: append([]byte(nil), in...), step: step}
		var got []byte
		var err error
		for range len(in) + 2 {
			var b []byte
			b, err = c.Next()
			got = append(got, b...)
			if err != nil {
				break
			}
		}
		if err == nil {
			t.Fatal("the read side did not end at the end of the input")
		}
		if compress {
			return // inflated output has no pure reference
		}
		ref := frame.Decoder{MaxMessage: 1 << 16}
		want, rerr := refDecode(&ref, in)
		if !bytes.Equal(got, want) {
			t.Fatalf("data differs: got %q want %q", got, want)
		}
		var ce *frame.CloseError
		if rerr != nil && (!errors.As(err, &ce) || ce.Code != rerr.(*frame.CloseError).Code) {
			t.Fatalf("verdict %v, decoder says %v", err, rerr)
		}
	})
}

// refDecode gathers the data the decoder finds up to the first close
// frame or error.
func refDecode(d *frame.Decoder, in []byte) ([]byte, error) {
	in = append([]byte(nil), in...)
	var out []byte
	for len(in) > 0 {
		ev, rest, err := d.Next(in)
		in = rest
		if err != nil {
			return out, err
		}
		switch {
		case ev.Kind == frame.Data:
			out = append(out, ev.Payload...)
		case ev.Kind == frame.Control && ev.Op == frame.OpClose:
			return out, nil
		}
	}
	return out, nil
}

// TestReleaseKeepsUndecodedFrames: a read can hold frames after a
// compressed message, which Next leaves undecoded; a read loop that
// releases the buffer there (the NATS client hopping goroutines after
// CONNECT) must still get them.
func TestReleaseKeepsUndecodedFrames(t *testing.T) {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	w.Write([]byte("hello"))
	w.Flush()
	hello := bytes.TrimSuffix(z.Bytes(), deflateTail)
	in := append(maskedFrame(0x80|0x40|frame.OpBinary, hello), maskedFrame(0x80|frame.OpBinary, []byte("PING\r\n"))...)
	c := newConn(&sink{}, frame.Decoder{Compression: true}, nil)
	c.src = &chunkSource{in: in, step: len(in)}
	b, err := c.Next()
	if err != nil || string(b) != "hello" {
		t.Fatalf("first Next: %q %v", b, err)
	}
	c.Release()
	b, err = c.Next()
	if err != nil || string(b) != "PING\r\n" {
		t.Fatalf("after Release: %q %v", b, err)
	}
}
