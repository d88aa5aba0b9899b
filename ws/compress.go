package ws

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/leafgate/leafgate/ws/frame"
)

// permessage-deflate (RFC 7692) without context takeover either way: each
// message is deflated on its own, so no connection keeps a (de)compressor
// between messages; they come from pools.

// deflateTail ends every deflated message (an empty stored block), which
// the sender strips and the receiver puts back (RFC 7692 §7.2.1).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflateEnd is appended after the tail: a final empty stored block, so
// the inflater reports io.EOF at the end of the message.
var inflateEnd = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

var (
	inflaters = sync.Pool{}
	deflaters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}}
	deflateBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

var errInflated = errors.New("inflated message over the limit")

// inflate decompresses the gathered message c.zin into c.zout, bounded by
// the decoder's message limit.
func (c *Conn) inflate() ([]byte, error) {
	in := append(append(c.zin, deflateTail...), inflateEnd...)
	c.zin = in[:0]
	src := bytes.NewReader(in)
	var r io.ReadCloser
	if v := inflaters.Get(); v != nil {
		r = v.(io.ReadCloser)
		_ = r.(flate.Resetter).Reset(src, nil)
	} else {
		r = flate.NewReader(src)
	}
	defer inflaters.Put(r)
	limit := c.dec.MaxMessage
	out := c.zout[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if limit > 0 && int64(len(out)) > limit {
			return nil, &frame.CloseError{Code: frame.CloseMessageTooBig, Text: errInflated.Error()}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &frame.CloseError{Code: frame.CloseInvalidPayload, Text: "bad deflate data: " + err.Error()}
		}
	}
	if cap(c.zin) > 64<<10 {
		c.zin = nil // a burst of large messages has passed
	}
	c.zout = out
	if cap(out) > 64<<10 {
		c.zout = nil
	}
	return out, nil
}

// writeCompressed sends p as one deflated binary message. The caller
// holds wmu.
func (c *Conn) writeCompressed(p []byte) (int, error) {
	buf := deflateBufs.Get().(*bytes.Buffer)
	buf.Reset()
	w := deflaters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(p) // writes to a bytes.Buffer do not fail
	_ = w.Flush()
	deflaters.Put(w)
	z := buf.Bytes()
	z = bytes.TrimSuffix(z, deflateTail)
	var hdr []byte
	if c.mask {
		// z is ours: masked in place.
		key := c.maskKey()
		hdr = frame.AppendMaskedHeader(c.hdr[:0], frame.OpBinary, true, true, len(z), key)
		frame.Mask(key, 0, z)
	} else {
		hdr = frame.AppendHeader(c.hdr[:0], frame.OpBinary, true, true, len(z))
	}
	_, err := c.writeFrame(hdr, z)
	if buf.Cap() <= 256<<10 {
		deflateBufs.Put(buf)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
