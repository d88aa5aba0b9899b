package monitor

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/leafgate/leafgate/leaf/subject"
)

// querySeeds are query strings every query fuzzer starts from.
var querySeeds = []string{
	"",
	"subs=1&auth=true&state=closed&sort=stop&offset=2&limit=3",
	"sort=reason&state=open",
	"cid=18446744073709551615&limit=-1",
	"offset=99999999999999999999",
	"subs=detail&state=any&sort=bytes_to",
	"subs=true&test=a.b&offset=-1&limit=0",
	"test=a.*&subs=t",
	"test=a..b",
	"accounts=1&streams=1&consumers=1&config=1&acc=$G&offset=1&limit=1",
	"consumers=TRUE&acc=x",
	"%zz=1&subs=%",
	"limit=1e3&offset=0x10",
}

// serve runs one request through the whole handler: it must answer 200 or
// 400, never panic.
func serve(t *testing.T, src Source, path, query string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.URL.Path, req.URL.RawQuery = path, query
	NewHandler(src).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
		t.Fatalf("%s?%s: status %d", path, query, rec.Code)
	}
}

// FuzzConnzQuery: the /connz parser never panics and every query it
// accepts is within bounds.
func FuzzConnzQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/connz", nil)
		req.URL.RawQuery = raw
		cq, err := parseConnzQuery(req)
		if err == nil {
			if cq.offset < 0 || cq.limit < 0 {
				t.Fatalf("%q: offset %d limit %d", raw, cq.offset, cq.limit)
			}
			if _, ok := sorters[cq.sort]; !ok {
				t.Fatalf("%q: sort %q accepted", raw, cq.sort)
			}
			if cq.opts.State != ConnOpen && cq.opts.State != ConnClosed && cq.opts.State != ConnAll {
				t.Fatalf("%q: state %v", raw, cq.opts.State)
			}
			if (cq.sort == "stop" || cq.sort == "reason") && cq.opts.State == ConnOpen {
				t.Fatalf("%q: sort %q on open connections accepted", raw, cq.sort)
			}
		}
		serve(t, &fakeSource{conns: []*ConnInfo{{Cid: 1}, {Cid: 2}}}, "/connz", raw)
	})
}

// FuzzSubszQuery: the /subsz parser never panics, pages within bounds and
// accepts only literal test subjects.
func FuzzSubszQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http's Query drops what it cannot parse; the handler still runs below
		}
		sq, err := parseSubszQuery(q)
		if err == nil {
			if sq.offset < 0 || sq.limit <= 0 {
				t.Fatalf("%q: offset %d limit %d", raw, sq.offset, sq.limit)
			}
			if sq.opts.Test != "" && !subject.ValidLiteral([]byte(sq.opts.Test)) {
				t.Fatalf("%q: test subject %q accepted", raw, sq.opts.Test)
			}
		}
		serve(t, &fakeSource{}, "/subsz", raw)
	})
}

// FuzzJszQuery: the /jsz parser never panics, pages within bounds and
// applies nats-server's implications.
func FuzzJszQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		o, err := parseJszQuery(q)
		if err == nil {
			if o.Offset < 0 || o.Limit <= 0 {
				t.Fatalf("%q: offset %d limit %d", raw, o.Offset, o.Limit)
			}
			if o.Consumers && !o.Streams {
				t.Fatalf("%q: consumers without streams", raw)
			}
			if o.Streams && o.Account == "" && !o.Accounts {
				t.Fatalf("%q: streams without accounts", raw)
			}
		}
		serve(t, &jszSource{}, "/jsz", raw)
	})
}
