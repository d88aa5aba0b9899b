// Package topic converts MQTT topic names and topic filters to NATS subjects
// and back, exactly as nats-server v2.15.2 does (server/mqtt.go), so a fleet
// that mixes leafgate and nats-server puts MQTT traffic on the same
// subjects. It also validates topics and filters per the MQTT 3.1.1 and 5.0
// specifications, parses shared subscriptions ($share/<group>/<filter>), and
// says which subjects are leafgate's own (Reserved).
//
// It owns no state and knows nothing about connections, sessions or the
// router: bytes in, bytes or errors out. Every error is an *Error whose
// ReasonCode is the MQTT 5.0 reason code to answer with.
//
// # The mapping
//
// A topic is a list of levels separated by '/'; a subject is a list of
// tokens separated by '.'. Each level becomes one token:
//
//   - an empty level becomes the token "/": "/a" → "/.a", "a/" → "a./",
//     "a//b" → "a./.b", "/" → "/./";
//   - a '.' inside a level becomes "//": "spBv1.0/x" → "spBv1//0.x";
//   - in filters, a '+' level becomes "*" and a '#' level becomes ">"; and,
//     as in nats-server, a "*" or ">" level of a filter stays a NATS
//     wildcard ("a/*" matches "a/b");
//   - everything else is copied.
//
// Because an empty level is "/" and a '.' is "//", the mapping of a topic
// name is reversible, and an MQTT filter matches a topic name exactly when
// its subject (plus LevelUp for a trailing "#") matches the topic's subject.
//
// The reverse (AppendTopic, for delivering a NATS message to MQTT) reads
// the subject left to right: "/." gives '/', "//" gives '.', any other '/'
// is dropped (so a NATS subject "a/b" is delivered as topic "ab", as
// nats-server does), '.' gives '/', and anything else is copied.
//
// # Where leafgate differs from nats-server
//
// nats-server accepts some inputs that violate the MQTT specification or
// cannot be mapped; leafgate refuses them instead, and never maps an
// accepted input differently:
//
//   - a '+' or '#' that is not a whole level, or a '#' that is not last
//     ("a+", "a/#/b"): nats-server subscribes to the literal token "a*";
//     leafgate refuses the filter [MQTT-4.7.1-1], [MQTT-4.7.1-2];
//   - a topic name with a level that is exactly "*" or ">": nats-server
//     publishes on a NATS wildcard subject; leafgate refuses it;
//   - a subject whose topic would be empty or carry '+' or '#': nats-server
//     delivers an invalid PUBLISH; leafgate does not deliver it;
//   - "$share/<group>/<filter>" is a shared subscription (NATS queue group
//     <group>) in both MQTT versions; nats-server has none and subscribes to
//     the subject "$share.<group>.…".
package topic

import (
	"bytes"
	"unicode/utf8"
)

// MaxLen is the longest topic name or filter MQTT can encode [MQTT-4.7.3-3].
const MaxLen = 65535

// MaxSubjectLen is the longest subject a topic or filter of n bytes can map
// to: every byte may double ('.' → "//", and an empty level takes "/" plus
// a separator). Use it to size buffers.
func MaxSubjectLen(n int) int { return 2*n + 1 }

// Characters of the two syntaxes.
const (
	levelSep   = '/'
	singleWC   = '+'
	multiWC    = '#'
	tokenSep   = '.'
	natsPWC    = '*'
	natsFWC    = '>'
	emptyLevel = '/' // the token an empty level becomes
	reserved   = '$' // [MQTT-4.7.2-1]
)

// checkText applies the checks every topic name and filter gets: length,
// UTF-8 [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2], and none of the
// characters NATS subjects cannot carry. It reports whether s holds an
// MQTT wildcard character.
func checkText(s []byte) (wildcard bool, err error) {
	switch {
	case len(s) == 0:
		return false, ErrEmpty // [MQTT-4.7.3-1]
	case len(s) > MaxLen:
		return false, ErrTooLong // [MQTT-4.7.3-3]
	}
	ascii := true
	for _, c := range s {
		switch {
		case c > ' ' && c < 0x7f:
			if c == singleWC || c == multiWC {
				wildcard = true
			}
		case c == 0:
			return false, ErrNullChar
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0x7f:
			// These would split a NATS control line (leafnode, route) and
			// DEL is the subject tree's pivot in nats-server: it refuses
			// the same set.
			return false, ErrUnsupportedChar
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(s) {
		return false, ErrInvalidUTF8
	}
	return wildcard, nil
}

// AppendSubject appends the NATS subject for the topic name of a PUBLISH
// (or will) message to dst and returns the extended buffer; it allocates
// only if dst lacks room (MaxSubjectLen(len(name)) always suffices). On
// error dst is returned unchanged and the *Error has Kind Name.
//
// It does not check Reserved; the caller does, with the subject.
func AppendSubject(dst, name []byte) ([]byte, error) {
	wildcard, err := checkText(name)
	if err != nil {
		return dst, newError(Name, name, err)
	}
	if wildcard {
		return dst, newError(Name, name, ErrWildcardInName) // [MQTT-3.3.2-2]
	}
	start := len(dst)
	dst, natsWildcard := appendLevels(dst, name)
	if natsWildcard {
		return dst[:start], newError(Name, name, ErrNotMappable)
	}
	return dst, nil
}

// appendLevels maps s level by level (see the package comment). Wildcard
// characters are mapped too; callers have decided whether they may appear.
// natsWildcard reports a level that is exactly "*" or ">", which stays a
// NATS wildcard.
func appendLevels(dst, s []byte) (_ []byte, natsWildcard bool) {
	for i := 0; ; i++ {
		lvl := s
		next := bytes.IndexByte(s, levelSep)
		if next >= 0 {
			lvl = s[:next]
		}
		if i > 0 {
			dst = append(dst, tokenSep)
		}
		switch {
		case len(lvl) == 0:
			dst = append(dst, emptyLevel)
		case len(lvl) == 1 && lvl[0] == singleWC:
			dst = append(dst, natsPWC)
		case len(lvl) == 1 && lvl[0] == multiWC:
			dst = append(dst, natsFWC)
		case len(lvl) == 1 && (lvl[0] == natsPWC || lvl[0] == natsFWC):
			natsWildcard = true
			dst = append(dst, lvl[0])
		default:
			for {
				dot := bytes.IndexByte(lvl, tokenSep)
				if dot < 0 {
					dst = append(dst, lvl...)
					break
				}
				dst = append(dst, lvl[:dot]...)
				dst = append(dst, levelSep, levelSep)
				lvl = lvl[dot+1:]
			}
		}
		if next < 0 {
			return dst, natsWildcard
		}
		s = s[next+1:]
	}
}

// AppendTopic appends the MQTT topic name for a NATS subject to dst, to
// deliver a message published on subj to an MQTT subscriber. It allocates
// only if dst lacks room (len(subj) always suffices: the topic is never
// longer than the subject).
//
// The conversion is nats-server's, byte for byte, for every subject. When
// the result is not a valid topic name (empty, '+' or '#', not UTF-8, U+0000
// or too long) it returns dst unchanged and an *Error (Kind Subject,
// ErrNotExpressible): such a message is not delivered to MQTT clients.
func AppendTopic(dst, subj []byte) ([]byte, error) {
	start := len(dst)
	for i := 0; i < len(subj); i++ {
		c := subj[i]
		switch {
		case c == tokenSep:
			dst = append(dst, levelSep)
		case c != levelSep:
			if c == singleWC || c == multiWC || c == 0 {
				return dst[:start], newError(Subject, subj, ErrNotExpressible)
			}
			dst = append(dst, c)
		case i+1 < len(subj) && subj[i+1] == tokenSep:
			// "/." is an empty level followed by a separator.
			dst = append(dst, levelSep)
			i++
		case i+1 < len(subj) && subj[i+1] == levelSep:
			// "//" is a '.' inside a level.
			dst = append(dst, tokenSep)
			i++
		default:
			// A lone '/' (an empty level at the end, or a '/' a NATS
			// client put in a token) has no MQTT counterpart: dropped.
		}
	}
	t := dst[start:]
	if len(t) == 0 || len(t) > MaxLen || !utf8.Valid(t) {
		return dst[:start], newError(Subject, subj, ErrNotExpressible)
	}
	return dst, nil
}
