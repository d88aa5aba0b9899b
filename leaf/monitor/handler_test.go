package monitor

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fakeSource struct {
	conns     []*ConnInfo
	health    error
	lastOpt   ConnzOptions
	lastSubsz SubszOptions
}

func (f *fakeSource) Varz() *Varz {
	return &Varz{ID: "NID", Name: "n", Version: "2.11.0", Connections: len(f.conns)}
}
func (f *fakeSource) Connz(o ConnzOptions) (*Connz, error) {
	f.lastOpt = o
	cp := append([]*ConnInfo(nil), f.conns...)
	return &Connz{ID: "NID", Now: time.Now(), Conns: cp}, nil
}
func (f *fakeSource) Healthz() error { return f.health }

func get(t *testing.T, h http.Handler, url string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	var m map[string]any
	if rec.Code != http.StatusNotFound {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil && url != "/" {
			t.Fatalf("%s: body not JSON: %v: %s", url, err, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); url != "/" && ct != "application/json" {
			t.Fatalf("%s: content type %q", url, ct)
		}
	}
	return rec.Code, m
}

func TestVarzFieldNames(t *testing.T) {
	h := NewHandler(&fakeSource{})
	code, m := get(t, h, "/varz")
	if code != 200 {
		t.Fatalf("code %d", code)
	}
	for _, k := range []string{"server_id", "server_name", "version", "proto", "go", "host", "port",
		"max_connections", "ping_interval", "ping_max", "http_host", "http_port", "auth_timeout",
		"max_control_line", "max_payload", "max_pending", "tls_timeout", "write_deadline", "start",
		"now", "uptime", "mem", "cores", "gomaxprocs", "cpu", "connections", "total_connections",
		"in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers", "subscriptions", "http_req_stats"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/varz lacks %q", k)
		}
	}
	_, m = get(t, h, "/varz")
	if n := m["http_req_stats"].(map[string]any)["/varz"]; n != float64(2) {
		t.Errorf("http_req_stats /varz = %v, want 2", n)
	}
}

func TestHealthz(t *testing.T) {
	src := &fakeSource{}
	h := NewHandler(src)
	if code, m := get(t, h, "/healthz"); code != 200 || m["status"] != "ok" {
		t.Fatalf("healthy: %d %v", code, m)
	}
	src.health = errors.New("shutting down")
	code, m := get(t, h, "/healthz")
	if code != 503 || m["status"] != "unavailable" || m["error"] != "shutting down" || m["status_code"] != float64(503) {
		t.Fatalf("unhealthy: %d %v", code, m)
	}
}

func TestConnzSortPageAndParams(t *testing.T) {
	now := time.Now()
	src := &fakeSource{}
	for i := 1; i <= 5; i++ {
		src.conns = append(src.conns, &ConnInfo{Cid: uint64(i), Start: now, OutMsgs: int64(i * 10), NumSubs: uint32(6 - i)})
	}
	h := NewHandler(src)
	code, m := get(t, h, "/connz?sort=msgs_to&limit=2&offset=1&subs=1&auth=true")
	if code != 200 {
		t.Fatalf("code %d: %v", code, m)
	}
	if m["total"] != float64(5) || m["num_connections"] != float64(2) || m["limit"] != float64(2) || m["offset"] != float64(1) {
		t.Fatalf("paging fields: %v", m)
	}
	conns := m["connections"].([]any)
	if c0 := conns[0].(map[string]any); c0["cid"] != float64(4) || c0["out_msgs"] != float64(40) {
		t.Fatalf("sort by msgs_to desc, offset 1: first = %v", c0)
	}
	for _, k := range []string{"cid", "ip", "port", "start", "last_activity", "uptime", "idle", "pending_bytes",
		"in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions"} {
		if _, ok := conns[0].(map[string]any)[k]; !ok {
			t.Errorf("connection lacks %q", k)
		}
	}
	if !src.lastOpt.Subscriptions || !src.lastOpt.Username {
		t.Errorf("subs/auth not passed to source: %+v", src.lastOpt)
	}
	for _, bad := range []string{"/connz?sort=nope", "/connz?limit=x", "/connz?offset=-1", "/connz?state=weird", "/connz?subs=maybe", "/connz?sort=stop"} {
		if code, m := get(t, h, bad); code != 400 || m["error"] == nil {
			t.Errorf("%s: code %d body %v, want 400 with error", bad, code, m)
		}
	}
	if code, _ := get(t, h, "/connz?state=closed&sort=stop"); code != 200 {
		t.Errorf("closed+sort=stop: %d", code)
	}
	if code, _ := get(t, h, "/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

func TestFormatUptime(t *testing.T) {
	tests := map[time.Duration]string{
		5 * time.Second:                "5s",
		65 * time.Second:               "1m5s",
		time.Hour + 2*time.Minute:      "1h2m0s",
		50*time.Hour + time.Second:     "2d2h0m1s",
		366*24*time.Hour + 3*time.Hour: "1y1d3h0m0s",
	}
	for d, want := range tests {
		if got := FormatUptime(d); got != want {
			t.Errorf("FormatUptime(%v) = %q, want %q", d, got, want)
		}
	}
}
