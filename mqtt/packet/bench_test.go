package packet_test

import (
	"testing"

	"github.com/leafgate/leafgate/mqtt/packet"
)

func benchPublish(v packet.Version) (*packet.Publish, []byte) {
	p := &packet.Publish{QoS: 1, PacketID: 7, Topic: []byte("sensors/house/kitchen/temperature"), Payload: make([]byte, 64)}
	if v == packet.V5 {
		p.Props.User = []packet.UserProperty{{Key: []byte("unit"), Value: []byte("C")}}
		p.Props.ContentType = []byte("application/json")
		p.Props.Set(packet.PropContentType)
	}
	return p, p.Append(nil, v)
}

func BenchmarkSplitDecodePublish(b *testing.B) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		b.Run("v"+string('0'+byte(v)), func(b *testing.B) {
			_, wire := benchPublish(v)
			var p packet.Publish
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				h, complete, err := packet.Split(wire, 1<<20)
				if err != nil || !complete {
					b.Fatal(err)
				}
				if err := p.Decode(v, wire[:h.Len()]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		b.Run("v"+string('0'+byte(v)), func(b *testing.B) {
			p, wire := benchPublish(v)
			buf := make([]byte, 0, len(wire))
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				buf = p.Append(buf[:0], v)
			}
		})
	}
}
