package jetstream

import (
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// control handles an ack, a flow-control reply or a pull request on the
// stream's goroutine.
func (ms *stream) control(m *inMsg) {
	switch {
	case m.subject == interestKick:
		ms.kickPush()
	case strings.HasPrefix(m.subject, "$JS.ACK."):
		ai, ok := parseAck(m.subject)
		if !ok {
			return
		}
		if c := ms.consumers[ai.consumer]; c != nil {
			c.onAck(ai, m.data, m.reply)
		}
	case strings.HasPrefix(m.subject, "$JS.FC."):
		toks := strings.Split(m.subject, ".")
		if len(toks) >= 4 {
			if c := ms.consumers[toks[3]]; c != nil {
				c.onFlowControl(m.subject, m.hdr)
			}
		}
	default: // $JS[.<domain>].API.CONSUMER.{MSG.NEXT,RESET}.<stream>.<consumer>
		name := m.subject[strings.LastIndexByte(m.subject, '.')+1:]
		c := ms.consumers[name]
		switch {
		case c == nil:
		case ms.svc.isResetSubject(m.subject):
			c.onReset(m.reply, m.hdr, m.data)
		default:
			c.onPullRequest(m.reply, m.data)
		}
	}
}

// onConsumerAcked removes acknowledged messages under interest and
// work-queue retention.
func (ms *stream) onConsumerAcked(_ *consumer, seqs []uint64) {
	cfg := ms.config()
	switch cfg.Retention {
	case jsapi.WorkQueuePolicy:
		for _, seq := range seqs {
			ms.removeMsg(seq)
		}
	case jsapi.InterestPolicy:
		for _, seq := range seqs {
			m, ok := ms.loadProjected(seq)
			if !ok {
				continue
			}
			if ms.allAcked(&m) {
				ms.removeMsg(seq)
			}
		}
	}
}

// allAcked reports whether every consumer interested in m has acked it.
func (ms *stream) allAcked(m *msgstore.Msg) bool {
	for _, c := range ms.consumers {
		if !c.matches(m.Subject) {
			continue
		}
		if m.Seq > c.sseq && !c.ackNone() {
			return false
		}
		if _, pending := c.pending[m.Seq]; pending {
			return false
		}
	}
	return true
}

// persistConsumers writes the state of consumers that changed into the
// batch being built, so it commits in the same transaction as the stream
// changes it goes with: an acknowledged ack and the work-queue or interest
// removal it causes are durable together or not at all. Ack-sync requests
// are answered once that batch is durable. force writes every dirty
// consumer now (at shutdown).
//
// Invariant: a removal caused by an ack is never committed after the
// consumer state recording that ack. It goes into the same batch, or an
// earlier one when the state write is delayed; a crash between them leaves
// a pending entry whose message is gone, which recovery drops.
func (ms *stream) persistConsumers(force bool) {
	// Plain acks and deliveries are written at most every
	// consumerFlushDelay (losing them in a crash means redelivery, which
	// at-least-once allows); an ack-sync waiting for its reply is written
	// at once.
	dirty, urgent := false, false
	for _, c := range ms.consumers {
		if c.dirty {
			dirty = true
			urgent = urgent || len(c.syncAcks) > 0
		}
	}
	if !dirty {
		ms.persistAt = time.Time{}
		return
	}
	if !urgent && !force {
		t := ms.svc.now()
		if ms.persistAt.IsZero() {
			ms.persistAt = t.Add(consumerFlushDelay)
		}
		if t.Before(ms.persistAt) {
			ms.armWake(ms.persistAt)
			return
		}
	}
	ms.persistAt = time.Time{}
	var replies []string
	for _, c := range ms.consumers {
		if !c.dirty {
			continue
		}
		c.dirty = false
		replies = append(replies, c.syncAcks...)
		c.syncAcks = c.syncAcks[:0]
		if ms.file != nil && !c.cfg.Direct {
			ms.cur().b.PutMeta(consumerStateKey(c.name), c.encodeState())
		}
	}
	if ms.file == nil {
		// Memory storage: nothing outlives the process to wait for.
		for _, r := range replies {
			ms.svc.publish(r, "", nil, nil)
		}
		return
	}
	ms.cur().after = append(ms.cur().after, func(err error) {
		if err != nil {
			ms.svc.log.Error("jetstream: consumer state write failed", "stream", ms.name, "err", err)
			// The acks stay unconfirmed (the client retries or times
			// out); the state is written again with the next batch.
			for _, c := range ms.consumers {
				c.dirty = true
			}
			return
		}
		for _, r := range replies {
			ms.svc.publish(r, "", nil, nil)
		}
	})
}

// consumerFlushDelay bounds how long a plain ack or a delivery waits to be
// written.
const consumerFlushDelay = 100 * time.Millisecond

// releaseConsumers drops the consumers' pull-request subscriptions as the
// stream stops, so a request for one has no responder (and nothing piles
// up in the stopped stream's mailbox).
func (ms *stream) releaseConsumers() {
	for _, c := range ms.consumers {
		ms.releaseConsumer(c, ms.deleting.Load())
	}
}

// releaseConsumer unsubscribes c's pull-request subjects. When c is being
// deleted, pull requests still waiting end with 409 Consumer Deleted, as
// nats-server ends them.
func (ms *stream) releaseConsumer(c *consumer, deleted bool) {
	for _, sub := range c.subs {
		_ = ms.svc.r.Unsubscribe(sub)
	}
	c.subs = nil
	if c.watched != "" {
		ms.svc.unwatchPush(c.watched, ms)
		c.watched = ""
	}
	if !deleted {
		return
	}
	ms.svc.adviseConsumer(jsapi.AdvisoryConsumerDeleted, ms.name, c.name, jsapi.ActionDeleted)
	for _, wr := range c.waiting {
		ms.svc.publish(wr.reply, "", proto.AppendStatusHeader(nil, 409, "Consumer Deleted"), nil)
	}
	c.waiting = nil
}

// Metadata keys. jetstream.db holds stream definitions; each stream's own
// file holds its consumers' definitions and positions, so that they
// commit with the stream's messages.
func streamKey(name string) string { return "s/" + name }

// Consumer keys in a stream's file.
const (
	consumerPrefix      = "c/"
	consumerStatePrefix = "cs/"
)

func consumerKey(name string) string      { return consumerPrefix + name }
func consumerStateKey(name string) string { return consumerStatePrefix + name }

// Where stores written before consumers moved into the stream's file kept
// them: jetstream.db, keyed by stream and consumer. Recovery moves them.
func legacyConsumerPrefix(stream string) string      { return "c/" + stream + "/" }
func legacyConsumerStatePrefix(stream string) string { return "cs/" + stream + "/" }
