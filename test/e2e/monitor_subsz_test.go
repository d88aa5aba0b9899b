package e2e

import (
	"testing"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// TestSubszMatchesNATSServer checks /subsz's fields and ?subs, ?test,
// ?offset, ?limit on both servers, and that http_req_stats counts
// /subscriptionsz under /subsz and leaves 404s out.
func TestSubszMatchesNATSServer(t *testing.T) {
	shape := map[string]map[string]any{}
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		for _, s := range []string{"sz.a", "sz.*", "sz.b"} {
			if _, err := nc.SubscribeSync(s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := nc.QueueSubscribeSync("sz.a", "q"); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		m := getJSON(t, tg.MonitorURL+"/subsz")
		shape[tg.Name] = m
		if m["subscriptions_list"] != nil || m["total"] != 0.0 || m["limit"] != 1024.0 {
			t.Errorf("/subsz: %v", m)
		}
		if n, _ := m["num_subscriptions"].(float64); n < 4 {
			t.Errorf("num_subscriptions %v, want >= 4", m["num_subscriptions"])
		}
		m = getJSON(t, tg.MonitorURL+"/subsz?subs=1&test=sz.a")
		list, _ := m["subscriptions_list"].([]any)
		if m["total"] != 3.0 || len(list) != 3 {
			t.Fatalf("/subsz?subs=1&test=sz.a: total %v, %d listed: %v", m["total"], len(list), list)
		}
		queues := 0
		for _, e := range list {
			d := obj(e)
			if d["account"] != "$G" || d["cid"] == nil || d["sid"] == nil || d["msgs"] != 0.0 {
				t.Errorf("detail %v", d)
			}
			if d["qgroup"] == "q" {
				queues++
			}
		}
		if queues != 1 {
			t.Errorf("%d queue subscriptions listed, want 1", queues)
		}
		m = getJSON(t, tg.MonitorURL+"/subscriptionsz?subs=1&test=sz.a&offset=1&limit=1")
		if list, _ := m["subscriptions_list"].([]any); m["total"] != 3.0 || len(list) != 1 || m["offset"] != 1.0 || m["limit"] != 1.0 {
			t.Errorf("paged: %v", m)
		}
		if m := getJSON(t, tg.MonitorURL+"/subsz?test=sz.*"); m["_status"] != 400.0 {
			t.Errorf("wildcard test subject: status %v", m["_status"])
		}
		if m := getJSON(t, tg.MonitorURL+"/subsz?subs=maybe"); m["_status"] != 400.0 {
			t.Errorf("bad subs: status %v", m["_status"])
		}
		getJSON(t, tg.MonitorURL+"/no-such-endpoint")
		stats := obj(getJSON(t, tg.MonitorURL+"/varz")["http_req_stats"])
		if stats["/subsz"] != 5.0 || stats["/"] != nil || stats["/no-such-endpoint"] != nil {
			t.Errorf("http_req_stats %v, want /subsz 5 and no / or 404 keys", stats)
		}
	})
	if ref, lg := shape["nats-server"], shape["leafgate"]; ref != nil && lg != nil {
		if m := missing(ref, lg); len(m) > 0 {
			t.Errorf("/subsz: leafgate lacks %v", m)
		}
	}
}
