package netio

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// A plain TCP connection holds a read buffer only while its socket has
// data: the read that finds the socket empty gives it back.
func TestConnReaderHoldsNoBufferWhileIdle(t *testing.T) {
	srv, cli := tcpPair(t)
	r := NewReader(srv, []byte("C"))
	if r.rc == nil {
		t.Fatal("a TCP connection is not read through its raw descriptor")
	}
	if b, err := r.Next(); string(b) != "C" || err != nil {
		t.Fatalf("pre-read bytes: %q, %v", b, err)
	}
	if _, err := cli.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	b, err := r.Next()
	if string(b) != "PING\r\n" || err != nil {
		t.Fatalf("next = %q, %v", b, err)
	}
	if r.buf == nil {
		t.Fatal("no buffer held for the bytes just returned")
	}
	// What next does while waiting: a read of the empty socket.
	var done bool
	if err := r.rc.Control(func(fd uintptr) { done = r.readRaw(fd) }); err != nil {
		t.Fatal(err)
	}
	if done || r.buf != nil {
		t.Fatalf("read of an empty socket: done %v, buffer held %v", done, r.buf != nil)
	}
	cli.Close()
	if b, err := r.Next(); len(b) != 0 || !errors.Is(err, io.EOF) || r.buf != nil {
		t.Fatalf("after close: %q, %v, buffer held %v", b, err, r.buf != nil)
	}
}

// Data larger than one buffer arrives whole over several reads.
func TestConnReaderReadsEverything(t *testing.T) {
	srv, cli := tcpPair(t)
	want := make([]byte, 3*maxReadBuf+17)
	for i := range want {
		want[i] = byte(i)
	}
	go func() {
		_, _ = cli.Write(want)
		cli.Close()
	}()
	r := NewReader(srv, nil)
	var got []byte
	for {
		b, err := r.Next()
		got = append(got, b...)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	if string(got) != string(want) {
		t.Fatalf("read %d bytes, want %d, or they differ", len(got), len(want))
	}
}

// Connections without a raw descriptor (TLS, pipes) read into a buffer of
// their own, sized to the traffic.
func TestConnReaderOwnBufferAdapts(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	r := NewReader(srv, nil)
	if r.rc != nil || len(r.own) != minReadBuf {
		t.Fatalf("pipe: raw %v, buffer %d, want none and %d", r.rc != nil, len(r.own), minReadBuf)
	}
	go func() { _, _ = cli.Write([]byte("hello")) }()
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := r.Next(); string(b) != "hello" || err != nil {
		t.Fatalf("next = %q, %v", b, err)
	}

	steps := []struct {
		n    int // bytes the read returned
		want int // buffer size for the next read
	}{
		{minReadBuf, 2 * minReadBuf},     // full: doubles
		{2 * minReadBuf, 4 * minReadBuf}, // full again
		{minReadBuf, 4 * minReadBuf},     // not short: stays, run of short reads reset
		{1, 4 * minReadBuf},              // short reads: shrinks after nine
		{1, 4 * minReadBuf}, {1, 4 * minReadBuf}, {1, 4 * minReadBuf}, {1, 4 * minReadBuf},
		{1, 4 * minReadBuf}, {1, 4 * minReadBuf}, {1, 4 * minReadBuf},
		{1, 2 * minReadBuf},
	}
	r.own, r.short = make([]byte, minReadBuf), 0
	for i, s := range steps {
		r.adapt(s.n)
		if len(r.own) != s.want {
			t.Fatalf("step %d: read of %d: buffer %d, want %d", i, s.n, len(r.own), s.want)
		}
	}
	r.own = make([]byte, maxReadBuf)
	if r.adapt(maxReadBuf); len(r.own) != maxReadBuf {
		t.Fatalf("grew past %d: %d", maxReadBuf, len(r.own))
	}
	r.own = make([]byte, minReadBuf)
	for range 20 {
		r.adapt(0)
	}
	if len(r.own) != minReadBuf {
		t.Fatalf("shrank below %d: %d", minReadBuf, len(r.own))
	}
}
