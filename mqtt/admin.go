package mqtt

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// Operators list and remove MQTT sessions with NATS requests (for example
// `nats req '$SYS.REQ.MQTT.SESSIONS' ”`):
//
//	$SYS.REQ.MQTT.SESSIONS        {"client_id": "...", "offset": 0, "limit": 1024}
//	                              (all optional; client_id picks one session)
//	$SYS.REQ.MQTT.SESSION.DELETE  {"client_id": "..."}: ends the session,
//	                              connected or not (a connected 5.0 client
//	                              gets DISCONNECT 0x98 Administrative action)
//
// MQTT clients cannot reach $SYS subjects; NATS users can be kept away from
// them with permissions.
const (
	SubjectSessions      = "$SYS.REQ.MQTT.SESSIONS"
	SubjectSessionDelete = "$SYS.REQ.MQTT.SESSION.DELETE"
)

// SessionInfo describes one session in the $SYS.REQ.MQTT.SESSIONS reply.
type SessionInfo struct {
	ClientID       string     `json:"client_id"`
	Connected      bool       `json:"connected"`
	Version        string     `json:"version"`
	Remote         string     `json:"remote,omitempty"`
	User           string     `json:"user,omitempty"`
	ExpirySeconds  int64      `json:"session_expiry_seconds"` // -1: never
	Subscriptions  []SubInfo  `json:"subscriptions"`
	Queued         int        `json:"queued"`
	QueuedBytes    int        `json:"queued_bytes"`
	Inflight       int        `json:"inflight"`
	IncomingQoS2   int        `json:"incoming_qos2"`
	Dropped        uint64     `json:"dropped"`
	DisconnectedAt *time.Time `json:"disconnected_at,omitempty"`
}

// SubInfo is one subscription of a session.
type SubInfo struct {
	Filter string `json:"filter"`
	QoS    byte   `json:"qos"`
	ID     uint32 `json:"subscription_id,omitempty"`
}

// SessionsRequest is the optional body of a $SYS.REQ.MQTT.SESSIONS
// request, and ClientID that of a delete.
type SessionsRequest struct {
	ClientID string `json:"client_id,omitempty"`
	Offset   int    `json:"offset,omitempty"`
	Limit    int    `json:"limit,omitempty"`
}

// SessionsReply is the reply to $SYS.REQ.MQTT.SESSIONS.
type SessionsReply struct {
	Total    int           `json:"total"`
	Offset   int           `json:"offset"`
	Sessions []SessionInfo `json:"sessions"`
	Error    string        `json:"error,omitempty"`
}

// adminReceiver takes the operator requests off the publisher's
// goroutine: each is answered on a goroutine of its own, at most four at
// a time, so an idle broker runs none.
type adminReceiver struct {
	b   *Broker
	sem chan struct{}
}

type adminReq struct {
	subj, reply string
	body        []byte
}

func (a *adminReceiver) Deliver(_ *router.Sub, subj, reply, _, payload []byte) bool {
	if len(reply) == 0 {
		return false
	}
	select {
	case a.sem <- struct{}{}:
		req := adminReq{string(subj), string(reply), append([]byte(nil), payload...)}
		go func() {
			defer func() { <-a.sem }()
			a.b.answerAdmin(req)
		}()
	default: // an operator flooding requests is not answered
	}
	return false
}

func (a *adminReceiver) Flush() {}

// startAdmin subscribes the operator subjects.
func (b *Broker) startAdmin() error {
	a := &adminReceiver{b: b, sem: make(chan struct{}, 4)}
	for _, subj := range []string{SubjectSessions, SubjectSessionDelete} {
		// Local: across a leafnode link a fleet would answer as one.
		rs := &router.Sub{Subject: subj, Receiver: a, Local: true}
		if err := b.r.Subscribe(rs); err != nil {
			return err
		}
		b.adminSubs = append(b.adminSubs, rs)
	}
	return nil
}

func (b *Broker) answerAdmin(req adminReq) {
	var in SessionsRequest
	var out []byte
	if len(req.body) > 0 {
		if err := json.Unmarshal(req.body, &in); err != nil {
			out, _ = json.Marshal(SessionsReply{Error: "invalid request: " + err.Error()})
			b.r.Publish(&router.Publisher{}, []byte(req.reply), nil, nil, out)
			return
		}
	}
	switch req.subj {
	case SubjectSessions:
		out, _ = json.Marshal(b.listSessions(in))
	case SubjectSessionDelete:
		type reply struct {
			Deleted bool   `json:"deleted"`
			Error   string `json:"error,omitempty"`
		}
		if b.DeleteSession(in.ClientID) {
			out, _ = json.Marshal(reply{Deleted: true})
		} else {
			out, _ = json.Marshal(reply{Error: "no session for client id " + in.ClientID})
		}
	}
	b.r.Publish(&router.Publisher{}, []byte(req.reply), nil, nil, out)
}

// listSessions describes the sessions, sorted by client id.
func (b *Broker) listSessions(in SessionsRequest) SessionsReply {
	b.mu.Lock()
	all := make([]*session, 0, len(b.sessions))
	for id, s := range b.sessions {
		if in.ClientID == "" || id == in.ClientID {
			all = append(all, s)
		}
	}
	b.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	limit := in.Limit
	if limit <= 0 || limit > 1024 {
		limit = 1024
	}
	out := SessionsReply{Total: len(all), Offset: in.Offset, Sessions: []SessionInfo{}}
	if in.Offset < len(all) && in.Offset >= 0 {
		all = all[in.Offset:]
	} else {
		all = nil
	}
	for _, s := range all[:min(limit, len(all))] {
		out.Sessions = append(out.Sessions, s.info())
	}
	return out
}

func (s *session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{ClientID: s.id, Connected: s.c != nil, Version: "3.1.1", ExpirySeconds: int64(s.expiry),
		Queued: len(s.queue), QueuedBytes: s.queuedBytes, Inflight: len(s.inflight),
		IncomingQoS2: len(s.incoming), Dropped: s.dropped, Subscriptions: []SubInfo{}}
	if s.v == packet.V5 {
		in.Version = "5.0"
	}
	if s.expiry == neverExpires {
		in.ExpirySeconds = -1
	}
	if s.c != nil {
		in.Remote, in.User = s.c.remote, s.c.user
	} else if !s.offlineSince.IsZero() {
		t := s.offlineSince.UTC()
		in.DisconnectedAt = &t
	}
	for _, sub := range s.subs {
		in.Subscriptions = append(in.Subscriptions, SubInfo{Filter: sub.filter, QoS: sub.qos, ID: sub.id})
	}
	sort.Slice(in.Subscriptions, func(i, j int) bool { return in.Subscriptions[i].Filter < in.Subscriptions[j].Filter })
	return in
}

// DeleteSession ends the session of clientID, closing its connection if
// it has one. It reports whether there was one.
func (b *Broker) DeleteSession(clientID string) bool {
	b.mu.Lock()
	s := b.sessions[clientID]
	b.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.adminClose()
	}
	s.mu.Lock()
	s.cancelWillLocked()
	if s.expTimer != nil {
		s.expTimer.Stop()
		s.expTimer = nil
	}
	if !s.gone {
		s.endLocked()
	}
	s.mu.Unlock()
	return true
}

// adminClose disconnects c for an operator (0x98 in 5.0) and waits for
// its read loop to end.
func (c *conn) adminClose() {
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = errAdmin
	}
	if c.v == packet.V5 && !c.closed {
		d := packet.Disconnect{Code: packet.AdministrativeAction}
		c.out = d.Append(c.out, packet.V5)
	}
	c.mu.Unlock()
	c.flushAndClose()
	<-c.done
}
