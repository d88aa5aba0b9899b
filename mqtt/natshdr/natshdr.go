// Package natshdr maps an MQTT message's flags and MQTT 5 properties to a
// NATS header block and back, so an MQTT publish reaches NATS subscribers,
// streams and the KV bucket of retained messages with everything a NATS
// application needs to know, and a NATS publish reaches MQTT subscribers
// with the properties NATS headers express. It is pure: no I/O, no state.
//
// The headers, MQTT → NATS:
//
//	Nmqtt-Pub: <qos>[<flags>]  always on a message from MQTT: the QoS it was
//	                           published with, as nats-server writes it;
//	                           a second hex digit carries the PUBLISH flags
//	                           nibble when the message was retained
//	                           (nats-server's staged-QoS-2 encoding).
//	Nmqtt-Expires: <RFC 3339>  Message Expiry Interval, as the instant the
//	                           message expires, so time spent waiting in a
//	                           stream or a session's queue counts.
//	Nmqtt-Payload-Format: 1    Payload Format Indicator (UTF-8).
//	Content-Type: <v>          Content Type.
//	Nmqtt-Response-Topic: <t>  Response Topic, verbatim (the NATS reply
//	                           subject carries its mapping, or a broker
//	                           reply inbox; see package mqtt).
//	Nmqtt-Correlation-Data: <base64> Correlation Data (standard base64).
//	<key>: <value>             each User Property, in order, when the key is
//	                           a valid NATS header name and neither key nor
//	                           value holds CR or LF; others are left out and
//	                           counted (Dropped), as are keys starting with
//	                           Nats- or Nmqtt- and KV-Operation, which
//	                           would steer JetStream or leafgate.
//
// NATS → MQTT reads the same headers; every other header, apart from the
// status line and the Nmqtt- ones, becomes a User Property. A NATS
// publisher picks the QoS of its message with Nmqtt-Pub (0, 1 or 2).
package natshdr

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// Header names.
const (
	Pub             = "Nmqtt-Pub"
	Expires         = "Nmqtt-Expires"
	PayloadFormat   = "Nmqtt-Payload-Format"
	ContentType     = "Content-Type"
	ResponseTopic   = "Nmqtt-Response-Topic"
	CorrelationData = "Nmqtt-Correlation-Data"
)

const (
	flagRetain = 0x01
	hdrLine    = "NATS/1.0\r\n"
)

// Message is what the header block says about an MQTT message.
type Message struct {
	QoS    byte
	HasQoS bool // a Nmqtt-Pub header was present and valid
	Retain bool
	// Expires is the instant the message expires (zero: never).
	Expires time.Time
}

// Append appends the NATS header block for an MQTT PUBLISH of QoS qos
// (retain: it was published with the RETAIN flag) with properties props
// (nil for 3.1.1), expiring at expires (zero: never). It returns dst and
// the number of user properties left out because NATS headers cannot carry
// them.
func Append(dst []byte, qos byte, retain bool, props *packet.Properties, expires time.Time) (_ []byte, dropped int) {
	dst = append(dst, hdrLine...)
	dst = append(dst, Pub...)
	dst = append(dst, ':', '0'+qos)
	if retain {
		dst = append(dst, "0123456789ABCDEF"[flagRetain|qos<<1])
	}
	dst = append(dst, '\r', '\n')
	if !expires.IsZero() {
		dst = append(dst, Expires...)
		dst = append(dst, ':', ' ')
		dst = expires.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '\r', '\n')
	}
	if props != nil {
		if props.Has(packet.PropPayloadFormat) && props.PayloadFormat == 1 {
			dst = append(dst, PayloadFormat+": 1\r\n"...)
		}
		if props.Has(packet.PropContentType) && headerValueOK(props.ContentType) {
			dst = appendLine(dst, ContentType, props.ContentType)
		} else if props.Has(packet.PropContentType) {
			dropped++
		}
		if props.Has(packet.PropResponseTopic) && headerValueOK(props.ResponseTopic) {
			dst = appendLine(dst, ResponseTopic, props.ResponseTopic)
		}
		if props.Has(packet.PropCorrelationData) {
			dst = append(dst, CorrelationData...)
			dst = append(dst, ':', ' ')
			dst = base64.StdEncoding.AppendEncode(dst, props.CorrelationData)
			dst = append(dst, '\r', '\n')
		}
		for _, u := range props.User {
			if !headerKeyOK(u.Key) || !headerValueOK(u.Value) || reservedKey(u.Key) {
				dropped++
				continue
			}
			dst = appendLine(dst, string(u.Key), u.Value)
		}
	}
	return append(dst, '\r', '\n'), dropped
}

func appendLine(dst []byte, key string, v []byte) []byte {
	dst = append(dst, key...)
	dst = append(dst, ':', ' ')
	dst = append(dst, v...)
	return append(dst, '\r', '\n')
}

// headerKeyOK reports whether k can be a NATS header name: printable ASCII
// without ':' or space (nats-server and the clients split at the first ':').
func headerKeyOK(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

// headerValueOK reports whether v can be a header value: no CR or LF, and
// no leading or trailing space, which NATS header parsers trim.
func headerValueOK(v []byte) bool {
	if bytes.IndexByte(v, '\r') >= 0 || bytes.IndexByte(v, '\n') >= 0 {
		return false
	}
	return len(v) == 0 || (v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t')
}

// reservedKey: user properties may not pose as the headers this package
// writes (which would change the message's QoS or expiry), nor as the
// headers that steer JetStream and KV (Nats-Rollup would purge a stream,
// Nats-Expected-* and Nats-TTL change what is stored, KV-Operation deletes
// a key): an MQTT client gets no more power over streams than its
// publishes give it.
func reservedKey(k []byte) bool {
	return hasPrefixFold(k, "Nmqtt-") || hasPrefixFold(k, "Nats-") || string(k) == ContentType ||
		bytes.EqualFold(k, []byte("KV-Operation"))
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && bytes.EqualFold(b[:len(p)], []byte(p))
}

// Parse reads the MQTT meaning of a NATS header block (nil: none) into
// props (reset first; nil to skip properties, for a 3.1.1 receiver), with
// props' byte slices aliasing hdr except Correlation Data, which is decoded
// into scratch (returned, grown as needed). Unknown headers become User
// Properties. A Nmqtt-Pub value that is not a QoS is ignored (HasQoS
// false); a malformed Nmqtt-Expires or Correlation Data header is ignored.
func Parse(hdr []byte, props *packet.Properties, scratch []byte) (Message, []byte) {
	var m Message
	if props != nil {
		props.Reset()
	}
	for line := range proto.HeaderLines(hdr) {
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		key := line[:i]
		val := bytes.TrimSpace(line[i+1:])
		switch string(key) {
		case Pub:
			if len(val) >= 1 && val[0] >= '0' && val[0] <= '2' {
				m.QoS, m.HasQoS = val[0]-'0', true
				if len(val) >= 2 {
					if f, err := strconv.ParseUint(string(val[1:2]), 16, 8); err == nil && f&flagRetain != 0 {
						m.Retain = true
					}
				}
			}
			continue
		case Expires:
			if t, err := time.Parse(time.RFC3339Nano, string(val)); err == nil {
				m.Expires = t
			}
			continue
		}
		if props == nil {
			continue
		}
		switch string(key) {
		case PayloadFormat:
			if string(val) == "1" {
				props.PayloadFormat = 1
				props.Set(packet.PropPayloadFormat)
			}
		case ContentType:
			// Only what a PUBLISH may carry: a UTF-8 string without
			// U+0000 [MQTT-1.5.4-1..2], or the client would close.
			if packet.ValidUTF8(val) {
				props.ContentType = val
				props.Set(packet.PropContentType)
			}
		case ResponseTopic:
			if len(val) > 0 && packet.CheckTopicName(val) == nil { // [MQTT-3.3.2-14]
				props.ResponseTopic = val
				props.Set(packet.PropResponseTopic)
			}
		case CorrelationData:
			start := len(scratch)
			if out, err := base64.StdEncoding.AppendDecode(scratch, val); err == nil && len(out)-start <= packet.MaxString {
				scratch = out
				props.CorrelationData = scratch[start:len(scratch):len(scratch)]
				props.Set(packet.PropCorrelationData)
			}
		default:
			if hasPrefixFold(key, "Nmqtt-") || len(key) > packet.MaxString || len(val) > packet.MaxString {
				continue
			}
			if !packet.ValidUTF8(key) || !packet.ValidUTF8(val) {
				continue
			}
			props.User = append(props.User, packet.UserProperty{Key: key, Value: val})
		}
	}
	return m, scratch
}
