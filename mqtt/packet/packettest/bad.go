package packettest

import "github.com/leafgate/leafgate/mqtt/packet"

// Bad is a packet a receiver must refuse: Split(Bytes, MaxSize) or the
// Decode of the packet's type under Version must fail with reason Code,
// citing Rule (a normative statement, or a section where none is
// numbered; empty where the packet is just short or long).
type Bad struct {
	Name    string
	Version packet.Version
	MaxSize int // passed to Split; 0 for the protocol limit
	Bytes   []byte
	Code    packet.ReasonCode
	Rule    string
}

const (
	malformed = packet.MalformedPacket
	protocol  = packet.ProtocolError
)

// conn311 and conn5 build a CONNECT around a flags byte and a tail
// (properties and payload), computing the remaining length.
func conn(level byte, flags byte, tail ...[]byte) []byte {
	body := cat(s("MQTT"), h(level, flags, 0, 0), cat(tail...))
	return cat(h(0x10, byte(len(body))), body)
}

// pkt builds a packet from a first byte and a body shorter than 128 bytes.
func pkt(first byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat(h(first, byte(len(b))), b)
}

// BadTable returns the malformed and protocol-violating packets.
func BadTable() []Bad {
	v3, v5 := packet.V311, packet.V5
	return []Bad{
		// ---- fixed header and frame (Split)
		{"header/type-0", v5, 0, h(0x00, 0x00), malformed, "§2.1.2"},
		{"header/pubrel-flags-0", v5, 0, h(0x60, 0x02, 0x00, 0x01), malformed, "MQTT-2.1.3-1"},
		{"header/subscribe-flags-0", v3, 0, pkt(0x80, h(0, 1), s("a"), h(0)), malformed, "MQTT-2.1.3-1"},
		{"header/unsubscribe-flags-3", v3, 0, pkt(0xA3, h(0, 1), s("a")), malformed, "MQTT-2.1.3-1"},
		{"header/connect-flags", v3, 0, h(0x11, 0x00), malformed, "MQTT-2.1.3-1"},
		{"header/pingreq-flags", v3, 0, h(0xC1, 0x00), malformed, "MQTT-2.1.3-1"},
		{"header/publish-qos3", v3, 0, pkt(0x36, s("t"), h(0, 1)), malformed, "MQTT-3.3.1-4"},
		{"header/remaining-length-5-bytes", v5, 0, h(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), malformed, "MQTT-1.5.5-1"},
		{"header/remaining-length-not-minimal", v5, 0, h(0x30, 0x80, 0x00), malformed, "MQTT-1.5.5-1"},
		{"header/too-large", v5, 1024, h(0x30, 0xFF, 0x7F), packet.PacketTooLarge, "§3.2.2.3.6"},
		{"header/too-large-by-one", v5, 10, pkt(0x30, s("t"), h(1, 2, 3, 4, 5, 6)), packet.PacketTooLarge, "§3.2.2.3.6"},
		{"header/pingreq-body", v3, 0, h(0xC0, 0x01, 0x00), malformed, ""},
		{"header/puback-short", v3, 0, h(0x40, 0x01, 0x00), malformed, ""},
		{"header/connect-short", v3, 0, pkt(0x10, s("MQTT"), h(4, 2, 0)), malformed, ""},

		// ---- CONNECT
		{"connect/protocol-name", v3, 0, pkt(0x10, s("MQTX"), h(4, 2, 0, 0), s("c")), protocol, "MQTT-3.1.2-1"},
		{"connect/level-6", v5, 0, conn(6, 2, s("c")), packet.UnsupportedProtocolVersion, "MQTT-3.1.2-2"},
		{"connect/level-3-in-MQTT", v3, 0, conn(3, 2, s("c")), packet.UnsupportedProtocolVersion, "MQTT-3.1.2-2"},
		{"connect/mqisdp-3.1", v3, 0, pkt(0x10, s("MQIsdp"), h(3, 2, 0, 0), s("c")), packet.UnsupportedProtocolVersion, "MQTT-3.1.2-2"},
		{"connect/reserved-flag", v3, 0, conn(4, 0x03, s("c")), malformed, "MQTT-3.1.2-3"},
		{"connect/will-qos-without-will", v3, 0, conn(4, 0x0A, s("c")), malformed, "MQTT-3.1.2-11"},
		{"connect/will-qos-3", v5, 0, conn(5, 0x1E, h(0), s("c"), h(0), s("w"), s("m")), malformed, "MQTT-3.1.2-12"},
		{"connect/will-retain-without-will", v3, 0, conn(4, 0x22, s("c")), malformed, "MQTT-3.1.2-13"},
		{"connect/311-password-without-user", v3, 0, conn(4, 0x42, s("c"), s("p")), malformed, "MQTT-3.1.2-22"},
		{"connect/311-empty-client-id-no-clean", v3, 0, conn(4, 0x00, s("")), packet.ClientIdentifierNotValid, "MQTT-3.1.3-8"},
		{"connect/client-id-nul", v3, 0, conn(4, 0x02, s("a\x00b")), malformed, "MQTT-1.5.4-2"},
		{"connect/client-id-surrogate", v3, 0, conn(4, 0x02, s("a\xED\xA0\x80")), malformed, "MQTT-1.5.4-1"},
		{"connect/client-id-ill-formed", v5, 0, conn(5, 0x02, h(0), s("\xC3\x28")), malformed, "MQTT-1.5.4-1"},
		{"connect/client-id-overlong-nul", v3, 0, conn(4, 0x02, s("\xC0\x80")), malformed, "MQTT-1.5.4-1"},
		{"connect/client-id-length-beyond-packet", v3, 0, conn(4, 0x02, h(0xFF, 0xFF, 'c')), malformed, ""},
		{"connect/trailing-bytes", v3, 0, conn(4, 0x02, s("c"), h(0)), malformed, ""},
		{"connect/will-topic-wildcard", v3, 0, conn(4, 0x06, s("c"), s("w/#"), s("m")), malformed, "MQTT-3.3.2-2"},
		{"connect/will-topic-empty", v3, 0, conn(4, 0x06, s("c"), s(""), s("m")), malformed, "MQTT-4.7.3-1"},
		{"connect/5-auth-data-without-method", v5, 0, conn(5, 0x02, h(4, 0x16), s("d"), s("c")), protocol, "§3.1.2.11.10"},
		{"connect/5-topic-alias-not-allowed", v5, 0, conn(5, 0x02, h(3, 0x23, 0, 1), s("c")), malformed, "§2.2.2.2"},
		{"connect/5-will-delay-not-allowed", v5, 0, conn(5, 0x02, h(5, 0x18, 0, 0, 0, 1), s("c")), malformed, "§2.2.2.2"},
		{"connect/5-session-expiry-twice", v5, 0, conn(5, 0x02, h(10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2), s("c")), protocol, "§2.2.2.2"},
		{"connect/5-receive-maximum-0", v5, 0, conn(5, 0x02, h(3, 0x21, 0, 0), s("c")), protocol, "§3.1.2.11.3"},
		{"connect/5-maximum-packet-size-0", v5, 0, conn(5, 0x02, h(5, 0x27, 0, 0, 0, 0), s("c")), protocol, "§3.1.2.11.4"},
		{"connect/5-request-problem-info-2", v5, 0, conn(5, 0x02, h(2, 0x17, 2), s("c")), protocol, "§2.2.2.2"},
		{"connect/5-property-length-beyond-packet", v5, 0, conn(5, 0x02, h(0x7F), s("c")), malformed, "§2.2.2.1"},
		{"connect/5-property-value-cut", v5, 0, conn(5, 0x02, h(2, 0x11, 0), s("c")), malformed, ""},
		{"connect/5-unknown-property", v5, 0, conn(5, 0x02, h(2, 0x04, 0), s("c")), malformed, "§2.2.2.2"},
		{"connect/5-user-property-value-nul", v5, 0, conn(5, 0x02, h(7, 0x26), s("k"), s("\x00"), s("c")), malformed, "MQTT-1.5.4-2"},
		{"connect/5-will-property-not-allowed", v5, 0, conn(5, 0x06, h(0), s("c"), h(5, 0x11, 0, 0, 0, 1), s("w"), s("m")), malformed, "§2.2.2.2"},

		// ---- CONNACK
		{"connack/reserved-flags", v3, 0, h(0x20, 0x02, 0x02, 0x00), malformed, "MQTT-3.2.2-1"},
		{"connack/311-return-code-6", v3, 0, h(0x20, 0x02, 0x00, 0x06), malformed, "§3.2.2.3"},
		{"connack/session-present-with-refusal", v5, 0, h(0x20, 0x03, 0x01, 0x87, 0x00), protocol, "MQTT-3.2.2-6"},
		{"connack/5-unknown-reason-code", v5, 0, h(0x20, 0x03, 0x00, 0x8D, 0x00), malformed, "§2.4"},
		{"connack/5-maximum-qos-2", v5, 0, h(0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02), protocol, "§2.2.2.2"},
		{"connack/5-topic-alias-not-allowed", v5, 0, h(0x20, 0x06, 0x00, 0x00, 0x03, 0x23, 0, 1), malformed, "§2.2.2.2"},

		// ---- PUBLISH
		{"publish/dup-qos0", v3, 0, pkt(0x38, s("t")), malformed, "MQTT-3.3.1-2"},
		{"publish/topic-plus", v3, 0, pkt(0x30, s("a/+")), malformed, "MQTT-3.3.2-2"},
		{"publish/topic-hash", v5, 0, pkt(0x30, s("#"), h(0)), malformed, "MQTT-3.3.2-2"},
		{"publish/packet-id-0", v3, 0, pkt(0x32, s("t"), h(0, 0)), malformed, "MQTT-2.2.1-3"},
		{"publish/311-empty-topic", v3, 0, pkt(0x30, s(""), bs("x")), malformed, "MQTT-4.7.3-1"},
		{"publish/5-empty-topic-no-alias", v5, 0, pkt(0x30, s(""), h(0)), protocol, "§3.3.2.3.4"},
		{"publish/topic-length-beyond-packet", v3, 0, h(0x30, 0x03, 0xFF, 0xFF, 'a'), malformed, ""},
		{"publish/topic-nul", v3, 0, pkt(0x30, s("a\x00")), malformed, "MQTT-1.5.4-2"},
		{"publish/qos1-no-packet-id", v3, 0, pkt(0x32, s("t"), h(0)), malformed, ""},
		{"publish/5-topic-alias-0", v5, 0, pkt(0x30, s("t"), h(3, 0x23, 0, 0)), protocol, "MQTT-3.3.2-8"},
		{"publish/5-topic-alias-twice", v5, 0, pkt(0x30, s("t"), h(6, 0x23, 0, 1, 0x23, 0, 2)), protocol, "§2.2.2.2"},
		{"publish/5-subscription-id-0", v5, 0, pkt(0x30, s("t"), h(2, 0x0B, 0)), protocol, "§3.8.2.1.2"},
		{"publish/5-subscription-id-5-bytes", v5, 0, pkt(0x30, s("t"), h(6, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01)), malformed, "MQTT-1.5.5-1"},
		{"publish/5-response-topic-wildcard", v5, 0, pkt(0x30, s("t"), h(6, 0x08), s("r/+")), protocol, "MQTT-3.3.2-14"},
		{"publish/5-session-expiry-not-allowed", v5, 0, pkt(0x30, s("t"), h(5, 0x11, 0, 0, 0, 1)), malformed, "§2.2.2.2"},
		{"publish/5-payload-format-2", v5, 0, pkt(0x30, s("t"), h(2, 0x01, 2)), protocol, "§2.2.2.2"},
		{"publish/5-property-id-two-bytes", v5, 0, pkt(0x30, s("t"), h(3, 0x80, 0x01, 0)), malformed, "§2.2.2.2"},
		{"publish/5-content-type-ill-formed", v5, 0, pkt(0x30, s("t"), h(5, 0x03), s("\xFF\xFE")), malformed, "MQTT-1.5.4-1"},

		// ---- PUBACK, PUBREC, PUBREL, PUBCOMP
		{"puback/311-long", v3, 0, h(0x40, 0x03, 0x00, 0x01, 0x00), malformed, ""},
		{"puback/packet-id-0", v3, 0, h(0x40, 0x02, 0x00, 0x00), malformed, "MQTT-2.2.1-3"},
		{"puback/5-reason-0x92", v5, 0, h(0x40, 0x03, 0x00, 0x01, 0x92), malformed, "§2.4"},
		{"pubrel/5-reason-0x10", v5, 0, h(0x62, 0x03, 0x00, 0x01, 0x10), malformed, "§2.4"},
		{"pubcomp/5-topic-alias-not-allowed", v5, 0, h(0x70, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0, 1), malformed, "§2.2.2.2"},
		{"pubrec/5-reason-string-twice", v5, 0, pkt(0x50, h(0, 1, 0x80, 8, 0x1F), s("a"), h(0x1F), s("b")), protocol, "§2.2.2.2"},

		// ---- SUBSCRIBE
		{"subscribe/311-no-filters", v3, 0, h(0x82, 0x02, 0x00, 0x01), protocol, "MQTT-3.8.3-2"},
		{"subscribe/5-no-filters", v5, 0, h(0x82, 0x03, 0x00, 0x01, 0x00), protocol, "MQTT-3.8.3-2"},
		{"subscribe/packet-id-0", v3, 0, pkt(0x82, h(0, 0), s("a"), h(0)), malformed, "MQTT-2.2.1-3"},
		{"subscribe/311-reserved-option-bits", v3, 0, pkt(0x82, h(0, 1), s("a"), h(0x04)), malformed, "MQTT-3.8.3-5"},
		{"subscribe/5-reserved-option-bits", v5, 0, pkt(0x82, h(0, 1, 0), s("a"), h(0x40)), malformed, "MQTT-3.8.3-5"},
		{"subscribe/qos-3", v3, 0, pkt(0x82, h(0, 1), s("a"), h(0x03)), protocol, "§3.8.3.1"},
		{"subscribe/5-retain-handling-3", v5, 0, pkt(0x82, h(0, 1, 0), s("a"), h(0x30)), protocol, "§3.8.3.1"},
		{"subscribe/5-no-local-shared", v5, 0, pkt(0x82, h(0, 1, 0), s("$share/g/a"), h(0x04)), protocol, "MQTT-3.8.3-4"},
		{"subscribe/hash-not-last", v3, 0, pkt(0x82, h(0, 1), s("a/#/b"), h(0)), malformed, "MQTT-4.7.1-1"},
		{"subscribe/hash-in-level", v3, 0, pkt(0x82, h(0, 1), s("a#"), h(0)), malformed, "MQTT-4.7.1-1"},
		{"subscribe/plus-in-level", v5, 0, pkt(0x82, h(0, 1, 0), s("a/b+"), h(0)), malformed, "MQTT-4.7.1-2"},
		{"subscribe/empty-filter", v3, 0, pkt(0x82, h(0, 1), s(""), h(0)), malformed, "MQTT-4.7.3-1"},
		{"subscribe/share-empty-name", v5, 0, pkt(0x82, h(0, 1, 0), s("$share//a"), h(0)), protocol, "MQTT-4.8.2-1"},
		{"subscribe/share-wildcard-name", v5, 0, pkt(0x82, h(0, 1, 0), s("$share/g+/a"), h(0)), protocol, "MQTT-4.8.2-1"},
		{"subscribe/share-no-filter", v3, 0, pkt(0x82, h(0, 1), s("$share/g"), h(0)), protocol, "MQTT-4.8.2-2"},
		{"subscribe/share-empty-filter", v5, 0, pkt(0x82, h(0, 1, 0), s("$share/g/"), h(0)), protocol, "MQTT-4.8.2-2"},
		{"subscribe/missing-options", v3, 0, pkt(0x82, h(0, 1), s("a")), malformed, ""},
		{"subscribe/5-subscription-id-twice", v5, 0, pkt(0x82, h(0, 1, 4, 0x0B, 1, 0x0B, 2), s("a"), h(0)), protocol, "§2.2.2.2"},
		{"subscribe/5-topic-alias-not-allowed", v5, 0, pkt(0x82, h(0, 1, 3, 0x23, 0, 1), s("a"), h(0)), malformed, "§2.2.2.2"},

		// ---- SUBACK
		{"suback/311-code-3", v3, 0, h(0x90, 0x03, 0x00, 0x01, 0x03), malformed, "MQTT-3.9.3-2"},
		{"suback/5-code-0x11", v5, 0, h(0x90, 0x04, 0x00, 0x01, 0x00, 0x11), malformed, "§2.4"},
		{"suback/5-no-codes", v5, 0, h(0x90, 0x03, 0x00, 0x01, 0x00), protocol, "§3.9.3"},

		// ---- UNSUBSCRIBE, UNSUBACK
		{"unsubscribe/5-no-filters", v5, 0, h(0xA2, 0x03, 0x00, 0x01, 0x00), protocol, "MQTT-3.10.3-2"},
		{"unsubscribe/311-no-filters", v3, 0, h(0xA2, 0x02, 0x00, 0x01), protocol, "MQTT-3.10.3-2"},
		{"unsubscribe/bad-filter", v3, 0, pkt(0xA2, h(0, 1), s("a/#/")), malformed, "MQTT-4.7.1-1"},
		{"unsubscribe/packet-id-0", v5, 0, pkt(0xA2, h(0, 0, 0), s("a")), malformed, "MQTT-2.2.1-3"},
		{"unsuback/311-long", v3, 0, h(0xB0, 0x03, 0x00, 0x01, 0x00), malformed, ""},
		{"unsuback/5-code-0x01", v5, 0, h(0xB0, 0x04, 0x00, 0x01, 0x00, 0x01), malformed, "§2.4"},

		// ---- DISCONNECT, AUTH
		{"disconnect/311-body", v3, 0, h(0xE0, 0x01, 0x00), malformed, ""},
		{"disconnect/5-reason-0x01", v5, 0, h(0xE0, 0x01, 0x01), malformed, "§2.4"},
		{"disconnect/5-reason-string-twice", v5, 0, pkt(0xE0, h(0x00, 8, 0x1F), s("a"), h(0x1F), s("b")), protocol, "§2.2.2.2"},
		{"disconnect/5-topic-alias-not-allowed", v5, 0, h(0xE0, 0x05, 0x00, 0x03, 0x23, 0, 1), malformed, "§2.2.2.2"},
		{"disconnect/5-property-trailing", v5, 0, h(0xE0, 0x03, 0x00, 0x00, 0x00), malformed, ""},
		{"auth/311", v3, 0, h(0xF0, 0x00), malformed, "MQTT-2.2.2-2"},
		{"auth/5-reason-0x80", v5, 0, h(0xF0, 0x01, 0x80), malformed, "§2.4"},
		{"auth/5-session-expiry-not-allowed", v5, 0, h(0xF0, 0x07, 0x18, 0x05, 0x11, 0, 0, 0, 1), malformed, "§2.2.2.2"},
	}
}
