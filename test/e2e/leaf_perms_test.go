package e2e

import (
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// Permissions on the link: the hub's, for the user leafgate connects as
// (nats-server sends them in the INFO answering CONNECT as import and
// export), and leafgate's own deny_imports/deny_exports. A subject the
// hub forbids is neither advertised nor sent: sending it would make the
// hub cut the link with a permissions violation.

// linkKept checks that the hub still has the one leafnode connection it
// had (id), that leafgate did not see the link go down, and that neither
// side logged a permissions violation.
func linkKept(t *testing.T, h *hub.Hub, e *edge, id uint64) {
	t.Helper()
	l := h.Leafs()
	if len(l) != 1 || l[0].ID != id {
		t.Fatalf("the hub's leafnode connection changed: %d connections (was id %d)", len(l), id)
	}
	if n := e.logCount(`msg="leafnode link down"`); n != 0 {
		t.Fatalf("leafgate's link went down %d times", n)
	}
	if strings.Contains(h.Log(), "Violation") {
		t.Fatalf("the hub logged a violation:\n%s", grepLines(h.Log(), "Violation"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The hub's permissions for leafgate's user: it may publish (export) on
// up.> and _INBOX.> (replies) but not up.secret, and receive (import) on
// down.> and _INBOX.> but not down.secret.
func TestLeafHubPermissions(t *testing.T) {
	leafUser := &natsserver.User{Username: "edge", Password: "edge-pw", Permissions: &natsserver.Permissions{
		Publish:   &natsserver.SubjectPermission{Allow: []string{"up.>", "_INBOX.>"}, Deny: []string{"up.secret"}},
		Subscribe: &natsserver.SubjectPermission{Allow: []string{"down.>", "_INBOX.>"}, Deny: []string{"down.secret"}},
	}}
	ho := hub.Options{
		Users:      []*natsserver.User{leafUser, {Username: "app", Password: "app-pw"}},
		NoAuthUser: "app",
	}
	h := hub.Start(t, ho)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{withUser(h.LeafURL, "edge:edge-pw")}}}})
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	id := h.Leafs()[0].ID
	hc, ec := h.Connect(t), e.connect(t)

	// Import: interest the hub forbids is not advertised. A literal
	// subject outside the import permissions would cut the link.
	ok := subSync(t, ec, "down.ok")
	secret := subSync(t, ec, "down.secret")
	outside := subSync(t, ec, "elsewhere.x")
	wild := subSync(t, ec, "down.*")
	h.WaitInterest(t, leafWait, "down.ok", "down.*")
	if got := h.LeafSubjects(); contains(got, "down.secret") || contains(got, "elsewhere.x") {
		t.Fatalf("leafgate advertised interest the hub forbids: %q", got)
	}
	publish(t, hc, "down.secret", "forbidden")
	publish(t, hc, "elsewhere.x", "forbidden")
	publish(t, hc, "down.ok", "allowed")
	recv(t, ok, "down.ok", "allowed")
	recv(t, wild, "down.ok", "allowed")
	leafNone(t, secret, outside, wild)

	// Export: the hub advertises only what leafgate may send; a wildcard
	// that covers a denied subject reaches leafgate, which must still not
	// send the denied subject.
	upAll := subSync(t, hc, "up.*")
	upSecret := subSync(t, hc, "up.secret")
	e.waitHubInterest(t, "up.ok", 1)
	publish(t, ec, "up.secret", "forbidden")
	publish(t, ec, "elsewhere.y", "forbidden")
	publish(t, ec, "up.ok", "allowed")
	recv(t, upAll, "up.ok", "allowed")
	leafNone(t, upAll, upSecret)

	// Request/reply within the permissions still works both ways.
	if _, err := ec.Subscribe("down.svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	flush(t, ec)
	h.WaitInterest(t, leafWait, "down.svc")
	if r, err := hc.Request("down.svc", nil, leafWait); err != nil || string(r.Data) != "ok" {
		t.Fatalf("hub→edge request within the permissions: %v", err)
	}
	if _, err := hc.Subscribe("up.svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	flush(t, hc)
	e.waitHubInterest(t, "up.svc", 2) // up.* and up.svc
	if r, err := ec.Request("up.svc", nil, leafWait); err != nil || string(r.Data) != "ok" {
		t.Fatalf("edge→hub request within the permissions: %v", err)
	}
	linkKept(t, h, e, id)
}

// leafgate's deny_imports and deny_exports: denied interest is not
// advertised and denied messages do not arrive, in either direction,
// also through wildcards; the rest flows.
func TestLeafDenyImportsExports(t *testing.T) {
	h, e := startLinked(t, hub.Options{}, edgeOpts{}, `deny_imports: ["noimp.>"]
deny_exports: ["noexp.>"]`)
	id := h.Leafs()[0].ID
	hc, ec := h.Connect(t), e.connect(t)

	imp := subSync(t, ec, "noimp.x")
	all := subSync(t, ec, ">")
	okDown := subSync(t, ec, "ok.down")
	h.WaitInterest(t, leafWait, "ok.down", ">")
	if got := h.LeafSubjects(); contains(got, "noimp.x") {
		t.Fatalf("leafgate advertised denied interest noimp.x: %q", got)
	}
	publish(t, hc, "noimp.x", "denied")
	publish(t, hc, "ok.down", "allowed")
	recv(t, okDown, "ok.down", "allowed")
	recv(t, all, "ok.down", "allowed") // not noimp.x first
	leafNone(t, imp, all)

	exp := subSync(t, hc, "noexp.x")
	expWild := subSync(t, hc, "noexp.*")
	okUp := subSync(t, hc, "ok.up")
	e.waitHubInterest(t, "ok.up", 1)
	publish(t, ec, "noexp.x", "denied")
	publish(t, ec, "ok.up", "allowed")
	recv(t, okUp, "ok.up", "allowed")
	leafNone(t, exp, expWild)
	if n := len(e.edgeSubs(t, "noexp.x")); n != 0 {
		t.Errorf("leafgate keeps %d hub subscriptions on noexp.x that it may never send to", n)
	}
	linkKept(t, h, e, id)
}
