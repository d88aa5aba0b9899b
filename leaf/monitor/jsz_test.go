package monitor

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

type jszSource struct {
	fakeSource
	last JszOptions
}

func (j *jszSource) Jsz(o JszOptions) (*JSInfo, error) {
	j.last = o
	return &JSInfo{ID: "NID", Disabled: true}, nil
}

func TestParseJszQuery(t *testing.T) {
	tests := []struct {
		query string
		want  JszOptions
		bad   bool
	}{
		{"", JszOptions{Limit: 1024}, false},
		{"accounts=1", JszOptions{Accounts: true, Limit: 1024}, false},
		{"streams=true", JszOptions{Accounts: true, Streams: true, Limit: 1024}, false},
		{"consumers=1", JszOptions{Accounts: true, Streams: true, Consumers: true, Limit: 1024}, false},
		{"acc=$G&consumers=1&config=1", JszOptions{Account: "$G", Streams: true, Consumers: true, Config: true, Limit: 1024}, false},
		{"accounts=1&offset=-4&limit=0", JszOptions{Accounts: true, Limit: 1024}, false},
		{"accounts=1&offset=2&limit=5", JszOptions{Accounts: true, Offset: 2, Limit: 5}, false},
		{"accounts=yes", JszOptions{}, true},
		{"config=2", JszOptions{}, true},
		{"offset=x", JszOptions{}, true},
		{"limit=1.5", JszOptions{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			got, err := parseJszQuery(q)
			if (err != nil) != tc.bad {
				t.Fatalf("err %v, want bad=%v", err, tc.bad)
			}
			if !tc.bad && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestJszHandler(t *testing.T) {
	src := &jszSource{}
	h := NewHandler(src)
	code, m := get(t, h, "/jsz?consumers=1")
	if code != 200 || m["disabled"] != true || m["server_id"] != "NID" || !src.last.Streams {
		t.Fatalf("code %d body %v opts %+v", code, m, src.last)
	}
	for _, k := range []string{"memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets",
		"api", "now", "config", "streams", "consumers", "messages", "bytes", "total"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/jsz lacks %q", k)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/jsz?streams=maybe", nil))
	if rec.Code != 400 {
		t.Fatalf("bad query: code %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	NewHandler(&fakeSource{}).ServeHTTP(rec, httptest.NewRequest("GET", "/jsz", nil))
	if rec.Code != 404 {
		t.Fatalf("source without Jsz: code %d", rec.Code)
	}
}
