package monitor

import (
	"net/http"
	"time"
)

// UplinkzSource is implemented by a Source that serves /uplinkz:
// leafgate's uplinks (sync/uplink), which nats-server does not have.
type UplinkzSource interface {
	Uplinkz() (*Uplinkz, error)
}

// Uplinkz is /uplinkz: each uplink's position, backlog and drops, and
// each downlink's.
type Uplinkz struct {
	ID  string    `json:"server_id"`
	Now time.Time `json:"now"`
	// Uplinks and Downlinks are their states, as their owner reports them.
	Uplinks   any `json:"uplinks"`
	Downlinks any `json:"downlinks"`
}

func (h *handler) uplinkz(w http.ResponseWriter, r *http.Request) {
	h.inc("/uplinkz")
	src, ok := h.src.(UplinkzSource)
	if !ok {
		http.NotFound(w, r)
		return
	}
	uz, err := src.Uplinkz()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, uz)
}
