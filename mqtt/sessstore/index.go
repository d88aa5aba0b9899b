package sessstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// index is what the store keeps in memory to write compact keys and to
// know when a body is garbage, rebuilt by scan at Open. Only the
// committer goroutine touches it once Open returns. It costs, per
// session, one map entry (client id, session id, last sequence) and, per
// referenced body, one map entry: nothing per queued entry.
type index struct {
	sessions map[string]sessInfo
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
	for range 1 << 32 {
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
	x := index{sessions: make(map[string]sessInfo), refs: make(map[BodyID]uint32), nextSid: 1}
	var (
		bySid          = make(map[uint32]string)
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
			x.sessions[sess.ClientID] = sessInfo{sid: sid}
			bySid[sid] = sess.ClientID
			x.nextSid = max(x.nextSid, sid+1)
			if sid == ^uint32(0) {
				x.nextSid, x.wrapped = 1, true
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			sid, seq, err := decodeQueueKey(k)
			if err != nil {
				return err
			}
			client, ok := bySid[sid]
			if !ok {
				orphanQueue = append(orphanQueue, append([]byte(nil), k...))
				return nil
			}
			e, err := decodeEntry(seq, v)
			if err != nil {
				return fmt.Errorf("session %q: %w", client, err)
			}
			info := x.sessions[client]
			info.lastSeq = seq // keys come in order
			x.sessions[client] = info
			if !e.Released {
				x.refs[e.Body]++
			}
			// Released entries keep their body's id: never hand it out
			// again while an entry names it.
			maxBody = max(maxBody, e.Body)
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
	// Entries whose body is missing: nothing can deliver them.
	var dangling [][]byte
	missing := false
	for id := range x.refs {
		missing = missing || !stored[id]
	}
	if missing {
		err := s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
				sid, seq, _ := decodeQueueKey(k)
				if _, ok := bySid[sid]; !ok {
					return nil
				}
				e, _ := decodeEntry(seq, v) // decoded once above
				if !e.Released && !stored[e.Body] {
					dangling = append(dangling, append([]byte(nil), k...))
					x.entries--
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		for id := range x.refs {
			if !stored[id] {
				delete(x.refs, id)
			}
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
		// The index already leaves them out; they only take space.
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
