package jetstream

import (
	"encoding/json"
	"fmt"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// recover loads every persisted stream and durable consumer. It reads
// definitions and consumer positions only, never messages, so start-up
// does not grow with what is stored.
func (s *Service) recover() error {
	var streams []storedStream
	err := s.db.ForEachMeta("s/", func(k string, v []byte) error {
		var ss storedStream
		if err := json.Unmarshal(v, &ss); err != nil {
			return fmt.Errorf("stream definition %q: %w", k, err)
		}
		streams = append(streams, ss)
		return nil
	})
	if err != nil {
		return fmt.Errorf("jetstream: recover: %w", err)
	}
	for _, ss := range streams {
		file, bs, err := s.openStreamFile(ss.Config.Name)
		if err != nil {
			return fmt.Errorf("jetstream: recover stream %q: %w", ss.Config.Name, err)
		}
		if err := indexSubjects(bs, ss.Config); err != nil {
			_ = file.Close()
			return fmt.Errorf("jetstream: recover stream %q: %w", ss.Config.Name, err)
		}
		st, err := s.newStream(ss.Config, ss.Created, bs)
		if err != nil {
			_ = file.Close()
			return fmt.Errorf("jetstream: recover stream %q: %w", ss.Config.Name, err)
		}
		st.file = file
		st.rebuildDedup()
		if err := st.readPositions(); err != nil {
			return fmt.Errorf("jetstream: recover stream %q: %w", st.name, err)
		}
		if err := s.recoverConsumers(st); err != nil {
			return err
		}
		s.mu.Lock()
		s.streams[st.name] = st
		s.mu.Unlock()
		if err := st.start(); err != nil {
			return fmt.Errorf("jetstream: recover stream %q: %w", st.name, err)
		}
		s.follow(st)
		s.log.Debug("jetstream: recovered stream", "stream", st.name, "messages", bs.State().Msgs, "consumers", len(st.consumers))
	}
	return nil
}

// recoverConsumers loads a stream's consumers, durable and ephemeral, from
// the stream's file. Consumers that an older leafgate kept in
// jetstream.db are moved into the stream's file first.
func (s *Service) recoverConsumers(st *stream) error {
	if st.file == nil {
		return nil // memory streams keep no consumers
	}
	defs, states, err := readConsumers(st.file, consumerPrefix, consumerStatePrefix)
	if err != nil {
		return fmt.Errorf("jetstream: recover stream %q: %w", st.name, err)
	}
	if err := s.moveLegacyConsumers(st, defs, states); err != nil {
		return fmt.Errorf("jetstream: recover stream %q: %w", st.name, err)
	}
	for _, name := range sortedNames(defs) {
		sc := defs[name]
		c := st.newConsumer(name, sc.Config, sc.Created)
		if state := states[name]; state == nil {
			c.setStart()
		} else if err := c.decodeState(state); err != nil {
			return fmt.Errorf("jetstream: recover consumer %s/%s: %w", st.name, name, err)
		}
		c.lastActive = s.now()
		if sc.Config.PauseUntil != nil {
			c.pauseUntil = *sc.Config.PauseUntil
		}
		if err := st.addConsumer(c); err != nil {
			return fmt.Errorf("jetstream: recover consumer %s/%s: %w", st.name, name, err)
		}
	}
	return st.reconcileAcks()
}

// metaReader is where consumer definitions are read from: a stream's file,
// or (legacy) jetstream.db.
type metaReader interface {
	ForEachMeta(prefix string, fn func(key string, val []byte) error) error
}

// readConsumers reads consumer definitions and positions stored under the
// two key prefixes, by consumer name.
func readConsumers(db metaReader, defPrefix, statePrefix string) (map[string]storedConsumer, map[string][]byte, error) {
	defs := map[string]storedConsumer{}
	states := map[string][]byte{}
	err := db.ForEachMeta(defPrefix, func(k string, v []byte) error {
		var sc storedConsumer
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("consumer definition %q: %w", k, err)
		}
		defs[k[len(defPrefix):]] = sc
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	err = db.ForEachMeta(statePrefix, func(k string, v []byte) error {
		states[k[len(statePrefix):]] = append([]byte(nil), v...)
		return nil
	})
	return defs, states, err
}

// moveLegacyConsumers moves consumers kept in jetstream.db (by leafgate
// before consumer state moved into the stream's file) into the stream's
// file, then deletes them from jetstream.db. A crash in between leaves
// both copies; the stream file's wins and the move is repeated.
func (s *Service) moveLegacyConsumers(st *stream, defs map[string]storedConsumer, states map[string][]byte) error {
	ldefs, lstates, err := readConsumers(s.db, legacyConsumerPrefix(st.name), legacyConsumerStatePrefix(st.name))
	if err != nil || len(ldefs)+len(lstates) == 0 {
		return err
	}
	var b msgstore.Batch
	var mb msgstore.MetaBatch
	for name, sc := range ldefs {
		mb.Delete(legacyConsumerPrefix(st.name) + name)
		if _, ok := defs[name]; ok {
			continue
		}
		v, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		defs[name] = sc
		b.PutMeta(consumerKey(name), v)
		if state := lstates[name]; state != nil {
			states[name] = state
			b.PutMeta(consumerStateKey(name), state)
		}
	}
	for name := range lstates {
		mb.Delete(legacyConsumerStatePrefix(st.name) + name)
	}
	if err := applySync(st.store, &b); err != nil {
		return fmt.Errorf("move consumers into the stream's file: %w", err)
	}
	if err := s.applyMeta(&mb); err != nil {
		return fmt.Errorf("move consumers into the stream's file: %w", err)
	}
	s.log.Info("jetstream: moved consumers into the stream's file", "stream", st.name, "consumers", len(ldefs))
	return nil
}

// reconcileAcks brings the stream in line with its consumers' recovered
// positions before anything is delivered:
//   - a pending message that is gone (removed by a limit, or by the ack
//     that the crash kept from reaching the consumer's record) is dropped;
//   - under work-queue and interest retention, messages at or below the
//     ack floors (acknowledged, so removed when acked) are removed: a
//     store written by a leafgate that committed the removal apart from
//     the ack can hold such messages after a crash.
//
// It reads only messages that should not be there, and the pending set.
func (st *stream) reconcileAcks() error {
	for _, c := range st.consumers {
		for seq := range c.pending {
			if _, err := st.store.Load(seq); err != nil {
				delete(c.pending, seq)
				delete(c.rdc, seq)
			}
		}
		c.updateFloor()
	}
	cfg := st.config()
	first := st.store.State().FirstSeq
	var b msgstore.Batch
	switch cfg.Retention {
	case jsapi.InterestPolicy:
		if len(st.consumers) == 0 {
			break
		}
		floor := ^uint64(0)
		for _, c := range st.consumers {
			floor = min(floor, c.floorS)
		}
		if floor >= first {
			b.RemoveRange(first, floor)
		}
	case jsapi.WorkQueuePolicy:
		for _, c := range st.consumers {
			if c.ackNone() {
				continue
			}
			for _, f := range c.filterList() {
				for seq := first; seq <= c.floorS; {
					m, err := st.store.LoadNext(f, seq)
					if err != nil || m.Seq > c.floorS {
						break
					}
					b.Remove(m.Seq)
					seq = m.Seq + 1
				}
			}
		}
	}
	if b.Len() == 0 {
		return nil
	}
	before := st.store.State().Msgs
	if err := applySync(st.store, &b); err != nil {
		return fmt.Errorf("jetstream: recover stream %q: remove acknowledged messages: %w", st.name, err)
	}
	st.svc.log.Warn("jetstream: removed acknowledged messages left by a crash", "stream", st.name, "messages", before-st.store.State().Msgs)
	return nil
}

func overlap(a, b string) bool { return subject.Overlap(a, b) }
