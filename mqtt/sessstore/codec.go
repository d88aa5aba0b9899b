package sessstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The records and keys of the file (see the package doc for the layout).
// Encoders append to dst and never fail: values are checked before they
// are encoded (checkSession, checkEntry). Decoders take bytes read from
// disk, refuse anything an encoder cannot have produced with an error
// wrapping ErrCorrupt, and never panic; every record is canonical, so a
// decoded record encodes back to the same bytes (the fuzz targets check
// it).

// recordVersion is the first byte of every session and entry record.
const recordVersion = 1

// Limits of MQTT fields, checked before encoding and after decoding.
const (
	maxString = 0xffff    // client identifier and topic filter: UTF-8 string, 2-byte length
	maxSubID  = 268435455 // Subscription Identifier: Variable Byte Integer
)

// Session record flags.
const sessHasWill = 1 << 0

// Sub option bits: as in a SUBSCRIBE's options byte.
const (
	subQoSMask   = 0x03
	subNoLocal   = 1 << 2
	subRAP       = 1 << 3
	subRHShift   = 4
	subKnownBits = 0x3f
)

// Entry record bits.
const (
	entQoSMask   = 0x03
	entReleased  = 1 << 2
	entKnownBits = 0x07
)

const (
	sessionKeyLen  = 4
	queueKeyMin    = 8 + 4 + 1  // body, session, Seq as a uvarint
	queueKeyMax    = 8 + 4 + 10 //
	incomingKeyLen = 4 + 2
	bodyKeyLen     = 8
	entryLen       = 1 + 1 + 1 + 2 // version, bits, flags, packet id
	sessionFixed   = 1 + 1 + 1 + 4 + 8
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// checkSession reports why sess cannot be stored, or nil.
func checkSession(sess *Session) error {
	switch {
	case sess.ClientID == "":
		return fmt.Errorf("%w: empty client identifier", ErrInvalid)
	case len(sess.ClientID) > maxString:
		return fmt.Errorf("%w: client identifier of %d bytes", ErrInvalid, len(sess.ClientID))
	case sess.Version != 4 && sess.Version != 5:
		return fmt.Errorf("%w: protocol version %d", ErrInvalid, sess.Version)
	}
	for i := range sess.Subs {
		if err := checkSub(&sess.Subs[i]); err != nil {
			return fmt.Errorf("%w: subscription %d: %v", ErrInvalid, i, err)
		}
	}
	return nil
}

func checkSub(s *Sub) error {
	switch {
	case s.Filter == "" || len(s.Filter) > maxString:
		return fmt.Errorf("filter of %d bytes", len(s.Filter))
	case s.QoS > 2:
		return fmt.Errorf("QoS %d", s.QoS)
	case s.RetainHandling > 2:
		return fmt.Errorf("retain handling %d", s.RetainHandling)
	case s.ID > maxSubID:
		return fmt.Errorf("subscription identifier %d", s.ID)
	}
	return nil
}

// appendSession appends the session record:
//
//	version        1 byte, recordVersion
//	protocol       1 byte, 4 or 5
//	flags          1 byte: bit 0 a will follows
//	expiry         4 bytes, big endian
//	disconnected   8 bytes, big endian (unix nanoseconds)
//	client id      uvarint length, bytes
//	subscriptions  uvarint count, then each:
//	                 filter  uvarint length, bytes
//	                 options 1 byte: QoS bits 0-1, No Local bit 2,
//	                         Retain As Published bit 3, Retain Handling bits 4-5
//	                 id      uvarint
//	will           if flagged: uvarint length, bytes
func appendSession(dst []byte, sess *Session) []byte {
	flags := byte(0)
	if sess.Will != nil {
		flags |= sessHasWill
	}
	dst = append(dst, recordVersion, sess.Version, flags)
	dst = binary.BigEndian.AppendUint32(dst, sess.Expiry)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sess.Disconnected))
	dst = appendString(dst, sess.ClientID)
	dst = binary.AppendUvarint(dst, uint64(len(sess.Subs)))
	for i := range sess.Subs {
		s := &sess.Subs[i]
		dst = appendString(dst, s.Filter)
		opts := s.QoS&subQoSMask | s.RetainHandling<<subRHShift
		if s.NoLocal {
			opts |= subNoLocal
		}
		if s.RetainAsPublished {
			opts |= subRAP
		}
		dst = append(dst, opts)
		dst = binary.AppendUvarint(dst, uint64(s.ID))
	}
	if sess.Will != nil {
		dst = binary.AppendUvarint(dst, uint64(len(sess.Will)))
		dst = append(dst, sess.Will...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeSession decodes a session record into a new Session that shares
// no memory with v (bbolt's values are only valid in their transaction).
func decodeSession(v []byte) (*Session, error) {
	if len(v) < sessionFixed {
		return nil, corrupt("session record of %d bytes", len(v))
	}
	if v[0] != recordVersion {
		return nil, corrupt("session record version %d", v[0])
	}
	sess := &Session{
		Version:      v[1],
		Expiry:       binary.BigEndian.Uint32(v[3:7]),
		Disconnected: int64(binary.BigEndian.Uint64(v[7:15])),
	}
	flags := v[2]
	if flags&^sessHasWill != 0 {
		return nil, corrupt("session flags %#x", flags)
	}
	r := reader{b: v[sessionFixed:]}
	sess.ClientID = r.string()
	n := r.uvarint()
	// Every subscription takes at least 3 bytes: refuse counts the rest
	// cannot hold before allocating for them.
	if r.err == nil && n > uint64(len(r.b))/3 {
		return nil, corrupt("%d subscriptions in %d bytes", n, len(r.b))
	}
	if n > 0 && r.err == nil {
		sess.Subs = make([]Sub, n)
		for i := range sess.Subs {
			s := &sess.Subs[i]
			s.Filter = r.string()
			opts := r.byte()
			if opts&^subKnownBits != 0 {
				r.fail("subscription options %#x", opts)
			}
			s.QoS, s.RetainHandling = opts&subQoSMask, opts>>subRHShift
			s.NoLocal, s.RetainAsPublished = opts&subNoLocal != 0, opts&subRAP != 0
			id := r.uvarint()
			if id > maxSubID {
				r.fail("subscription identifier %d", id)
			}
			s.ID = uint32(id)
		}
	}
	if flags&sessHasWill != 0 {
		sess.Will = r.bytes()
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the session", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := checkSession(sess); err != nil {
		return nil, corrupt("%v", err)
	}
	return sess, nil
}

// checkEntry reports why e cannot be queued, or nil.
func checkEntry(e *Entry) error {
	switch {
	case e.Body == 0 || e.Body > maxBodyID:
		return fmt.Errorf("%w: entry %d body id %d", ErrInvalid, e.Seq, e.Body)
	case e.QoS > 2:
		return fmt.Errorf("%w: entry %d QoS %d", ErrInvalid, e.Seq, e.QoS)
	case e.Released && e.QoS != 2:
		return fmt.Errorf("%w: entry %d released at QoS %d", ErrInvalid, e.Seq, e.QoS)
	}
	return nil
}

// maxBodyID leaves the top bit of a body id free for the index (qent).
const maxBodyID = 1<<63 - 1

// appendEntry appends the entry record (body, session and Seq are in the
// key):
//
//	version    1 byte, recordVersion
//	bits       1 byte: QoS bits 0-1, Released bit 2
//	flags      1 byte, the broker's
//	packet id  2 bytes, big endian
func appendEntry(dst []byte, e *Entry) []byte {
	bits := e.QoS & entQoSMask
	if e.Released {
		bits |= entReleased
	}
	dst = append(dst, recordVersion, bits, e.Flags)
	return binary.BigEndian.AppendUint16(dst, e.PacketID)
}

// decodeEntry decodes an entry record; body and seq come from its key.
func decodeEntry(body BodyID, seq uint64, v []byte) (Entry, error) {
	if len(v) != entryLen {
		return Entry{}, corrupt("entry %d: record of %d bytes", seq, len(v))
	}
	if v[0] != recordVersion {
		return Entry{}, corrupt("entry %d: record version %d", seq, v[0])
	}
	bits := v[1]
	if bits&^entKnownBits != 0 {
		return Entry{}, corrupt("entry %d: bits %#x", seq, bits)
	}
	e := Entry{
		Seq:      seq,
		Body:     body,
		QoS:      bits & entQoSMask,
		Released: bits&entReleased != 0,
		Flags:    v[2],
		PacketID: binary.BigEndian.Uint16(v[3:5]),
	}
	if err := checkEntry(&e); err != nil {
		return Entry{}, corrupt("%v", err)
	}
	return e, nil
}

// Keys are big endian so that bbolt's byte order is numeric order.

func sessionKey(sid uint32) [sessionKeyLen]byte {
	var k [sessionKeyLen]byte
	binary.BigEndian.PutUint32(k[:], sid)
	return k
}

func decodeSessionKey(k []byte) (uint32, error) {
	if len(k) != sessionKeyLen {
		return 0, corrupt("session key of %d bytes", len(k))
	}
	sid := binary.BigEndian.Uint32(k)
	if sid == 0 {
		return 0, corrupt("session id 0")
	}
	return sid, nil
}

// queueKey is an entry's key: body id, session id, Seq. Keys of one
// body sort together, so a message fanned out to many sessions is one
// contiguous run of keys, written into a few pages (keyed by session, a
// fan-out would rewrite a page per session). The Seq makes the key unique
// when a session queues one body twice (overlapping subscriptions).
type queueKey struct {
	b [queueKeyMax]byte
	n int
}

func makeQueueKey(body BodyID, sid uint32, seq uint64) queueKey {
	var k queueKey
	binary.BigEndian.PutUint64(k.b[:8], uint64(body))
	binary.BigEndian.PutUint32(k.b[8:12], sid)
	k.n = 12 + binary.PutUvarint(k.b[12:], seq)
	return k
}

func (k *queueKey) bytes() []byte { return k.b[:k.n] }

func decodeQueueKey(k []byte) (body BodyID, sid uint32, seq uint64, err error) {
	if len(k) < queueKeyMin || len(k) > queueKeyMax {
		return 0, 0, 0, corrupt("queue key of %d bytes", len(k))
	}
	body = BodyID(binary.BigEndian.Uint64(k[:8]))
	sid = binary.BigEndian.Uint32(k[8:12])
	if body == 0 || body > maxBodyID || sid == 0 {
		return 0, 0, 0, corrupt("queue key of body %d session %d", body, sid)
	}
	r := reader{b: k[12:]}
	seq = r.uvarint()
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the queue key", len(r.b))
	}
	if r.err != nil {
		return 0, 0, 0, r.err
	}
	return body, sid, seq, nil
}

func incomingKey(sid uint32, pid uint16) [incomingKeyLen]byte {
	var k [incomingKeyLen]byte
	binary.BigEndian.PutUint32(k[:4], sid)
	binary.BigEndian.PutUint16(k[4:], pid)
	return k
}

func decodeIncomingKey(k []byte) (sid uint32, pid uint16, err error) {
	if len(k) != incomingKeyLen {
		return 0, 0, corrupt("incoming key of %d bytes", len(k))
	}
	sid, pid = binary.BigEndian.Uint32(k[:4]), binary.BigEndian.Uint16(k[4:])
	if sid == 0 || pid == 0 {
		return 0, 0, corrupt("incoming key session %d packet %d", sid, pid)
	}
	return sid, pid, nil
}

func bodyKey(id BodyID) [bodyKeyLen]byte {
	var k [bodyKeyLen]byte
	binary.BigEndian.PutUint64(k[:], uint64(id))
	return k
}

func decodeBodyKey(k []byte) (BodyID, error) {
	if len(k) != bodyKeyLen {
		return 0, corrupt("body key of %d bytes", len(k))
	}
	id := BodyID(binary.BigEndian.Uint64(k))
	if id == 0 {
		return 0, corrupt("body id 0")
	}
	return id, nil
}

// reader decodes fields in order; the first failure sticks in err and
// later reads return zero values, so decoders check once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = corrupt(format, args...)
	}
}

var errOverlong = errors.New("overlong varint")

// uvarint reads a minimally encoded uvarint: the encoders write only
// those, so any other form is corruption (and would not re-encode to the
// same bytes).
func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	switch {
	case n <= 0:
		r.fail("bad varint")
		return 0
	case n > 1 && r.b[n-1] == 0:
		r.fail("%v", errOverlong)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// bytes reads a length-prefixed field into a new slice.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("field of %d bytes in %d", n, len(r.b))
		return nil
	}
	out := append(make([]byte, 0, n), r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("string of %d bytes in %d", n, len(r.b))
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
