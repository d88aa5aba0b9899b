package e2e

import (
	"errors"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// Core NATS across the leafnode link: leafgate joined to a nats-server hub,
// nats.go clients on both sides.

// A message published on either side reaches a subscriber on the other,
// once, with its reply subject.
func TestLeafPubSubBothWays(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	down := subSync(t, ec, "down.a")
	h.WaitInterest(t, leafWait, "down.a")
	if err := hc.PublishMsg(&nats.Msg{Subject: "down.a", Reply: "down.reply", Data: []byte("to the edge")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, down, "down.a", "to the edge"); m.Reply != "down.reply" {
		t.Fatalf("hub→edge reply subject %q, want down.reply", m.Reply)
	}

	up := subSync(t, hc, "up.a")
	e.waitHubInterest(t, "up.a", 1)
	if err := ec.PublishMsg(&nats.Msg{Subject: "up.a", Reply: "up.reply", Data: []byte("to the hub")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, up, "up.a", "to the hub"); m.Reply != "up.reply" {
		t.Fatalf("edge→hub reply subject %q, want up.reply", m.Reply)
	}

	// Once each: a second message arrives next, nothing after it.
	publish(t, hc, "down.a", "2")
	publish(t, ec, "up.a", "2")
	recv(t, down, "down.a", "2")
	recv(t, up, "up.a", "2")
	leafNone(t, down, up)
}

// Headers cross the link both ways (HMSG), repeated keys and order kept,
// and a message without headers arrives without them.
func TestLeafHeaders(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)
	down := subSync(t, ec, "hdr.down")
	up := subSync(t, hc, "hdr.up")
	h.WaitInterest(t, leafWait, "hdr.down")
	e.waitHubInterest(t, "hdr.up", 1)

	for _, c := range []struct {
		name     string
		pub      *nats.Conn
		sub      *nats.Subscription
		subj     string
		withHdrs bool
	}{
		{"hub→edge", hc, down, "hdr.down", true},
		{"edge→hub", ec, up, "hdr.up", true},
		{"hub→edge plain", hc, down, "hdr.down", false},
		{"edge→hub plain", ec, up, "hdr.up", false},
	} {
		m := nats.NewMsg(c.subj)
		m.Data = []byte("payload " + c.name)
		if c.withHdrs {
			m.Header.Add("X-One", "1")
			m.Header.Add("X-Multi", "a")
			m.Header.Add("X-Multi", "b")
		}
		if err := c.pub.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		got := recv(t, c.sub, c.subj, "payload "+c.name)
		if !c.withHdrs {
			if len(got.Header) != 0 {
				t.Errorf("%s: headers %v on a message sent without", c.name, got.Header)
			}
			continue
		}
		if got.Header.Get("X-One") != "1" || !slices.Equal(got.Header.Values("X-Multi"), []string{"a", "b"}) {
			t.Errorf("%s: headers %v, want X-One: 1 and X-Multi: a, b", c.name, got.Header)
		}
	}
}

// Request/reply both ways: a responder on one side answers a requester on
// the other (its _INBOX interest crosses the link just before the
// request), and a request with nobody listening anywhere gets the
// no-responders status at once.
func TestLeafRequestReply(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	if _, err := ec.Subscribe("svc.edge", func(m *nats.Msg) { _ = m.Respond(append([]byte("edge says "), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Subscribe("svc.hub", func(m *nats.Msg) { _ = m.Respond(append([]byte("hub says "), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)
	flush(t, hc)
	h.WaitInterest(t, leafWait, "svc.edge")
	e.waitHubInterest(t, "svc.hub", 1)

	for i := range 3 {
		r, err := hc.Request("svc.edge", []byte("hi"), leafWait)
		if err != nil || string(r.Data) != "edge says hi" {
			t.Fatalf("hub→edge request %d: %v %q", i, err, msgData(r))
		}
		r, err = ec.Request("svc.hub", []byte("ho"), leafWait)
		if err != nil || string(r.Data) != "hub says ho" {
			t.Fatalf("edge→hub request %d: %v %q", i, err, msgData(r))
		}
	}
	if _, err := ec.Request("svc.nobody", nil, leafWait); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("edge request with no responder anywhere: %v, want no responders", err)
	}
	if _, err := hc.Request("svc.nobody", nil, leafWait); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("hub request with no responder anywhere: %v, want no responders", err)
	}
}

// Wildcard interest crosses the link as it is (the hub matches it, and
// leafgate matches the hub's), and only matching subjects are delivered.
func TestLeafWildcards(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	star := subSync(t, ec, "w.*.t")
	full := subSync(t, ec, "w.>")
	h.WaitInterest(t, leafWait, "w.*.t", "w.>")
	for _, s := range []string{"w.a.t", "w.b.c", "x.a.t", "w.a.t.u"} {
		publish(t, hc, s, s)
	}
	recv(t, star, "w.a.t", "w.a.t")
	for _, s := range []string{"w.a.t", "w.b.c", "w.a.t.u"} {
		recv(t, full, s, s)
	}

	hstar := subSync(t, hc, "hw.*")
	e.waitHubInterest(t, "hw.x", 1)
	for _, s := range []string{"hw.x.y", "hw.x", "other"} {
		publish(t, ec, s, s)
	}
	recv(t, hstar, "hw.x", "hw.x")
	publish(t, hc, "w.end", "end")
	recv(t, full, "w.end", "end")
	leafNone(t, star, full, hstar)
}

// An unsubscribe at the edge withdraws the interest at the hub: the hub's
// request first reaches the edge responder, then, once the subscription
// is gone, finds no responders (the hub holds no interest for it).
func TestLeafUnsubscribeWithdrawsInterest(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	sub, err := ec.Subscribe("gone.x", func(m *nats.Msg) { _ = m.Respond([]byte("here")) })
	if err != nil {
		t.Fatal(err)
	}
	// A second subscription on the same subject: the interest stays while
	// either is there (leafgate advertises a subject once).
	other := subSync(t, ec, "gone.x")
	h.WaitInterest(t, leafWait, "gone.x")
	if r, err := hc.Request("gone.x", nil, leafWait); err != nil || string(r.Data) != "here" {
		t.Fatalf("request before unsubscribe: %v %q", err, msgData(r))
	}
	if err := other.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)
	if r, err := hc.Request("gone.x", nil, leafWait); err != nil || string(r.Data) != "here" {
		t.Fatalf("request with one of two subscriptions left: %v %q", err, msgData(r))
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)
	h.WaitNoInterest(t, leafWait, "gone.x")
	if _, err := hc.Request("gone.x", nil, leafWait); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("hub request after the edge unsubscribed: %v, want no responders", err)
	}

	// The same for the hub's interest at the edge.
	hsub, err := hc.Subscribe("hgone.x", func(m *nats.Msg) { _ = m.Respond([]byte("hub here")) })
	if err != nil {
		t.Fatal(err)
	}
	flush(t, hc)
	e.waitHubInterest(t, "hgone.x", 1)
	if r, err := ec.Request("hgone.x", nil, leafWait); err != nil || string(r.Data) != "hub here" {
		t.Fatalf("edge request before the hub unsubscribed: %v %q", err, msgData(r))
	}
	if err := hsub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, hc)
	hub.Until(t, leafWait, func() string {
		if n := len(e.edgeSubs(t, "hgone.x")); n != 0 {
			return "leafgate still holds the hub's interest in hgone.x"
		}
		return ""
	})
	if _, err := ec.Request("hgone.x", nil, leafWait); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("edge request after the hub unsubscribed: %v, want no responders", err)
	}
}

// A message on a subject both sides subscribe to arrives once on each
// side, whichever side publishes: the link never sends a message back
// where it came from.
func TestLeafNoEcho(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, "")
	hc, ec := h.Connect(t), e.connect(t)

	hs := subSync(t, hc, "both.>")
	es := subSync(t, ec, "both.>")
	h.WaitInterest(t, leafWait, "both.>")
	e.waitHubInterest(t, "both.x", 1)

	for _, from := range []struct {
		name string
		nc   *nats.Conn
	}{{"hub", hc}, {"edge", ec}} {
		publish(t, from.nc, "both.x", "from "+from.name)
		recv(t, hs, "both.x", "from "+from.name)
		recv(t, es, "both.x", "from "+from.name)
		// A marker from each side after it: a looped copy of the message
		// would have been queued on the link before the marker.
		publish(t, hc, "both.end", "hub end "+from.name)
		publish(t, ec, "both.end", "edge end "+from.name)
		for _, s := range []*nats.Subscription{hs, es} {
			got := map[string]bool{}
			for range 2 {
				m, err := s.NextMsg(leafWait)
				if err != nil {
					t.Fatalf("%s message: waiting for the markers: %v", from.name, err)
				}
				if m.Subject != "both.end" {
					t.Fatalf("%s message: after the message, got %s %q before the markers: a copy came back", from.name, m.Subject, m.Data)
				}
				got[string(m.Data)] = true
			}
			if len(got) != 2 {
				t.Fatalf("%s message: markers %v, want one from each side", from.name, got)
			}
		}
		leafNone(t, hs, es)
	}
	if st := h.Leafs(); len(st) != 1 {
		t.Fatalf("hub lists %d leafnode connections, want 1", len(st))
	}
}
