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

// ackStream extracts the stream name from a $JS.ACK or $JS.FC subject.
// $JS.ACK.<stream>.<consumer>.<n>.<sseq>.<cseq>.<ts>.<pending> (9 tokens),
// $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<n>.<sseq>.<cseq>.<ts>.<pending>[.<token>]
// (11 or 12 tokens), $JS.FC.<stream>.<consumer>.<id>.
func ackStream(subj string) (string, bool) {
	toks := strings.Split(subj, ".")
	if len(toks) < 3 || toks[0] != "$JS" {
		return "", false
	}
	switch {
	case toks[1] == "FC" && len(toks) >= 4:
		return toks[2], true
	case toks[1] == "ACK" && len(toks) == 9:
		return toks[2], true
	case toks[1] == "ACK" && len(toks) >= 11:
		return toks[4], true
	}
	return "", false
}

// ackInfo is what a $JS.ACK reply subject carries.
type ackInfo struct {
	stream, consumer string
	delivered        uint64
	sseq, cseq       uint64
}

func parseAck(subj string) (ackInfo, bool) {
	toks := strings.Split(subj, ".")
	if len(toks) >= 11 {
		toks = append(toks[:2:2], toks[4:]...)
	}
	if len(toks) < 9 || toks[1] != "ACK" {
		return ackInfo{}, false
	}
	u := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	return ackInfo{stream: toks[2], consumer: toks[3], delivered: u(toks[4]), sseq: u(toks[5]), cseq: u(toks[6])}, true
}
