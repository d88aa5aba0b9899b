package mqtt

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/natshdr"
)

// MQTT 5 request/response with NATS responders. An MQTT 5 request carries
// a Response Topic and usually Correlation Data, which the requester
// matches replies by (paho.golang's rpc does). A NATS responder answers
// the reply subject and knows nothing of Correlation Data, so a request
// with Correlation Data gets a reply subject of its own,
// "$MQTT.rr.<token>": a reply there is republished on the Response
// Topic's subject with the Correlation Data added, where the requester
// (and anyone else subscribed to the Response Topic) gets it. MQTT 5
// responders see the original Response Topic and Correlation Data in
// their PUBLISH and answer the Response Topic directly.
const (
	rrPrefix = "$MQTT.rr."
	// rrTTL is how long a request's reply subject is honoured.
	rrTTL = 2 * time.Minute
	// rrMax bounds the table; past it the oldest half is forgotten.
	rrMax = 1 << 16
)

type rrEntry struct {
	subj    string // the Response Topic's subject
	corr    string // base64 Correlation Data
	expires time.Time
}

// replies is the table of pending request reply subjects.
type replies struct {
	b      *Broker
	prefix string // rrPrefix and this broker's own token: "$MQTT.rr.<id>."
	mu     sync.Mutex
	m      map[string]rrEntry
	rs     *router.Sub
}

func (b *Broker) startReplies() error {
	// A prefix of its own: the interest goes over leafnode links, and a
	// fleet of gateways all subscribed to $MQTT.rr.* would each get every
	// gateway's replies from the hub.
	var id [6]byte
	_, _ = rand.Read(id[:])
	rp := &replies{b: b, m: make(map[string]rrEntry), prefix: rrPrefix + base64.RawURLEncoding.EncodeToString(id[:]) + "."}
	rp.rs = &router.Sub{Subject: rp.prefix + "*", Receiver: rp}
	if err := b.r.Subscribe(rp.rs); err != nil {
		return err
	}
	b.replies = rp
	return nil
}

// replySubject registers a request's Response Topic subject and
// Correlation Data and returns the reply subject to publish it with.
func (rp *replies) replySubject(dst []byte, subj, corr []byte) []byte {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := time.Now()
	rp.mu.Lock()
	if len(rp.m) >= rrMax {
		for k, e := range rp.m {
			if now.After(e.expires) || len(rp.m) >= rrMax/2 {
				delete(rp.m, k)
			}
		}
	}
	rp.m[tok] = rrEntry{subj: string(subj), corr: base64.StdEncoding.EncodeToString(corr), expires: now.Add(rrTTL)}
	rp.mu.Unlock()
	dst = append(dst, rp.prefix...)
	return append(dst, tok...)
}

// Deliver republishes a reply on the requester's Response Topic. It runs
// on the replying publisher's goroutine; the republish is an ordinary
// router publish from there.
func (rp *replies) Deliver(_ *router.Sub, subj, _, hdr, payload []byte) bool {
	tok := strings.TrimPrefix(string(subj), rp.prefix)
	rp.mu.Lock()
	e, ok := rp.m[tok]
	if ok && time.Now().After(e.expires) {
		delete(rp.m, tok)
		ok = false
	}
	rp.mu.Unlock()
	if !ok {
		return false
	}
	var h []byte
	if len(hdr) > 0 && proto.HeaderGet(hdr, natshdr.CorrelationData) == nil {
		// Insert the Correlation Data before the header's closing CRLF.
		h = append(h, hdr[:len(hdr)-2]...)
	} else if len(hdr) > 0 {
		h = append(h, hdr...)
	} else {
		h = append(h, "NATS/1.0\r\n"...)
	}
	if proto.HeaderGet(hdr, natshdr.CorrelationData) == nil {
		h = append(h, natshdr.CorrelationData+": "...)
		h = append(h, e.corr...)
		h = append(h, "\r\n\r\n"...)
	}
	rp.b.r.Publish(&router.Publisher{}, []byte(e.subj), nil, h, payload)
	return false
}

func (rp *replies) Flush() {}
