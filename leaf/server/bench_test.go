package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

// benchPub measures the server's ingest path: a raw client streams PUB
// frames (b.N messages) and waits for the PONG after them; subs raw
// subscribers drain what they are sent.
func benchPub(b *testing.B, size, subs int) {
	s := servertest.Run(b, server.Options{MonitorListen: "-"})
	for i := 0; i < subs; i++ {
		c := dialRaw(b, s, quiet)
		c.send("SUB bench 1\r\n")
		c.flush()
		go func() { _, _ = io.Copy(io.Discard, c.conn) }()
	}
	pub := dialRaw(b, s, quiet)
	frame := fmt.Appendf(nil, "PUB bench %d\r\n%s\r\n", size, bytes.Repeat([]byte("x"), size))
	batch := bytes.Repeat(frame, max(1, 64*1024/len(frame)))
	per := len(batch) / len(frame)
	w := bufio.NewWriterSize(pub.conn, 128*1024)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += per {
		if _, err := w.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	w.Flush()
	pub.flush()
}

func BenchmarkServerPubOnly16(b *testing.B)    { benchPub(b, 16, 0) }
func BenchmarkServerPubOnly1024(b *testing.B)  { benchPub(b, 1024, 0) }
func BenchmarkServerPubSub16(b *testing.B)     { benchPub(b, 16, 1) }
func BenchmarkServerPubSub1024(b *testing.B)   { benchPub(b, 1024, 1) }
func BenchmarkServerFanout4x1024(b *testing.B) { benchPub(b, 1024, 4) }
