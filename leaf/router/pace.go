package router

import "time"

// Pacer is a Receiver that can ask its publishers to wait while it drains,
// so a receiver that is merely slower than its publishers paces them
// instead of growing its buffer without bound: a NATS client's write
// queue, an MQTT session's outbound queue, a JetStream stream's mailbox.
//
// A Pacer above its high-water mark returns true from Deliver (so it lands
// in the publisher's FlushSet even when a flush is already pending) and
// returns the channel from Stall until it drains.
type Pacer interface {
	// Stall returns a channel that is closed once the receiver has drained
	// below its high-water mark, with a progress count (bytes written or
	// taken so far), or a nil channel when it does not need publishers to
	// wait.
	Stall() (ch <-chan struct{}, progress int64)
	// Waited is told that a publisher waited out a stall on ch and that
	// progress was the count when it started: a receiver whose count has
	// not moved through many waits is stuck and should stop stalling
	// publishers (and will be cut at its hard limit instead).
	Waited(ch <-chan struct{}, progress int64)
}

// Stalls collects the stalled Pacers of one publisher's batch, so the
// publisher can wait for them, together, before reading more. It is owned
// by one publishing goroutine and reused batch after batch.
type Stalls struct {
	list []stalled
	t    *time.Timer
}

type stalled struct {
	p        Pacer
	ch       <-chan struct{}
	progress int64
}

// Collect records the stalled Pacers among the receivers waiting in fs,
// skipping self (a publisher never waits for itself). Call it before
// fs.Flush.
func (s *Stalls) Collect(fs *FlushSet, self Receiver) {
	for _, r := range fs.rs {
		if r == self {
			continue
		}
		p, ok := r.(Pacer)
		if !ok {
			continue
		}
		if ch, progress := p.Stall(); ch != nil {
			s.list = append(s.list, stalled{p, ch, progress})
		}
	}
}

// Len is the number of stalled receivers collected.
func (s *Stalls) Len() int { return len(s.list) }

// Wait gives the collected receivers, together, up to max to drain, or
// until cancel is closed, then tells each one that did not drain that it
// was waited for (Waited) and forgets them all. A cancelled wait tells
// nobody: the publisher is going away, which says nothing about the
// receiver.
func (s *Stalls) Wait(max time.Duration, cancel <-chan struct{}) {
	if len(s.list) == 0 {
		return
	}
	deadline := time.Now().Add(max)
	for i, st := range s.list {
		if rem := time.Until(deadline); rem > 0 {
			if s.t == nil {
				s.t = time.NewTimer(rem)
			} else {
				s.t.Reset(rem)
			}
			select {
			case <-st.ch:
				s.stopTimer()
				s.list[i] = stalled{}
				continue
			case <-s.t.C:
			case <-cancel:
				s.stopTimer()
				s.reset()
				return
			}
		}
		// Not drained in time (unless it was at the very end): tell it.
		select {
		case <-st.ch:
		default:
			st.p.Waited(st.ch, st.progress)
		}
		s.list[i] = stalled{}
	}
	s.reset()
}

func (s *Stalls) stopTimer() {
	if !s.t.Stop() {
		select {
		case <-s.t.C:
		default:
		}
	}
}

func (s *Stalls) reset() {
	clear(s.list)
	s.list = s.list[:0]
}
