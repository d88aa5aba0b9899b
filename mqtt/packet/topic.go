package packet

import "bytes"

// sharePrefix starts a shared subscription's topic filter (4.8.2).
var sharePrefix = []byte("$share/")

func hasWildcard(b []byte) bool { return bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0 }

// CheckTopicName validates a Topic Name as the decoders do: not empty
// [MQTT-4.7.3-1] and without wildcards [MQTT-3.3.2-2]. The UTF-8 rules are
// checked when the string is read.
func CheckTopicName(topic []byte) error {
	if len(topic) == 0 {
		return errTopicEmpty
	}
	if hasWildcard(topic) {
		return errTopicWildcard
	}
	return nil
}

// CheckTopicFilter validates a Topic Filter as the decoders do: not empty
// [MQTT-4.7.3-1]; '#' only as a whole last level [MQTT-4.7.1-1]; '+' only
// as a whole level [MQTT-4.7.1-2] (3.1.1: MQTT-4.7.1-2, MQTT-4.7.1-3); and
// for "$share/…" a non-empty share name without '/', '+', '#'
// [MQTT-4.8.2-1], followed by '/' and a valid filter [MQTT-4.8.2-2].
//
// leafgate treats "$share/" as a shared subscription in 3.1.1 too (where
// the spec knows no such thing), so the share syntax is checked in both.
func CheckTopicFilter(filter []byte) error {
	if bytes.HasPrefix(filter, sharePrefix) {
		rest := filter[len(sharePrefix):]
		slash := bytes.IndexByte(rest, '/')
		name := rest
		if slash >= 0 {
			name = rest[:slash]
		}
		if len(name) == 0 || hasWildcard(name) {
			return errShareName
		}
		if slash < 0 || slash == len(rest)-1 {
			return errShareFilter
		}
		filter = rest[slash+1:]
	}
	if len(filter) == 0 {
		return errTopicEmpty
	}
	for i, c := range filter {
		switch c {
		case '#':
			if i != len(filter)-1 || (i > 0 && filter[i-1] != '/') {
				return errFilterHash
			}
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i < len(filter)-1 && filter[i+1] != '/') {
				return errFilterPlus
			}
		}
	}
	return nil
}

// SplitShared splits a valid shared subscription filter "$share/g/f" into
// its share name g and topic filter f. shared is false, and filter is
// returned unchanged, for an ordinary filter. The results alias filter.
func SplitShared(filter []byte) (group, topicFilter []byte, shared bool) {
	if !bytes.HasPrefix(filter, sharePrefix) {
		return nil, filter, false
	}
	rest := filter[len(sharePrefix):]
	slash := bytes.IndexByte(rest, '/')
	if slash <= 0 {
		return nil, filter, false
	}
	return rest[:slash], rest[slash+1:], true
}
