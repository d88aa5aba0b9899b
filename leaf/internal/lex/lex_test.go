package lex

import (
	"fmt"
	"testing"
)

// TestLinesCutAnywhere: however the stream is cut, the same lines come out,
// and a line over the limit is reported whether it arrived whole or not.
func TestLinesCutAnywhere(t *testing.T) {
	stream := "PING\r\nSUB a 1\nLONG " + string(make([]byte, 40)) + "\r\nPONG\r\n"
	const max = 20
	want := []string{"PING", "SUB a 1", "too long"}
	for cut := 1; cut <= len(stream); cut++ {
		var l Lines
		var got []string
		buf := []byte(stream)
	feed:
		for len(buf) > 0 {
			n := min(cut, len(buf))
			chunk := append([]byte(nil), buf[:n]...) // a fresh read buffer
			buf = buf[n:]
			for len(chunk) > 0 {
				line, rest, ok, long := l.Next(chunk, max)
				if long {
					got = append(got, "too long")
					break feed
				}
				if !ok {
					break
				}
				got = append(got, string(line))
				chunk = rest
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut every %d bytes: %q, want %q", cut, got, want)
		}
	}
}

func TestSplitOpAndEqualFold(t *testing.T) {
	name, args := SplitOp([]byte("pub \t foo 5"))
	if string(name) != "pub" || string(args) != "foo 5" || !EqualFold(name, "PUB") || EqualFold(name, "PUBX") {
		t.Fatalf("%q %q", name, args)
	}
	if name, args := SplitOp([]byte("PING")); string(name) != "PING" || len(args) != 0 {
		t.Fatalf("%q %q", name, args)
	}
}
