package monitor

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/leafgate/leafgate/leaf/subject"
)

// DefaultSubszLimit is how many subscriptions /subsz lists without ?limit
// (nats-server's DefaultSubListSize).
const DefaultSubszLimit = 1024

// SublistStats are nats-server's sublist statistics. leafgate does not count
// matches or cache hits per publish, so NumMatches and CacheHitRate stay 0.
type SublistStats struct {
	NumSubs      uint32  `json:"num_subscriptions"`
	NumCache     uint32  `json:"num_cache"`
	NumInserts   uint64  `json:"num_inserts"`
	NumRemoves   uint64  `json:"num_removes"`
	NumMatches   uint64  `json:"num_matches"`
	CacheHitRate float64 `json:"cache_hit_rate"`
	MaxFanout    uint32  `json:"max_fanout"`
	AvgFanout    float64 `json:"avg_fanout"`
}

// SubDetail is one subscription in /subsz?subs=1.
type SubDetail struct {
	Account string `json:"account,omitempty"`
	Subject string `json:"subject"`
	Queue   string `json:"qgroup,omitempty"`
	Sid     string `json:"sid"`
	Msgs    int64  `json:"msgs"`
	Max     int64  `json:"max,omitempty"`
	Cid     uint64 `json:"cid"`
}

// Subsz is /subsz (and /subscriptionsz).
type Subsz struct {
	ID  string    `json:"server_id"`
	Now time.Time `json:"now"`
	*SublistStats
	Total  int         `json:"total"`
	Offset int         `json:"offset"`
	Limit  int         `json:"limit"`
	Subs   []SubDetail `json:"subscriptions_list,omitempty"`
}

// SubszOptions select what the source lists. Test is a literal subject:
// only subscriptions a message on it would reach are listed.
type SubszOptions struct {
	Subscriptions bool
	Test          string
}

// SubszSource is implemented by a Source that serves /subsz. Sources
// without it answer 404 there.
type SubszSource interface {
	Subsz(SubszOptions) (*Subsz, error)
}

// subszQuery is the parsed /subsz query.
type subszQuery struct {
	opts          SubszOptions
	offset, limit int
}

// parseSubszQuery reads /subsz's query as nats-server does: subs is a Go
// boolean, offset and limit integers; a negative offset means 0 and a
// limit of 0 or below the default.
func parseSubszQuery(q map[string][]string) (subszQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	sq := subszQuery{limit: DefaultSubszLimit}
	var err error
	if s := get("subs"); s != "" {
		if sq.opts.Subscriptions, err = strconv.ParseBool(s); err != nil {
			return sq, fmt.Errorf("error decoding boolean for 'subs': %w", err)
		}
	}
	if s := get("offset"); s != "" {
		if sq.offset, err = strconv.Atoi(s); err != nil {
			return sq, fmt.Errorf("error decoding int for 'offset': %w", err)
		}
		sq.offset = max(sq.offset, 0)
	}
	if s := get("limit"); s != "" {
		if sq.limit, err = strconv.Atoi(s); err != nil {
			return sq, fmt.Errorf("error decoding int for 'limit': %w", err)
		}
		if sq.limit <= 0 {
			sq.limit = DefaultSubszLimit
		}
	}
	if s := get("test"); s != "" {
		if !subject.ValidLiteral([]byte(s)) {
			return sq, fmt.Errorf("invalid test subject, must be valid publish subject: %s", s)
		}
		sq.opts.Test = s
	}
	return sq, nil
}

func (h *handler) subsz(w http.ResponseWriter, r *http.Request) {
	h.inc("/subsz")
	src, ok := h.src.(SubszSource)
	if !ok {
		http.NotFound(w, r)
		return
	}
	sq, err := parseSubszQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sz, err := src.Subsz(sq.opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sz.Offset, sz.Limit = sq.offset, sq.limit
	if sz.SublistStats == nil {
		sz.SublistStats = &SublistStats{}
	}
	if sq.opts.Subscriptions {
		sz.Total = len(sz.Subs)
		lo := min(sq.offset, len(sz.Subs))
		hi := lo + min(sq.limit, len(sz.Subs)-lo)
		sz.Subs = sz.Subs[lo:hi]
	} else {
		sz.Total, sz.Subs = 0, nil
	}
	writeJSON(w, http.StatusOK, sz)
}
