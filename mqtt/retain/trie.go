package retain

import "bytes"

// trie holds live retained messages by topic level, so a filter finds its
// matches by walking only the branches it can match: an exact filter costs
// one map lookup per level, whatever the number of retained messages. It
// is not safe for concurrent use; Store guards it.
//
// Levels are MQTT levels (split at '/'), not NATS tokens, so topics that
// have no NATS subject (those with a _b64 key) match like any other.
type trie struct {
	root node
}

type node struct {
	kids map[string]*node
	e    *entry // the retained message at this topic, nil when none
}

// put stores e at its topic, replacing what was there.
func (t *trie) put(e *entry) {
	n := &t.root
	for lvl := range bytes.SplitSeq(e.topic, []byte("/")) {
		k := n.kids[string(lvl)]
		if k == nil {
			if n.kids == nil {
				n.kids = make(map[string]*node)
			}
			k = &node{}
			n.kids[string(lvl)] = k
		}
		n = k
	}
	n.e = e
}

// remove takes the message at topic away, pruning nodes left empty.
func (t *trie) remove(topic []byte) {
	t.root.remove(topic)
}

// remove clears the entry at rest below n and reports whether n is now
// empty.
func (n *node) remove(rest []byte) bool {
	lvl, after, more := bytes.Cut(rest, []byte("/"))
	k := n.kids[string(lvl)]
	if k == nil {
		return false
	}
	if more {
		if !k.remove(after) {
			return false
		}
	} else {
		k.e = nil
	}
	if k.e == nil && len(k.kids) == 0 {
		delete(n.kids, string(lvl))
	}
	return n.e == nil && len(n.kids) == 0
}

// match calls visit for every message whose topic matches filter. The
// filter must be valid (packet.CheckTopicFilter). As for live
// subscriptions (mqtt/topic), a level that is exactly "*" or ">" is the
// NATS wildcard it maps to, so it matches as "+" or "#". A filter that
// starts with a wildcard does not match topics starting with '$'
// [MQTT-4.7.2-1]. A "$share/…" filter is not taken apart: the caller
// passes the filter after the share name (shared subscriptions get no
// retained messages in MQTT 5 anyway).
func (t *trie) match(filter []byte, visit func(*entry)) {
	noDollar := len(filter) > 0 && (filter[0] == '+' || filter[0] == '#' || filter[0] == '*' || filter[0] == '>') &&
		(len(filter) == 1 || filter[1] == '/')
	t.root.match(filter, noDollar, visit)
}

func (n *node) match(filter []byte, noDollar bool, visit func(*entry)) {
	lvl, rest, more := bytes.Cut(filter, []byte("/"))
	switch {
	case isMulti(lvl) && more:
		// Only a NATS '>' gets here ("a/>/b"): mqtt/topic refuses such a
		// filter, so it matches nothing.
	case isMulti(lvl):
		// '#' matches the parent level too [MQTT-4.7.1-2]; at the root
		// there is no parent message.
		if n.e != nil {
			visit(n.e)
		}
		for name, k := range n.kids {
			if noDollar && len(name) > 0 && name[0] == '$' {
				continue
			}
			k.all(visit)
		}
	case isSingle(lvl):
		for name, k := range n.kids {
			if noDollar && len(name) > 0 && name[0] == '$' {
				continue
			}
			k.step(rest, more, visit)
		}
	default:
		if k := n.kids[string(lvl)]; k != nil {
			k.step(rest, more, visit)
		}
	}
}

// step continues a match at n, the node a filter level matched.
func (n *node) step(rest []byte, more bool, visit func(*entry)) {
	if more {
		n.match(rest, false, visit)
	} else if n.e != nil {
		visit(n.e)
	}
}

// all visits every message at or below n.
func (n *node) all(visit func(*entry)) {
	if n.e != nil {
		visit(n.e)
	}
	for _, k := range n.kids {
		k.all(visit)
	}
}

func isSingle(lvl []byte) bool { return len(lvl) == 1 && (lvl[0] == '+' || lvl[0] == '*') }
func isMulti(lvl []byte) bool  { return len(lvl) == 1 && (lvl[0] == '#' || lvl[0] == '>') }
