package topic

import (
	"errors"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// A Sub is a topic filter from SUBSCRIBE (or UNSUBSCRIBE) mapped to NATS.
type Sub struct {
	// Subject is the NATS subscription subject for the filter.
	Subject string
	// LevelUp, when not empty, is a second subject to subscribe to with the
	// same options: for a filter ending in "/#" ("foo/#" → "foo.>") it is
	// the parent ("foo"), which the MQTT '#' also matches and NATS '>' does
	// not. nats-server adds the same second subscription whenever Subject
	// ends in ".>".
	LevelUp string
	// Share is the ShareName of a "$share/<ShareName>/<filter>" filter, the
	// NATS queue group both subscriptions join; empty when not shared.
	Share string
	// NoDollar is set when the filter starts with a wildcard level: such a
	// subscription must not be given messages whose subject starts with '$'
	// [MQTT-4.7.2-1]. It looks at the filter after any $share/<name>/.
	NoDollar bool
}

// ParseFilter validates an MQTT topic filter and maps it to NATS. The
// filter (after any "$share/<name>/") is mapped as nats-server maps it; see
// the package comment for the inputs leafgate refuses that nats-server
// accepts. Errors are *Error with Kind Filter.
//
// It does not check Reserved; the caller does, with Sub.Subject.
func ParseFilter(filter []byte) (Sub, error) {
	var sub Sub
	if _, err := checkText(filter); err != nil {
		return sub, newError(Filter, filter, err)
	}
	// The SUBSCRIBE decoder already refused filters with misplaced
	// wildcards or a bad share name (one check, in mqtt/packet); its
	// classes map onto this package's errors: protocol errors are the
	// share syntax [MQTT-4.8.2-1..2], malformed ones the wildcards
	// [MQTT-4.7.1-1..2].
	if err := packet.CheckTopicFilter(filter); err != nil {
		e := ErrWildcardPlacement
		if errors.Is(err, packet.ErrProtocol) {
			e = ErrShareName
		}
		return sub, newError(Filter, filter, e)
	}
	f := filter
	if group, rest, shared := packet.SplitShared(filter); shared {
		sub.Share = string(group)
		f = rest
	}
	subj, _ := appendLevels(make([]byte, 0, MaxSubjectLen(len(f))), f)
	if !subject.ValidPattern(subj) {
		// Only a NATS '>' level that is not last gets here ("a/>/b").
		return Sub{}, newError(Filter, filter, ErrNotMappable)
	}
	sub.Subject = string(subj)
	if n := len(sub.Subject); n >= 3 && sub.Subject[n-2:] == ".>" {
		sub.LevelUp = sub.Subject[:n-2]
	}
	sub.NoDollar = startsWithWildcard(sub.Subject)
	return sub, nil
}

// startsWithWildcard reports whether the first token of a filter's subject
// is a wildcard: "*", ">" or "*.…" (nats-server's isMQTTReservedSubscription).
func startsWithWildcard(subj string) bool {
	return subj == "*" || subj == ">" || len(subj) > 1 && subj[0] == natsPWC && subj[1] == tokenSep
}

// SkipForDollar reports whether a message on subj must not be given to a
// subscription: the subscription's filter starts with a wildcard (noDollar,
// Sub.NoDollar) and the subject, as a topic, starts with '$' [MQTT-4.7.2-1].
func SkipForDollar(noDollar bool, subj []byte) bool {
	return noDollar && len(subj) > 0 && subj[0] == reserved
}
