package mqtt

import (
	"errors"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/topic"
	"github.com/leafgate/leafgate/store/jsapi"
)

// inboundAck is a PUBACK or PUBREC owed to the client for one of its QoS
// 1 or 2 publishes, or a PUBCOMP for a PUBREL. Acks go out in the order
// the packets arrived [MQTT-4.6.0-2..4], each once everything that keeps
// the message has made it durable (router.Confirm).
type inboundAck struct {
	c    *conn
	typ  packet.Type
	pid  uint16
	code packet.ReasonCode
	why  string // 5.0 Reason String for an error code
	done bool
	drop bool // 3.1.1 store failure: no ack, so the client sends it again
	conf router.Confirm
}

// queueAck registers an ack owed in arrival order and returns it; the
// caller calls a.confirm (directly or through a.conf) when it is due.
func (c *conn) queueAck(typ packet.Type, pid uint16) *inboundAck {
	a := &inboundAck{c: c, typ: typ, pid: pid}
	c.mu.Lock()
	c.acks = append(c.acks, a)
	c.mu.Unlock()
	return a
}

// confirmed is the router.Confirm callback: the publish is durable
// everywhere it had to be, or err says where it is not.
func (a *inboundAck) confirmed(err error) {
	c := a.c
	c.mu.Lock()
	a.done = true
	if err != nil {
		if c.v == packet.V5 {
			a.code = storeErrorCode(err)
			a.why = "not stored: " + err.Error()
		} else {
			a.drop = true
		}
	}
	c.releaseAcksLocked()
	c.kickLocked()
	c.mu.Unlock()
	if err != nil && a.typ == packet.PUBREC {
		// The QoS 2 flow ends here: the retry is a new message.
		s := c.s
		s.mu.Lock()
		delete(s.incoming, a.pid)
		s.mu.Unlock()
		s.persistIncoming(a.pid, false, nil)
	}
}

// releaseAcksLocked sends the acks at the head of the queue that are due.
func (c *conn) releaseAcksLocked() {
	n := 0
	for _, a := range c.acks {
		if !a.done {
			break
		}
		n++
		if a.typ != packet.PUBREC {
			c.inflight-- // PUBACK or PUBCOMP ends the publish's quota use
		} else if a.code.IsError() || a.drop {
			c.inflight--
		}
		if a.drop || c.closed {
			continue
		}
		ack := packet.Ack{PacketType: a.typ, PacketID: a.pid, Code: a.code}
		if a.why != "" && c.problemInfo && len(a.why) < 1024 {
			ack.Props.ReasonString = []byte(a.why)
			ack.Props.Set(packet.PropReasonString)
			if c.maxOut > 0 && ack.Len(c.v) > c.maxOut { // [MQTT-3.4.2-2]
				ack.Props = packet.Properties{}
			}
		}
		c.out = ack.Append(c.out, c.v)
	}
	if n > 0 {
		rest := copy(c.acks, c.acks[n:])
		clear(c.acks[rest:])
		c.acks = c.acks[:rest]
	}
}

// storeErrorCode maps a stream's refusal to a 5.0 reason code: a limit
// (max_msgs, max_bytes, max_msgs_per_subject with discard new, the
// account's store limits, a full disk) is 0x97 Quota exceeded, a stream
// refusing for load (429) 0x96 Message rate too high, a failed write 0x80,
// any other refusal (a sealed stream) 0x83.
func storeErrorCode(err error) packet.ReasonCode {
	var je *jsapi.Error
	if !errors.As(err, &je) {
		return packet.UnspecifiedError
	}
	switch je.ErrCode {
	case jsapi.ErrStreamTooManyRequests.ErrCode:
		return packet.MessageRateTooHigh
	case jsapi.ErrAccountResourcesExceeded.ErrCode, jsapi.ErrInsufficientResources.ErrCode:
		return packet.QuotaExceeded
	case jsapi.ErrStreamStoreFailedF.ErrCode:
		// JetStream reports limits with the store-failed code, as
		// nats-server does; the description tells them apart.
		d := je.Description
		if strings.HasSuffix(d, " exceeded") || strings.Contains(d, "no space left") {
			return packet.QuotaExceeded
		}
		return packet.UnspecifiedError
	}
	return packet.ImplementationSpecificError
}

// onPublish handles a PUBLISH from the client.
func (c *conn) onPublish(p *packet.Publish) error {
	o := &c.b.opts
	s := c.s
	c.b.stats.InMsgs.Add(1)
	name := p.Topic
	if c.v == packet.V5 {
		if len(p.Props.SubscriptionIDs) > 0 { // [MQTT-3.3.4-6]
			return errProtocol("PUBLISH from a client with a subscription identifier")
		}
		if p.Props.Has(packet.PropTopicAlias) {
			a := p.Props.TopicAlias
			if int(a) >= len(c.aliasIn) { // [MQTT-3.3.2-9], [MQTT-3.3.2-10]
				return errProtocolCode(packet.TopicAliasInvalid, "topic alias above the maximum")
			}
			if len(name) > 0 {
				c.aliasIn[a] = append(c.aliasIn[a][:0], name...)
			} else if name = c.aliasIn[a]; name == nil {
				return errProtocol("topic alias not set on this connection")
			}
		} else if len(name) == 0 {
			return errProtocol("empty topic name without a topic alias")
		}
	}
	if p.QoS > 0 {
		c.mu.Lock()
		over := c.inflight >= int(o.ReceiveMaximum)
		if !over || c.v != packet.V5 {
			c.inflight++
		}
		c.mu.Unlock()
		if over && c.v == packet.V5 { // [MQTT-3.3.4-9]
			return errProtocolCode(packet.ReceiveMaximumExceeded, "receive maximum exceeded")
		}
	}
	if p.QoS == 2 {
		s.mu.Lock()
		_, dup := s.incoming[p.PacketID]
		if !dup {
			s.incoming[p.PacketID] = struct{}{}
		}
		s.mu.Unlock()
		if dup { // already have it: acknowledge again, deliver once [MQTT-4.3.3-10]
			a := c.queueAck(packet.PUBREC, p.PacketID)
			a.confirmed(nil)
			return nil
		}
	}
	code, err := c.checkPublish(p, name)
	if err != nil {
		return err
	}
	if code != 0 {
		c.refusePublish(p, code, reasonText(code, c.subjBuf))
		return nil
	}

	var expires time.Time
	var props *packet.Properties
	if c.v == packet.V5 {
		props = &p.Props
		if p.Props.Has(packet.PropMessageExpiry) {
			expires = time.Now().Add(time.Duration(p.Props.MessageExpiry) * time.Second)
		}
	}
	hdr, dropped := natshdr.Append(c.hdrBuf[:0], p.QoS, p.Retain, props, expires)
	c.hdrBuf = hdr
	if dropped > 0 {
		c.b.stats.DroppedProps.Add(int64(dropped))
	}
	var reply []byte
	if props != nil && props.Has(packet.PropResponseTopic) {
		if r, err := topic.AppendSubject(c.replyBuf[:0], props.ResponseTopic); err == nil && !o.Reserved.Has(string(r)) &&
			(c.perms == nil || c.perms.CanSubscribe(string(r), "")) {
			c.replyBuf = r
			reply = r
			if props.Has(packet.PropCorrelationData) && c.b.replies != nil {
				// A reply subject that brings the Correlation Data back.
				c.rrBuf = c.b.replies.replySubject(c.rrBuf[:0], r, props.CorrelationData)
				reply = c.rrBuf
			}
		}
	}
	subj := c.subjBuf

	if p.QoS == 0 {
		c.b.r.Publish(&c.publisher, subj, reply, hdr, p.Payload)
		if p.Retain {
			o.Retained.Set(name, hdr, p.Payload, expires, c.retainFailed)
		}
		return nil
	}
	typ := packet.PUBACK
	if p.QoS == 2 {
		typ = packet.PUBREC
	}
	a := c.queueAck(typ, p.PacketID)
	a.conf.Init(a.confirmed)
	if p.QoS == 2 {
		c.s.persistIncoming(p.PacketID, true, &a.conf)
	}
	c.publisher.Confirm = &a.conf
	n := c.b.r.Publish(&c.publisher, subj, reply, hdr, p.Payload)
	c.publisher.Confirm = nil
	if n == 0 && c.v == packet.V5 && !p.Retain {
		a.code = packet.NoMatchingSubscribers
	}
	if p.Retain {
		a.conf.Add()
		o.Retained.Set(name, hdr, p.Payload, expires, a.conf.Done)
	}
	a.conf.Release()
	return nil
}

func (c *conn) retainFailed(err error) {
	if err != nil {
		c.b.log.Warn("mqtt: retained message not stored", "client_id", c.clientID, "err", err)
	}
}

// checkPublish maps the topic into c.subjBuf and checks it. A non-zero
// code refuses the message (an ack carrying it in 5.0); an error closes
// the connection.
func (c *conn) checkPublish(p *packet.Publish, name []byte) (packet.ReasonCode, error) {
	o := &c.b.opts
	if c.v == packet.V5 {
		if err := packet.CheckPayloadFormat(&p.Props, p.Payload); err != nil {
			return packet.PayloadFormatInvalid, nil
		}
	}
	if p.Retain && o.Retained == nil { // [MQTT-3.3.1-?] Retain Available 0
		return 0, errProtocolCode(packet.RetainNotSupported, "retain is not available")
	}
	subj, err := topic.AppendSubject(c.subjBuf[:0], name)
	if err != nil {
		if c.v != packet.V5 {
			return 0, err // 3.1.1 has no way to refuse it but closing, as nats-server does
		}
		return packet.ReasonCode(topic.ReasonCode(err)), nil
	}
	c.subjBuf = subj
	if o.Reserved.Has(string(subj)) || (c.perms != nil && !c.perms.CanPublish(string(subj))) {
		c.b.log.Debug("mqtt publish not authorized", "client_id", c.clientID, "subject", string(subj))
		return packet.NotAuthorized, nil
	}
	return 0, nil
}

// refusePublish answers a refused publish: in 5.0 an ack with code; in
// 3.1.1 the message is dropped and acknowledged, since the client would
// otherwise resend it forever.
func (c *conn) refusePublish(p *packet.Publish, code packet.ReasonCode, why string) {
	if p.QoS == 0 {
		return
	}
	typ := packet.PUBACK
	if p.QoS == 2 {
		typ = packet.PUBREC
	}
	a := c.queueAck(typ, p.PacketID)
	if c.v == packet.V5 {
		a.code, a.why = code, why
	}
	if p.QoS == 2 && c.v == packet.V5 {
		s := c.s
		s.mu.Lock()
		delete(s.incoming, p.PacketID)
		s.mu.Unlock()
	}
	c.mu.Lock()
	a.done = true
	c.releaseAcksLocked()
	c.kickLocked()
	c.mu.Unlock()
}

// onPubrel completes an inbound QoS 2 flow: PUBCOMP [MQTT-4.3.3-11].
func (c *conn) onPubrel(pid uint16) error {
	s := c.s
	s.mu.Lock()
	_, ok := s.incoming[pid]
	delete(s.incoming, pid)
	s.mu.Unlock()
	a := c.queueAck(packet.PUBCOMP, pid)
	if !ok {
		if c.v == packet.V5 {
			a.code = packet.PacketIdentifierNotFound
		}
		c.mu.Lock()
		c.inflight++ // balanced by the PUBCOMP release
		c.mu.Unlock()
		a.confirmed(nil)
		return nil
	}
	// PUBCOMP once the release is durable, so a PUBLISH reusing the id
	// after a restart is not taken for the old one.
	a.conf.Init(a.confirmed)
	s.persistIncoming(pid, false, &a.conf)
	a.conf.Release()
	return nil
}

// reasonText is the Reason String for a refused publish.
func reasonText(code packet.ReasonCode, subj []byte) string {
	switch code {
	case packet.NotAuthorized:
		return "not authorized to publish to " + string(subj)
	case packet.PayloadFormatInvalid:
		return "payload is not UTF-8 although its Payload Format Indicator says so"
	case packet.TopicNameInvalid:
		return "topic name cannot be mapped to a NATS subject"
	}
	return ""
}
