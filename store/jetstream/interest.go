package jetstream

import (
	"github.com/leafgate/leafgate/leaf/subject"
)

// Push consumers deliver only while someone listens on their deliver
// subject. When a subscriber appears, the router tells the service
// (Router.Watch), which wakes the streams whose push consumers deliver
// there, so messages stored while nobody listened go out at once, as
// nats-server's interest callbacks make them, rather than at the next
// publish or heartbeat.

// interestKick is the control-mailbox subject that asks a stream to retry
// its idle push consumers.
const interestKick = "\x00interest"

// watchPush registers a push consumer's deliver subject.
func (s *Service) watchPush(subj string, st *stream) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	if s.push == nil {
		s.push = make(map[string]map[*stream]int)
	}
	m := s.push[subj]
	if m == nil {
		m = make(map[*stream]int)
		s.push[subj] = m
	}
	m[st]++
}

// unwatchPush undoes one watchPush.
func (s *Service) unwatchPush(subj string, st *stream) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	m := s.push[subj]
	if m == nil {
		return
	}
	if m[st]--; m[st] <= 0 {
		delete(m, st)
	}
	if len(m) == 0 {
		delete(s.push, subj)
	}
}

// onInterest is the router's interest callback: a subscription pattern
// appeared (or went). It must not block.
func (s *Service) onInterest(pattern, _ string, added bool) {
	if !added {
		return
	}
	var wake []*stream
	s.pushMu.Lock()
	for subj, streams := range s.push {
		if subject.Matches(pattern, subj) {
			for st := range streams {
				wake = append(wake, st)
			}
		}
	}
	s.pushMu.Unlock()
	for _, st := range wake {
		st.ctl.put(inMsg{subject: interestKick})
	}
}

// kickPush retries the stream's push consumers; each checks its own
// interest.
func (ms *stream) kickPush() {
	for _, c := range ms.consumers {
		if !c.isPull() {
			c.kick()
		}
	}
}
