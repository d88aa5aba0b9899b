package jetstream

import (
	"sync"

	"github.com/leafgate/leafgate/leaf/router"
)

// inMsg is a message copied out of the router for an owner goroutine.
type inMsg struct {
	subject, reply string
	hdr, data      []byte
	sub            *router.Sub
	marker         bool // a subject delete marker the stream writes itself
	scheduled      bool // a message a schedule produced (its headers are the server's)
	// origin is the client that published an API request (nil when
	// unknown), for the audit advisory.
	origin router.Receiver
	// confirm is the publisher's Confirm, to be Done exactly once with
	// the outcome of storing this publish (nil: nobody waits for it).
	confirm *router.Confirm
	// repl marks a message replicated from an origin stream (replica.go).
	repl *replIn
}

// mailbox is a queue from router callbacks (which must not block) to one
// owner goroutine. put never blocks; the owner waits on sig and takes
// everything queued at once.
//
// A stream's publish mailbox is bounded (newIngestBox): it counts the
// bytes queued and, above its high-water mark, is stalled (Stall) until
// the owner next takes the batch, so publishers that can wait do
// (streamReceiver, a router.Pacer); at its limit offer refuses messages,
// as nats-server's stream ingest queue does at its limits. The other
// mailboxes (the API's, a stream's control mailbox) are unbounded: they
// carry requests and acks whose senders wait for answers anyway.
type mailbox struct {
	mu    sync.Mutex
	items []inMsg
	sig   chan struct{}

	// Bounded mailboxes only (high > 0), guarded by mu.
	high, limit int64
	bytes       int64         // queued now
	taken       int64         // taken by the owner so far: the progress a Pacer reports
	stall       chan struct{} // closed by the next take; non-nil while above high
	full        bool          // refused a message since the last take (logged once)
	closed      bool          // the owner has stopped: offer refuses everything
}

func newMailbox() *mailbox { return &mailbox{sig: make(chan struct{}, 1)} }

// newIngestBox is a stream's bounded publish mailbox: stalled above high
// queued bytes, refusing above limit.
func newIngestBox(high, limit int64) *mailbox {
	return &mailbox{sig: make(chan struct{}, 1), high: high, limit: limit}
}

// queuedMsgOverhead is what a queued message costs beyond its bytes (the
// inMsg in the queue and its allocation's header), counted so a flood of
// tiny messages is bounded too.
const queuedMsgOverhead = 128

// queuedSize is what m counts for in a bounded mailbox.
func (m *inMsg) queuedSize() int64 {
	return int64(len(m.subject)+len(m.reply)+len(m.hdr)+len(m.data)) + queuedMsgOverhead
}

func (b *mailbox) put(m inMsg) {
	b.mu.Lock()
	b.items = append(b.items, m)
	first := len(b.items) == 1
	b.mu.Unlock()
	if first {
		b.signal()
	}
}

func (b *mailbox) signal() {
	select {
	case b.sig <- struct{}{}:
	default:
	}
}

// offerResult is what became of a message offered to a bounded mailbox.
type offerResult uint8

const (
	offerQueued  offerResult = iota
	offerStalled             // queued; the mailbox is above its high-water mark
	offerFull                // refused: the mailbox is at its limit
	offerClosed              // refused: the owner has stopped
)

// offer queues m in a bounded mailbox unless it is closed or m would take
// it over its limit (a message alone in the mailbox is always taken, so
// one larger than the limit is not refused for ever). firstFull is true
// for the first refusal since the owner last took the queue.
func (b *mailbox) offer(m inMsg) (res offerResult, firstFull bool) {
	size := m.queuedSize()
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return offerClosed, false
	case b.limit > 0 && b.bytes > 0 && b.bytes+size > b.limit:
		first := !b.full
		b.full = true
		b.mu.Unlock()
		return offerFull, first
	}
	b.items = append(b.items, m)
	b.bytes += size
	first := len(b.items) == 1
	if b.high > 0 && b.bytes > b.high && b.stall == nil {
		b.stall = make(chan struct{})
	}
	res = offerQueued
	if b.stall != nil {
		res = offerStalled
	}
	b.mu.Unlock()
	if first {
		b.signal()
	}
	return res, false
}

// take returns everything queued, handing spare (emptied) back for reuse.
// It releases publishers waiting on the mailbox's stall.
func (b *mailbox) take(spare []inMsg) []inMsg {
	clear(spare)
	b.mu.Lock()
	out := b.items
	b.items = spare[:0]
	b.taken += b.bytes
	b.bytes = 0
	b.full = false
	if b.stall != nil {
		close(b.stall)
		b.stall = nil
	}
	b.mu.Unlock()
	return out
}

// close refuses every later offer and returns what is still queued (the
// caller answers it), releasing waiting publishers. It is idempotent.
func (b *mailbox) close() []inMsg {
	b.mu.Lock()
	b.closed = true
	out := b.items
	b.items = nil
	b.bytes = 0
	if b.stall != nil {
		close(b.stall)
		b.stall = nil
	}
	b.mu.Unlock()
	return out
}

// stalled returns the stall channel and the bytes taken so far, or a nil
// channel below the high-water mark (router.Pacer's Stall).
func (b *mailbox) stalled() (<-chan struct{}, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stall == nil {
		return nil, 0
	}
	return b.stall, b.taken
}

// queued is the bytes queued now.
func (b *mailbox) queued() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

func (b *mailbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// boxReceiver is a router.Receiver that copies each delivery into a
// mailbox: subject, reply, header and payload share one allocation.
type boxReceiver struct{ box *mailbox }

func (r boxReceiver) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	r.box.put(copyIn(sub, subj, reply, hdr, payload))
	return false
}

func (boxReceiver) Flush() {}

// copyIn copies a delivery out of the router's buffers.
func copyIn(sub *router.Sub, subj, reply, hdr, payload []byte) inMsg {
	buf := make([]byte, 0, len(subj)+len(reply)+len(hdr)+len(payload))
	buf = append(buf, subj...)
	buf = append(buf, reply...)
	buf = append(buf, hdr...)
	buf = append(buf, payload...)
	s := string(buf[:len(subj)+len(reply)])
	m := inMsg{subject: s[:len(subj)], reply: s[len(subj):], sub: sub}
	off := len(subj) + len(reply)
	if hdr != nil {
		m.hdr = buf[off : off+len(hdr) : off+len(hdr)]
	}
	m.data = buf[off+len(hdr):]
	return m
}

// domainMap republishes a message sent to $JS.<domain>.API.$KV.<rest> (or
// $OBJ.) as $KV.<rest>, by the same publisher, so the bucket's stream
// stores it and acknowledges to the original reply.
type domainMap struct {
	r     *router.Router
	strip int // bytes of "$JS.<domain>.API." to drop
}

func (m domainMap) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	return m.DeliverFrom(&router.Publisher{}, sub, subj, reply, hdr, payload)
}

func (m domainMap) DeliverFrom(p *router.Publisher, _ *router.Sub, subj, reply, hdr, payload []byte) bool {
	if len(subj) > m.strip {
		m.r.Publish(p, subj[m.strip:], reply, hdr, payload)
	}
	return false
}

func (m domainMap) Flush() {}
