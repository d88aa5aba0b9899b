package retain

import (
	"bytes"
	"strconv"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
)

// Headers this package writes on the KV messages it stores. Msg.Hdr
// never carries HdrTopic (the topic is Msg.Topic) or Nats-TTL (JetStream's
// business, see owned); it carries HdrExpires exactly when Msg.Expires is
// set, written from it.
const (
	// HdrTopic carries the exact topic name, for NATS applications reading
	// the bucket; the key alone also gives it back (TopicOf). Left out when
	// the topic cannot be a header value (CR or LF, or leading or trailing
	// white space, which header parsers trim).
	HdrTopic = "Nmqtt-Topic"
	// HdrExpires is the instant the message expires, RFC 3339 in UTC with
	// nanoseconds: the same header, in the same form, as the broker's
	// Message Expiry header on every MQTT message it publishes to NATS.
	HdrExpires = "Nmqtt-Expires"
	hdrTTL     = "Nats-TTL"
)

// KV and JetStream headers read from stored messages.
const (
	hdrOp     = "KV-Operation"       // DEL or PURGE: the key was deleted
	hdrMarker = "Nats-Marker-Reason" // a subject delete marker (MaxAge, …)
)

const hdrStart = "NATS/1.0\r\n"

// owned reports whether a header line's key is one of this package's or
// one that steers JetStream or KV: "Nats-…" (Nats-Rollup, Nats-TTL,
// Nats-Expected-…, Nats-Msg-Id) and KV-Operation. Those are never taken
// from the broker's header block, where an MQTT client's User Property
// could have put them (a "Nats-Rollup: all" would purge the bucket, a
// "KV-Operation: DEL" would store a delete), nor handed back.
func owned(key []byte) bool {
	return bytes.EqualFold(key, []byte(HdrTopic)) || bytes.EqualFold(key, []byte(HdrExpires)) ||
		bytes.EqualFold(key, []byte(hdrOp)) ||
		len(key) >= len("Nats-") && bytes.EqualFold(key[:len("Nats-")], []byte("Nats-"))
}

// lineKey is the key of a "Key: value" header line, nil when malformed.
func lineKey(line []byte) []byte {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil
	}
	return line[:i]
}

// appendForeign appends the lines of hdr that are not this package's.
func appendForeign(dst, hdr []byte) (_ []byte, n int) {
	for line := range proto.HeaderLines(hdr) {
		k := lineKey(line)
		if k == nil || owned(k) {
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, '\r', '\n')
		n++
	}
	return dst, n
}

// userHeader is hdr without this package's headers (and without any status
// in its first line); nil when no line is left.
func userHeader(hdr []byte) []byte {
	if len(hdr) == 0 {
		return nil
	}
	out, n := appendForeign(append(make([]byte, 0, len(hdr)), hdrStart...), hdr)
	if n == 0 {
		return nil
	}
	return append(out, '\r', '\n')
}

// handedHeader is the header block Match hands out: user (already
// userHeader) plus HdrExpires when the message expires, so the broker's
// header parser finds the expiry where it writes it, whether the message
// came from MQTT or was put by a NATS application with a TTL.
func handedHeader(user []byte, expires int64) []byte {
	if expires == 0 {
		return user
	}
	b := make([]byte, 0, len(user)+64)
	b = append(b, hdrStart...)
	if len(user) > len(hdrStart) {
		b = append(b, user[len(hdrStart):len(user)-2]...)
	}
	b = append(b, HdrExpires+": "...)
	b = time.Unix(0, expires).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\r\n\r\n"...)
}

// storedHeader is the header block of a retained message in the bucket:
// user (already userHeader) plus the topic, expiry and TTL headers. ttl is
// in whole seconds, 0 for none.
func storedHeader(user, topic []byte, expires int64, ttl int64) []byte {
	b := make([]byte, 0, len(user)+len(topic)+96)
	b = append(b, hdrStart...)
	if len(user) > len(hdrStart) {
		b = append(b, user[len(hdrStart):len(user)-2]...) // its lines, without the final CRLF
	}
	if headerValueOK(topic) {
		b = append(b, HdrTopic+": "...)
		b = append(b, topic...)
		b = append(b, '\r', '\n')
	}
	if expires != 0 {
		b = append(b, HdrExpires+": "...)
		b = time.Unix(0, expires).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '\r', '\n')
	}
	if ttl > 0 {
		b = append(b, hdrTTL+": "...)
		b = strconv.AppendInt(b, ttl, 10)
		b = append(b, '\r', '\n')
	}
	return append(b, '\r', '\n')
}

// purgeHeader is the header block of a clear: a KV purge that rolls the
// key's history up into this marker, which itself goes after ttl seconds.
func purgeHeader(ttl int64) []byte {
	b := []byte(hdrStart + hdrOp + ": PURGE\r\nNats-Rollup: sub\r\n" + hdrTTL + ": ")
	b = strconv.AppendInt(b, ttl, 10)
	return append(b, "\r\n\r\n"...)
}

// headerValueOK reports whether v survives as a header value: no CR or LF,
// no leading or trailing white space.
func headerValueOK(v []byte) bool {
	if len(v) == 0 || bytes.ContainsAny(v, "\r\n") {
		return false
	}
	return v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t'
}

// ttlSeconds is the Nats-TTL, in whole seconds rounded up and at least
// JetStream's minimum of one, that makes JetStream drop a message expiring
// at expires (unix nanoseconds) no earlier than then.
func ttlSeconds(expires, now int64) int64 {
	d := expires - now
	if d <= int64(time.Second) {
		return 1
	}
	return (d + int64(time.Second) - 1) / int64(time.Second)
}

// deleted reports whether a stored message's headers mark its key deleted:
// a KV delete or purge, or a subject delete marker JetStream left when the
// message's TTL ran out.
func deleted(hdr []byte) bool {
	if len(hdr) == 0 {
		return false
	}
	if op := proto.HeaderGet(hdr, hdrOp); string(op) == "DEL" || string(op) == "PURGE" {
		return true
	}
	return proto.HeaderGet(hdr, hdrMarker) != nil
}

// storedExpiry reads when a stored message expires (unix nanoseconds, 0
// never): HdrExpires when present and valid, else its Nats-TTL counted
// from ts, the time JetStream stored it (for values a NATS application put
// with a TTL).
func storedExpiry(hdr []byte, ts int64) int64 {
	if v := proto.HeaderGet(hdr, HdrExpires); v != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
			return t.UnixNano()
		}
	}
	v := proto.HeaderGet(hdr, hdrTTL)
	if v == nil || ts == 0 {
		return 0
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n > 0 {
		return ts + n*int64(time.Second)
	}
	if d, err := time.ParseDuration(string(v)); err == nil && d > 0 {
		return ts + int64(d)
	}
	return 0 // "never", or invalid (JetStream would have refused it)
}
