package router

import "time"

// Origin describes the client behind a publishing Receiver, with the
// details nats-server puts in an advisory's client info. Fields the
// receiver cannot know are left zero.
type Origin struct {
	Start   time.Time
	Host    string
	ID      uint64 // connection id, as /connz's cid
	User    string // the authenticated user or nkey, "" without one
	Name    string // the client's CONNECT name
	Lang    string
	Version string
	RTT     time.Duration
	Kind    string // "Client", as nats-server's kind
	Type    string // "nats", "mqtt", "websocket"
}

// Describer is a Receiver that can describe the client behind it.
type Describer interface {
	Describe() Origin
}

// OriginAware is implemented by receivers that need to know who published
// each message they get: the JetStream API reports the requesting client in
// its audit advisories, an MQTT 5 No Local subscription skips its own
// session's messages, a stream registers its durable store with the
// publisher's Confirm. The router checks for it once, at Subscribe, and
// then calls DeliverFrom instead of Deliver with the Publisher (never nil;
// its Origin is nil for an anonymous publisher). p is only valid during
// the call.
//
// Per-subscription data (an MQTT subscription's granted QoS, options and
// subscription identifier) lives in a per-subscription Receiver: each Sub
// can have its own small Receiver value that points at the connection, so
// a delivery needs no lookup by SID.
type OriginAware interface {
	DeliverFrom(p *Publisher, sub *Sub, subject, reply, hdr, payload []byte) (needFlush bool)
}
