package sourcing

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/leafgate/leafgate/leaf/proto"
)

// Headers of the sourcing protocol.
const (
	hdrLastConsumer    = "Nats-Last-Consumer"
	hdrLastStream      = "Nats-Last-Stream"
	hdrConsumerStalled = "Nats-Consumer-Stalled"
	hdrStreamSource    = "Nats-Stream-Source"
	hdrRequiredLevel   = "Nats-Required-Api-Level"
	hdrStreamIdentity  = "Nats-Stream-Identity"
)

// ackMeta is what a delivery's $JS.ACK reply subject says about it.
type ackMeta struct {
	consumer string
	dc       uint64 // delivery count
	sseq     uint64 // origin stream sequence
	dseq     uint64 // consumer sequence
	ts       int64  // origin timestamp, unix nanoseconds
	pending  uint64 // messages left after this one
}

// parseAckReply reads $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>
// (9 tokens) or the v2 form with domain and account hash after ACK
// (11 or more tokens).
func parseAckReply(reply string) (ackMeta, bool) {
	if !strings.HasPrefix(reply, "$JS.ACK.") {
		return ackMeta{}, false
	}
	var toks [13]string
	n := 0
	start := 0
	for i := 0; i <= len(reply); i++ {
		if i == len(reply) || reply[i] == '.' {
			if n == len(toks) {
				return ackMeta{}, false
			}
			toks[n] = reply[start:i]
			n++
			start = i + 1
		}
	}
	var off int
	switch {
	case n == 9:
		off = 3
	case n >= 11:
		off = 5
	default:
		return ackMeta{}, false
	}
	var m ackMeta
	m.consumer = toks[off]
	var nums [5]uint64
	for i := range nums {
		v, err := strconv.ParseUint(toks[off+1+i], 10, 64)
		if err != nil {
			return ackMeta{}, false
		}
		nums[i] = v
	}
	if m.consumer == "" {
		return ackMeta{}, false
	}
	m.dc, m.sseq, m.dseq, m.ts, m.pending = nums[0], nums[1], nums[2], int64(nums[3]), nums[4]
	return m, true
}

// isControl reports whether a delivery is a heartbeat or flow-control
// request: no payload and a 100 status (nats-server's isControlMsg).
func isControl(hdr, data []byte) bool {
	return len(data) == 0 && bytes.HasPrefix(hdr, []byte("NATS/1.0 100"))
}

// headerUint reads a numeric header, 0 when absent or not a number.
func headerUint(hdr []byte, key string) uint64 {
	v, err := strconv.ParseUint(string(proto.HeaderGet(hdr, key)), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// fcReplyHeader is the header of a flow-control reply: where the
// follower has got to, which under the flow_control ack policy acks the
// origin up to there.
func fcReplyHeader(dseq, sseq uint64) []byte {
	b := make([]byte, 0, 80)
	b = append(b, "NATS/1.0\r\n"+hdrLastConsumer+": "...)
	b = strconv.AppendUint(b, dseq, 10)
	b = append(b, "\r\n"+hdrLastStream+": "...)
	b = strconv.AppendUint(b, sseq, 10)
	return append(b, "\r\n\r\n"...)
}

// requestHeader is a create or reset request's header: the API level it
// needs and, at level 5, the origin identity expected.
func requestHeader(level int, identity string) []byte {
	if level == 0 {
		return nil
	}
	b := []byte("NATS/1.0\r\n" + hdrRequiredLevel + ": " + strconv.Itoa(level) + "\r\n")
	if level >= 5 && identity != "" {
		b = append(b, hdrStreamIdentity+": "+identity+"\r\n"...)
	}
	return append(b, "\r\n"...)
}

// sourceHeader is the Nats-Stream-Source value nats-server writes (2.10
// format, with 2.15's identity): "<iname stream> <origin seq> <filters>
// <destinations> <original subject>[ <identity>]", the first, third and
// fourth taken from the source's index name.
func sourceHeader(iname string, seq uint64, subject, identity string) string {
	parts := strings.SplitN(iname, " ", 3)
	for len(parts) < 3 {
		parts = append(parts, ">")
	}
	var b strings.Builder
	b.Grow(len(iname) + len(subject) + 32)
	b.WriteString(parts[0])
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(seq, 10))
	b.WriteByte(' ')
	b.WriteString(parts[1])
	b.WriteByte(' ')
	b.WriteString(parts[2])
	b.WriteByte(' ')
	b.WriteString(subject)
	if identity != "" {
		b.WriteByte(' ')
		b.WriteString(identity)
	}
	return b.String()
}

// sourcedHeader is the header a sourced message is stored with: the
// origin's, without what must not be replayed (Nats-Expected-* checks,
// Nats-Batch-* framing, an earlier hop's Nats-Stream-Source), plus this
// hop's Nats-Stream-Source.
func sourcedHeader(dst, hdr []byte, source string) []byte {
	dst = append(dst, "NATS/1.0\r\n"...)
	for line := range proto.HeaderLines(hdr) {
		if hasKeyPrefix(line, "Nats-Expected-") || hasKeyPrefix(line, "Nats-Batch-") || hasKey(line, hdrStreamSource) {
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, hdrStreamSource+": "...)
	dst = append(dst, source...)
	return append(dst, "\r\n\r\n"...)
}

func hasKeyPrefix(line []byte, prefix string) bool {
	return len(line) > len(prefix) && string(line[:len(prefix)]) == prefix
}

func hasKey(line []byte, key string) bool {
	return len(line) > len(key) && line[len(key)] == ':' && string(line[:len(key)]) == key
}
