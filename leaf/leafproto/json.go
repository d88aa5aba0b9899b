package leafproto

// ServerProto is the protocol level nats-server v2.15 announces in INFO
// "proto" and a leaf's CONNECT "protocol" (MsgTraceProto: it understands
// distributed message tracing). A leaf sends it in CONNECT because the hub
// never receives an INFO from it when compression is off.
const ServerProto = 3

// Info is the INFO a hub sends on its leafnode port: first on accept, again
// during compression negotiation, in reply to CONNECT (ConnectInfo, with
// the account and permissions) and asynchronously (URL updates, lame duck
// mode). A soliciting leaf sends one too, only to negotiate compression.
// JSON names and omitempty rules are nats-server's Info struct's; its
// route- and gateway-only fields are left out, since a hub never sends them
// to a leaf (encoding/json ignores them if it did).
type Info struct {
	ServerID       string             `json:"server_id"`
	ServerName     string             `json:"server_name"`
	Version        string             `json:"version"`
	Proto          int                `json:"proto"`
	GitCommit      string             `json:"git_commit,omitempty"`
	GoVersion      string             `json:"go"`
	Host           string             `json:"host"`
	Port           int                `json:"port"`
	Headers        bool               `json:"headers"`
	AuthRequired   bool               `json:"auth_required,omitempty"`
	TLSRequired    bool               `json:"tls_required,omitempty"`
	TLSVerify      bool               `json:"tls_verify,omitempty"`
	TLSAvailable   bool               `json:"tls_available,omitempty"`
	MaxPayload     int32              `json:"max_payload"`
	JetStream      bool               `json:"jetstream,omitempty"`
	IP             string             `json:"ip,omitempty"` // host:port of the leafnode listener
	ClientID       uint64             `json:"client_id,omitempty"`
	ClientIP       string             `json:"client_ip,omitempty"`
	Nonce          string             `json:"nonce,omitempty"` // to sign with the nkey; only in the first INFO
	Cluster        string             `json:"cluster,omitempty"`
	ClusterDynamic bool               `json:"cluster_dynamic,omitempty"`
	Domain         string             `json:"domain,omitempty"` // JetStream domain
	ConnectURLs    []string           `json:"connect_urls,omitempty"`
	WSConnectURLs  []string           `json:"ws_connect_urls,omitempty"`
	LameDuckMode   bool               `json:"ldm,omitempty"`
	Compression    string             `json:"compression,omitempty"`
	ConnectInfo    bool               `json:"connect_info,omitempty"`   // this INFO answers CONNECT
	RemoteAccount  string             `json:"remote_account,omitempty"` // the hub account the leaf is bound to
	IsSystemAcc    bool               `json:"acc_is_sys,omitempty"`
	APILevel       int                `json:"api_lvl,omitempty"` // JetStream API level
	Import         *SubjectPermission `json:"import,omitempty"`  // what the leaf may receive (subscribe)
	Export         *SubjectPermission `json:"export,omitempty"`  // what the leaf may send (publish)
	InfoOnConnect  bool               `json:"info_on_connect,omitempty"`
	LeafNodeURLs   []string           `json:"leafnode_urls,omitempty"`
}

// FromLeafnodePort reports whether a first INFO comes from a leafnode
// port. nats-server's soliciting side drops the connection as "attempted to
// connect to wrong port" when it lacks client_id or has neither
// leafnode_urls nor info_on_connect (processLeafnodeInfo); a client port
// sends no leafnode_urls, a route port no client_id.
func (i *Info) FromLeafnodePort() bool {
	return i.ClientID != 0 && (i.LeafNodeURLs != nil || i.InfoOnConnect)
}

// Connect is the CONNECT a soliciting leaf sends, with exactly the fields of
// nats-server's leafConnectInfo and its omitempty rules. It has no "lang":
// a CONNECT with lang is a client's, and a hub rejects it on its leafnode
// port ("attempted to connect to leaf node port").
type Connect struct {
	Version   string `json:"version,omitempty"` // compared against the hub's leafnodes.min_version
	Nkey      string `json:"nkey,omitempty"`
	JWT       string `json:"jwt,omitempty"`
	Sig       string `json:"sig,omitempty"` // base64url (no padding) of the nonce's ed25519 signature
	User      string `json:"user,omitempty"`
	Pass      string `json:"pass,omitempty"`
	AuthToken string `json:"auth_token,omitempty"`
	ServerID  string `json:"server_id,omitempty"`
	Domain    string `json:"domain,omitempty"` // the leaf's JetStream domain
	Name      string `json:"name,omitempty"`   // the leaf's server name
	IsHub     bool   `json:"is_hub,omitempty"` // the soliciting side is the hub (remote "hub: true")
	// Cluster is the leaf's cluster name; the hub refuses its own
	// ("remote leafnode has same cluster name"), one with spaces and "_".
	Cluster   string   `json:"cluster,omitempty"`
	Headers   bool     `json:"headers,omitempty"`
	JetStream bool     `json:"jetstream,omitempty"`
	DenyPub   []string `json:"deny_pub,omitempty"` // the remote's deny_imports: the hub must not send these
	Isolate   bool     `json:"isolate,omitempty"`  // request_isolation: no east-west interest from other leafs
	// CompressMode is the negotiated compression mode, or empty when the
	// leaf does not support compression. (nats-server's older bool field
	// "compression" was never used.)
	CompressMode  string `json:"compress_mode,omitempty"`
	Gateway       string `json:"gateway,omitempty"`        // only a misdirected gateway sets it; the hub rejects
	RemoteAccount string `json:"remote_account,omitempty"` // the leaf's local account bound by this link
	Protocol      int    `json:"protocol,omitempty"`       // ServerProto
}

// SubjectPermission allows and denies subjects, as nats-server's type of the
// same name (the hub's INFO "import" and "export").
type SubjectPermission struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// Permissions pairs publish and subscribe permissions, with nats-server's
// JSON names.
type Permissions struct {
	Publish   *SubjectPermission `json:"publish,omitempty"`
	Subscribe *SubjectPermission `json:"subscribe,omitempty"`
}

// LeafPermissions is what a soliciting leaf enforces on its side of the link
// after the hub's INFO, as nats-server's processLeafnodeInfo builds it: the
// hub's export is what the leaf may publish over the link, its import what
// the leaf may subscribe to, each with the remote's deny_exports and
// deny_imports appended to the deny list. It returns nil when the INFO
// carries neither import nor export (nats-server then keeps the
// permissions it had). The result shares no slices with i.
func LeafPermissions(i *Info, denyImports, denyExports []string) *Permissions {
	if i.Import == nil && i.Export == nil {
		return nil
	}
	p := &Permissions{Publish: copyPerm(i.Export), Subscribe: copyPerm(i.Import)}
	if len(denyExports) > 0 {
		if p.Publish == nil {
			p.Publish = &SubjectPermission{}
		}
		p.Publish.Deny = append(p.Publish.Deny, denyExports...)
	}
	if len(denyImports) > 0 {
		if p.Subscribe == nil {
			p.Subscribe = &SubjectPermission{}
		}
		p.Subscribe.Deny = append(p.Subscribe.Deny, denyImports...)
	}
	return p
}

func copyPerm(sp *SubjectPermission) *SubjectPermission {
	if sp == nil {
		return nil
	}
	return &SubjectPermission{
		Allow: append([]string(nil), sp.Allow...),
		Deny:  append([]string(nil), sp.Deny...),
	}
}
