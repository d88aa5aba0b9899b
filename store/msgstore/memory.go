package msgstore

import (
	"slices"
	"strings"
	"sync"

	"github.com/leafgate/leafgate/leaf/subject"
)

// Memory is a Store in memory, for streams with storage: memory. Apply
// completes before it returns.
type Memory struct {
	mu       sync.RWMutex
	msgs     map[uint64]*Msg
	subjects map[string]*SubjectState
	index    map[string]struct{}
	state    State
	closed   bool
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory {
	return &Memory{
		msgs:     make(map[uint64]*Msg),
		subjects: make(map[string]*SubjectState),
		index:    make(map[string]struct{}),
		state:    State{FirstSeq: 1},
	}
}

var _ Store = (*Memory)(nil)

// Apply implements Store.
func (s *Memory) Apply(b *Batch, done func(error)) {
	done(s.apply(b))
}

func (s *Memory) apply(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := b.checkOrder(s.state.LastSeq); err != nil {
		return err
	}
	for _, o := range b.ops {
		switch o.kind {
		case opAppend:
			m := o.msg
			m.Header = append([]byte(nil), m.Header...)
			m.Data = append([]byte(nil), m.Data...)
			s.msgs[m.Seq] = &m
			ss := s.subjects[m.Subject]
			if ss == nil {
				ss = &SubjectState{}
				s.subjects[m.Subject] = ss
				s.state.Subjects++
			}
			ss.Msgs++
			ss.Last = m.Seq
			if s.state.Msgs == 0 {
				s.state.FirstSeq, s.state.FirstTime = m.Seq, m.Time
			}
			s.state.Msgs++
			s.state.Bytes += m.Size()
			s.state.LastSeq, s.state.LastTime = m.Seq, m.Time
		case opRemove:
			s.removeLocked(o.first)
		case opRemoveRange:
			lo, hi := max(o.first, s.state.FirstSeq), min(o.last, s.state.LastSeq)
			for seq := lo; seq <= hi && s.state.Msgs > 0; seq++ {
				s.removeLocked(seq)
			}
		case opSkip:
			s.state.skip(o.first)
		case opIndexPut:
			s.index[string(o.key)] = struct{}{}
		case opIndexDelete:
			delete(s.index, string(o.key))
		}
	}
	return nil
}

func (s *Memory) removeLocked(seq uint64) {
	m := s.msgs[seq]
	if m == nil {
		return
	}
	delete(s.msgs, seq)
	s.state.Msgs--
	s.state.Bytes -= m.Size()
	ss := s.subjects[m.Subject]
	if ss.Msgs--; ss.Msgs == 0 {
		delete(s.subjects, m.Subject)
		s.state.Subjects--
	} else if ss.Last == seq {
		for p := seq - 1; p >= s.state.FirstSeq; p-- {
			if pm := s.msgs[p]; pm != nil && pm.Subject == m.Subject {
				ss.Last = p
				break
			}
		}
	}
	if s.state.Msgs == 0 {
		s.state.FirstSeq, s.state.FirstTime = s.state.LastSeq+1, 0
		return
	}
	if seq == s.state.FirstSeq {
		for n := seq + 1; n <= s.state.LastSeq; n++ {
			if nm := s.msgs[n]; nm != nil {
				s.state.FirstSeq, s.state.FirstTime = n, nm.Time
				break
			}
		}
	}
}

func copyMsg(m *Msg) Msg {
	c := *m
	c.Header = append([]byte(nil), m.Header...)
	c.Data = append([]byte(nil), m.Data...)
	return c
}

// Load implements Store.
func (s *Memory) Load(seq uint64) (Msg, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Msg{}, ErrClosed
	}
	m := s.msgs[seq]
	if m == nil {
		return Msg{}, ErrNotFound
	}
	return copyMsg(m), nil
}

// LoadNext implements Store.
func (s *Memory) LoadNext(filter string, start uint64) (Msg, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Msg{}, ErrClosed
	}
	all := filter == "" || filter == ">"
	for seq := max(start, s.state.FirstSeq); seq <= s.state.LastSeq; seq++ {
		if m := s.msgs[seq]; m != nil && (all || subject.Matches(filter, m.Subject)) {
			return copyMsg(m), nil
		}
	}
	return Msg{}, ErrNotFound
}

// LoadLast implements Store.
func (s *Memory) LoadLast(subj string) (Msg, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Msg{}, ErrClosed
	}
	ss := s.subjects[subj]
	if ss == nil {
		return Msg{}, ErrNotFound
	}
	return copyMsg(s.msgs[ss.Last]), nil
}

// State implements Store.
func (s *Memory) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state
}

// SubjectState implements Store.
func (s *Memory) SubjectState(subj string) SubjectState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ss := s.subjects[subj]; ss != nil {
		return *ss
	}
	return SubjectState{}
}

// Close implements Store.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.msgs, s.subjects = nil, nil
	return nil
}

// Count implements Store.
func (s *Memory) Count(filter string, start uint64) (n uint64) {
	all := filter == "" || filter == ">"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if all && start <= s.state.FirstSeq {
		return s.state.Msgs
	}
	for seq, m := range s.msgs {
		if seq >= start && (all || subject.Matches(filter, m.Subject)) {
			n++
		}
	}
	return n
}

// LastSeqs implements Store.
func (s *Memory) LastSeqs(filter string, start uint64) (seqs []uint64) {
	all := filter == "" || filter == ">"
	s.mu.RLock()
	for subj, ss := range s.subjects {
		if ss.Last >= start && (all || subject.Matches(filter, subj)) {
			seqs = append(seqs, ss.Last)
		}
	}
	s.mu.RUnlock()
	slices.Sort(seqs)
	return seqs
}

// Subjects implements Store.
func (s *Memory) Subjects(filter string) map[string]SubjectState {
	all := filter == "" || filter == ">"
	out := make(map[string]SubjectState)
	s.mu.RLock()
	for subj, ss := range s.subjects {
		if all || subject.Matches(filter, subj) {
			out[subj] = *ss
		}
	}
	s.mu.RUnlock()
	return out
}

// LoadBatch implements Store.
func (s *Memory) LoadBatch(filter string, start uint64, max int) ([]Msg, error) {
	var out []Msg
	for len(out) < max {
		m, err := s.LoadNext(filter, start)
		if err != nil {
			break
		}
		out = append(out, m)
		start = m.Seq + 1
	}
	return out, nil
}

// IndexScan implements Store.
func (s *Memory) IndexScan(prefix []byte, n int) [][]byte {
	s.mu.RLock()
	var keys []string
	for k := range s.index {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	if n >= 0 && len(keys) > n {
		keys = keys[:n]
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		out = append(out, []byte(k))
	}
	return out
}
