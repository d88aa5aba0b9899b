package leafproto

import (
	"encoding/json"
	"strconv"
)

// Fixed protocol lines.
var (
	PingLine = []byte("PING\r\n")
	PongLine = []byte("PONG\r\n")
)

// MaxQueueWeight is the largest queue weight nats-server puts on the wire
// (util.go maxQueueWeight); its parser reads at most 9 digits.
const MaxQueueWeight = 999_999_999

// AppendSub appends LS+: "LS+ <subject>\r\n" for a plain subscription
// (queue empty), "LS+ <subject> <queue> <weight>\r\n" for a queue group,
// whose weight is its number of members, clamped to 1..MaxQueueWeight as
// nats-server clamps it (writeLeafSub). An LS+ for a queue already
// advertised updates its weight.
func AppendSub(dst, subject, queue []byte, weight int32) []byte {
	dst = append(dst, "LS+ "...)
	dst = append(dst, subject...)
	if len(queue) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, queue...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(min(max(weight, 1), MaxQueueWeight)), 10)
	}
	return append(dst, '\r', '\n')
}

// AppendUnsub appends LS-: "LS- <subject>[ <queue>]\r\n". The hub keys
// interest by exactly the LS+ arguments without the weight.
func AppendUnsub(dst, subject, queue []byte) []byte {
	dst = append(dst, "LS- "...)
	dst = append(dst, subject...)
	if len(queue) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, queue...)
	}
	return append(dst, '\r', '\n')
}

// AppendMsgLine appends the control line of an LMSG carrying size payload
// bytes; the caller appends the payload and its CRLF. The forms are
// nats-server's (msgHeaderForRouteOrLeaf):
//
//	LMSG <subject> [<reply>] <size>         no queue names
//	LMSG <subject> + <reply> <q>... <size>  queue names and a reply
//	LMSG <subject> | <q>... <size>          queue names, no reply
func AppendMsgLine(dst, subject, reply []byte, queues [][]byte, size int) []byte {
	dst = appendMsgPrefix(dst, "LMSG ", subject, reply, queues)
	dst = strconv.AppendInt(dst, int64(size), 10)
	return append(dst, '\r', '\n')
}

// AppendHMsgLine appends the control line of an HMSG whose header block is
// hdrLen bytes of total (headers plus payload); the caller appends headers,
// payload and CRLF. The forms are AppendMsgLine's with
// "<hdrLen> <total>" in place of the size.
func AppendHMsgLine(dst, subject, reply []byte, queues [][]byte, hdrLen, total int) []byte {
	dst = appendMsgPrefix(dst, "HMSG ", subject, reply, queues)
	dst = strconv.AppendInt(dst, int64(hdrLen), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(total), 10)
	return append(dst, '\r', '\n')
}

// appendMsgPrefix appends "<op><subject> " and the reply/queue part with its
// trailing space.
func appendMsgPrefix(dst []byte, op string, subject, reply []byte, queues [][]byte) []byte {
	dst = append(dst, op...)
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	if len(queues) > 0 {
		if len(reply) > 0 {
			dst = append(dst, '+', ' ')
			dst = append(dst, reply...)
			dst = append(dst, ' ')
		} else {
			dst = append(dst, '|', ' ')
		}
		for _, q := range queues {
			dst = append(dst, q...)
			dst = append(dst, ' ')
		}
	} else if len(reply) > 0 {
		dst = append(dst, reply...)
		dst = append(dst, ' ')
	}
	return dst
}

// AppendMsg appends a complete LMSG.
func AppendMsg(dst, subject, reply []byte, queues [][]byte, payload []byte) []byte {
	dst = AppendMsgLine(dst, subject, reply, queues, len(payload))
	dst = append(dst, payload...)
	return append(dst, '\r', '\n')
}

// AppendHMsg appends a complete HMSG. hdr is the header block from the
// NATS/1.0 line through the blank line. nats-server sends a message
// without headers as LMSG, and strips headers (sending LMSG with the
// payload only) to a peer that did not negotiate them; both are the
// caller's choice.
func AppendHMsg(dst, subject, reply []byte, queues [][]byte, hdr, payload []byte) []byte {
	dst = AppendHMsgLine(dst, subject, reply, queues, len(hdr), len(hdr)+len(payload))
	dst = append(dst, hdr...)
	dst = append(dst, payload...)
	return append(dst, '\r', '\n')
}

// AppendPing appends "PING\r\n".
func AppendPing(dst []byte) []byte { return append(dst, PingLine...) }

// AppendPong appends "PONG\r\n".
func AppendPong(dst []byte) []byte { return append(dst, PongLine...) }

// AppendErr appends "-ERR '<text>'\r\n".
func AppendErr(dst []byte, text string) []byte {
	dst = append(dst, "-ERR '"...)
	dst = append(dst, text...)
	return append(dst, "'\r\n"...)
}

// AppendConnect appends "CONNECT {json}\r\n".
func AppendConnect(dst []byte, c *Connect) []byte {
	return appendJSONOp(dst, "CONNECT ", c)
}

// AppendInfo appends "INFO {json}\r\n". (nats-server writes a space before
// the CRLF; the parser accepts both.)
func AppendInfo(dst []byte, i *Info) []byte {
	return appendJSONOp(dst, "INFO ", i)
}

func appendJSONOp(dst []byte, op string, v any) []byte {
	js, err := json.Marshal(v)
	if err != nil {
		// Info and Connect hold only strings, numbers, bools and
		// string slices: Marshal cannot fail.
		panic("leafproto: marshal " + op + err.Error())
	}
	dst = append(dst, op...)
	dst = append(dst, js...)
	return append(dst, '\r', '\n')
}
