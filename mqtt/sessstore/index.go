package sessstore

import (
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// index is what the store keeps in memory, rebuilt by scan at Open: each
// session's id and, for each queued entry, its Seq and body (16 bytes),
// which is what turns Remove(client, seq) and Update into the entry's key
// (queue keys start with the body, codec.go); and each referenced body's
// count. Only the committer goroutine touches it once Open returns.
type index struct {
	sessions map[string]*sessInfo
	// refs counts, per stored body, the entries that reference it (not
	// Released). A body is stored exactly while it has a count above 0;
	// within a commit a count may touch 0 and rise again before the
	// commit decides (txn.finish).
	refs    map[BodyID]uint32
	entries int
	// nextSid is the next session id to try; wrapped says the ids ran
	// out once and free ones are searched for (allocSid).
	nextSid uint32
	wrapped bool
}

type sessInfo struct {
	sid     uint32
	lastSeq uint64 // highest Seq enqueued (or stored) for the session
	queue   []qent // the stored entries, by Seq
}

// qent is one stored entry in the index: its Seq and body id, with the
// body's top bit (unused by ids, see maxBodyID) set once it is Released.
type qent struct {
	seq  uint64
	body uint64
}

const qentReleased = 1 << 63

func (q qent) id() BodyID     { return BodyID(q.body &^ qentReleased) }
func (q qent) released() bool { return q.body&qentReleased != 0 }

func newQent(e *Entry) qent {
	q := qent{seq: e.Seq, body: uint64(e.Body)}
	if e.Released {
		q.body |= qentReleased
	}
	return q
}

// find returns the position of seq in the queue.
func (s *sessInfo) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(s.queue, seq, func(q qent, seq uint64) int { return cmp.Compare(q.seq, seq) })
}

// allocSid returns an unused session id. Ids are handed out in order; in
// the unlikely case that 2³²-1 sessions were created in one file's
// lifetime, the search wraps around and skips the ids in use.
func (x *index) allocSid() (uint32, error) {
	if !x.wrapped {
		if x.nextSid != 0 {
			sid := x.nextSid
			x.nextSid++
			return sid, nil
		}
		x.wrapped, x.nextSid = true, 1
	}
	used := make(map[uint32]bool, len(x.sessions))
	for _, info := range x.sessions {
		used[info.sid] = true
	}
	for i := uint64(0); i < 1<<32; i++ { // every uint32 once (an int loop overflows on 32-bit ARM)
		sid := x.nextSid
		x.nextSid++
		if sid != 0 && !used[sid] {
			return sid, nil
		}
	}
	return 0, fmt.Errorf("%w: no free session id", ErrInvalid)
}

// scan builds the index from the file and repairs what it finds
// inconsistent (see Open). It runs before the committer starts.
func (s *Store) scan() error {
	x := index{sessions: make(map[string]*sessInfo), refs: make(map[BodyID]uint32), nextSid: 1}
	var (
		bySid          = make(map[uint32]*sessInfo)
		orphanQueue    [][]byte // entries and incoming ids of missing sessions
		orphanIncoming [][]byte
		orphanBodies   [][]byte
		stored         = make(map[BodyID]bool)
		maxBody        BodyID
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			sid, err := decodeSessionKey(k)
			if err != nil {
				return err
			}
			sess, err := decodeSession(v)
			if err != nil {
				return fmt.Errorf("session %d: %w", sid, err)
			}
			if old, dup := x.sessions[sess.ClientID]; dup {
				return corrupt("client %q stored as sessions %d and %d", sess.ClientID, old.sid, sid)
			}
			info := &sessInfo{sid: sid}
			x.sessions[sess.ClientID] = info
			bySid[sid] = info
			x.nextSid = max(x.nextSid, sid+1)
			if sid == ^uint32(0) {
				x.nextSid, x.wrapped = 1, true
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			body, sid, seq, err := decodeQueueKey(k)
			if err != nil {
				return err
			}
			// Released entries keep their body's id: never hand it out
			// again while an entry names it.
			maxBody = max(maxBody, body)
			info, ok := bySid[sid]
			if !ok {
				orphanQueue = append(orphanQueue, append([]byte(nil), k...))
				return nil
			}
			e, err := decodeEntry(body, seq, v)
			if err != nil {
				return fmt.Errorf("session %d: %w", sid, err)
			}
			info.queue = append(info.queue, newQent(&e))
			if !e.Released {
				x.refs[e.Body]++
			}
			x.entries++
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketIncoming).ForEach(func(k, _ []byte) error {
			sid, _, err := decodeIncomingKey(k)
			if err != nil {
				return err
			}
			if _, ok := bySid[sid]; !ok {
				orphanIncoming = append(orphanIncoming, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketBodies).ForEach(func(k, _ []byte) error {
			id, err := decodeBodyKey(k)
			if err != nil {
				return err
			}
			maxBody = max(maxBody, id)
			if x.refs[id] == 0 {
				orphanBodies = append(orphanBodies, append([]byte(nil), k...))
				return nil
			}
			stored[id] = true
			return nil
		})
	})
	if err != nil {
		return err
	}
	// Keys come by body: order each queue by Seq. Entries whose body is
	// missing go: nothing can deliver them.
	var dangling [][]byte
	for sid, info := range bySid {
		slices.SortFunc(info.queue, func(a, b qent) int { return cmp.Compare(a.seq, b.seq) })
		for i := 1; i < len(info.queue); i++ {
			if info.queue[i].seq == info.queue[i-1].seq {
				return corrupt("session %d queues Seq %d twice", sid, info.queue[i].seq)
			}
		}
		info.queue = slices.DeleteFunc(info.queue, func(q qent) bool {
			if q.released() || stored[q.id()] {
				return false
			}
			k := makeQueueKey(q.id(), sid, q.seq)
			dangling = append(dangling, slices.Clone(k.bytes()))
			x.entries--
			return true
		})
		if n := len(info.queue); n > 0 {
			info.lastSeq = info.queue[n-1].seq
		}
	}
	for id := range x.refs {
		if !stored[id] {
			delete(x.refs, id)
		}
	}
	s.idx = x
	s.nextBody.Store(uint64(maxBody))
	if len(orphanQueue)+len(orphanIncoming)+len(orphanBodies)+len(dangling) == 0 {
		return nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, del := range []struct {
			bucket []byte
			keys   [][]byte
		}{{bucketQueue, orphanQueue}, {bucketQueue, dangling}, {bucketIncoming, orphanIncoming}, {bucketBodies, orphanBodies}} {
			b := tx.Bucket(del.bucket)
			for _, k := range del.keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	attrs := []any{"file", s.path, "unreferenced_bodies", len(orphanBodies),
		"entries_without_session", len(orphanQueue), "incoming_without_session", len(orphanIncoming),
		"entries_without_body", len(dangling)}
	if err != nil {
		// The index already leaves them out (the next Open tries again);
		// they only take space.
		s.log.Warn("sessstore: could not delete leftovers at start-up", append(attrs, "err", err)...)
		return nil
	}
	if len(dangling) > 0 {
		s.log.Error("sessstore: queued messages had lost their body and were dropped", attrs...)
	} else {
		s.log.Info("sessstore: deleted leftovers of an interrupted run", attrs...)
	}
	return nil
}
