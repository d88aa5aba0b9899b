package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/harness"
)

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := map[string]any{}
	if err := json.Unmarshal(body, &m); err != nil && resp.StatusCode == http.StatusOK {
		t.Fatalf("GET %s: %v", url, err)
	}
	m["_status"] = float64(resp.StatusCode)
	return m
}

func TestMonitoringEndpoints(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg, nats.Name("monitored"))
		sub, _ := nc.SubscribeSync("m.>")
		nc.Flush()
		for i := 0; i < 5; i++ {
			nc.Publish("m.x", []byte("12345"))
		}
		nc.Flush()
		for i := 0; i < 5; i++ {
			nextMsg(t, sub)
		}

		if h := getJSON(t, tg.MonitorURL+"/healthz"); h["status"] != "ok" || h["_status"] != float64(200) {
			t.Fatalf("healthz %v", h)
		}
		// nats-server adds a read's messages to the server's in_msgs after
		// the whole read buffer is parsed, which can be after the PONG that
		// ended nc.Flush() was written: the counters are read until they
		// show the five messages (or 5 s pass).
		var v map[string]any
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			v = getJSON(t, tg.MonitorURL+"/varz")
			if in, _ := v["in_msgs"].(float64); in >= 5 || time.Now().After(deadline) {
				break
			}
		}
		for _, k := range []string{"server_id", "server_name", "version", "proto", "go", "host", "port",
			"max_connections", "ping_interval", "ping_max", "http_host", "http_port", "auth_timeout",
			"max_control_line", "max_payload", "max_pending", "tls_timeout", "write_deadline", "start", "now",
			"uptime", "mem", "cores", "gomaxprocs", "cpu", "connections", "total_connections", "in_msgs",
			"out_msgs", "in_bytes", "out_bytes", "slow_consumers", "subscriptions", "http_req_stats"} {
			if _, ok := v[k]; !ok {
				t.Errorf("/varz lacks %q", k)
			}
		}
		if v["connections"] != float64(1) || v["in_msgs"].(float64) < 5 || v["out_msgs"].(float64) < 5 || v["in_bytes"].(float64) < 25 {
			t.Errorf("/varz counters: connections %v in_msgs %v out_msgs %v in_bytes %v",
				v["connections"], v["in_msgs"], v["out_msgs"], v["in_bytes"])
		}

		c := getJSON(t, tg.MonitorURL+"/connz?subs=1&sort=msgs_from")
		if c["num_connections"] != float64(1) || c["total"] != float64(1) {
			t.Fatalf("/connz counts: %v", c)
		}
		conn := c["connections"].([]any)[0].(map[string]any)
		for _, k := range []string{"cid", "ip", "port", "start", "last_activity", "uptime", "idle", "pending_bytes",
			"in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "name", "lang", "version", "subscriptions_list"} {
			if _, ok := conn[k]; !ok {
				t.Errorf("/connz connection lacks %q: %v", k, conn)
			}
		}
		if conn["name"] != "monitored" || conn["lang"] != "go" || conn["subscriptions"] != float64(1) || conn["in_msgs"] != float64(5) {
			t.Errorf("/connz connection values: %v", conn)
		}
		if subs := conn["subscriptions_list"].([]any); len(subs) != 1 || subs[0] != "m.>" {
			t.Errorf("subscriptions_list %v", subs)
		}
		if bad := getJSON(t, tg.MonitorURL+"/connz?sort=bogus"); bad["_status"] != float64(400) {
			t.Errorf("/connz?sort=bogus status %v", bad["_status"])
		}
		nc.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c = getJSON(t, tg.MonitorURL+"/connz?state=closed")
			if c["num_connections"] == float64(1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if conns := c["connections"].([]any); len(conns) != 1 || conns[0].(map[string]any)["reason"] != "Client Closed" {
			t.Errorf("closed connections: %v", c["connections"])
		}
	})
}
