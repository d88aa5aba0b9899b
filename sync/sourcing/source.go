package sourcing

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Timings, nats-server's where leafgate has no reason to differ.
const (
	// heartbeat is the idle heartbeat asked of the origin's consumer
	// (nats-server's sourceHealthHB, the only one its flow_control ack
	// policy allows).
	heartbeat = time.Second
	// stallAfter: nothing from the origin (heartbeats included) for this
	// long and the consumer is created again (sourceHealthCheckInterval);
	// also the origin consumer's inactive threshold.
	stallAfter = 10 * time.Second
	// createTimeout bounds a create or reset request. nats-server waits
	// 30 s; leafgate only asks when the origin's API has interest, so an
	// answer that does not come in 10 s is not coming.
	createTimeout = 10 * time.Second
	// minRequestGap spaces create requests for one source.
	minRequestGap = 500 * time.Millisecond
	// maxBackoff caps the wait after failed requests.
	maxBackoff = 30 * time.Second
)

// Source states.
type state uint8

const (
	idle     state = iota // waiting to ask for a consumer
	draining              // restarting: waiting for its stores in flight
	creating              // a create or reset request is out
	active                // the consumer delivers
)

// source is one mirror or source of a stream, owned by its follower.
type source struct {
	cfg    jsapi.StreamSource
	mirror bool
	iname  string // the index name its position is kept under ("" for a mirror)
	id     string // stable hash naming its consumer
	trs    []*subject.Transform

	state    state
	gen      uint64 // setup generation: events of older ones are ignored
	epoch    uint64 // store epoch (jetstream.ReplMsg.Epoch)
	level    int    // API level asked for: 5, 4, or 0 (legacy)
	cname    string // the origin consumer
	ident    string // the origin stream's identity, as last answered
	deliver  string
	sub      *subscription
	reply    *subscription
	deadline time.Time
	lastReq  time.Time
	retryAt  time.Time
	fails    int

	stored   uint64 // last origin sequence durably stored
	sseq     uint64 // last origin sequence taken (stored or in flight)
	dseq     uint64 // last consumer sequence seen
	lag      uint64
	lastRecv time.Time
	err      *jsapi.Error
}

func newSource(stream string, ss jsapi.StreamSource, mirror bool) (*source, error) {
	s := &source{cfg: ss, mirror: mirror, level: 5}
	if mirror {
		s.level = 4
	} else {
		s.iname = jetstream.SourceIName(&ss)
	}
	s.id = shortHash(stream + "|" + s.iname + "|" + ss.Name)
	for _, tr := range ss.SubjectTransforms {
		src := tr.Source
		if src == "" {
			src = ">"
		}
		if tr.Destination == "" {
			continue
		}
		t, err := subject.NewTransform(src, tr.Destination)
		if err != nil {
			return nil, err
		}
		s.trs = append(s.trs, t)
	}
	return s, nil
}

// apiPrefix is where the origin's JetStream API is: its external prefix
// (a domain is one, $JS.<domain>.API), or this server's.
func (s *source) apiPrefix() string {
	if s.cfg.External != nil && s.cfg.External.APIPrefix != "" {
		return strings.TrimSuffix(s.cfg.External.APIPrefix, ".")
	}
	return "$JS.API"
}

// filters are the consumer's filter subjects.
func (s *source) filters() []string {
	if s.cfg.FilterSubject != "" {
		return []string{s.cfg.FilterSubject}
	}
	var out []string
	for _, tr := range s.cfg.SubjectTransforms {
		if tr.Source != "" {
			out = append(out, tr.Source)
		}
	}
	return out
}

// requestSubject is where a create (or, for a named durable, reset)
// request goes.
func (s *source) requestSubject(name string, filters []string) string {
	switch {
	case s.cfg.Consumer != nil:
		return s.apiPrefix() + ".CONSUMER.RESET." + s.cfg.Name + "." + s.cfg.Consumer.Name
	case len(filters) == 1:
		return s.apiPrefix() + ".CONSUMER.CREATE." + s.cfg.Name + "." + name + "." + filters[0]
	default:
		return s.apiPrefix() + ".CONSUMER.CREATE." + s.cfg.Name
	}
}

// consumerName is the name asked for: stable, so the origin replaces a
// consumer left from before rather than adding one (nats-server adds a
// random suffix for direct consumers); random under the legacy level.
func (s *source) consumerName() string {
	kind := "JS_SRC_"
	if s.mirror {
		kind = "JS_MIRROR_"
	}
	if s.level == 0 {
		return kind + s.id + "_" + inbox.Token(8)
	}
	return kind + s.id
}

// deliverSubject is a fresh subject for the consumer to deliver to.
func (s *source) deliverSubject() string {
	if s.cfg.Consumer != nil {
		return s.cfg.Consumer.DeliverSubject
	}
	kind := ".S."
	if s.mirror {
		kind = ".M."
	}
	prefix := "$JS"
	if s.cfg.External != nil && s.cfg.External.DeliverPrefix != "" {
		prefix = strings.TrimSuffix(s.cfg.External.DeliverPrefix, ".")
	}
	return prefix + kind + inbox.Token(10)
}

// createRequest is the consumer create request, as nats-server's.
func (s *source) createRequest(stream, account, domain string, filters []string, name string, startTime time.Time) []byte {
	cc := jsapi.ConsumerConfig{
		Name: name, DeliverSubject: s.deliver, AckPolicy: jsapi.AckNone,
		AckWait: 22 * time.Hour, MaxDeliver: 1, Heartbeat: heartbeat, FlowControl: true, ReplayPolicy: jsapi.ReplayInstant,
		Direct: true, Sourcing: s.level > 0, InactiveThreshold: stallAfter,
	}
	kind := "src"
	if s.mirror {
		kind = "mirror"
	}
	cc.Metadata = map[string]string{"_nats." + kind + ".stream": stream, "_nats." + kind + ".acc": account}
	if domain != "" {
		cc.Metadata["_nats."+kind+".domain"] = domain
	}
	switch {
	case s.sseq > 0:
		cc.DeliverPolicy, cc.OptStartSeq = jsapi.DeliverByStartSeq, s.sseq+1
	case s.cfg.OptStartSeq > 0:
		cc.DeliverPolicy, cc.OptStartSeq = jsapi.DeliverByStartSeq, s.cfg.OptStartSeq
	case s.cfg.OptStartTime != nil:
		t := *s.cfg.OptStartTime
		cc.DeliverPolicy, cc.OptStartTime = jsapi.DeliverByStartTime, &t
	case !startTime.IsZero():
		cc.DeliverPolicy, cc.OptStartTime = jsapi.DeliverByStartTime, &startTime
	default:
		cc.DeliverPolicy = jsapi.DeliverAll
	}
	if len(filters) == 1 {
		cc.FilterSubject = filters[0]
	} else {
		cc.FilterSubjects = filters
	}
	b, _ := json.Marshal(jsapi.CreateConsumerRequest{Stream: s.cfg.Name, Config: cc})
	return b
}

// transform maps an origin subject by the source's transforms (the first
// that matches); unmatched subjects stay.
func (s *source) transform(subj string) string {
	for _, t := range s.trs {
		if out, ok := t.Apply(subj); ok {
			return out
		}
	}
	return subj
}

// backoff is the wait before the next request after fails failures.
func backoff(fails int) time.Duration {
	if fails <= 0 {
		return 0
	}
	d := time.Second << min(fails-1, 5)
	return min(d, maxBackoff)
}

// info is the source's STREAM.INFO entry.
func (s *source) info(now time.Time) *jsapi.StreamSourceInfo {
	si := &jsapi.StreamSourceInfo{
		Name: s.cfg.Name, External: s.cfg.External, Lag: s.lag,
		FilterSubject: s.cfg.FilterSubject, SubjectTransforms: s.cfg.SubjectTransforms,
		Active: -1, Error: s.err,
	}
	if !s.lastRecv.IsZero() {
		si.Active = now.Sub(s.lastRecv)
	}
	return si
}

// alphabet spells shortHash, base 62.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	b := make([]byte, 8)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(b)
}
