package frame

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder feeds any bytes, split at a fuzzed point, to decoders with
// each policy, on either side (policy bit 16: a client's decoder). It must never panic, every error must be a *CloseError with
// a status a server may send, and decoding the same bytes in one piece or
// in two must give the same payload and the same verdict.
func FuzzDecoder(f *testing.F) {
	f.Add(clientFrame(finBit|OpBinary, []byte("PUB a 1\r\nx\r\n"), key), 3, uint8(0))
	f.Add(append(clientFrame(OpBinary, []byte("ab"), key), clientFrame(finBit|OpContinuation, []byte("cd"), key)...), 7, uint8(1))
	f.Add(clientFrame(finBit|OpPing, []byte("hi"), key), 1, uint8(2))
	f.Add(clientFrame(finBit|OpClose, []byte{0x03, 0xE8}, key), 5, uint8(3))
	f.Add(clientFrame(finBit|rsv1Bit|OpBinary, bytes.Repeat([]byte("y"), 300), key), 40, uint8(7))
	f.Add([]byte{finBit | OpText, 1, 'x'}, 1, uint8(4))
	// A client's side: the server's unmasked frames.
	f.Add(serverFrame(finBit|OpBinary, []byte("LMSG a 1\r\nx\r\n")), 4, uint8(16))
	f.Add(append(append(serverFrame(OpBinary, []byte("ab")), serverFrame(finBit|OpPing, []byte("p"))...),
		serverFrame(finBit|OpContinuation, []byte("cd"))...), 3, uint8(17))
	f.Add(serverFrame(finBit|rsv1Bit|OpBinary, bytes.Repeat([]byte("y"), 300)), 2, uint8(16|4|2))
	f.Add(serverFrame(finBit|OpClose, []byte{0x03, 0xE9, 'g', 'o'}), 3, uint8(16))
	f.Add(clientFrame(finBit|OpBinary, []byte("masked"), key), 2, uint8(16))
	f.Fuzz(func(t *testing.T, in []byte, split int, policy uint8) {
		mk := func() *Decoder {
			return &Decoder{MaxMessage: int64(policy&3) * 100, Compression: policy&4 != 0, BinaryOnly: policy&8 != 0,
				Client: policy&16 != 0}
		}
		whole, wctl, werr := decodeAll(mk(), in, max(len(in), 1))
		if split <= 0 {
			split = 1
		}
		parts, pctl, perr := decodeAll(mk(), in, split)
		for _, err := range []error{werr, perr} {
			if err == nil {
				continue
			}
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a CloseError", err)
			}
			switch ce.Code {
			case CloseProtocolError, CloseUnsupportedData, CloseInvalidPayload, CloseMessageTooBig:
			default:
				t.Fatalf("close code %d", ce.Code)
			}
		}
		if (werr == nil) != (perr == nil) {
			t.Fatalf("verdicts differ: whole %v, split %v", werr, perr)
		}
		if werr == nil && (!bytes.Equal(whole, parts) || len(wctl) != len(pctl)) {
			t.Fatalf("results differ by split")
		}
	})
}
