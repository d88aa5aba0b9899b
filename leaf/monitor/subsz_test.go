package monitor

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func (f *fakeSource) Subsz(o SubszOptions) (*Subsz, error) {
	f.lastSubsz = o
	sz := &Subsz{ID: "NID", SublistStats: &SublistStats{NumSubs: 3, NumInserts: 4, NumRemoves: 1}}
	if o.Subscriptions {
		for i := 1; i <= 3; i++ {
			sz.Subs = append(sz.Subs, SubDetail{Account: "$G", Subject: fmt.Sprintf("s.%d", i), Sid: fmt.Sprint(i), Cid: 1})
		}
	}
	return sz, nil
}

func TestSubsz(t *testing.T) {
	tests := []struct {
		url                  string
		code                 int
		total, offset, limit float64
		listed               int // -1: no subscriptions_list key
		test                 string
	}{
		{"/subsz", 200, 0, 0, 1024, -1, ""},
		{"/subscriptionsz", 200, 0, 0, 1024, -1, ""},
		{"/subsz?subs=1", 200, 3, 0, 1024, 3, ""},
		{"/subsz?subs=true&offset=1&limit=1", 200, 3, 1, 1, 1, ""},
		{"/subsz?subs=1&offset=5", 200, 3, 5, 1024, -1, ""},
		{"/subsz?subs=1&offset=-3&limit=0", 200, 3, 0, 1024, 3, ""},
		{"/subsz?subs=1&test=s.1", 200, 3, 0, 1024, 3, "s.1"},
		{"/subsz?subs=maybe", 400, 0, 0, 0, 0, ""},
		{"/subsz?limit=x", 400, 0, 0, 0, 0, ""},
		{"/subsz?test=s.*", 400, 0, 0, 0, 0, ""},
		{"/subsz?test=a..b", 400, 0, 0, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			src := &fakeSource{}
			h := NewHandler(src)
			if tc.code != 200 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", tc.url, nil))
				if rec.Code != tc.code {
					t.Fatalf("code %d, want %d: %s", rec.Code, tc.code, rec.Body)
				}
				return
			}
			_, m := get(t, h, tc.url)
			for _, k := range []string{"server_id", "now", "num_subscriptions", "num_cache", "num_inserts",
				"num_removes", "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout", "total", "offset", "limit"} {
				if _, ok := m[k]; !ok {
					t.Errorf("lacks %q", k)
				}
			}
			if m["total"] != tc.total || m["offset"] != tc.offset || m["limit"] != tc.limit {
				t.Errorf("total/offset/limit = %v/%v/%v, want %v/%v/%v", m["total"], m["offset"], m["limit"], tc.total, tc.offset, tc.limit)
			}
			list, ok := m["subscriptions_list"].([]any)
			if (tc.listed < 0) == ok || (ok && len(list) != tc.listed) {
				t.Errorf("subscriptions_list = %v, want %d entries", m["subscriptions_list"], tc.listed)
			}
			if src.lastSubsz.Test != tc.test {
				t.Errorf("test = %q, want %q", src.lastSubsz.Test, tc.test)
			}
			if strings.Contains(tc.url, "subs=") && !src.lastSubsz.Subscriptions {
				t.Error("Subscriptions not passed on")
			}
		})
	}
	h := NewHandler(&fakeSource{})
	get(t, h, "/subsz")
	get(t, h, "/subscriptionsz")
	if _, m := get(t, h, "/varz"); m["http_req_stats"].(map[string]any)["/subsz"] != float64(2) {
		t.Fatalf("http_req_stats %v, want /subsz 2", m["http_req_stats"])
	}
}
