package monitor

import (
	"fmt"
	"net/http"
	"time"
)

// Leafz is /leafz: nats-server's fields for the connected links, and
// leafgate's Remotes for every configured one, up or down.
type Leafz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumLeafs int         `json:"leafnodes"`
	Leafs    []*LeafInfo `json:"leafs"`
	// Remotes is leafgate's: each configured link's state, including why
	// it is down and when it tries again.
	Remotes []*LeafRemote `json:"remotes,omitempty"`
}

// LeafInfo is one connected leafnode link, as nats-server reports it; for
// leafgate it is always the spoke.
type LeafInfo struct {
	ID          uint64   `json:"id"`
	Name        string   `json:"name"` // the hub server's name
	IsSpoke     bool     `json:"is_spoke"`
	IsIsolated  bool     `json:"is_isolated,omitempty"`
	Account     string   `json:"account"`
	IP          string   `json:"ip"`
	Port        int      `json:"port"`
	RTT         string   `json:"rtt,omitempty"`
	InMsgs      int64    `json:"in_msgs"`
	OutMsgs     int64    `json:"out_msgs"`
	InBytes     int64    `json:"in_bytes"`
	OutBytes    int64    `json:"out_bytes"`
	NumSubs     uint32   `json:"subscriptions"` // the hub's interest held for this link
	Subs        []string `json:"subscriptions_list,omitempty"`
	Compression string   `json:"compression,omitempty"`
}

// LeafRemote is a configured link's state.
type LeafRemote struct {
	Name           string    `json:"name"`
	Connected      bool      `json:"connected"`
	URL            string    `json:"url,omitempty"`
	Since          time.Time `json:"since,omitzero"`
	HubServer      string    `json:"hub_server,omitempty"`
	HubCluster     string    `json:"hub_cluster,omitempty"`
	HubDomain      string    `json:"hub_domain,omitempty"`
	RemoteAccount  string    `json:"remote_account,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	NextAttempt    time.Time `json:"next_attempt,omitzero"`
	Backoff        string    `json:"backoff,omitempty"` // the current wait before next_attempt
	Reconnects     int64     `json:"reconnects"`        // sessions established after the first
	FailedAttempts int64     `json:"failed_attempts"`   // attempts that failed and sessions that ended
	Dropped        int64     `json:"dropped"`
	// Bytes before compression (the protocol) and after (on the wire:
	// TLS and WebSocket framing included), both directions, since start.
	ProtoInBytes   int64 `json:"proto_in_bytes"`
	ProtoOutBytes  int64 `json:"proto_out_bytes"`
	WireInBytes    int64 `json:"wire_in_bytes"`
	WireOutBytes   int64 `json:"wire_out_bytes"`
	HubSubsIgnored int64 `json:"hub_subscriptions_ignored"`
	LocalInterest  int   `json:"local_interest"`
	// HubSetupsResumed counts the hub's stream source and mirror setups
	// asked again when the link came back (resume_hub_sources).
	HubSetupsResumed int64 `json:"hub_setups_resumed"`
}

// LeafzOptions are /leafz's query parameters.
type LeafzOptions struct {
	Subscriptions bool // ?subs=1
}

// LeafzSource supplies /leafz.
type LeafzSource interface {
	Leafz(LeafzOptions) (*Leafz, error)
}

// LeafNodeVarz is /varz's leaf block: the configured remotes.
type LeafNodeVarz struct {
	Remotes []RemoteLeafVarz `json:"remotes,omitempty"`
}

// RemoteLeafVarz is one configured remote in /varz, as nats-server's.
type RemoteLeafVarz struct {
	LocalAccount string     `json:"local_account,omitempty"`
	URLs         []string   `json:"urls,omitempty"`
	Deny         *DenyRules `json:"deny,omitempty"`
}

// DenyRules are a remote's deny_exports and deny_imports.
type DenyRules struct {
	Exports []string `json:"exports,omitempty"`
	Imports []string `json:"imports,omitempty"`
}

func (h *handler) leafz(w http.ResponseWriter, r *http.Request) {
	h.inc("/leafz")
	src, ok := h.src.(LeafzSource)
	if !ok {
		http.NotFound(w, r)
		return
	}
	subs, err := parseFlag(r.URL.Query().Get("subs"))
	if err != nil {
		badRequest(w, fmt.Errorf("subs: %w", err))
		return
	}
	lz, err := src.Leafz(LeafzOptions{Subscriptions: subs})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, lz)
}
