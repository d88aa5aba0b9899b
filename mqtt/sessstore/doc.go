// Package sessstore is the durable store of persistent MQTT sessions: their
// subscriptions, their queues of outbound messages, and the inbound QoS 2
// packet ids already received, in one bbolt file
// (<store_dir>/mqtt/sessions.db).
//
// It owns the file and nothing else. The broker (package mqtt) owns every
// session's state in memory and decides everything — which sessions
// exist, what is queued in which order, packet ids, expiry, wills; the
// store only makes the broker's changes durable (Apply) and hands them
// back at start-up (Load). It knows nothing of connections, topics or the
// router, and imports no mqtt package.
//
// # Durability
//
// A Batch collects changes; Apply queues it for the single committer
// goroutine, which merges every batch waiting at that moment into one
// bbolt transaction (group commit: one fsync for many acks) and calls each
// batch's done once that transaction has synced, or with its error. The
// broker sends PUBACK (PUBREC, SUBACK, …) only from done, so whatever a
// client was told is stored survives kill -9 and power loss; a commit
// either happened whole or not at all.
//
// On a full disk a failing commit reports the error to every batch in it
// and changes nothing; reads go on, and a commit that only removes or
// rewrites (acks, QoS 2 releases, session deletes) may spend the space
// reserve (msgstore.Reserve) to go through. A drained file is compacted
// as msgstore does (compact.go).
//
// # Sharing bodies
//
// A message fanned out to many sessions is stored once, as a body
// (AddBody), and each session's queue holds a small entry pointing at it.
// The store counts each body's references in memory (rebuilt at Open
// from the entries, never written) and deletes a body in the transaction
// that drops its last reference: a Remove, a Released update (QoS 2,
// PUBREC received: the payload is not needed again), or a DeleteSession.
// Bodies left unreferenced by a crash or a bug are deleted at Open.
//
// # File layout
//
// All integers in keys are big endian, so bbolt's key order is numeric
// order. Sessions are keyed by a 4-byte session id (sid) that the store
// assigns at a client's first PutSession, so no key holds a client id.
//
//	bucket "meta"  "format"          → 1 byte, the file format (1)
//	bucket "s"     sid               → session record (codec.go): version,
//	                                   protocol, flags, expiry, disconnected,
//	                                   client id, subscriptions, will
//	bucket "q"     body sid seq      → entry record (codec.go): version,
//	                                   QoS|Released bits, flags, packet id
//	bucket "i"     sid packetID      → empty: an inbound QoS 2 id
//	bucket "b"     body              → the body, as the broker gave it
//
// Queue keys are 13-22 bytes: body id (8), sid (4), Seq (uvarint). They
// start with the body, not the session, because of what an SD card pays
// for: bbolt rewrites every page a transaction touches, whole. Keyed by
// session, a message fanned out to 10,000 sessions with 50 messages
// queued each touches a page per session (24 MB written per message,
// measured); keyed by body, its entries are one run of keys appended at
// the end (370 KB, measured; 34 bytes per entry on disk). The price is
// the in-memory index (index.go): 16 bytes per queued entry (its Seq and
// body) so that Remove(client, seq) finds the key, and Load reads the
// whole bucket once and sorts each queue by Seq.
//
// Every record starts with a version byte (1), and its decoder refuses
// anything the encoder cannot produce with ErrCorrupt: a damaged file
// stops Open or Load with an error naming the record rather than
// resurrecting garbage. Body, session and queue pages are filled before
// they split (their keys mostly grow at the end).
package sessstore

// Sub is one subscription of a session.
type Sub struct {
	Filter            string // the topic filter as the client sent it (may be "$share/g/f")
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // subscription identifier, 0 none
}

// Session is what the store keeps of a persistent session besides its
// queue.
type Session struct {
	ClientID     string
	Version      byte   // 4 (3.1.1) or 5
	Expiry       uint32 // Session Expiry Interval in seconds; 0xFFFFFFFF never expires
	Disconnected int64  // unix nanoseconds when it went offline, 0 while connected
	Subs         []Sub
	Will         []byte // opaque (the broker's encoding of a delayed will), nil none
}

// BodyID names a stored message body, shared by the queue entries
// pointing at it. Ids are handed out in increasing order from 1; 0 is
// none.
type BodyID uint64

// Entry is one queued outbound message of a session, in delivery order.
type Entry struct {
	Seq      uint64 // per-session sequence, chosen by the broker, increasing
	Body     BodyID
	QoS      byte   // delivery QoS for this session
	Flags    byte   // opaque to the store (retain, dup, …)
	PacketID uint16 // 0 until sent
	Released bool   // QoS 2: PUBREC received, PUBREL sent; the entry no longer references its body
}
