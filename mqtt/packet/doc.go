// Package packet is leafgate's MQTT codec: it turns bytes into MQTT 3.1.1
// and 5.0 Control Packets and back, and nothing else. It does no I/O,
// starts no goroutines, keeps no state between calls and imports only the
// standard library; sessions, topic mapping and QoS flows live elsewhere
// (package mqtt), and transports (TCP, WebSocket) only move bytes.
//
// # Reading
//
// A read loop appends bytes from its connection to its own buffer and
// calls Split, which reports the fixed header, the packet's full size and
// whether it has all arrived:
//
//	h, complete, err := packet.Split(buf, maxSize)
//	// err: close (with err's reason code in 5.0)
//	// !complete: read more; h.Len() (if h.HeaderLen > 0) is the size to
//	//            grow to, already checked against maxSize
//	// complete:  decode buf[:h.Len()], then continue at buf[h.Len():]
//
// Each packet type has a struct whose Decode method parses one whole
// packet (fixed header included) for a protocol version: Connect, Connack,
// Publish, Ack (PUBACK, PUBREC, PUBREL, PUBCOMP), Subscribe, Suback,
// Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth. All satisfy
// Packet. The version is the CONNECT's Protocol Level: V311 (4) or V5 (5);
// MQTT 3.1 (level 3, "MQIsdp") and any other level is refused with
// UnsupportedProtocolVersion, which the session answers with the 3.1.1
// CONNACK return code 0x01 (see Connect.Decode).
//
// # Lifetimes
//
// Decoding copies nothing. Every []byte in a decoded struct — topic,
// payload, client identifier, strings and binary data in properties, user
// properties, topic filters, SUBACK codes — is a sub-slice of the packet
// passed to Decode, capacity-capped so appending to it cannot overwrite a
// neighbour. Those slices are valid only while the caller leaves that
// buffer alone: a session that reuses its read buffer must copy whatever it
// keeps (string(b) copies; a map lookup m[string(b)] does not allocate).
// Decode resets the struct first but keeps the capacity of its slices
// (Subscribe.Filters, Unsubscribe.Filters, Properties.User,
// Properties.SubscriptionIDs), so a struct reused for every packet of a
// connection decodes without allocating once warm.
//
// # Limits
//
// Nothing is allocated from a length read off the wire. Split refuses a
// packet larger than maxSize (PacketTooLarge) as soon as its Remaining
// Length is read, before the body arrives, so a partial packet cannot make
// the server reserve more than the limit; a session should use a small
// limit until the CONNECT is accepted, then its configured Maximum Packet
// Size. Remaining Lengths and other Variable Byte Integers longer than
// four bytes or not minimally encoded are malformed. Every string, binary
// field and property block length is checked against what is left of the
// packet before it is sliced, so an oversized topic or string length is a
// Malformed Packet, never an allocation or a panic.
//
// # Writing
//
// Every packet struct has Append(dst, version), which writes the packet
// onto dst and allocates only if dst must grow, and Len(version), its exact
// size (compare it with a client's Maximum Packet Size before sending).
// Encoders write what they are given; the session keeps values within the
// protocol's limits (strings and binary data up to MaxString bytes,
// identifiers non-zero). Optional 5.0 fields are left out when they may be
// (an acknowledgement with reason code 0 and no properties is 4 bytes),
// except a DISCONNECT's reason code, which paho.golang needs to be there.
//
// # Errors
//
// Decoders return *Error, carrying the MQTT 5.0 reason code to close with
// (MalformedPacket, ProtocolError, PacketTooLarge, UnsupportedProtocolVersion,
// ClientIdentifierNotValid …) and the normative statement it enforces;
// errors.Is(err, ErrMalformed) and the other Err values match by code. In
// 3.1.1 a decode error closes the connection without a reply, except during
// CONNECT (see Connect.Decode). Each check is tagged in the code with its
// statement, as [MQTT-x.y.z-n] in 5.0 numbering, with the 3.1.1 number
// where it differs. Checks that need session state (first packet is
// CONNECT, Topic Alias ranges, Receive Maximum, Session Expiry changes on
// DISCONNECT, a Subscription Identifier sent by a client, an AUTH's
// Authentication Method matching the CONNECT's) are the session's;
// CheckPayloadFormat is separate because its failure is answered in an
// acknowledgement rather than by closing.
//
// # Choices where the spec leaves one
//
//   - UTF-8 strings: ill-formed sequences, surrogates and U+0000 are
//     malformed; control characters and noncharacters (SHOULD NOT, MAY be
//     treated as malformed) are accepted.
//   - "$share/" filters are checked as shared subscriptions in 3.1.1 too,
//     because leafgate maps them to queue groups in both versions.
//   - A PUBLISH with DUP set and QoS 0 [MQTT-3.3.1-2] is malformed.
//   - Unknown reason codes in a received packet are malformed.
//
// The subpackage packettest holds the golden packets (bytes and structs,
// for every type in both versions) shared by these tests and the session's.
package packet
