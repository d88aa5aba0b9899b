package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// keys lists m's keys, sorted.
func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		if k != "_status" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// missing lists the keys of want that got lacks.
func missing(want, got map[string]any) []string {
	var out []string
	for _, k := range keys(want) {
		if _, ok := got[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// dig follows a path of map keys and slice indexes ("0") through JSON.
func dig(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestJszMatchesNATSServer compares /jsz, with and without detail, and
// /varz's jetstream block with nats-server's, for one stream with one
// durable consumer in the default account.
func TestJszMatchesNATSServer(t *testing.T) {
	got := map[string]map[string]any{} // target -> detailed /jsz
	varz := map[string]map[string]any{}
	plain := map[string]map[string]any{}
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := js.Publish(ctx, "s.x", []byte("hello")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "C"}); err != nil {
			t.Fatal(err)
		}
		plain[tg.Name] = getJSON(t, tg.MonitorURL+"/jsz")
		m := getJSON(t, tg.MonitorURL+"/jsz?accounts=1&streams=1&consumers=1&config=1")
		got[tg.Name] = m
		varz[tg.Name] = obj(getJSON(t, tg.MonitorURL+"/varz")["jetstream"])
		for path, want := range map[string]any{
			"streams": 1.0, "consumers": 1.0, "messages": 3.0, "accounts": 1.0, "total": 1.0,
			"account_details.0.name":                                                  "$G",
			"account_details.0.id":                                                    "$G",
			"account_details.0.stream_detail.0.name":                                  "S",
			"account_details.0.stream_detail.0.state.messages":                        3.0,
			"account_details.0.stream_detail.0.config.name":                           "S",
			"account_details.0.stream_detail.0.consumer_detail.0.name":                "C",
			"account_details.0.stream_detail.0.consumer_detail.0.config.durable_name": "C",
		} {
			if g := dig(m, path); g != want {
				t.Errorf("/jsz %s = %v, want %v", path, g, want)
			}
		}
		if n, _ := dig(m, "api.total").(float64); n < 2 {
			t.Errorf("/jsz api.total = %v, want >= 2", dig(m, "api.total"))
		}
		if _, ok := plain[tg.Name]["account_details"]; ok {
			t.Errorf("plain /jsz lists account_details")
		}
		if a := getJSON(t, tg.MonitorURL+"/jsz?acc=$G&streams=1"); dig(a, "account_details.0.stream_detail.0.consumer_detail") != nil ||
			dig(a, "account_details.0.stream_detail.0.name") != "S" || dig(a, "account_details.0.stream_detail.0.config") != nil {
			t.Errorf("/jsz?acc=$G&streams=1: %v", a["account_details"])
		}
		if a := getJSON(t, tg.MonitorURL+"/jsz?accounts=1&offset=1"); a["account_details"] != nil {
			t.Errorf("/jsz?accounts=1&offset=1 lists %v", a["account_details"])
		}
		if n, _ := dig(varz[tg.Name], "stats.api.total").(float64); n < 2 || dig(varz[tg.Name], "stats.accounts") != 1.0 {
			t.Errorf("/varz jetstream stats %v", varz[tg.Name]["stats"])
		}
	})
	ref, lg := got["nats-server"], got["leafgate"]
	if ref == nil || lg == nil {
		return
	}
	for _, c := range []struct {
		name string
		want map[string]any
		have map[string]any
	}{
		{"/jsz", plain["nats-server"], plain["leafgate"]},
		{"/jsz detailed", ref, lg},
		{"/jsz config", obj(ref["config"]), obj(lg["config"])},
		{"/jsz api", obj(ref["api"]), obj(lg["api"])},
		{"account_details[0]", obj(dig(ref, "account_details.0")), obj(dig(lg, "account_details.0"))},
		{"stream_detail[0]", obj(dig(ref, "account_details.0.stream_detail.0")), obj(dig(lg, "account_details.0.stream_detail.0"))},
		{"stream_detail[0].state", obj(dig(ref, "account_details.0.stream_detail.0.state")), obj(dig(lg, "account_details.0.stream_detail.0.state"))},
		{"consumer_detail[0]", obj(dig(ref, "account_details.0.stream_detail.0.consumer_detail.0")), obj(dig(lg, "account_details.0.stream_detail.0.consumer_detail.0"))},
		{"/varz jetstream", varz["nats-server"], varz["leafgate"]},
		{"/varz jetstream stats", obj(varz["nats-server"]["stats"]), obj(varz["leafgate"]["stats"])},
	} {
		if m := missing(c.want, c.have); len(m) > 0 && !knownGaps(m) {
			t.Errorf("%s: leafgate lacks %v (nats-server has %v)", c.name, m, keys(c.want))
		}
	}
}

// knownGaps reports whether every missing key is one leafgate leaves out
// on purpose: meta (clustering), sync_interval (every commit is synced:
// sync_always) and strict (requests are not parsed strictly).
func knownGaps(keys []string) bool {
	for _, k := range keys {
		switch k {
		case "meta", "sync_interval", "strict":
		default:
			return false
		}
	}
	return true
}

// TestJszDisabled checks /jsz and /varz with JetStream off on both servers.
func TestJszDisabled(t *testing.T) {
	got := map[string]map[string]any{}
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		m := getJSON(t, tg.MonitorURL+"/jsz")
		got[tg.Name] = m
		if m["disabled"] != true || m["server_id"] == nil || m["streams"] != 0.0 || m["_status"] != 200.0 {
			t.Errorf("/jsz with JetStream off: %v", m)
		}
		if js := obj(getJSON(t, tg.MonitorURL+"/varz")["jetstream"]); len(js) != 0 {
			t.Errorf("/varz jetstream with JetStream off = %v, want {}", js)
		}
	})
	if ref, lg := got["nats-server"], got["leafgate"]; ref != nil && lg != nil {
		if fmt.Sprint(keys(ref)) != fmt.Sprint(keys(lg)) {
			t.Errorf("/jsz disabled keys: leafgate %v, nats-server %v", keys(lg), keys(ref))
		}
	}
}
