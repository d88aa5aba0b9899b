package monitor

import (
	"fmt"
	"time"
)

// Varz is /varz, with nats-server's JSON names for the fields served.
type Varz struct {
	ID               string            `json:"server_id"`
	Name             string            `json:"server_name"`
	Version          string            `json:"version"`
	Leafgate         string            `json:"leafgate_version"`
	Proto            int               `json:"proto"`
	GoVersion        string            `json:"go"`
	Host             string            `json:"host"`
	Port             int               `json:"port"`
	AuthRequired     bool              `json:"auth_required,omitempty"`
	TLSRequired      bool              `json:"tls_required,omitempty"`
	MaxConn          int               `json:"max_connections"`
	MaxSubs          int               `json:"max_subscriptions,omitempty"`
	PingInterval     time.Duration     `json:"ping_interval"`
	MaxPingsOut      int               `json:"ping_max"`
	HTTPHost         string            `json:"http_host"`
	HTTPPort         int               `json:"http_port"`
	AuthTimeout      float64           `json:"auth_timeout"`
	MaxControlLine   int32             `json:"max_control_line"`
	MaxPayload       int               `json:"max_payload"`
	MaxPending       int64             `json:"max_pending"`
	TLSTimeout       float64           `json:"tls_timeout"`
	WriteDeadline    time.Duration     `json:"write_deadline"`
	Start            time.Time         `json:"start"`
	Now              time.Time         `json:"now"`
	Uptime           string            `json:"uptime"`
	Mem              int64             `json:"mem"`
	Cores            int               `json:"cores"`
	MaxProcs         int               `json:"gomaxprocs"`
	CPU              float64           `json:"cpu"`
	Connections      int               `json:"connections"`
	TotalConnections uint64            `json:"total_connections"`
	InMsgs           int64             `json:"in_msgs"`
	OutMsgs          int64             `json:"out_msgs"`
	InBytes          int64             `json:"in_bytes"`
	OutBytes         int64             `json:"out_bytes"`
	SlowConsumers    int64             `json:"slow_consumers"`
	StaleConnections int64             `json:"stale_connections"`
	Subscriptions    uint32            `json:"subscriptions"`
	Leafs            int               `json:"leafnodes"` // connected leafnode links
	HTTPReqStats     map[string]uint64 `json:"http_req_stats"`
	// JetStream is {} with JetStream off, as in nats-server.
	JetStream JetStreamVarz `json:"jetstream"`
	// MQTT and Websocket describe those listeners, with nats-server's
	// field names; absent when the listener is off.
	MQTT      *MQTTVarz      `json:"mqtt,omitempty"`
	Websocket *WebsocketVarz `json:"websocket,omitempty"`
	LeafNode  *LeafNodeVarz  `json:"leaf,omitempty"`
}

// Connz is /connz.
type Connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*ConnInfo `json:"connections"`
}

// MQTTVarz is /varz's mqtt block (nats-server's MQTTOptsVarz fields that
// apply).
type MQTTVarz struct {
	Host       string  `json:"host,omitempty"`
	Port       int     `json:"port,omitempty"`
	TLSTimeout float64 `json:"tls_timeout,omitempty"`
}

// WebsocketVarz is /varz's websocket block (nats-server's
// WebsocketOptsVarz fields that apply).
type WebsocketVarz struct {
	Host             string        `json:"host,omitempty"`
	Port             int           `json:"port,omitempty"`
	Advertise        string        `json:"advertise,omitempty"`
	HandshakeTimeout time.Duration `json:"handshake_timeout,omitempty"`
	NoTLS            bool          `json:"no_tls,omitempty"`
	SameOrigin       bool          `json:"same_origin,omitempty"`
	AllowedOrigins   []string      `json:"allowed_origins,omitempty"`
	Compression      bool          `json:"compression,omitempty"`
}

// ConnInfo is one connection in /connz.
type ConnInfo struct {
	Cid  uint64 `json:"cid"`
	Kind string `json:"kind,omitempty"`
	Type string `json:"type,omitempty"`
	// Transport is leafgate's: "tcp" or "websocket", whatever the
	// protocol (MQTT clients' type is "mqtt" on either).
	Transport      string     `json:"transport,omitempty"`
	IP             string     `json:"ip"`
	Port           int        `json:"port"`
	Start          time.Time  `json:"start"`
	LastActivity   time.Time  `json:"last_activity"`
	Stop           *time.Time `json:"stop,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	RTT            string     `json:"rtt,omitempty"`
	Uptime         string     `json:"uptime"`
	Idle           string     `json:"idle"`
	Pending        int        `json:"pending_bytes"`
	InMsgs         int64      `json:"in_msgs"`
	OutMsgs        int64      `json:"out_msgs"`
	InBytes        int64      `json:"in_bytes"`
	OutBytes       int64      `json:"out_bytes"`
	NumSubs        uint32     `json:"subscriptions"`
	Name           string     `json:"name,omitempty"`
	Lang           string     `json:"lang,omitempty"`
	Version        string     `json:"version,omitempty"`
	TLSVersion     string     `json:"tls_version,omitempty"`
	TLSCipher      string     `json:"tls_cipher_suite,omitempty"`
	AuthorizedUser string     `json:"authorized_user,omitempty"`
	Subs           []string   `json:"subscriptions_list,omitempty"`
	// MQTTClient is an MQTT connection's client id, as nats-server names it.
	MQTTClient string `json:"mqtt_client,omitempty"`
}

// ConnState selects open, closed or all connections.
type ConnState int

// Connection states for ConnzOptions.State, as nats-server names them in
// the "state" query parameter.
const (
	ConnOpen ConnState = iota
	ConnClosed
	ConnAll
)

// ConnzOptions are the /connz query parameters the Source must honour.
// Sorting and paging are done by the handler.
type ConnzOptions struct {
	Subscriptions bool // subs=1: fill ConnInfo.Subs
	Username      bool // auth=1: fill ConnInfo.AuthorizedUser
	State         ConnState
	CID           uint64 // only this connection when non-zero
}

// HealthStatus is /healthz.
type HealthStatus struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	Error      string `json:"error,omitempty"`
}

// FormatUptime renders a duration as nats-server does in uptime and idle
// fields: "1y2d3h4m5s", "2d3h4m5s", "3h4m5s", "4m5s" or "5s".
func FormatUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	yrs := days / 365
	switch {
	case yrs > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", yrs, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}
