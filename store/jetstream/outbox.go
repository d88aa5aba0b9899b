package jetstream

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// An Outbox is a stream read in order by an uplink (sync/uplink), with a
// cursor the uplink confirms as the far side stores what it sent. The
// confirmed sequence commits with the stream's other changes, so after a
// crash the uplink resumes just after it (at worst resending what was
// confirmed but not yet committed, which the far side deduplicates).
//
// Two stream rules change for what an outbox has not confirmed:
//   - max_age does not take a message on a clock jump. A device without a
//     real-time clock stamps messages with a wrong time until NTP syncs,
//     and the jump can make a whole unsent backlog look expired. An
//     unconfirmed message expires only when it is older than max_age by
//     its timestamp and this process has also held it for max_age by the
//     monotonic clock (after a restart, counted from the restart).
//   - A message a limit removes (max_msgs, max_bytes, per-subject, or
//     max_age as above) is counted as dropped, with its sequence range and
//     when, never silently.
//
// In work-queue mode a message is removed once confirmed, to save the SD
// card.
type Outbox struct {
	ms     *stream
	name   string
	filter string
	wq     bool
	sig    chan struct{}

	// Owned by the stream's goroutine.
	confirmed uint64
	drops     OutboxDrops
}

// OutboxDrops counts the unconfirmed messages limits removed.
type OutboxDrops struct {
	Msgs       uint64    `json:"msgs"`
	Bytes      uint64    `json:"bytes"`
	FirstSeq   uint64    `json:"first_seq,omitempty"`
	LastSeq    uint64    `json:"last_seq,omitempty"`
	Last       time.Time `json:"last,omitzero"`
	LastReason string    `json:"last_reason,omitempty"`
	// Refused counts publishes the stream refused (discard new at its
	// limits) on the outbox's subjects: their publishers were told.
	Refused uint64 `json:"refused,omitempty"`
}

// OutboxState is where an outbox stands.
type OutboxState struct {
	Confirmed uint64 `json:"confirmed_seq"`
	LastSeq   uint64 `json:"stream_last_seq"`
	// Backlog is what matches the filter after the confirmed sequence.
	BacklogMsgs uint64 `json:"backlog_msgs"`
	// Oldest is the timestamp of the oldest unconfirmed message.
	Oldest  time.Time   `json:"oldest_unsent,omitzero"`
	Dropped OutboxDrops `json:"dropped"`
}

// ErrNoStream is returned by OpenOutbox for a stream that does not exist.
var ErrNoStream = errors.New("jetstream: no such stream")

// outboxPrefix keys, in a stream's file, each outbox's confirmed sequence.
const outboxPrefix = "ob/"

// markEvery spaces the held-since marks (see heldSince).
func markEvery(maxAge time.Duration) time.Duration {
	return max(maxAge/64, time.Second)
}

// heldMark says that the messages up to seq were held by this process
// from at (monotonic) on.
type heldMark struct {
	seq uint64
	at  time.Time
}

// OpenOutbox opens the named outbox of a stream: messages matching filter
// ("" for all), read from just after its confirmed sequence.
func (s *Service) OpenOutbox(stream, name, filter string, workQueue bool) (*Outbox, error) {
	ms := s.lookup(stream)
	if ms == nil {
		return nil, ErrNoStream
	}
	if filter == "" {
		filter = ">"
	}
	o := &Outbox{ms: ms, name: name, filter: filter, wq: workQueue, sig: make(chan struct{}, 1)}
	var err error
	if !ms.do(func() {
		if ms.file != nil {
			err = ms.file.ForEachMeta(outboxPrefix+name, func(k string, v []byte) error {
				if k == outboxPrefix+name {
					o.confirmed, _ = binary.Uvarint(v)
				}
				return nil
			})
		}
		if ms.outboxes == nil {
			ms.outboxes = map[string]*Outbox{}
		}
		ms.outboxes[name] = o
		if len(ms.marks) == 0 {
			ms.marks = append(ms.marks, heldMark{seq: ms.lastSeq(), at: time.Now()})
		}
	}) {
		return nil, ErrNoStream
	}
	return o, err
}

// Close detaches the outbox; its confirmed sequence stays stored.
func (o *Outbox) Close() {
	o.ms.do(func() { delete(o.ms.outboxes, o.name) })
}

// LastSeq is the stream's last stored sequence (cheap: no scan).
func (o *Outbox) LastSeq() uint64 { return o.ms.store.State().LastSeq }

// Subjects are the stream's subjects.
func (o *Outbox) Subjects() []string { return o.ms.config().Subjects }

// Done is closed when the stream stops (deleted, or the service closing).
func (o *Outbox) Done() <-chan struct{} { return o.ms.exited }

// Notify is signalled when messages were stored.
func (o *Outbox) Notify() <-chan struct{} { return o.sig }

// Read returns up to max messages matching the filter from sequence from
// on, in order.
func (o *Outbox) Read(from uint64, max int) ([]msgstore.Msg, error) {
	msgs, err := o.ms.store.LoadBatch(o.filter, from, max)
	if errors.Is(err, msgstore.ErrNotFound) {
		return nil, nil
	}
	return msgs, err
}

// LastBySubject maps each subject with messages from sequence start on
// to its newest sequence.
func (o *Outbox) LastBySubject(start uint64) map[string]uint64 {
	out := map[string]uint64{}
	for subj, ss := range o.ms.store.Subjects(o.filter) {
		if ss.Last >= start {
			out[subj] = ss.Last
		}
	}
	return out
}

// State reports the outbox's position and backlog. ok is false when the
// stream has stopped.
func (o *Outbox) State() (st OutboxState, ok bool) {
	ms := o.ms
	ok = ms.do(func() {
		st.Confirmed = o.confirmed
		st.LastSeq = ms.lastSeq()
		st.Dropped = o.drops
		st.BacklogMsgs = ms.store.Count(o.filter, o.confirmed+1)
		if m, err := ms.store.LoadNext(o.filter, o.confirmed+1); err == nil {
			st.Oldest = time.Unix(0, m.Time).UTC()
		}
	})
	return st, ok
}

// Confirm records that the far side stored everything matching up to
// upto; in work-queue mode the messages seqs (those the uplink sent,
// up to upto) are removed. It returns once that is in the batch being
// committed (not once committed: a crash before then means a resend, which
// the far side deduplicates).
func (o *Outbox) Confirm(upto uint64, seqs []uint64) bool {
	ms := o.ms
	return ms.do(func() {
		if upto <= o.confirmed {
			return
		}
		o.confirmed = upto
		if ms.file != nil {
			ms.cur().b.PutMeta(outboxPrefix+o.name, binary.AppendUvarint(nil, upto))
		}
		if o.wq {
			for _, seq := range seqs {
				if seq <= upto {
					ms.removeMsg(seq)
				}
			}
		}
		ms.trimMarks()
		ms.ageHeldUntil = time.Time{} // what max_age held may go now: look again
		ms.scheduleAge()
		ms.flush()
	})
}

// signalOutboxes wakes the outboxes after a commit stored messages.
func (ms *stream) signalOutboxes() {
	for _, o := range ms.outboxes {
		select {
		case o.sig <- struct{}{}:
		default:
		}
	}
}

// limitRemove removes a message a limit took; an outbox that had not
// confirmed it counts it as dropped.
func (ms *stream) limitRemove(seq uint64, why string) bool {
	m, ok := ms.removeMsg(seq)
	if !ok {
		return false
	}
	for _, o := range ms.outboxes {
		if m.Seq <= o.confirmed || !subject.Matches(o.filter, m.Subject) {
			continue
		}
		d := &o.drops
		if d.Msgs == 0 || m.Seq < d.FirstSeq {
			d.FirstSeq = m.Seq
		}
		d.LastSeq = max(d.LastSeq, m.Seq)
		d.Msgs++
		d.Bytes += ms.msgSize(&m)
		d.Last = ms.svc.now().UTC()
		d.LastReason = why
		if d.Msgs == 1 || d.Msgs%1000 == 0 {
			ms.svc.log.Warn("jetstream: limits dropped messages an uplink had not sent",
				"stream", ms.name, "uplink", o.name, "reason", why, "dropped", d.Msgs, "bytes", d.Bytes,
				"first_seq", d.FirstSeq, "last_seq", d.LastSeq)
		}
	}
	return true
}

// isLimitRefusal reports whether err refused a publish for want of room
// (discard new at the stream's limits, or the store's): a message lost,
// unlike a failed expectation (Nats-Expected-*), which the publisher
// asked for.
func isLimitRefusal(err *jsapi.Error) bool {
	switch err.ErrCode {
	case jsapi.ErrStreamStoreFailedF.ErrCode, jsapi.ErrStorageResourcesExceeded.ErrCode, jsapi.ErrMemoryResourcesExceeded.ErrCode:
		return true
	}
	return false
}

// noteRefused counts a publish the stream refused on an outbox's subjects.
func (ms *stream) noteRefused(subj string) {
	for _, o := range ms.outboxes {
		if subject.Matches(o.filter, subj) {
			o.drops.Refused++
			o.drops.Last = ms.svc.now().UTC()
			if o.drops.Refused == 1 || o.drops.Refused%1000 == 0 {
				ms.svc.log.Warn("jetstream: stream at its limits refused publishes an uplink would carry",
					"stream", ms.name, "uplink", o.name, "refused", o.drops.Refused)
			}
		}
	}
}

// noteHeld adds a held-since mark after a commit stored messages up to
// last, at most one per markEvery.
func (ms *stream) noteHeld(last uint64) {
	if len(ms.outboxes) == 0 {
		return
	}
	t := time.Now()
	every := markEvery(ms.config().MaxAge)
	if n := len(ms.marks); n > 0 && t.Sub(ms.marks[n-1].at) < every {
		ms.marks[n-1].seq = max(ms.marks[n-1].seq, last)
		return
	}
	ms.marks = append(ms.marks, heldMark{seq: last, at: t})
}

// trimMarks drops the marks every outbox has confirmed past.
func (ms *stream) trimMarks() {
	low := uint64(0)
	first := true
	for _, o := range ms.outboxes {
		if first || o.confirmed < low {
			low, first = o.confirmed, false
		}
	}
	i := 0
	for i < len(ms.marks)-1 && ms.marks[i].seq <= low {
		i++
	}
	ms.marks = append(ms.marks[:0], ms.marks[i:]...)
}

// heldSince is when this process started holding message seq, by the
// monotonic clock: the first mark at or after it (a mark's time is at
// or after its messages were stored, so this errs towards keeping).
func (ms *stream) heldSince(seq uint64) time.Time {
	for _, mk := range ms.marks {
		if mk.seq >= seq {
			return mk.at
		}
	}
	return time.Now()
}

// ageHold reports whether max_age must keep m for an outbox (see
// Outbox), and until when.
func (ms *stream) ageHold(m *msgstore.Msg, maxAge time.Duration) (time.Time, bool) {
	for _, o := range ms.outboxes {
		if m.Seq <= o.confirmed || !subject.Matches(o.filter, m.Subject) {
			continue
		}
		until := ms.heldSince(m.Seq).Add(maxAge)
		if time.Now().Before(until) {
			return until, true
		}
	}
	return time.Time{}, false
}
