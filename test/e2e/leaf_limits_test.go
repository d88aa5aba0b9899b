package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// A hub advertises its whole account's interest to every leaf. With the
// remote's max_subscriptions at 100 and 500 subscriptions at the hub,
// leafgate keeps 100, logs once that it hit the cap, and the link stays
// up: the edge's own interest still reaches the hub, and the hub's kept
// interest still gets the edge's messages.
func TestLeafMaxSubscriptions(t *testing.T) {
	h := hub.Start(t, hub.Options{})
	hc := h.Connect(t)
	for i := range 500 {
		if _, err := hc.SubscribeSync(fmt.Sprintf("many.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, hc)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{h.LeafURL}, extra: "max_subscriptions: 100"}}})
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	id := h.Leafs()[0].ID
	e.waitLog(t, `hub interest over max_subscriptions`, 1, leafWait)

	// What leafgate holds of the hub's interest: 100 many.* at most.
	sz := getJSON(t, e.MonitorURL+"/subsz?subs=1&limit=100000")
	list, _ := sz["subscriptions_list"].([]any)
	var kept []string
	for _, x := range list {
		d, _ := x.(map[string]any)
		if s, _ := d["subject"].(string); strings.HasPrefix(s, "many.") {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 || len(kept) > 100 {
		t.Fatalf("leafgate holds %d of the hub's 500 subscriptions, want 1..100", len(kept))
	}
	t.Logf("leafgate keeps %d of the hub's 500 subscriptions", len(kept))

	// The link works: a kept subject reaches the hub, the edge's interest
	// reaches the hub.
	ec := e.connect(t)
	got := subSync(t, hc, kept[0])
	publish(t, ec, kept[0], "kept")
	recv(t, got, kept[0], "kept")
	down := subSync(t, ec, "edge.own")
	h.WaitInterest(t, leafWait, "edge.own")
	publish(t, hc, "edge.own", "down")
	recv(t, down, "edge.own", "down")

	lz := e.leafz(t)
	if lz.NumLeafs != 1 || lz.Leafs[0].NumSubs > 100 || lz.Remotes[0].HubSubsIgnored < 400 {
		t.Errorf("/leafz: %d links, %d hub subscriptions held, %d ignored; want 1, at most 100, at least 400",
			lz.NumLeafs, firstSubs(lz), lz.Remotes[0].HubSubsIgnored)
	}

	// One warning, not one per ignored subscription; the link never went
	// down and the hub kept the same connection.
	if n := e.logCount(`hub interest over max_subscriptions`); n != 1 {
		t.Errorf("the cap was logged %d times, want once", n)
	}
	l := h.Leafs()
	if len(l) != 1 || l[0].ID != id || e.logCount(`msg="leafnode link down"`) != 0 {
		t.Fatalf("the link did not stay up: hub connections %d, link-down lines %d", len(l), e.logCount(`msg="leafnode link down"`))
	}
}

func firstSubs(lz edgeLeafz) uint32 {
	if len(lz.Leafs) == 0 {
		return 0
	}
	return lz.Leafs[0].NumSubs
}
