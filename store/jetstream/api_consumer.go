package jetstream

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// storedConsumer is a consumer's persisted definition.
type storedConsumer struct {
	Config  jsapi.ConsumerConfig `json:"config"`
	Created time.Time            `json:"created"`
}

type consumerInfoResp struct {
	jsapi.Response
	*jsapi.ConsumerInfo
}

// consumerCreate handles CONSUMER.CREATE.<stream>[.<name>[.<filter>]] and
// the legacy CONSUMER.DURABLE.CREATE.<stream>.<durable>.
func (s *Service) consumerCreate(streamName, name, filter string, named bool, hdr, body []byte, legacyDurable bool) any {
	const typ = jsapi.TypeConsumerCreate
	var req jsapi.CreateConsumerRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	maxLevel := apiLevel
	if req.Config.Sourcing || req.Config.AckPolicy == jsapi.AckFlowControl {
		maxLevel = sourcingLevel
	}
	if levelTooHigh(hdr, maxLevel) {
		return s.fail(typ, jsapi.ErrRequiredApiLevel)
	}
	if req.Stream != "" && req.Stream != streamName {
		return s.fail(typ, jsapi.ErrStreamMismatch)
	}
	cc := req.Config
	switch {
	case legacyDurable:
		if cc.Durable == "" {
			return s.fail(typ, jsapi.ErrConsumerDurableNameNotSet)
		}
		if cc.Durable != name {
			return s.fail(typ, jsapi.ErrConsumerDurableNameNotMatchSubject)
		}
		cc.Name = name
	case named:
		// As nats-server's jsConsumerCreateRequest: a durable name must
		// match the subject's; the subject's name is the consumer's,
		// whatever the config's name says.
		if cc.Durable != "" && cc.Durable != name {
			return s.fail(typ, jsapi.ErrConsumerDurableNameNotMatchSubject)
		}
		cc.Name = name
		if filter != "" {
			if len(cc.FilterSubjects) > 0 {
				return s.fail(typ, jsapi.ErrConsumerMultipleFiltersNotAllowed)
			}
			if cc.FilterSubject != filter {
				return s.fail(typ, jsapi.ErrConsumerCreateFilterSubjectMismatch)
			}
		}
	default:
		if cc.Durable != "" {
			return s.fail(typ, jsapi.ErrConsumerEphemeralWithDurableName)
		}
	}
	if cc.Durable != "" && cc.Name != "" && cc.Durable != cc.Name {
		return s.fail(typ, jsapi.ErrConsumerCreateDurableAndNameMismatch)
	}
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	scfg := st.config()
	// A stream sourcing this one asks for a direct consumer under a
	// stable name. As nats-server (standalone): from a work-queue or
	// interest stream it becomes a durable acknowledged by flow-control
	// replies, so nothing is removed before the source stored it (ADR-60;
	// nats-server #3207); otherwise the name gets a random suffix.
	if cc.Direct && cc.Sourcing && cc.Name != "" {
		if scfg.Retention != jsapi.LimitsPolicy {
			cc.Direct = false
			cc.Durable = cc.Name
			cc.AckPolicy = jsapi.AckFlowControl
			cc.AckWait = 0
			cc.MaxDeliver = 0
			cc.InactiveThreshold = 0
		} else {
			cc.Name += "-" + randomName()
		}
	}
	// The origin stream's identity: a source that expected another one
	// (the stream was deleted and created again) is told so, and starts
	// over instead of waiting for sequences that will never come.
	var identity string
	if cc.Direct || cc.Sourcing {
		identity = st.identity()
		if want := proto.HeaderGet(hdr, streamIdentityHeader); len(want) > 0 && string(want) != identity {
			return s.fail(typ, jsapi.ErrConsumerStreamIdentityMismatchF.With("msg", identity))
		}
	}
	if cc.Sourcing && cc.Durable != "" {
		// An existing durable sourcing consumer keeps its start.
		st.do(func() {
			if c := st.consumers[cc.Durable]; c != nil {
				cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = c.cfg.DeliverPolicy, c.cfg.OptStartSeq, c.cfg.OptStartTime
			}
		})
	}
	if e := checkConsumerConfig(&cc, &scfg); e != nil {
		return s.fail(typ, e)
	}
	cname := cc.Durable
	if cname == "" {
		cname = cc.Name
	}
	if cname == "" {
		cname = randomName()
	}
	if cc.Durable == "" && cc.Name == "" {
		cc.Name = cname
	} else if cc.Name == "" {
		cc.Name = cc.Durable
	}
	var resp any
	st.do(func() { resp = st.createConsumer(cname, cc, req.Action) })
	if e, ok := resp.(*jsapi.Error); ok {
		return s.fail(typ, e)
	}
	ok := consumerInfoResp{jsapi.Response{Type: typ}, resp.(*jsapi.ConsumerInfo)}
	if identity != "" {
		return headed{hdr: appendHeaderLine(nil, nil, streamIdentityHeader, identity), resp: ok}
	}
	return ok
}

// createConsumer runs on the stream's goroutine.
func (ms *stream) createConsumer(name string, cc jsapi.ConsumerConfig, action string) any {
	scfg := ms.config()
	if c := ms.consumers[name]; c != nil {
		if action == jsapi.ActionCreate && !reflect.DeepEqual(c.cfg, cc) {
			return jsapi.ErrConsumerAlreadyExists
		}
		if reflect.DeepEqual(c.cfg, cc) {
			return c.info()
		}
		if e := checkConsumerUpdate(&c.cfg, &cc); e != nil {
			return e
		}
		oldPause, newPause := pauseTime(c.cfg.PauseUntil), pauseTime(cc.PauseUntil)
		c.cfg = cc
		if !oldPause.Equal(newPause) {
			c.pauseUntil = time.Time{}
			if ms.svc.now().Before(newPause) {
				c.pauseUntil = newPause
				ms.armWake(newPause)
			}
			c.advisePause(newPause.UTC())
		}
		c.filters = filtersOf(&cc)
		c.watch()
		if err := ms.persistConsumerConfig(c); err != nil {
			return jsapi.ErrConsumerCreateF.WithErr(err)
		}
		if cc.Sourcing {
			// A source setting up again after an outage resumes from
			// what it acknowledged, as nats-server (standalone).
			if _, err := c.reset(0); err != nil {
				return jsapi.ErrConsumerCreateF.WithErr(err)
			}
			return c.info()
		}
		c.kick()
		return c.info()
	}
	if action == jsapi.ActionUpdate {
		return jsapi.ErrConsumerDoesNotExist
	}
	limited := !cc.Direct && !cc.Sourcing
	if limited && scfg.MaxConsumers > 0 && ms.limitableConsumers() >= scfg.MaxConsumers {
		return jsapi.ErrMaximumConsumersLimit
	}
	if scfg.Retention == jsapi.WorkQueuePolicy && limited {
		for _, other := range ms.consumers {
			if other.cfg.Direct || other.cfg.Sourcing {
				continue
			}
			if len(other.filters) == 0 || len(filtersOf(&cc)) == 0 {
				return jsapi.ErrConsumerWQMultipleUnfiltered
			}
			for _, f := range other.filters {
				for _, g := range filtersOf(&cc) {
					if overlap(f, g) {
						return jsapi.ErrConsumerWQConsumerNotUnique
					}
				}
			}
		}
	}
	c := ms.newConsumer(name, cc, ms.svc.now())
	c.setStart()
	if err := ms.persistConsumerConfig(c); err != nil {
		return jsapi.ErrConsumerCreateF.WithErr(err)
	}
	if err := ms.addConsumer(c); err != nil {
		return jsapi.ErrConsumerCreateF.WithErr(err)
	}
	ms.svc.adviseConsumer(jsapi.AdvisoryConsumerCreated, ms.name, name, jsapi.ActionCreated)
	c.lastActive = ms.svc.now()
	if th := c.inactiveThreshold(); th > 0 {
		ms.armWake(c.lastActive.Add(th))
	}
	if c.cfg.Heartbeat > 0 {
		ms.armWake(ms.svc.now().Add(c.cfg.Heartbeat))
	}
	if cc.PauseUntil != nil && ms.svc.now().Before(*cc.PauseUntil) {
		c.pauseUntil = *cc.PauseUntil
	}
	// The create response goes out before the first delivery, as from
	// nats-server: clients size their initial-values wait from it.
	ms.svc.afterReply = append(ms.svc.afterReply, func() { ms.do(c.kick) })
	return c.info()
}

func (ms *stream) newConsumer(name string, cc jsapi.ConsumerConfig, created time.Time) *consumer {
	return &consumer{
		ms:      ms,
		name:    name,
		cfg:     cc,
		created: created,
		filters: filtersOf(&cc),
		pending: make(map[uint64]*pendingMsg),
		rdc:     make(map[uint64]uint64),
	}
}

// addConsumer registers c and subscribes its pull-request and reset subjects, which
// go straight to the stream's control mailbox. A consumer that does not
// exist has no responder there, as with nats-server.
func (ms *stream) addConsumer(c *consumer) error {
	for _, prefix := range ms.svc.apiPrefixes() {
		for _, op := range []string{"CONSUMER.MSG.NEXT.", "CONSUMER.RESET."} {
			sub := &router.Sub{Subject: prefix + op + ms.name + "." + c.name, Receiver: boxReceiver{ms.ctl}}
			if err := ms.svc.r.Subscribe(sub); err != nil {
				for _, s := range c.subs {
					_ = ms.svc.r.Unsubscribe(s)
				}
				c.subs = nil
				return err
			}
			c.subs = append(c.subs, sub)
		}
	}
	c.watch()
	ms.consumers[c.name] = c
	return nil
}

// publicConsumers are the names of the consumers listed and counted, in
// order: a mirror's or source's direct consumer is neither, as with
// nats-server (it is not stored either).
func (ms *stream) publicConsumers() []string {
	names := sortedNames(ms.consumers)
	return slices.DeleteFunc(names, func(n string) bool { return ms.consumers[n].cfg.Direct })
}

// limitableConsumers is what max_consumers counts: not the consumers of
// streams sourcing this one.
func (ms *stream) limitableConsumers() int {
	n := 0
	for _, c := range ms.consumers {
		if !c.cfg.Direct && !c.cfg.Sourcing {
			n++
		}
	}
	return n
}

// persistConsumerConfig durably stores a consumer's definition and
// position in the stream's file, durable or ephemeral (nats-server
// restores both after a restart). Memory streams keep nothing. It runs on
// the stream's goroutine.
func (ms *stream) persistConsumerConfig(c *consumer) error {
	if ms.file == nil || c.cfg.Direct {
		return nil
	}
	b, err := json.Marshal(storedConsumer{Config: c.cfg, Created: c.created})
	if err != nil {
		return err
	}
	p := ms.cur()
	p.b.PutMeta(consumerKey(c.name), b)
	p.b.PutMeta(consumerStateKey(c.name), c.encodeState())
	return ms.commitNow()
}

func filtersOf(cc *jsapi.ConsumerConfig) []string {
	if cc.FilterSubject != "" {
		return []string{cc.FilterSubject}
	}
	return append([]string(nil), cc.FilterSubjects...)
}

// checkConsumerUpdate rejects changes nats-server does not allow.
func checkConsumerUpdate(old, upd *jsapi.ConsumerConfig) *jsapi.Error {
	bad := func(what string) *jsapi.Error {
		return jsapi.ErrConsumerCreateF.With("err", "consumer "+what+" can not be updated")
	}
	switch {
	case old.DeliverPolicy != upd.DeliverPolicy:
		return bad("deliver policy")
	case old.OptStartSeq != upd.OptStartSeq:
		return bad("start sequence")
	case old.AckPolicy != upd.AckPolicy:
		return bad("ack policy")
	case old.ReplayPolicy != upd.ReplayPolicy:
		return bad("replay policy")
	case (old.DeliverSubject == "") != (upd.DeliverSubject == ""):
		return jsapi.ErrConsumerCreateF.With("err", "can not update push consumer to pull based")
	case old.Direct != upd.Direct:
		return jsapi.ErrConsumerCreateF.With("err", "direct can not be updated")
	case old.Sourcing != upd.Sourcing:
		return jsapi.ErrConsumerCreateF.With("err", "sourcing can not be updated")
	}
	return nil
}

func randomName() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *Service) consumerInfo(streamName, name string) any {
	const typ = jsapi.TypeConsumerInfo
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	var ci *jsapi.ConsumerInfo
	st.do(func() {
		if c := st.consumers[name]; c != nil {
			ci = c.info()
		}
	})
	if ci == nil {
		return s.fail(typ, jsapi.ErrConsumerNotFound)
	}
	return consumerInfoResp{jsapi.Response{Type: typ}, ci}
}

func (s *Service) consumerDelete(streamName, name string) any {
	const typ = jsapi.TypeConsumerDelete
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	found := false
	st.do(func() { found = st.deleteConsumer(name) })
	if !found {
		return s.fail(typ, jsapi.ErrConsumerNotFound)
	}
	return successResp{jsapi.Response{Type: typ}, true}
}

// deleteConsumer removes a consumer on the stream's goroutine.
func (ms *stream) deleteConsumer(name string) bool {
	c := ms.consumers[name]
	if c == nil {
		return false
	}
	delete(ms.consumers, name)
	ms.releaseConsumer(c, true)
	c.deleted = true
	if ms.file != nil {
		p := ms.cur()
		p.b.DeleteMeta(consumerKey(name))
		p.b.DeleteMeta(consumerStateKey(name))
		p.after = append(p.after, func(err error) {
			if err != nil {
				ms.svc.log.Error("jetstream: delete consumer", "stream", ms.name, "consumer", name, "err", err)
			}
		})
	}
	// Under interest retention, messages only this consumer held back go.
	if ms.config().Retention == jsapi.InterestPolicy {
		for seq := ms.store.State().FirstSeq; ; {
			m, ok := ms.nextProjected("", seq)
			if !ok {
				break
			}
			if ms.allAcked(&m) && len(ms.consumers) > 0 || len(ms.consumers) == 0 {
				ms.removeMsg(m.Seq)
			}
			seq = m.Seq + 1
		}
	}
	return true
}

// pauseTime is a configured pause deadline, the zero time when unset.
func pauseTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

type pauseResp struct {
	jsapi.Response
	Paused         bool          `json:"paused"`
	PauseUntil     time.Time     `json:"pause_until"`
	PauseRemaining time.Duration `json:"pause_remaining,omitempty"`
}

func (s *Service) consumerPause(streamName, name string, body []byte) any {
	const typ = jsapi.TypeConsumerPause
	var req jsapi.ConsumerPauseRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	var out *pauseResp
	st.do(func() {
		c := st.consumers[name]
		if c == nil {
			return
		}
		out = &pauseResp{Response: jsapi.Response{Type: typ}}
		oldPause := pauseTime(c.cfg.PauseUntil)
		if newPause := req.PauseUntil.UTC(); !oldPause.Equal(newPause) {
			defer c.advisePause(newPause)
		}
		if req.PauseUntil.IsZero() || !s.now().Before(req.PauseUntil) {
			c.pauseUntil = time.Time{}
			c.cfg.PauseUntil = nil
			c.kick()
		} else {
			c.pauseUntil = req.PauseUntil
			t := req.PauseUntil
			c.cfg.PauseUntil = &t
			st.armWake(t)
			out.Paused = true
			out.PauseUntil = t.UTC()
			out.PauseRemaining = t.Sub(s.now())
		}
		_ = st.persistConsumerConfig(c)
	})
	if out == nil {
		return s.fail(typ, jsapi.ErrConsumerNotFound)
	}
	return out
}

type consumerNamesResp struct {
	jsapi.Response
	jsapi.Paged
	Consumers []string `json:"consumers"`
}

type consumerListResp struct {
	jsapi.Response
	jsapi.Paged
	Consumers []*jsapi.ConsumerInfo `json:"consumers"`
}

func (s *Service) consumerList(streamName string, body []byte, namesOnly bool) any {
	typ, limit := jsapi.TypeConsumerList, listLimit
	if namesOnly {
		typ, limit = jsapi.TypeConsumerNames, namesLimit
	}
	var req jsapi.PagedRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	var names []string
	var infos []*jsapi.ConsumerInfo
	var total, off int
	st.do(func() {
		all := st.publicConsumers()
		total = len(all)
		off = min(max(req.Offset, 0), total)
		for _, n := range all[off:min(off+limit, total)] {
			names = append(names, n)
			if !namesOnly {
				infos = append(infos, st.consumers[n].info())
			}
		}
	})
	paged := jsapi.Paged{Total: total, Offset: off, Limit: limit}
	if namesOnly {
		if names == nil {
			names = []string{}
		}
		return consumerNamesResp{jsapi.Response{Type: typ}, paged, names}
	}
	if infos == nil {
		infos = []*jsapi.ConsumerInfo{}
	}
	return consumerListResp{jsapi.Response{Type: typ}, paged, infos}
}

// consumerUnpin handles CONSUMER.UNPIN.<stream>.<consumer>: the group's
// pinned client loses its pin and the next pull request takes over. The
// checks and their order are nats-server's.
func (s *Service) consumerUnpin(streamName, name string, body []byte) any {
	const typ = jsapi.TypeConsumerUnpin
	var req jsapi.ConsumerUnpinRequest
	if len(bytes.TrimSpace(body)) == 0 {
		// nats-server decodes even an empty body.
		return s.fail(typ, jsapi.ErrInvalidJSON.WithErr(errors.New("unexpected end of JSON input")))
	}
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	if req.Group == "" {
		return s.fail(typ, jsapi.ErrInvalidJSON.WithErr(errors.New("consumer group not specified")))
	}
	if !validGroupName(req.Group) {
		return s.fail(typ, jsapi.ErrConsumerInvalidGroupName)
	}
	st := s.lookup(streamName)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	e := jsapi.ErrConsumerNotFound
	st.do(func() {
		c := st.consumers[name]
		if c == nil {
			return
		}
		if !slices.Contains(c.cfg.PriorityGroups, req.Group) {
			e = jsapi.ErrConsumerInvalidPriorityGroup
			return
		}
		e = nil
		c.unpin()
		c.noteUnpinned(req.Group, "admin")
		c.kick()
	})
	if e != nil {
		return s.fail(typ, e)
	}
	return jsapi.Response{Type: typ}
}
