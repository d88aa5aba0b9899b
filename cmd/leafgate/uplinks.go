package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/sync/uplink"
)

// UplinkConfig is one uplinks entry: a local stream forwarded into the
// hub stream that captures its subjects (see docs/replication.md).
type UplinkConfig struct {
	Name             string           `mapstructure:"name"`
	Stream           string           `mapstructure:"stream"`
	Filter           string           `mapstructure:"filter"`
	SubjectTransform *TransformConfig `mapstructure:"subject_transform"`
	Gateway          string           `mapstructure:"gateway"`
	MaxInflight      int              `mapstructure:"max_inflight"`
	Rate             int              `mapstructure:"rate"`
	WorkQueue        bool             `mapstructure:"work_queue"`
	AckWait          time.Duration    `mapstructure:"ack_wait"`
	// FastBatch unset tries fast batches and falls back quietly; true
	// warns when the hub refuses them; false never tries.
	FastBatch *bool `mapstructure:"fast_batch"`
}

// TransformConfig maps subjects matching Src onto Dest (nats-server's
// subject transform keys).
type TransformConfig struct {
	Src  string `mapstructure:"src"`
	Dest string `mapstructure:"dest"`
}

// validateUplinks checks the uplinks section; errors name the key.
func (c *Config) validateUplinks() error {
	names := map[string]bool{}
	for i := range c.Uplinks {
		u := &c.Uplinks[i]
		key := fmt.Sprintf("uplinks[%d]", i)
		if !c.JetStream.Enabled {
			return fmt.Errorf("%s: an uplink needs jetstream.enabled", key)
		}
		if u.Stream == "" || strings.ContainsAny(u.Stream, ".*> \t/\\") {
			return fmt.Errorf("%s.stream: %q is not a stream name", key, u.Stream)
		}
		name := u.Name
		if name == "" {
			name = u.Stream
		}
		if strings.ContainsAny(name, ".*> \t/\\") {
			return fmt.Errorf("%s.name: %q may not contain '.', '*', '>', '/', '\\' or spaces", key, name)
		}
		if names[name] {
			return fmt.Errorf("%s.name: %q is used by another uplink", key, name)
		}
		names[name] = true
		if u.Filter != "" && !subject.ValidPattern([]byte(u.Filter)) {
			return fmt.Errorf("%s.filter: %q is not a subject", key, u.Filter)
		}
		if t := u.SubjectTransform; t != nil {
			if _, err := subject.NewTransform(t.Src, t.Dest); err != nil {
				return fmt.Errorf("%s.subject_transform: %w", key, err)
			}
		}
		if strings.ContainsAny(u.Gateway, " \t\r\n") {
			return fmt.Errorf("%s.gateway: %q may not contain spaces", key, u.Gateway)
		}
		switch {
		case u.MaxInflight < 0:
			return fmt.Errorf("%s.max_inflight: %d is negative", key, u.MaxInflight)
		case u.Rate < 0:
			return fmt.Errorf("%s.rate: %d is negative", key, u.Rate)
		case u.AckWait < 0:
			return fmt.Errorf("%s.ack_wait: %v is negative", key, u.AckWait)
		}
	}
	return nil
}

// gatewayID is what identifies this gateway in an uplink's message ids
// when the entry names none: server_name, else the host name. It must not
// change across restarts, or the hub could not deduplicate a resend.
func (c *Config) gatewayID() string {
	if c.ServerName != "" {
		return c.ServerName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "leafgate"
}

// startUplinks starts the configured uplinks.
func startUplinks(c *Config, r *router.Router, js *jetstream.Service, links *leafnode.Set, log *slog.Logger) (*uplink.Set, error) {
	if len(c.Uplinks) == 0 {
		return nil, nil
	}
	if js == nil {
		return nil, errors.New("uplinks: jetstream is not running")
	}
	var cfgs []uplink.Config
	for _, u := range c.Uplinks {
		uc := uplink.Config{
			Name: u.Name, Stream: u.Stream, Filter: u.Filter, Gateway: u.Gateway,
			MaxInflight: u.MaxInflight, Rate: u.Rate, WorkQueue: u.WorkQueue, AckWait: u.AckWait,
			FastBatch: batchMode(u.FastBatch),
		}
		if uc.Gateway == "" {
			uc.Gateway = c.gatewayID()
		}
		if t := u.SubjectTransform; t != nil {
			tr, err := subject.NewTransform(t.Src, t.Dest)
			if err != nil {
				return nil, err
			}
			uc.Transform = tr
		}
		if links != nil {
			uc.Sessions, uc.Probe = links.Sessions, links.Probe
		}
		cfgs = append(cfgs, uc)
	}
	return uplink.StartSet(cfgs, js, r, log), nil
}

// batchMode is an uplink's fast_batch: unset is auto.
func batchMode(v *bool) uplink.BatchMode {
	switch {
	case v == nil:
		return uplink.BatchAuto
	case *v:
		return uplink.BatchOn
	}
	return uplink.BatchOff
}
