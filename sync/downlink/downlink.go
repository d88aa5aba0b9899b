// Package downlink delivers what a local stream holds — typically
// commands and configuration the hub's stream sent down, sourced or
// mirrored onto leafgate — to local subscribers as messages on their
// subjects: an MQTT device's persistent session queues each durably. The
// stream is read in order through an outbox (jetstream.Outbox) whose
// position advances only once every durable subscriber (a persistent
// session's queue) has the message on disk, so a command reaches a
// device that connects long after the link went down again, and a
// restart or power cut resumes after the last one delivered.
//
// Deliveries stay local (router.Publisher.LocalOnly): they never go back
// up the link to the hub stream they came from.
package downlink

import (
	"log/slog"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
)

// Config is one downlink.
type Config struct {
	// Name names it (its outbox in the stream); default "downlink-" +
	// Stream.
	Name string
	// Stream is the local stream delivered.
	Stream string
	// Filter selects what is delivered; default everything.
	Filter string
	// Transform maps a stored subject to the one delivered on; nil keeps
	// it.
	Transform *subject.Transform
}

// window is how many deliveries may wait for their subscribers' stores.
const window = 64

// Status is a downlink's position.
type Status struct {
	Name      string    `json:"name"`
	Stream    string    `json:"stream"`
	Delivered uint64    `json:"delivered_seq"`
	Backlog   uint64    `json:"backlog_msgs"`
	LastError string    `json:"last_error,omitempty"`
	Last      time.Time `json:"last,omitzero"`
}

// Downlink delivers one stream. Its goroutine owns the fields below mu.
type Downlink struct {
	cfg Config
	js  *jetstream.Service
	r   *router.Router
	log *slog.Logger

	mu     sync.Mutex
	status Status
	ob     *jetstream.Outbox // once the stream is open
	sig    chan struct{}
	quit   chan struct{}
	done   chan struct{}

	results []result
}

type result struct {
	seq uint64
	err error
}

// Start runs a downlink until Close.
func Start(cfg Config, js *jetstream.Service, r *router.Router, log *slog.Logger) *Downlink {
	if cfg.Name == "" {
		cfg.Name = "downlink-" + cfg.Stream
	}
	if cfg.Filter == "" {
		cfg.Filter = ">"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Downlink{cfg: cfg, js: js, r: r, log: log.With("downlink", cfg.Name, "stream", cfg.Stream),
		sig: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	d.status = Status{Name: cfg.Name, Stream: cfg.Stream}
	go d.run()
	return d
}

// Close stops the downlink.
func (d *Downlink) Close() {
	select {
	case <-d.quit:
	default:
		close(d.quit)
	}
	<-d.done
}

// Status reports the downlink's position, and its backlog counted now.
func (d *Downlink) Status() Status {
	d.mu.Lock()
	st, ob := d.status, d.ob
	d.mu.Unlock()
	if ob != nil {
		if os, ok := ob.State(); ok {
			st.Backlog = os.BacklogMsgs
		}
	}
	return st
}

func (d *Downlink) run() {
	defer close(d.done)
	var ob *jetstream.Outbox
	for ob == nil {
		var err error
		if ob, err = d.js.OpenOutbox(d.cfg.Stream, d.cfg.Name, d.cfg.Filter, false); err == nil {
			break
		}
		select {
		case <-d.quit:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer ob.Close()
	st, _ := ob.State()
	delivered := st.Confirmed // every message up to it is in its subscribers' stores
	d.mu.Lock()
	d.ob = ob
	d.status.Delivered = delivered
	d.mu.Unlock()
	next := delivered + 1
	// Deliveries waiting for their stores, in order; the position moves
	// over the done prefix.
	type waiting struct {
		seq  uint64
		done bool
	}
	var pending []waiting
	retryAt := time.Time{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		// Collect finished deliveries.
		d.mu.Lock()
		res := d.results
		d.results = nil
		d.mu.Unlock()
		failed := false
		for _, r := range res {
			for i := range pending {
				if pending[i].seq == r.seq {
					pending[i].done = true
				}
			}
			if r.err != nil {
				failed = true
				d.setError(r.err.Error())
			}
		}
		if failed {
			// A subscriber's store refused (full disk): deliver again
			// from the first not done, after a pause; a store that
			// did keep it sees it twice.
			if len(pending) > 0 {
				next = pending[0].seq
			}
			pending = pending[:0]
			retryAt = time.Now().Add(time.Second)
		}
		n := 0
		for n < len(pending) && pending[n].done {
			delivered = pending[n].seq
			n++
		}
		if n > 0 {
			pending = append(pending[:0], pending[n:]...)
			if len(pending) == 0 {
				delivered = max(delivered, next-1)
			}
			ob.Confirm(delivered, nil)
			d.mu.Lock()
			d.status.Delivered = delivered
			d.status.Last = time.Now().UTC()
			d.mu.Unlock()
		}
		// Deliver more.
		if time.Now().After(retryAt) && len(pending) < window {
			msgs, err := ob.Read(next, window-len(pending))
			if err != nil {
				d.setError(err.Error())
			}
			for _, m := range msgs {
				seq := m.Seq
				subj := m.Subject
				if d.cfg.Transform != nil {
					if s, ok := d.cfg.Transform.Apply(subj); ok {
						subj = s
					}
				}
				pending = append(pending, waiting{seq: seq})
				c := router.NewConfirm(func(err error) {
					d.mu.Lock()
					d.results = append(d.results, result{seq: seq, err: err})
					d.mu.Unlock()
					select {
					case d.sig <- struct{}{}:
					default:
					}
				})
				// The mark lets a persistent MQTT session skip a replay
				// of what it stored before a crash took our position.
				d.r.Publish(&router.Publisher{LocalOnly: true, Confirm: c, Mark: &router.Mark{Key: d.cfg.Name, Seq: seq}}, []byte(subj), nil, m.Header, m.Data)
				c.Release()
				next = seq + 1
			}
		}
		select {
		case <-d.quit:
			return
		case <-ob.Done():
			return
		case <-d.sig:
		case <-ob.Notify():
		case <-t.C: // a retry's pause ends
		}
	}
}

func (d *Downlink) setError(msg string) {
	d.mu.Lock()
	d.status.LastError = msg
	d.mu.Unlock()
	d.log.Warn("downlink: delivery failed, retrying", "err", msg)
}
