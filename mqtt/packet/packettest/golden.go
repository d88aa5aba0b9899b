// Package packettest holds the golden MQTT packets: for every packet type,
// in 3.1.1 and 5.0, the exact bytes and the struct they stand for, and a
// table of malformed packets with the reason code each must produce. The
// codec's tests and the session's tests draw on the same tables, so what the
// codec promises is what the session is tested against.
//
// The bytes are written out by hand from the specification, not produced by
// the encoder they test.
package packettest

import (
	"reflect"

	"github.com/leafgate/leafgate/mqtt/packet"
)

// Golden is one packet: Bytes decodes to Packet, and Packet encodes to
// Bytes, under Version.
type Golden struct {
	Name    string
	Version packet.Version
	Bytes   []byte
	Packet  packet.Packet
}

// cat joins byte pieces; s is a length-prefixed string, for readability.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func h(b ...byte) []byte { return b }

func s(v string) []byte { return append([]byte{byte(len(v) >> 8), byte(len(v))}, v...) }

func props(ids ...packet.PropID) packet.PropMask {
	var m packet.PropMask
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

func bs(v string) []byte { return []byte(v) }

// Table returns the golden packets. Each call builds fresh values, so a
// test may decode into or modify them.
func Table() []Golden {
	return []Golden{
		// ---- CONNECT
		{"connect/311/minimal", packet.V311,
			cat(h(0x10, 0x0E), s("MQTT"), h(4, 0x02, 0x00, 0x3C), s("c1")),
			&packet.Connect{Version: packet.V311, CleanStart: true, KeepAlive: 60, ClientID: bs("c1")}},
		{"connect/311/will-user-password", packet.V311,
			cat(h(0x10, 0x1F), s("MQTT"), h(4, 0xEC, 0x00, 0x0A), s("dev"), s("w/t"), s("bye"), s("u"), s("p")),
			&packet.Connect{Version: packet.V311, KeepAlive: 10, ClientID: bs("dev"),
				Will: true, WillQoS: 1, WillRetain: true, WillTopic: bs("w/t"), WillPayload: bs("bye"),
				UsernameFlag: true, Username: bs("u"), PasswordFlag: true, Password: bs("p")}},
		{"connect/5/properties", packet.V5,
			cat(h(0x10, 0x28), s("MQTT"), h(5, 0x02, 0x00, 0x1E),
				h(0x19, 0x11, 0, 0, 0x0E, 0x10, 0x17, 0, 0x21, 0, 20, 0x22, 0, 5), h(0x26), s("a"), s("b"), h(0x27, 0, 0, 4, 0),
				s("c5")),
			&packet.Connect{Version: packet.V5, CleanStart: true, KeepAlive: 30, ClientID: bs("c5"),
				Props: packet.Properties{
					Present:       props(packet.PropSessionExpiry, packet.PropRequestProblemInfo, packet.PropReceiveMaximum, packet.PropTopicAliasMaximum, packet.PropMaximumPacketSize),
					SessionExpiry: 3600, RequestProblemInfo: 0, ReceiveMaximum: 20, TopicAliasMaximum: 5, MaximumPacketSize: 1024,
					User: []packet.UserProperty{{Key: bs("a"), Value: bs("b")}},
				}}},
		{"connect/5/will-auth-password-only", packet.V5,
			cat(h(0x10, 0x53), s("MQTT"), h(5, 0x56, 0x00, 0x00),
				h(0x0F, 0x15), s("SCRAM"), h(0x16), s("\x01\x02"), h(0x19, 1),
				s(""),
				h(0x28, 0x01, 1, 0x02, 0, 0, 0, 60, 0x03), s("text/plain"), h(0x08), s("r"), h(0x09), s("x"), h(0x18, 0, 0, 0, 5), h(0x26), s("k"), s("v"),
				s("w"), s("gone"), s("pwd")),
			&packet.Connect{Version: packet.V5, CleanStart: true, ClientID: bs(""),
				Props: packet.Properties{
					Present:    props(packet.PropAuthMethod, packet.PropAuthData, packet.PropRequestResponseInfo),
					AuthMethod: bs("SCRAM"), AuthData: []byte{1, 2}, RequestResponseInfo: 1,
				},
				Will: true, WillQoS: 2, WillTopic: bs("w"), WillPayload: bs("gone"),
				WillProps: packet.Properties{
					Present:       props(packet.PropPayloadFormat, packet.PropMessageExpiry, packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData, packet.PropWillDelay),
					PayloadFormat: 1, MessageExpiry: 60, ContentType: bs("text/plain"), ResponseTopic: bs("r"), CorrelationData: bs("x"), WillDelay: 5,
					User: []packet.UserProperty{{Key: bs("k"), Value: bs("v")}},
				},
				PasswordFlag: true, Password: bs("pwd")}},

		// ---- CONNACK
		{"connack/311/session-present", packet.V311, h(0x20, 0x02, 0x01, 0x00),
			&packet.Connack{SessionPresent: true}},
		{"connack/311/not-authorized", packet.V311, h(0x20, 0x02, 0x00, 0x05),
			&packet.Connack{Code: packet.ConnackNotAuthorized}},
		{"connack/5/minimal", packet.V5, h(0x20, 0x03, 0x00, 0x00, 0x00),
			&packet.Connack{}},
		{"connack/5/all-server-properties", packet.V5,
			cat(h(0x20, 0x31, 0x00, 0x00, 0x2E, 0x12), s("auto-1"), h(0x13, 0, 45, 0x1A), s("resp/"), h(0x1F), s("ok"),
				h(0x21, 0, 100, 0x22, 0, 10, 0x24, 1, 0x25, 1, 0x27, 0, 1, 0, 0, 0x28, 1, 0x29, 0, 0x2A, 1)),
			&packet.Connack{Props: packet.Properties{
				Present: props(packet.PropAssignedClientID, packet.PropServerKeepAlive, packet.PropResponseInfo, packet.PropReasonString,
					packet.PropReceiveMaximum, packet.PropTopicAliasMaximum, packet.PropMaximumQoS, packet.PropRetainAvailable,
					packet.PropMaximumPacketSize, packet.PropWildcardSubAvailable, packet.PropSubIDAvailable, packet.PropSharedSubAvailable),
				AssignedClientID: bs("auto-1"), ServerKeepAlive: 45, ResponseInfo: bs("resp/"), ReasonString: bs("ok"),
				ReceiveMaximum: 100, TopicAliasMaximum: 10, MaximumQoS: 1, RetainAvailable: 1, MaximumPacketSize: 65536,
				WildcardSubAvailable: 1, SubIDAvailable: 0, SharedSubAvailable: 1,
			}}},
		{"connack/5/use-another-server", packet.V5,
			cat(h(0x20, 0x0C, 0x00, 0x9C, 0x09, 0x1C), s("b:1883")),
			&packet.Connack{Code: packet.UseAnotherServer, Props: packet.Properties{
				Present: props(packet.PropServerReference), ServerReference: bs("b:1883")}}},

		// ---- PUBLISH
		{"publish/311/qos0", packet.V311, cat(h(0x30, 0x07), s("a/b"), bs("hi")),
			&packet.Publish{Topic: bs("a/b"), Payload: bs("hi")}},
		{"publish/311/qos1-dup-retain", packet.V311, cat(h(0x3B, 0x06), s("t"), h(0x00, 0x07), bs("x")),
			&packet.Publish{Dup: true, QoS: 1, Retain: true, Topic: bs("t"), PacketID: 7, Payload: bs("x")}},
		{"publish/311/qos2-empty-payload", packet.V311, cat(h(0x34, 0x05), s("t"), h(0xFF, 0xFF)),
			&packet.Publish{QoS: 2, Topic: bs("t"), PacketID: 65535, Payload: bs("")}},
		{"publish/5/qos0", packet.V5, cat(h(0x30, 0x07), s("a/b"), h(0x00), bs("z")),
			&packet.Publish{Topic: bs("a/b"), Payload: bs("z")}},
		{"publish/5/qos1-all-properties", packet.V5,
			cat(h(0x32, 0x3E), s("s/1"), h(0x00, 0x01),
				h(0x34, 0x01, 1, 0x02, 0, 0, 0, 30, 0x03), s("json"), h(0x08), s("re/1"), h(0x09), s("\xCA\xFE"),
				h(0x0B, 1, 0x0B, 0xC8, 0x01, 0x23, 0, 3, 0x26), s("u1"), s("v1"), h(0x26), s("u1"), s("v2"),
				bs("{}")),
			&packet.Publish{QoS: 1, Topic: bs("s/1"), PacketID: 1, Payload: bs("{}"), Props: packet.Properties{
				Present:       props(packet.PropPayloadFormat, packet.PropMessageExpiry, packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData, packet.PropTopicAlias),
				PayloadFormat: 1, MessageExpiry: 30, ContentType: bs("json"), ResponseTopic: bs("re/1"), CorrelationData: []byte{0xCA, 0xFE}, TopicAlias: 3,
				SubscriptionIDs: []uint32{1, 200},
				User:            []packet.UserProperty{{Key: bs("u1"), Value: bs("v1")}, {Key: bs("u1"), Value: bs("v2")}},
			}}},
		{"publish/5/topic-alias-only", packet.V5, cat(h(0x30, 0x07), s(""), h(0x03, 0x23, 0, 3), bs("p")),
			&packet.Publish{Topic: bs(""), Payload: bs("p"), Props: packet.Properties{Present: props(packet.PropTopicAlias), TopicAlias: 3}}},

		// ---- PUBACK, PUBREC, PUBREL, PUBCOMP
		{"puback/311", packet.V311, h(0x40, 0x02, 0x00, 0x01), &packet.Ack{PacketType: packet.PUBACK, PacketID: 1}},
		{"pubrec/311", packet.V311, h(0x50, 0x02, 0x00, 0x02), &packet.Ack{PacketType: packet.PUBREC, PacketID: 2}},
		{"pubrel/311", packet.V311, h(0x62, 0x02, 0x00, 0x03), &packet.Ack{PacketType: packet.PUBREL, PacketID: 3}},
		{"pubcomp/311", packet.V311, h(0x70, 0x02, 0x00, 0x04), &packet.Ack{PacketType: packet.PUBCOMP, PacketID: 4}},
		{"puback/5/success-short", packet.V5, h(0x40, 0x02, 0x00, 0x01), &packet.Ack{PacketType: packet.PUBACK, PacketID: 1}},
		{"puback/5/no-matching-subscribers", packet.V5, h(0x40, 0x03, 0x00, 0x01, 0x10),
			&packet.Ack{PacketType: packet.PUBACK, PacketID: 1, Code: packet.NoMatchingSubscribers}},
		{"pubrec/5/error-with-properties", packet.V5,
			cat(h(0x50, 0x10, 0x00, 0x02, 0x80, 0x0C, 0x1F), s("no"), h(0x26), s("k"), s("v")),
			&packet.Ack{PacketType: packet.PUBREC, PacketID: 2, Code: packet.UnspecifiedError, Props: packet.Properties{
				Present: props(packet.PropReasonString), ReasonString: bs("no"),
				User: []packet.UserProperty{{Key: bs("k"), Value: bs("v")}}}}},
		{"pubrel/5/packet-id-not-found", packet.V5, h(0x62, 0x03, 0x00, 0x03, 0x92),
			&packet.Ack{PacketType: packet.PUBREL, PacketID: 3, Code: packet.PacketIdentifierNotFound}},
		{"pubcomp/5/success-short", packet.V5, h(0x70, 0x02, 0x00, 0x04), &packet.Ack{PacketType: packet.PUBCOMP, PacketID: 4}},

		// ---- SUBSCRIBE, SUBACK
		{"subscribe/311", packet.V311, cat(h(0x82, 0x0C, 0x00, 0x0A), s("a/+"), h(1), s("#"), h(0)),
			&packet.Subscribe{PacketID: 10, Filters: []packet.Subscription{{Filter: bs("a/+"), QoS: 1}, {Filter: bs("#")}}}},
		{"subscribe/5/options-shared-subid", packet.V5,
			cat(h(0x82, 0x21, 0x00, 0x0B, 0x09, 0x0B, 7, 0x26), s("x"), s("y"), s("s/#"), h(0x2E), s("$share/g/t/+"), h(0x11)),
			&packet.Subscribe{PacketID: 11,
				Props: packet.Properties{SubscriptionIDs: []uint32{7}, User: []packet.UserProperty{{Key: bs("x"), Value: bs("y")}}},
				Filters: []packet.Subscription{
					{Filter: bs("s/#"), QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
					{Filter: bs("$share/g/t/+"), QoS: 1, RetainHandling: 1},
				}}},
		{"suback/311", packet.V311, h(0x90, 0x04, 0x00, 0x0A, 0x01, 0x80),
			&packet.Suback{PacketID: 10, Codes: []byte{1, 0x80}}},
		{"suback/5", packet.V5, cat(h(0x90, 0x09, 0x00, 0x0B, 0x04, 0x1F), s("r"), h(0x02, 0x9E)),
			&packet.Suback{PacketID: 11, Codes: []byte{2, 0x9E},
				Props: packet.Properties{Present: props(packet.PropReasonString), ReasonString: bs("r")}}},

		// ---- UNSUBSCRIBE, UNSUBACK
		{"unsubscribe/311", packet.V311, cat(h(0xA2, 0x0A, 0x00, 0x0C), s("a/+"), s("#")),
			&packet.Unsubscribe{PacketID: 12, Filters: [][]byte{bs("a/+"), bs("#")}}},
		{"unsubscribe/5", packet.V5, cat(h(0xA2, 0x18, 0x00, 0x0D, 0x07, 0x26), s("k"), s("v"), s("$share/g/t/+")),
			&packet.Unsubscribe{PacketID: 13, Filters: [][]byte{bs("$share/g/t/+")},
				Props: packet.Properties{User: []packet.UserProperty{{Key: bs("k"), Value: bs("v")}}}}},
		{"unsuback/311", packet.V311, h(0xB0, 0x02, 0x00, 0x0C), &packet.Unsuback{PacketID: 12}},
		{"unsuback/5", packet.V5, h(0xB0, 0x05, 0x00, 0x0D, 0x00, 0x00, 0x11),
			&packet.Unsuback{PacketID: 13, Codes: []byte{0x00, 0x11}}},

		// ---- PINGREQ, PINGRESP
		{"pingreq/311", packet.V311, h(0xC0, 0x00), &packet.Pingreq{}},
		{"pingreq/5", packet.V5, h(0xC0, 0x00), &packet.Pingreq{}},
		{"pingresp/311", packet.V311, h(0xD0, 0x00), &packet.Pingresp{}},
		{"pingresp/5", packet.V5, h(0xD0, 0x00), &packet.Pingresp{}},

		// ---- DISCONNECT
		{"disconnect/311", packet.V311, h(0xE0, 0x00), &packet.Disconnect{}},
		{"disconnect/5/normal", packet.V5, h(0xE0, 0x01, 0x00), &packet.Disconnect{}},
		{"disconnect/5/with-will", packet.V5, h(0xE0, 0x01, 0x04), &packet.Disconnect{Code: packet.DisconnectWithWill}},
		{"disconnect/5/taken-over-properties", packet.V5,
			cat(h(0xE0, 0x12, 0x8E, 0x10, 0x11, 0, 0, 0, 0, 0x1C), s("s2"), h(0x1F), s("bye")),
			&packet.Disconnect{Code: packet.SessionTakenOver, Props: packet.Properties{
				Present:       props(packet.PropSessionExpiry, packet.PropServerReference, packet.PropReasonString),
				SessionExpiry: 0, ServerReference: bs("s2"), ReasonString: bs("bye")}}},

		// ---- AUTH
		{"auth/5/success-short", packet.V5, h(0xF0, 0x00), &packet.Auth{}},
		{"auth/5/continue", packet.V5, cat(h(0xF0, 0x10, 0x18, 0x0E, 0x15), s("SCRAM"), h(0x16), s("abc")),
			&packet.Auth{Code: packet.ContinueAuthentication, Props: packet.Properties{
				Present: props(packet.PropAuthMethod, packet.PropAuthData), AuthMethod: bs("SCRAM"), AuthData: bs("abc")}}},
	}
}

// Equal reports whether two packets (or two Properties, or any values of
// one type) hold the same values, treating nil and empty slices alike (a
// decoded empty string is an empty, non-nil slice).
func Equal(a, b any) bool {
	return reflect.DeepEqual(normalize(reflect.ValueOf(a)), normalize(reflect.ValueOf(b)))
}

// normalize returns a deep copy of v with empty slices made nil.
func normalize(v reflect.Value) any {
	c := reflect.New(v.Type()).Elem()
	copyNorm(c, v)
	return c.Interface()
}

func copyNorm(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Elem().Type())
		copyNorm(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Struct:
		for i := 0; i < src.NumField(); i++ {
			copyNorm(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.Len() == 0 {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyNorm(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
