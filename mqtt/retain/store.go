package retain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Msg is a retained message.
type Msg struct {
	Topic []byte // the exact MQTT topic name
	// Hdr is the NATS header block the broker built for the message (its
	// QoS and MQTT 5 properties), nil for none. It is stored as the KV
	// message's headers, with this package's own (HdrTopic, HdrExpires,
	// Nats-TTL) added and any Nats-… or KV-Operation header left out.
	// Match hands it back without HdrTopic and Nats-TTL, and with
	// HdrExpires written from Expires when that is set (never otherwise).
	Hdr     []byte
	Payload []byte
	// Expires is when the message expires, in unix nanoseconds; 0 never.
	// JetStream drops it then (a per-message TTL), and Match skips it.
	Expires int64
}

// Options configure a Store; the zero value works.
type Options struct {
	// Bucket is the KV bucket; DefaultBucket when empty.
	Bucket string
	// Timeout bounds each JetStream request (a Set's PubAck, an API call);
	// DefaultTimeout when 0.
	Timeout time.Duration
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// heartbeat is the watch consumer's idle heartbeat; tests shorten it.
	heartbeat time.Duration
}

// Defaults.
const (
	DefaultBucket  = "mqtt_retained"
	DefaultTimeout = 5 * time.Second
	// defaultHeartbeat is the watch consumer's idle heartbeat; three
	// missed in a row and the watch is started again.
	defaultHeartbeat = 5 * time.Second
)

// ErrClosed is what Set reports after Close.
var ErrClosed = errors.New("retain: store closed")

// validBucket is nats.go's rule for bucket names.
var validBucket = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Store is the retained messages of an MQTT broker; see the package
// comment.
//
// Concurrency: Set, Match and Len may be called from any goroutine. mu
// guards the index and inflight; it is never held while calling out
// (router publishes, callbacks). Set's PubAck callbacks run on the
// requester's goroutine; the watch (consumer deliveries, heartbeats,
// expiry, and done callbacks that must not run on Set's caller) runs on
// the Store's own goroutine.
type Store struct {
	r       *router.Router
	req     *inbox.Requester
	log     *slog.Logger
	bucket  string
	stream  string // KV_<bucket>
	prefix  string // $KV.<bucket>.
	timeout time.Duration
	hb      time.Duration

	mu       sync.RWMutex
	ix       index
	inflight map[string]int // Sets sent and not yet acknowledged, by key

	work work          // deliveries and posted callbacks, for the watch goroutine
	w    watch         // owned by the watch goroutine (and Open, before it starts)
	kick chan struct{} // cap 1: re-arm the expiry timer
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Open ensures the bucket exists (creating it, or accepting a compatible
// existing one), loads every current value into memory, and keeps that
// current by watching the bucket, so a put or delete by a NATS client
// (`nats kv put`/`del`) is seen too. It returns once the initial load is
// complete, or with the error that stopped it (ctx ending, JetStream not
// answering, an incompatible stream).
func Open(ctx context.Context, r *router.Router, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if !validBucket.MatchString(opts.Bucket) {
		return nil, fmt.Errorf("retain: invalid bucket name %q", opts.Bucket)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.heartbeat <= 0 {
		opts.heartbeat = defaultHeartbeat
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	req, err := inbox.New(r)
	if err != nil {
		return nil, fmt.Errorf("retain: %w", err)
	}
	s := &Store{
		r:        r,
		req:      req,
		log:      log,
		bucket:   opts.Bucket,
		stream:   "KV_" + opts.Bucket,
		prefix:   "$KV." + opts.Bucket + ".",
		timeout:  opts.Timeout,
		hb:       opts.heartbeat,
		ix:       newIndex(),
		inflight: make(map[string]int),
		work:     newWork(),
		kick:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
	if err := s.ensureBucket(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("retain: %w", err)
	}
	loaded := make(chan struct{})
	s.w.loaded = loaded
	if err := s.startWatch(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("retain: %w", err)
	}
	s.wg.Add(1)
	go s.loop()
	select {
	case <-loaded:
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("retain: load bucket %s: %w", s.bucket, ctx.Err())
	}
}

// Bucket is the KV bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// SubjectPrefix is "$KV.<bucket>.", the subjects of the bucket's keys: the
// broker reserves it so MQTT clients change retained messages only through
// MQTT's retain semantics.
func (s *Store) SubjectPrefix() string { return s.prefix }

// Close stops watching the bucket. Sets waiting for their PubAck fail with
// ErrClosed (their done runs before Close returns), as do later ones.
// Close must not be called from a done callback or from Match's fn.
func (s *Store) Close() {
	s.once.Do(func() {
		close(s.quit)
		s.wg.Wait()
		s.stopWatch()
		s.req.Close()
		for _, fn := range s.work.close() {
			fn()
		}
	})
}

// Len is the number of retained messages, counting any that expired in
// the last moment and are not yet pruned.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.live
}

// Match calls fn for each current, unexpired retained message whose topic
// matches the MQTT topic filter (with + and #; without "$share/<name>/",
// which the caller strips). A filter starting with a wildcard does not
// match topics starting with '$' [MQTT-4.7.2-1]. An invalid filter
// matches nothing. fn runs after Match has let go of the index, so it may
// call Set, but it must neither modify nor keep the slices it is given.
func (s *Store) Match(filter []byte, fn func(Msg)) {
	if packet.CheckTopicFilter(filter) != nil {
		return
	}
	now := time.Now().UnixNano()
	var buf [8]*entry
	hits := buf[:0]
	s.mu.RLock()
	s.ix.trie.match(filter, func(e *entry) {
		if !e.expired(now) {
			hits = append(hits, e)
		}
	})
	s.mu.RUnlock()
	for _, e := range hits {
		fn(Msg{Topic: e.topic, Hdr: e.hdr, Payload: e.payload, Expires: e.expires})
	}
}

// Set stores m as the retained message of m.Topic; an empty Payload (or
// an Expires already past) clears it, with a KV purge so KV watchers see
// the key deleted. done is called once JetStream has acknowledged the
// write, with nil, or with the error of a failed PubAck, a timeout or a
// topic name MQTT does not allow. By then Match reflects the write (unless
// a later write to the topic has already replaced it). Clearing a topic
// that has no retained message and no Set on its way writes nothing.
//
// done is never called on Set's caller's goroutine, except after Close,
// when it gets ErrClosed at once; it must not block for long (it holds up
// other Sets' callbacks). Sets of one goroutine are stored in the order
// they were made, but the done calls of different Sets may come in any
// order.
func (s *Store) Set(m Msg, done func(error)) {
	if err := checkTopic(m.Topic); err != nil {
		s.post(func() { done(fmt.Errorf("%w: %q", err, m.Topic)) })
		return
	}
	now := time.Now().UnixNano()
	key := Key(m.Topic)
	topic := append([]byte(nil), m.Topic...)
	e := &entry{key: key, topic: topic, hi: -1}
	var hdr, payload []byte
	if len(m.Payload) == 0 || m.Expires != 0 && m.Expires <= now {
		s.mu.Lock()
		if cur := s.ix.byKey[key]; (cur == nil || cur.gone) && s.inflight[key] == 0 {
			s.mu.Unlock()
			s.post(func() { done(nil) })
			return
		}
		s.inflight[key]++
		s.mu.Unlock()
		e.gone = true
		hdr = purgeHeader(int64(markerTTL / time.Second))
	} else {
		user := userHeader(m.Hdr)
		e.hdr = handedHeader(user, m.Expires)
		e.payload = append([]byte(nil), m.Payload...)
		e.expires = m.Expires
		var ttl int64
		if m.Expires != 0 {
			ttl = ttlSeconds(m.Expires, now)
		}
		hdr = storedHeader(user, topic, m.Expires, ttl)
		payload = m.Payload
		s.mu.Lock()
		s.inflight[key]++
		s.mu.Unlock()
	}
	s.req.Request(s.prefix+key, hdr, payload, s.timeout, func(r inbox.Reply, err error) {
		seq, err := pubAck(r, err)
		s.mu.Lock()
		if s.inflight[key]--; s.inflight[key] <= 0 {
			delete(s.inflight, key)
		}
		kick := false
		if err == nil {
			e.seq = seq
			before := s.ix.nextExpiry()
			s.ix.fromAck(e, time.Now().UnixNano())
			kick = s.ix.nextExpiry() != before
		}
		s.mu.Unlock()
		if kick {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		if err != nil {
			err = fmt.Errorf("retain: store %q: %w", topic, err)
		}
		done(err)
	})
}

// pubAck reads a PubAck: the sequence the message was stored at.
func pubAck(r inbox.Reply, err error) (uint64, error) {
	if errors.Is(err, inbox.ErrClosed) {
		return 0, ErrClosed
	}
	if err != nil {
		return 0, err
	}
	var ack jsapi.PubAckResponse
	if err := json.Unmarshal(r.Data, &ack); err != nil {
		return 0, fmt.Errorf("bad PubAck %q: %w", r.Data, err)
	}
	if ack.Error != nil {
		return 0, ack.Error
	}
	if ack.Sequence == 0 {
		return 0, fmt.Errorf("bad PubAck %q", r.Data)
	}
	return ack.Sequence, nil
}

// post runs fn on the watch goroutine, or at once after Close.
func (s *Store) post(fn func()) {
	if !s.work.put(item{fn: fn}) {
		fn()
	}
}
