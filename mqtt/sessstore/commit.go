package sessstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/leafgate/leafgate/store/msgstore"
)

// maxGroupOps bounds the changes one transaction takes, and with them the
// dirty pages it holds in memory; a single larger batch still goes alone.
const maxGroupOps = 1 << 16

// commitLoop is the single writer: it takes every batch waiting at that
// moment and commits them in one transaction (group commit), so one fsync
// covers many acks and nobody waits for a timer.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	group := make([]*request, 0, 64)
	for {
		select {
		case r := <-s.reqs:
			group = s.drain(append(group[:0], r))
			s.commit(group)
			clear(group)
		case <-s.quit:
			// Close: what was applied before it still commits.
			for {
				select {
				case r := <-s.reqs:
					group = s.drain(append(group[:0], r))
					s.commit(group)
					clear(group)
				default:
					return
				}
			}
		}
	}
}

// drain adds the batches waiting now to group, up to maxGroupOps changes.
func (s *Store) drain(group []*request) []*request {
	ops := len(group[0].ops)
	for ops < maxGroupOps {
		select {
		case r := <-s.reqs:
			group = append(group, r)
			ops += len(r.ops)
		default:
			return group
		}
	}
	return group
}

// commit applies a group in one transaction and reports to every batch.
// A group of batches that only remove or rewrite and that found the disk
// full is tried once more with the space reserve released.
func (s *Store) commit(group []*request) {
	ops := 0
	for _, r := range group {
		ops += len(r.ops)
	}
	if ops == 0 {
		// Nothing to write: the batches before these are done already.
		for _, r := range group {
			r.done(nil)
		}
		return
	}
	errs := make([]error, len(group))
	err := s.commitGroup(group, errs)
	usedReserve := false
	if err != nil && msgstore.IsNoSpace(err) && s.reserve != nil && groupShrinks(group, errs) {
		freed, rerr := s.reserve.Release()
		switch {
		case rerr != nil:
			s.log.Error("sessstore: disk full and the space reserve could not be released", "file", s.path, "err", rerr)
		case freed > 0:
			usedReserve = true
			s.log.Warn("sessstore: disk full; the space reserve is released so that acks and session deletes can commit",
				"file", s.path, "bytes", freed)
			err = s.commitGroup(group, errs)
		}
	}
	var freed int64 // bytes of pages the commit gave back
	if err == nil {
		n := int64(0)
		for _, e := range errs {
			if e == nil {
				n++
			}
		}
		before := s.Stats()
		s.publishStats(1, n)
		after := s.Stats()
		freed = (before.FileSize - before.FileFree) - (after.FileSize - after.FileFree)
	}
	for i, r := range group {
		switch {
		case errs[i] != nil:
			r.done(errs[i])
		case err != nil:
			r.done(fmt.Errorf("sessstore: commit: %w", err))
		default:
			r.done(nil)
		}
	}
	if err == nil && (freed > 0 || usedReserve) {
		spent := s.maybeCompact(freed, usedReserve)
		if s.reserve != nil {
			s.refillReserve(usedReserve || spent)
		}
	}
}

// groupShrinks reports whether the batches still in the group only
// remove or rewrite: those may spend the space reserve.
func groupShrinks(group []*request, errs []error) bool {
	for i, r := range group {
		if errs[i] == nil && !onlyShrinks(r.ops) {
			return false
		}
	}
	return true
}

// ruleError is a batch breaking a rule (ErrNoSession, …): that batch
// fails alone, and the group is run again without it.
type ruleError struct {
	batch int
	err   error
}

func (e *ruleError) Error() string { return e.err.Error() }

// commitGroup runs one write transaction for the batches of group that
// have no error in errs. A batch breaking a rule gets its error in errs
// and the transaction starts over without it; any other error fails the
// transaction and is returned. The index is changed only if it commits.
func (s *Store) commitGroup(group []*request, errs []error) error {
	t := &s.txn
	for {
		t.begin(&s.idx)
		err := s.update(func(tx *bolt.Tx) error {
			t.bind(tx)
			for i, r := range group {
				if errs[i] != nil {
					continue
				}
				if err := t.apply(r.ops); err != nil {
					var re *ruleError
					if errors.As(err, &re) {
						re.batch = i
					}
					return err
				}
			}
			if err := t.finish(); err != nil {
				return err
			}
			if s.beforeCommit != nil {
				return s.beforeCommit()
			}
			return nil
		})
		if err == nil {
			t.end()
			return nil
		}
		t.rollback()
		var re *ruleError
		if !errors.As(err, &re) {
			return err
		}
		errs[re.batch] = fmt.Errorf("sessstore: %w", re.err)
	}
}

// update runs fn in a write transaction on the current file.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return errUnavailable
	}
	return s.db.Update(fn)
}

var errUnavailable = errors.New("sessstore: store file unavailable after a failed compaction")

// txn applies batches to a write transaction and to the index together,
// logging the index's old values so that a transaction that fails leaves
// the index as it was. The committer owns it and reuses its buffers.
type txn struct {
	x                                      *index
	sessB, queueB, incomingB, bodyB, metaB *bolt.Bucket

	undo    []undo
	entries int    // x.entries at begin
	nextSid uint32 // x.nextSid at begin
	wrapped bool

	// touched lists the bodies added in this transaction or whose count
	// fell to 0: finish stores or deletes them.
	touched []BodyID
	pending map[BodyID][]byte // bodies added, not yet written
	// arena holds entry records: bbolt keeps Put values until the
	// transaction ends, so it only grows within one.
	arena []byte
	ikeys [][incomingKeyLen]byte // scratch for prefix deletes
}

type undoKind uint8

const (
	undoSession undoKind = iota // client's *sessInfo was info (nil: none)
	undoLastSeq                 // info.lastSeq was seq
	undoAppend                  // info.queue grew by one
	undoDelete                  // q was removed from info.queue at pos
	undoSet                     // info.queue[pos] was q
	undoRef                     // refs[body] was refs (had: present)
)

type undo struct {
	kind   undoKind
	had    bool
	client string
	info   *sessInfo
	pos    int
	q      qent
	body   BodyID
	refs   uint32
}

func (t *txn) begin(x *index) {
	t.x = x
	t.entries, t.nextSid, t.wrapped = x.entries, x.nextSid, x.wrapped
	t.undo, t.touched, t.arena = t.undo[:0], t.touched[:0], t.arena[:0]
	if t.pending == nil {
		t.pending = make(map[BodyID][]byte)
	}
	clear(t.pending)
}

func (t *txn) bind(tx *bolt.Tx) {
	t.sessB = tx.Bucket(bucketSessions)
	t.queueB = tx.Bucket(bucketQueue)
	t.incomingB = tx.Bucket(bucketIncoming)
	t.bodyB = tx.Bucket(bucketBodies)
	t.metaB = tx.Bucket(bucketMeta)
	// Body and session ids only grow, and queue keys start with the body
	// id: fill pages before splitting them (half the pages of bbolt's
	// default for appends). A record that grows later splits its page
	// once.
	t.bodyB.FillPercent = 1.0
	t.sessB.FillPercent = 1.0
	t.queueB.FillPercent = 1.0
}

// end forgets the undo log after a commit.
func (t *txn) end() {
	clear(t.undo)
	clear(t.pending)
	t.arena = t.arena[:0]
	if cap(t.arena) > 1<<20 {
		t.arena = nil // one huge group must not pin its arena forever
	}
}

// rollback puts the index back as it was at begin.
func (t *txn) rollback() {
	x := t.x
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := &t.undo[i]
		switch u.kind {
		case undoSession:
			if u.info != nil {
				x.sessions[u.client] = u.info
			} else {
				delete(x.sessions, u.client)
			}
		case undoLastSeq:
			u.info.lastSeq = u.q.seq
		case undoAppend:
			u.info.queue = u.info.queue[:len(u.info.queue)-1]
		case undoDelete:
			u.info.queue = slices.Insert(u.info.queue, u.pos, u.q)
		case undoSet:
			u.info.queue[u.pos] = u.q
		case undoRef:
			if u.had {
				x.refs[u.body] = u.refs
			} else {
				delete(x.refs, u.body)
			}
		}
	}
	x.entries, x.nextSid, x.wrapped = t.entries, t.nextSid, t.wrapped
	t.end()
}

func (t *txn) setSession(client string, info *sessInfo) {
	t.undo = append(t.undo, undo{kind: undoSession, client: client, info: t.x.sessions[client]})
	if info == nil {
		delete(t.x.sessions, client)
	} else {
		t.x.sessions[client] = info
	}
}

func (t *txn) setRef(id BodyID, n uint32) {
	old, had := t.x.refs[id]
	t.undo = append(t.undo, undo{kind: undoRef, had: had, body: id, refs: old})
	t.x.refs[id] = n
}

// decRef drops one reference to id; a body at 0 is decided by finish.
func (t *txn) decRef(id BodyID) {
	n := t.x.refs[id]
	if n == 0 {
		return // cannot happen: the index counts what it holds
	}
	t.setRef(id, n-1)
	if n == 1 {
		t.touched = append(t.touched, id)
	}
}

// removeAt drops info.queue[pos] from the index.
func (t *txn) removeAt(info *sessInfo, pos int) {
	t.undo = append(t.undo, undo{kind: undoDelete, info: info, pos: pos, q: info.queue[pos]})
	info.queue = slices.Delete(info.queue, pos, pos+1)
	if c := cap(info.queue); c > 64 && len(info.queue) < c/4 {
		info.queue = slices.Clip(slices.Clone(info.queue)) // a drained backlog gives its memory back
	}
	t.x.entries--
}

func rule(err error) error { return &ruleError{err: err} }

// apply writes one batch's changes.
func (t *txn) apply(ops []op) error {
	for i := range ops {
		o := &ops[i]
		var err error
		switch o.kind {
		case opPutSession:
			err = t.putSession(o)
		case opDeleteSession:
			err = t.deleteSession(o.client)
		case opAddBody:
			t.setRef(o.e.Body, 0)
			t.pending[o.e.Body] = o.data
			t.touched = append(t.touched, o.e.Body)
		case opEnqueue:
			err = t.enqueue(o)
		case opUpdate:
			err = t.update(o)
		case opRemove:
			err = t.remove(o)
		case opAddIncoming:
			info := t.x.sessions[o.client]
			if info == nil {
				return rule(fmt.Errorf("%w: incoming QoS 2 id for %q", ErrNoSession, o.client))
			}
			k := incomingKey(info.sid, o.pid)
			err = t.incomingB.Put(k[:], []byte{})
		case opPutMark:
			err = t.metaB.Put(markKey(o.client, string(o.data)), binary.AppendUvarint(nil, o.e.Seq))
		case opRemoveIncoming:
			if info := t.x.sessions[o.client]; info != nil {
				k := incomingKey(info.sid, o.pid)
				err = t.incomingB.Delete(k[:])
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) putSession(o *op) error {
	info := t.x.sessions[o.client]
	if info == nil {
		sid, err := t.x.allocSid()
		if err != nil {
			return rule(err)
		}
		info = &sessInfo{sid: sid}
		t.setSession(o.client, info)
	}
	k := sessionKey(info.sid)
	return t.sessB.Put(k[:], o.data)
}

func (t *txn) enqueue(o *op) error {
	info := t.x.sessions[o.client]
	switch {
	case info == nil:
		return rule(fmt.Errorf("%w: enqueue for %q", ErrNoSession, o.client))
	case o.e.Seq <= info.lastSeq:
		return rule(fmt.Errorf("%w: enqueue %d for %q after %d", ErrSeqOrder, o.e.Seq, o.client, info.lastSeq))
	}
	if !o.e.Released {
		n, stored := t.x.refs[o.e.Body]
		if !stored {
			return rule(fmt.Errorf("%w: body %d enqueued for %q", ErrUnknownBody, o.e.Body, o.client))
		}
		t.setRef(o.e.Body, n+1)
	}
	start := len(t.arena)
	t.arena = appendEntry(t.arena, &o.e)
	k := makeQueueKey(o.e.Body, info.sid, o.e.Seq)
	if err := t.queueB.Put(k.bytes(), t.arena[start:len(t.arena):len(t.arena)]); err != nil {
		return err
	}
	t.undo = append(t.undo, undo{kind: undoLastSeq, info: info, q: qent{seq: info.lastSeq}}, undo{kind: undoAppend, info: info})
	info.lastSeq = o.e.Seq
	info.queue = append(info.queue, newQent(&o.e)) // Seq above all: the end
	t.x.entries++
	return nil
}

// stored finds the client's entry seq in the index.
func (t *txn) stored(client string, seq uint64) (*sessInfo, int, bool) {
	info := t.x.sessions[client]
	if info == nil {
		return nil, 0, false
	}
	pos, ok := info.find(seq)
	return info, pos, ok
}

func (t *txn) update(o *op) error {
	info, pos, ok := t.stored(o.client, o.e.Seq)
	if !ok {
		return nil
	}
	q := info.queue[pos]
	k := makeQueueKey(q.id(), info.sid, q.seq)
	v := t.queueB.Get(k.bytes())
	if v == nil {
		return fmt.Errorf("session %q entry %d: %w: in the index, not in the file", o.client, q.seq, ErrCorrupt)
	}
	e, err := decodeEntry(q.id(), q.seq, v)
	if err != nil {
		return rule(fmt.Errorf("session %q: %w", o.client, err))
	}
	e.PacketID, e.Flags = o.e.PacketID, o.e.Flags
	if o.e.Released && !e.Released {
		if e.QoS != 2 {
			return rule(fmt.Errorf("%w: entry %d of %q released at QoS %d", ErrInvalid, e.Seq, o.client, e.QoS))
		}
		e.Released = true
		t.undo = append(t.undo, undo{kind: undoSet, info: info, pos: pos, q: q})
		info.queue[pos] = newQent(&e)
		t.decRef(e.Body)
	}
	start := len(t.arena)
	t.arena = appendEntry(t.arena, &e)
	return t.queueB.Put(k.bytes(), t.arena[start:len(t.arena):len(t.arena)])
}

func (t *txn) remove(o *op) error {
	info, pos, ok := t.stored(o.client, o.e.Seq)
	if !ok {
		return nil
	}
	q := info.queue[pos]
	k := makeQueueKey(q.id(), info.sid, q.seq)
	if err := t.queueB.Delete(k.bytes()); err != nil {
		return err
	}
	if !q.released() {
		t.decRef(q.id())
	}
	t.removeAt(info, pos)
	return nil
}

// deleteSession removes a session with its queue and incoming ids.
func (t *txn) deleteSession(client string) error {
	if err := t.deleteMarks(client); err != nil {
		return err
	}
	info := t.x.sessions[client]
	if info == nil {
		return nil
	}
	for _, q := range info.queue {
		k := makeQueueKey(q.id(), info.sid, q.seq)
		if err := t.queueB.Delete(k.bytes()); err != nil {
			return err
		}
		if !q.released() {
			t.decRef(q.id())
		}
	}
	t.x.entries -= len(info.queue)
	prefix := sessionKey(info.sid)
	// Keys are collected in chunks and then deleted: deleting under an
	// iterating bbolt cursor can skip keys.
	for {
		t.ikeys = t.ikeys[:0]
		c := t.incomingB.Cursor()
		for k, _ := c.Seek(prefix[:]); k != nil && hasPrefix(k, prefix[:]) && len(t.ikeys) < 1024; k, _ = c.Next() {
			if _, _, err := decodeIncomingKey(k); err != nil {
				return rule(fmt.Errorf("session %q: %w", client, err))
			}
			t.ikeys = append(t.ikeys, [incomingKeyLen]byte(k))
		}
		if len(t.ikeys) == 0 {
			break
		}
		for i := range t.ikeys {
			if err := t.incomingB.Delete(t.ikeys[i][:]); err != nil {
				return err
			}
		}
	}
	if err := t.sessB.Delete(prefix[:]); err != nil {
		return err
	}
	// The old info, queue included, stays untouched for a rollback.
	t.setSession(client, nil)
	return nil
}

// finish stores the bodies added in this transaction that entries
// reference, and deletes those nobody references any more.
func (t *txn) finish() error {
	slices.Sort(t.touched)
	t.touched = slices.Compact(t.touched)
	for _, id := range t.touched {
		n, ok := t.x.refs[id]
		if !ok {
			continue
		}
		k := bodyKey(id)
		data, isNew := t.pending[id]
		if n > 0 {
			if isNew {
				if err := t.bodyB.Put(k[:], data); err != nil {
					return err
				}
			}
			continue
		}
		t.undo = append(t.undo, undo{kind: undoRef, had: true, body: id, refs: 0})
		delete(t.x.refs, id)
		if isNew {
			continue // added and released in one go: never written
		}
		if err := t.bodyB.Delete(k[:]); err != nil {
			return err
		}
	}
	return nil
}

// Marks (router.Mark) live in the meta bucket, keyed by client and
// publisher: "mk/" client NUL key.
const markPrefix = "mk/"

func markKey(client, key string) []byte {
	return []byte(markPrefix + client + "\x00" + key)
}

// deleteMarks removes a client's marks.
func (t *txn) deleteMarks(client string) error {
	prefix := []byte(markPrefix + client + "\x00")
	var keys [][]byte
	c := t.metaB.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := t.metaB.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
