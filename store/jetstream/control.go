package jetstream

import (
	"strings"
	"time"

	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// control handles an ack, a flow-control reply or a pull request on the
// stream's goroutine.
func (ms *stream) control(m *inMsg) {
	switch {
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
				c.onFlowControl(m.subject)
			}
		}
	default: // $JS[.<domain>].API.CONSUMER.MSG.NEXT.<stream>.<consumer>
		name := m.subject[strings.LastIndexByte(m.subject, '.')+1:]
		if c := ms.consumers[name]; c != nil {
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

// persistConsumers writes the state of consumers that changed, one write
// in flight per stream, and answers ack-sync requests once it is durable.
func (ms *stream) persistConsumers() {
	if ms.metaBusy {
		return
	}
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
	if !urgent {
		t := now()
		if ms.persistAt.IsZero() {
			ms.persistAt = t.Add(consumerFlushDelay)
		}
		if t.Before(ms.persistAt) {
			ms.armWake(ms.persistAt)
			return
		}
	}
	ms.persistAt = time.Time{}
	var mb msgstore.MetaBatch
	var replies []string
	for _, c := range ms.consumers {
		if !c.dirty {
			continue
		}
		c.dirty = false
		replies = append(replies, c.syncAcks...)
		c.syncAcks = c.syncAcks[:0]
		if ms.memory() || c.ephemeral() || c.deleted {
			continue
		}
		mb.Put(consumerStateKey(ms.name, c.name), c.encodeState())
	}
	if mb.Len() == 0 {
		for _, r := range replies {
			ms.svc.publish(r, "", nil, nil)
		}
		return
	}
	ms.metaBusy = true
	ms.svc.db.ApplyMeta(&mb, func(err error) {
		ms.metaDone <- metaResult{replies: replies, err: err}
	})
}

// consumerFlushDelay bounds how long a plain ack or a delivery waits to be
// written.
const consumerFlushDelay = 100 * time.Millisecond

type metaResult struct {
	replies []string
	err     error
}

func (ms *stream) finishMeta(res metaResult) {
	ms.metaBusy = false
	if res.err != nil {
		ms.svc.log.Error("jetstream: consumer state write failed", "stream", ms.name, "err", res.err)
		// The acks stay unconfirmed: the client retries or times out.
		for _, c := range ms.consumers {
			c.dirty = true
		}
		return
	}
	for _, r := range res.replies {
		ms.svc.publish(r, "", nil, nil)
	}
}

func (ms *stream) stopConsumers() {
	if ms.metaBusy {
		ms.finishMeta(<-ms.metaDone)
	}
	ms.persistAt = time.Unix(0, 1) // due now
	ms.persistConsumers()
	if ms.metaBusy {
		ms.finishMeta(<-ms.metaDone)
	}
}

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
	if !deleted {
		return
	}
	for _, wr := range c.waiting {
		ms.svc.publish(wr.reply, "", []byte("NATS/1.0 409 Consumer Deleted\r\n\r\n"), nil)
	}
	c.waiting = nil
}

// Metadata keys.
func streamKey(name string) string                { return "s/" + name }
func consumerKey(stream, name string) string      { return "c/" + stream + "/" + name }
func consumerStateKey(stream, name string) string { return "cs/" + stream + "/" + name }
