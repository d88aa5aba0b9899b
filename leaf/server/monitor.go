package server

import (
	"errors"
	"runtime"
	"sort"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/router"
)

// The server is the monitoring endpoint's data source.
var _ monitor.Source = (*Server)(nil)

// Healthz reports whether the server accepts clients.
func (s *Server) Healthz() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shutdown:
		return errors.New("server is shutting down")
	case s.lameDuck:
		return errors.New("server is in lame duck mode")
	case s.listener == nil:
		return errors.New("server is not listening")
	}
	return nil
}

// Varz reports server-wide configuration and counters.
func (s *Server) Varz() *monitor.Varz {
	now := time.Now()
	o := s.conf.Load()
	host, port := splitHostPort(s.ClientAddr())
	var mhost string
	var mport int
	if a := s.MonitorAddr(); a != nil {
		mhost, mport = splitHostPort(a)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	v := &monitor.Varz{
		ID:               s.id,
		Name:             s.name,
		Version:          NATSVersion,
		Leafgate:         Version,
		Proto:            protoVersion,
		GoVersion:        runtime.Version(),
		Host:             host,
		Port:             port,
		AuthRequired:     o.auth.Required(),
		TLSRequired:      o.TLS != nil && !o.AllowNonTLS,
		MaxConn:          o.MaxConnections,
		MaxSubs:          o.MaxSubscriptions,
		PingInterval:     o.PingInterval,
		MaxPingsOut:      o.MaxPingsOut,
		HTTPHost:         mhost,
		HTTPPort:         mport,
		AuthTimeout:      o.AuthTimeout.Seconds(),
		MaxControlLine:   int32(o.MaxControlLine),
		MaxPayload:       int(o.MaxPayload),
		MaxPending:       o.MaxPending,
		TLSTimeout:       o.TLSTimeout.Seconds(),
		WriteDeadline:    o.WriteDeadline,
		Start:            s.start,
		Now:              now,
		Uptime:           monitor.FormatUptime(now.Sub(s.start)),
		Mem:              int64(ms.Sys - ms.HeapReleased),
		Cores:            runtime.NumCPU(),
		MaxProcs:         runtime.GOMAXPROCS(0),
		Connections:      s.NumClients(),
		TotalConnections: uint64(s.stats.totalConns.Load()),
		InMsgs:           s.stats.inMsgs.Load(),
		OutMsgs:          s.stats.outMsgs.Load(),
		InBytes:          s.stats.inBytes.Load(),
		OutBytes:         s.stats.outBytes.Load(),
		SlowConsumers:    s.stats.slowConsumers.Load(),
		StaleConnections: s.stats.staleConns.Load(),
		Subscriptions:    uint32(s.router.Count()),
		Leafs:            s.leafCount(),
	}
	if js := s.jetStream.Load(); js != nil {
		v.JetStream = *js.src.JetStreamVarz()
	}
	s.mu.Lock()
	fill := s.varz
	s.mu.Unlock()
	for _, f := range fill {
		f(v)
	}
	return v
}

// AddVarz adds to /varz what another protocol's listener reports (its
// mqtt or websocket block): fill runs for every /varz request.
func (s *Server) AddVarz(fill func(*monitor.Varz)) {
	s.mu.Lock()
	s.varz = append(s.varz[:len(s.varz):len(s.varz)], fill)
	s.mu.Unlock()
}

// AddConnz adds the open connections of another protocol (MQTT) to
// /connz: list returns them for the query, with connection ids from
// NextCID.
func (s *Server) AddConnz(list func(monitor.ConnzOptions) []*monitor.ConnInfo) {
	s.mu.Lock()
	s.connz = append(s.connz[:len(s.connz):len(s.connz)], list)
	s.mu.Unlock()
}

// NextCID hands out a connection id from the server's sequence, for the
// connections of other protocols, so ids are unique across /connz.
func (s *Server) NextCID() uint64 { return s.nextCID.Add(1) }

// Connz lists connections; the monitor handler sorts and pages.
func (s *Server) Connz(opts monitor.ConnzOptions) (*monitor.Connz, error) {
	now := time.Now()
	var conns []*monitor.ConnInfo
	if opts.State != monitor.ConnClosed {
		s.mu.Lock()
		sources := s.connz
		s.mu.Unlock()
		for _, src := range sources {
			conns = append(conns, src(opts)...)
		}
		for _, c := range s.clientList() {
			if opts.CID != 0 && c.cid != opts.CID {
				continue
			}
			c.mu.Lock()
			conns = append(conns, c.connInfoLocked(now, opts.Subscriptions, opts.Username))
			c.mu.Unlock()
		}
	}
	if opts.State != monitor.ConnOpen {
		s.mu.Lock()
		for _, ci := range s.closed {
			if opts.CID != 0 && ci.Cid != opts.CID {
				continue
			}
			cp := *ci
			if !opts.Subscriptions {
				cp.Subs = nil
			}
			if !opts.Username {
				cp.AuthorizedUser = ""
			}
			conns = append(conns, &cp)
		}
		s.mu.Unlock()
	}
	sort.Slice(conns, func(i, j int) bool { return conns[i].Cid < conns[j].Cid })
	return &monitor.Connz{
		ID:    s.id,
		Now:   now,
		Total: len(conns),
		Conns: conns,
	}, nil
}

// connInfoLocked snapshots the connection for /connz; c.mu must be held.
func (c *client) connInfoLocked(now time.Time, withSubs, withUser bool) *monitor.ConnInfo {
	ci := &monitor.ConnInfo{
		Cid:          c.cid,
		Kind:         "Client",
		Type:         c.connType(),
		Transport:    "tcp",
		IP:           c.host,
		Port:         c.port,
		Start:        c.start,
		LastActivity: time.Unix(0, c.lastIn.Load()),
		RTT:          c.rtt.String(),
		Uptime:       monitor.FormatUptime(now.Sub(c.start)),
		Pending:      c.out.Size() + c.writing,
		InMsgs:       c.inMsgs.Load(),
		OutMsgs:      c.outMsgs,
		InBytes:      c.inBytes.Load(),
		OutBytes:     c.outBytes,
		NumSubs:      uint32(len(c.subs)),
		Name:         c.opts.Name,
		Lang:         c.opts.Lang,
		Version:      c.opts.Version,
		TLSVersion:   c.tlsVersion,
		TLSCipher:    c.tlsCipher,
	}
	if c.via != nil {
		ci.Transport = c.via.Transport
	}
	if c.lastIn.Load() == 0 {
		ci.LastActivity = c.start
	}
	ci.Idle = monitor.FormatUptime(now.Sub(ci.LastActivity))
	if withUser {
		ci.AuthorizedUser = c.user
	}
	if withSubs {
		for _, sub := range c.subs {
			ci.Subs = append(ci.Subs, sub.Subject)
		}
		sort.Strings(ci.Subs)
	}
	if c.closed {
		stop := now
		ci.Stop = &stop
		ci.Reason = c.reason.String()
	}
	return ci
}

// connType is nats-server's client type: "nats", or the transport's name
// for a client that came through another ("websocket").
func (c *client) connType() string {
	if c.via != nil {
		return c.via.Transport
	}
	return "nats"
}

// Describe reports the client for the advisories internal services send
// (router.Describer), with the fields nats-server's client info carries.
func (c *client) Describe() router.Origin {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := router.Origin{
		Start: c.start, Host: c.host, ID: c.cid, User: c.user,
		Name: c.opts.Name, Lang: c.opts.Lang, Version: c.opts.Version,
		RTT: c.rtt, Kind: "Client", Type: c.connType(),
	}
	if o.User == "" && c.opts.AuthToken != "" {
		o.User = "[REDACTED]" // as nats-server, never the token itself
	}
	return o
}
