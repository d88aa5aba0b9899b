package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// Config configures a Service.
type Config struct {
	// Dir holds the definitions file (Dir/jetstream.db) and one bbolt
	// file per file-storage stream (Dir/streams/<name>/messages.db); it
	// is created if missing.
	Dir string
	// Domain, when set, also answers the API on $JS.<Domain>.API.> and is
	// reported in account info and pub acks.
	Domain string
	// MaxMemory and MaxStore cap the bytes held by memory and file
	// streams together; 0 means unlimited. MaxStore counts the store's
	// files as they take the disk (messages and bbolt's keys, page slack,
	// free pages and free-page list), not only message bytes, so the limit
	// leaves the disk space it promises; the space reserve is not counted
	// (see stream.checkAccountLimit).
	MaxMemory int64
	MaxStore  int64
	// ServerName is the server's name (or id when unnamed), reported in
	// API audit advisories as nats-server does.
	ServerName string
	// Reserve is the disk space set aside in Dir/ReserveFile so that purges,
	// message and stream deletes still commit on a full disk (see
	// msgstore.Reserve); 0 means DefaultReserve, negative none.
	Reserve int64
	// IngestHighWater is the bytes queued for one stream, not yet taken
	// into a store batch, above which publishers that can wait (NATS
	// clients, MQTT sessions) are paced until the stream takes them;
	// 0 means DefaultIngestHighWater.
	IngestHighWater int64
	// IngestLimit is the bytes queued for one stream above which
	// publishes are refused with 429 Too Many Requests; 0 means
	// DefaultIngestLimit. It must not be below IngestHighWater.
	IngestLimit int64
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Follower replicates into streams that mirror or source others
	// (sync/sourcing); without one such streams are refused.
	Follower Follower
	// Clock is the wall clock messages are stamped with and limits, TTLs
	// and schedules are judged by; nil means time.Now. Tests simulate a
	// device's clock jump with it (an uplink's unsent backlog must
	// survive one). Only the wall reading counts: how long the process
	// has held a message is measured by time.Now's monotonic clock.
	Clock func() time.Time
}

// DBFile is the definitions file under Config.Dir: streams, consumers and
// consumer positions.
const DBFile = "jetstream.db"

// ReserveFile is the space reserve under Config.Dir.
const ReserveFile = "space.reserve"

// DefaultReserve is the reserve when Config.Reserve is 0: enough for the
// copied pages and free-page list of a purge of a file of a few hundred
// MB, and for the compacted copy that gives the space back.
const DefaultReserve = 1 << 20

// streamDir is where a file-storage stream's messages live.
func (s *Service) streamDir(name string) string {
	return filepath.Join(s.cfg.Dir, "streams", name)
}

// openStreamFile opens (creating if needed) a stream's own bbolt file.
// Each stream has its file so that deleting a stream removes it whole.
func (s *Service) openStreamFile(name string) (*msgstore.Bolt, msgstore.Store, error) {
	dir := s.streamDir(name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, err
	}
	file, err := msgstore.OpenBolt(filepath.Join(dir, "messages.db"))
	if err != nil {
		return nil, nil, err
	}
	file.SetLogger(s.log)
	if s.reserve != nil {
		file.SetReserve(s.reserve)
	}
	st, err := file.Stream(name)
	if err != nil {
		_ = file.Close()
		return nil, nil, err
	}
	return file, st, nil
}

// Service is JetStream attached to a router.
type Service struct {
	cfg     Config
	r       *router.Router
	db      *msgstore.Bolt
	reserve *msgstore.Reserve // nil: none
	log     *slog.Logger

	api     *mailbox
	apiSubs []*router.Sub
	ackSubs []*router.Sub

	mu      sync.RWMutex // guards streams and closed
	streams map[string]*stream
	closed  bool

	apiTotal, apiErrors atomic.Uint64

	ids eventIDs // advisory ids

	pushMu sync.Mutex // guards push
	// push maps the deliver subjects of push consumers to their streams
	// (interest.go).
	push map[string]map[*stream]int

	// Bytes stored by memory and file streams, kept by the streams as
	// their commits finish, so account limits cost nothing per publish;
	// fileDisk is the size of the file streams' files.
	memUsed, fileUsed, fileDisk atomic.Int64

	// afterReply runs, on the API goroutine, once the current request's
	// response is published.
	afterReply []func()

	quit chan struct{}
	wg   sync.WaitGroup
}

// Open opens (or creates) the store under cfg.Dir, recovers every stream
// and consumer, and starts answering the API on r.
func Open(cfg Config, r *router.Router) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("jetstream: no store directory configured")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("jetstream: store directory: %w", err)
	}
	if cfg.IngestHighWater == 0 {
		cfg.IngestHighWater = DefaultIngestHighWater
	}
	if cfg.IngestLimit == 0 {
		cfg.IngestLimit = max(DefaultIngestLimit, cfg.IngestHighWater)
	}
	if cfg.IngestHighWater < 0 || cfg.IngestLimit < cfg.IngestHighWater {
		return nil, fmt.Errorf("jetstream: IngestLimit %d must be at least IngestHighWater %d, both positive", cfg.IngestLimit, cfg.IngestHighWater)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var reserve *msgstore.Reserve
	if cfg.Reserve == 0 {
		cfg.Reserve = DefaultReserve
	}
	if cfg.Reserve > 0 {
		var err error
		if reserve, err = msgstore.OpenReserve(filepath.Join(cfg.Dir, ReserveFile), cfg.Reserve); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		if reserve.Held() < reserve.Size() {
			log.Warn("jetstream: the disk is too full for the space reserve; purges may fail until space is freed",
				"dir", cfg.Dir, "held", reserve.Held(), "size", reserve.Size())
		}
	}
	db, err := msgstore.OpenBolt(filepath.Join(cfg.Dir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	db.SetLogger(log)
	if reserve != nil {
		db.SetReserve(reserve)
	}
	s := &Service{
		cfg:     cfg,
		r:       r,
		db:      db,
		reserve: reserve,
		log:     log,
		api:     newMailbox(),
		streams: make(map[string]*stream),
		quit:    make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		s.closeStreams()
		db.Close()
		return nil, err
	}
	var apiSubjects []string
	for _, prefix := range s.apiPrefixes() {
		apiSubjects = append(apiSubjects, prefix+"INFO", prefix+"STREAM.>")
		for _, op := range []string{"CREATE", "DURABLE", "INFO", "DELETE", "PAUSE", "UNPIN", "RESET", "LIST", "NAMES"} {
			apiSubjects = append(apiSubjects, prefix+"CONSUMER."+op+".>")
		}
	}
	for _, p := range apiSubjects {
		sub := &router.Sub{Subject: p, Receiver: apiReceiver{s.api}}
		if err := r.Subscribe(sub); err != nil {
			s.Close()
			return nil, fmt.Errorf("jetstream: subscribe %s: %w", p, err)
		}
		s.apiSubs = append(s.apiSubs, sub)
	}
	if d := s.cfg.Domain; d != "" {
		// nats-server maps $JS.<domain>.API.$KV.> and $OBJ.> onto $KV.> and
		// $OBJ.>, so a KV or object store put addressed to this domain from
		// across a leafnode link lands in the bucket's stream.
		for _, kind := range []string{"$KV.", "$OBJ."} {
			prefix := "$JS." + d + ".API." + kind
			sub := &router.Sub{Subject: prefix + ">", Receiver: domainMap{r: r, strip: len(prefix) - len(kind)}}
			if err := r.Subscribe(sub); err != nil {
				s.Close()
				return nil, fmt.Errorf("jetstream: subscribe %s: %w", sub.Subject, err)
			}
			s.ackSubs = append(s.ackSubs, sub)
		}
	}
	r.Watch(s.onInterest)
	s.wg.Add(1)
	go s.apiLoop()
	return s, nil
}

// Close stops the API, every stream and consumer, and closes the store.
// Messages already acknowledged are on disk; nothing is lost.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for _, sub := range append(s.apiSubs, s.ackSubs...) {
		_ = s.r.Unsubscribe(sub)
	}
	close(s.quit)
	s.wg.Wait()
	if f := s.cfg.Follower; f != nil {
		for _, st := range s.sortedStreams() {
			if cfg := st.config(); isReplica(&cfg) {
				f.Unfollow(st.name)
			}
		}
	}
	s.closeStreams()
	return s.db.Close()
}

func (s *Service) closeStreams() {
	s.mu.Lock()
	streams := s.streams
	s.streams = map[string]*stream{}
	s.mu.Unlock()
	for _, st := range streams {
		st.stop()
	}
}

// lookup returns the named stream or nil.
func (s *Service) lookup(name string) *stream {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.streams[name]
}

// sortedStreams returns the streams in name order.
func (s *Service) sortedStreams() []*stream {
	s.mu.RLock()
	out := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// usage is the bytes held by memory and file streams.
func (s *Service) usage() (mem, file uint64) {
	return uint64(s.memUsed.Load()), uint64(s.fileUsed.Load())
}

// refillReserve fills the space reserve again after space came back (a
// stream's file deleted); on a disk still full it keeps what it got.
func (s *Service) refillReserve() {
	if s.reserve == nil || s.reserve.Held() >= s.reserve.Size() {
		return
	}
	if err := s.reserve.Refill(); err != nil {
		s.log.Warn("jetstream: the space reserve could not be filled again; purge or delete streams to free disk space",
			"held", s.reserve.Held(), "size", s.reserve.Size(), "err", err)
	}
}

// fileDiskUsage is what file storage takes on disk: the stream files and
// the definitions file, free pages included (the space reserve is not).
func (s *Service) fileDiskUsage() int64 {
	size, _ := s.db.DiskUsage()
	return s.fileDisk.Load() + size
}

// subjectIndexer is a store that can index each subject's sequences.
type subjectIndexer interface{ IndexSubjects() error }

// indexSubjects turns on the store's per-subject index where per-subject
// limits above one would otherwise search the stream for a subject's
// oldest message on every publish.
func indexSubjects(store msgstore.Store, cfg jsapi.StreamConfig) error {
	if ix, ok := store.(subjectIndexer); ok && cfg.MaxMsgsPer > 1 {
		return ix.IndexSubjects()
	}
	return nil
}

// apiPrefixes are the API subject prefixes answered: "$JS.API." and, with
// a domain, "$JS.<domain>.API.".
func (s *Service) apiPrefixes() []string {
	if s.cfg.Domain == "" {
		return []string{"$JS.API."}
	}
	return []string{"$JS.API.", "$JS." + s.cfg.Domain + ".API."}
}

// publish sends an internal message through the router.
func (s *Service) publish(subj, reply string, hdr, data []byte) {
	s.r.Publish(&router.Publisher{}, []byte(subj), []byte(reply), hdr, data)
}

// deliver hands a stored message to route (a pull request's inbox or a
// push consumer's deliver subject) under its own subject.
func (s *Service) deliver(route, subj, reply string, hdr, data []byte) {
	s.r.PublishAs(&router.Publisher{}, []byte(route), []byte(subj), []byte(reply), hdr, data)
}

// now is the service's wall clock (Config.Clock).
func (s *Service) now() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}

// EndPullRequests answers every waiting pull request with 409 Server
// Shutdown and its pending counts, as nats-server does as it shuts down,
// so clients learn at once rather than from a closed connection. The
// server calls it (Server.OnShutdown) before it closes client connections.
func (s *Service) EndPullRequests() {
	for _, st := range s.sortedStreams() {
		st.do(func() {
			for _, c := range st.consumers {
				for _, wr := range c.waiting {
					st.svc.publish(wr.reply, "", pullStatus(409, "Server Shutdown", wr, true), nil)
				}
				c.waiting = nil
			}
		})
	}
}

// Reserve is the store's space reserve (nil without one), for other files
// under the store directory to share: MQTT's session store spends it the
// same way on a full disk.
func (s *Service) Reserve() *msgstore.Reserve { return s.reserve }
