package mqtt

import (
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/topic"
)

// will is a session's Will Message, checked and copied at CONNECT.
type will struct {
	name, subj, reply []byte
	hdr, payload      []byte
	retain            bool
	delay             uint32 // Will Delay Interval, seconds
	expiry            uint32 // Message Expiry Interval, seconds (0: none)
	v                 packet.Version
	qos               byte
}

// newWill checks a CONNECT's will like a publish of its topic, refusing
// the CONNECT when it could not be published.
func (c *conn) newWill(p *packet.Connect) (*will, error) {
	o := &c.b.opts
	subj, err := topic.AppendSubject(nil, p.WillTopic)
	if err != nil {
		if c.v == packet.V5 {
			return nil, c.refuseConnect(packet.TopicNameInvalid, 0, "will topic: "+err.Error())
		}
		return nil, err // 3.1.1: close without CONNACK
	}
	if o.Reserved.Has(string(subj)) || c.perms != nil && !c.perms.CanPublish(string(subj)) {
		return nil, c.refuseConnect(packet.NotAuthorized, packet.ConnackNotAuthorized, "will topic not allowed")
	}
	if p.WillRetain && o.Retained == nil { // [MQTT-3.2.2-12]
		return nil, c.refuseConnect(packet.RetainNotSupported, packet.ConnackServerUnavailable, "retain not available")
	}
	w := &will{
		name:    append([]byte(nil), p.WillTopic...),
		subj:    subj,
		payload: append([]byte(nil), p.WillPayload...),
		retain:  p.WillRetain,
		qos:     p.WillQoS,
		v:       c.v,
	}
	if c.v == packet.V5 {
		if err := packet.CheckPayloadFormat(&p.WillProps, p.WillPayload); err != nil {
			return nil, c.refuseConnect(packet.PayloadFormatInvalid, 0, "will payload is not UTF-8")
		}
		if p.WillProps.Has(packet.PropWillDelay) {
			w.delay = p.WillProps.WillDelay
		}
		if p.WillProps.Has(packet.PropMessageExpiry) {
			w.expiry = p.WillProps.MessageExpiry
		}
		if p.WillProps.Has(packet.PropResponseTopic) {
			if r, err := topic.AppendSubject(nil, p.WillProps.ResponseTopic); err == nil && !o.Reserved.Has(string(r)) {
				w.reply = r
			}
		}
		// The header is built now (the properties alias the read buffer)
		// with the expiry filled in when the will is published.
		pr := p.WillProps
		pr.Clear(packet.PropMessageExpiry)
		w.hdr, _ = natshdr.Append(nil, w.qos, w.retain, &pr, time.Time{})
	} else {
		w.hdr, _ = natshdr.Append(nil, w.qos, w.retain, nil, time.Time{})
	}
	return w, nil
}

// publishWill publishes a will to NATS and MQTT subscribers, and keeps it
// as the retained message when asked.
func (b *Broker) publishWill(w *will) {
	hdr := w.hdr
	var expires time.Time
	if w.expiry > 0 {
		expires = time.Now().Add(time.Duration(w.expiry) * time.Second)
		// Rebuild with the expiry, which counts from publication.
		var pr packet.Properties
		if w.v == packet.V5 {
			_, _ = natshdr.Parse(w.hdr, &pr, nil)
			hdr, _ = natshdr.Append(nil, w.qos, w.retain, &pr, expires)
		}
	}
	b.r.Publish(&router.Publisher{}, w.subj, w.reply, hdr, w.payload)
	if w.retain && b.opts.Retained != nil {
		b.opts.Retained.Set(w.name, hdr, w.payload, expires, func(err error) {
			if err != nil {
				b.log.Warn("mqtt: retained will not stored", "topic", string(w.name), "err", err)
			}
		})
	}
}
