package mqtt

import (
	"sync"
	"time"

	"github.com/leafgate/leafgate/mqtt/retain"
)

// RetainKV keeps retained messages in a mqtt/retain Store (a JetStream KV
// bucket NATS applications can read and watch).
func RetainKV(s *retain.Store) RetainStore { return retainKV{s} }

type retainKV struct{ s *retain.Store }

func (r retainKV) Set(topicName, hdr, payload []byte, expires time.Time, done func(error)) {
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixNano()
	}
	r.s.Set(retain.Msg{Topic: topicName, Hdr: hdr, Payload: payload, Expires: exp}, done)
}

func (r retainKV) Match(filter []byte, fn func(topicName, hdr, payload []byte)) {
	r.s.Match(filter, func(m retain.Msg) { fn(m.Topic, m.Hdr, m.Payload) })
}

// LazyRetain opens its retain Store when the first MQTT client connects
// (Warm) or, at the latest, when it is first used, so a gateway without
// MQTT clients pays nothing for the retained bucket: no KV consumer, no
// heartbeats, no index. The bucket's stream, with any retained messages
// of earlier runs, is on disk and readable by NATS clients either way. An
// open that fails is retried at the next use.
type LazyRetain struct {
	open func() (*retain.Store, error)
	log  func(error)

	mu    sync.Mutex
	s     *retain.Store
	ready chan struct{} // closed once an open attempt finished
}

// NewLazyRetain returns a LazyRetain that calls open; onErr (may be nil)
// is told of a failed open.
func NewLazyRetain(open func() (*retain.Store, error), onErr func(error)) *LazyRetain {
	return &LazyRetain{open: open, log: onErr}
}

// Warm starts opening the store in the background.
func (l *LazyRetain) Warm() { go func() { _, _ = l.store() }() }

// store returns the open store, opening it if needed (one open at a time;
// callers wait for it).
func (l *LazyRetain) store() (*retain.Store, error) {
	for {
		l.mu.Lock()
		if l.s != nil {
			s := l.s
			l.mu.Unlock()
			return s, nil
		}
		if l.ready != nil { // another caller is opening it
			ch := l.ready
			l.mu.Unlock()
			<-ch
			l.mu.Lock()
			s := l.s
			l.mu.Unlock()
			if s != nil {
				return s, nil
			}
			continue
		}
		ch := make(chan struct{})
		l.ready = ch
		l.mu.Unlock()
		s, err := l.open()
		l.mu.Lock()
		l.s = s
		l.ready = nil
		l.mu.Unlock()
		close(ch)
		if err != nil {
			if l.log != nil {
				l.log(err)
			}
			return nil, err
		}
		return s, nil
	}
}

// Set implements RetainStore.
func (l *LazyRetain) Set(topicName, hdr, payload []byte, expires time.Time, done func(error)) {
	s, err := l.store()
	if err != nil {
		done(err)
		return
	}
	retainKV{s}.Set(topicName, hdr, payload, expires, done)
}

// Match implements RetainStore; nothing matches while the store cannot be
// opened.
func (l *LazyRetain) Match(filter []byte, fn func(topicName, hdr, payload []byte)) {
	if s, err := l.store(); err == nil {
		retainKV{s}.Match(filter, fn)
	}
}

// Close closes the store if it was opened.
func (l *LazyRetain) Close() {
	l.mu.Lock()
	s := l.s
	l.s = nil
	l.mu.Unlock()
	if s != nil {
		s.Close()
	}
}
