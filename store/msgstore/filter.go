package msgstore

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/leafgate/leafgate/leaf/subject"
)

// A filtered read walks the messages from a sequence and skips those on
// other subjects. When the filter is sparse, that walk could run to the
// end of the stream on every pull. So after sparseProbe misses the walk
// asks the subject table for the highest last sequence among matching
// subjects and stops there; if that is behind the walk, nothing further
// matches. The subject table is read once per call, and only from the
// filter's literal prefix on.
const sparseProbe = 64

// filterWalk is one filtered walk over a stream's messages.
type filterWalk struct {
	filter string
	all    bool // no filtering: ">" or ""
	subjs  *bolt.Bucket
	misses int
	limit  uint64 // no match above this sequence, once bounded
}

func newFilterWalk(filter string, subjs *bolt.Bucket) *filterWalk {
	return &filterWalk{filter: filter, all: filter == "" || filter == ">", subjs: subjs, limit: ^uint64(0)}
}

// match reports whether the record at seq matches; done means no later
// record can match.
func (w *filterWalk) match(seq uint64, rec []byte) (ok, done bool, err error) {
	if seq > w.limit {
		return false, true, nil
	}
	if w.all {
		return true, false, nil
	}
	_, subj, err := recordSubject(rec)
	if err != nil {
		return false, false, err
	}
	if subject.Matches(w.filter, string(subj)) {
		return true, false, nil
	}
	if w.misses++; w.misses == sparseProbe {
		w.limit = lastMatching(w.subjs, w.filter)
		if seq >= w.limit {
			return false, true, nil
		}
	}
	return false, false, nil
}

// walkMatching calls fn with each stored record from start on whose
// subject matches filter, in sequence order, until fn returns false or an
// error, or no later record can match.
func walkMatching(msgs, subjs *bolt.Bucket, filter string, start uint64, fn func(seq uint64, rec []byte) (more bool, err error)) error {
	w := newFilterWalk(filter, subjs)
	c := msgs.Cursor()
	for k, v := c.Seek(seqKey(start)); k != nil; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		ok, done, err := w.match(seq, v)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if !ok {
			continue
		}
		if more, err := fn(seq, v); err != nil || !more {
			return err
		}
	}
	return nil
}

// literalPrefix is the part of a filter before its first wildcard token.
func literalPrefix(filter string) string {
	for i := 0; i < len(filter); i++ {
		if (filter[i] == '*' || filter[i] == '>') && (i == 0 || filter[i-1] == '.') &&
			(i+1 == len(filter) || filter[i+1] == '.') {
			return filter[:i]
		}
	}
	return filter
}

// forMatching calls fn for every subject in the table matching filter,
// reading only keys that start with the filter's literal prefix.
func forMatching(subjs *bolt.Bucket, filter string, fn func(subj []byte, count, last uint64)) {
	prefix := []byte(literalPrefix(filter))
	literal := len(prefix) == len(filter)
	c := subjs.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if literal && len(k) != len(prefix) {
			break
		}
		if len(v) != 16 || !subject.Matches(filter, string(k)) {
			continue
		}
		fn(k, binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:]))
	}
}

// lastMatching is the highest last sequence of a subject matching filter,
// 0 when none matches.
func lastMatching(subjs *bolt.Bucket, filter string) (last uint64) {
	forMatching(subjs, filter, func(_ []byte, _, l uint64) { last = max(last, l) })
	return last
}

// countMatching is how many stored messages match filter.
func countMatching(subjs *bolt.Bucket, filter string) (n uint64) {
	forMatching(subjs, filter, func(_ []byte, count, _ uint64) { n += count })
	return n
}
