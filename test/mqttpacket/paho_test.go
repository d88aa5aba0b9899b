// Package mqttpacket_test cross-checks leafgate's MQTT codec (mqtt/packet)
// against a real client's: the packets package of eclipse/paho.golang,
// which speaks MQTT 5.0. Each golden packet goes leafgate → paho → leafgate,
// and packets built with paho go paho → leafgate → paho, and must come back
// unchanged except where paho cannot carry a value (listed below).
package mqttpacket_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/packet/packettest"
)

func leafDecode(t *testing.T, b []byte) packet.Packet {
	t.Helper()
	h, complete, err := packet.Split(b, 0)
	if err != nil || !complete || h.Len() != len(b) {
		t.Fatalf("Split % X: %+v %v %v", b, h, complete, err)
	}
	p := packet.New(h.Type)
	if err := p.Decode(packet.V5, b); err != nil {
		t.Fatalf("leafgate decode of paho's % X: %v", b, err)
	}
	return p
}

// pahoLimits adjusts a golden packet to what survives a trip through paho.
var pahoLimits = map[string]func(p packet.Packet){
	// paho keeps one Subscription Identifier per packet (Properties has a
	// single *int), so a PUBLISH matching two subscriptions keeps the last.
	"publish/5/qos1-all-properties": func(p packet.Packet) {
		ids := &p.(*packet.Publish).Props.SubscriptionIDs
		*ids = (*ids)[len(*ids)-1:]
	},
	// paho packs Will Properties with the CONNECT property set, which
	// leaves out the ones only PUBLISH and will share: Payload Format
	// Indicator, Message Expiry, Content Type, Response Topic, Correlation
	// Data are dropped when paho re-encodes a CONNECT.
	"connect/5/will-auth-password-only": func(p packet.Packet) {
		w := &p.(*packet.Connect).WillProps
		for _, id := range []packet.PropID{packet.PropPayloadFormat, packet.PropMessageExpiry, packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData} {
			w.Clear(id)
		}
		w.PayloadFormat, w.MessageExpiry, w.ContentType, w.ResponseTopic, w.CorrelationData = 0, 0, nil, nil, nil
	},
}

// TestLeafgateToPaho: paho reads every golden 5.0 packet leafgate writes,
// and what paho writes back decodes to the same packet.
func TestLeafgateToPaho(t *testing.T) {
	for _, g := range packettest.Table() {
		if g.Version != packet.V5 {
			continue // paho.golang speaks 5.0 only
		}
		t.Run(g.Name, func(t *testing.T) {
			b := g.Packet.Append(nil, packet.V5)
			cp, err := packets.ReadPacket(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("paho cannot read % X: %v", b, err)
			}
			var out bytes.Buffer
			if _, err := cp.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			got := leafDecode(t, out.Bytes())
			want := g.Packet
			if adjust := pahoLimits[g.Name]; adjust != nil {
				want = packet.New(g.Packet.Type())
				if err := want.Decode(packet.V5, b); err != nil {
					t.Fatal(err)
				}
				adjust(want)
			}
			if !packettest.Equal(got, want) {
				t.Errorf("through paho:\n got %+v\nwant %+v\npaho wrote % X", got, want, out.Bytes())
			}
		})
	}
}

func u8(v byte) *byte      { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func intp(v int) *int      { return &v }
func users() []packets.User {
	return []packets.User{{Key: "k1", Value: "v1"}, {Key: "k1", Value: "v2"}}
}

// pahoPackets are 5.0 packets as a paho client builds them.
func pahoPackets() map[string]*packets.ControlPacket {
	mk := func(t byte, content packets.Packet) *packets.ControlPacket {
		cp := packets.NewControlPacket(t)
		cp.Content = content
		return cp
	}
	return map[string]*packets.ControlPacket{
		"connect": mk(packets.CONNECT, &packets.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, ClientID: "paho-1",
			CleanStart: true, KeepAlive: 30, UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte("secret"),
			WillFlag: true, WillQOS: 1, WillRetain: true, WillTopic: "will/t", WillMessage: []byte("gone"),
			WillProperties: &packets.Properties{WillDelayInterval: u32(10), User: users()},
			Properties: &packets.Properties{SessionExpiryInterval: u32(3600), ReceiveMaximum: u16(10), MaximumPacketSize: u32(1 << 20),
				TopicAliasMaximum: u16(5), RequestResponseInfo: u8(1), RequestProblemInfo: u8(0), AuthMethod: "PLAIN", AuthData: []byte{1}, User: users()}}),
		"connack": mk(packets.CONNACK, &packets.Connack{SessionPresent: true, Properties: &packets.Properties{
			SessionExpiryInterval: u32(60), ReceiveMaximum: u16(20), MaximumQOS: u8(1), RetainAvailable: u8(0),
			MaximumPacketSize: u32(4096), AssignedClientID: "auto", TopicAliasMaximum: u16(7), ReasonString: "welcome",
			WildcardSubAvailable: u8(1), SubIDAvailable: u8(1), SharedSubAvailable: u8(0), ServerKeepAlive: u16(45),
			ResponseInfo: "resp/", User: users()}}),
		"publish": mk(packets.PUBLISH, &packets.Publish{Topic: "a/b", QoS: 2, Retain: true, Duplicate: true, PacketID: 9, Payload: []byte("payload"),
			Properties: &packets.Properties{PayloadFormat: u8(1), MessageExpiry: u32(120), ContentType: "text/plain",
				ResponseTopic: "reply/1", CorrelationData: []byte{0xCA, 0xFE}, TopicAlias: u16(2), SubscriptionIdentifier: intp(300), User: users()}}),
		"publish-qos0": mk(packets.PUBLISH, &packets.Publish{Topic: "a", Payload: []byte{}, Properties: &packets.Properties{}}),
		"puback":       mk(packets.PUBACK, &packets.Puback{PacketID: 9, ReasonCode: 0x10, Properties: &packets.Properties{ReasonString: "none", User: users()}}),
		"pubrec":       mk(packets.PUBREC, &packets.Pubrec{PacketID: 9, ReasonCode: 0x00, Properties: &packets.Properties{}}),
		"pubrel":       mk(packets.PUBREL, &packets.Pubrel{PacketID: 9, ReasonCode: 0x92, Properties: &packets.Properties{ReasonString: "?"}}),
		"pubcomp":      mk(packets.PUBCOMP, &packets.Pubcomp{PacketID: 9, Properties: &packets.Properties{}}),
		"subscribe": mk(packets.SUBSCRIBE, &packets.Subscribe{PacketID: 3,
			Properties: &packets.Properties{SubscriptionIdentifier: intp(268435455), User: users()},
			Subscriptions: []packets.SubOptions{
				{Topic: "s/+/x", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Topic: "$share/grp/s/#", QoS: 2, RetainHandling: 1},
				{Topic: "#"},
			}}),
		"suback":      mk(packets.SUBACK, &packets.Suback{PacketID: 3, Reasons: []byte{1, 2, 0x80}, Properties: &packets.Properties{ReasonString: "r"}}),
		"unsubscribe": mk(packets.UNSUBSCRIBE, &packets.Unsubscribe{PacketID: 4, Topics: []string{"s/+/x", "#"}, Properties: &packets.Properties{User: users()}}),
		"unsuback":    mk(packets.UNSUBACK, &packets.Unsuback{PacketID: 4, Reasons: []byte{0, 0x11}, Properties: &packets.Properties{}}),
		"pingreq":     mk(packets.PINGREQ, &packets.Pingreq{}),
		"pingresp":    mk(packets.PINGRESP, &packets.Pingresp{}),
		"disconnect": mk(packets.DISCONNECT, &packets.Disconnect{ReasonCode: 0x8E, Properties: &packets.Properties{
			SessionExpiryInterval: u32(0), ReasonString: "taken over", ServerReference: "other:1883", User: users()}}),
		"auth": mk(packets.AUTH, &packets.Auth{ReasonCode: 0x18, Properties: &packets.Properties{AuthMethod: "SCRAM-SHA-1", AuthData: []byte("client-first")}}),
	}
}

// TestPahoToLeafgate: leafgate reads every packet paho writes, and what
// leafgate writes back paho reads as the same packet.
func TestPahoToLeafgate(t *testing.T) {
	for name, cp := range pahoPackets() {
		t.Run(name, func(t *testing.T) {
			// Written as paho's client writes them: each packet's own
			// WriteTo. (ControlPacket.WriteTo of NewControlPacket(AUTH)
			// sets the reserved flags to 0001, which a receiver must
			// refuse [MQTT-2.1.3-1]; paho's client does not use it.)
			var wire bytes.Buffer
			if _, err := cp.Content.WriteTo(&wire); err != nil {
				t.Fatal(err)
			}
			p := leafDecode(t, wire.Bytes())
			b := p.Append(nil, packet.V5)
			back, err := packets.ReadPacket(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("paho cannot read leafgate's % X: %v", b, err)
			}
			if !reflect.DeepEqual(back.Content, cp.Content) {
				t.Errorf("through leafgate:\n got %v\nwant %v\npaho wrote  % X\nleafgate wrote % X", back.Content, cp.Content, wire.Bytes(), b)
			}
		})
	}
}
