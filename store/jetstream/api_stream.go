package jetstream

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// storedStream is a stream's persisted definition.
type storedStream struct {
	Config  jsapi.StreamConfig `json:"config"`
	Created time.Time          `json:"created"`
}

type streamInfoResp struct {
	jsapi.Response
	jsapi.Paged
	*jsapi.StreamInfo
}

// streamCreateResp is STREAM.CREATE's answer: no paging, and did_create
// on every success (nats-server sets it for an identical re-create too).
// Like nats-server's, it carries no domain.
type streamCreateResp struct {
	jsapi.Response
	*jsapi.StreamInfo
	DidCreate bool `json:"did_create,omitempty"`
}

// streamUpdateResp is STREAM.UPDATE's answer: no paging.
type streamUpdateResp struct {
	jsapi.Response
	*jsapi.StreamInfo
}

// created answers a successful STREAM.CREATE with st's info.
func created(st *stream) streamCreateResp {
	si := st.info(nil)
	si.Domain = ""
	return streamCreateResp{Response: jsapi.Response{Type: jsapi.TypeStreamCreate}, StreamInfo: si, DidCreate: true}
}

// maxSubjectDetails caps the subjects one STREAM.INFO lists, as
// nats-server's JSMaxSubjectDetails.
const maxSubjectDetails = 100_000

func (s *Service) streamCreate(name string, body []byte) any {
	const typ = jsapi.TypeStreamCreate
	var req jsapi.StreamConfig
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	if req.Name != name {
		return s.fail(typ, jsapi.ErrStreamMismatch)
	}
	if strings.ContainsAny(name, "/\\") {
		return s.fail(typ, jsapi.ErrStreamNameContainsPathSeparators)
	}
	if req.Sealed {
		return s.fail(typ, invalidStream("stream configuration for create can not be sealed"))
	}
	cfg, e := checkStreamConfig(req)
	if e != nil {
		return s.fail(typ, e)
	}
	if e := s.checkReplica(&cfg); e != nil {
		return s.fail(typ, e)
	}
	if st := s.lookup(name); st != nil {
		if reflect.DeepEqual(st.config(), cfg) {
			return created(st)
		}
		return s.fail(typ, jsapi.ErrStreamNameExist)
	}
	if e := checkSourceFilters(&cfg); e != nil {
		return s.fail(typ, e)
	}
	if e := s.checkOverlap(name, cfg.Subjects); e != nil {
		return s.fail(typ, e)
	}
	st, e := s.addStream(cfg, s.now())
	if e != nil {
		return s.fail(typ, e)
	}
	s.adviseStream(jsapi.AdvisoryStreamCreated, name, jsapi.ActionCreated)
	return created(st)
}

// checkOverlap rejects subjects another stream already captures.
func (s *Service) checkOverlap(name string, subjects []string) *jsapi.Error {
	for _, other := range s.sortedStreams() {
		if other.name == name {
			continue
		}
		for _, a := range other.config().Subjects {
			for _, b := range subjects {
				if subject.Overlap(a, b) {
					return jsapi.ErrStreamSubjectOverlap
				}
			}
		}
	}
	return nil
}

// addStream creates, persists and starts a stream.
func (s *Service) addStream(cfg jsapi.StreamConfig, created time.Time) (*stream, *jsapi.Error) {
	var store msgstore.Store
	var file *msgstore.Bolt
	if cfg.Storage == jsapi.MemoryStorage {
		store = msgstore.NewMemory()
	} else {
		// A directory left by a delete that a crash interrupted holds
		// nothing this new stream should see.
		if err := os.RemoveAll(s.streamDir(cfg.Name)); err != nil {
			return nil, jsapi.ErrStreamCreateF.WithErr(err)
		}
		var err error
		if file, store, err = s.openStreamFile(cfg.Name); err != nil {
			return nil, jsapi.ErrStreamCreateF.WithErr(err)
		}
		if err := indexSubjects(store, cfg); err != nil {
			_ = file.Close()
			return nil, jsapi.ErrStreamCreateF.WithErr(err)
		}
		if err := s.putMeta(streamKey(cfg.Name), storedStream{Config: cfg, Created: created}); err != nil {
			_ = file.Close()
			_ = os.RemoveAll(s.streamDir(cfg.Name))
			return nil, jsapi.ErrStreamCreateF.WithErr(err)
		}
	}
	if cfg.FirstSeq > 1 && store.State().LastSeq == 0 {
		var b msgstore.Batch
		b.Skip(cfg.FirstSeq - 1)
		if err := applySync(store, &b); err != nil {
			return nil, jsapi.ErrStreamCreateF.WithErr(err)
		}
	}
	st, err := s.newStream(cfg, created, store)
	if err != nil {
		return nil, jsapi.ErrStreamCreateF.WithErr(err)
	}
	st.file = file
	s.mu.Lock()
	s.streams[cfg.Name] = st
	s.mu.Unlock()
	if err := st.start(); err != nil {
		s.mu.Lock()
		delete(s.streams, cfg.Name)
		s.mu.Unlock()
		st.stop()
		return nil, jsapi.ErrStreamCreateF.WithErr(err)
	}
	s.follow(st)
	return st, nil
}

// checkReplica checks a mirror's or sourcing stream's configuration.
func (s *Service) checkReplica(cfg *jsapi.StreamConfig) *jsapi.Error {
	if !isReplica(cfg) {
		return nil
	}
	if s.cfg.Follower == nil {
		return invalidStream("mirror and source streams need replication, which is not running")
	}
	return checkSourcesConfig(cfg, func(name string) (jsapi.StreamConfig, bool) {
		if st := s.lookup(name); st != nil {
			return st.config(), true
		}
		return jsapi.StreamConfig{}, false
	})
}

// follow hands a mirror or sourcing stream to the Follower.
func (s *Service) follow(st *stream) {
	if cfg := st.config(); isReplica(&cfg) && s.cfg.Follower != nil {
		s.cfg.Follower.Follow(&Replica{st})
	}
}

func applySync(store msgstore.Store, b *msgstore.Batch) error {
	ch := make(chan error, 1)
	store.Apply(b, func(err error) { ch <- err })
	return <-ch
}

// putMeta durably writes one metadata key as JSON.
func (s *Service) putMeta(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var mb msgstore.MetaBatch
	mb.Put(key, b)
	return s.applyMeta(&mb)
}

func (s *Service) applyMeta(mb *msgstore.MetaBatch) error {
	ch := make(chan error, 1)
	s.db.ApplyMeta(mb, func(err error) { ch <- err })
	return <-ch
}

func (s *Service) streamUpdate(name string, body []byte) any {
	const typ = jsapi.TypeStreamUpdate
	var req jsapi.StreamConfig
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	if req.Name != name {
		return s.fail(typ, jsapi.ErrStreamMismatch)
	}
	st := s.lookup(name)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	cfg, e := checkStreamConfig(req)
	if e != nil {
		return s.fail(typ, e)
	}
	if e := s.checkReplica(&cfg); e != nil {
		return s.fail(typ, e)
	}
	old := st.config()
	if e := checkStreamUpdate(old, cfg); e != nil {
		return s.fail(typ, e)
	}
	if e := checkSourcesUpdate(&old, &cfg); e != nil {
		return s.fail(typ, e)
	}
	if e := s.checkOverlap(name, cfg.Subjects); e != nil {
		return s.fail(typ, e)
	}
	if cfg.Storage == jsapi.FileStorage {
		if err := indexSubjects(st.store, cfg); err != nil {
			return s.fail(typ, jsapi.ErrStreamUpdateF.WithErr(err))
		}
		if err := s.putMeta(streamKey(name), storedStream{Config: cfg, Created: st.created}); err != nil {
			return s.fail(typ, jsapi.ErrStreamUpdateF.WithErr(err))
		}
	}
	var uerr error
	st.do(func() { uerr = st.update(cfg) })
	if uerr != nil {
		return s.fail(typ, jsapi.ErrStreamUpdateF.WithErr(uerr))
	}
	if isReplica(&cfg) {
		s.follow(st)
	} else if isReplica(&old) {
		s.cfg.Follower.Unfollow(name)
	}
	s.adviseStream(jsapi.AdvisoryStreamUpdated, name, jsapi.ActionModified)
	return streamUpdateResp{Response: jsapi.Response{Type: typ}, StreamInfo: st.info(nil)}
}

// update applies a checked configuration on the stream's goroutine.
func (ms *stream) update(cfg jsapi.StreamConfig) error {
	if err := ms.compile(cfg); err != nil {
		return err
	}
	old := ms.config()
	ms.mu.Lock()
	ms.cfg = cfg
	ms.mu.Unlock()
	if !slices.Equal(old.Subjects, cfg.Subjects) || old.AllowDirect != cfg.AllowDirect {
		ms.unsubscribe()
		if err := ms.subscribe(cfg); err != nil {
			return err
		}
	}
	// Tighter limits apply at once.
	for cfg.MaxMsgs > 0 && ms.numMsgs() > cfg.MaxMsgs && ms.removeFirstFor("max_msgs") {
	}
	for cfg.MaxBytes > 0 && ms.numBytes() > cfg.MaxBytes && ms.removeFirstFor("max_bytes") {
	}
	if cfg.MaxMsgsPer > 0 {
		for subj, ss := range ms.store.Subjects(">") {
			for n := int64(ss.Msgs); n > cfg.MaxMsgsPer; n-- {
				m, ok := ms.nextProjected(subj, 0)
				if !ok {
					break
				}
				ms.removeMsg(m.Seq)
			}
		}
	}
	ms.scheduleAge()
	return nil
}

type successResp struct {
	jsapi.Response
	Success bool `json:"success,omitempty"`
}

func (s *Service) streamDelete(name string) any {
	const typ = jsapi.TypeStreamDelete
	st := s.lookup(name)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	s.mu.Lock()
	delete(s.streams, name)
	s.mu.Unlock()
	if cfg := st.config(); isReplica(&cfg) && s.cfg.Follower != nil {
		s.cfg.Follower.Unfollow(name)
	}
	st.delete() // consumer delete advisories go first, as from nats-server
	s.adviseStream(jsapi.AdvisoryStreamDeleted, name, jsapi.ActionDeleted)
	if !st.memory() {
		var mb msgstore.MetaBatch
		mb.Delete(streamKey(name))
		_ = s.db.ForEachMeta("c/"+name+"/", func(k string, _ []byte) error { mb.Delete(k); return nil })
		_ = s.db.ForEachMeta("cs/"+name+"/", func(k string, _ []byte) error { mb.Delete(k); return nil })
		if err := s.applyMeta(&mb); err != nil {
			return s.fail(typ, jsapi.ErrStreamDeleteF.WithErr(err))
		}
		// Its own file goes whole: no free pages are left behind for
		// every later commit to rewrite.
		if err := os.RemoveAll(s.streamDir(name)); err != nil {
			return s.fail(typ, jsapi.ErrStreamDeleteF.WithErr(err))
		}
		s.refillReserve()
	} else {
		_ = st.store.Close()
	}
	return successResp{jsapi.Response{Type: typ}, true}
}

func (s *Service) streamInfo(name string, body []byte) any {
	const typ = jsapi.TypeStreamInfo
	var req jsapi.StreamInfoRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st := s.lookup(name)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	si := st.info(&req)
	resp := streamInfoResp{Response: jsapi.Response{Type: typ}, StreamInfo: si}
	if req.SubjectsFilter != "" {
		resp.Paged = jsapi.Paged{Total: len(si.State.Subjects), Offset: req.Offset, Limit: maxSubjectDetails}
	}
	return resp
}

// info reports the stream's configuration and durable state.
func (ms *stream) info(req *jsapi.StreamInfoRequest) *jsapi.StreamInfo {
	st := ms.store.State()
	si := &jsapi.StreamInfo{
		Config:    ms.config(),
		Created:   ms.created.UTC(),
		Domain:    ms.svc.cfg.Domain,
		TimeStamp: ms.svc.now().UTC(),
		State: jsapi.StreamState{
			Msgs: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq,
		},
	}
	ms.replicaInfo(si)
	if st.Msgs > 0 {
		si.State.FirstTime = time.Unix(0, st.FirstTime).UTC()
		si.State.NumDeleted = int(st.LastSeq - st.FirstSeq + 1 - st.Msgs)
	} else if st.LastSeq == 0 {
		si.State.FirstSeq = 0 // never held a message, as nats-server reports
	}
	si.State.NumSubjects = int(st.Subjects)
	if st.LastTime > 0 {
		si.State.LastTime = time.Unix(0, st.LastTime).UTC()
	}
	ms.do(func() { si.State.Consumers = len(ms.publicConsumers()) })
	if req != nil && req.SubjectsFilter != "" {
		subs := ms.store.Subjects(req.SubjectsFilter)
		if len(subs) > 0 {
			si.State.Subjects = make(map[string]uint64, len(subs))
			for k, v := range subs {
				si.State.Subjects[k] = v.Msgs
			}
		}
	}
	if req != nil && req.DeletedDetails && si.State.NumDeleted > 0 {
		next := st.FirstSeq
		for {
			m, err := ms.store.LoadNext("", next)
			if err != nil {
				break
			}
			for seq := next; seq < m.Seq; seq++ {
				si.State.Deleted = append(si.State.Deleted, seq)
			}
			next = m.Seq + 1
		}
		// Deleted messages after the last one stored, up to the last
		// sequence.
		for seq := next; seq <= st.LastSeq; seq++ {
			si.State.Deleted = append(si.State.Deleted, seq)
		}
	}
	return si
}

type streamNamesResp struct {
	jsapi.Response
	jsapi.Paged
	Streams []string `json:"streams"`
}

type streamListResp struct {
	jsapi.Response
	jsapi.Paged
	Streams []*jsapi.StreamInfo `json:"streams"`
	Missing []string            `json:"missing,omitempty"`
}

func (s *Service) streamList(body []byte, namesOnly bool) any {
	typ, limit := jsapi.TypeStreamList, listLimit
	if namesOnly {
		typ, limit = jsapi.TypeStreamNames, namesLimit
	}
	var req jsapi.StreamNamesRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	var matched []*stream
	for _, st := range s.sortedStreams() {
		if req.Subject != "" {
			hit := false
			for _, subj := range st.config().Subjects {
				if subject.Overlap(subj, req.Subject) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		matched = append(matched, st)
	}
	total := len(matched)
	off := min(max(req.Offset, 0), total)
	page := matched[off:min(off+limit, total)]
	paged := jsapi.Paged{Total: total, Offset: off, Limit: limit}
	if namesOnly {
		names := make([]string, 0, len(page))
		for _, st := range page {
			names = append(names, st.name)
		}
		return streamNamesResp{jsapi.Response{Type: typ}, paged, names}
	}
	infos := make([]*jsapi.StreamInfo, 0, len(page))
	for _, st := range page {
		infos = append(infos, st.info(nil))
	}
	return streamListResp{Response: jsapi.Response{Type: typ}, Paged: paged, Streams: infos}
}

type purgeResp struct {
	jsapi.Response
	Success bool   `json:"success,omitempty"`
	Purged  uint64 `json:"purged"`
}

func (s *Service) streamPurge(name string, body []byte) any {
	const typ = jsapi.TypeStreamPurge
	var req jsapi.StreamPurgeRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st, e := s.writable(name)
	if e != nil {
		return s.fail(typ, e)
	}
	cfg := st.config()
	if cfg.DenyPurge {
		return s.fail(typ, jsapi.ErrStreamPurgeFailedF.With("err", "stream purge not permitted"))
	}
	if req.Sequence > 0 && req.Keep > 0 {
		return s.fail(typ, jsapi.ErrBadRequest)
	}
	if req.Subject != "" && !subject.ValidPattern([]byte(req.Subject)) {
		return s.fail(typ, jsapi.ErrStreamPurgeFailedF.With("err", "invalid subject"))
	}
	var purged uint64
	var perr error
	if !st.doCommitted(func(p *pending) { purged = st.purge(&req) }, func(err error) { perr = err }) {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	if perr != nil {
		return s.fail(typ, jsapi.ErrStreamPurgeFailedF.WithErr(perr))
	}
	return purgeResp{jsapi.Response{Type: typ}, true, purged}
}

// doCommitted runs fn on the stream's goroutine and waits until the
// changes it made are durable; done gets the commit's error.
func (ms *stream) doCommitted(fn func(p *pending), done func(error)) bool {
	ch := make(chan error, 1)
	if !ms.do(func() {
		p := ms.cur()
		fn(p)
		p.after = append(p.after, func(err error) { ch <- err })
	}) {
		return false
	}
	select {
	case err := <-ch:
		done(err)
		return true
	case <-ms.exited:
		return false
	}
}

// purge removes messages as a purge request asks, returning how many.
func (ms *stream) purge(req *jsapi.StreamPurgeRequest) uint64 {
	filter := req.Subject
	if filter == "" {
		filter = ">"
	}
	last := ms.lastSeq()
	var n uint64
	switch {
	case req.Keep > 0:
		// Keep the newest Keep messages (per subject when filtered).
		if filter == ">" {
			cnt := uint64(ms.numMsgs())
			for cnt > req.Keep && ms.removeFirst() {
				cnt--
				n++
			}
			return n
		}
		for subj, ss := range ms.store.Subjects(filter) {
			for k := ss.Msgs; k > req.Keep; k-- {
				m, ok := ms.nextProjected(subj, 0)
				if !ok {
					break
				}
				ms.removeMsg(m.Seq)
				n++
			}
		}
		return n
	case req.Sequence > 0:
		// Remove everything below Sequence.
		upTo := req.Sequence - 1
		if filter == ">" {
			n = ms.removeRange(0, min(upTo, last))
			if upTo > last {
				ms.cur().b.Skip(upTo)
				ms.cur().last = upTo
			}
			return n
		}
		return ms.removeMatching(filter, 0, upTo)
	case filter == ">":
		return ms.removeRange(0, last)
	default:
		return ms.removeMatching(filter, 0, last)
	}
}

// writable returns a stream whose messages may be removed: it exists and
// is not sealed.
func (s *Service) writable(name string) (*stream, *jsapi.Error) {
	st := s.lookup(name)
	if st == nil {
		return nil, jsapi.ErrStreamNotFound
	}
	if st.config().Sealed {
		return nil, jsapi.ErrStreamSealed
	}
	return st, nil
}

type msgGetResp struct {
	jsapi.Response
	Message *jsapi.StoredMsg `json:"message,omitempty"`
}

// getMsg finds the message a get request names.
func (ms *stream) getMsg(req *jsapi.MsgGetRequest) (msgstore.Msg, error) {
	switch {
	case req.LastFor != "":
		if subject.IsLiteral([]byte(req.LastFor)) {
			return ms.store.LoadLast(req.LastFor)
		}
		seqs := ms.store.LastSeqs(req.LastFor, 0)
		if len(seqs) == 0 {
			return msgstore.Msg{}, msgstore.ErrNotFound
		}
		return ms.store.Load(seqs[len(seqs)-1])
	case req.NextFor != "":
		return ms.store.LoadNext(req.NextFor, req.Seq)
	default:
		return ms.store.Load(req.Seq)
	}
}

func (s *Service) msgGet(name string, body []byte) any {
	const typ = jsapi.TypeMsgGet
	var req jsapi.MsgGetRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st := s.lookup(name)
	if st == nil {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	if (req.Seq > 0 && req.LastFor != "") || (req.Seq == 0 && req.LastFor == "" && req.NextFor == "") || (req.LastFor != "" && req.NextFor != "") {
		return s.fail(typ, jsapi.ErrBadRequest)
	}
	m, err := st.getMsg(&req)
	if errors.Is(err, msgstore.ErrNotFound) {
		return s.fail(typ, jsapi.ErrNoMessageFound)
	}
	if err != nil {
		return s.fail(typ, jsapi.ErrBadRequest)
	}
	return msgGetResp{jsapi.Response{Type: typ}, &jsapi.StoredMsg{
		Subject: m.Subject, Sequence: m.Seq, Header: m.Header, Data: m.Data, Time: time.Unix(0, m.Time).UTC(),
	}}
}

func (s *Service) msgDelete(name string, body []byte) any {
	const typ = jsapi.TypeMsgDelete
	var req jsapi.MsgDeleteRequest
	if e := decode(body, &req); e != nil {
		return s.fail(typ, e)
	}
	st, e := s.writable(name)
	if e != nil {
		return s.fail(typ, e)
	}
	if st.config().DenyDelete {
		return s.fail(typ, jsapi.ErrStreamMsgDeleteFailedF.With("err", "message delete not permitted"))
	}
	var found, beyond bool
	var derr error
	if !st.doCommitted(func(*pending) {
		_, found = st.removeMsg(req.Seq)
		beyond = req.Seq > st.lastSeq()
	}, func(err error) { derr = err }) {
		return s.fail(typ, jsapi.ErrStreamNotFound)
	}
	if derr != nil {
		return s.fail(typ, jsapi.ErrStreamMsgDeleteFailedF.WithErr(derr))
	}
	if beyond {
		return s.fail(typ, jsapi.ErrStreamMsgDeleteFailedF.With("err", "stream store EOF"))
	}
	if !found {
		return s.fail(typ, jsapi.ErrSequenceNotFoundF.With("seq", strconv.FormatUint(req.Seq, 10)))
	}
	// Records are overwritten by bbolt's page reuse; no_erase and erase
	// both remove the message from the store.
	return successResp{jsapi.Response{Type: typ}, true}
}

// directGet answers $JS.API.DIRECT.GET.<stream>[.<subject>] with the
// message itself and Nats-* headers, or a status.
func (s *Service) directGet(m *inMsg, name, lastFor string) {
	if m.reply == "" {
		return
	}
	status := func(code int, desc string) {
		s.publish(m.reply, "", proto.AppendStatusHeader(nil, code, desc), nil)
	}
	st := s.lookup(name)
	if st == nil || !st.config().AllowDirect {
		return // subscribed only while allow_direct is on
	}
	var req jsapi.MsgGetRequest
	if lastFor != "" {
		req.LastFor = lastFor
	} else {
		if len(m.data) == 0 {
			status(408, "Empty Request")
			return
		}
		if err := json.Unmarshal(m.data, &req); err != nil {
			status(408, "Malformed Request")
			return
		}
		if req.Seq == 0 && req.LastFor == "" && req.NextFor == "" {
			status(408, "Empty Request")
			return
		}
		if (req.Seq > 0 && req.LastFor != "") || (req.LastFor != "" && req.NextFor != "") {
			status(408, "Bad Request")
			return
		}
	}
	msg, err := st.getMsg(&req)
	if err != nil {
		status(404, "Message Not Found")
		return
	}
	hdr := appendHeaderLine(nil, msg.Header, "Nats-Stream", name)
	hdr = appendHeaderLine(hdr, nil, "Nats-Subject", msg.Subject)
	hdr = appendHeaderLine(hdr, nil, "Nats-Sequence", strconv.FormatUint(msg.Seq, 10))
	hdr = appendHeaderLine(hdr, nil, "Nats-Time-Stamp", time.Unix(0, msg.Time).UTC().Format(time.RFC3339Nano))
	s.publish(m.reply, "", hdr, msg.Data)
}

// sortedNames returns map keys in order.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
