package uplink

import (
	"bytes"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/sync/fastbatch"
)

// Fast batch catch-up (Config.FastBatch).
//
// While catching up, the backlog lane publishes in nats-server 2.14 fast
// batches ("gap: fail") instead of one acknowledged publish per message:
// the hub answers every batchFlow messages with how far it has stored, and
// the commit that ends the batch (when the catch-up ends, or after
// maxBatch messages) acknowledges the rest. Messages keep their
// Nats-Msg-Id, so what a batch resends is deduplicated as before. Live
// messages stay single publishes, and so does what is sent while a batch
// is committing.
//
// A gap, an error, a stall or a new leafnode session abandons the batch
// (the hub drops it after 10 s) and goes back to the first unacknowledged
// message; the next backlog message starts a new batch. Until the hub has
// answered a batch's first message, and while a batch commits, the
// cursor sends nothing (fillBacklog): nothing stored after a batch the
// hub refuses can overtake its messages. A hub that
// refuses batches (a stream without allow_batched: 10205; nats-server
// before 2.14: a plain PubAck) gets single publishes, and batches are
// tried again at the first catch-up 5 minutes later (the stream's
// configuration or the hub may have changed by then); too many batches in
// flight at the hub (10211: a fleet catching up at once) holds them back
// 30 s. Under BatchAuto, any other broken batch does the same as a
// refusal: batches are then single publishes until the retry.

const (
	batchFlow = 128     // acknowledge every batchFlow messages
	maxBatch  = 100_000 // messages in one batch before it commits

	batchRetryRefused = 5 * time.Minute  // after 10205 or an old hub
	batchRetryBusy    = 30 * time.Second // after 10211
)

// BatchMode is an uplink's fast_batch.
type BatchMode uint8

const (
	// BatchOff: every message is its own publish.
	BatchOff BatchMode = iota
	// BatchAuto: batches when the hub takes them; a refusal is logged
	// once, at Info (leafgate's default).
	BatchAuto
	// BatchOn: batches, and a refusal is a warning.
	BatchOn
)

// batch is the open batch: the stream sequence of each batch sequence.
type batch struct {
	id    string
	seqs  []uint64 // batch seq i+1 is stream seq seqs[i]
	acked uint64   // batch seqs acknowledged so far
	subj  []byte   // the last subject published (a commit's)
	// known: the hub answered with a flow acknowledgement, so it takes
	// fast batches. Only then is the batch committed: an end-of-batch
	// commit to a hub that does not know them would be stored as an
	// empty message.
	known      bool
	committing bool
}

// batched reports whether backlog messages go in batches.
func (u *Uplink) batched() bool {
	return u.cfg.FastBatch != BatchOff && !u.batchOff
}

// batchReply is the reply for stream message seq, opening a batch when
// none is: it goes into the batch.
func (u *Uplink) batchReply(seq uint64) []byte {
	if u.batch == nil {
		u.batch = &batch{id: inbox.Token(10)}
	}
	b := u.batch
	b.seqs = append(b.seqs, seq)
	b.subj = append(b.subj[:0], u.subjBuf...)
	op := fastbatch.Append
	if len(b.seqs) == 1 {
		op = fastbatch.Start
	}
	return fastbatch.AppendReply(u.replyBuf[:0], u.bprefix, fastbatch.Reply{ID: b.id, Flow: batchFlow, Seq: uint64(len(b.seqs)), Op: op})
}

// commitBatch ends the open batch once the catch-up is over or it is
// full: an end-of-batch commit, whose PubAck acknowledges what is left.
func (u *Uplink) commitBatch() {
	b := u.batch
	if b == nil || !b.known || b.committing || u.liveFrom > 0 && len(b.seqs) < maxBatch {
		return
	}
	if !u.r.HasRemoteInterest(b.subj) {
		return // the link is down: the batch goes back with the rest
	}
	b.committing = true
	u.replyBuf = fastbatch.AppendReply(u.replyBuf[:0], u.bprefix, fastbatch.Reply{ID: b.id, Flow: batchFlow, Seq: uint64(len(b.seqs)) + 1, Op: fastbatch.CommitEOB})
	u.r.Publish(&u.pub, b.subj, u.replyBuf, nil, nil)
}

// onBatchAnswer takes the hub's answer to batch id.
func (u *Uplink) onBatchAnswer(a ack) {
	b := u.batch
	if b == nil || a.batch.id != b.id {
		return // an abandoned batch's
	}
	ans := a.batch.Answer
	switch {
	case ans.Kind == fastbatch.FlowAck:
		b.known = true
		u.batchAcked(b, min(ans.Seq, uint64(len(b.seqs))), false)
	case ans.Kind == fastbatch.PubAck && ans.Error == nil && b.committing:
		u.batchAcked(b, uint64(len(b.seqs)), ans.Duplicate)
		u.mu.Lock()
		u.status.Batches++
		u.mu.Unlock()
		u.batch = nil
	case ans.Kind == fastbatch.PubAck && ans.Error == nil && ans.Batch == "":
		// A plain PubAck: the hub took the message as a single publish,
		// so it does not know fast batches (nats-server before 2.14).
		u.refuseBatches("the hub does not know fast batches (nats-server 2.14 or later has them)", 0, batchRetryRefused)
	case ans.Error != nil && ans.Error.ErrCode == 10205:
		u.refuseBatches("the hub stream does not allow fast batches: give it allow_batched (nats stream edit <stream> --allow-fast) for a faster catch-up", ans.Error.ErrCode, batchRetryRefused)
	case ans.Error != nil && ans.Error.ErrCode == 10211:
		u.refuseBatches("the hub has too many fast batches in flight (nats-server allows 1,000 per stream)", ans.Error.ErrCode, batchRetryBusy)
	default:
		why := "fast batch gap"
		var code uint16
		if ans.Error != nil {
			why, code = "fast batch error: "+ans.Error.Description, ans.Error.ErrCode
		}
		if u.cfg.FastBatch == BatchAuto {
			// Unasked-for batches must never hold a catch-up back: a
			// batch breaks when the uplink's subjects go into more than
			// one hub stream, and resending it would break it again.
			u.refuseBatches(why+" (a batch goes into one hub stream: do the uplink's subjects go into several?)", code, batchRetryRefused)
			return
		}
		if ans.Error != nil {
			u.fail(why)
		}
		u.batch = nil
		u.goBack(why)
	}
}

// refuseBatches turns batching off until the first catch-up after
// retry, and resends what the batch had not confirmed one publish at a
// time. A refusal is logged when its reason is new: at Info under
// BatchAuto, as a warning under BatchOn.
func (u *Uplink) refuseBatches(why string, errCode uint16, retry time.Duration) {
	u.batchOff = true
	u.batchRetry = time.Now().Add(retry)
	if why != u.batchWhy {
		u.batchWhy = why
		if u.cfg.FastBatch == BatchOn {
			u.fail("fast batch refused: " + why)
			u.log.Warn("uplink: the hub refuses fast batches, publishing one by one", "why", why, "err_code", errCode, "retry_in", retry,
				"remedy", "remove fast_batch: true to use batches only where the hub takes them, without this warning")
		} else {
			u.log.Info("uplink: the hub refuses fast batches, publishing one by one", "why", why, "err_code", errCode, "retry_in", retry)
		}
	}
	u.batch = nil
	u.goBack("fast batch refused")
}

// retryBatches ends a refusal whose time is up, as a catch-up starts.
func (u *Uplink) retryBatches(now time.Time) {
	if u.batchOff && !now.Before(u.batchRetry) {
		u.batchOff = false
	}
}

// batchAcked marks the batch's messages up to batch seq upto acknowledged.
func (u *Uplink) batchAcked(b *batch, upto uint64, dup bool) {
	for ; b.acked < upto; b.acked++ {
		seq := b.seqs[b.acked]
		s, ok := u.inflight[seq]
		if !ok || s.acked {
			continue
		}
		u.ackOne(seq, s, dup && b.acked+1 == upto)
	}
}

// batchAnswer is the hub's answer to batch id.
type batchAnswer struct {
	id string
	fastbatch.Answer
}

// parseBatchAnswer reads an answer on a batch reply subject, on the
// link's goroutine: ok false when subj is not one. A status without a
// body (503: no hub stream took the message) is an error answer.
func parseBatchAnswer(subj, hdr, data []byte) (a ack, ok bool) {
	if !bytes.HasSuffix(subj, []byte(fastbatch.Suffix)) {
		return a, false
	}
	_, r, ok := fastbatch.ParseReply(string(subj))
	if !ok {
		return a, false
	}
	ans, err := fastbatch.ParseAnswer(data)
	if err != nil {
		status := proto.HeaderStatus(hdr)
		if len(status) == 0 || len(data) > 0 {
			return a, false
		}
		ans = fastbatch.Answer{Kind: fastbatch.PubAck, Error: &jsapi.Error{Code: 503, Description: "status " + string(status) + ": no hub stream took the message"}}
	}
	return ack{batch: &batchAnswer{id: r.ID, Answer: ans}}, true
}
