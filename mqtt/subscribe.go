package mqtt

import (
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/topic"
)

// onSubscribe handles SUBSCRIBE: each filter is mapped, checked and
// subscribed (or refused in its SUBACK code), then the SUBACK goes out,
// then the matching retained messages [MQTT-3.8.4-4].
func (c *conn) onSubscribe(p *packet.Subscribe) error {
	o := &c.b.opts
	var id uint32
	if c.v == packet.V5 && len(p.Props.SubscriptionIDs) > 0 {
		id = p.Props.SubscriptionIDs[0]
	}
	codes := make([]byte, len(p.Filters))
	type retained struct {
		sub    *subscription
		filter []byte
	}
	var todo []retained
	for i := range p.Filters {
		f := &p.Filters[i]
		ts, err := topic.ParseFilter(f.Filter)
		if err == nil {
			err = o.Reserved.CheckFilter(f.Filter, ts)
		}
		if err != nil {
			codes[i] = c.subFailure(packet.ReasonCode(topic.ReasonCode(err)))
			continue
		}
		if ts.Share != "" && f.NoLocal { // [MQTT-3.8.3-4]
			return errProtocol("No Local on a shared subscription")
		}
		if c.perms != nil && (!c.perms.CanSubscribe(ts.Subject, ts.Share) ||
			ts.LevelUp != "" && !c.perms.CanSubscribe(ts.LevelUp, ts.Share)) {
			codes[i] = c.subFailure(packet.NotAuthorized)
			continue
		}
		sub, existed, err := c.s.subscribe(string(f.Filter), ts, f, id)
		if err != nil {
			c.b.log.Warn("mqtt subscribe failed", "client_id", c.clientID, "filter", string(f.Filter), "err", err)
			codes[i] = c.subFailure(packet.UnspecifiedError)
			continue
		}
		codes[i] = sub.qosGranted()
		// Retained messages: not for shared subscriptions; per Retain
		// Handling in 5.0 [MQTT-3.3.1-9..11].
		if o.Retained != nil && ts.Share == "" && (f.RetainHandling == 0 || f.RetainHandling == 1 && !existed) {
			todo = append(todo, retained{sub, f.Filter})
		}
	}
	pid := p.PacketID
	finish := func(err error) {
		if err != nil {
			// Not durable: refuse every filter, so the client does not
			// count on a subscription a restart would lose.
			for i := range codes {
				codes[i] = c.subFailure(packet.UnspecifiedError)
			}
			todo = nil
		}
		ack := packet.Suback{PacketID: pid, Codes: codes} // [MQTT-3.8.4-1]
		c.mu.Lock()
		c.out = ack.Append(c.out, c.v)
		c.kickLocked()
		c.mu.Unlock()
		for _, r := range todo {
			c.sendRetained(r.sub, r.filter)
		}
	}
	s := c.s
	s.mu.Lock()
	if s.storedLocked() {
		s.saveLocked(false, 0, finish)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	finish(nil)
	return nil
}

// subFailure is the SUBACK code refusing a filter.
func (c *conn) subFailure(code packet.ReasonCode) byte {
	if c.v != packet.V5 {
		return packet.SubackFailure
	}
	if code == 0 {
		code = packet.TopicFilterInvalid
	}
	return byte(code)
}

func (sub *subscription) qosGranted() byte {
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	return sub.qos
}

// sendRetained delivers the retained messages matching filter to sub,
// with RETAIN set [MQTT-3.3.1-8]; a message the user may not read is
// skipped, so retained messages leak nothing permissions hide.
func (c *conn) sendRetained(sub *subscription, filter []byte) {
	f := filter
	if _, rest, shared := packet.SplitShared(filter); shared {
		f = rest
	}
	var subj []byte
	c.b.opts.Retained.Match(f, func(name, hdr, payload []byte) {
		var err error
		subj, err = topic.AppendSubject(subj[:0], name)
		if err != nil {
			return
		}
		if c.perms != nil && (!c.perms.CanSubscribe(string(subj), "") || c.perms.DeliveryDenied(string(subj))) {
			return
		}
		sub.deliverRetained(c, name, hdr, payload)
	})
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
}

// deliverRetained queues one retained message for sub's session.
func (sub *subscription) deliverRetained(c *conn, name, hdr, payload []byte) {
	s := sub.s
	meta, _ := natshdr.Parse(hdr, nil, nil)
	qos := *s.b.opts.NATSQoS
	if meta.HasQoS {
		qos = meta.QoS
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != c || s.subs[sub.filter] != sub {
		return
	}
	qos = min(qos, sub.qos)
	if qos == 0 {
		c.sendQoS0(name, hdr, nil, payload, true, sub.id)
		return
	}
	m := newOutMsg(name, hdr, nil, payload, qos, true, sub.id)
	m.expires = meta.Expires
	if !s.enqueueLocked(m) {
		return
	}
	if s.storedLocked() {
		s.persistEnqueueLocked(nil, m, "")
		return
	}
	s.sendQueuedLocked()
}

// subscribe adds or replaces the subscription for filter [MQTT-3.8.4-3].
func (s *session) subscribe(filter string, ts topic.Sub, f *packet.Subscription, id uint32) (*subscription, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.subs[filter]; old != nil {
		old.qos, old.noLocal, old.rap, old.rh, old.id = min(f.QoS, 2), f.NoLocal, f.RetainAsPublished, f.RetainHandling, id
		return old, true, nil
	}
	sub := &subscription{s: s, filter: filter, qos: min(f.QoS, 2), noLocal: f.NoLocal,
		rap: f.RetainAsPublished, rh: f.RetainHandling, id: id, noDollar: ts.NoDollar, share: ts.Share}
	if err := sub.attach(ts); err != nil {
		return nil, false, err
	}
	s.subs[filter] = sub
	return sub, false, nil
}

// attach registers the subscription's router subscriptions.
func (sub *subscription) attach(ts topic.Sub) error {
	subjects := [2]string{ts.Subject, ts.LevelUp}
	for i, subj := range subjects {
		if subj == "" {
			continue
		}
		rs := &router.Sub{Subject: subj, Queue: ts.Share, Receiver: sub}
		if err := sub.s.b.r.Subscribe(rs); err != nil {
			sub.unsubscribe()
			return err
		}
		sub.rsubs[i] = rs
	}
	return nil
}

// onUnsubscribe handles UNSUBSCRIBE [MQTT-3.10.4-1..6].
func (c *conn) onUnsubscribe(p *packet.Unsubscribe) error {
	s := c.s
	var codes []byte
	if c.v == packet.V5 {
		codes = make([]byte, len(p.Filters))
	}
	s.mu.Lock()
	for i, f := range p.Filters {
		sub := s.subs[string(f)]
		if sub == nil {
			if codes != nil {
				codes[i] = byte(packet.NoSubscriptionExisted)
			}
			continue
		}
		sub.unsubscribe()
		delete(s.subs, string(f))
	}
	if s.storedLocked() {
		s.saveLocked(false, 0, nil)
	}
	s.mu.Unlock()
	ack := packet.Unsuback{PacketID: p.PacketID, Codes: codes}
	c.mu.Lock()
	c.out = ack.Append(c.out, c.v)
	c.kickLocked()
	c.mu.Unlock()
	return nil
}
