// Package hubresume gets a nats-server hub's stream sources and mirrors
// of this gateway going again as soon as the leafnode link is back,
// instead of 30 to 40 s later.
//
// A hub stream that sources or mirrors a stream here asks for a consumer
// with a request to $JS.<domain>.API.CONSUMER.CREATE... and waits for the
// answer on a reply subject $JSC.R.<token> (nats-server's
// trySetupSourceConsumer, setupMirrorConsumer). It sends that request
// when its source goes quiet for 10 s and when it restarts. If the link
// is down at that moment the request is lost, and the hub waits 30 s
// for the answer before it backs off and tries again: a leaf that
// reconnects within a second is sourced again only after 38–40 s. When
// the leaf connects, nats-server retries the setups of its sources
// (checkInternalSyncConsumers), but not one still waiting for an answer.
//
// The hub lists the reply subjects it is waiting on among the interest
// it sends a leaf that connects. For each $JSC.R.<token> there, this
// package answers with JetStream's "minimum api level required" error
// (412, 10185). nats-server takes that as a responder that cannot serve
// the request as asked and sends it again at once, one API level lower
// (level 4 for a source, which keeps durable sourcing and flow-control
// acks; for a mirror, the consumer it used before nats-server 2.14). The
// request now reaches this gateway, which answers it. The stream identity
// check that level 5 adds is kept: this gateway's answer carries
// Nats-Stream-Identity at every level, and the hub compares it with the
// one it knew.
//
// The reply subject of a consumer delete the hub sent while the link was
// down gets the same error; the hub logs that the cleanup failed, which
// it also does when the request times out.
package hubresume

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// replyPrefix starts the reply subjects of the requests a nats-server
// stream sends to set up its sources and mirrors (infoReplySubject).
const replyPrefix = "$JSC.R."

// Answer is what a pending reply subject gets: the error nats-server's
// source and mirror setups answer by sending the request again at once.
var Answer = func() []byte {
	b, _ := json.Marshal(jsapi.Response{Type: jsapi.TypeConsumerCreate, Error: jsapi.ErrRequiredApiLevel})
	return b
}()

// Pending picks, from the interest a hub advertised when the link came
// up, the reply subjects of the setup requests it is waiting on.
func Pending(hubInterest []string) []string {
	var out []string
	for _, s := range hubInterest {
		if tok, ok := strings.CutPrefix(s, replyPrefix); ok && tok != "" && !strings.ContainsAny(tok, ".*>") {
			out = append(out, s)
		}
	}
	return out
}

// Resumer answers the pending setups of one link's hub, through the
// router.
type Resumer struct {
	r    *router.Router
	log  *slog.Logger
	sent atomic.Int64
}

// New returns a Resumer for one link that publishes with r.
func New(r *router.Router, log *slog.Logger) *Resumer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resumer{r: r, log: log}
}

// Settled answers the pending setups among a new session's first hub
// interest (leafnode.Remote.Settled). The answers go over the link only:
// the router sends an Upstream publish to no local subscriber.
func (x *Resumer) Settled(link string, hubInterest []string) {
	n := 0
	for _, subj := range Pending(hubInterest) {
		p := router.Publisher{Upstream: true}
		if x.r.Publish(&p, []byte(subj), nil, nil, Answer) > 0 {
			n++
		}
	}
	if n > 0 {
		x.sent.Add(int64(n))
		x.log.Info("leafnode: asked the hub to repeat the stream source and mirror setups it was waiting on",
			"leafnode", link, "requests", n)
	}
}

// Sent counts the setups asked again so far.
func (x *Resumer) Sent() int64 { return x.sent.Load() }
