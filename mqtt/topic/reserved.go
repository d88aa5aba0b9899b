package topic

import "strings"

// Reserved is a list of NATS subject prefixes, each ending in '.', that
// MQTT clients may neither publish to nor subscribe to: the subjects by
// which leafgate (and nats-server, in a mixed fleet) is controlled. A
// subject is reserved when it starts with one of them.
//
// The check is on the first token(s) of the mapped subject, which is enough
// because a filter whose first level is a wildcard ("#", "+/…") is never
// given messages on '$' subjects (Sub.NoDollar, [MQTT-4.7.2-1]), and every
// reserved prefix starts with '$'.
type Reserved []string

// Internal is leafgate's default Reserved list. Why each:
//
//   - "$JS.": the JetStream API, acks and flow control ($JS.API, $JS.ACK,
//     $JS.FC, $JS.<domain>.API) and advisories: an MQTT client publishing
//     there could create, purge or delete streams, or ack others' messages,
//     without the JetStream permissions NATS users are given for it.
//   - "$JSC.", "$NRG.": nats-server's JetStream cluster and Raft subjects,
//     which leafgate refuses in stream subjects too; kept out of MQTT so
//     a leafgate never forwards them to a nats-server hub.
//   - "$SYS.": system requests and events (session listing will live here).
//   - "$MQTT.": nats-server's MQTT internals (sessions, retained, QoS 2 and
//     delivery subjects), which nats-server itself refuses to MQTT
//     subscriptions, and leafgate's own MQTT subjects.
//
// "_INBOX." is NOT reserved: it is the clients' own request/reply space,
// not leafgate's. An MQTT 5 responder answering a NATS requester publishes
// to a Response Topic such as "_INBOX/abc" ("_INBOX.abc"); refusing it
// would break request/response. Who may read which inbox is a matter of
// user permissions, which apply to MQTT users as to NATS users.
//
// The session layer adds the prefix of the KV bucket that holds retained
// messages ("$KV.<bucket>."), so retained state changes only through MQTT
// retain semantics.
var Internal = Reserved{"$JS.", "$JSC.", "$NRG.", "$SYS.", "$MQTT."}

// Has reports whether subj (a publish subject or a subscription subject)
// starts with a reserved prefix.
func (r Reserved) Has(subj string) bool {
	if subj == "" || subj[0] != reserved {
		return false // fast path: every reserved prefix starts with '$'
	}
	for _, p := range r {
		if strings.HasPrefix(subj, p) {
			return true
		}
	}
	return false
}

// hasBytes is Has for a []byte subject, without converting it.
func (r Reserved) hasBytes(subj []byte) bool {
	if len(subj) == 0 || subj[0] != reserved {
		return false
	}
	for _, p := range r {
		if len(subj) >= len(p) && string(subj[:len(p)]) == p {
			return true
		}
	}
	return false
}

// CheckName returns an *Error (Kind Name, ErrReserved, reason code 0x87)
// if the subject of a topic name is reserved. It does not allocate unless
// it refuses.
func (r Reserved) CheckName(name, subj []byte) error {
	if !r.hasBytes(subj) {
		return nil
	}
	return newError(Name, name, ErrReserved)
}

// CheckFilter returns an *Error (Kind Filter, ErrReserved, reason code
// 0x87) if a filter's subscription is reserved. filter is the MQTT filter,
// for the message.
func (r Reserved) CheckFilter(filter []byte, sub Sub) error {
	if r.Has(sub.Subject) {
		return newError(Filter, filter, ErrReserved)
	}
	return nil
}
