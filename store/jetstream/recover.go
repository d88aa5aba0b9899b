package jetstream

import (
	"encoding/json"
	"fmt"

	"github.com/leafgate/leafgate/leaf/subject"
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
		if err := s.recoverConsumers(st); err != nil {
			return err
		}
		s.mu.Lock()
		s.streams[st.name] = st
		s.mu.Unlock()
		if err := st.start(); err != nil {
			return fmt.Errorf("jetstream: recover stream %q: %w", st.name, err)
		}
		s.log.Debug("jetstream: recovered stream", "stream", st.name, "messages", bs.State().Msgs, "consumers", len(st.consumers))
	}
	return nil
}

func (s *Service) recoverConsumers(st *stream) error {
	prefix := "c/" + st.name + "/"
	var defs []storedConsumer
	err := s.db.ForEachMeta(prefix, func(k string, v []byte) error {
		var sc storedConsumer
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("consumer definition %q: %w", k, err)
		}
		defs = append(defs, sc)
		return nil
	})
	if err != nil {
		return fmt.Errorf("jetstream: recover: %w", err)
	}
	for _, sc := range defs {
		name := sc.Config.Durable
		if name == "" {
			name = sc.Config.Name
		}
		c := st.newConsumer(name, sc.Config, sc.Created)
		var state []byte
		_ = s.db.ForEachMeta(consumerStateKey(st.name, name), func(k string, v []byte) error {
			if k == consumerStateKey(st.name, name) {
				state = append([]byte(nil), v...)
			}
			return nil
		})
		if state == nil {
			c.setStart()
		} else if err := c.decodeState(state); err != nil {
			return fmt.Errorf("jetstream: recover consumer %s/%s: %w", st.name, name, err)
		}
		c.lastActive = now()
		if sc.Config.PauseUntil != nil {
			c.pauseUntil = *sc.Config.PauseUntil
		}
		if err := st.addConsumer(c); err != nil {
			return fmt.Errorf("jetstream: recover consumer %s/%s: %w", st.name, name, err)
		}
	}
	return nil
}

func overlap(a, b string) bool { return subject.Overlap(a, b) }
