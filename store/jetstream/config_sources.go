package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
)

// jsAPIPrefix is the JetStream API prefix an external source's api prefix
// must not be (it would address this server's own API).
const jsAPIPrefix = "$JS.API"

// checkSourcesConfig refuses the mirror and source configurations that
// nats-server's checkStreamCfg refuses, with the same errors and in the
// same order. It is for a stream create or update whose configuration has
// a mirror or sources, after the general checks and defaults (max_msg_size
// already -1 when unset).
//
// lookup finds another stream of this account by name; on an update it may
// return the updated stream's own current configuration, as nats-server's
// lookup does. Origins named with an external (another domain or account)
// are never looked up: the same name may be a different stream there.
//
// The only change made to cfg: a mirror of a local stream inherits
// mirror_direct from the origin's allow_direct, as in nats-server.
//
// Subjects are not defaulted for a mirror or a sourcing stream: nats-server
// gives a stream its name as subject only when it has no subjects, no
// mirror and no sources, so the caller must not default them here (a
// mirror keeps none; a mirror promoted by removing its mirror on update
// does get its name as subject).
//
// Counters, atomic and batch publish and message schedules are refused
// before this is reached in leafgate; their mirror/source errors are kept
// here, in nats-server's place, so the function is complete on its own.
func checkSourcesConfig(cfg *jsapi.StreamConfig, lookup func(name string) (jsapi.StreamConfig, bool)) *jsapi.Error {
	var (
		originSubjects []string // subjects of the local origins
		deliverPfxs    []string // external deliver prefixes
		apiPfxs        []string // external api prefixes
	)

	if m := cfg.Mirror; m != nil {
		switch {
		case cfg.FirstSeq > 0:
			return jsapi.ErrMirrorWithFirstSeq
		case len(cfg.Subjects) > 0:
			return jsapi.ErrMirrorWithSubjects
		case len(cfg.Sources) > 0:
			return jsapi.ErrMirrorWithSources
		case cfg.AllowMsgCounter:
			return jsapi.ErrMirrorWithCounters
		case cfg.AllowAtomicPublish:
			return jsapi.ErrMirrorWithAtomicPublish
		case cfg.AllowBatchPublish:
			return jsapi.ErrMirrorWithBatchPublish
		case cfg.AllowMsgSchedules:
			return jsapi.ErrMirrorWithMsgSchedules
		}
		if c := m.Consumer; c != nil {
			// A pre-created consumer (ADR-60) fixes where the mirror
			// starts and what it sees: no start or filter of its own.
			if !validName(c.Name) || !validDeliverSubject(c.DeliverSubject) ||
				m.OptStartSeq != 0 || m.OptStartTime != nil || m.FilterSubject != "" {
				return jsapi.ErrMirrorDurableConsumerCfgInvalid
			}
		}
		if m.FilterSubject != "" && len(m.SubjectTransforms) != 0 {
			return jsapi.ErrMirrorMultipleFiltersNotAllowed
		}
		if cfg.SubjectDeleteMarkerTTL > 0 {
			// A marker would take a sequence the origin does not have.
			return invalidStream("subject delete markers forbidden on mirrors")
		}
		for i, tr := range m.SubjectTransforms {
			if tr.Source != "" && !subject.ValidPattern([]byte(tr.Source)) {
				return jsapi.ErrMirrorInvalidSubjectFilter.WithErr(badSubject(tr.Source))
			}
			if e := checkMapping(tr); e != nil {
				return jsapi.ErrMirrorInvalidTransformDestination.WithErr(e)
			}
			for j, other := range m.SubjectTransforms {
				if i != j && filtersCollide(tr.Source, other.Source) {
					return jsapi.ErrMirrorOverlappingSubjectFilters
				}
			}
		}
		if m.External == nil {
			// nats-server checks the name only for a local origin.
			if !validName(m.Name) {
				return jsapi.ErrMirrorInvalidStreamName
			}
			// The origin need not exist yet; when it does, check it.
			if ocfg, ok := lookup(m.Name); ok {
				originSubjects = append(originSubjects, ocfg.Subjects...)
				if cfg.MaxMsgSize > 0 && ocfg.MaxMsgSize > 0 && cfg.MaxMsgSize < ocfg.MaxMsgSize {
					return jsapi.ErrMirrorMaxMessageSizeTooBig
				}
				cfg.MirrorDirect = ocfg.AllowDirect
			}
		} else {
			if p := m.External.DeliverPrefix; p != "" {
				deliverPfxs = append(deliverPfxs, p)
			}
			if p := m.External.APIPrefix; p != "" {
				apiPfxs = append(apiPfxs, p)
			}
		}
	}

	if len(cfg.Sources) > 0 && cfg.AllowMsgSchedules {
		return jsapi.ErrSourceWithMsgSchedules
	}

	inames := make(map[string]bool, len(cfg.Sources))
	cnames := make(map[string]bool)
	for _, src := range cfg.Sources {
		// Unlike a mirror's, a source's name is checked even when external.
		if src == nil || !validName(src.Name) {
			return jsapi.ErrSourceInvalidStreamName
		}
		iname := sourceIName(src)
		if inames[iname] {
			return jsapi.ErrSourceDuplicateDetected
		}
		inames[iname] = true
		if src.FilterSubject != "" && len(src.SubjectTransforms) != 0 {
			return jsapi.ErrSourceMultipleFiltersNotAllowed
		}
		for _, tr := range src.SubjectTransforms {
			if tr.Source != "" && !subject.ValidPattern([]byte(tr.Source)) {
				return jsapi.ErrSourceInvalidSubjectFilter.WithErr(badSubject(tr.Source))
			}
			if e := checkMapping(tr); e != nil {
				return jsapi.ErrSourceInvalidTransformDestination.WithErr(e)
			}
		}
		// A source's filters may not contain one another (nats-server
		// tests subset here, where a mirror's may not even intersect).
		for i, tr := range src.SubjectTransforms {
			for j, other := range src.SubjectTransforms {
				if i != j && filterSubsetOf(tr.Source, other.Source) {
					return jsapi.ErrSourceOverlappingSubjectFilters
				}
			}
		}
		if c := src.Consumer; c != nil {
			if !validName(c.Name) || !validDeliverSubject(c.DeliverSubject) ||
				src.OptStartSeq != 0 || src.OptStartTime != nil || src.FilterSubject != "" {
				return jsapi.ErrSourceDurableConsumerCfgInvalid
			}
			// One consumer can feed only one source of the same stream.
			cname := sourceCName(src)
			if cnames[cname] {
				return jsapi.ErrSourceDurableConsumerDuplicateDetected
			}
			cnames[cname] = true
		}
		if src.External == nil {
			if ocfg, ok := lookup(src.Name); ok {
				originSubjects = append(originSubjects, ocfg.Subjects...)
				if cfg.MaxMsgSize > 0 && ocfg.MaxMsgSize > 0 && cfg.MaxMsgSize < ocfg.MaxMsgSize {
					return jsapi.ErrSourceMaxMessageSizeTooBig
				}
			}
		} else {
			if p := src.External.DeliverPrefix; p != "" {
				deliverPfxs = append(deliverPfxs, p)
			}
			if p := src.External.APIPrefix; p != "" {
				apiPfxs = append(apiPfxs, p)
			}
		}
	}

	// As nats-server, the deliver prefixes (of external origins) are
	// tested against the subjects of the local origins.
	for _, pfx := range deliverPfxs {
		if !subject.ValidLiteral([]byte(pfx)) {
			return jsapi.ErrStreamInvalidExternalDeliverySubjF.With("prefix", pfx)
		}
		for _, subj := range originSubjects {
			if subject.Overlap(subj, pfx+"."+subj) {
				return jsapi.ErrStreamExternalDelPrefixOverlapsF.With("prefix", pfx, "subject", subj)
			}
		}
	}
	for _, pfx := range apiPfxs {
		if !subject.ValidLiteral([]byte(pfx)) {
			return invalidStream("stream external api prefix %q must be a valid subject without wildcards", pfx)
		}
		if subject.Overlap(pfx, jsAPIPrefix) {
			return jsapi.ErrStreamExternalApiOverlapF.With("prefix", pfx, "subject", jsAPIPrefix)
		}
	}

	if sourceCycle(cfg, lookup) {
		return invalidStream("detected cycle")
	}
	return nil
}

// sourceCycle walks the local origins from cfg, breadth first as
// nats-server: reaching a visited stream again through a source is a cycle
// only when that source's filter (none means all) meets the sourcing
// stream's subjects; reaching one through a mirror always is.
func sourceCycle(cfg *jsapi.StreamConfig, lookup func(name string) (jsapi.StreamConfig, bool)) bool {
	toVisit := []*jsapi.StreamConfig{cfg}
	visited := make(map[string]bool)
	for len(toVisit) > 0 {
		c := toVisit[0]
		toVisit = toVisit[1:]
		visited[c.Name] = true
		for _, src := range c.Sources {
			if src == nil || src.External != nil {
				continue
			}
			if visited[src.Name] {
				if filterMeets(c.Subjects, src.FilterSubject) {
					return true
				}
			} else if ocfg, ok := lookup(src.Name); ok {
				toVisit = append(toVisit, &ocfg)
			}
		}
		if m := c.Mirror; m != nil && m.External == nil {
			if visited[m.Name] {
				return true
			}
			if ocfg, ok := lookup(m.Name); ok {
				toVisit = append(toVisit, &ocfg)
			}
		}
	}
	return false
}

func filterMeets(subjects []string, filter string) bool {
	if filter == "" {
		return true
	}
	for _, s := range subjects {
		if subject.Overlap(s, filter) {
			return true
		}
	}
	return false
}

// checkSourceFilters is what nats-server checks of a mirror's or source's
// filter_subject only when creating the stream (in addStream, after the
// "name already in use" and limit checks, before the subject overlap
// check): checkStreamCfg does not look at filter_subject at all, and an
// update does not either. The error is the create error, 10049.
func checkSourceFilters(cfg *jsapi.StreamConfig) *jsapi.Error {
	// Transforms were checked by checkSourcesConfig, and with transforms
	// filter_subject must be empty, so only the filter is left.
	if m := cfg.Mirror; m != nil && len(m.SubjectTransforms) == 0 &&
		m.FilterSubject != "" && !subject.ValidPattern([]byte(m.FilterSubject)) {
		return jsapi.ErrStreamCreateF.WithErr(fmt.Errorf("subject filter '%s' for the mirror invalid subject", m.FilterSubject))
	}
	for _, src := range cfg.Sources {
		if src != nil && len(src.SubjectTransforms) == 0 &&
			src.FilterSubject != "" && !subject.ValidPattern([]byte(src.FilterSubject)) {
			return jsapi.ErrStreamCreateF.WithErr(fmt.Errorf("subject filter '%s' for the source: invalid subject", src.FilterSubject))
		}
	}
	return nil
}

// checkSourcesUpdate refuses the mirror changes nats-server refuses on a
// stream update (configUpdateCheck): a mirror can be neither added nor
// changed, only removed, which promotes the mirror to a normal stream.
// Sources may be added, removed and changed freely. old and upd are checked
// configurations; in nats-server this comes after the storage, retention,
// sealed, deny-delete and deny-purge checks, before the discard-new-per-
// subject, TTL, counter, schedule and persist-mode ones.
//
// nats-server compares the mirrors with reflect.DeepEqual; this compares
// their JSON, so that an empty list and an absent one (which a config read
// back from STREAM.INFO or from disk turns into each other) are the same.
func checkSourcesUpdate(old, upd *jsapi.StreamConfig) *jsapi.Error {
	if upd.Mirror == nil {
		return nil
	}
	if old.Mirror == nil || !sameSource(old.Mirror, upd.Mirror) {
		return jsapi.ErrStreamMirrorNotUpdatable
	}
	return nil
}

func sameSource(a, b *jsapi.StreamSource) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// sourceIName is nats-server's index name of a source (composeIName): the
// stream name, ":"+hash of the api prefix when external, ":C="+hash of the
// consumer name when one is given, then the filters and the destinations
// ('>' for none), each list joined by form feeds. Two sources of a stream
// may not have the same one.
func sourceIName(src *jsapi.StreamSource) string {
	var b strings.Builder
	b.WriteString(src.Name)
	if src.External != nil {
		b.WriteString(":" + shortHash(src.External.APIPrefix))
	}
	if src.Consumer != nil {
		b.WriteString(":C=" + shortHash(src.Consumer.Name))
	}
	orAll := func(s string) string {
		if s == "" {
			return ">"
		}
		return s
	}
	filter, dest := orAll(src.FilterSubject), ">"
	if len(src.SubjectTransforms) > 0 {
		filters := make([]string, len(src.SubjectTransforms))
		dests := make([]string, len(src.SubjectTransforms))
		for i, tr := range src.SubjectTransforms {
			filters[i], dests[i] = orAll(tr.Source), orAll(tr.Destination)
		}
		filter, dest = strings.Join(filters, "\f"), strings.Join(dests, "\f")
	}
	b.WriteString(" " + filter + " " + dest)
	return b.String()
}

// sourceCName is nats-server's composeCName: the origin (with the hashed
// api prefix when external) and the consumer name.
func sourceCName(src *jsapi.StreamSource) string {
	name := src.Name
	if src.External != nil {
		name += ":" + shortHash(src.External.APIPrefix)
	}
	var c string
	if src.Consumer != nil {
		c = src.Consumer.Name
	}
	return name + " " + c
}

// validDeliverSubject: a consumer's deliver subject must be a valid literal.
func validDeliverSubject(s string) bool {
	return subject.ValidLiteral([]byte(s))
}

// badSubject is nats-server's fmt.Errorf("%w %s", ErrBadSubject, subj).
func badSubject(subj string) error {
	return fmt.Errorf("%w %s", errBadSubject, subj)
}

// checkMapping validates a transform's destination with the transform the
// stream's own subject_transform uses. An empty destination keeps the
// subject, as nats-server's ValidateMapping accepts. nats-server also wants
// a '>' at the end of the destination exactly when the source (empty means
// '>') ends in one; subject.NewTransform only checks the one direction.
func checkMapping(tr jsapi.SubjectTransformConfig) error {
	if tr.Destination == "" {
		return nil
	}
	if _, err := subject.NewTransform(tr.Source, tr.Destination); err != nil {
		return err
	}
	src := tr.Source
	if src == "" {
		src = ">"
	}
	if endsFWC(src) != endsFWC(tr.Destination) {
		return errBadSubject
	}
	return nil
}

// errBadSubject is nats-server's ErrBadSubject.
var errBadSubject = errors.New("invalid subject")

func endsFWC(s string) bool {
	return s == ">" || strings.HasSuffix(s, ".>")
}

// filtersCollide is nats-server's SubjectsCollide for transform sources,
// which may be empty (all): an empty source collides only with another
// empty one and with '>'.
func filtersCollide(a, b string) bool {
	switch {
	case a == b:
		return true
	case a == "":
		return leadingFWC(b)
	case b == "":
		return leadingFWC(a)
	}
	return subject.Overlap(a, b)
}

// filterSubsetOf is nats-server's subjectIsSubsetMatch(sub, super) for
// transform sources, which may be empty: nothing is a subset of an empty
// one, and an empty one is a subset only of '>'.
func filterSubsetOf(sub, super string) bool {
	switch {
	case super == "":
		return false
	case sub == "":
		return leadingFWC(super)
	}
	return subject.SubsetOf(sub, super)
}

func leadingFWC(s string) bool {
	return s == ">" || strings.HasPrefix(s, ">.")
}
