package sourcing

import (
	"log/slog"
	"sync"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jetstream"
)

// Manager runs a follower for every stream that mirrors or sources
// others. It is the jetstream.Follower the service is configured with.
type Manager struct {
	r       *router.Router
	log     *slog.Logger
	account string

	mu        sync.Mutex
	followers map[string]*follower
	closed    bool
}

var _ jetstream.Follower = (*Manager)(nil)

// New returns a Manager whose consumers' requests and deliveries go
// through r. account names leafgate's account in the metadata of the
// consumers it creates at origins (nats-server's "$G" when there are no
// accounts).
func New(r *router.Router, account string, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if account == "" {
		account = "$G"
	}
	return &Manager{r: r, log: log, account: account, followers: map[string]*follower{}}
}

// Follow implements jetstream.Follower: it starts replicating into rep's
// stream, replacing a follower the stream had (its configuration
// changed). Positions come from the store, so nothing is lost between.
func (m *Manager) Follow(rep *jetstream.Replica) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	name := rep.Name()
	if old := m.followers[name]; old != nil {
		close(old.quit)
		<-old.done
		delete(m.followers, name)
	}
	f, err := newFollower(rep, m.r, m.log, m.account)
	if err != nil {
		m.log.Error("jetstream: cannot replicate into stream", "stream", name, "err", err)
		return
	}
	m.followers[name] = f
	go f.run()
}

// Unfollow implements jetstream.Follower.
func (m *Manager) Unfollow(name string) {
	m.mu.Lock()
	f := m.followers[name]
	delete(m.followers, name)
	m.mu.Unlock()
	if f != nil {
		close(f.quit)
		<-f.done
	}
}

// Close stops every follower.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	fs := m.followers
	m.followers = map[string]*follower{}
	m.mu.Unlock()
	for _, f := range fs {
		close(f.quit)
		<-f.done
	}
}
