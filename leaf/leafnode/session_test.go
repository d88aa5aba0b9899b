package leafnode

import "testing"

// The stream subject a hub appends to a JetStream ack reply ("@subject")
// is split off only after the ack's eighth dot and only when non-empty,
// as nats-server's jsAckDeliverIdx does.
func TestSplitJSAckDeliver(t *testing.T) {
	for _, c := range []struct {
		reply, ack, deliver string
		ok                  bool
	}{
		{"$JS.ACK.S.C.1.1.1.1796236696731210525.0@hub.s.1", "$JS.ACK.S.C.1.1.1.1796236696731210525.0", "hub.s.1", true},
		{"$JS.ACK.hub.hash.S.C.1.2.3.4.5@a.b", "$JS.ACK.hub.hash.S.C.1.2.3.4.5", "a.b", true},
		{"$JS.ACK.S@x.C.1.1.1.17962366967.0@hub.s.1", "$JS.ACK.S@x.C.1.1.1.17962366967.0", "hub.s.1", true},
		{"$JS.ACK.S.C.1.1.1.1796236696731210525.0", "", "", false},
		{"$JS.ACK.S.C.1.1.1.1796236696731210525.0@", "", "", false},
		{"_INBOX.abc@def", "", "", false},
		{"$JS.ACK.", "", "", false},
		{"", "", "", false},
	} {
		ack, deliver, ok := splitJSAckDeliver([]byte(c.reply))
		if ok != c.ok || string(ack) != c.ack || string(deliver) != c.deliver {
			t.Errorf("splitJSAckDeliver(%q) = %q, %q, %v; want %q, %q, %v", c.reply, ack, deliver, ok, c.ack, c.deliver, c.ok)
		}
	}
}
