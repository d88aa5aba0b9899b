package monitor

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// JetStreamConfig is the JetStream configuration block of /jsz and /varz.
type JetStreamConfig struct {
	MaxMemory    int64         `json:"max_memory"`
	MaxStore     int64         `json:"max_storage"`
	StoreDir     string        `json:"store_dir,omitempty"`
	SyncInterval time.Duration `json:"sync_interval,omitempty"`
	SyncAlways   bool          `json:"sync_always,omitempty"`
	Domain       string        `json:"domain,omitempty"`
	CompressOK   bool          `json:"compress_ok,omitempty"`
	UniqueTag    string        `json:"unique_tag,omitempty"`
	Strict       bool          `json:"strict,omitempty"`
}

// JetStreamAPIStats counts JetStream API requests.
type JetStreamAPIStats struct {
	Level    int    `json:"level"`
	Total    uint64 `json:"total"`
	Errors   uint64 `json:"errors"`
	Inflight uint64 `json:"inflight,omitempty"`
}

// JetStreamStats is JetStream usage, server-wide or for one account.
type JetStreamStats struct {
	Memory         uint64            `json:"memory"`
	Store          uint64            `json:"storage"`
	ReservedMemory uint64            `json:"reserved_memory"`
	ReservedStore  uint64            `json:"reserved_storage"`
	Accounts       int               `json:"accounts"`
	HAAssets       int               `json:"ha_assets"`
	API            JetStreamAPIStats `json:"api"`
}

// JSLimitOpts are server-wide JetStream limits; leafgate sets none, so it
// marshals as {} as nats-server's defaults do.
type JSLimitOpts struct {
	MaxRequestBatch int           `json:"max_request_batch,omitempty"`
	MaxAckPending   int           `json:"max_ack_pending,omitempty"`
	MaxHAAssets     int           `json:"max_ha_assets,omitempty"`
	Duplicates      time.Duration `json:"max_duplicate_window,omitempty"`
}

// StreamDetail is one stream in /jsz?streams=1. Config, State and the
// consumer infos are the JetStream API's own JSON (STREAM.INFO and
// CONSUMER.INFO shapes), supplied by the JetStream source.
type StreamDetail struct {
	Name     string       `json:"name"`
	Created  time.Time    `json:"created"`
	Cluster  *ClusterInfo `json:"cluster,omitempty"`
	Config   any          `json:"config,omitempty"`
	State    any          `json:"state,omitempty"`
	Consumer []any        `json:"consumer_detail,omitempty"`
}

// ClusterInfo places a stream; a single server leads all of its streams.
type ClusterInfo struct {
	Name   string `json:"name,omitempty"`
	Leader string `json:"leader,omitempty"`
}

// AccountDetail is one account in /jsz?accounts=1.
type AccountDetail struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	JetStreamStats
	Streams []StreamDetail `json:"stream_detail,omitempty"`
}

// JSInfo is /jsz.
type JSInfo struct {
	JetStreamStats
	ID             string           `json:"server_id"`
	Now            time.Time        `json:"now"`
	Disabled       bool             `json:"disabled,omitempty"`
	Config         JetStreamConfig  `json:"config,omitempty"`
	Limits         *JSLimitOpts     `json:"limits,omitempty"`
	Streams        int              `json:"streams"`
	Consumers      int              `json:"consumers"`
	Messages       uint64           `json:"messages"`
	Bytes          uint64           `json:"bytes"`
	AccountDetails []*AccountDetail `json:"account_details,omitempty"`
	Total          int              `json:"total"`
}

// JetStreamVarz is /varz's jetstream block.
type JetStreamVarz struct {
	Config *JetStreamConfig `json:"config,omitempty"`
	Stats  *JetStreamStats  `json:"stats,omitempty"`
	Limits *JSLimitOpts     `json:"limits,omitempty"`
}

// DefaultJszLimit is how many accounts /jsz lists without ?limit.
const DefaultJszLimit = 1024

// JszOptions select what /jsz reports, as nats-server's JSzOptions.
// Consumers implies Streams; Streams without Account implies Accounts.
type JszOptions struct {
	Account   string
	Accounts  bool
	Streams   bool
	Consumers bool
	Config    bool
	Offset    int
	Limit     int
}

// JszSource is implemented by a Source that serves /jsz. A source without
// JetStream answers with Disabled set, as nats-server does.
type JszSource interface {
	Jsz(JszOptions) (*JSInfo, error)
}

// JetStreamSource supplies JetStream's monitoring data. The server serves
// /jsz from it (server_id and now are the server's) and /varz's jetstream
// block; without one /jsz reports JetStream disabled.
type JetStreamSource interface {
	Jsz(JszOptions) (*JSInfo, error)
	JetStreamVarz() *JetStreamVarz
}

// parseJszQuery reads /jsz's query as nats-server does: Go booleans for
// accounts, streams, consumers and config, integers for offset and limit,
// acc for one account.
func parseJszQuery(q map[string][]string) (JszOptions, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var o JszOptions
	for _, f := range []struct {
		key string
		dst *bool
	}{{"accounts", &o.Accounts}, {"streams", &o.Streams}, {"consumers", &o.Consumers}, {"config", &o.Config}} {
		if s := get(f.key); s != "" {
			v, err := strconv.ParseBool(s)
			if err != nil {
				return o, fmt.Errorf("error decoding boolean for '%s': %w", f.key, err)
			}
			*f.dst = v
		}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"offset", &o.Offset}, {"limit", &o.Limit}} {
		if s := get(f.key); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				return o, fmt.Errorf("error decoding int for '%s': %w", f.key, err)
			}
			*f.dst = v
		}
	}
	o.Account = get("acc")
	return o.normalize(), nil
}

// normalize applies nats-server's defaults and implications.
func (o JszOptions) normalize() JszOptions {
	o.Offset = max(o.Offset, 0)
	if o.Limit <= 0 {
		o.Limit = DefaultJszLimit
	}
	if o.Consumers {
		o.Streams = true
	}
	if o.Streams && o.Account == "" {
		o.Accounts = true
	}
	return o
}

func (h *handler) jsz(w http.ResponseWriter, r *http.Request) {
	h.inc("/jsz")
	src, ok := h.src.(JszSource)
	if !ok {
		http.NotFound(w, r)
		return
	}
	opts, err := parseJszQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	info, err := src.Jsz(opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
