package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
)

// StreamConfig is one streams entry: a stream leafgate creates at start-up
// if it is missing, and updates when the entry changed. Keys are
// nats-server's stream configuration keys (a subset), with sizes and
// durations written as elsewhere in this file.
type StreamConfig struct {
	Name              string               `mapstructure:"name"`
	Subjects          []string             `mapstructure:"subjects"`
	Retention         string               `mapstructure:"retention"`
	Storage           string               `mapstructure:"storage"`
	MaxMsgs           int64                `mapstructure:"max_msgs"`
	MaxBytes          Size                 `mapstructure:"max_bytes"`
	MaxAge            time.Duration        `mapstructure:"max_age"`
	MaxMsgsPerSubject int64                `mapstructure:"max_msgs_per_subject"`
	MaxMsgSize        Size                 `mapstructure:"max_msg_size"`
	Discard           string               `mapstructure:"discard"`
	DuplicateWindow   time.Duration        `mapstructure:"duplicate_window"`
	Mirror            *StreamSourceConfig  `mapstructure:"mirror"`
	Sources           []StreamSourceConfig `mapstructure:"sources"`
}

// StreamSourceConfig is a mirror or source: a stream here or, with domain
// (or external), in the hub's JetStream across the link.
type StreamSourceConfig struct {
	Name              string            `mapstructure:"name"`
	Domain            string            `mapstructure:"domain"`
	FilterSubject     string            `mapstructure:"filter_subject"`
	SubjectTransforms []TransformConfig `mapstructure:"subject_transforms"`
	OptStartSeq       uint64            `mapstructure:"opt_start_seq"`
	External          *ExternalConfig   `mapstructure:"external"`
}

// ExternalConfig is nats-server's external stream location.
type ExternalConfig struct {
	API     string `mapstructure:"api"`
	Deliver string `mapstructure:"deliver"`
}

// jsConfig is the entry as the JetStream API takes it.
func (sc *StreamConfig) jsConfig() jsapi.StreamConfig {
	cfg := jsapi.StreamConfig{
		Name: sc.Name, Subjects: sc.Subjects, MaxMsgs: -1, MaxBytes: -1, MaxMsgsPer: -1, MaxMsgSize: -1,
		MaxAge: sc.MaxAge, Duplicates: sc.DuplicateWindow, Retention: jsapi.LimitsPolicy,
		Storage: jsapi.FileStorage, Discard: jsapi.DiscardOld, Replicas: 1,
	}
	if sc.MaxMsgs > 0 {
		cfg.MaxMsgs = sc.MaxMsgs
	}
	if sc.MaxBytes > 0 {
		cfg.MaxBytes = int64(sc.MaxBytes)
	}
	if sc.MaxMsgsPerSubject > 0 {
		cfg.MaxMsgsPer = sc.MaxMsgsPerSubject
	}
	if sc.MaxMsgSize > 0 {
		cfg.MaxMsgSize = int32(sc.MaxMsgSize)
	}
	switch sc.Retention {
	case "interest":
		cfg.Retention = jsapi.InterestPolicy
	case "workqueue":
		cfg.Retention = jsapi.WorkQueuePolicy
	}
	if sc.Storage == "memory" {
		cfg.Storage = jsapi.MemoryStorage
	}
	if sc.Discard == "new" {
		cfg.Discard = jsapi.DiscardNew
	}
	if sc.Mirror != nil {
		cfg.Mirror = sc.Mirror.source()
	}
	for i := range sc.Sources {
		cfg.Sources = append(cfg.Sources, sc.Sources[i].source())
	}
	return cfg
}

func (s *StreamSourceConfig) source() *jsapi.StreamSource {
	ss := &jsapi.StreamSource{Name: s.Name, FilterSubject: s.FilterSubject, OptStartSeq: s.OptStartSeq}
	for _, t := range s.SubjectTransforms {
		ss.SubjectTransforms = append(ss.SubjectTransforms, jsapi.SubjectTransformConfig{Source: t.Src, Destination: t.Dest})
	}
	switch {
	case s.Domain != "":
		// As nats.go and natscli turn a domain into the external API.
		ss.External = &jsapi.ExternalStream{APIPrefix: "$JS." + s.Domain + ".API"}
	case s.External != nil:
		ss.External = &jsapi.ExternalStream{APIPrefix: s.External.API, DeliverPrefix: s.External.Deliver}
	}
	return ss
}

// declared is cur with the keys a streams entry sets taken from want.
func declared(cur, want jsapi.StreamConfig) jsapi.StreamConfig {
	out := cur
	out.Subjects, out.Retention, out.Storage, out.Discard = want.Subjects, want.Retention, want.Storage, want.Discard
	out.MaxMsgs, out.MaxBytes, out.MaxAge, out.MaxMsgsPer, out.MaxMsgSize = want.MaxMsgs, want.MaxBytes, want.MaxAge, want.MaxMsgsPer, want.MaxMsgSize
	if want.Duplicates > 0 {
		out.Duplicates = want.Duplicates
	}
	out.Mirror, out.Sources = want.Mirror, want.Sources
	if len(out.Subjects) == 0 && len(cur.Subjects) > 0 && out.Mirror == nil && len(out.Sources) == 0 {
		out.Subjects = cur.Subjects // the name, as the API defaulted it
	}
	return out
}

// validateStreams checks what the JetStream API would not see before
// start-up; the API checks the rest when the stream is created.
func (c *Config) validateStreams() error {
	names := map[string]bool{}
	for i := range c.Streams {
		sc := &c.Streams[i]
		key := fmt.Sprintf("streams[%d]", i)
		if !c.JetStream.Enabled {
			return fmt.Errorf("%s: streams need jetstream.enabled", key)
		}
		if sc.Name == "" || strings.ContainsAny(sc.Name, ".*> \t/\\") {
			return fmt.Errorf("%s.name: %q is not a stream name", key, sc.Name)
		}
		if names[sc.Name] {
			return fmt.Errorf("%s.name: %q is declared twice", key, sc.Name)
		}
		names[sc.Name] = true
		for j, s := range sc.Subjects {
			if !subject.ValidPattern([]byte(s)) {
				return fmt.Errorf("%s.subjects[%d]: %q is not a subject", key, j, s)
			}
		}
		for _, v := range []struct{ k, v, allowed string }{
			{"retention", sc.Retention, "limits interest workqueue"},
			{"storage", sc.Storage, "file memory"},
			{"discard", sc.Discard, "old new"},
		} {
			if v.v != "" && !strings.Contains(" "+v.allowed+" ", " "+v.v+" ") {
				return fmt.Errorf("%s.%s: %q is not one of %s", key, v.k, v.v, strings.ReplaceAll(v.allowed, " ", ", "))
			}
		}
		check := func(k string, s *StreamSourceConfig) error {
			if s.Name == "" {
				return fmt.Errorf("%s.%s.name: required", key, k)
			}
			if s.Domain != "" && s.External != nil {
				return fmt.Errorf("%s.%s: domain and external are both set", key, k)
			}
			return nil
		}
		if sc.Mirror != nil {
			if err := check("mirror", sc.Mirror); err != nil {
				return err
			}
		}
		for j := range sc.Sources {
			if err := check(fmt.Sprintf("sources[%d]", j), &sc.Sources[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// declareStreams creates the configured streams that are missing and
// updates those whose entry changed, through the JetStream API (so its
// checks apply). An error names the entry.
func declareStreams(c *Config, r *router.Router, log *slog.Logger) error {
	if len(c.Streams) == 0 {
		return nil
	}
	q, err := inbox.New(r)
	if err != nil {
		return err
	}
	defer q.Close()
	for i := range c.Streams {
		want := c.Streams[i].jsConfig()
		var info struct {
			jsapi.Response
			jsapi.StreamInfo
		}
		if err := apiRequest(q, "$JS.API.STREAM.INFO."+want.Name, nil, &info); err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		op := "CREATE"
		if info.Error == nil {
			// The declared keys over what the stream has: keys the entry
			// does not name keep what the API set, and an entry that did
			// not change changes nothing (no update, no advisory).
			cur := info.Config
			want = declared(cur, want)
			if reflect.DeepEqual(want, cur) {
				continue
			}
			op = "UPDATE"
		}
		var resp struct {
			jsapi.Response
			jsapi.StreamInfo
		}
		if err := apiRequest(q, "$JS.API.STREAM."+op+"."+want.Name, want, &resp); err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("streams[%d] (%s): %s", i, want.Name, resp.Error.Description)
		}
		if op == "CREATE" {
			log.Info("stream created from the configuration", "stream", want.Name)
		} else {
			log.Info("stream updated from the configuration", "stream", want.Name)
		}
	}
	return nil
}

// apiRequest sends one JetStream API request through the router and
// decodes the answer.
func apiRequest(q *inbox.Requester, subj string, req, resp any) error {
	var body []byte
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		body = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reply, err := q.Do(ctx, subj, nil, body)
	if err != nil {
		return fmt.Errorf("%s: %w", subj, err)
	}
	return json.Unmarshal(reply.Data, resp)
}
