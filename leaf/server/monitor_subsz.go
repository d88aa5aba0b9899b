package server

import (
	"sort"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
)

// The server serves /subsz.
var _ monitor.SubszSource = (*Server)(nil)

// globalAccount is the account every leafgate subscription lives in, named
// as nats-server names its default account.
const globalAccount = "$G"

// Subsz reports the router's subscription statistics and, when asked, its
// subscriptions (internal ones, such as JetStream's, with cid 0). Matches
// and cache hits are not counted by the router and are reported as 0.
func (s *Server) Subsz(opts monitor.SubszOptions) (*monitor.Subsz, error) {
	st := s.router.Stats()
	ss := &monitor.SublistStats{
		NumSubs:    uint32(st.Subscriptions),
		NumCache:   uint32(st.Cache),
		NumInserts: st.Inserts,
		NumRemoves: st.Removes,
		MaxFanout:  uint32(st.MaxFanout),
	}
	if st.TotalFanout > 0 {
		ss.AvgFanout = float64(st.TotalFanout) / float64(st.Cache)
	}
	sz := &monitor.Subsz{ID: s.id, Now: time.Now().UTC(), SublistStats: ss}
	if !opts.Subscriptions {
		return sz, nil
	}
	var subs []*router.Sub
	s.router.Each(func(sub *router.Sub) {
		if opts.Test == "" || subject.Matches(sub.Subject, opts.Test) {
			subs = append(subs, sub)
		}
	})
	sz.Subs = make([]monitor.SubDetail, 0, len(subs))
	for _, sub := range subs {
		d := monitor.SubDetail{
			Account: globalAccount,
			Subject: sub.Subject,
			Queue:   sub.Queue,
			Sid:     string(sub.SID),
			Msgs:    sub.Delivered(),
			Max:     sub.Max(),
		}
		if c, ok := sub.Receiver.(*client); ok {
			d.Cid = c.cid
		}
		sz.Subs = append(sz.Subs, d)
	}
	// A stable order, so that offset and limit page consistently.
	sort.Slice(sz.Subs, func(i, j int) bool {
		a, b := &sz.Subs[i], &sz.Subs[j]
		if a.Cid != b.Cid {
			return a.Cid < b.Cid
		}
		if a.Sid != b.Sid {
			return a.Sid < b.Sid
		}
		return a.Subject < b.Subject
	})
	return sz, nil
}
