package jetstream

import (
	"github.com/leafgate/leafgate/leaf/monitor"
)

// The service supplies /jsz and /varz's jetstream block.
var _ monitor.JetStreamSource = (*Service)(nil)

// globalAccount is the one account leafgate's JetStream serves, named as
// nats-server names its default account.
const globalAccount = "$G"

// monitorConfig is the configuration block of /jsz and /varz. A zero
// MaxMemory or MaxStore means no limit is configured. Every store commit
// is synced (bbolt), hence sync_always; requests are not parsed strictly,
// so strict is not claimed.
func (s *Service) monitorConfig() monitor.JetStreamConfig {
	return monitor.JetStreamConfig{
		MaxMemory:  s.cfg.MaxMemory,
		MaxStore:   s.cfg.MaxStore,
		StoreDir:   s.cfg.Dir,
		Domain:     s.cfg.Domain,
		SyncAlways: true,
	}
}

// monitorStats is server-wide usage and API counters.
func (s *Service) monitorStats() monitor.JetStreamStats {
	mem, file := s.usage()
	return monitor.JetStreamStats{
		Memory:   mem,
		Store:    file,
		Accounts: 1,
		API:      monitor.JetStreamAPIStats{Level: apiLevel, Total: s.apiTotal.Load(), Errors: s.apiErrors.Load()},
	}
}

// JetStreamVarz is /varz's jetstream block.
func (s *Service) JetStreamVarz() *monitor.JetStreamVarz {
	cfg, st := s.monitorConfig(), s.monitorStats()
	return &monitor.JetStreamVarz{Config: &cfg, Stats: &st, Limits: &monitor.JSLimitOpts{}}
}

// Jsz is /jsz without server_id and now, which the server fills in. Stream
// state and consumer infos are built as STREAM.INFO and CONSUMER.INFO
// build them, on each stream's owner goroutine.
func (s *Service) Jsz(opts monitor.JszOptions) (*monitor.JSInfo, error) {
	streams := s.sortedStreams()
	info := &monitor.JSInfo{
		JetStreamStats: s.monitorStats(),
		Config:         s.monitorConfig(),
		Limits:         &monitor.JSLimitOpts{},
		Total:          1,
	}
	details := make([]monitor.StreamDetail, 0, len(streams))
	for _, st := range streams {
		si := st.info(nil)
		info.Streams++
		info.Consumers += si.State.Consumers
		info.Messages += si.State.Msgs
		info.Bytes += si.State.Bytes
		if !opts.Streams {
			continue
		}
		d := monitor.StreamDetail{Name: st.name, Created: si.Created, State: si.State}
		if opts.Config {
			d.Config = si.Config
		}
		if opts.Consumers {
			st.do(func() {
				for _, name := range sortedNames(st.consumers) {
					ci := st.consumers[name].info()
					if !opts.Config {
						ci.Config = nil
					}
					d.Consumer = append(d.Consumer, ci)
				}
			})
		}
		details = append(details, d)
	}
	// One account: a named account selects it or nothing; otherwise
	// accounts=1 lists it unless offset skips past it.
	var list bool
	switch {
	case opts.Account != "":
		list = opts.Account == globalAccount || (opts.Accounts && opts.Offset == 0)
	case opts.Accounts:
		list = opts.Offset == 0
	}
	if list {
		mem, file := s.usage()
		info.AccountDetails = []*monitor.AccountDetail{{
			Name: globalAccount,
			ID:   globalAccount,
			JetStreamStats: monitor.JetStreamStats{
				Memory: mem,
				Store:  file,
				API:    monitor.JetStreamAPIStats{Total: s.apiTotal.Load(), Errors: s.apiErrors.Load()},
			},
			Streams: details,
		}}
	}
	return info, nil
}
