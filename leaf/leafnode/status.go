package leafnode

import (
	"slices"
	"time"
)

// Status is a link's state for monitoring (/leafz) and logs.
type Status struct {
	Name          string        `json:"name"`
	Connected     bool          `json:"connected"`
	Connecting    bool          `json:"connecting,omitempty"`
	URL           string        `json:"url,omitempty"` // without password
	Since         time.Time     `json:"since,omitzero"`
	RTT           time.Duration `json:"rtt,omitempty"`
	HubServer     string        `json:"hub_server,omitempty"`
	HubID         string        `json:"hub_id,omitempty"`
	HubCluster    string        `json:"hub_cluster,omitempty"`
	HubDomain     string        `json:"hub_domain,omitempty"`
	RemoteAccount string        `json:"remote_account,omitempty"`
	Compression   string        `json:"compression,omitempty"` // negotiated; this side's writer
	LastError     string        `json:"last_error,omitempty"`
	NextAttempt   time.Time     `json:"next_attempt,omitzero"`
	Backoff       time.Duration `json:"backoff,omitempty"` // the wait before NextAttempt

	InMsgs         int64 `json:"in_msgs"`
	OutMsgs        int64 `json:"out_msgs"`
	InBytes        int64 `json:"in_bytes"`
	OutBytes       int64 `json:"out_bytes"`
	Dropped        int64 `json:"dropped"`
	HubSubs        int   `json:"hub_subscriptions"`
	HubSubsIgnored int64 `json:"hub_subscriptions_ignored"`
	LocalInterest  int   `json:"local_interest"`
	ProtoInBytes   int64 `json:"proto_in_bytes"`  // protocol bytes read, after decompression
	ProtoOutBytes  int64 `json:"proto_out_bytes"` // protocol bytes written, before compression
	WireInBytes    int64 `json:"wire_in_bytes"`   // bytes read from TCP (TLS and S2 framing included)
	WireOutBytes   int64 `json:"wire_out_bytes"`  // bytes written to TCP
	Reconnects     int64 `json:"reconnects"`      // sessions established after the first
	Failures       int64 `json:"failed_attempts"` // attempts that failed and sessions that ended
}

// Status reports the link's current state.
func (l *Link) Status() Status {
	l.mu.Lock()
	st := l.status
	st.Name = l.remote.Name
	st.LocalInterest = len(l.local)
	if s := l.sess; s != nil {
		st.RTT = time.Duration(s.rtt.Load())
		s.hubMu.Lock()
		st.HubSubs = len(s.hubSubs)
		s.hubMu.Unlock()
	}
	l.mu.Unlock()
	st.InMsgs = l.stats.inMsgs.Load()
	st.OutMsgs = l.stats.outMsgs.Load()
	st.InBytes = l.stats.inBytes.Load()
	st.OutBytes = l.stats.outBytes.Load()
	st.Dropped = l.stats.dropped.Load()
	st.HubSubsIgnored = l.stats.hubSubsIgnored.Load()
	st.ProtoInBytes, st.ProtoOutBytes = l.stats.protoIn.Load(), l.stats.protoOut.Load()
	st.WireInBytes, st.WireOutBytes = l.stats.wireIn.Load(), l.stats.wireOut.Load()
	st.Reconnects = l.stats.reconnects.Load()
	st.Failures = l.stats.failures.Load()
	return st
}

// HubInterest lists the hub's interest held for the current session
// ("subject" or "subject queue"), sorted; nil while down.
func (l *Link) HubInterest() []string {
	s := l.cur.Load()
	if s == nil {
		return nil
	}
	s.hubMu.Lock()
	out := make([]string, 0, len(s.hubSubs))
	for k := range s.hubSubs {
		out = append(out, k)
	}
	s.hubMu.Unlock()
	slices.Sort(out)
	return out
}

// Remote is the link's configuration (with defaults applied).
func (l *Link) Remote() Remote { return l.remote }
