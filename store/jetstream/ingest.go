package jetstream

import (
	"errors"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Ingest limits of a stream's publish mailbox (Config.IngestHighWater,
// Config.IngestLimit).
const (
	// DefaultIngestHighWater is the bytes queued for one stream above
	// which publishers that can wait do, until the stream's goroutine
	// takes the queue for its next batch. 4 MiB is many batches of a
	// fast stream and little memory on a small device.
	DefaultIngestHighWater = 4 << 20
	// DefaultIngestLimit is the bytes queued for one stream above which
	// publishes are refused (429 Too Many Requests), as nats-server
	// refuses them at its stream ingest queue's limits. Paced publishers
	// stay near the high-water mark; this bounds what a stream whose
	// commits have stopped (a hung disk) holds, and what publishers that
	// cannot wait (internal ones) can queue.
	DefaultIngestLimit = 64 << 20
)

// ErrStreamStopped is reported to a publish's router.Confirm when its
// stream stopped (deleted, or the service closed) before the message was
// stored.
var ErrStreamStopped = errors.New("jetstream: stream stopped before the message was stored")

// tooManyRequestsHdr is the status header nats-server puts on the PubAck
// error of a publish its stream's ingest queue refused.
var tooManyRequestsHdr = []byte("NATS/1.0 429 Too Many Requests\r\n\r\n")

// streamReceiver is a stream's end of its subject subscriptions: it
// copies each publish into the stream's bounded mailbox (ms.in).
//
// As a router.OriginAware it sees the Publisher, and registers the
// stream's durable store with its Confirm: the Confirm is told when the
// message's batch has committed and synced, or why it was not stored.
//
// As a router.Pacer it asks a publisher that can wait (one with a
// FlushSet, which waits with a router.Stalls: a NATS client's read loop,
// an MQTT session) to, while the mailbox is above its high-water mark,
// until the stream's goroutine takes the queue; progress is the bytes
// taken so far. A stream never gives up pacing (Waited does nothing): a
// publisher bounds each wait itself, and the mailbox's limit bounds what
// a stream that stopped taking can hold. Publishers without a FlushSet
// (internal ones) just enqueue. Deliver never blocks.
type streamReceiver struct{ ms *stream }

var (
	_ router.OriginAware = (*streamReceiver)(nil)
	_ router.Pacer       = (*streamReceiver)(nil)
)

// anonymous is the Publisher of a delivery that came without one.
var anonymous router.Publisher

// Deliver implements router.Receiver; the router calls DeliverFrom.
func (r *streamReceiver) Deliver(sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	return r.DeliverFrom(&anonymous, sub, subj, reply, hdr, payload)
}

// DeliverFrom implements router.OriginAware.
func (r *streamReceiver) DeliverFrom(p *router.Publisher, sub *router.Sub, subj, reply, hdr, payload []byte) bool {
	m := copyIn(sub, subj, reply, hdr, payload)
	if p.Confirm != nil {
		p.Confirm.Add() // before the stream can see it
		m.confirm = p.Confirm
	}
	switch res, firstFull := r.ms.in.offer(m); res {
	case offerStalled:
		// Once per batch of each publisher: several may fill the
		// mailbox at once, each of them must wait.
		return p.Pending != nil && !p.Pending.Contains(r)
	case offerFull:
		r.ms.refuseFull(&m, firstFull)
	case offerClosed:
		if m.confirm != nil {
			m.confirm.Done(ErrStreamStopped)
		}
	}
	return false
}

// Flush implements router.Receiver: the stream's goroutine is woken by
// the mailbox itself.
func (*streamReceiver) Flush() {}

// Stall implements router.Pacer.
func (r *streamReceiver) Stall() (<-chan struct{}, int64) { return r.ms.in.stalled() }

// Waited implements router.Pacer: a stream never stops pacing (see
// streamReceiver).
func (*streamReceiver) Waited(<-chan struct{}, int64) {}

// refuseFull answers a publish the full mailbox refused, on the
// publisher's goroutine: 429 Too Many Requests to its reply, as
// nats-server answers, and to its Confirm.
func (ms *stream) refuseFull(m *inMsg, first bool) {
	if first {
		ms.svc.log.Warn("jetstream: stream ingest queue full; refusing publishes until the stream catches up",
			"stream", ms.name, "limit", ms.in.limit)
	}
	if m.confirm != nil {
		m.confirm.Done(jsapi.ErrStreamTooManyRequests)
	}
	if m.reply != "" && !ms.config().NoAck {
		ms.svc.publish(m.reply, "", tooManyRequestsHdr, appendPubAckError(nil, ms.name, jsapi.ErrStreamTooManyRequests))
	}
}
