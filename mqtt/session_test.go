package mqtt

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/store/jsapi"
)

// natsSub collects what the router delivers to a NATS-side subscriber.
type natsSub struct {
	mu   sync.Mutex
	msgs []natsMsg
	ch   chan struct{}
}

type natsMsg struct{ subj, reply, hdr, payload string }

func newNATSSub(t *testing.T, r *router.Router, subj, queue string) *natsSub {
	n := &natsSub{ch: make(chan struct{}, 1024)}
	if err := r.Subscribe(&router.Sub{Subject: subj, Queue: queue, Receiver: n}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *natsSub) Deliver(_ *router.Sub, subj, reply, hdr, payload []byte) bool {
	n.mu.Lock()
	n.msgs = append(n.msgs, natsMsg{string(subj), string(reply), string(hdr), string(payload)})
	n.mu.Unlock()
	n.ch <- struct{}{}
	return false
}
func (n *natsSub) Flush() {}

func (n *natsSub) next(t *testing.T) natsMsg {
	t.Helper()
	select {
	case <-n.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no NATS message")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.msgs[0]
	n.msgs = n.msgs[1:]
	return m
}

func subscribe(t *testing.T, c *testClient, filters ...packet.Subscription) *packet.Suback {
	t.Helper()
	c.send(&packet.Subscribe{PacketID: 1, Filters: filters})
	return c.read().(*packet.Suback)
}

func TestPersistentSessionRedeliversInOrderWithDup(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	cp := packet.Connect{ClientID: []byte("dev1")}
	sub, ack := dial(t, addr, packet.V311, cp)
	if ack.SessionPresent {
		t.Fatal("session present on first connect")
	}
	subscribe(t, sub, packet.Subscription{Filter: []byte("q/#"), QoS: 1})
	// 5 messages from NATS; the client reads them and acks none.
	for i := range 5 {
		r.Publish(&router.Publisher{}, []byte("q.x"), nil, nil, []byte{'0' + byte(i)})
	}
	for i := range 5 {
		m := sub.read().(*packet.Publish)
		if m.Payload[0] != '0'+byte(i) || m.Dup {
			t.Fatalf("first delivery %d: %+v", i, m)
		}
	}
	sub.nc.Close()
	// Offline: 3 more are queued.
	time.Sleep(50 * time.Millisecond)
	for i := 5; i < 8; i++ {
		r.Publish(&router.Publisher{}, []byte("q.x"), nil, nil, []byte{'0' + byte(i)})
	}
	sub2, ack := dial(t, addr, packet.V311, cp)
	if !ack.SessionPresent {
		t.Fatal("session not present on resume")
	}
	for i := range 8 {
		m := sub2.read().(*packet.Publish)
		if m.Payload[0] != '0'+byte(i) || m.Dup != (i < 5) {
			t.Fatalf("redelivery %d: payload %q dup %v", i, m.Payload, m.Dup)
		}
		sub2.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: m.PacketID})
	}
	sub2.send(&packet.Disconnect{})
	sub3, ack := dial(t, addr, packet.V311, cp)
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	if p, err := sub3.tryRead(200 * time.Millisecond); err == nil {
		t.Fatalf("acked message came again: %+v", p)
	}
}

func TestTakeoverClosesOldWithReason(t *testing.T) {
	_, addr := startBroker(t, Options{})
	cp := packet.Connect{ClientID: []byte("same"), CleanStart: true}
	old, _ := dial(t, addr, packet.V5, cp)
	_, _ = dial(t, addr, packet.V5, cp)
	d, ok := old.read().(*packet.Disconnect)
	if !ok || d.Code != packet.SessionTakenOver {
		t.Fatalf("old connection got %+v", d)
	}
}

func TestWill(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	n := newNATSSub(t, r, "will.>", "")
	w := packet.Connect{ClientID: []byte("w"), CleanStart: true, Will: true, WillTopic: []byte("will/w"), WillPayload: []byte("gone"), WillQoS: 1}
	c, _ := dial(t, addr, packet.V311, w)
	c.nc.Close() // abnormal
	m := n.next(t)
	if m.subj != "will.w" || m.payload != "gone" || string(proto.HeaderGet([]byte(m.hdr), "Nmqtt-Pub")) != "1" {
		t.Fatalf("will %+v", m)
	}
	// A normal DISCONNECT discards it [MQTT-3.1.2-10].
	c, _ = dial(t, addr, packet.V311, w)
	c.send(&packet.Disconnect{})
	select {
	case <-n.ch:
		t.Fatal("will sent after a normal DISCONNECT")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestWillDelayCancelledByReconnect(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	n := newNATSSub(t, r, "will.>", "")
	w := packet.Connect{ClientID: []byte("wd"), Will: true, WillTopic: []byte("will/wd"), WillPayload: []byte("x")}
	w.Props.SessionExpiry = 60
	w.Props.Set(packet.PropSessionExpiry)
	w.WillProps.WillDelay = 1
	w.WillProps.Set(packet.PropWillDelay)
	c, _ := dial(t, addr, packet.V5, w)
	c.nc.Close()
	time.Sleep(100 * time.Millisecond)
	_, ack := dial(t, addr, packet.V5, w)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	select {
	case <-n.ch:
		t.Fatal("will sent although the client came back within the delay")
	case <-time.After(1500 * time.Millisecond):
	}
}

func TestMQTTToNATSHeadersAndReply(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	n := newNATSSub(t, r, "svc.>", "")
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("p5"), CleanStart: true})
	p := packet.Publish{QoS: 1, PacketID: 3, Topic: []byte("svc/temp"), Payload: []byte("21.5")}
	p.Props.User = []packet.UserProperty{{Key: []byte("unit"), Value: []byte("C")}}
	p.Props.ContentType = []byte("text/plain")
	p.Props.Set(packet.PropContentType)
	p.Props.ResponseTopic = []byte("replies/p5")
	p.Props.Set(packet.PropResponseTopic)
	c.send(&p)
	if a := c.read().(*packet.Ack); a.Code != 0 {
		t.Fatalf("puback %v", a.Code)
	}
	m := n.next(t)
	h := []byte(m.hdr)
	if m.subj != "svc.temp" || m.reply != "replies.p5" || string(proto.HeaderGet(h, "unit")) != "C" ||
		string(proto.HeaderGet(h, "Content-Type")) != "text/plain" || string(proto.HeaderGet(h, "Nmqtt-Pub")) != "1" {
		t.Fatalf("NATS got %+v", m)
	}
}

func TestNATSToMQTTQoSAndProperties(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("s5"), CleanStart: true})
	sa := subscribe(t, c, packet.Subscription{Filter: []byte("dev/+/cmd"), QoS: 2})
	if sa.Codes[0] != 2 {
		t.Fatalf("granted %v", sa.Codes)
	}
	hdr := "NATS/1.0\r\nNmqtt-Pub: 2\r\nx-req: 9\r\n\r\n"
	r.Publish(&router.Publisher{}, []byte("dev.7.cmd"), []byte("_INBOX.abc"), []byte(hdr), []byte("on"))
	m := c.read().(*packet.Publish)
	if m.QoS != 2 || string(m.Topic) != "dev/7/cmd" || string(m.Props.ResponseTopic) != "_INBOX/abc" ||
		len(m.Props.User) != 1 || string(m.Props.User[0].Value) != "9" {
		t.Fatalf("got %+v", m)
	}
	// Without the header a NATS message is QoS 1 (the default).
	r.Publish(&router.Publisher{}, []byte("dev.8.cmd"), nil, nil, []byte("off"))
	m2 := c.read().(*packet.Publish)
	if m2.QoS != 1 {
		t.Fatalf("default NATS QoS %d", m2.QoS)
	}
}

func TestSharedSubscriptionWithNATSQueue(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	n := newNATSSub(t, r, "jobs.*", "workers")
	var cs []*testClient
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		c, _ := dial(t, addr, v, packet.Connect{ClientID: []byte("w" + string('0'+byte(v))), CleanStart: true})
		subscribe(t, c, packet.Subscription{Filter: []byte("$share/workers/jobs/+"), QoS: 0})
		cs = append(cs, c)
	}
	const total = 300
	for i := range total {
		r.Publish(&router.Publisher{}, []byte("jobs.x"), nil, nil, []byte{byte(i)})
	}
	got := 0
	counts := make([]int, len(cs))
	for i, c := range cs {
		for {
			p, err := c.tryRead(300 * time.Millisecond)
			if err != nil {
				break
			}
			if _, ok := p.(*packet.Publish); ok {
				counts[i]++
			}
		}
		got += counts[i]
	}
	n.mu.Lock()
	natsGot := len(n.msgs)
	n.mu.Unlock()
	if got+natsGot != total || natsGot == 0 || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("shared: mqtt %v nats %d, want %d in all, each > 0", counts, natsGot, total)
	}
}

func TestNoLocalAndSubscriptionIDs(t *testing.T) {
	_, addr := startBroker(t, Options{})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("nl"), CleanStart: true})
	s := packet.Subscribe{PacketID: 1, Filters: []packet.Subscription{{Filter: []byte("loop/a"), NoLocal: true}, {Filter: []byte("loop/+")}}}
	s.Props.SubscriptionIDs = []uint32{42}
	c.send(&s)
	c.read()
	c.send(&packet.Publish{Topic: []byte("loop/a"), Payload: []byte("me")})
	m := c.read().(*packet.Publish)
	if len(m.Props.SubscriptionIDs) != 1 || m.Props.SubscriptionIDs[0] != 42 {
		t.Fatalf("sub ids %v", m.Props.SubscriptionIDs)
	}
	if p, err := c.tryRead(200 * time.Millisecond); err == nil {
		t.Fatalf("No Local subscription got its own message: %+v", p)
	}
}

func TestTopicAliasesBothWays(t *testing.T) {
	_, addr := startBroker(t, Options{})
	cp := packet.Connect{ClientID: []byte("ta"), CleanStart: true}
	cp.Props.TopicAliasMaximum = 4
	cp.Props.Set(packet.PropTopicAliasMaximum)
	c, ack := dial(t, addr, packet.V5, cp)
	if ack.Props.TopicAliasMaximum == 0 {
		t.Fatal("no Topic Alias Maximum in CONNACK")
	}
	subscribe(t, c, packet.Subscription{Filter: []byte("al/#")})
	p := packet.Publish{Topic: []byte("al/long/topic"), Payload: []byte("1")}
	p.Props.TopicAlias = 1
	p.Props.Set(packet.PropTopicAlias)
	c.send(&p)
	p2 := packet.Publish{Payload: []byte("2")}
	p2.Props.TopicAlias = 1
	p2.Props.Set(packet.PropTopicAlias)
	c.send(&p2)
	m1 := c.read().(*packet.Publish)
	m2 := c.read().(*packet.Publish)
	if string(m1.Topic) != "al/long/topic" || m1.Props.TopicAlias == 0 || len(m2.Topic) != 0 || m2.Props.TopicAlias != m1.Props.TopicAlias {
		t.Fatalf("aliases: %+v / %+v", m1, m2)
	}
	// An alias above the maximum: DISCONNECT 0x94.
	p3 := packet.Publish{Topic: []byte("al/x")}
	p3.Props.TopicAlias = 1000
	p3.Props.Set(packet.PropTopicAlias)
	c.send(&p3)
	if d, ok := c.read().(*packet.Disconnect); !ok || d.Code != packet.TopicAliasInvalid {
		t.Fatalf("got %+v", d)
	}
}

func TestMaximumPacketSizeDropsForThatClient(t *testing.T) {
	_, addr := startBroker(t, Options{})
	cp := packet.Connect{ClientID: []byte("small"), CleanStart: true}
	cp.Props.MaximumPacketSize = 64
	cp.Props.Set(packet.PropMaximumPacketSize)
	small, _ := dial(t, addr, packet.V5, cp)
	subscribe(t, small, packet.Subscription{Filter: []byte("big/#"), QoS: 1})
	big, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("big"), CleanStart: true})
	subscribe(t, big, packet.Subscription{Filter: []byte("big/#"), QoS: 1})
	big.send(&packet.Publish{Topic: []byte("big/1"), Payload: []byte(strings.Repeat("x", 200))})
	big.send(&packet.Publish{Topic: []byte("big/2"), Payload: []byte("ok")})
	if m := big.read().(*packet.Publish); len(m.Payload) != 200 {
		t.Fatalf("big client got %d bytes", len(m.Payload))
	}
	if m := small.read().(*packet.Publish); string(m.Payload) != "ok" {
		t.Fatalf("small client got %q first", m.Payload)
	}
}

func TestReceiveMaximumExceeded(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r, ReceiveMaximum: 2})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("rm"), CleanStart: true})
	for i := uint16(1); i <= 3; i++ { // QoS 2 without PUBREL keeps them counted
		c.send(&packet.Publish{QoS: 2, PacketID: i, Topic: []byte("rm")})
	}
	for range 2 {
		if a := c.read().(*packet.Ack); a.PacketType != packet.PUBREC {
			t.Fatalf("got %+v", a)
		}
	}
	if d, ok := c.read().(*packet.Disconnect); !ok || d.Code != packet.ReceiveMaximumExceeded {
		t.Fatalf("got %+v", d)
	}
}

func TestQoS2DeliveredOnceOnResend(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	n := newNATSSub(t, r, "once", "")
	c, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("q2")})
	c.send(&packet.Publish{QoS: 2, PacketID: 9, Topic: []byte("once"), Payload: []byte("1")})
	c.read()
	c.send(&packet.Publish{QoS: 2, PacketID: 9, Dup: true, Topic: []byte("once"), Payload: []byte("1")})
	if a := c.read().(*packet.Ack); a.PacketType != packet.PUBREC || a.PacketID != 9 {
		t.Fatalf("got %+v", a)
	}
	c.send(&packet.Ack{PacketType: packet.PUBREL, PacketID: 9})
	c.read()
	n.next(t)
	select {
	case <-n.ch:
		t.Fatal("QoS 2 message delivered twice")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestMessageExpiry(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	cp := packet.Connect{ClientID: []byte("exp")}
	cp.Props.SessionExpiry = 60
	cp.Props.Set(packet.PropSessionExpiry)
	c, _ := dial(t, addr, packet.V5, cp)
	subscribe(t, c, packet.Subscription{Filter: []byte("e/#"), QoS: 1})
	c.nc.Close()
	time.Sleep(50 * time.Millisecond)
	pub, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("ep"), CleanStart: true})
	short := packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("e/short"), Payload: []byte("s")}
	short.Props.MessageExpiry = 1
	short.Props.Set(packet.PropMessageExpiry)
	long := packet.Publish{QoS: 1, PacketID: 2, Topic: []byte("e/long"), Payload: []byte("l")}
	long.Props.MessageExpiry = 100
	long.Props.Set(packet.PropMessageExpiry)
	pub.send(&short)
	pub.send(&long)
	pub.read()
	pub.read()
	time.Sleep(2100 * time.Millisecond)
	c2, _ := dial(t, addr, packet.V5, cp)
	m := c2.read().(*packet.Publish)
	if string(m.Payload) != "l" || m.Props.MessageExpiry == 0 || m.Props.MessageExpiry > 98 {
		t.Fatalf("got %q expiry %d; the expired one must not come and the other's expiry must count down", m.Payload, m.Props.MessageExpiry)
	}
}

func TestOperatorListsAndDeletesSessions(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("op-a"), CleanStart: true})
	subscribe(t, c, packet.Subscription{Filter: []byte("x/#"), QoS: 1})
	replies := newNATSSub(t, r, "_INBOX.op", "")
	r.Publish(&router.Publisher{}, []byte(SubjectSessions), []byte("_INBOX.op"), nil, []byte(`{"client_id":"op-a"}`))
	m := replies.next(t)
	if !strings.Contains(m.payload, `"client_id":"op-a"`) || !strings.Contains(m.payload, `"filter":"x/#"`) || !strings.Contains(m.payload, `"connected":true`) {
		t.Fatalf("list: %s", m.payload)
	}
	r.Publish(&router.Publisher{}, []byte(SubjectSessionDelete), []byte("_INBOX.op"), nil, []byte(`{"client_id":"op-a"}`))
	if m := replies.next(t); !strings.Contains(m.payload, `"deleted":true`) {
		t.Fatalf("delete: %s", m.payload)
	}
	if d, ok := c.read().(*packet.Disconnect); !ok || d.Code != packet.AdministrativeAction {
		t.Fatalf("client got %+v", d)
	}
	r.Publish(&router.Publisher{}, []byte(SubjectSessions), []byte("_INBOX.op"), nil, nil)
	if m := replies.next(t); !strings.Contains(m.payload, `"total":0`) {
		t.Fatalf("after delete: %s", m.payload)
	}
}

// An MQTT 5 requester gets a NATS responder's reply with its Correlation
// Data, on its Response Topic.
func TestRequestResponseWithNATSResponder(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	// The NATS responder answers whatever reply subject it is given.
	resp := newNATSSub(t, r, "svc.time", "")
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("req"), CleanStart: true})
	subscribe(t, c, packet.Subscription{Filter: []byte("resp/req")})
	p := packet.Publish{Topic: []byte("svc/time"), Payload: []byte("now?")}
	p.Props.ResponseTopic = []byte("resp/req")
	p.Props.Set(packet.PropResponseTopic)
	p.Props.CorrelationData = []byte{1, 2, 3}
	p.Props.Set(packet.PropCorrelationData)
	c.send(&p)
	m := resp.next(t)
	if m.reply == "" {
		t.Fatal("request without a reply subject")
	}
	r.Publish(&router.Publisher{}, []byte(m.reply), nil, nil, []byte("noon"))
	got := c.read().(*packet.Publish)
	if string(got.Topic) != "resp/req" || string(got.Payload) != "noon" || string(got.Props.CorrelationData) != "\x01\x02\x03" {
		t.Fatalf("reply %+v", got)
	}
}

// A publisher that sends PUBLISH and DISCONNECT in one write still gets
// its message flushed to subscribers, and the next messages too.
func TestPublishThenDisconnectInOneWrite(t *testing.T) {
	_, addr := startBroker(t, Options{})
	sub, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("s"), CleanStart: true})
	subscribe(t, sub, packet.Subscription{Filter: []byte("x/#"), QoS: 1})
	for i := range 3 {
		pub, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("p"), CleanStart: true})
		p := packet.Publish{Topic: []byte("x/y"), Payload: []byte{'0' + byte(i)}}
		b := p.Append(nil, packet.V311)
		b = (&packet.Disconnect{}).Append(b, packet.V311)
		if _, err := pub.nc.Write(b); err != nil {
			t.Fatal(err)
		}
		m := sub.read().(*packet.Publish)
		if m.Payload[0] != '0'+byte(i) {
			t.Fatalf("got %q", m.Payload)
		}
	}
}

// durableProbe stands for a stream: it registers with the publisher's
// Confirm and reports the store done only when the test says so.
type durableProbe struct {
	mu    sync.Mutex
	confs []*router.Confirm
	got   chan struct{}
}

func (d *durableProbe) Deliver(*router.Sub, []byte, []byte, []byte, []byte) bool { return false }
func (d *durableProbe) Flush()                                                   {}
func (d *durableProbe) DeliverFrom(p *router.Publisher, _ *router.Sub, _, _, _, _ []byte) bool {
	if p.Confirm != nil {
		p.Confirm.Add()
		d.mu.Lock()
		d.confs = append(d.confs, p.Confirm)
		d.mu.Unlock()
		d.got <- struct{}{}
	}
	return false
}

// A PUBACK waits until every durable receiver of the message has synced
// it; a failed store gets 0x97 in 5.0 and no PUBACK at all in 3.1.1; and
// PUBACKs keep the order the PUBLISHes came in even when the stores finish
// out of order.
func TestPubackWaitsForDurableStore(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	d := &durableProbe{got: make(chan struct{}, 16)}
	if err := r.Subscribe(&router.Sub{Subject: "tele.>", Receiver: d}); err != nil {
		t.Fatal(err)
	}
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("dp"), CleanStart: true})
	c.send(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("tele/a"), Payload: []byte("1")})
	c.send(&packet.Publish{QoS: 1, PacketID: 2, Topic: []byte("tele/a"), Payload: []byte("2")})
	<-d.got
	<-d.got
	if p, err := c.tryRead(300 * time.Millisecond); err == nil {
		t.Fatalf("%+v before the store synced", p)
	}
	d.mu.Lock()
	first, second := d.confs[0], d.confs[1]
	d.mu.Unlock()
	second.Done(errors.New("disk full"))
	if p, err := c.tryRead(300 * time.Millisecond); err == nil {
		t.Fatalf("%+v out of order: the first publish is not stored yet", p)
	}
	first.Done(nil)
	a1 := c.read().(*packet.Ack)
	a2 := c.read().(*packet.Ack)
	if a1.PacketID != 1 || a1.Code != 0 || a2.PacketID != 2 || a2.Code != packet.UnspecifiedError && a2.Code != packet.QuotaExceeded {
		t.Fatalf("acks %+v %+v", a1, a2)
	}

	// 3.1.1: no PUBACK for the message that was not stored.
	c3, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("dp3"), CleanStart: true})
	c3.send(&packet.Publish{QoS: 1, PacketID: 5, Topic: []byte("tele/b"), Payload: []byte("x")})
	<-d.got
	d.mu.Lock()
	last := d.confs[len(d.confs)-1]
	d.mu.Unlock()
	last.Done(errors.New("stream full"))
	if p, err := c3.tryRead(300 * time.Millisecond); err == nil {
		t.Fatalf("3.1.1 client acknowledged a message that was not stored: %+v", p)
	}
}

func TestServerKeepAliveAndReasonStrings(t *testing.T) {
	_, addr := startBroker(t, Options{MaxKeepAlive: 30 * time.Second})
	c, ack := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("ka"), CleanStart: true, KeepAlive: 0})
	if !ack.Props.Has(packet.PropServerKeepAlive) || ack.Props.ServerKeepAlive != 30 {
		t.Fatalf("CONNACK %+v", ack.Props)
	}
	c.send(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("$SYS/x")})
	a := c.read().(*packet.Ack)
	if a.Code != packet.NotAuthorized || !strings.Contains(string(a.Props.ReasonString), "not authorized") {
		t.Fatalf("ack %+v", a)
	}
	// Request Problem Information 0: no Reason String.
	cp := packet.Connect{ClientID: []byte("np"), CleanStart: true}
	cp.Props.RequestProblemInfo = 0
	cp.Props.Set(packet.PropRequestProblemInfo)
	c2, _ := dial(t, addr, packet.V5, cp)
	c2.send(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("$SYS/x")})
	if a := c2.read().(*packet.Ack); a.Code != packet.NotAuthorized || a.Props.Has(packet.PropReasonString) {
		t.Fatalf("ack %+v", a)
	}
}

// A client silent for 1.5 times its keep alive is disconnected: 5.0 with
// DISCONNECT 0x8D [MQTT-3.1.2-22]; a connection that never sends CONNECT is
// closed after ConnectTimeout.
func TestKeepAliveAndConnectTimeout(t *testing.T) {
	_, addr := startBroker(t, Options{ConnectTimeout: 300 * time.Millisecond})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("quiet"), CleanStart: true, KeepAlive: 1})
	start := time.Now()
	d, ok := c.read().(*packet.Disconnect)
	if !ok || d.Code != packet.KeepAliveTimeout {
		t.Fatalf("got %+v", d)
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Fatalf("disconnected after %v, before 1.5 × keep alive", el)
	}
	// A PINGREQ in time keeps it open.
	p, _ := dial(t, addr, packet.V311, packet.Connect{ClientID: []byte("pinger"), CleanStart: true, KeepAlive: 1})
	for range 3 {
		time.Sleep(700 * time.Millisecond)
		p.send(&packet.Pingreq{})
		if _, ok := p.read().(*packet.Pingresp); !ok {
			t.Fatal("no PINGRESP")
		}
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection without CONNECT got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a connection without CONNECT was not closed")
	}
}

// Over a connection limit the server calls Reject: the client reads a
// CONNACK refusing it in its own version.
func TestRejectAnswersInTheClientsVersion(t *testing.T) {
	b, err := New(Options{Router: router.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		srv, cli := net.Pipe()
		go func() {
			b.Reject(srv)
			srv.Close()
		}()
		c := &testClient{t: t, nc: cli, v: v}
		c.send(&packet.Connect{ClientID: []byte("x"), CleanStart: true})
		ack, ok := c.read().(*packet.Connack)
		want := packet.ReasonCode(packet.ServerBusy)
		if v == packet.V311 {
			want = packet.ConnackServerUnavailable
		}
		if !ok || ack.Code != want {
			t.Fatalf("v%d: got %+v", v, ack)
		}
		cli.Close()
	}
}

func TestStoreErrorCodes(t *testing.T) {
	cases := []struct {
		err  error
		want packet.ReasonCode
	}{
		{jsapi.ErrStreamStoreFailedF.With("err", "maximum messages exceeded"), packet.QuotaExceeded},
		{jsapi.ErrStreamStoreFailedF.With("err", "maximum bytes exceeded"), packet.QuotaExceeded},
		{jsapi.ErrStreamStoreFailedF.With("err", "write /x: no space left on device"), packet.QuotaExceeded},
		{jsapi.ErrStreamStoreFailedF.With("err", "input/output error"), packet.UnspecifiedError},
		{jsapi.ErrStreamTooManyRequests, packet.MessageRateTooHigh},
		{jsapi.ErrAccountResourcesExceeded, packet.QuotaExceeded},
		{jsapi.ErrStreamSealed, packet.ImplementationSpecificError},
		{errors.New("stream stopped"), packet.UnspecifiedError},
	}
	for _, c := range cases {
		if got := storeErrorCode(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}

// Bursts of QoS 1 messages beyond the client's Receive Maximum all arrive,
// in order, as the client acknowledges: messages queued while the window
// was full go out on the acks, and later bursts are not left unflushed.
func TestQoS1BurstsBeyondTheWindow(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	cp := packet.Connect{ClientID: []byte("win"), CleanStart: true}
	cp.Props.ReceiveMaximum = 2
	cp.Props.Set(packet.PropReceiveMaximum)
	c, _ := dial(t, addr, packet.V5, cp)
	subscribe(t, c, packet.Subscription{Filter: []byte("burst/#"), QoS: 1})
	next := 0
	for burst := range 4 {
		for range 10 {
			r.Publish(&router.Publisher{}, []byte("burst.x"), nil, nil, []byte{byte(next)})
			next++
		}
		for i := range 10 {
			m, ok := c.read().(*packet.Publish)
			want := byte(burst*10 + i)
			if !ok || m.Payload[0] != want {
				t.Fatalf("burst %d message %d: got %+v, want payload %d", burst, i, m, want)
			}
			c.send(&packet.Ack{PacketType: packet.PUBACK, PacketID: m.PacketID})
		}
	}
}

// What NATS headers claim is checked before it becomes a property: a
// Payload Format Indicator over bytes that are not UTF-8, or a Content
// Type with U+0000, is left out rather than sent to a client that would
// close on it.
func TestNATSHeadersThatMQTTCannotCarry(t *testing.T) {
	r := router.New()
	_, addr := startBroker(t, Options{Router: r})
	c, _ := dial(t, addr, packet.V5, packet.Connect{ClientID: []byte("strict"), CleanStart: true})
	subscribe(t, c, packet.Subscription{Filter: []byte("bin")})
	hdr := "NATS/1.0\r\nNmqtt-Payload-Format: 1\r\nContent-Type: a\x00b\r\n\r\n"
	r.Publish(&router.Publisher{}, []byte("bin"), nil, []byte(hdr), []byte{0xff, 0xfe})
	m := c.read().(*packet.Publish)
	if m.Props.Has(packet.PropPayloadFormat) || m.Props.Has(packet.PropContentType) {
		t.Fatalf("props %+v", m.Props)
	}
}
