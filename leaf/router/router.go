// Package router is the subject router every leafgate protocol attaches to.
//
// NATS client connections, MQTT sessions, the JetStream API and the leafnode
// link are all Receivers: they subscribe subjects here and publish through
// Publish, so a message from any of them reaches every matching subscriber of
// any other. The router owns the subscription index (leaf/subject) and the
// queue-group choice; it knows nothing about wire protocols, sockets or
// permissions, which stay with the adapters.
//
// Concurrency: a Router is safe for concurrent use. Publish never blocks on a
// receiver's I/O: receivers buffer what they are handed and write on their own
// goroutine, and are kicked once per batch through Flush.
package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/leafgate/leafgate/leaf/subject"
)

// Receiver is the delivery end of a subscriber: a client connection, an MQTT
// session, an internal service.
type Receiver interface {
	// Deliver hands one message for sub to the receiver. It runs on the
	// publisher's goroutine, so it must not block on I/O: buffer and return.
	// The slices are only valid during the call. hdr is nil when the message
	// has no headers. It reports whether the receiver needs a Flush call once
	// the publisher's current batch ends (true only for the first buffered
	// message since the last flush, so a batch kicks each receiver once).
	Deliver(sub *Sub, subject, reply, hdr, payload []byte) (needFlush bool)
	// Flush tells the receiver a batch has ended and buffered output may be
	// written now.
	Flush()
}

// Sub is one subscription. The router reads Subject, Queue and Receiver; SID
// belongs to the receiver (the protocol's subscription id).
//
// A Sub must be registered at most once at a time; the router keys removal on
// the pointer.
type Sub struct {
	Subject  string
	Queue    string // "" for a plain subscription
	SID      []byte
	Receiver Receiver

	// Local keeps the subscription on this server: a leafnode link never
	// advertises it. Internal services set it on subjects that are
	// leafgate's own business (internal inboxes, MQTT plumbing).
	Local bool
	// Remote marks interest that lives beyond a leafnode link: the link
	// subscribes what the hub advertises with Remote set. It is never
	// advertised back, and a queue group hands a message to a Remote
	// member only when no local member can take it.
	Remote bool

	// from is Receiver as an OriginAware, when it is one; set by Subscribe.
	from OriginAware

	// max and delivered implement auto-unsubscribe (UNSUB <sid> <max>).
	max       atomic.Int64
	delivered atomic.Int64
}

// SetMax arms auto-unsubscribe after n deliveries in total; 0 disarms.
func (s *Sub) SetMax(n int64) { s.max.Store(n) }

// Max is the auto-unsubscribe limit, 0 for none.
func (s *Sub) Max() int64 { return s.max.Load() }

// Delivered is how many messages the router has handed to this subscription.
func (s *Sub) Delivered() int64 { return s.delivered.Load() }

// ErrNotSubscribed is returned by Unsubscribe for a Sub the router does not hold.
var ErrNotSubscribed = errors.New("router: not subscribed")

// InterestFunc is told when the first subscription for an exact (subject,
// queue) pair appears (added true) and when the last one goes. The leafnode
// link uses it to propagate interest upstream. It is called without router
// locks held, but possibly concurrently from several goroutines.
type InterestFunc func(subject, queue string, added bool)

// Router routes published messages to matching subscriptions.
type Router struct {
	index *subject.Index[*Sub]

	mu       sync.RWMutex // guards watchers
	watchers []InterestFunc

	subs atomic.Int64 // current subscription count, for monitoring

	// inserts and removes count Subscribe and Unsubscribe calls that
	// succeeded, for /subsz; the publish path does not touch them.
	inserts, removes atomic.Uint64

	// exp is the exported interest and its feeds (interest.go).
	exp exports

	// upstream holds the subject patterns only Upstream publishes carry
	// over leafnode links (ReserveUpstream); nil when there are none.
	upstream atomic.Pointer[[]string]
}

// ReserveUpstream sets the subject patterns only uplinks carry over
// leafnode links: other publishes on them reach local subscribers but not
// the hub, which gets them once, deduplicated, from the uplink.
func (r *Router) ReserveUpstream(patterns []string) {
	if len(patterns) == 0 {
		r.upstream.Store(nil)
		return
	}
	ps := append([]string(nil), patterns...)
	r.upstream.Store(&ps)
}

// toLinks reports whether leafnode links may get p's publish on route:
// not when it is LocalOnly, nor on a subject reserved for uplinks unless
// it is the uplink's own. The answer is cached in *state (0: undecided).
func (r *Router) toLinks(p *Publisher, route []byte, state *int8) bool {
	if *state == 0 {
		*state = -1
		if !p.LocalOnly && (p.Upstream || !r.reserved(route)) {
			*state = 1
		}
	}
	return *state > 0
}

// Reserved reports whether subj is reserved for uplinks.
func (r *Router) Reserved(subj []byte) bool { return r.reserved(subj) }

// reserved reports whether route is on a subject reserved for uplinks.
func (r *Router) reserved(route []byte) bool {
	ps := r.upstream.Load()
	if ps == nil {
		return false
	}
	for _, p := range *ps {
		if subject.Matches(p, string(route)) {
			return true
		}
	}
	return false
}

// New returns an empty router.
func New() *Router {
	return &Router{index: subject.NewIndex[*Sub]()}
}

// Watch registers fn to be told about interest changes from now on.
func (r *Router) Watch(fn InterestFunc) {
	r.mu.Lock()
	r.watchers = append(r.watchers, fn)
	r.mu.Unlock()
}

func (r *Router) notify(subj, queue string, added bool) {
	r.mu.RLock()
	ws := r.watchers
	r.mu.RUnlock()
	for _, fn := range ws {
		fn(subj, queue, added)
	}
}

// Subscribe registers s. The subject must be a valid pattern and the queue, if
// any, a valid queue name.
func (r *Router) Subscribe(s *Sub) error {
	if s.Receiver == nil {
		return errors.New("router: subscription without receiver")
	}
	if _, ok := s.Receiver.(LinkReceiver); s.Remote && !ok {
		return errors.New("router: remote subscription whose receiver is not a link")
	}
	if s.Queue != "" && !subject.ValidQueue([]byte(s.Queue)) {
		return fmt.Errorf("router: queue %q: %w", s.Queue, subject.ErrInvalidSubject)
	}
	s.from, _ = s.Receiver.(OriginAware)
	var first bool
	var err error
	if s.exported() {
		first, err = r.exp.insert(r, s)
	} else {
		first, err = r.index.Insert(s.Subject, s.Queue, s)
	}
	if err != nil {
		return fmt.Errorf("router: subscribe %q: %w", s.Subject, err)
	}
	r.subs.Add(1)
	r.inserts.Add(1)
	if first {
		r.notify(s.Subject, s.Queue, true)
	}
	return nil
}

// Unsubscribe removes s. Removing a Sub twice returns ErrNotSubscribed.
func (r *Router) Unsubscribe(s *Sub) error {
	var last bool
	var err error
	if s.exported() {
		last, err = r.exp.remove(r, s)
	} else {
		last, err = r.index.Remove(s.Subject, s.Queue, s)
	}
	if err != nil {
		if errors.Is(err, subject.ErrNotFound) {
			return ErrNotSubscribed
		}
		return fmt.Errorf("router: unsubscribe %q: %w", s.Subject, err)
	}
	r.subs.Add(-1)
	r.removes.Add(1)
	if last {
		r.notify(s.Subject, s.Queue, false)
	}
	return nil
}

// Count is the number of registered subscriptions.
func (r *Router) Count() int { return int(r.subs.Load()) }

// Match returns the subscriptions matching a literal subject. The result is a
// shared read-only snapshot.
func (r *Router) Match(subj []byte) *subject.Result[*Sub] { return r.index.Match(subj) }

// HasRemoteInterest reports whether a leafnode link subscribes to subj
// (the hub has interest in it).
func (r *Router) HasRemoteInterest(subj []byte) bool {
	res := r.index.Match(subj)
	for _, s := range res.Plain {
		if s.Remote {
			return true
		}
	}
	return false
}

// HasInterest reports whether anything subscribes to subj.
func (r *Router) HasInterest(subj []byte) bool {
	res := r.index.Match(subj)
	return len(res.Plain) > 0 || len(res.Queues) > 0
}

// Publisher describes who is publishing, for echo suppression and flush
// batching. The zero value is an anonymous publisher that flushes receivers
// at once.
type Publisher struct {
	// Origin is the publishing receiver; with NoEcho set, its own
	// subscriptions do not get the message.
	Origin Receiver
	NoEcho bool
	// Pending collects receivers to flush when the publisher's batch ends.
	// When nil, receivers are flushed after each Publish.
	Pending *FlushSet
	// Confirm, when set, collects the confirmations of receivers that store
	// the message durably (see Confirm); receivers see it through
	// OriginAware. The publisher sets it per message and calls Release
	// after Publish.
	Confirm *Confirm
	// Link marks a message that arrived over a leafnode link: the far
	// side already chose where its queue groups' copies go, so only the
	// groups named in Queues get one (none when Queues is empty).
	Link   bool
	Queues [][]byte
	// Upstream marks an uplink's JetStream publish (sync/uplink): it goes
	// only over leafnode links, not to local subscribers (the local
	// stream it comes from would store it again), and passes on subjects
	// reserved for uplinks (ReserveUpstream).
	Upstream bool
	// LocalOnly keeps a message off leafnode links: a downlink delivering
	// what a stream took from the hub must not send it back up.
	LocalOnly bool
	// Mark, when set, is the message's position in what the publisher
	// replays (a downlink's stream sequence). A receiver that stores
	// durably keeps the last mark it stored with what it stores, and
	// ignores a publish at or below it: a replay after a crash between
	// its store and the publisher's is not stored twice.
	Mark *Mark
}

// Mark is a publisher's position: a key naming what it replays, and a
// sequence that only grows.
type Mark struct {
	Key string
	Seq uint64
}

// FlushSet collects receivers that buffered output during a batch of
// publishes, so each one is kicked once per batch rather than per message.
// It is owned by one publishing goroutine.
type FlushSet struct {
	rs []Receiver
}

// Add schedules r for the next Flush.
func (f *FlushSet) Add(r Receiver) { f.rs = append(f.rs, r) }

// Flush kicks every collected receiver and empties the set.
func (f *FlushSet) Flush() {
	for i, r := range f.rs {
		r.Flush()
		f.rs[i] = nil
	}
	f.rs = f.rs[:0]
}

// Len is the number of receivers waiting for Flush.
func (f *FlushSet) Len() int { return len(f.rs) }

// Contains reports whether r is already waiting for Flush. A receiver
// that must be in the set (a Pacer above its high-water mark) but is
// delivered to by several publishers at once uses it to return true from
// DeliverFrom once per batch of each publisher.
func (f *FlushSet) Contains(r Receiver) bool {
	for _, x := range f.rs {
		if x == r {
			return true
		}
	}
	return false
}

// Receivers are the receivers waiting for Flush; valid until Flush.
func (f *FlushSet) Receivers() []Receiver { return f.rs }

// Publish delivers a message to every matching plain subscription and to one
// member of each matching queue group. It returns the number of
// subscriptions the message was delivered to.
func (r *Router) Publish(p *Publisher, subj, reply, hdr, payload []byte) int {
	return r.PublishAs(p, subj, subj, reply, hdr, payload)
}

// PublishAs routes a message by route but delivers it with subject subj:
// JetStream hands stored messages to a pull request's inbox or a push
// consumer's deliver subject under their original subject, as nats-server
// does.
func (r *Router) PublishAs(p *Publisher, route, subj, reply, hdr, payload []byte) int {
	res := r.index.Match(route)
	n := 0
	var links *linkTargets // from a pool once a link is among the targets
	// Whether links may get it, decided at the first link target: most
	// publishes reach none, and pay nothing for the reservations.
	var linkable int8
	for _, s := range res.Plain {
		if s.Remote {
			if s.Receiver != p.Origin && r.toLinks(p, route, &linkable) {
				links = links.add(s.Receiver, "")
			}
			continue
		}
		if p.Upstream || p.NoEcho && s.Receiver == p.Origin && p.Origin != nil {
			continue
		}
		if r.deliver(p, s, subj, reply, hdr, payload) {
			n++
		}
	}
	for i := range res.Queues {
		if p.Link && !named(p.Queues, res.Queues[i].Name) || p.Upstream {
			continue
		}
		var ok bool
		if ok, links = r.deliverQueue(p, res.Queues[i].Members, links, route, &linkable, subj, reply, hdr, payload); ok {
			n++
		}
	}
	if links != nil {
		n += r.deliverLinks(p, links, route, subj, reply, hdr, payload)
		links.release()
	}
	return n
}

// named reports whether queue is in list.
func named(list [][]byte, queue string) bool {
	for _, q := range list {
		if string(q) == queue {
			return true
		}
	}
	return false
}

// LinkReceiver is the Receiver of Remote subscriptions: a leafnode link.
// The far side must get one copy of a message however many of the link's
// subscriptions match it, with the queue groups that chose the far side
// named (nats-server's LMSG queue list), so the router collects a publish's
// link targets and calls DeliverLink once per link instead of Deliver.
// route is the subject the message was routed by; it differs from subject
// when JetStream delivers a stored message to an inbox (PublishAs), and
// the link must carry both, since the far side routes again. queues is
// only valid during the call.
type LinkReceiver interface {
	Receiver
	DeliverLink(p *Publisher, route, subject, reply, hdr, payload []byte, queues []string) (needFlush bool)
}

// linkTargets collects the links one publish goes to, and for each the
// queue groups that picked it. Publishes that reach no link never touch
// one; the others take one from a pool.
type linkTargets struct {
	n     int
	first linkTarget
	more  []linkTarget
	qbuf  []string // the queue list handed to DeliverLink, reused
}

type linkTarget struct {
	r      Receiver
	nq     int
	q      [2]string
	extraQ []string
}

func (t *linkTarget) queues(buf []string) []string {
	buf = append(buf, t.q[:min(t.nq, len(t.q))]...)
	return append(buf, t.extraQ...)
}

var linkTargetsPool = sync.Pool{New: func() any { return new(linkTargets) }}

// release empties l and returns it to the pool.
func (l *linkTargets) release() {
	clear(l.more)
	clear(l.qbuf)
	*l = linkTargets{more: l.more[:0], qbuf: l.qbuf[:0]}
	linkTargetsPool.Put(l)
}

// add records that r takes the message, for queue when not "". A nil l
// is taken from the pool; add returns the one to use from then on.
func (l *linkTargets) add(r Receiver, queue string) *linkTargets {
	if l == nil {
		l = linkTargetsPool.Get().(*linkTargets)
	}
	var t *linkTarget
	switch {
	case l.n > 0 && l.first.r == r:
		t = &l.first
	default:
		for i := range l.more {
			if l.more[i].r == r {
				t = &l.more[i]
			}
		}
	}
	if t == nil {
		if l.n == 0 {
			l.first = linkTarget{r: r}
			t = &l.first
		} else {
			l.more = append(l.more, linkTarget{r: r})
			t = &l.more[len(l.more)-1]
		}
		l.n++
	}
	if queue == "" {
		return l
	}
	if t.nq < len(t.q) {
		t.q[t.nq] = queue
	} else {
		t.extraQ = append(t.extraQ, queue)
	}
	t.nq++
	return l
}

// deliverLinks hands the message once to each collected link.
func (r *Router) deliverLinks(p *Publisher, l *linkTargets, route, subj, reply, hdr, payload []byte) int {
	n := 0
	for i := range l.n {
		t := &l.first
		if i > 0 {
			t = &l.more[i-1]
		}
		lr, ok := t.r.(LinkReceiver)
		if !ok {
			continue
		}
		l.qbuf = t.queues(l.qbuf[:0])
		if lr.DeliverLink(p, route, subj, reply, hdr, payload, l.qbuf) {
			if p.Pending != nil {
				p.Pending.Add(t.r)
			} else {
				t.r.Flush()
			}
		}
		n++
	}
	return n
}

// deliverQueue hands the message to one member of a queue group, starting at
// a random member and moving on past members that are the non-echo origin or
// have reached their auto-unsubscribe limit. Local members come first: a
// Remote one (interest beyond a leafnode link) is picked only when no local
// member could take the message, and is added to links rather than
// delivered at once.
func (r *Router) deliverQueue(p *Publisher, members []*Sub, links *linkTargets, route []byte, linkable *int8, subj, reply, hdr, payload []byte) (bool, *linkTargets) {
	if len(members) == 0 {
		return false, links
	}
	start := 0
	if len(members) > 1 {
		start = rand.IntN(len(members))
	}
	remote := false
	for i := range members {
		s := members[(start+i)%len(members)]
		if s.Remote {
			remote = true
			continue
		}
		if p.NoEcho && s.Receiver == p.Origin && p.Origin != nil {
			continue
		}
		if r.deliver(p, s, subj, reply, hdr, payload) {
			return true, links
		}
	}
	if !remote || !r.toLinks(p, route, linkable) {
		return false, links
	}
	for i := range members {
		s := members[(start+i)%len(members)]
		if s.Remote && s.Receiver != p.Origin {
			return true, links.add(s.Receiver, s.Queue)
		}
	}
	return false, links
}

// deliver hands the message to one subscription, enforcing its
// auto-unsubscribe limit. It reports whether the message was handed over.
func (r *Router) deliver(p *Publisher, s *Sub, subj, reply, hdr, payload []byte) bool {
	if max := s.max.Load(); max > 0 {
		n := s.delivered.Add(1)
		if n > max {
			return false
		}
		if n == max {
			// Last one: remove before handing over so no concurrent
			// publisher can deliver past the limit. A concurrent
			// explicit UNSUB may have removed it already.
			_ = r.Unsubscribe(s)
		}
	} else {
		s.delivered.Add(1)
	}
	var need bool
	if s.from != nil {
		need = s.from.DeliverFrom(p, s, subj, reply, hdr, payload)
	} else {
		need = s.Receiver.Deliver(s, subj, reply, hdr, payload)
	}
	if need {
		if p.Pending != nil {
			p.Pending.Add(s.Receiver)
		} else {
			s.Receiver.Flush()
		}
	}
	return true
}
