package jetstream

import (
	"fmt"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
)

// Limits nats-server applies to names and descriptions.
const (
	maxNameLen        = 255
	maxDescriptionLen = 4 * 1024
	maxMetadataLen    = 128 * 1024
	defaultDupWindow  = 2 * time.Minute
)

// validName reports whether name can name a stream or consumer: non-empty,
// no spaces, tabs, '.', '*', '>', or path separators.
func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, " \t\r\n\f.*>/\\")
}

func invalidStream(format string, args ...any) *jsapi.Error {
	return jsapi.ErrStreamInvalidConfigF.WithErr(fmt.Errorf(format, args...))
}

// checkStreamConfig validates a requested configuration and fills in
// defaults the way nats-server does, so info reads back the same.
func checkStreamConfig(in jsapi.StreamConfig) (jsapi.StreamConfig, *jsapi.Error) {
	cfg := in
	if !validName(cfg.Name) {
		return cfg, invalidStream("stream name is required and can not contain '.', '*', '>', '\\', '/'")
	}
	if len(cfg.Name) > maxNameLen {
		return cfg, invalidStream("stream name is too long, maximum allowed is %d", maxNameLen)
	}
	if len(cfg.Description) > maxDescriptionLen {
		return cfg, invalidStream("stream description is too long, maximum allowed is %d", maxDescriptionLen)
	}
	n := 0
	for k, v := range cfg.Metadata {
		n += len(k) + len(v)
	}
	if n > maxMetadataLen {
		return cfg, invalidStream("stream metadata exceeds maximum size of %d bytes", maxMetadataLen)
	}
	switch cfg.Retention {
	case "":
		cfg.Retention = jsapi.LimitsPolicy
	case jsapi.LimitsPolicy, jsapi.InterestPolicy, jsapi.WorkQueuePolicy:
	default:
		return cfg, invalidStream("invalid retention")
	}
	switch cfg.Discard {
	case "":
		cfg.Discard = jsapi.DiscardOld
	case jsapi.DiscardOld, jsapi.DiscardNew:
	default:
		return cfg, invalidStream("invalid discard policy")
	}
	switch cfg.Compression {
	case "":
		cfg.Compression = jsapi.NoCompression
	case jsapi.NoCompression, jsapi.S2Compression:
	default:
		return cfg, invalidStream("invalid compression")
	}
	switch cfg.Storage {
	case "":
		cfg.Storage = jsapi.FileStorage
	case jsapi.FileStorage, jsapi.MemoryStorage:
	default:
		return cfg, invalidStream("invalid storage type")
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas < 0 {
		return cfg, jsapi.ErrReplicasCountCannotBeNegative
	}
	if cfg.Replicas > 1 {
		return cfg, jsapi.ErrStreamReplicasNotSupported
	}
	for _, p := range []*int64{&cfg.MaxMsgs, &cfg.MaxMsgsPer, &cfg.MaxBytes} {
		if *p == 0 || *p < -1 {
			*p = -1
		}
	}
	if cfg.MaxMsgSize == 0 || cfg.MaxMsgSize < -1 {
		cfg.MaxMsgSize = -1
	}
	if cfg.MaxConsumers == 0 || cfg.MaxConsumers < -1 {
		cfg.MaxConsumers = -1
	}
	if cfg.MaxAge < 0 {
		return cfg, invalidStream("max age can not be negative")
	}
	if cfg.MaxAge != 0 && cfg.MaxAge < 100*time.Millisecond {
		return cfg, invalidStream("max age needs to be >= 100ms")
	}
	if cfg.Duplicates == 0 && cfg.Mirror == nil && len(cfg.Sources) == 0 {
		cfg.Duplicates = defaultDupWindow
		if cfg.MaxAge != 0 && cfg.MaxAge < defaultDupWindow {
			cfg.Duplicates = cfg.MaxAge
		}
	}
	if cfg.Duplicates < 0 {
		return cfg, invalidStream("duplicates window can not be negative")
	}
	if cfg.MaxAge != 0 && cfg.Duplicates > cfg.MaxAge {
		return cfg, invalidStream("duplicates window can not be larger then max age")
	}
	if cfg.Duplicates > 0 && cfg.Duplicates < 100*time.Millisecond {
		return cfg, invalidStream("duplicates window needs to be >= 100ms")
	}
	if cfg.DenyPurge && cfg.AllowRollup {
		return cfg, invalidStream("roll-ups require the purge permission")
	}
	if cfg.DiscardNewPer {
		if cfg.Discard != jsapi.DiscardNew {
			return cfg, invalidStream("discard new per subject requires discard new policy to be set")
		}
		if cfg.MaxMsgsPer <= 0 {
			return cfg, invalidStream("discard new per subject requires max msgs per subject > 0")
		}
	}
	if cfg.SubjectDeleteMarkerTTL < 0 {
		return cfg, invalidStream("subject delete marker TTL must not be negative")
	}
	if cfg.SubjectDeleteMarkerTTL > 0 {
		if cfg.SubjectDeleteMarkerTTL < time.Second {
			return cfg, invalidStream("subject delete marker TTL must be at least 1 second")
		}
		cfg.AllowMsgTTL = true
		cfg.AllowRollup, cfg.DenyPurge = true, false
	}
	if cfg.AllowMsgSchedules {
		if cfg.Discard == jsapi.DiscardNew {
			return cfg, invalidStream("message scheduling cannot use discard new")
		}
		if !cfg.AllowRollup {
			// A schedule replaces the previous one on its subject by a
			// rollup, so nats-server turns roll-ups on.
			cfg.AllowRollup, cfg.DenyPurge = true, false
		}
		if cfg.Mirror != nil {
			return cfg, jsapi.ErrMirrorWithMsgSchedules
		}
		if len(cfg.Sources) > 0 {
			return cfg, jsapi.ErrSourceWithMsgSchedules
		}
	}
	if e := refuseUnsupported(&cfg); e != nil {
		return cfg, e
	}
	// A mirror has no subjects of its own; a sourcing stream may have
	// some, and gets none by default (checkSourcesConfig checks the rest
	// once the other streams can be looked up).
	if len(cfg.Subjects) == 0 && !isReplica(&cfg) {
		cfg.Subjects = []string{cfg.Name}
	}
	seen := make(map[string]bool, len(cfg.Subjects))
	for i, subj := range cfg.Subjects {
		if !subject.ValidPattern([]byte(subj)) {
			return cfg, invalidStream("invalid subject")
		}
		if seen[subj] {
			return cfg, invalidStream("duplicate subjects detected")
		}
		seen[subj] = true
		if subj == ">" && !cfg.NoAck {
			return cfg, invalidStream("capturing all subjects requires no-ack to be true")
		}
		if !cfg.NoAck {
			for _, ns := range []string{"$JS.>", "$JSC.>", "$NRG.>"} {
				if subject.Overlap(subj, ns) && !subject.SubsetOf(subj, "$JS.EVENT.>") {
					return cfg, invalidStream("subjects that overlap with jetstream api require no-ack to be true")
				}
			}
			if subject.Overlap(subj, "$SYS.>") && !subject.SubsetOf(subj, "$SYS.ACCOUNT.>") {
				return cfg, invalidStream("subjects that overlap with system api require no-ack to be true")
			}
		}
		for _, other := range cfg.Subjects[i+1:] {
			if subject.Overlap(other, subj) {
				return cfg, invalidStream("subject %q overlaps with %q", subj, other)
			}
		}
	}
	if tr := cfg.SubjectTransform; tr != nil {
		if tr.Source != "" && !subject.ValidPattern([]byte(tr.Source)) {
			return cfg, jsapi.ErrStreamTransformInvalidSource.WithErr(fmt.Errorf("invalid subject %s", tr.Source))
		}
		if _, err := subject.NewTransform(tr.Source, tr.Destination); err != nil {
			return cfg, jsapi.ErrStreamTransformInvalidDestination.WithErr(err)
		}
	}
	if rp := cfg.RePublish; rp != nil {
		src := rp.Source
		if src == "" {
			src = ">"
		}
		if !subject.ValidPattern([]byte(src)) {
			return cfg, invalidStream("stream republish source %q is not a valid subject", src)
		}
		if _, err := subject.NewTransform(src, rp.Destination); err != nil {
			return cfg, invalidStream("stream republish destination: %v", err)
		}
		for _, subj := range cfg.Subjects {
			if subject.Overlap(subj, rp.Destination) {
				return cfg, invalidStream("stream configuration for republish destination forms a cycle")
			}
		}
	}
	return cfg, nil
}

// checkStreamUpdate rejects changes nats-server does not allow on a live
// stream; old and upd are both checked configurations.
func checkStreamUpdate(old, upd jsapi.StreamConfig) *jsapi.Error {
	switch {
	case old.Storage != upd.Storage:
		return invalidStream("stream configuration update can not change storage type")
	case old.Retention != upd.Retention:
		return invalidStream("stream configuration update can not change retention policy")
	case old.Sealed && !upd.Sealed:
		return invalidStream("stream configuration update can not unseal a sealed stream")
	case old.DenyDelete && !upd.DenyDelete:
		return invalidStream("stream configuration update can not cancel deny message deletes")
	case old.DenyPurge && !upd.DenyPurge:
		return invalidStream("stream configuration update can not cancel deny purge")
	case old.AllowMsgSchedules && !upd.AllowMsgSchedules:
		return invalidStream("message schedules can not be disabled")
	case old.AllowMsgTTL && !upd.AllowMsgTTL:
		return invalidStream("stream configuration update can not disable message TTL")
	case old.FirstSeq != upd.FirstSeq && upd.FirstSeq != 0:
		return invalidStream("stream configuration update can not change first sequence")
	}
	return nil
}

// refuseUnsupported refuses stream features of nats-server 2.12+ that
// leafgate does not implement, rather than storing the flag and ignoring
// it. nats-server has no error for "not implemented", so these use its
// generic invalid-configuration error (10052) with a plain description.
func refuseUnsupported(cfg *jsapi.StreamConfig) *jsapi.Error {
	switch {
	case cfg.AllowMsgCounter:
		return invalidStream("message counters (allow_msg_counter) are not supported")
	case cfg.AllowAtomicPublish:
		return invalidStream("atomic batch publish (allow_atomic) is not supported")
	case cfg.AllowBatchPublish:
		return invalidStream("fast batch publish (allow_batched) is not supported")
	case cfg.PersistMode == jsapi.AsyncPersistMode:
		return invalidStream("async persist mode is not supported")
	}
	return nil
}
