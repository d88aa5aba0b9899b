// Package inbox lets an internal client of the router make requests as a
// NATS client does: through a reply inbox. A Requester holds one router
// subscription on a private prefix (_INBOX.<random>.*); each request gets a
// token under it as its reply subject, the reply is matched back to its
// request by that token, and a request that gets no reply in time fails.
//
// It knows nothing of what it asks. The MQTT retained-message store and the
// MQTT broker use it to call the JetStream API ($JS.API.…) and to publish to
// streams and wait for the PubAck, exactly as an external client would,
// rather than reaching into JetStream's internals.
//
// Concurrency: a Requester is safe for concurrent use. Deliver (the router's
// callback, on the replying publisher's goroutine) only copies the reply and
// queues it. Callbacks run one at a time on the Requester's own goroutine, in
// the order replies arrive: they must not block for long, since they hold up
// every other reply, and must not wait for another reply of the same
// Requester (Do inside a callback waits until its own timeout) or call Close.
package inbox

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
)

// Errors a request fails with.
var (
	ErrTimeout      = errors.New("inbox: request timed out")
	ErrNoResponders = errors.New("inbox: no responders")
	ErrClosed       = errors.New("inbox: requester closed")
)

// Reply is the answer to a request. Its slices belong to the callee.
type Reply struct {
	Hdr  []byte // nil when the reply has no headers
	Data []byte
}

// Requester makes requests through the router; see the package comment.
type Requester struct {
	r      *router.Router
	prefix string // "_INBOX.<random>."
	sub    *router.Sub

	mu      sync.Mutex // guards the fields below
	next    uint64
	pending map[string]*call // by token
	queue   []event          // results for the loop to hand out
	closed  bool

	wake chan struct{} // cap 1: the queue has something
	quit chan struct{}
	wg   sync.WaitGroup
}

type call struct {
	fn    func(Reply, error)
	timer *time.Timer // nil without a timeout; set before the request is published
}

type event struct {
	c     *call
	reply Reply
	err   error
}

// New subscribes a fresh private inbox on r and starts the goroutine that
// runs callbacks.
func New(r *router.Router) (*Requester, error) {
	q := &Requester{
		r:       r,
		prefix:  "_INBOX." + rand.Text() + ".",
		pending: make(map[string]*call),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
	q.sub = &router.Sub{Subject: q.prefix + "*", Receiver: receiver{q}}
	if err := r.Subscribe(q.sub); err != nil {
		return nil, err
	}
	q.wg.Add(1)
	go q.loop()
	return q, nil
}

// Request publishes data (with header block hdr, nil for none) to subj with
// a reply subject of its own, and calls fn exactly once: with the reply, or
// with ErrNoResponders when nothing subscribes to subj, ErrTimeout when no
// reply came within timeout (≤ 0: no limit), or ErrClosed. fn runs on the
// Requester's goroutine (perhaps before Request returns), never on the
// caller's, except after Close, when it is called at once with ErrClosed.
func (q *Requester) Request(subj string, hdr, data []byte, timeout time.Duration, fn func(Reply, error)) {
	q.start(subj, hdr, data, timeout, fn)
}

// start is Request, returning the token ("" when closed).
func (q *Requester) start(subj string, hdr, data []byte, timeout time.Duration, fn func(Reply, error)) string {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		fn(Reply{}, ErrClosed)
		return ""
	}
	q.next++
	token := strconv.FormatUint(q.next, 36)
	c := &call{fn: fn}
	if timeout > 0 {
		c.timer = time.AfterFunc(timeout, func() { q.fail(token, ErrTimeout) })
	}
	q.pending[token] = c
	q.mu.Unlock()
	if q.r.Publish(&router.Publisher{}, []byte(subj), []byte(q.prefix+token), hdr, data) == 0 {
		q.fail(token, ErrNoResponders)
	}
	return token
}

// Do is Request waiting for the answer. The request ends when ctx does; a
// context without a deadline waits until a reply or Close.
func (q *Requester) Do(ctx context.Context, subj string, hdr, data []byte) (Reply, error) {
	type result struct {
		r   Reply
		err error
	}
	ch := make(chan result, 1)
	token := q.start(subj, hdr, data, 0, func(r Reply, err error) { ch <- result{r, err} })
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
		q.drop(token)
		return Reply{}, ctx.Err()
	}
}

// fail ends a pending request with err, unless it has ended already.
func (q *Requester) fail(token string, err error) {
	q.mu.Lock()
	c := q.pending[token]
	if c == nil {
		q.mu.Unlock()
		return
	}
	delete(q.pending, token)
	q.queue = append(q.queue, event{c: c, err: err})
	q.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	q.signal()
}

// drop forgets a pending request without calling its callback.
func (q *Requester) drop(token string) {
	q.mu.Lock()
	c := q.pending[token]
	delete(q.pending, token)
	q.mu.Unlock()
	if c != nil && c.timer != nil {
		c.timer.Stop()
	}
}

func (q *Requester) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// deliver matches a reply to its request. It runs on the replying
// publisher's goroutine: copy, queue, return.
func (q *Requester) deliver(subj, hdr, data []byte) {
	if len(subj) <= len(q.prefix) {
		return
	}
	token := subj[len(q.prefix):]
	q.mu.Lock()
	c := q.pending[string(token)]
	if c == nil {
		// Late (timed out) or a stray second reply.
		q.mu.Unlock()
		return
	}
	delete(q.pending, string(token))
	buf := make([]byte, len(hdr)+len(data))
	copy(buf, hdr)
	copy(buf[len(hdr):], data)
	r := Reply{Data: buf[len(hdr):]}
	if len(hdr) > 0 {
		r.Hdr = buf[:len(hdr):len(hdr)]
	}
	q.queue = append(q.queue, event{c: c, reply: r})
	q.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	q.signal()
}

// loop hands results to their callbacks, in arrival order.
func (q *Requester) loop() {
	defer q.wg.Done()
	var batch []event
	for {
		select {
		case <-q.quit:
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch, q.queue = q.queue, batch[:0]
		q.mu.Unlock()
		for i := range batch {
			batch[i].c.fn(batch[i].reply, batch[i].err)
			batch[i] = event{}
		}
	}
}

// Close unsubscribes the inbox and stops the goroutine. Results already
// queued are handed out, and requests still waiting fail with ErrClosed,
// on the caller's goroutine before Close returns.
func (q *Requester) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.mu.Unlock()
	_ = q.r.Unsubscribe(q.sub)
	close(q.quit)
	q.wg.Wait()
	q.mu.Lock()
	queued, pending := q.queue, q.pending
	q.queue, q.pending = nil, map[string]*call{}
	q.mu.Unlock()
	for _, ev := range queued {
		ev.c.fn(ev.reply, ev.err)
	}
	for _, c := range pending {
		if c.timer != nil {
			c.timer.Stop()
		}
		c.fn(Reply{}, ErrClosed)
	}
}

// receiver is the Requester as a router.Receiver, kept off its API.
type receiver struct{ q *Requester }

func (rc receiver) Deliver(_ *router.Sub, subj, _, hdr, data []byte) bool {
	rc.q.deliver(subj, hdr, data)
	return false
}

func (receiver) Flush() {}

const tokenAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Token is a random subject token of n base-62 characters, for inboxes
// and deliver subjects that go on the wire with every message and so are
// kept shorter than rand.Text's 26.
func Token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}
