package mqtt

import (
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
