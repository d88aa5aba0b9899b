package mqtt

import (
	"net"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
)

// connIdent is what CONNECT established, published once for monitoring
// (the read loop's own fields are not safe to read elsewhere).
type connIdent struct {
	clientID string
	user     string
	s        *session
	v        byte
}

// connStats are a connection's counters for /connz.
type connStats struct {
	ident   atomic.Pointer[connIdent]
	lastIn  atomic.Int64 // unix nanos of the last read
	inMsgs  atomic.Int64 // PUBLISH packets received
	inBytes atomic.Int64
	outMsgs atomic.Int64 // PUBLISH packets sent
}

// ConnInfos lists the open MQTT connections for the NATS server's /connz
// (leaf/server AddConnz), with nats-server's fields for MQTT clients:
// type "mqtt" and the client id in mqtt_client.
func (b *Broker) ConnInfos(opts monitor.ConnzOptions) []*monitor.ConnInfo {
	if opts.State == monitor.ConnClosed {
		return nil
	}
	b.mu.Lock()
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		if opts.CID == 0 || c.cid == opts.CID {
			conns = append(conns, c)
		}
	}
	b.mu.Unlock()
	now := time.Now()
	out := make([]*monitor.ConnInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.connInfo(now, opts))
	}
	return out
}

func (c *conn) connInfo(now time.Time, opts monitor.ConnzOptions) *monitor.ConnInfo {
	host, port := c.remote, 0
	if h, p, err := net.SplitHostPort(c.remote); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	ci := &monitor.ConnInfo{
		Cid: c.cid, Kind: "Client", Type: "mqtt", Transport: "tcp", IP: host, Port: port,
		Start: c.start, Lang: "mqtt",
		Uptime:  monitor.FormatUptime(now.Sub(c.start)),
		InMsgs:  c.st.inMsgs.Load(),
		InBytes: c.st.inBytes.Load(),
		OutMsgs: c.st.outMsgs.Load(),
	}
	if t, ok := c.nc.(interface{ Transport() string }); ok {
		ci.Transport = t.Transport()
	}
	ci.LastActivity = c.start
	if l := c.st.lastIn.Load(); l != 0 {
		ci.LastActivity = time.Unix(0, l)
	}
	ci.Idle = monitor.FormatUptime(now.Sub(ci.LastActivity))
	c.mu.Lock()
	ci.OutBytes = c.written
	ci.Pending = len(c.out)
	c.mu.Unlock()
	id := c.st.ident.Load()
	if id == nil {
		return ci // CONNECT not yet accepted
	}
	ci.MQTTClient = id.clientID
	ci.Name = id.clientID
	ci.Version = "3.1.1"
	if id.v == 5 {
		ci.Version = "5.0"
	}
	if opts.Username {
		ci.AuthorizedUser = id.user
	}
	s := id.s
	s.mu.Lock()
	ci.NumSubs = uint32(len(s.subs))
	if opts.Subscriptions {
		for f := range s.subs {
			ci.Subs = append(ci.Subs, f)
		}
	}
	s.mu.Unlock()
	sort.Strings(ci.Subs)
	return ci
}
