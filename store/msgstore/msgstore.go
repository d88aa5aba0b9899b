// Package msgstore stores one JetStream stream's messages: appended in
// sequence order, loaded by sequence or by subject, removed individually or
// by range. Two implementations share one interface and one conformance
// suite (storetest): Bolt, on a bbolt file shared by all streams with group
// commit, and Memory.
//
// Durability contract: Apply calls done only after the batch is on stable
// storage (for Bolt: after the bbolt transaction, including its fdatasync,
// has committed). Callers acknowledge to clients from done, never before.
//
// The store knows nothing about stream limits, deduplication or consumers:
// the stream layer decides what to append and what to remove.
package msgstore

import (
	"errors"
	"fmt"
)

// Msg is a stored message.
type Msg struct {
	Seq     uint64
	Subject string
	Header  []byte
	Data    []byte
	Time    int64 // unix nanoseconds
}

// Size is the bytes a message counts for in stream state and limits, as
// nats-server's memory store counts them.
func (m *Msg) Size() uint64 {
	return uint64(len(m.Subject) + len(m.Header) + len(m.Data) + 16)
}

// FileSize is the bytes a message counts for in a file-backed stream, as
// nats-server's file store counts them (its record overhead), so limits
// and reported bytes agree with nats-server for the same messages.
func (m *Msg) FileSize() uint64 {
	n := 22 + len(m.Subject) + len(m.Data) + 8
	if len(m.Header) > 0 {
		n += 4 + len(m.Header)
	}
	return uint64(n)
}

// State summarises the stored messages. FirstSeq is the lowest stored
// sequence, or LastSeq+1 when the store is empty; LastSeq is the highest
// sequence ever appended (removals do not lower it).
type State struct {
	Msgs      uint64
	Subjects  uint64 // distinct subjects with messages
	Bytes     uint64
	FirstSeq  uint64
	LastSeq   uint64
	FirstTime int64
	LastTime  int64
}

// SubjectState is what the store holds for one literal subject.
type SubjectState struct {
	Msgs uint64
	Last uint64 // sequence of the newest message on the subject, 0 if none
}

// Errors the stream layer branches on.
var (
	ErrNotFound   = errors.New("msgstore: no message found")
	ErrClosed     = errors.New("msgstore: store closed")
	ErrOutOfOrder = errors.New("msgstore: sequence out of order")
)

// Store is one stream's messages. Its methods are safe for concurrent use.
type Store interface {
	// Apply makes b's changes atomically and durably, then calls done
	// with nil or the error that kept them from being applied. done may
	// run before Apply returns (Memory) or later on the store's committer
	// goroutine (Bolt), so it must not block or take locks held around
	// Apply. Batches applied to one store complete in order.
	Apply(b *Batch, done func(error))
	// Load returns the message with sequence seq, or ErrNotFound.
	Load(seq uint64) (Msg, error)
	// LoadNext returns the first message with sequence >= start whose
	// subject matches filter (a pattern; "" or ">" matches all), or
	// ErrNotFound.
	LoadNext(filter string, start uint64) (Msg, error)
	// LoadBatch returns up to max messages with sequence >= start whose
	// subject matches filter, in order, read together (one transaction).
	LoadBatch(filter string, start uint64, max int) ([]Msg, error)
	// LoadLast returns the newest message on a literal subject, or
	// ErrNotFound.
	LoadLast(subject string) (Msg, error)
	// Count is how many messages with sequence >= start match filter
	// ("" or ">" for all).
	Count(filter string, start uint64) uint64
	// LastSeqs returns, in ascending order, the newest sequence of every
	// literal subject matching filter that has one at or after start.
	LastSeqs(filter string, start uint64) []uint64
	// Subjects returns the state of every literal subject matching filter.
	Subjects(filter string) map[string]SubjectState
	// IndexScan returns, in order, up to n keys of the stream's index that
	// start with prefix (n < 0: all of them).
	IndexScan(prefix []byte, n int) [][]byte
	// State summarises the durable contents.
	State() State
	// SubjectState reports a literal subject's message count and newest
	// sequence.
	SubjectState(subject string) SubjectState
	// Close releases the store; later calls return ErrClosed.
	Close() error
}

// Batch is a list of changes applied together by Store.Apply.
type Batch struct {
	ops  []op
	meta MetaBatch
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opRemove
	opRemoveRange
	opSkip
	opIndexPut
	opIndexDelete
)

type op struct {
	kind        opKind
	msg         Msg
	first, last uint64
	key         []byte
}

// Append adds a message. Its Seq must be greater than every sequence
// appended before (gaps are allowed: a stream may start at first_seq).
func (b *Batch) Append(m Msg) { b.ops = append(b.ops, op{kind: opAppend, msg: m}) }

// Remove deletes one message; removing a missing one is not an error.
func (b *Batch) Remove(seq uint64) { b.ops = append(b.ops, op{kind: opRemove, first: seq}) }

// RemoveRange deletes every message with first <= seq <= last.
func (b *Batch) RemoveRange(first, last uint64) {
	b.ops = append(b.ops, op{kind: opRemoveRange, first: first, last: last})
}

// Skip moves the last sequence to seq without storing a message, when seq
// is beyond it: a stream that starts at first_seq, or a purge up to a
// sequence not yet used. Later appends must be greater than seq.
func (b *Batch) Skip(seq uint64) { b.ops = append(b.ops, op{kind: opSkip, first: seq}) }

// IndexPut adds key to the stream's ordered index: keys the stream layer
// keeps beside its messages and changes in the same transaction (message
// expiry times, for one).
func (b *Batch) IndexPut(key []byte) { b.ops = append(b.ops, op{kind: opIndexPut, key: key}) }

// IndexDelete removes key from the stream's index.
func (b *Batch) IndexDelete(key []byte) { b.ops = append(b.ops, op{kind: opIndexDelete, key: key}) }

// PutMeta sets a metadata key of the store's file (see Bolt.ForEachMeta)
// in the same transaction as the batch's messages: state that must change
// atomically with them, such as a consumer's acks and the work-queue
// removals they cause. Memory keeps no metadata (nothing of it outlives
// the process anyway) and ignores it.
func (b *Batch) PutMeta(key string, val []byte) { b.meta.Put(key, val) }

// DeleteMeta removes a metadata key in the batch's transaction.
func (b *Batch) DeleteMeta(key string) { b.meta.Delete(key) }

// Len is the number of changes in the batch.
func (b *Batch) Len() int { return len(b.ops) + b.meta.Len() }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.ops, b.meta = b.ops[:0], MetaBatch{} }

// checkOrder validates appends against the last sequence before applying
// anything, so a bad batch changes nothing.
func (b *Batch) checkOrder(last uint64) error {
	for _, o := range b.ops {
		if o.kind == opSkip {
			last = max(last, o.first)
			continue
		}
		if o.kind != opAppend {
			continue
		}
		if o.msg.Seq <= last {
			return fmt.Errorf("append seq %d after %d: %w", o.msg.Seq, last, ErrOutOfOrder)
		}
		last = o.msg.Seq
	}
	return nil
}

// skip applies a Skip to st.
func (st *State) skip(seq uint64) {
	if seq <= st.LastSeq {
		return
	}
	st.LastSeq = seq
	if st.Msgs == 0 {
		st.FirstSeq, st.FirstTime = seq+1, 0
	}
}

// check reports a state that appends, removals and skips cannot produce:
// an empty stream starts right after its last sequence and holds no
// bytes or subjects; a non-empty one holds no more messages than its
// sequence range and no more subjects than messages.
func (st *State) check() error {
	if st.Msgs == 0 {
		if st.Bytes != 0 || st.Subjects != 0 {
			return fmt.Errorf("empty with %d bytes and %d subjects", st.Bytes, st.Subjects)
		}
		if st.FirstSeq != st.LastSeq+1 {
			return fmt.Errorf("empty with first sequence %d after last %d", st.FirstSeq, st.LastSeq)
		}
		return nil
	}
	if st.FirstSeq == 0 || st.FirstSeq > st.LastSeq {
		return fmt.Errorf("first sequence %d, last %d", st.FirstSeq, st.LastSeq)
	}
	if span := st.LastSeq - st.FirstSeq; st.Msgs-1 > span {
		return fmt.Errorf("%d messages in sequences %d..%d", st.Msgs, st.FirstSeq, st.LastSeq)
	}
	if st.Subjects == 0 || st.Subjects > st.Msgs {
		return fmt.Errorf("%d subjects for %d messages", st.Subjects, st.Msgs)
	}
	return nil
}
