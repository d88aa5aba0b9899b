package sessstore

import "fmt"

// Batch collects changes applied atomically in one transaction, in the
// order they were added. Get one from Store.NewBatch: AddBody allocates
// body ids from its store. A Batch is not safe for concurrent use; after
// Apply returns, the caller may Reset and reuse it.
type Batch struct {
	s   *Store
	ops []op
	err error // the first invalid change; Apply fails the batch with it
}

type opKind uint8

const (
	opPutSession opKind = iota + 1
	opDeleteSession
	opAddBody
	opEnqueue
	opUpdate
	opRemove
	opAddIncoming
	opRemoveIncoming
	opPutMark
)

// op is one change. data (an encoded session, a body) is a slice the
// batch owns alone and never writes again, so Apply copies only the ops:
// bbolt may keep the slice until its transaction ends.
type op struct {
	kind   opKind
	pid    uint16
	client string
	e      Entry  // Enqueue, Update; Remove uses e.Seq; AddBody uses e.Body; PutMark uses e.Seq
	data   []byte // PutMark: the mark's key
}

// PutSession stores sess (a copy of it), replacing the stored one of the
// same ClientID. The first PutSession of a client gives it a session id.
func (b *Batch) PutSession(sess *Session) {
	if err := checkSession(sess); err != nil {
		b.fail(err)
		return
	}
	b.ops = append(b.ops, op{kind: opPutSession, client: sess.ClientID, data: appendSession(nil, sess)})
}

// PutMark records, with the client's session, the last position of a
// replaying publisher (router.Mark) it stored: key names the publisher,
// seq is its position. DeleteSession removes the client's marks.
func (b *Batch) PutMark(clientID, key string, seq uint64) {
	b.ops = append(b.ops, op{kind: opPutMark, client: clientID, e: Entry{Seq: seq}, data: []byte(key)})
}

// DeleteSession removes a client's session, its queue, its incoming QoS 2
// packet ids and its references to bodies. A client without a stored
// session is no error.
func (b *Batch) DeleteSession(clientID string) {
	b.ops = append(b.ops, op{kind: opDeleteSession, client: clientID})
}

// AddBody stores a copy of body and returns its id, to Enqueue in the
// same batch (or any later one while the body is referenced). A body that
// no entry references when its batch commits is not stored.
func (b *Batch) AddBody(body []byte) BodyID {
	if b.s == nil {
		panic("sessstore: AddBody on a Batch not made by Store.NewBatch")
	}
	id := BodyID(b.s.nextBody.Add(1))
	b.ops = append(b.ops, op{kind: opAddBody, e: Entry{Body: id}, data: append(make([]byte, 0, len(body)), body...)})
	return id
}

// Enqueue appends e to the client's queue. Its Seq must be above every
// Seq enqueued to this session before, and its Body stored (or added in
// this batch); unless e.Released, the entry references the body.
func (b *Batch) Enqueue(clientID string, e Entry) {
	if err := checkEntry(&e); err != nil {
		b.fail(fmt.Errorf("enqueue for %q: %w", clientID, err))
		return
	}
	b.ops = append(b.ops, op{kind: opEnqueue, client: clientID, e: e})
}

// Update changes the PacketID, Flags and Released of the stored entry
// e.Seq; its Body and QoS stay what they were. Released, once set,
// stays: the entry then no longer references its body. An entry that is
// not there (removed, or its session deleted) is no error.
func (b *Batch) Update(clientID string, e Entry) {
	b.ops = append(b.ops, op{kind: opUpdate, client: clientID, e: e})
}

// Remove drops the client's entry seq; a body nobody references any more
// is deleted. An entry that is not there is no error.
func (b *Batch) Remove(clientID string, seq uint64) {
	b.ops = append(b.ops, op{kind: opRemove, client: clientID, e: Entry{Seq: seq}})
}

// AddIncoming records that the client's inbound QoS 2 PUBLISH packetID
// was received (PUBREC sent), so a redelivery after a restart is not
// forwarded again. The session must be stored.
func (b *Batch) AddIncoming(clientID string, packetID uint16) {
	if packetID == 0 {
		b.fail(fmt.Errorf("%w: incoming packet id 0 for %q", ErrInvalid, clientID))
		return
	}
	b.ops = append(b.ops, op{kind: opAddIncoming, client: clientID, pid: packetID})
}

// RemoveIncoming forgets an inbound QoS 2 packet id (PUBREL received).
func (b *Batch) RemoveIncoming(clientID string, packetID uint16) {
	b.ops = append(b.ops, op{kind: opRemoveIncoming, client: clientID, pid: packetID})
}

// Len is the number of changes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch for reuse (it stays bound to its store).
func (b *Batch) Reset() {
	clear(b.ops) // drop references to bodies and strings
	b.ops, b.err = b.ops[:0], nil
}

func (b *Batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// onlyShrinks reports whether ops remove or rewrite and add nothing: a
// group of such batches may spend the space reserve on a full disk.
// Update counts: it rewrites an entry in place, and a QoS 2 flow must be
// able to finish so that its entry can go.
func onlyShrinks(ops []op) bool {
	for i := range ops {
		switch ops[i].kind {
		case opPutSession, opAddBody, opEnqueue, opAddIncoming, opPutMark:
			return false
		}
	}
	return true
}
