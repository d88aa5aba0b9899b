package jetstream

import (
	"encoding/binary"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// Streams that mirror or source other streams. The replication itself
// (the consumers it creates at the origin, flow control, gap and stall
// detection) lives in sync/; this is the store side it drives: a
// privileged append that takes the origin's sequence and time, the
// position each source has reached, persisted in the same commit as the
// messages, and the status STREAM.INFO reports.

// Follower replicates into the streams that mirror or source others. The
// service calls Follow when such a stream is created, recovered or
// updated, and Unfollow when it is deleted, stops being one, or the
// service closes. Both must return promptly.
type Follower interface {
	Follow(r *Replica)
	Unfollow(name string)
}

// Replica is a mirror's or sourcing stream's store side, for its Follower.
type Replica struct{ ms *stream }

// ReplMsg is a message replicated from an origin stream.
type ReplMsg struct {
	// Source is the source's index name (SourceIName); "" for a mirror.
	Source string
	// OriginSeq is the message's sequence in the origin stream. A mirror
	// stores the message under it (skipping what the origin no longer
	// has); a source records it as where the source has reached.
	OriginSeq uint64
	// Time is the origin's timestamp, which a mirror keeps.
	Time int64
	// Epoch is the source's consumer generation. Once a message of an
	// epoch is refused, the rest of that epoch is too (they would leave
	// a hole behind the source's position); the Follower starts a new
	// epoch from the position it resumes at.
	Epoch   uint64
	Subject string
	Header  []byte
	Data    []byte
}

// replIn is what a replicated message carries through the mailbox.
type replIn struct {
	source    string
	originSeq uint64
	time      int64
	epoch     uint64
	mirror    bool
	batch     *replBatch
	last      bool // the batch's last message: answer it
}

// replBatch is one Append: its callback and the first refusal.
type replBatch struct {
	done func(error)
	err  error
}

// replStatus is what the Follower last reported, for STREAM.INFO.
type replStatus struct {
	mirror  *jsapi.StreamSourceInfo
	sources []*jsapi.StreamSourceInfo
}

// sourceStatePrefix keys, in a stream's file, the last origin sequence
// each source has stored, by the source's index name; sourceIdentPrefix
// the identity of the origin stream it came from (so a restart still
// notices that the origin was deleted and created again meanwhile).
const (
	sourceStatePrefix = "src/"
	sourceIdentPrefix = "srcid/"
)

// SourceIName is the index name a source's position is kept under, as
// nats-server names it: the origin stream, its domain's API prefix and
// durable consumer (hashed), and the filters and transforms.
func SourceIName(ss *jsapi.StreamSource) string { return sourceIName(ss) }

// Name is the stream's name.
func (r *Replica) Name() string { return r.ms.name }

// Config is the stream's configuration.
func (r *Replica) Config() jsapi.StreamConfig { return r.ms.config() }

// Domain is the JetStream domain the stream is in ("" for none).
func (r *Replica) Domain() string { return r.ms.svc.cfg.Domain }

// Position is where replication resumes: the highest sequence stored (a
// mirror's position, as it keeps the origin's sequences) and, for each
// source by index name, the last origin sequence stored. ok is false when
// the stream has stopped.
func (r *Replica) Position() (last uint64, sources map[string]uint64, ok bool) {
	sources = map[string]uint64{}
	ok = r.ms.do(func() {
		last = r.ms.store.State().LastSeq
		for k, v := range r.ms.srcPos {
			sources[k] = v
		}
	})
	return last, sources, ok
}

// Append stores msgs in order, after whatever the stream took before, and
// calls done once they are durable (nil), or with why not. A message a
// mirror already has (OriginSeq not above its last sequence) or a source
// already stored under its Nats-Msg-Id is skipped, not an error. done
// runs on the stream's goroutine and must not block.
func (r *Replica) Append(msgs []ReplMsg, done func(error)) {
	if len(msgs) == 0 {
		done(nil)
		return
	}
	mirror := r.ms.config().Mirror != nil
	b := &replBatch{done: done}
	for i := range msgs {
		m := &msgs[i]
		in := inMsg{subject: m.Subject, hdr: m.Header, data: m.Data, repl: &replIn{
			source: m.Source, originSeq: m.OriginSeq, time: m.Time, epoch: m.Epoch,
			mirror: mirror, batch: b, last: i == len(msgs)-1,
		}}
		switch res, _ := r.ms.in.offer(in); res {
		case offerClosed:
			done(ErrStreamStopped)
			return
		case offerFull:
			done(jsapi.ErrStreamTooManyRequests)
			return
		}
	}
}

// SetStatus sets the mirror's or sources' status STREAM.INFO reports.
func (r *Replica) SetStatus(mirror *jsapi.StreamSourceInfo, sources []*jsapi.StreamSourceInfo) {
	r.ms.replStatus.Store(&replStatus{mirror: mirror, sources: sources})
}

// ingestRepl stores one replicated message and, for the last of an
// Append, queues its answer for when the batch commits.
func (ms *stream) ingestRepl(cfg *jsapi.StreamConfig, m *inMsg, ts int64) {
	r := m.repl
	key := r.source
	if r.batch.err == nil && ms.replFailed[key] == r.epoch+1 {
		r.batch.err = jsapi.ErrStreamStoreFailedF.With("err", "an earlier message of this source was refused")
	}
	if r.batch.err == nil {
		if e := ms.storeRepl(cfg, m, ts); e != nil {
			r.batch.err = e
			if ms.replFailed == nil {
				ms.replFailed = map[string]uint64{}
			}
			ms.replFailed[key] = r.epoch + 1 // epoch+1: the zero value means none
		}
	}
	if !r.last {
		return
	}
	if r.batch.err != nil {
		r.batch.done(r.batch.err)
		return
	}
	ms.cur().after = append(ms.cur().after, r.batch.done)
}

// storeRepl stores one replicated message in the batch being built, on
// the stream's goroutine. It reports only errors that refuse the message
// (limits); the Follower then starts that source again from what was
// stored.
func (ms *stream) storeRepl(cfg *jsapi.StreamConfig, m *inMsg, ts int64) *jsapi.Error {
	r := m.repl
	seq := ms.lastSeq() + 1
	if r.mirror {
		if r.originSeq < seq {
			return nil // already stored
		}
		// The origin's sequence, skipping what it no longer has; and
		// its time.
		seq, ts = r.originSeq, r.time
	}
	if !r.mirror && r.originSeq <= ms.position(r.source) {
		return nil // this source already stored it
	}
	if cfg.Sealed {
		return jsapi.ErrStreamSealed
	}
	size := int(ms.msgSize(&msgstore.Msg{Subject: m.subject, Header: m.hdr, Data: m.data}))
	var msgID string
	if !r.mirror {
		// A source deduplicates by message id, as nats-server's does;
		// a mirror is a copy, already deduplicated at the origin.
		if msgID = string(proto.HeaderGet(m.hdr, "Nats-Msg-Id")); msgID != "" {
			ms.expireDedup(ts, cfg.Duplicates)
			if _, dup := ms.dedup[msgID]; dup {
				ms.notePosition(r)
				return nil
			}
		}
	}
	if cfg.Retention == jsapi.InterestPolicy && len(ms.consumers) == 0 {
		ms.cur().b.Skip(seq)
		ms.cur().last = seq
		ms.notePosition(r)
		return nil
	}
	if err := ms.enforceLimitsBefore(cfg, m.subject, size, false); err != nil {
		return err
	}
	if err := ms.checkAccountLimit(size); err != nil {
		return err
	}
	var prevLast uint64
	if cfg.MaxMsgsPer == 1 || ms.republish != nil {
		_, prevLast = ms.subjectState(m.subject)
	}
	ms.appendMsg(msgstore.Msg{Seq: seq, Subject: m.subject, Header: m.hdr, Data: m.data, Time: ts})
	ms.enforceLimitsAfter(cfg, m.subject, prevLast)
	ms.remember(msgID, seq, ts)
	ms.notePosition(r)
	return nil
}

// position is how far a source has got, counting the batch being built.
func (ms *stream) position(source string) uint64 {
	pos := ms.srcPos[source]
	if ms.batch != nil {
		pos = max(pos, ms.batch.srcPos[source])
	}
	return pos
}

// Identities are the origin streams' identities, by source index name,
// as SetIdentity last recorded them.
func (r *Replica) Identities() map[string]string {
	out := map[string]string{}
	r.ms.do(func() {
		for k, v := range r.ms.srcIdent {
			out[k] = v
		}
	})
	return out
}

// SetIdentity records the identity of a source's origin stream.
func (r *Replica) SetIdentity(source, identity string) {
	ms := r.ms
	ms.do(func() {
		if ms.srcIdent[source] == identity {
			return
		}
		if ms.srcIdent == nil {
			ms.srcIdent = map[string]string{}
		}
		ms.srcIdent[source] = identity
		if ms.file != nil {
			ms.cur().b.PutMeta(sourceIdentPrefix+source, []byte(identity))
			ms.flush()
		}
	})
}

// ResetPosition forgets how far a source got: its origin stream was
// deleted and created again, and is sourced from its start.
func (r *Replica) ResetPosition(source string) {
	ms := r.ms
	ms.do(func() {
		delete(ms.srcPos, source)
		delete(ms.srcIdent, source)
		if ms.batch != nil {
			delete(ms.batch.srcPos, source)
		}
		if ms.file != nil {
			ms.cur().b.DeleteMeta(sourceStatePrefix + source)
			ms.cur().b.DeleteMeta(sourceIdentPrefix + source)
			if err := ms.commitNow(); err != nil {
				ms.svc.log.Error("jetstream: reset source position", "stream", ms.name, "source", source, "err", err)
			}
		}
	})
}

// notePosition records, in the batch being built, how far a source got.
func (ms *stream) notePosition(r *replIn) {
	if r.mirror || r.source == "" {
		return
	}
	p := ms.cur()
	if p.srcPos == nil {
		p.srcPos = map[string]uint64{}
	}
	p.srcPos[r.source] = max(p.srcPos[r.source], r.originSeq)
}

// writePositions puts the batch's source positions into it, so they
// commit with the messages.
func (ms *stream) writePositions(p *pending) {
	if ms.file == nil {
		return
	}
	for k, v := range p.srcPos {
		p.b.PutMeta(sourceStatePrefix+k, binary.AppendUvarint(nil, v))
	}
}

// positionsCommitted makes a committed batch's positions current.
func (ms *stream) positionsCommitted(p *pending) {
	for k, v := range p.srcPos {
		if ms.srcPos == nil {
			ms.srcPos = map[string]uint64{}
		}
		ms.srcPos[k] = max(ms.srcPos[k], v)
	}
}

// readPositions loads the sources' positions from the stream's file.
func (ms *stream) readPositions() error {
	if ms.file == nil {
		return nil
	}
	err := ms.file.ForEachMeta(sourceStatePrefix, func(k string, v []byte) error {
		if seq, n := binary.Uvarint(v); n > 0 {
			if ms.srcPos == nil {
				ms.srcPos = map[string]uint64{}
			}
			ms.srcPos[k[len(sourceStatePrefix):]] = seq
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ms.file.ForEachMeta(sourceIdentPrefix, func(k string, v []byte) error {
		if ms.srcIdent == nil {
			ms.srcIdent = map[string]string{}
		}
		ms.srcIdent[k[len(sourceIdentPrefix):]] = string(v)
		return nil
	})
}

// replicaInfo fills a STREAM.INFO's mirror and sources from the
// Follower's last report; active is how long ago each last heard from its
// origin, as nats-server reports it.
func (ms *stream) replicaInfo(si *jsapi.StreamInfo) {
	st := ms.replStatus.Load()
	if st == nil {
		return
	}
	if st.mirror != nil {
		m := *st.mirror
		si.Mirror = &m
	}
	for _, s := range st.sources {
		c := *s
		si.Sources = append(si.Sources, &c)
	}
}

// isReplica reports whether cfg mirrors or sources other streams.
func isReplica(cfg *jsapi.StreamConfig) bool { return cfg.Mirror != nil || len(cfg.Sources) > 0 }
