// Package monitor is leafgate's HTTP monitoring endpoint: /healthz, /varz,
// /connz, /subsz and /jsz with nats-server's JSON field names, so tools
// written for nats-server's port 8222 read it. It gets its data through
// Source (and the optional SubszSource and JszSource, JetStream's through
// JetStreamSource) and knows nothing about the server or store behind it.
package monitor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// Source supplies the data the endpoints serve.
type Source interface {
	Varz() *Varz
	Connz(ConnzOptions) (*Connz, error)
	Healthz() error // nil when healthy
}

// DefaultConnzLimit is how many connections /connz returns without ?limit.
const DefaultConnzLimit = 1024

type handler struct {
	src Source
	mux *http.ServeMux

	mu    sync.Mutex
	stats map[string]uint64 // requests per path
}

// NewHandler serves the monitoring endpoints for src.
func NewHandler(src Source) http.Handler {
	h := &handler{src: src, mux: http.NewServeMux(), stats: map[string]uint64{}}
	h.mux.HandleFunc("/", h.root) // counts only "/" itself, as nats-server does
	h.mux.HandleFunc("/healthz", h.count("/healthz", h.healthz))
	h.mux.HandleFunc("/varz", h.count("/varz", h.varz))
	h.mux.HandleFunc("/connz", h.count("/connz", h.connz))
	h.mux.HandleFunc("/subsz", h.subsz) // both count under "/subsz", as in nats-server
	h.mux.HandleFunc("/subscriptionsz", h.subsz)
	h.mux.HandleFunc("/jsz", h.jsz)
	h.mux.HandleFunc("/leafz", h.leafz)
	h.mux.HandleFunc("/uplinkz", h.uplinkz)
	return h.mux
}

func (h *handler) count(path string, fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.inc(path)
		fn(w, r)
	}
}

func (h *handler) inc(path string) {
	h.mu.Lock()
	h.stats[path]++
	h.mu.Unlock()
}

// root serves the index page. Unknown paths reach it too (the mux's "/"
// pattern matches everything); they get a 404 and, as in nats-server, are
// not counted in http_req_stats.
func (h *handler) root(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h.inc("/")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<html><head><title>leafgate</title></head><body>
<h1>leafgate monitoring</h1>
<ul>
<li><a href="varz">varz</a> — server configuration and counters</li>
<li><a href="connz">connz</a> — connections (<a href="connz?subs=1">with subscriptions</a>)</li>
<li><a href="subsz">subsz</a> — subscription statistics (<a href="subsz?subs=1">with subscriptions</a>)</li>
<li><a href="leafz">leafz</a> — leafnode links to hubs (<a href="leafz?subs=1">with the hubs' interest</a>)</li>
<li><a href="uplinkz">uplinkz</a> — uplinks to the hub: confirmed sequence, backlog, drops</li>
<li><a href="jsz">jsz</a> — JetStream (<a href="jsz?accounts=1&amp;streams=1&amp;consumers=1&amp;config=1">with detail</a>)</li>
<li><a href="healthz">healthz</a> — health</li>
</ul></body></html>
`)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error": map[string]any{"code": http.StatusBadRequest, "description": err.Error()},
	})
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := h.src.Healthz(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, &HealthStatus{
			Status: "unavailable", StatusCode: http.StatusServiceUnavailable, Error: err.Error(),
		})
		return
	}
	writeJSON(w, http.StatusOK, &HealthStatus{Status: "ok"})
}

func (h *handler) varz(w http.ResponseWriter, _ *http.Request) {
	v := h.src.Varz()
	h.mu.Lock()
	v.HTTPReqStats = make(map[string]uint64, len(h.stats))
	for k, n := range h.stats {
		v.HTTPReqStats[k] = n
	}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// connzQuery is the parsed /connz query.
type connzQuery struct {
	opts          ConnzOptions
	sort          string
	offset, limit int
}

func parseConnzQuery(r *http.Request) (connzQuery, error) {
	q := r.URL.Query()
	cq := connzQuery{limit: DefaultConnzLimit, sort: "cid"}
	var err error
	if cq.opts.Subscriptions, err = parseFlag(q.Get("subs")); err != nil {
		return cq, fmt.Errorf("subs: %w", err)
	}
	if cq.opts.Username, err = parseFlag(q.Get("auth")); err != nil {
		return cq, fmt.Errorf("auth: %w", err)
	}
	switch s := q.Get("state"); s {
	case "", "open":
		cq.opts.State = ConnOpen
	case "closed":
		cq.opts.State = ConnClosed
	case "any", "all":
		cq.opts.State = ConnAll
	default:
		return cq, fmt.Errorf("invalid state %q", s)
	}
	if s := q.Get("cid"); s != "" {
		if cq.opts.CID, err = strconv.ParseUint(s, 10, 64); err != nil {
			return cq, fmt.Errorf("invalid cid %q", s)
		}
	}
	if s := q.Get("offset"); s != "" {
		if cq.offset, err = strconv.Atoi(s); err != nil || cq.offset < 0 {
			return cq, fmt.Errorf("invalid offset %q", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		if cq.limit, err = strconv.Atoi(s); err != nil || cq.limit < 0 {
			return cq, fmt.Errorf("invalid limit %q", s)
		}
	}
	if s := q.Get("sort"); s != "" {
		if _, ok := sorters[s]; !ok {
			return cq, fmt.Errorf("invalid sorting option %q", s)
		}
		if (s == "stop" || s == "reason") && cq.opts.State == ConnOpen {
			return cq, fmt.Errorf("sort by %q is only valid for closed connections", s)
		}
		cq.sort = s
	}
	return cq, nil
}

func parseFlag(s string) (bool, error) {
	switch s {
	case "", "0", "false":
		return false, nil
	case "1", "true", "detail":
		return true, nil
	}
	return false, fmt.Errorf("invalid value %q", s)
}

// sorters order connections as nats-server's sort options do: counters
// descending, cid and start ascending.
var sorters = map[string]func(a, b *ConnInfo) bool{
	"cid":        func(a, b *ConnInfo) bool { return a.Cid < b.Cid },
	"start":      func(a, b *ConnInfo) bool { return a.Start.Before(b.Start) },
	"subs":       func(a, b *ConnInfo) bool { return a.NumSubs > b.NumSubs },
	"pending":    func(a, b *ConnInfo) bool { return a.Pending > b.Pending },
	"msgs_to":    func(a, b *ConnInfo) bool { return a.OutMsgs > b.OutMsgs },
	"msgs_from":  func(a, b *ConnInfo) bool { return a.InMsgs > b.InMsgs },
	"bytes_to":   func(a, b *ConnInfo) bool { return a.OutBytes > b.OutBytes },
	"bytes_from": func(a, b *ConnInfo) bool { return a.InBytes > b.InBytes },
	"last":       func(a, b *ConnInfo) bool { return a.LastActivity.After(b.LastActivity) },
	"idle":       func(a, b *ConnInfo) bool { return a.LastActivity.Before(b.LastActivity) },
	"uptime":     func(a, b *ConnInfo) bool { return a.Start.Before(b.Start) },
	"stop": func(a, b *ConnInfo) bool {
		return a.Stop != nil && (b.Stop == nil || a.Stop.After(*b.Stop))
	},
	"reason": func(a, b *ConnInfo) bool { return a.Reason < b.Reason },
}

func (h *handler) connz(w http.ResponseWriter, r *http.Request) {
	cq, err := parseConnzQuery(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	c, err := h.src.Connz(cq.opts)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	less := sorters[cq.sort]
	sort.SliceStable(c.Conns, func(i, j int) bool { return less(c.Conns[i], c.Conns[j]) })
	c.Total = len(c.Conns)
	c.Offset, c.Limit = cq.offset, cq.limit
	if cq.offset >= len(c.Conns) {
		c.Conns = c.Conns[:0]
	} else {
		c.Conns = c.Conns[cq.offset:]
	}
	if len(c.Conns) > cq.limit {
		c.Conns = c.Conns[:cq.limit]
	}
	c.NumConns = len(c.Conns)
	if c.Conns == nil {
		c.Conns = []*ConnInfo{}
	}
	writeJSON(w, http.StatusOK, c)
}
