package jetstream

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
	"github.com/leafgate/leafgate/store/schedule"
)

// Message schedules (allow_msg_schedules, nats-server 2.12).
//
// A schedule is a message stored in the stream with a Nats-Schedule
// header; its subject names it, and a newer schedule on the same subject
// replaces it (the server adds Nats-Rollup: sub to every schedule). When
// it fires, the stream stores a new message on Nats-Schedule-Target: the
// schedule's payload and headers (or, with Nats-Schedule-Source, those of
// the newest message on that subject) without the schedule headers, plus
// Nats-Scheduler (the schedule's subject) and Nats-Schedule-Next (the next
// time, or "purge" for a one-shot schedule, whose message is then removed).
//
// State: the stream's goroutine owns schedules (subject → entry). Each
// stored schedule also has a key 'S'+seq in the stream's index, written in
// the same batch as its message, so start-up finds pending schedules
// without reading the stream (loadSchedules). Removing the message by any
// path (purge, delete, limits, rollup) removes its entry and key
// (unschedule, from removeMsg). A plain message published on a schedule's
// subject cancels it, as nats-server does.

// Schedule headers.
const (
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTZ     = "Nats-Schedule-Time-Zone"
	hdrScheduleTTL    = "Nats-Schedule-TTL"
	hdrScheduleRollup = "Nats-Schedule-Rollup"
	hdrScheduleTarget = "Nats-Schedule-Target"
	hdrScheduleSource = "Nats-Schedule-Source"
	hdrScheduler      = "Nats-Scheduler"
	hdrScheduleNext   = "Nats-Schedule-Next"
	schedulePurge     = "purge"
)

var schedPrefix = []byte{'S'}

func schedKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), schedPrefix...), seq)
}

// schedEntry is a pending schedule: its message and when it fires next.
type schedEntry struct {
	seq uint64
	at  int64
}

var tzLine = []byte("\r\n" + hdrScheduleTZ + ":")

// scheduleLocation is the Nats-Schedule-Time-Zone of hdr: nil when there
// is none; an empty or unknown zone is an error.
func scheduleLocation(hdr []byte) (*time.Location, *jsapi.Error) {
	if !bytes.Contains(hdr, tzLine) {
		return nil, nil
	}
	tz := proto.HeaderGet(hdr, hdrScheduleTZ)
	if len(tz) == 0 {
		return nil, jsapi.ErrMessageSchedulesTimeZoneInvalid
	}
	loc, err := time.LoadLocation(string(tz))
	if err != nil {
		return nil, jsapi.ErrMessageSchedulesTimeZoneInvalid
	}
	return loc, nil
}

// parseSchedule reads hdr's schedule. The pattern is the zero value when
// hdr has no Nats-Schedule; next is when it fires after ref.
func parseSchedule(hdr []byte, ref, nowT time.Time) (p schedule.Pattern, next time.Time, e *jsapi.Error) {
	if len(hdr) == 0 {
		return p, next, nil
	}
	loc, e := scheduleLocation(hdr)
	if e != nil {
		return p, next, e
	}
	v := proto.HeaderGet(hdr, hdrSchedule)
	if len(v) == 0 {
		return p, next, nil
	}
	p, err := schedule.Parse(string(v), loc)
	if err != nil {
		return p, next, jsapi.ErrMessageSchedulesPatternInvalid
	}
	next, ok := p.Next(ref, nowT)
	if !ok {
		return p, next, jsapi.ErrMessageSchedulesPatternInvalid
	}
	return p, next, nil
}

// validScheduleTTL accepts what nats-server's message TTL parser accepts:
// "never", a duration of at least a second, or whole seconds.
func validScheduleTTL(v string) bool {
	if len(v) == 5 && bytes.EqualFold([]byte(v), []byte("never")) {
		return true
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d >= time.Second
	}
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func validPublishSubject(s string) bool { return subject.ValidLiteral([]byte(s)) }

func (ms *stream) captures(cfg *jsapi.StreamConfig, subj string) bool {
	return slices.ContainsFunc(cfg.Subjects, func(s string) bool { return subject.Overlap(s, subj) })
}

// checkSchedule applies nats-server's checks to a published message's
// schedule headers. It returns the header to store (a schedule gets
// Nats-Rollup: sub) and, for a schedule, when it first fires.
func (ms *stream) checkSchedule(cfg *jsapi.StreamConfig, subj string, hdr []byte, ts int64) ([]byte, time.Time, *jsapi.Error) {
	var zero time.Time
	if !bytes.Contains(hdr, []byte(hdrSchedule)) {
		return hdr, zero, nil // covers every Nats-Schedule* header and Nats-Scheduler
	}
	nowT := time.Unix(0, ts)
	_, next, e := parseSchedule(hdr, nowT, nowT)
	if e != nil {
		if !cfg.AllowMsgSchedules {
			e = jsapi.ErrMessageSchedulesDisabled
		}
		return hdr, zero, e
	}
	if !next.IsZero() {
		if !cfg.AllowMsgSchedules {
			return hdr, zero, jsapi.ErrMessageSchedulesDisabled
		}
		ttl := proto.HeaderGet(hdr, hdrScheduleTTL)
		if len(ttl) > 0 && !validScheduleTTL(string(ttl)) {
			return hdr, zero, jsapi.ErrMessageSchedulesTTLInvalid
		}
		if r := proto.HeaderGet(hdr, hdrScheduleRollup); len(r) > 0 && string(r) != "sub" {
			return hdr, zero, jsapi.ErrMessageSchedulesRollupInvalid
		}
		if len(ttl) > 0 && !cfg.AllowMsgTTL {
			return hdr, zero, jsapi.ErrMessageTTLDisabled
		}
		target := string(proto.HeaderGet(hdr, hdrScheduleTarget))
		if target == "" || !validPublishSubject(target) || target == subj {
			return hdr, zero, jsapi.ErrMessageSchedulesTargetInvalid
		}
		source := string(proto.HeaderGet(hdr, hdrScheduleSource))
		if source != "" && (source == target || source == subj || !validPublishSubject(source)) {
			return hdr, zero, jsapi.ErrMessageSchedulesSourceInvalid
		}
		if !ms.captures(cfg, target) {
			return hdr, zero, jsapi.ErrMessageSchedulesTargetInvalid
		}
		if source != "" && !ms.captures(cfg, source) {
			return hdr, zero, jsapi.ErrMessageSchedulesSourceInvalid
		}
		switch r := proto.HeaderGet(hdr, "Nats-Rollup"); {
		case r == nil:
			hdr = appendHeaderLine(nil, hdr, "Nats-Rollup", "sub")
		case string(r) != "sub":
			return hdr, zero, jsapi.ErrMessageSchedulesRollupInvalid
		}
	}
	if sn := proto.HeaderGet(hdr, hdrScheduleNext); len(sn) > 0 {
		// A client may only send Nats-Schedule-Next to purge a schedule.
		if string(sn) != schedulePurge {
			return hdr, zero, jsapi.ErrMessageSchedulesSchedulerInvalid
		}
		sch := string(proto.HeaderGet(hdr, hdrScheduler))
		if sch == "" || sch == subj || !validPublishSubject(sch) {
			return hdr, zero, jsapi.ErrMessageSchedulesSchedulerInvalid
		}
		if !cfg.AllowMsgSchedules {
			return hdr, zero, jsapi.ErrMessageSchedulesDisabled
		}
		// The subject may be empty (nats-server lets that through), but
		// what is there must be a schedule.
		if _, last := ms.subjectState(sch); last != 0 {
			if m, ok := ms.loadProjected(last); ok && len(proto.HeaderGet(m.Header, hdrSchedule)) == 0 {
				return hdr, zero, jsapi.ErrMessageSchedulesSchedulerInvalid
			}
		}
	} else if len(proto.HeaderGet(hdr, hdrScheduler)) > 0 {
		return hdr, zero, jsapi.ErrMessageSchedulesSchedulerInvalid
	}
	return hdr, next, nil
}

// afterStore updates schedules for a message just appended (seq 0: not
// kept, as on an interest stream without consumers): a schedule is added
// or replaced; a plain message cancels its subject's schedule; a fired
// message moves its schedule on, or, with Nats-Schedule-Next: purge,
// removes the schedule's messages.
func (ms *stream) afterStore(cfg *jsapi.StreamConfig, subj string, hdr []byte, seq uint64, first time.Time) {
	if !cfg.AllowMsgSchedules {
		return
	}
	if seq != 0 && !first.IsZero() {
		ms.addSchedule(subj, seq, first.UnixNano())
	} else if len(ms.schedules) > 0 && (len(hdr) == 0 || proto.HeaderGet(hdr, hdrScheduler) == nil) {
		ms.cancelSchedule(subj)
	}
	if len(hdr) == 0 {
		return
	}
	sn := proto.HeaderGet(hdr, hdrScheduleNext)
	sch := string(proto.HeaderGet(hdr, hdrScheduler))
	switch {
	case len(sn) == 0 || sch == "":
	case string(sn) == schedulePurge:
		if cfg.AllowRollup && !cfg.DenyPurge {
			ms.removeMatching(sch, 0, ms.lastSeq())
		}
	default:
		if next, err := time.Parse(time.RFC3339Nano, string(sn)); err == nil {
			if e := ms.schedules[sch]; e != nil {
				e.at = next.UnixNano()
				ms.schedDirty = true
			}
		}
	}
}

func (ms *stream) addSchedule(subj string, seq uint64, at int64) {
	if ms.schedules == nil {
		ms.schedules = make(map[string]*schedEntry)
	}
	if old := ms.schedules[subj]; old != nil && old.seq != seq {
		ms.cur().b.IndexDelete(schedKey(old.seq))
	}
	ms.schedules[subj] = &schedEntry{seq: seq, at: at}
	ms.cur().b.IndexPut(schedKey(seq))
	ms.schedDirty = true
}

// cancelSchedule forgets subj's schedule; its message stays stored.
func (ms *stream) cancelSchedule(subj string) {
	if e := ms.schedules[subj]; e != nil {
		delete(ms.schedules, subj)
		ms.cur().b.IndexDelete(schedKey(e.seq))
		ms.schedDirty = true
	}
}

// unschedule is removeMsg's hook: a removed schedule message takes its
// schedule with it.
func (ms *stream) unschedule(m *msgstore.Msg) {
	if len(m.Header) == 0 || proto.HeaderGet(m.Header, hdrSchedule) == nil {
		return
	}
	ms.cur().b.IndexDelete(schedKey(m.Seq))
	if e := ms.schedules[m.Subject]; e != nil && e.seq == m.Seq {
		delete(ms.schedules, m.Subject)
		ms.schedDirty = true
	}
}

// loadSchedules rebuilds the pending schedules from the stream's index:
// each fires at its pattern's next time after its message was stored, or,
// when that has passed while the server was down, as the pattern next
// comes round after now (an @at in the past fires at once). It reads one
// message per schedule.
func (ms *stream) loadSchedules() {
	ms.schedules, ms.schedDirty = nil, true
	cfg := ms.config()
	if !cfg.AllowMsgSchedules {
		return
	}
	nowT := ms.svc.now()
	var stale msgstore.Batch
	for _, k := range ms.store.IndexScan(schedPrefix, -1) {
		if len(k) != 9 {
			continue
		}
		seq := binary.BigEndian.Uint64(k[1:])
		m, err := ms.store.Load(seq)
		var next time.Time
		var e *jsapi.Error
		if err == nil {
			_, next, e = parseSchedule(m.Header, time.Unix(0, m.Time), nowT)
		}
		if err != nil || e != nil || next.IsZero() {
			stale.IndexDelete(k)
			continue
		}
		if ms.schedules == nil {
			ms.schedules = make(map[string]*schedEntry)
		}
		if old := ms.schedules[m.Subject]; old == nil || old.seq < seq {
			ms.schedules[m.Subject] = &schedEntry{seq: seq, at: next.UnixNano()}
		}
	}
	if stale.Len() > 0 {
		if err := applySync(ms.store, &stale); err != nil {
			ms.svc.log.Warn("jetstream: drop stale schedules", "stream", ms.name, "err", err)
		}
	}
}

// armSchedules makes the stream's timer fire for the earliest schedule.
func (ms *stream) armSchedules() {
	if ms.schedDirty {
		ms.schedDirty = false
		ms.schedNext = 0
		for _, e := range ms.schedules {
			if ms.schedNext == 0 || e.at < ms.schedNext {
				ms.schedNext = e.at
			}
		}
	}
	if ms.schedNext != 0 {
		ms.armWake(time.Unix(0, ms.schedNext))
	}
}

// fireSchedules stores a message for each schedule that is due, oldest
// schedule first, as nats-server orders them.
func (ms *stream) fireSchedules() {
	if len(ms.schedules) == 0 {
		return
	}
	nowT := ms.svc.now()
	cut := nowT.UnixNano()
	if ms.schedNext > cut && !ms.schedDirty {
		return
	}
	type due struct {
		subj string
		seq  uint64
		at   int64
	}
	var list []due
	for subj, e := range ms.schedules {
		if e.at <= cut {
			list = append(list, due{subj, e.seq, e.at})
		}
	}
	slices.SortFunc(list, func(a, b due) int { return cmpUint(a.seq, b.seq) })
	cfg := ms.config()
	for _, d := range list {
		e := ms.schedules[d.subj]
		if e == nil || e.seq != d.seq {
			continue // replaced or removed by an earlier firing
		}
		m, ok := ms.loadProjected(d.seq)
		if !ok || m.Subject != d.subj {
			ms.cancelSchedule(d.subj)
			continue
		}
		out, next, ok := ms.scheduledMsg(&m, time.Unix(0, d.at), nowT)
		if !ok {
			ms.cancelSchedule(d.subj)
			continue
		}
		err := ms.store1(&cfg, &out, ms.svc.now().UnixNano())
		switch {
		case !next.IsZero():
			if e := ms.schedules[d.subj]; e != nil && e.seq == d.seq {
				e.at = next.UnixNano()
				ms.schedDirty = true
			}
		case err != nil:
			// As nats-server, a one-shot schedule whose message could not
			// be stored is not retried until the stream starts again.
			ms.svc.log.Warn("jetstream: scheduled message not stored", "stream", ms.name, "schedule", d.subj, "err", err.Error())
			delete(ms.schedules, d.subj)
			ms.schedDirty = true
		}
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scheduledMsg builds the message schedule sm produces when it fires at
// fireAt; next is its following time (zero for a one-shot schedule). ok
// is false when the stored schedule is no longer valid.
func (ms *stream) scheduledMsg(sm *msgstore.Msg, fireAt, nowT time.Time) (out inMsg, next time.Time, ok bool) {
	p, _, e := parseSchedule(sm.Header, fireAt, nowT)
	if e != nil || p.Kind() == 0 {
		return out, next, false
	}
	if p.Repeats() {
		if next, ok = p.Next(fireAt, nowT); !ok {
			return out, next, false
		}
	}
	ttl := string(proto.HeaderGet(sm.Header, hdrScheduleTTL))
	if ttl != "" && !validScheduleTTL(ttl) {
		return out, next, false
	}
	target := string(proto.HeaderGet(sm.Header, hdrScheduleTarget))
	if target == "" {
		return out, next, false
	}
	rollup := string(proto.HeaderGet(sm.Header, hdrScheduleRollup))
	body := sm
	if source := string(proto.HeaderGet(sm.Header, hdrScheduleSource)); source != "" {
		// Without a message on the source subject, the schedule's own
		// content goes out.
		if _, last := ms.subjectState(source); last != 0 {
			if src, found := ms.loadProjected(last); found {
				body = &src
			}
		}
	}
	hdr := stripScheduleHeaders(body.Header)
	hdr = appendHeaderLine(nil, hdr, hdrScheduler, sm.Subject)
	if next.IsZero() {
		hdr = appendHeaderLine(hdr, nil, hdrScheduleNext, schedulePurge)
	} else {
		hdr = appendHeaderLine(hdr, nil, hdrScheduleNext, next.Format(time.RFC3339Nano))
	}
	if ttl != "" {
		hdr = appendHeaderLine(hdr, nil, "Nats-TTL", ttl)
	}
	if rollup != "" {
		hdr = appendHeaderLine(hdr, nil, "Nats-Rollup", rollup)
	}
	return inMsg{subject: target, hdr: hdr, data: bytes.Clone(body.Data), scheduled: true}, next, true
}

// stripScheduleHeaders copies hdr without the lines a fired message must
// not carry: the schedule's own (Nats-Schedule*, Nats-Scheduler), and
// those that could stop it being stored (Nats-Expected-*, Nats-Msg-Id,
// Nats-TTL, Nats-Rollup).
func stripScheduleHeaders(hdr []byte) []byte {
	if len(hdr) == 0 {
		return nil
	}
	i := bytes.Index(hdr, []byte("\r\n"))
	if i < 0 {
		return nil
	}
	out := append(make([]byte, 0, len(hdr)+128), hdr[:i+2]...)
	kept := 0
	for line := range proto.HeaderLines(hdr) {
		key, _, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.HasPrefix(line, []byte(hdrSchedule)), bytes.HasPrefix(line, []byte("Nats-Expected-")),
			string(key) == "Nats-Msg-Id", string(key) == "Nats-TTL", string(key) == "Nats-Rollup":
			continue
		}
		out = append(out, line...)
		out = append(out, "\r\n"...)
		kept++
	}
	if kept == 0 {
		return nil
	}
	return append(out, "\r\n"...)
}
