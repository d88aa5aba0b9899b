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
}

// mailbox is an unbounded queue from router callbacks (which must not
// block) to one owner goroutine. put never blocks; the owner waits on sig
// and takes everything queued at once.
type mailbox struct {
	mu    sync.Mutex
	items []inMsg
	sig   chan struct{}
}

func newMailbox() *mailbox { return &mailbox{sig: make(chan struct{}, 1)} }

func (b *mailbox) put(m inMsg) {
	b.mu.Lock()
	b.items = append(b.items, m)
	first := len(b.items) == 1
	b.mu.Unlock()
	if first {
		select {
		case b.sig <- struct{}{}:
		default:
		}
	}
}

// take returns everything queued, handing spare (emptied) back for reuse.
func (b *mailbox) take(spare []inMsg) []inMsg {
	clear(spare)
	b.mu.Lock()
	out := b.items
	b.items = spare[:0]
	b.mu.Unlock()
	return out
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

// ackReceiver takes $JS.ACK and $JS.FC messages straight to their
// stream's control mailbox, on the acking client's goroutine.
type ackReceiver struct{ svc *Service }

func (r ackReceiver) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	name, ok := ackStream(string(subj))
	if !ok {
		return false
	}
	if st := r.svc.lookup(name); st != nil {
		st.ctl.put(copyIn(sub, subj, reply, hdr, payload))
	}
	return false
}

func (ackReceiver) Flush() {}
