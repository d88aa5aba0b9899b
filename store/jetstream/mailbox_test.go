package jetstream

import "testing"

// A bounded mailbox stalls above its high-water mark until the owner takes
// the queue, refuses at its limit (never a message alone in it), reports
// the bytes taken as progress, and refuses everything once closed.
func TestIngestBoxBounds(t *testing.T) {
	msg := func(n int) inMsg { return inMsg{subject: "s", data: make([]byte, n)} }
	m100 := msg(100)
	size := m100.queuedSize() // 1+100+overhead
	b := newIngestBox(2*size, 4*size)

	for i, want := range []offerResult{offerQueued, offerQueued, offerStalled, offerStalled} {
		if res, _ := b.offer(msg(100)); res != want {
			t.Fatalf("offer %d: %v, want %v", i, res, want)
		}
	}
	ch, progress := b.stalled()
	if ch == nil || progress != 0 {
		t.Fatalf("stalled() = %v, %d above the mark", ch, progress)
	}
	res, first := b.offer(msg(100))
	if res != offerFull || !first {
		t.Fatalf("offer over the limit: %v first=%v, want a first refusal", res, first)
	}
	if res, first := b.offer(msg(1)); res != offerFull || first {
		t.Fatalf("second offer over the limit: %v first=%v", res, first)
	}
	if q := b.queued(); q != 4*size {
		t.Fatalf("queued %d, want %d", q, 4*size)
	}

	got := b.take(nil)
	if len(got) != 4 {
		t.Fatalf("took %d, want 4", len(got))
	}
	select {
	case <-ch:
	default:
		t.Fatal("take did not release the stall")
	}
	if ch, _ := b.stalled(); ch != nil {
		t.Fatal("still stalled after take")
	}
	// A message larger than the limit is taken when the mailbox is empty.
	if res, _ := b.offer(msg(int(10 * size))); res != offerStalled {
		t.Fatalf("big message into an empty mailbox: %v", res)
	}
	ch, progress = b.stalled()
	if progress != 4*size {
		t.Fatalf("progress %d, want the %d bytes taken", progress, 4*size)
	}
	if res, first := b.offer(msg(1)); res != offerFull || !first {
		t.Fatalf("after a take, the first refusal is reported again: %v %v", res, first)
	}

	left := b.close()
	if len(left) != 1 {
		t.Fatalf("close returned %d, want the 1 queued", len(left))
	}
	select {
	case <-ch:
	default:
		t.Fatal("close did not release the stall")
	}
	if res, _ := b.offer(msg(1)); res != offerClosed {
		t.Fatalf("offer after close: %v", res)
	}
	if left := b.close(); len(left) != 0 {
		t.Fatal("second close returned messages")
	}
}
