package jetstream

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
)

// checkConsumerConfig fills in nats-server's defaults and rejects what it
// rejects, for a consumer on a stream configured as scfg.
func checkConsumerConfig(cc *jsapi.ConsumerConfig, scfg *jsapi.StreamConfig) *jsapi.Error {
	if cc.Name != "" && !validName(cc.Name) {
		return invalidStream("consumer name can not contain '.', '*', '>', '\\', '/'")
	}
	if cc.Durable != "" && !validName(cc.Durable) {
		return invalidStream("consumer durable name can not contain '.', '*', '>', '\\', '/'")
	}
	if len(cc.Name) > maxNameLen || len(cc.Durable) > maxNameLen {
		return jsapi.ErrConsumerNameTooLongF.With("max", "255")
	}
	if len(cc.Description) > maxDescriptionLen {
		return jsapi.ErrConsumerDescriptionTooLongF.With("max", "4096")
	}
	switch cc.DeliverPolicy {
	case "":
		cc.DeliverPolicy = jsapi.DeliverAll
	case jsapi.DeliverAll, jsapi.DeliverLast, jsapi.DeliverNew:
	case jsapi.DeliverLastPerSubject:
		if cc.FilterSubject == "" && len(cc.FilterSubjects) == 0 {
			return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("consumer delivery policy is deliver last per subject, but optional filter subject is not set"))
		}
	case jsapi.DeliverByStartSeq:
		if cc.OptStartSeq == 0 {
			return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("consumer delivery policy is deliver by start sequence, but optional start sequence is not set"))
		}
	case jsapi.DeliverByStartTime:
		if cc.OptStartTime == nil {
			return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("consumer delivery policy is deliver by start time, but optional start time is not set"))
		}
	default:
		return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("invalid deliver policy"))
	}
	if cc.DeliverPolicy != jsapi.DeliverByStartSeq && cc.OptStartSeq > 0 {
		return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("consumer delivery policy is %s, but optional start sequence is also set", cc.DeliverPolicy))
	}
	if cc.DeliverPolicy != jsapi.DeliverByStartTime && cc.OptStartTime != nil {
		return jsapi.ErrConsumerInvalidPolicyF.WithErr(errorf("consumer delivery policy is %s, but optional start time is also set", cc.DeliverPolicy))
	}
	if cc.SampleFrequency != "" {
		// As nats-server: "<n>" or "<n>%", n >= 0; a negative n reports
		// a nil error.
		n, err := sampleFreq(cc.SampleFrequency)
		if err != nil {
			return jsapi.ErrConsumerInvalidSamplingF.WithErr(err)
		}
		if n < 0 {
			return jsapi.ErrConsumerInvalidSamplingF.With("err", "<nil>")
		}
	}
	switch cc.AckPolicy {
	case "":
		cc.AckPolicy = jsapi.AckNone
	case jsapi.AckNone, jsapi.AckAll, jsapi.AckExplicit:
	case jsapi.AckFlowControl:
		// As nats-server's setConsumerConfigDefaults (not pedantic).
		cc.FlowControl = true
		cc.Heartbeat = sourceHeartbeat
	default:
		return jsapi.ErrConsumerAckPolicyInvalid
	}
	switch cc.ReplayPolicy {
	case "":
		cc.ReplayPolicy = jsapi.ReplayInstant
	case jsapi.ReplayInstant, jsapi.ReplayOriginal:
	default:
		return jsapi.ErrConsumerReplayPolicyInvalid
	}
	if cc.Replicas < 0 {
		return jsapi.ErrReplicasCountCannotBeNegative
	}
	if cc.Replicas > scfg.Replicas {
		return jsapi.ErrConsumerReplicasExceedsStream
	}
	for _, b := range cc.BackOff {
		if b < 0 {
			return jsapi.ErrConsumerBackOffNegative
		}
	}
	if cc.AckWait < 0 {
		return jsapi.ErrConsumerAckWaitNegative
	}
	if cc.MaxDeliver == 0 || cc.MaxDeliver < -1 {
		cc.MaxDeliver = -1
	}
	if cc.MaxWaiting < 0 {
		cc.MaxWaiting = 0
	}
	if cc.MaxAckPending < -1 {
		cc.MaxAckPending = -1
	}
	for _, p := range []*time.Duration{&cc.MaxRequestExpires, &cc.Heartbeat, &cc.InactiveThreshold, &cc.PinnedTTL} {
		if *p < 0 {
			*p = 0
		}
	}
	if cc.MaxRequestBatch < 0 {
		cc.MaxRequestBatch = 0
	}
	if cc.MaxRequestMaxBytes < 0 {
		cc.MaxRequestMaxBytes = 0
	}
	if cc.DeliverSubject == "" && cc.MaxWaiting == 0 {
		cc.MaxWaiting = defaultMaxWaiting
	}
	if cc.AckWait == 0 && (cc.AckPolicy == jsapi.AckExplicit || cc.AckPolicy == jsapi.AckAll) {
		cc.AckWait = defaultAckWait
	}
	if len(cc.BackOff) > 0 {
		cc.AckWait = cc.BackOff[0]
	}
	if cc.MaxAckPending == 0 {
		cc.MaxAckPending = scfg.ConsumerLimits.MaxAckPending
	}
	if cc.InactiveThreshold == 0 {
		cc.InactiveThreshold = scfg.ConsumerLimits.InactiveThreshold
	}
	if cc.MaxAckPending == 0 && cc.AckPolicy != jsapi.AckNone {
		cc.MaxAckPending = defaultMaxAckPending
	}
	if cc.PriorityPolicy == jsapi.PriorityPinnedClient && cc.PinnedTTL == 0 {
		cc.PinnedTTL = defaultPinnedTTL
	}
	if cc.AckPolicy == jsapi.AckFlowControl {
		switch {
		case cc.DeliverSubject == "":
			return jsapi.ErrConsumerAckFCRequiresPush
		case !cc.FlowControl:
			return jsapi.ErrConsumerAckFCRequiresFC
		case cc.Heartbeat != sourceHeartbeat:
			return invalidStream("flow control ack policy heartbeat needs to be 1s")
		case cc.MaxAckPending <= 0:
			return jsapi.ErrConsumerAckFCRequiresMaxAckPending
		case cc.AckWait != 0 || len(cc.BackOff) > 0:
			return jsapi.ErrConsumerAckFCRequiresNoAckWait
		case cc.MaxDeliver > 0:
			return jsapi.ErrConsumerAckFCRequiresNoMaxDeliver
		}
	}
	if n := len(cc.BackOff); n > 0 && cc.MaxDeliver != -1 && n > cc.MaxDeliver {
		return jsapi.ErrConsumerMaxDeliverBackoff
	}
	if cc.DeliverSubject != "" {
		if !subject.IsLiteral([]byte(cc.DeliverSubject)) {
			return jsapi.ErrConsumerDeliverToWildcards
		}
		if !subject.ValidLiteral([]byte(cc.DeliverSubject)) {
			return jsapi.ErrConsumerInvalidDeliverSubject
		}
		for _, s := range scfg.Subjects {
			if subject.Matches(s, cc.DeliverSubject) {
				return jsapi.ErrConsumerDeliverCycle
			}
		}
		if cc.MaxWaiting != 0 {
			return jsapi.ErrConsumerPushMaxWaiting
		}
		if cc.MaxAckPending > 0 && cc.AckPolicy == jsapi.AckNone {
			return jsapi.ErrConsumerMaxPendingAckPolicyRequired
		}
		if cc.Heartbeat > 0 && cc.Heartbeat < 100*time.Millisecond {
			return jsapi.ErrConsumerSmallHeartbeat
		}
		if cc.FlowControl && cc.Heartbeat == 0 {
			return jsapi.ErrConsumerWithFlowControlNeedsHeartbeats
		}
	} else {
		if cc.AckPolicy == jsapi.AckNone && scfg.Retention == jsapi.WorkQueuePolicy {
			return jsapi.ErrConsumerPullRequiresAck
		}
		if cc.RateLimit > 0 {
			return jsapi.ErrConsumerPullWithRateLimit
		}
		if cc.Heartbeat > 0 {
			return jsapi.ErrConsumerHBRequiresPush
		}
		if cc.FlowControl {
			return jsapi.ErrConsumerFCRequiresPush
		}
		if cc.MaxRequestExpires != 0 && cc.MaxRequestExpires < time.Millisecond {
			return jsapi.ErrConsumerMaxRequestExpiresTooSmall
		}
	}
	if cc.FilterSubject != "" && len(cc.FilterSubjects) > 0 {
		return jsapi.ErrConsumerDuplicateFilterSubjects
	}
	filters := cc.FilterSubjects
	if cc.FilterSubject != "" {
		filters = []string{cc.FilterSubject}
	}
	for i, f := range filters {
		if f == "" {
			return jsapi.ErrConsumerEmptyFilter
		}
		if !subject.ValidPattern([]byte(f)) {
			return jsapi.ErrConsumerFilterNotSubset
		}
		for _, g := range filters[i+1:] {
			if g == f {
				return jsapi.ErrConsumerDuplicateFilterSubjects
			}
			if subject.Overlap(f, g) {
				return jsapi.ErrConsumerOverlappingSubjectFilters
			}
		}
	}
	if e := checkPriorityConfig(cc); e != nil {
		return e
	}
	// A mirror's or source's consumer is ephemeral and pushed.
	if cc.Direct {
		if cc.DeliverSubject == "" {
			return jsapi.ErrConsumerDirectRequiresPush
		}
		if cc.Durable != "" {
			return jsapi.ErrConsumerDirectRequiresEphemeral
		}
	}
	if scfg.Retention == jsapi.WorkQueuePolicy && !cc.Direct && !cc.Sourcing {
		if cc.AckPolicy != jsapi.AckExplicit && cc.AckPolicy != jsapi.AckFlowControl {
			return jsapi.ErrConsumerWQRequiresExplicitAck
		}
		if cc.DeliverPolicy != jsapi.DeliverAll {
			return jsapi.ErrConsumerWQConsumerNotDeliverAll
		}
	}
	return nil
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// sampleFreq parses sample_freq ("50" or "50%"): the percentage of acks
// sampled into $JS.EVENT.METRIC.CONSUMER.ACK metrics.
func sampleFreq(s string) (int, error) {
	return strconv.Atoi(strings.TrimSuffix(s, "%"))
}
