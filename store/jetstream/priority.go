package jetstream

import (
	"crypto/rand"
	"math"
	"time"

	"github.com/leafgate/leafgate/store/jsapi"
)

// Priority groups, as nats-server 2.11+ has them. A pull consumer with a
// priority policy serves the pull requests naming one of its priority
// groups by that policy:
//
//   - overflow: a request with min_pending / min_ack_pending is served
//     only while the consumer has at least that many messages pending
//     (counting the one about to go) or unacknowledged; a request without
//     thresholds is served as usual.
//   - pinned_client: the first request without a pin id gets the pin: the
//     server picks an id and sends it as the Nats-Pin-Id header on every
//     message it delivers. While a pin is held, only requests carrying it
//     are served; requests without an id wait, requests with another id
//     end with 423. The pin goes after priority_timeout without a request
//     carrying it, or by CONSUMER.UNPIN, and the next request takes over.
//   - prioritized: requests are served by their priority, 0 first, 9 last;
//     requests of equal priority take turns.
//
// Everything here runs on the stream's goroutine, as the rest of the
// consumer; the pin state is the consumer's.

// defaultPinnedTTL is nats-server's priority_timeout default for
// pinned_client consumers.
const defaultPinnedTTL = 2 * time.Minute

// pinIDHeader carries the pin id on messages of a pinned_client consumer.
const pinIDHeader = "Nats-Pin-Id"

// validGroupName reports whether g is a priority group name nats-server
// accepts: 1 to 16 of A-Z a-z 0-9 / _ = -.
func validGroupName(g string) bool {
	if len(g) == 0 || len(g) > 16 {
		return false
	}
	for i := 0; i < len(g); i++ {
		switch b := g[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '/', b == '_', b == '=', b == '-':
		default:
			return false
		}
	}
	return true
}

// checkPriorityConfig rejects the priority settings nats-server rejects,
// in its order.
func checkPriorityConfig(cc *jsapi.ConsumerConfig) *jsapi.Error {
	if cc.PriorityPolicy == jsapi.PriorityNone {
		if len(cc.PriorityGroups) > 0 {
			return jsapi.ErrConsumerPriorityGroupWithPolicyNone
		}
		if cc.PinnedTTL > 0 {
			return jsapi.ErrConsumerPinnedTTLWithoutPriorityPolicyNone
		}
		return nil
	}
	if cc.DeliverSubject != "" {
		return jsapi.ErrConsumerPushWithPriorityGroup
	}
	if len(cc.PriorityGroups) == 0 {
		return jsapi.ErrConsumerPriorityPolicyWithoutGroup
	}
	for _, g := range cc.PriorityGroups {
		if g == "" {
			return jsapi.ErrConsumerEmptyGroupName
		}
		if !validGroupName(g) {
			return jsapi.ErrConsumerInvalidGroupName
		}
	}
	return nil
}

// priority is the request's rank in a prioritized queue; a request
// without a priority group (a bare batch size) goes last.
func (wr *pullRequest) priority() int {
	if !wr.hasPG {
		return math.MaxInt32
	}
	return wr.pg.Priority
}

// checkPullPriority validates a pull request's priority group as
// nats-server's processNextMsgRequest does. It returns the status to end
// the request with, 0 when it may wait. A request carrying the current pin
// id renews the pin.
func (c *consumer) checkPullPriority(pg *jsapi.PriorityGroup) (int, string) {
	pol := c.cfg.PriorityPolicy
	if (pg.MinPending != 0 || pg.MinAckPending != 0) && pol != jsapi.PriorityOverflow {
		return 400, "Bad Request - Not a Overflow Priority consumer"
	}
	if pg.ID != "" && pol != jsapi.PriorityPinnedClient {
		return 400, "Bad Request - Not a Pinned Client Priority consumer"
	}
	if pg.Priority < 0 || pg.Priority > 9 {
		return 400, "Bad Request - Priority must be between 0 and 9"
	}
	if pol == jsapi.PriorityNone {
		return 0, ""
	}
	if pg.Group == "" {
		return 400, "Bad Request - Priority Group missing"
	}
	known := false
	for _, g := range c.cfg.PriorityGroups {
		known = known || g == pg.Group
	}
	if !known {
		return 400, "Bad Request - Invalid Priority Group"
	}
	if c.pinID != "" {
		if pg.ID == c.pinID {
			c.renewPin()
		} else if pg.ID != "" {
			return 423, "Nats-Pin-Id mismatch"
		}
	}
	return 0, ""
}

// addWaiting queues a pull request: under the prioritized policy before
// the first request of a lower priority (a higher number), else at the
// back.
func (c *consumer) addWaiting(wr *pullRequest) {
	if c.cfg.PriorityPolicy == jsapi.PriorityPrioritized {
		i := c.priorityPos(c.waiting, wr.priority())
		c.waiting = append(c.waiting, nil)
		copy(c.waiting[i+1:], c.waiting[i:])
		c.waiting[i] = wr
		return
	}
	c.waiting = append(c.waiting, wr)
}

// priorityPos is the index of the first request in q with a priority
// after p.
func (c *consumer) priorityPos(q []*pullRequest, p int) int {
	for i, wr := range q {
		if wr.priority() > p {
			return i
		}
	}
	return len(q)
}

// served moves the head request on after it got a message: a finished
// request leaves; otherwise it goes to the back (under prioritized, the
// back of its priority), so every waiting client gets work, as
// nats-server's round robin.
func (c *consumer) served(wr *pullRequest) {
	if wr.n <= 0 {
		c.waiting = c.waiting[1:]
		return
	}
	if len(c.waiting) <= 1 {
		return
	}
	i := len(c.waiting) - 1
	if c.cfg.PriorityPolicy == jsapi.PriorityPrioritized {
		i = c.priorityPos(c.waiting[1:], wr.priority())
	}
	copy(c.waiting[:i], c.waiting[1:i+1])
	c.waiting[i] = wr
}

// cycleWaiting moves the head request, which may not take the message at
// hand, to the back. It reports whether every request has now been passed
// over.
func (c *consumer) cycleWaiting(cycled *int) bool {
	wr := c.waiting[0]
	copy(c.waiting, c.waiting[1:])
	c.waiting[len(c.waiting)-1] = wr
	*cycled++
	return *cycled >= len(c.waiting)
}

// nextWaiting picks the request the next message goes to, as
// nats-server's nextWaiting: size is the message's size as max_bytes
// counts it, pend the messages left pending once it is delivered. Requests
// that can no longer be served are ended on the way (a stale pin id, a
// message over the bytes left). The request returned is c.waiting[0], its
// max_bytes already charged; nil means no waiting request may take the
// message now.
func (c *consumer) nextWaiting(size int, pend uint64) *pullRequest {
	pol := c.cfg.PriorityPolicy
	needPin := c.pinID == "" && pol == jsapi.PriorityPinnedClient
	cycled := 0
	for len(c.waiting) > 0 {
		wr := c.waiting[0]
		if !c.ms.svc.r.HasInterest([]byte(wr.reply)) {
			c.waiting = c.waiting[1:]
			continue
		}
		pinned := false
		switch {
		case needPin:
			if wr.hasPG && wr.pg.ID != "" {
				// An id from an earlier pin.
				c.endRequest(wr, 423, "Nats-Wrong-Pin-Id", true)
				continue
			}
			pinned = c.pin(wr)
		case c.pinID != "":
			if !wr.hasPG || wr.pg.ID == "" {
				if c.cycleWaiting(&cycled) {
					return nil
				}
				continue
			}
			if wr.pg.ID != c.pinID {
				c.endRequest(wr, 423, "Nats-Wrong-Pin-Id", true)
				continue
			}
		}
		if pol == jsapi.PriorityOverflow && !c.overflowing(wr, pend) {
			if c.cycleWaiting(&cycled) {
				return nil
			}
			continue
		}
		if wr.limitB {
			if size > wr.maxBytes {
				c.endRequest(wr, 409, "Message Size Exceeds MaxBytes", true)
				if pinned {
					c.unpin() // nats-server sends no advisory here
				}
				continue
			}
			wr.maxBytes -= size
			if wr.maxBytes == 0 {
				// Exactly used up: this message is the request's last.
				wr.n = 1
			}
		}
		return wr
	}
	return nil
}

// overflowing reports whether an overflow request may take a message now:
// it has no thresholds, or the consumer is at or over one of them. pend
// excludes the message at hand, nats-server's npc+1 counts it.
func (c *consumer) overflowing(wr *pullRequest, pend uint64) bool {
	if !wr.hasPG || (wr.pg.MinPending <= 0 && wr.pg.MinAckPending <= 0) {
		return true
	}
	if wr.pg.MinPending > 0 && uint64(wr.pg.MinPending) <= pend+1 {
		return true
	}
	return wr.pg.MinAckPending > 0 && wr.pg.MinAckPending <= int64(len(c.pending))
}

// pin gives the pin to wr's client. A request without a priority group
// (a bare batch size) is served without taking it, as by nats-server.
func (c *consumer) pin(wr *pullRequest) bool {
	if !wr.hasPG || wr.pg.Group == "" {
		return false
	}
	c.pinID = newPinID()
	c.pinGroup = wr.pg.Group
	c.pinnedTS = c.ms.svc.now().UTC()
	wr.pg.ID = c.pinID
	c.renewPin()
	c.notePinned()
	return true
}

// renewPin restarts the pin's priority_timeout.
func (c *consumer) renewPin() {
	c.pinExpires = c.ms.svc.now().Add(c.cfg.PinnedTTL)
	c.ms.armWake(c.pinExpires)
}

// unpin drops the pin.
func (c *consumer) unpin() {
	c.pinID, c.pinGroup = "", ""
	c.pinnedTS, c.pinExpires = time.Time{}, time.Time{}
}

// expirePin drops a pin whose priority_timeout passed without a request
// carrying it; the next request takes over.
func (c *consumer) expirePin(t time.Time) {
	if c.pinID == "" || c.pinExpires.IsZero() {
		return
	}
	if !t.Before(c.pinExpires) {
		group := c.pinGroup
		c.unpin()
		c.noteUnpinned(group, "timeout")
		return
	}
	c.ms.armWake(c.pinExpires)
}

// notePinned sends the consumer_group_pinned advisory for the new pin.
func (c *consumer) notePinned() {
	subj := c.consumerEvent(jsapi.AdvisoryConsumerPinned)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	svc.sendEvent(subj, &jsapi.GroupPinned{
		Event: svc.event(jsapi.TypeConsumerGroupPinned), Account: globalAccount, Stream: c.ms.name, Consumer: c.name,
		Domain: svc.cfg.Domain, Group: c.pinGroup, PinnedID: c.pinID,
	})
}

// noteUnpinned sends the consumer_group_unpinned advisory; reason is
// "timeout" or "admin", as from nats-server.
func (c *consumer) noteUnpinned(group, reason string) {
	subj := c.consumerEvent(jsapi.AdvisoryConsumerUnpinned)
	if subj == nil {
		return
	}
	svc := c.ms.svc
	svc.sendEvent(subj, &jsapi.GroupUnpinned{
		Event: svc.event(jsapi.TypeConsumerGroupUnpinned), Account: globalAccount, Stream: c.ms.name, Consumer: c.name,
		Domain: svc.cfg.Domain, Group: group, Reason: reason,
	})
}

// priorityGroupsInfo is ConsumerInfo's priority_groups: as nats-server, one
// entry for the first group, which holds the consumer's pin.
func (c *consumer) priorityGroupsInfo() []jsapi.PriorityGroupState {
	if len(c.cfg.PriorityGroups) == 0 {
		return nil
	}
	return []jsapi.PriorityGroupState{{Group: c.cfg.PriorityGroups[0], PinnedClientID: c.pinID, PinnedTS: c.pinnedTS}}
}

// newPinID returns a random 22-character id, as long as nats-server's nuid.
func newPinID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
