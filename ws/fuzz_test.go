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
		c := newConn(&sink{}, dec, nil, nil)
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

// FuzzClientConnRead is FuzzConnRead for the client's end (the leafnode
// link's): the hub's unmasked frames, in any read sizes, with or without
// permessage-deflate; pongs and the close are written masked to a sink.
// The data must be the client decoder's, the verdict the same, and
// nothing may panic or read past a close.
func FuzzClientConnRead(f *testing.F) {
	f.Add(serverFrame(0x80|frame.OpBinary, []byte("INFO {}\r\n")), 3, false)
	f.Add(append(append(serverFrame(frame.OpBinary, []byte("LS")), serverFrame(0x80|frame.OpPing, []byte("p"))...),
		serverFrame(0x80|frame.OpContinuation, []byte("+ a\r\n"))...), 5, false)
	f.Add(append(serverFrame(0x80|frame.OpBinary, []byte("x")), serverFrame(0x80|frame.OpClose, []byte{3, 233, 'b'})...), 1, false)
	f.Add(append(serverFrame(0x80|frame.OpClose, nil), serverFrame(0x80|frame.OpBinary, []byte("after"))...), 100, false)
	f.Add(maskedFrame(0x80|frame.OpBinary, []byte("masked")), 4, false)
	f.Add(serverFrame(0x80|frame.OpPong, bytes.Repeat([]byte("q"), 126)), 7, false)
	// "hello" deflated, without its tail; then in two fragments.
	hello := []byte{0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x04, 0x00}
	f.Add(serverFrame(0x80|0x40|frame.OpBinary, hello), 2, true)
	f.Add(append(serverFrame(0x40|frame.OpBinary, hello[:3]), serverFrame(0x80|frame.OpContinuation, hello[3:])...), 3, true)
	f.Add(serverFrame(0x80|0x40|frame.OpBinary, []byte{0xff, 0xfe, 0x00}), 1, true)
	f.Fuzz(func(t *testing.T, in []byte, step int, compress bool) {
		if step <= 0 {
			step = 1
		}
		dec := frame.Decoder{Client: true, MaxMessage: 1 << 16, Compression: compress}
		out := &sink{}
		c := newConn(out, dec, nil, nil)
		c.maskWrites()
		c.src = &chunkSource{in: append([]byte(nil), in...), step: step}
		// Read in pieces of a fuzzed size, as the link's parser does.
		var got []byte
		var err error
		buf := make([]byte, 1+step%97)
		// Each Read returns bytes or the end, and the input inflates to
		// a bounded size, so this ends; the cap only guards a bug.
		for range 1 << 24 {
			var n int
			n, err = c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if err == nil {
			t.Fatal("the read side did not end at the end of the input")
		}
		c.Close()
		// What the client wrote (pongs, the close) is masked frames a
		// server's decoder reads, ending with one close.
		var sd frame.Decoder
		wrote, ctl, werr := decodeFrames(&sd, out.Bytes())
		if werr != nil || len(wrote) != 0 || len(ctl) == 0 || ctl[len(ctl)-1].Op != frame.OpClose {
			t.Fatalf("written frames: %d data bytes, %d control, %v", len(wrote), len(ctl), werr)
		}
		if compress {
			return // inflated output has no pure reference
		}
		ref := frame.Decoder{Client: true, MaxMessage: 1 << 16}
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

// serverFrame builds an unmasked server frame from its first byte.
func serverFrame(b0 byte, payload []byte) []byte {
	f := frame.AppendHeader(nil, b0&0x0F, b0&0x80 != 0, b0&0x40 != 0, len(payload))
	return append(f, payload...)
}

// decodeFrames decodes whole frames, gathering data and control frames.
func decodeFrames(d *frame.Decoder, in []byte) ([]byte, []frame.Event, error) {
	in = append([]byte(nil), in...)
	var data []byte
	var ctl []frame.Event
	for len(in) > 0 {
		ev, rest, err := d.Next(in)
		in = rest
		if err != nil {
			return data, ctl, err
		}
		switch ev.Kind {
		case frame.Data:
			data = append(data, ev.Payload...)
		case frame.Control:
			ctl = append(ctl, ev)
		}
	}
	return data, ctl, nil
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
	c := newConn(&sink{}, frame.Decoder{Compression: true}, nil, nil)
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
