package router

import (
	"sync"
	"sync/atomic"
)

// Confirm gathers the durable-store confirmations of one publish. A
// publisher that must not acknowledge a message before everything that
// keeps it has synced it (an MQTT PUBACK for a QoS 1 publish onto a
// stream-captured subject, a persistent session's queue) sets
// Publisher.Confirm; a receiver that stores messages durably calls Add
// in Deliver and Done once its commit has synced (or failed). The
// publisher calls Release after Publish returns; done runs exactly once,
// when the last of them has happened, with the first error reported.
//
// Receivers that do not store durably ignore Confirm: a publish nothing
// stores is confirmed at Release.
//
// Every Add must be matched by exactly one Done, also when the store
// rejects the message or stops before storing it, or done never runs.
// done runs on the goroutine of the last call (a stream's goroutine, or
// the publisher's at Release), so it must not block: hand the result to
// the publisher's own goroutine.
type Confirm struct {
	n    atomic.Int32 // outstanding Adds, plus one until Release
	mu   sync.Mutex
	err  error
	done func(error)

	// Shared is for the receivers of one publish to share what they
	// derive from it (MQTT stores a message body once for all the
	// persistent sessions it fans out to). They run one at a time on the
	// publisher's goroutine. Init clears it.
	Shared any
}

// NewConfirm returns a Confirm that calls done when the publish is
// confirmed.
func NewConfirm(done func(error)) *Confirm {
	c := &Confirm{done: done}
	c.n.Store(1)
	return c
}

// Init prepares a reused Confirm, as NewConfirm does. Call it only once
// the previous done has run.
func (c *Confirm) Init(done func(error)) {
	c.err = nil
	c.done = done
	c.Shared = nil
	c.n.Store(1)
}

// Add registers one pending durable store; call Done for it later. Adds
// happen during Publish, before Release.
func (c *Confirm) Add() { c.n.Add(1) }

// Done reports one durable store finished; err is non-nil when it failed
// (the message is not stored there, so the publisher must not ack it).
func (c *Confirm) Done(err error) {
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	c.dec()
}

// Release ends the publisher's hold, after Publish has returned.
func (c *Confirm) Release() { c.dec() }

func (c *Confirm) dec() {
	if c.n.Add(-1) != 0 {
		return
	}
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	c.done(err)
}
