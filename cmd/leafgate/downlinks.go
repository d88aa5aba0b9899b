package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/sync/downlink"
)

// DownlinkConfig is one downlinks entry: a local stream (typically one
// sourcing the hub's commands) delivered to local subscribers, such as
// MQTT devices' persistent sessions, on its messages' subjects.
type DownlinkConfig struct {
	Name             string           `mapstructure:"name"`
	Stream           string           `mapstructure:"stream"`
	Filter           string           `mapstructure:"filter"`
	SubjectTransform *TransformConfig `mapstructure:"subject_transform"`
}

func (c *Config) validateDownlinks() error {
	names := map[string]bool{}
	for i := range c.Downlinks {
		d := &c.Downlinks[i]
		key := fmt.Sprintf("downlinks[%d]", i)
		if !c.JetStream.Enabled {
			return fmt.Errorf("%s: a downlink needs jetstream.enabled", key)
		}
		if d.Stream == "" || strings.ContainsAny(d.Stream, ".*> \t/\\") {
			return fmt.Errorf("%s.stream: %q is not a stream name", key, d.Stream)
		}
		name := d.Name
		if name == "" {
			name = "downlink-" + d.Stream
		}
		if names[name] {
			return fmt.Errorf("%s.name: %q is used by another downlink", key, name)
		}
		names[name] = true
		if d.Filter == "" || d.Filter == ">" {
			return fmt.Errorf("%s.filter: required (the subjects delivered, which the hub then does not also send as core messages)", key)
		}
		if !subject.ValidPattern([]byte(d.Filter)) {
			return fmt.Errorf("%s.filter: %q is not a subject", key, d.Filter)
		}
		if t := d.SubjectTransform; t != nil {
			if _, err := subject.NewTransform(t.Src, t.Dest); err != nil {
				return fmt.Errorf("%s.subject_transform: %w", key, err)
			}
		}
		// A stream that captures what it delivers would take it again,
		// for ever.
		for _, sc := range c.Streams {
			if sc.Name != d.Stream {
				continue
			}
			for _, s := range sc.Subjects {
				if subject.Overlap(s, orAll(d.Filter)) && d.SubjectTransform == nil {
					return fmt.Errorf("%s.stream: %q captures %q, which the downlink delivers on; give it no subjects (a mirror or sources) or a subject_transform", key, d.Stream, s)
				}
			}
		}
	}
	return nil
}

// downlinkSubjects are the subjects downlinks deliver on untransformed:
// leafnode links do not import them from the hub.
func (c *Config) downlinkSubjects() []string {
	var out []string
	for _, d := range c.Downlinks {
		if d.SubjectTransform == nil && d.Filter != "" {
			out = append(out, d.Filter)
		}
	}
	return out
}

func orAll(s string) string {
	if s == "" {
		return ">"
	}
	return s
}

// downlinkSet is the running downlinks.
type downlinkSet []*downlink.Downlink

func (ds downlinkSet) statuses() []downlink.Status {
	out := make([]downlink.Status, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Status())
	}
	return out
}

func (ds downlinkSet) close() {
	for _, d := range ds {
		d.Close()
	}
}

func startDownlinks(c *Config, js *jetstream.Service, r *router.Router, log *slog.Logger) (downlinkSet, error) {
	var ds downlinkSet
	for _, d := range c.Downlinks {
		dc := downlink.Config{Name: d.Name, Stream: d.Stream, Filter: d.Filter}
		if t := d.SubjectTransform; t != nil {
			tr, err := subject.NewTransform(t.Src, t.Dest)
			if err != nil {
				return nil, err
			}
			dc.Transform = tr
		}
		ds = append(ds, downlink.Start(dc, js, r, log))
	}
	return ds, nil
}
