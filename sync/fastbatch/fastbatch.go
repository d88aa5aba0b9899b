// Package fastbatch is the wire form of nats-server's fast batch publish
// (2.14, a stream with allow_batched): the reply subject that carries a
// message's place in its batch, and the hub's answers. It is pure: no
// connection, no state.
//
// A batch publishes its messages with replies
//
//	<prefix><batch id>.<flow>.<fail|ok>.<batch seq>.<op>.$FI
//
// The first message is op Start at seq 1, the rest Append; Commit
// publishes a last message and commits, CommitEOB commits without one
// (its seq is the last message's plus one), and Ping asks the hub to
// repeat its latest flow acknowledgement. The hub answers on the reply of
// the message that triggered the answer:
//
//	{"type":"ack","seq":N,"msgs":F}   every F messages: up to N stored (gap "fail")
//	{"type":"gap","last_seq":E,"seq":S} messages E up to S were lost
//	{"type":"err","seq":S,"error":{...}} message S was refused
//	{"stream":…,"seq":…,"batch":…,"count":…} the commit's PubAck
//
// See nats-server's stream.go (getFastBatch, BatchFlowAck, BatchFlowGap,
// BatchFlowErr) for the server's side.
package fastbatch

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/leafgate/leafgate/store/jsapi"
)

// Op is what a message does in its batch.
type Op int

const (
	Start     Op = iota // the first message, seq 1
	Append              // any later message
	Commit              // a last message, and commit
	CommitEOB           // commit after the last message sent (no message)
	Ping                // repeat the latest flow acknowledgement
)

// Suffix ends every fast batch reply subject.
const Suffix = ".$FI"

// Reply is a message's place in its batch, as its reply subject says.
type Reply struct {
	ID    string // the batch: one subject token
	Flow  uint16 // acknowledge every Flow messages (the hub may change it)
	GapOK bool   // keep going over a gap ("ok") or end the batch ("fail")
	Seq   uint64 // the message's place, from 1
	Op    Op
}

// AppendReply appends prefix and r's reply subject to dst. prefix ends
// with a dot; r.ID must be one token.
func AppendReply(dst []byte, prefix string, r Reply) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, r.ID...)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(r.Flow), 10)
	if r.GapOK {
		dst = append(dst, ".ok."...)
	} else {
		dst = append(dst, ".fail."...)
	}
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(r.Op), 10)
	return append(dst, Suffix...)
}

// ParseReply reads a reply subject as nats-server does (from the end):
// ok is false for a subject that is not a fast batch reply, or one the
// server would refuse. prefix is everything before the batch id.
func ParseReply(subj string) (prefix string, r Reply, ok bool) {
	rest, found := strings.CutSuffix(subj, Suffix)
	if !found {
		return "", Reply{}, false
	}
	tok := func() (string, bool) {
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return "", false
		}
		t := rest[i+1:]
		rest = rest[:i]
		return t, true
	}
	opTok, ok1 := tok()
	seqTok, ok2 := tok()
	gapTok, ok3 := tok()
	flowTok, ok4 := tok()
	id, ok5 := tok()
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || id == "" {
		return "", Reply{}, false
	}
	op, err := strconv.Atoi(opTok)
	if err != nil || op < int(Start) || op > int(Ping) {
		return "", Reply{}, false
	}
	r.Op = Op(op)
	if r.Seq, err = strconv.ParseUint(seqTok, 10, 64); err != nil || r.Seq == 0 || r.Seq == ^uint64(0) {
		return "", Reply{}, false
	}
	switch {
	case r.Op == Start && r.Seq != 1,
		r.Op == Append && r.Seq <= 1,
		r.Op == CommitEOB && r.Seq == 1:
		return "", Reply{}, false
	}
	switch gapTok {
	case "ok":
		r.GapOK = true
	case "fail":
	default:
		return "", Reply{}, false
	}
	flow, err := strconv.ParseInt(flowTok, 10, 64)
	switch {
	case err != nil, flow <= 0: // nats-server reads what is not a number as -1
		flow = 10 // nats-server's default
	case flow > 65535:
		flow = 65535
	}
	r.Flow = uint16(flow)
	r.ID = id
	return rest + ".", r, true
}

// Kind is what an answer is.
type Kind int

const (
	FlowAck Kind = iota + 1 // {"type":"ack"}
	Gap                     // {"type":"gap"}
	Err                     // {"type":"err"}
	PubAck                  // the commit's (or a refused first message's) PubAck
)

// Answer is one of the hub's answers to a batch.
type Answer struct {
	Kind Kind
	// FlowAck: stored up to Seq (with gap "fail"); acknowledgements come
	// every Msgs messages from now on.
	// Gap: messages LastSeq up to (not including) Seq were lost.
	// Err: message Seq was refused with Error.
	Seq     uint64
	Msgs    uint16
	LastSeq uint64
	// PubAck: the commit's acknowledgement, or Error (for a refused
	// first message, or a commit that failed).
	Stream    string
	StreamSeq uint64
	Batch     string
	Count     uint64
	Duplicate bool
	Error     *jsapi.Error
}

// ErrAnswer is an answer ParseAnswer cannot read.
var ErrAnswer = errors.New("fastbatch: not a fast batch answer")

// ParseAnswer reads one of the hub's answers. They come once per Flow
// messages, so encoding/json is cheap enough.
func ParseAnswer(data []byte) (Answer, error) {
	var w struct {
		Type      string       `json:"type"`
		Seq       uint64       `json:"seq"`
		Msgs      uint16       `json:"msgs"`
		LastSeq   uint64       `json:"last_seq"`
		Stream    string       `json:"stream"`
		Batch     string       `json:"batch"`
		Count     uint64       `json:"count"`
		Duplicate bool         `json:"duplicate"`
		Error     *jsapi.Error `json:"error"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return Answer{}, ErrAnswer
	}
	switch w.Type {
	case "ack":
		return Answer{Kind: FlowAck, Seq: w.Seq, Msgs: w.Msgs}, nil
	case "gap":
		return Answer{Kind: Gap, Seq: w.Seq, LastSeq: w.LastSeq}, nil
	case "err":
		if w.Error == nil {
			return Answer{}, ErrAnswer
		}
		return Answer{Kind: Err, Seq: w.Seq, Error: w.Error}, nil
	case "":
		if w.Error == nil && w.Stream == "" {
			return Answer{}, ErrAnswer
		}
		return Answer{Kind: PubAck, Stream: w.Stream, StreamSeq: w.Seq, Batch: w.Batch, Count: w.Count, Duplicate: w.Duplicate, Error: w.Error}, nil
	}
	return Answer{}, ErrAnswer
}
