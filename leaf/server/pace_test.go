package server

import (
	"net"
	"testing"

	"github.com/leafgate/leafgate/leaf/netio"
	"github.com/leafgate/leafgate/leaf/router"
)

// The client's router.Pacer state, stepped without a write loop: a
// publisher is asked to wait once the client holds more than 3/4 of
// MaxPending, is told again in each of its batches, and a client whose
// writes make no progress through stuckAfter waits stalls nobody again
// (it is cut at MaxPending instead).
func TestClientPacer(t *testing.T) {
	s, err := New(Options{MaxPending: 4000, MaxPayload: 1000})
	if err != nil {
		t.Fatal(err)
	}
	conn, peer := net.Pipe()
	defer peer.Close()
	defer conn.Close()
	c := newClient(s, conn)
	sub := &router.Sub{Subject: "x", SID: []byte("1"), Receiver: c}
	payload := make([]byte, 300) // 315 bytes queued per message
	deliver := func() bool { return c.Deliver(sub, []byte("x"), nil, nil, payload) }

	// Below the mark: one flush per batch, no stall.
	if !deliver() {
		t.Fatal("first delivery asks for no flush")
	}
	for range 8 { // 9 messages: 2835 bytes
		if deliver() {
			t.Fatal("a later delivery of a batch asks for a flush again")
		}
	}
	if ch, _ := c.Stall(); ch != nil {
		t.Fatal("stalled below 3/4 of MaxPending")
	}
	// Past the mark (3000 bytes): reported to the batch once more, though
	// a flush is pending.
	if !deliver() {
		t.Fatal("crossing 3/4 of MaxPending is not reported to the publisher")
	}
	if deliver() {
		t.Fatal("a stall is reported twice to one batch")
	}
	ch, progress := c.Stall()
	if ch == nil || progress != 0 {
		t.Fatalf("Stall() = %v, %d; want a channel and progress 0", ch, progress)
	}
	// The next batch is told again (Stall rearms the report).
	if !deliver() {
		t.Fatal("the next batch is not told of the stall")
	}

	// Waits that saw progress do not count towards stuck.
	c.mu.Lock()
	c.written = 10
	c.mu.Unlock()
	for range 2 * stuckAfter {
		c.Waited(ch, 0)
	}
	if got, _ := c.Stall(); got != ch {
		t.Fatal("waits with write progress marked the client stuck")
	}
	for i := range stuckAfter {
		select {
		case <-ch:
			t.Fatalf("stall released after %d idle waits, want %d", i, stuckAfter)
		default:
		}
		c.Waited(ch, 10)
	}
	select {
	case <-ch:
	default:
		t.Fatalf("stall not released after %d idle waits", stuckAfter)
	}
	if got, _ := c.Stall(); got != nil {
		t.Fatal("a stuck client still stalls publishers")
	}
	c.mu.Lock()
	for _, chunk := range c.out.Take(nil) { // gone, but not written: no progress
		netio.ReleaseChunk(chunk)
	}
	c.mu.Unlock()
	for range 4 {
		deliver()
	}
	if got, _ := c.Stall(); got != nil {
		t.Fatal("a stuck client stalled publishers again before writing anything")
	}
}
