package jetstream

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/leafgate/leafgate/store/jsapi"
)

// appendPubAck encodes {"stream":..,"seq":..[,"domain":..][,"duplicate":true]}
// without reflection: it is sent once per stored message.
func appendPubAck(dst []byte, stream, domain string, seq uint64, dup bool) []byte {
	dst = append(dst, `{"stream":`...)
	dst = appendJSONString(dst, stream)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	if domain != "" {
		dst = append(dst, `,"domain":`...)
		dst = appendJSONString(dst, domain)
	}
	if dup {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}

// appendPubAckError encodes a failed publish's answer.
func appendPubAckError(dst []byte, stream string, e *jsapi.Error) []byte {
	b, _ := json.Marshal(e)
	dst = append(dst, `{"error":`...)
	dst = append(dst, b...)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, stream)
	return append(dst, `,"seq":0}`...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// appendHeaderLine appends "Key: value\r\n" to a header block, starting
// one ("NATS/1.0\r\n") when dst is empty, or copying base's lines first
// when base is a header block. The result always ends with the blank line.
func appendHeaderLine(dst, base []byte, key, value string) []byte {
	if len(dst) == 0 {
		if len(base) > 0 {
			dst = append(dst, strings.TrimSuffix(string(base), "\r\n")...)
		} else {
			dst = append(dst, "NATS/1.0\r\n"...)
		}
	} else {
		dst = dst[:len(dst)-2] // drop the terminating blank line
	}
	dst = append(dst, key...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n\r\n"...)
}

// ackInfo is what a $JS.ACK reply subject carries.
type ackInfo struct {
	stream, consumer string
	delivered        uint64
	sseq, cseq       uint64
}

// parseAck reads a $JS.ACK subject without allocating.
func parseAck(subj string) (ackInfo, bool) {
	if len(subj) < 8 || subj[:8] != "$JS.ACK." {
		return ackInfo{}, false
	}
	var toks [12]string
	n := 0
	start := 0
	for j := 0; j <= len(subj); j++ {
		if j == len(subj) || subj[j] == '.' {
			if n == len(toks) {
				return ackInfo{}, false
			}
			toks[n] = subj[start:j]
			n++
			start = j + 1
		}
	}
	off := 2
	switch {
	case n == 9:
	case n >= 11:
		off = 4
	default:
		return ackInfo{}, false
	}
	u := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
	return ackInfo{stream: toks[off], consumer: toks[off+1], delivered: u(toks[off+2]), sseq: u(toks[off+3]), cseq: u(toks[off+4])}, true
}
