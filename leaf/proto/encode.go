package proto

import (
	"encoding/json"
	"strconv"
)

// Fixed protocol lines.
var (
	PingLine = []byte("PING\r\n")
	PongLine = []byte("PONG\r\n")
	OKLine   = []byte("+OK\r\n")
)

// AppendMsgLine appends "MSG <subject> <sid> [reply] <size>\r\n"; the
// caller appends the payload and its CRLF.
func AppendMsgLine(dst, subject, sid, reply []byte, size int) []byte {
	dst = appendMsgPrefix(dst, "MSG ", subject, sid, reply)
	dst = strconv.AppendInt(dst, int64(size), 10)
	return append(dst, '\r', '\n')
}

// AppendHMsgLine appends "HMSG <subject> <sid> [reply] <hdrLen> <total>\r\n";
// the caller appends headers, payload and CRLF.
func AppendHMsgLine(dst, subject, sid, reply []byte, hdrLen, total int) []byte {
	dst = appendMsgPrefix(dst, "HMSG ", subject, sid, reply)
	dst = strconv.AppendInt(dst, int64(hdrLen), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(total), 10)
	return append(dst, '\r', '\n')
}

// appendMsgPrefix appends "<op><subject> <sid> [reply ]".
func appendMsgPrefix(dst []byte, op string, subject, sid, reply []byte) []byte {
	dst = append(dst, op...)
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	dst = append(dst, sid...)
	dst = append(dst, ' ')
	if len(reply) > 0 {
		dst = append(dst, reply...)
		dst = append(dst, ' ')
	}
	return dst
}

// AppendMsg appends a complete MSG.
func AppendMsg(dst, subject, sid, reply, payload []byte) []byte {
	dst = AppendMsgLine(dst, subject, sid, reply, len(payload))
	dst = append(dst, payload...)
	return append(dst, '\r', '\n')
}

// AppendHMsg appends a complete HMSG.
func AppendHMsg(dst, subject, sid, reply, hdr, payload []byte) []byte {
	dst = AppendHMsgLine(dst, subject, sid, reply, len(hdr), len(hdr)+len(payload))
	dst = append(dst, hdr...)
	dst = append(dst, payload...)
	return append(dst, '\r', '\n')
}

// AppendErr appends "-ERR '<text>'\r\n".
func AppendErr(dst []byte, text string) []byte {
	dst = append(dst, "-ERR '"...)
	dst = append(dst, text...)
	return append(dst, "'\r\n"...)
}

// AppendInfo appends "INFO {json}\r\n".
func AppendInfo(dst []byte, info *Info) []byte {
	js, err := json.Marshal(info)
	if err != nil {
		// Info holds only strings, numbers and bools: Marshal cannot fail.
		panic("proto: marshal INFO: " + err.Error())
	}
	dst = append(dst, "INFO "...)
	dst = append(dst, js...)
	return append(dst, '\r', '\n')
}

// AppendStatusHeader appends a header block carrying only a status line,
// "NATS/1.0 <code>[ <desc>]\r\n\r\n", as servers send for JetStream flow
// control, pull request ends and direct get errors.
func AppendStatusHeader(dst []byte, code int, desc string) []byte {
	return append(AppendStatusLine(dst, code, desc), '\r', '\n')
}

// AppendStatusLine appends the first line of a status header block,
// "NATS/1.0 <code>[ <desc>]\r\n"; the caller appends "Key: value\r\n"
// lines and the final "\r\n" (503 no-responders with Nats-Subject, idle
// heartbeats with Nats-Last-Consumer).
func AppendStatusLine(dst []byte, code int, desc string) []byte {
	dst = append(dst, "NATS/1.0 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	if desc != "" {
		dst = append(dst, ' ')
		dst = append(dst, desc...)
	}
	return append(dst, '\r', '\n')
}
