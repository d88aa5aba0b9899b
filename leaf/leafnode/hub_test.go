package leafnode

import (
	"testing"

	"github.com/leafgate/leafgate/leaf/leafproto"
	"github.com/leafgate/leafgate/leaf/router"
)

const testHdr = "NATS/1.0\r\nk: v\r\n\r\n"

// TestHubInterest: the hub's LS+ become Remote router subscriptions that
// carry local publishes to the hub (one copy per publish, queue groups
// named), its LS- remove them, and none outlives the session.
func TestHubInterest(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, l := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.sync()
	base := r.Count()

	c.sendSub("foo", "", 0)
	c.sendSub("bar.*", "", 0)
	c.sendSub("work", "grp", 2)
	c.sendSub("multi.*", "", 0)
	c.sendSub("multi.x", "", 0)
	c.sendSub("work", "grp", 5) // a weight update, not a second subscription
	c.sendSub("$LDS.someoneelse", "", 0)
	c.sync()
	if got := r.Count() - base; got != 5 {
		t.Fatalf("hub subscriptions in the router: %d, want 5", got)
	}
	if got := l.Status().HubSubs; got != 5 {
		t.Errorf("Status().HubSubs = %d, want 5", got)
	}
	for _, s := range []string{"foo", "bar.x", "work", "multi.x"} {
		res := r.Match([]byte(s))
		n := 0
		for _, sub := range res.Plain {
			n++
			if !sub.Remote {
				t.Errorf("%s: hub interest is not a Remote subscription", s)
			}
		}
		for _, g := range res.Queues {
			for _, sub := range g.Members {
				n++
				if !sub.Remote || sub.Queue != "grp" {
					t.Errorf("%s: queue member %+v", s, sub)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no hub subscription in the router", s)
		}
	}

	steps := []struct {
		subj, reply string
		hdr         string
		payload     string
		want        string // "" when nothing may reach the hub
	}{
		{subj: "foo", payload: "1", want: "LMSG foo 1"},
		{subj: "bar.x", reply: "r.1", payload: "22", want: "LMSG bar.x r.1 2"},
		{subj: "work", payload: "333", want: "LMSG work | grp 3"},
		{subj: "work", reply: "r.2", payload: "4444", want: "LMSG work + r.2 grp 4"},
		{subj: "foo", hdr: testHdr, payload: "p", want: "HMSG foo 18 19"},
		{subj: "work", reply: "r.3", hdr: testHdr, payload: "p", want: "HMSG work + r.3 grp 18 19"},
		{subj: "multi.x", payload: "once", want: "LMSG multi.x 4"},
		{subj: "nobody", payload: "x"},
	}
	for _, st := range steps {
		var hdr []byte
		if st.hdr != "" {
			hdr = []byte(st.hdr)
		}
		publish(r, st.subj, st.reply, hdr, []byte(st.payload))
		if st.want != "" {
			op := c.next()
			if op.String() != st.want || string(op.Payload) != st.payload || string(op.Hdr) != st.hdr {
				t.Errorf("publish %s: hub got %q hdr %q payload %q, want %q", st.subj, op, op.Hdr, op.Payload, st.want)
			}
		}
		c.sync()
		c.expectNone()
	}

	// A local queue member is preferred over the hub's.
	inb := newInbox()
	subscribe(t, r, "work", "grp", inb)
	c.expect("LS+ work grp 1")
	publish(r, "work", "", nil, []byte("local"))
	inb.next(t)
	c.sync()
	c.expectNone()

	c.sendUnsub("foo", "")
	c.sendUnsub("work", "grp")
	c.sendUnsub("never.subscribed", "")
	c.sync()
	if got := r.Count() - base; got != 4 { // bar.*, multi.*, multi.x and the local queue member
		t.Errorf("router subscriptions after LS-: %d more than before, want 4", got)
	}
	publish(r, "foo", "", nil, []byte("x"))
	c.sync()
	c.expectNone()

	// The session ends: none of the hub's interest stays.
	c.close()
	waitDown(t, l, "closed by the hub")
	if got := r.Count() - base; got != 1 {
		t.Errorf("router subscriptions after the session: %d more than before, want 1 (the local one)", got)
	}
	if st := l.Status(); st.HubSubs != 0 {
		t.Errorf("Status().HubSubs = %d after the session", st.HubSubs)
	}
}

// TestHubHeadersOff: to a hub without headers, a message's headers are
// stripped and it goes as LMSG.
func TestHubHeadersOff(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, _ := startLink(t, r, hub, nil)
	info := hub.info()
	info.Headers = false
	a := answer()
	c, _ := hub.handshake(info, &a)
	c.expect("LS+ " + set.lds)
	c.sendSub("foo", "", 0)
	c.sync()
	publish(r, "foo", "", []byte(testHdr), []byte("payload"))
	op := c.next()
	if op.String() != "LMSG foo 7" || string(op.Payload) != "payload" {
		t.Errorf("got %q payload %q", op, op.Payload)
	}
}

// TestHubMaxPayload: a message over the hub's max_payload is dropped and
// counted; the link stays up.
func TestHubMaxPayload(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, l := startLink(t, r, hub, nil)
	info := hub.info()
	info.MaxPayload = 64
	a := answer()
	c, _ := hub.handshake(info, &a)
	c.expect("LS+ " + set.lds)
	c.sendSub("foo", "", 0)
	c.sync()

	publish(r, "foo", "", nil, make([]byte, 65))
	publish(r, "foo", "", []byte(testHdr), make([]byte, 64-len(testHdr)+1))
	c.sync()
	c.expectNone()
	if st := l.Status(); st.Dropped != 2 || !st.Connected {
		t.Errorf("Dropped = %d, connected %v; want 2, true", st.Dropped, st.Connected)
	}
	publish(r, "foo", "", nil, make([]byte, 64))
	publish(r, "foo", "", []byte(testHdr), make([]byte, 64-len(testHdr)))
	c.expect("LMSG foo 64", "HMSG foo 18 64")
	if st := l.Status(); st.Dropped != 2 || st.OutMsgs != 2 {
		t.Errorf("Dropped = %d, OutMsgs = %d; want 2, 2", st.Dropped, st.OutMsgs)
	}
}

// TestHubExportPermissions: what may not be sent to the hub (its export
// permissions, deny_exports, the JetStream denies) is dropped and counted,
// and the hub's interest that only such subjects could match is not kept.
func TestHubExportPermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    func(*Options)
		rem     func(*Remote)
		answer  func(*leafproto.Info)
		ignored []string // hub interest not kept
		kept    []string
		sent    []string // published subjects that reach the hub through ">"
		dropped []string // published subjects dropped
	}{
		{
			name:    "hub export deny",
			answer:  func(i *leafproto.Info) { i.Export = &leafproto.SubjectPermission{Deny: []string{"secret.>"}} },
			ignored: []string{"secret.x", "secret.*", "secret.>"},
			kept:    []string{"secret", "open.*"},
			sent:    []string{"open.x", "secret"},
			dropped: []string{"secret.x", "secret.y.z"},
		},
		{
			name:    "hub export allow",
			answer:  func(i *leafproto.Info) { i.Export = &leafproto.SubjectPermission{Allow: []string{"pub.>"}} },
			ignored: []string{"other.x"},
			kept:    []string{"pub.x"},
			sent:    []string{"pub.y"},
			dropped: []string{"other.y"},
		},
		{
			name:    "deny_exports, answer without permissions",
			rem:     func(r *Remote) { r.DenyExports = []string{"local.>"} },
			answer:  func(*leafproto.Info) {},
			ignored: []string{"local.x", "local.>"},
			kept:    []string{"remote.x"},
			sent:    []string{"remote.y"},
			dropped: []string{"local.y"},
		},
		{
			name: "deny_exports, answer with permissions",
			rem:  func(r *Remote) { r.DenyExports = []string{"local.>"} },
			answer: func(i *leafproto.Info) {
				i.Import = &leafproto.SubjectPermission{Allow: []string{">"}}
			},
			ignored: []string{"local.x"},
			sent:    []string{"remote.y"},
			dropped: []string{"local.y"},
		},
		{
			name:   "JetStream denies",
			opts:   func(o *Options) { o.Domain, o.JetStream = "edge", true },
			answer: func(*leafproto.Info) {},
			ignored: []string{"$JS.API.>", "$JS.API.STREAM.INFO.s", "$KV.b.k", "$OBJ.>",
				"$JS.edge.API.>"},
			kept:    []string{"$JS.hubdomain.API.>"},
			sent:    []string{"$JS.hubdomain.API.STREAM.INFO.s", "$JS.ACK.s.c.1.1.1.1.0"},
			dropped: []string{"$JS.API.INFO", "$KV.b.k", "$OBJ.b.c", "$JS.edge.API.INFO"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			r := router.New()
			rem := testRemote(hub.url())
			if tc.rem != nil {
				tc.rem(&rem)
			}
			opts := testOptions(r, rem)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			set := startSet(t, opts)
			l := set.Links()[0]
			a := answer()
			tc.answer(&a)
			c, _ := hub.handshake(hub.info(), &a)
			c.expect("LS+ " + set.lds)
			c.sync()
			base := r.Count()
			for _, s := range tc.ignored {
				c.sendSub(s, "", 0)
			}
			c.sync()
			if got := r.Count() - base; got != 0 {
				t.Errorf("%d of the ignored hub subscriptions %q were kept", got, tc.ignored)
			}
			for _, s := range tc.kept {
				c.sendSub(s, "", 0)
			}
			c.sync()
			if got := r.Count() - base; got != len(tc.kept) {
				t.Errorf("%d hub subscriptions kept, want %d (%q)", got, len(tc.kept), tc.kept)
			}
			c.sendSub(">", "", 0)
			c.sync()
			for _, s := range tc.sent {
				publish(r, s, "", nil, []byte("x"))
				c.expect("LMSG " + s + " 1")
			}
			for _, s := range tc.dropped {
				publish(r, s, "", nil, []byte("x"))
			}
			c.sync()
			c.expectNone()
			if st := l.Status(); st.Dropped != int64(len(tc.dropped)) || !st.Connected {
				t.Errorf("Dropped = %d, connected %v; want %d, true", st.Dropped, st.Connected, len(tc.dropped))
			}
		})
	}
}

// TestHubMaxSubs: hub interest over max_subscriptions is ignored and
// counted; the link stays up and takes interest again once under the cap.
func TestHubMaxSubs(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, l := startLink(t, r, hub, func(rem *Remote) { rem.MaxHubSubs = 2 })
	c := hub.up(set)
	c.sync()
	base := r.Count()
	c.sendSub("a", "", 0)
	c.sendSub("b", "q", 1)
	c.sendSub("c", "", 0)
	c.sendSub("d", "", 0)
	c.sync()
	st := l.Status()
	if got := r.Count() - base; got != 2 || st.HubSubs != 2 || st.HubSubsIgnored != 2 || !st.Connected {
		t.Fatalf("router +%d, HubSubs %d, HubSubsIgnored %d, connected %v; want 2, 2, 2, true",
			got, st.HubSubs, st.HubSubsIgnored, st.Connected)
	}
	publish(r, "c", "", nil, []byte("x"))
	c.sync()
	c.expectNone()
	c.sendUnsub("a", "")
	c.sendSub("c", "", 0)
	c.sync()
	publish(r, "c", "", nil, []byte("x"))
	c.expect("LMSG c 1")
	if st := l.Status(); st.HubSubs != 2 || st.HubSubsIgnored != 2 {
		t.Errorf("HubSubs %d, HubSubsIgnored %d; want 2, 2", st.HubSubs, st.HubSubsIgnored)
	}
}

// TestHubMessages: LMSG and HMSG from the hub reach local subscribers
// with reply and headers; a queue list gives a copy only to the named
// local groups; nothing goes back to the hub.
func TestHubMessages(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	plain, g1, g2 := newInbox(), newInbox(), newInbox()
	subscribe(t, r, "m.>", "", plain)
	subscribe(t, r, "m.q", "g1", g1)
	subscribe(t, r, "m.q", "g2", g2)
	set, l := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.expectSet("LS+ m.>", "LS+ m.q g1 1", "LS+ m.q g2 1")
	// The hub is interested in all of it too: still no echo.
	c.sendSub("m.>", "", 0)
	c.sendSub("m.q", "g1", 1)
	c.sync()

	type got struct{ plain, g1, g2 string }
	steps := []struct {
		name string
		send func()
		want got // delivery strings, "" for none
	}{
		{"LMSG with reply", func() { c.sendMsg("m.a", "r.1", nil, "hello") },
			got{plain: `m.a reply="r.1" hdr="" payload="hello"`}},
		{"HMSG", func() { c.sendHMsg("m.h", "r.2", nil, testHdr, "p") },
			got{plain: `m.h reply="r.2" hdr="NATS/1.0\r\nk: v\r\n\r\n" payload="p"`}},
		{"queue list g1", func() { c.sendMsg("m.q", "", []string{"g1"}, "q1") },
			got{plain: `m.q reply="" hdr="" payload="q1"`, g1: `m.q reply="" hdr="" payload="q1"`}},
		{"no queue list", func() { c.sendMsg("m.q", "", nil, "q0") },
			got{plain: `m.q reply="" hdr="" payload="q0"`}},
		{"queue list g1 g2 with reply", func() { c.sendMsg("m.q", "r.3", []string{"g1", "g2"}, "q12") },
			got{plain: `m.q reply="r.3" hdr="" payload="q12"`, g1: `m.q reply="r.3" hdr="" payload="q12"`,
				g2: `m.q reply="r.3" hdr="" payload="q12"`}},
		{"HMSG queue list g2", func() { c.sendHMsg("m.q", "", []string{"g2", "other"}, testHdr, "h") },
			got{plain: `m.q reply="" hdr="NATS/1.0\r\nk: v\r\n\r\n" payload="h"`,
				g2: `m.q reply="" hdr="NATS/1.0\r\nk: v\r\n\r\n" payload="h"`}},
		{"no local interest", func() { c.sendMsg("other", "", nil, "x") }, got{}},
	}
	for _, st := range steps {
		st.send()
		c.sync()
		for _, x := range []struct {
			name string
			b    *inbox
			want string
		}{{"plain", plain, st.want.plain}, {"g1", g1, st.want.g1}, {"g2", g2, st.want.g2}} {
			if x.want != "" {
				if d := x.b.next(t); d.String() != x.want {
					t.Errorf("%s: %s subscriber got %s, want %s", st.name, x.name, d, x.want)
				}
			}
			x.b.expectNone(t)
		}
		c.expectNone() // no echo to the hub
	}
	if st := l.Status(); st.InMsgs != int64(len(steps)) || st.InBytes != 5+19+2+2+3+19+1 {
		t.Errorf("InMsgs %d, InBytes %d", st.InMsgs, st.InBytes)
	}
}

// TestHubMessagesImportDenied: messages the link may not receive (hub
// import permissions, deny_imports, JetStream denies) do not reach local
// subscribers.
func TestHubMessagesImportDenied(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rem    func(*Remote)
		answer func(*leafproto.Info)
		denied []string
		passed []string
	}{
		{
			name:   "hub import deny",
			answer: func(i *leafproto.Info) { i.Import = &leafproto.SubjectPermission{Deny: []string{"secret.>"}} },
			denied: []string{"secret.x"},
			passed: []string{"open.x"},
		},
		{
			name:   "deny_imports",
			rem:    func(r *Remote) { r.DenyImports = []string{"private.*"} },
			answer: func(*leafproto.Info) {},
			denied: []string{"private.x"},
			passed: []string{"private.x.y", "public"},
		},
		{
			name:   "JetStream",
			answer: func(*leafproto.Info) {},
			denied: []string{"$JS.API.INFO", "$KV.b.k", "$OBJ.b.c"},
			passed: []string{"$JS.edge.API.INFO"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			r := router.New()
			inb := newInbox()
			subscribe(t, r, ">", "", inb)
			set, _ := startLink(t, r, hub, tc.rem)
			a := answer()
			tc.answer(&a)
			c, _ := hub.handshake(hub.info(), &a)
			c.expect("LS+ "+set.lds, "LS+ >")
			for _, s := range tc.denied {
				c.sendMsg(s, "", nil, "x")
			}
			for _, s := range tc.passed {
				c.sendMsg(s, "", nil, "x")
			}
			c.sync()
			for _, s := range tc.passed {
				if d := inb.next(t); d.subject != s {
					t.Errorf("got %s, want %s", d, s)
				}
			}
			inb.expectNone(t)
		})
	}
}

// TestHubJetStreamDelivery: a stored message JetStream delivers to a hub
// client's inbox (router.PublishAs: routed by the inbox, delivered under
// its own subject) goes to the inbox with its subject after the ack reply,
// "<ack>@<subject>", as nats-server carries it, so the hub's server hands
// the client the message's subject and the ack subject.
func TestHubJetStreamDelivery(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	set, _ := startLink(t, r, hub, nil)
	c := hub.up(set)
	c.sendSub("_INBOX.hub.*", "", 0)
	c.sync()
	ack := "$JS.ACK.S.c.1.5.5.1700000000000000000.0"
	r.PublishAs(&router.Publisher{}, []byte("_INBOX.hub.1"), []byte("orders.new"), []byte(ack), nil, []byte("m"))
	op := c.next()
	if op.Op != "LMSG" || op.Subject != "_INBOX.hub.1" || op.Reply != ack+"@orders.new" || string(op.Payload) != "m" {
		t.Fatalf("hub got %q reply %q payload %q", op, op.Reply, op.Payload)
	}
	// Without a reply (no ack) there is nothing to carry it in: nats-server
	// sends the inbox alone too.
	r.PublishAs(&router.Publisher{}, []byte("_INBOX.hub.2"), []byte("orders.new"), nil, nil, []byte("n"))
	if op := c.next(); op.Subject != "_INBOX.hub.2" || op.Reply != "" {
		t.Fatalf("hub got %q reply %q", op, op.Reply)
	}
	// A plain publish is untouched.
	publish(r, "_INBOX.hub.3", "r.1", nil, []byte("o"))
	if op := c.next(); op.Subject != "_INBOX.hub.3" || op.Reply != "r.1" {
		t.Fatalf("hub got %q reply %q", op, op.Reply)
	}
}

// TestHubPermissionsUpdate: an INFO with import/export after the link is
// up replaces the permissions, as nats-server applies them on a solicited
// link: local interest now allowed is advertised, interest no longer
// allowed withdrawn, hub interest nothing may reach dropped, and messages
// checked against the new permissions both ways.
func TestHubPermissionsUpdate(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t)
	r := router.New()
	inb := newInbox()
	subscribe(t, r, "a.x", "", inb)
	subscribe(t, r, "b.x", "", inb)
	subscribe(t, r, "c.x", "q", inb)
	set := startSet(t, testOptions(r, testRemote(hub.url())))
	l := set.Links()[0]
	a := answer()
	a.Import = &leafproto.SubjectPermission{Allow: []string{"a.>", "c.>"}}
	c, _ := hub.handshake(hub.info(), &a)
	c.expect("LS+ " + set.lds)
	c.expectSet("LS+ a.x", "LS+ c.x q 1")
	base := r.Count()
	c.sendSub("out.x", "", 0)
	c.sendSub("keep.x", "", 0)
	c.sync()
	if got := r.Count() - base; got != 2 {
		t.Fatalf("%d hub subscriptions, want 2", got)
	}
	c.sendMsg("a.x", "", nil, "before")
	if d := inb.next(t); d.subject != "a.x" {
		t.Fatalf("got %v, want a.x", d)
	}
	publish(r, "out.x", "", nil, []byte("1"))
	c.expect("LMSG out.x 1")

	// The hub narrows exports to keep.> and moves imports from a.> to b.>.
	c.sendInfo(leafproto.Info{
		Import: &leafproto.SubjectPermission{Allow: []string{"b.>", "c.>"}},
		Export: &leafproto.SubjectPermission{Allow: []string{"keep.>"}},
	})
	c.expectSet("LS- a.x", "LS+ b.x")
	c.sync()
	c.expectNone()
	if got := r.Count() - base; got != 1 {
		t.Errorf("%d hub subscriptions after the update, want 1 (out.x is unreachable now)", got)
	}
	publish(r, "out.x", "", nil, []byte("2"))
	publish(r, "keep.x", "", nil, []byte("3"))
	c.expect("LMSG keep.x 1")
	c.sendMsg("a.x", "", nil, "denied now")
	c.sendMsg("b.x", "", nil, "allowed now")
	if d := inb.next(t); d.subject != "b.x" {
		t.Errorf("got %v, want b.x (a.x is no longer imported)", d)
	}
	c.sync()
	c.expectNone()
	inb.expectNone(t)

	// Later interest follows the new permissions too.
	subscribe(t, r, "a.y", "", inb)
	subscribe(t, r, "b.y", "", inb)
	c.expect("LS+ b.y")
	c.sync()
	c.expectNone()
	if st := l.Status(); !st.Connected {
		t.Errorf("link down after a permissions update: %+v", st)
	}
}
