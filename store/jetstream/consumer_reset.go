package jetstream

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/jsapi"
)

// CONSUMER.RESET.<stream>.<consumer> (nats-server 2.14) moves a consumer
// back to its ack floor, or to a given stream sequence, forgetting what it
// delivered: nothing is pending any more and consumer sequences start
// again at 1. As with nats-server it is the consumer's own subscription,
// like MSG.NEXT, not part of the API service: a consumer that does not
// exist has no responder, and it is not counted in the API statistics.

type consumerResetResp struct {
	jsapi.Response
	*jsapi.ConsumerInfo
	ResetSeq uint64 `json:"reset_seq"`
}

// isResetSubject reports whether subj is a CONSUMER.RESET subject (the
// consumer's other control subject is MSG.NEXT).
func (s *Service) isResetSubject(subj string) bool {
	for _, p := range s.apiPrefixes() {
		if strings.HasPrefix(subj, p+"CONSUMER.RESET.") {
			return true
		}
	}
	return false
}

// onReset answers a CONSUMER.RESET request, on the stream's goroutine.
func (c *consumer) onReset(reply string, hdr, body []byte) {
	if reply == "" {
		return
	}
	resp := consumerResetResp{Response: jsapi.Response{Type: jsapi.TypeConsumerReset}}
	var rhdr []byte
	switch {
	case levelTooHigh(hdr, sourcingLevel):
		resp.Error = jsapi.ErrRequiredApiLevel
	default:
		var req jsapi.ConsumerResetRequest
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				resp.Error = jsapi.ErrInvalidJSON.WithErr(err)
				break
			}
		}
		seq, err := c.reset(req.Seq)
		if err != nil {
			resp.Error = jsapi.ErrConsumerInvalidReset.WithErr(err)
			break
		}
		resp.ConsumerInfo = c.info()
		resp.ResetSeq = seq
		// A source that says which stream it expects is told which
		// one answered; a reset is not refused on a mismatch.
		if len(proto.HeaderGet(hdr, streamIdentityHeader)) > 0 {
			rhdr = appendHeaderLine(nil, nil, streamIdentityHeader, c.ms.identity())
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return
	}
	c.ms.svc.publish(reply, "", rhdr, b)
}

// reset moves the consumer to seq (0: just above the ack floor), as
// nats-server's resetStartingSeq: any sequence for deliver policy all, not
// below the configured start for by_start_sequence and by_start_time, only
// the ack floor for the other policies. It returns the sequence the next
// delivery starts from.
func (c *consumer) reset(seq uint64) (uint64, error) {
	switch {
	case seq == 0:
		seq = c.floorS + 1
	case c.cfg.DeliverPolicy == jsapi.DeliverAll:
	case c.cfg.DeliverPolicy == jsapi.DeliverByStartSeq:
		if seq < c.cfg.OptStartSeq {
			return 0, errors.New("below start seq")
		}
	case c.cfg.DeliverPolicy == jsapi.DeliverByStartTime && c.cfg.OptStartTime != nil:
		if seq < c.ms.seqAtTime(c.cfg.OptStartTime.UnixNano()) {
			return 0, errors.New("below start time")
		}
	default:
		return 0, errors.New("not allowed")
	}
	seq = max(seq, 1)
	clear(c.pending)
	clear(c.rdc)
	c.rdq, c.lastSeqs, c.ahead = nil, nil, nil
	c.sseq, c.lastS, c.dseq = seq-1, seq-1, 0
	c.floorC, c.floorS = 0, seq-1
	c.lastDel, c.floorLast = time.Time{}, time.Time{}
	c.pendKnown = false
	// What was in flight is moot: a flow-control reply still to come for
	// it would be stale.
	c.pbytes, c.fcReply, c.fcsz = 0, "", 0
	c.dirty = true
	if err := c.ms.persistConsumerConfig(c); err != nil {
		c.ms.svc.log.Error("jetstream: persist consumer reset", "stream", c.ms.name, "consumer", c.name, "err", err)
	}
	if c.ms.config().Retention == jsapi.InterestPolicy {
		// Messages the consumer skipped past may now be of no interest.
		for next := c.ms.store.State().FirstSeq; next < seq; {
			m, ok := c.ms.nextProjected("", next)
			if !ok || m.Seq >= seq {
				break
			}
			if c.matches(m.Subject) && c.ms.allAcked(&m) {
				c.ms.removeMsg(m.Seq)
			}
			next = m.Seq + 1
		}
	}
	c.kick()
	return seq, nil
}
