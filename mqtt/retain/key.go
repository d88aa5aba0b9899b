package retain

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"

	mqtopic "github.com/leafgate/leafgate/mqtt/topic"
)

// b64Prefix starts the key of a topic whose subject is not a KV key.
const b64Prefix = "_b64."

// Errors for topic names Set refuses.
var (
	ErrEmptyTopic   = errors.New("retain: empty topic name")
	ErrInvalidTopic = errors.New("retain: not a valid MQTT topic name")
)

// checkTopic applies MQTT's rules for a topic name: not empty
// [MQTT-4.7.3-1], at most 65535 bytes [MQTT-4.7.3-3], UTF-8 without
// U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2], no wildcard [MQTT-3.3.2-2].
// It is laxer than the broker (mqtt/topic also refuses characters NATS
// subjects cannot carry): such topics get a _b64 key.
func checkTopic(t []byte) error {
	switch {
	case len(t) == 0:
		return ErrEmptyTopic
	case len(t) > mqtopic.MaxLen, bytes.ContainsAny(t, "+#\x00"), !utf8.Valid(t):
		return ErrInvalidTopic
	}
	return nil
}

// Key returns the KV key of the retained message of topic name t: its NATS
// subject (mqtt/topic's mapping) when that is a valid KV key not starting
// with "_b64.", else "_b64." and the topic in unpadded base64url. See the
// package comment. t must be a valid topic name (not empty, no wildcard).
func Key(t []byte) string {
	var buf [256]byte
	if subj, err := mqtopic.AppendSubject(buf[:0], t); err == nil && validKey(subj) && !bytes.HasPrefix(subj, []byte(b64Prefix)) {
		return string(subj)
	}
	return b64Prefix + base64.RawURLEncoding.EncodeToString(t)
}

// TopicOf returns the topic name whose key is key, and false when key is
// no topic's key (Key(topic) == key always holds for what it returns). A
// KV key put by a NATS application that is not the canonical key of its
// topic ("a/b", which maps to topic "ab" whose key is "ab") is not one.
func TopicOf(key string) ([]byte, bool) {
	var t []byte
	if enc, ok := strings.CutPrefix(key, b64Prefix); ok {
		var err error
		if t, err = base64.RawURLEncoding.Strict().DecodeString(enc); err != nil {
			return nil, false
		}
	} else {
		var err error
		if t, err = mqtopic.AppendTopic(make([]byte, 0, len(key)), []byte(key)); err != nil {
			return nil, false
		}
	}
	if checkTopic(t) != nil || Key(t) != key {
		return nil, false
	}
	return t, true
}

// validKey is nats.go's KV key rule: [-/_=.a-zA-Z0-9]+ with no '.' first
// or last. (A mapped subject never has an empty token.)
func validKey(k []byte) bool {
	if len(k) == 0 || k[0] == '.' || k[len(k)-1] == '.' {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '/', c == '_', c == '=', c == '.':
		default:
			return false
		}
	}
	return true
}
