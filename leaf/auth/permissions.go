package auth

import (
	"fmt"
	"strings"

	"github.com/leafgate/leafgate/leaf/subject"
)

// Checker is a compiled set of permissions, immutable and safe for
// concurrent use. A nil *Checker allows everything.
//
// Semantics follow nats-server: a nil allow list allows everything not
// denied, a non-nil empty one allows nothing; deny wins over allow.
// Subscribe entries may carry a queue ("foo.* workers"), restricting queue
// subscriptions on those subjects to the named queues.
type Checker struct {
	pubAllow, pubDeny []string // nil allow: no allow restriction
	pubAllowSet       bool
	subAllow, subDeny []permEntry
	subAllowSet       bool
	responses         *ResponsePermission
}

type permEntry struct {
	subject, queue string
}

// Compile checks p's subjects and builds a Checker; nil p gives nil.
func Compile(p *Permissions) (*Checker, error) {
	if p == nil {
		return nil, nil
	}
	c := &Checker{}
	pub := p.Publish
	if p.Responses != nil {
		r := *p.Responses
		if r.MaxMsgs == 0 {
			r.MaxMsgs = DefaultResponseMaxMsgs
		}
		if r.Expires == 0 {
			r.Expires = DefaultResponseExpires
		}
		c.responses = &r
		// allow_responses turns off the blanket publish allow unless an
		// allow list is given, as nats-server does.
		if pub == nil {
			pub = &SubjectPermission{}
		}
		if pub.Allow == nil {
			cp := *pub
			cp.Allow = []string{}
			pub = &cp
		}
	}
	if pub != nil {
		for i, s := range pub.Allow {
			if !validPattern(s) {
				return nil, fmt.Errorf("publish.allow[%d]: invalid subject %q", i, s)
			}
		}
		for i, s := range pub.Deny {
			if !validPattern(s) {
				return nil, fmt.Errorf("publish.deny[%d]: invalid subject %q", i, s)
			}
		}
		c.pubAllowSet = pub.Allow != nil
		c.pubAllow = pub.Allow
		c.pubDeny = pub.Deny
	}
	if sub := p.Subscribe; sub != nil {
		var err error
		if c.subAllow, err = compileEntries("subscribe.allow", sub.Allow); err != nil {
			return nil, err
		}
		if c.subDeny, err = compileEntries("subscribe.deny", sub.Deny); err != nil {
			return nil, err
		}
		c.subAllowSet = sub.Allow != nil
	}
	return c, nil
}

func compileEntries(key string, list []string) ([]permEntry, error) {
	out := make([]permEntry, 0, len(list))
	for i, s := range list {
		subj, queue, _ := strings.Cut(strings.TrimSpace(s), " ")
		queue = strings.TrimSpace(queue)
		if !validPattern(subj) || strings.ContainsAny(queue, " \t") {
			return nil, fmt.Errorf("%s[%d]: invalid subject %q", key, i, s)
		}
		out = append(out, permEntry{subj, queue})
	}
	return out, nil
}

// CanPublish reports whether publishing to the literal subject is allowed.
func (c *Checker) CanPublish(subj string) bool {
	if c == nil {
		return true
	}
	if c.pubAllowSet && !anyMatches(c.pubAllow, subj) {
		return false
	}
	return !anyMatches(c.pubDeny, subj)
}

func anyMatches(patterns []string, subj string) bool {
	for _, p := range patterns {
		if subject.Matches(p, subj) {
			return true
		}
	}
	return false
}

// CanSubscribe reports whether a subscription to the subject (which may
// hold wildcards) with the optional queue is allowed. Like nats-server, the
// subscription's subject is matched against the permission patterns token
// by token.
func (c *Checker) CanSubscribe(subj, queue string) bool {
	if c == nil {
		return true
	}
	allowed := true
	if c.subAllowSet {
		plain, queues := matchEntries(c.subAllow, subj)
		allowed = plain
		if queue != "" && len(queues) > 0 {
			allowed = queueMatches(queue, queues)
		}
	}
	if allowed && len(c.subDeny) > 0 {
		plain, queues := matchEntries(c.subDeny, subj)
		allowed = !plain
		if allowed && queue != "" && len(queues) > 0 {
			allowed = !queueMatches(queue, queues)
		}
	}
	return allowed
}

// matchEntries reports whether a plain entry matches subj, and the queue
// names of matching queue entries.
func matchEntries(entries []permEntry, subj string) (plain bool, queues []string) {
	for _, e := range entries {
		if !subject.Matches(e.subject, subj) {
			continue
		}
		if e.queue == "" {
			plain = true
		} else {
			queues = append(queues, e.queue)
		}
	}
	return plain, queues
}

func queueMatches(queue string, names []string) bool {
	for _, n := range names {
		if queue == n || (!subject.IsLiteral([]byte(n)) && subject.Matches(n, queue)) {
			return true
		}
	}
	return false
}

// DeliveryDenied reports whether a message on the literal subject must not
// be delivered to this user: a wildcard subscription was allowed but a
// subscribe deny entry covers this subject.
func (c *Checker) DeliveryDenied(subj string) bool {
	if c == nil || len(c.subDeny) == 0 {
		return false
	}
	for _, e := range c.subDeny {
		if e.queue == "" && subject.Matches(e.subject, subj) {
			return true
		}
	}
	return false
}

// Responses is the allow_responses permission with defaults applied, or nil.
func (c *Checker) Responses() *ResponsePermission {
	if c == nil {
		return nil
	}
	return c.responses
}
