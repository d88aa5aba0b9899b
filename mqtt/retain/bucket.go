package retain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jsapi"
)

// markerTTL is how long delete markers stay in the bucket: the purge
// marker a clear leaves, and the subject delete marker JetStream leaves
// when a message's TTL runs out. They are there so KV watchers see the
// key go; afterwards the key simply has no value, and the bucket does not
// grow with every topic ever cleared.
const markerTTL = 15 * time.Minute

// bucketConfig is the stream of a new bucket: nats.go's KV stream for
// history 1, with per-message TTLs and limit markers on.
func bucketConfig(bucket string) jsapi.StreamConfig {
	return jsapi.StreamConfig{
		Name:                   "KV_" + bucket,
		Description:            "MQTT retained messages",
		Subjects:               []string{"$KV." + bucket + ".>"},
		Retention:              jsapi.LimitsPolicy,
		MaxConsumers:           -1,
		MaxMsgs:                -1,
		MaxBytes:               -1,
		MaxMsgsPer:             1,
		MaxMsgSize:             -1,
		Discard:                jsapi.DiscardNew,
		Storage:                jsapi.FileStorage,
		Replicas:               1,
		Duplicates:             2 * time.Minute,
		AllowRollup:            true,
		DenyDelete:             true,
		AllowDirect:            true,
		AllowMsgTTL:            true,
		SubjectDeleteMarkerTTL: markerTTL,
		Compression:            jsapi.NoCompression,
	}
}

type streamResp struct {
	jsapi.Response
	jsapi.StreamInfo
}

// api makes one JetStream API request and decodes its answer into resp,
// returning the API's error, if any, as a *jsapi.Error.
func (s *Store) api(ctx context.Context, op string, req any, resp interface{ apiError() *jsapi.Error }) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rep, err := s.req.Do(ctx, "$JS.API."+op, nil, body)
	if err != nil {
		return fmt.Errorf("$JS.API.%s: %w", op, err)
	}
	if err := json.Unmarshal(rep.Data, resp); err != nil {
		return fmt.Errorf("$JS.API.%s: %w", op, err)
	}
	if e := resp.apiError(); e != nil {
		return e
	}
	return nil
}

func (r *streamResp) apiError() *jsapi.Error { return r.Error }

// ensureBucket creates the bucket's stream, or checks the one that is
// there and turns on what this package needs (per-message TTLs and
// roll-ups, which `nats kv add` leaves off) if it can.
func (s *Store) ensureBucket(ctx context.Context) error {
	var info streamResp
	err := s.api(ctx, "STREAM.INFO."+s.stream, nil, &info)
	if errors.Is(err, jsapi.ErrStreamNotFound) {
		var created streamResp
		err = s.api(ctx, "STREAM.CREATE."+s.stream, bucketConfig(s.bucket), &created)
		if err == nil {
			s.log.Info("mqtt retained messages: bucket created", "bucket", s.bucket)
			return nil
		}
		if !errors.Is(err, jsapi.ErrStreamNameExist) {
			return fmt.Errorf("create bucket %s: %w", s.bucket, err)
		}
		// Created by someone else meanwhile.
		err = s.api(ctx, "STREAM.INFO."+s.stream, nil, &info)
	}
	if err != nil {
		return fmt.Errorf("bucket %s: %w", s.bucket, err)
	}
	cfg := info.Config
	if err := s.compatible(&cfg); err != nil {
		return fmt.Errorf("bucket %s: %w", s.bucket, err)
	}
	if cfg.AllowMsgTTL && cfg.AllowRollup {
		return nil
	}
	cfg.AllowMsgTTL, cfg.AllowRollup = true, true
	var updated streamResp
	if err := s.api(ctx, "STREAM.UPDATE."+s.stream, cfg, &updated); err != nil {
		return fmt.Errorf("bucket %s: turn on allow_msg_ttl and allow_rollup_hdrs: %w", s.bucket, err)
	}
	s.log.Info("mqtt retained messages: bucket updated for per-message TTLs and roll-ups", "bucket", s.bucket)
	return nil
}

// compatible says why an existing stream cannot hold the bucket.
func (s *Store) compatible(cfg *jsapi.StreamConfig) error {
	want := s.prefix + ">"
	covered := false
	for _, subj := range cfg.Subjects {
		if subject.SubsetOf(want, subj) {
			covered = true
		}
	}
	switch {
	case !covered:
		return fmt.Errorf("stream %s does not capture %s", cfg.Name, want)
	case cfg.Retention != jsapi.LimitsPolicy && cfg.Retention != "":
		return fmt.Errorf("stream %s has %s retention; a bucket needs limits", cfg.Name, cfg.Retention)
	case cfg.Sealed:
		return fmt.Errorf("stream %s is sealed", cfg.Name)
	case cfg.DenyPurge:
		return fmt.Errorf("stream %s denies purges, which clearing a retained message needs", cfg.Name)
	case cfg.Mirror != nil:
		return fmt.Errorf("stream %s is a mirror", cfg.Name)
	}
	if cfg.Storage == jsapi.MemoryStorage {
		s.log.Warn("mqtt retained messages: the bucket is in memory; they are lost when leafgate stops", "bucket", s.bucket)
	}
	return nil
}
