package mqtt

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/packet/packettest"
)

// FuzzSession feeds a connected session arbitrary packets after a valid
// CONNECT (3.1.1 or 5.0): whatever arrives, the broker must neither panic
// nor hang, and must end only that connection.
func FuzzSession(f *testing.F) {
	for _, g := range packettest.Table() {
		if g.Packet.Type() != packet.CONNECT {
			f.Add(g.Version == packet.V5, g.Bytes)
		}
	}
	for _, b := range packettest.BadTable() {
		f.Add(b.Version == packet.V5, b.Bytes)
	}
	r := router.New()
	b, err := New(Options{Router: r})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(b.Close)
	f.Fuzz(func(t *testing.T, v5 bool, input []byte) {
		v := packet.V311
		if v5 {
			v = packet.V5
		}
		srv, cli := net.Pipe()
		done := make(chan struct{})
		go func() {
			b.Serve(srv, nil)
			close(done)
		}()
		cp := packet.Connect{ClientID: []byte("fuzz"), CleanStart: true}
		go func() {
			_, _ = cli.Write(cp.Append(nil, v))
			_, _ = cli.Write(input)
			_ = cli.Close()
		}()
		_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, cli)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not end")
		}
	})
}

// FuzzDecodeBody: a stored message body that does not decode is refused,
// never a panic; one that does re-encodes to the same bytes.
func FuzzDecodeBody(f *testing.F) {
	m := newOutMsg([]byte("a/b"), []byte("NATS/1.0\r\nNmqtt-Pub:1\r\n\r\n"), []byte("r.x"), []byte("payload"), 1, false, 7)
	f.Add(encodeBody(nil, m))
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out outMsg
		if err := decodeBody(b, &out); err != nil {
			return
		}
		if got := encodeBody(nil, &out); !bytes.Equal(got, b) && len(b) > 0 && b[0] == 1 {
			// Uvarints may be non-minimal in the input; the decoded
			// fields must still describe the same message.
			var again outMsg
			if err := decodeBody(got, &again); err != nil || !bytes.Equal(again.buf, out.buf) || again.topicLen != out.topicLen ||
				again.hdrLen != out.hdrLen || again.replyLen != out.replyLen || again.subID != out.subID {
				t.Fatalf("re-encode differs: %v", err)
			}
		}
	})
}
