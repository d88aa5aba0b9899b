package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// End-to-end tests of JetStream streams: the $JS.API stream endpoints, the
// publish path (acks, de-duplication, expectations, limits, retention) and
// persistence across a restart. Helpers are prefixed jss to stay clear of
// the other JetStream test files in this package.

// jssCreate creates a stream and fails the test on error.
func jssCreate(t *testing.T, ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(ctx, cfg)
	if err != nil {
		t.Fatalf("create stream %q: %v", cfg.Name, err)
	}
	return s
}

// jssPub publishes through JetStream and fails the test on error.
func jssPub(t *testing.T, ctx context.Context, js jetstream.JetStream, subj, data string, opts ...jetstream.PublishOpt) *jetstream.PubAck {
	t.Helper()
	ack, err := js.Publish(ctx, subj, []byte(data), opts...)
	if err != nil {
		t.Fatalf("publish %q: %v", subj, err)
	}
	return ack
}

// jssState returns the stream's current state.
func jssState(t *testing.T, ctx context.Context, s jetstream.Stream) jetstream.StreamState {
	t.Helper()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State
}

// jssWantState checks messages, first and last sequence.
func jssWantState(t *testing.T, ctx context.Context, s jetstream.Stream, msgs, first, last uint64) jetstream.StreamState {
	t.Helper()
	st := jssState(t, ctx, s)
	if st.Msgs != msgs || st.FirstSeq != first || st.LastSeq != last {
		t.Fatalf("stream %s state: msgs=%d first=%d last=%d, want msgs=%d first=%d last=%d",
			s.CachedInfo().Config.Name, st.Msgs, st.FirstSeq, st.LastSeq, msgs, first, last)
	}
	return st
}

// jssWaitMsgs polls until the stream holds want messages.
func jssWaitMsgs(t *testing.T, ctx context.Context, s jetstream.Stream, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := jssState(t, ctx, s)
		if st.Msgs == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages after %v, want %d", s.CachedInfo().Config.Name, st.Msgs, within, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// jssWantErr checks err carries the JetStream API error errCode and, when
// desc is not empty, that exact description. DeleteMsg flattens the API
// error into its message, so that form is accepted too.
func jssWantErr(t *testing.T, what string, err error, errCode jetstream.ErrorCode, desc string) {
	t.Helper()
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		if err != nil && desc != "" && strings.HasSuffix(err.Error(), fmt.Sprintf("err_code=%d description=%s", errCode, desc)) {
			return
		}
		t.Fatalf("%s: got error %v, want API error err_code=%d %q", what, err, errCode, desc)
	}
	if apiErr.ErrorCode != errCode || (desc != "" && apiErr.Description != desc) {
		t.Fatalf("%s: got err_code=%d %q, want err_code=%d %q", what, apiErr.ErrorCode, apiErr.Description, errCode, desc)
	}
}

// jssAPI sends a raw request and decodes the JSON response.
func jssAPI(t *testing.T, nc *nats.Conn, subj, body string) map[string]any {
	t.Helper()
	m, err := nc.Request(subj, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("request %s %s: %v", subj, body, err)
	}
	var resp map[string]any
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatalf("request %s: response is not JSON: %v: %q", subj, err, m.Data)
	}
	return resp
}

// jssAPIError is the error object of an API response.
type jssAPIError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// jssWantAPIErr sends a raw request and checks the response's type and its
// error object exactly (a description ending in "*" is a prefix).
func jssWantAPIErr(t *testing.T, nc *nats.Conn, subj, body, typ string, want jssAPIError) {
	t.Helper()
	m, err := nc.Request(subj, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("request %s %s: %v", subj, body, err)
	}
	var resp struct {
		Type  string       `json:"type"`
		Error *jssAPIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatalf("request %s: response is not JSON: %v: %q", subj, err, m.Data)
	}
	if resp.Type != typ {
		t.Errorf("request %s %s: type %q, want %q", subj, body, resp.Type, typ)
	}
	if resp.Error == nil {
		t.Fatalf("request %s %s: no error in %s, want %+v", subj, body, m.Data, want)
	}
	got := *resp.Error
	descOK := got.Description == want.Description
	if p, ok := strings.CutSuffix(want.Description, "*"); ok {
		descOK = strings.HasPrefix(got.Description, p)
	}
	if got.Code != want.Code || got.ErrCode != want.ErrCode || !descOK {
		t.Fatalf("request %s %s: error %+v, want %+v", subj, body, got, want)
	}
}

// jssNum reads a JSON number field.
func jssNum(t *testing.T, resp map[string]any, field string) int64 {
	t.Helper()
	v, ok := resp[field].(float64)
	if !ok {
		t.Fatalf("response field %q: got %v (%T), want a number; response %v", field, resp[field], resp[field], resp)
	}
	return int64(v)
}

func jssNames(t *testing.T, ctx context.Context, js jetstream.JetStream, opts ...jetstream.StreamListOpt) []string {
	t.Helper()
	l := js.StreamNames(ctx, opts...)
	var names []string
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("stream names: %v", err)
	}
	slices.Sort(names)
	return names
}

func TestJSStreamAccountInfo(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)

		// The raw response: its type, and the api block with a level.
		resp := jssAPI(t, nc, "$JS.API.INFO", "")
		if resp["type"] != "io.nats.jetstream.api.v1.account_info_response" {
			t.Errorf("$JS.API.INFO type = %v", resp["type"])
		}
		api, ok := resp["api"].(map[string]any)
		if !ok {
			t.Fatalf("$JS.API.INFO has no api object: %v", resp)
		}
		if lvl, ok := api["level"].(float64); !ok || lvl < 1 {
			t.Errorf("$JS.API.INFO api.level = %v, want a level >= 1", api["level"])
		}
		if _, ok := resp["limits"].(map[string]any); !ok {
			t.Errorf("$JS.API.INFO has no limits object: %v", resp)
		}

		ai, err := js.AccountInfo(ctx)
		if err != nil {
			t.Fatalf("account info: %v", err)
		}
		if ai.Streams != 0 || ai.Consumers != 0 || ai.Store != 0 {
			t.Fatalf("fresh account: streams=%d consumers=%d storage=%d, want 0 0 0", ai.Streams, ai.Consumers, ai.Store)
		}
		if ai.Limits.MaxStreams != -1 || ai.Limits.MaxConsumers != -1 {
			t.Errorf("limits max_streams=%d max_consumers=%d, want -1 -1 (unlimited)", ai.Limits.MaxStreams, ai.Limits.MaxConsumers)
		}

		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "A", Subjects: []string{"a.>"}})
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "M", Subjects: []string{"m.>"}, Storage: jetstream.MemoryStorage})
		jssPub(t, ctx, js, "a.1", "file")
		jssPub(t, ctx, js, "m.1", "memory")

		ai, err = js.AccountInfo(ctx)
		if err != nil {
			t.Fatalf("account info: %v", err)
		}
		if ai.Streams != 2 {
			t.Errorf("streams = %d, want 2", ai.Streams)
		}
		if ai.Store == 0 || ai.Memory == 0 {
			t.Errorf("after publishing to a file and a memory stream: storage=%d memory=%d, want both > 0", ai.Store, ai.Memory)
		}
		if ai.API.Level < 1 {
			t.Errorf("api level = %d, want >= 1", ai.API.Level)
		}

		if err := js.DeleteStream(ctx, "M"); err != nil {
			t.Fatalf("delete stream M: %v", err)
		}
		ai, err = js.AccountInfo(ctx)
		if err != nil {
			t.Fatalf("account info: %v", err)
		}
		if ai.Streams != 1 || ai.Memory != 0 {
			t.Errorf("after deleting M: streams=%d memory=%d, want 1 0", ai.Streams, ai.Memory)
		}
	})
}

func TestJSStreamCRUD(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)

		cfg := jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Description: "all orders"}
		s := jssCreate(t, ctx, js, cfg)
		info := s.CachedInfo()
		c := info.Config
		// The defaults nats-server fills in.
		if c.Name != "ORDERS" || !slices.Equal(c.Subjects, []string{"orders.>"}) || c.Description != "all orders" ||
			c.Retention != jetstream.LimitsPolicy || c.Discard != jetstream.DiscardOld || c.Storage != jetstream.FileStorage ||
			c.MaxMsgs != -1 || c.MaxBytes != -1 || c.MaxMsgSize != -1 || c.MaxMsgsPerSubject != -1 || c.MaxConsumers != -1 ||
			c.MaxAge != 0 || c.Replicas != 1 || c.Duplicates != 2*time.Minute {
			t.Fatalf("created config with defaults: %+v", c)
		}
		if info.Created.IsZero() || time.Since(info.Created) > time.Minute {
			t.Errorf("created = %v, want about now", info.Created)
		}
		if st := info.State; st.Msgs != 0 || st.Bytes != 0 || st.FirstSeq != 0 || st.LastSeq != 0 {
			t.Errorf("new stream state: msgs=%d bytes=%d first=%d last=%d, want all 0", st.Msgs, st.Bytes, st.FirstSeq, st.LastSeq)
		}

		// Creating again with the same configuration is idempotent.
		s2, err := js.CreateStream(ctx, cfg)
		if err != nil {
			t.Fatalf("create with the same config again: %v", err)
		}
		if got := s2.CachedInfo().Created; !got.Equal(info.Created) {
			t.Errorf("second create changed created from %v to %v", info.Created, got)
		}
		// ... and with a different one fails with 10058.
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, MaxMsgs: 5})
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			t.Fatalf("create with a different config: %v, want ErrStreamNameAlreadyInUse", err)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.CREATE.ORDERS", `{"name":"ORDERS","subjects":["orders.>"],"max_msgs":5}`,
			"io.nats.jetstream.api.v1.stream_create_response",
			jssAPIError{400, 10058, "stream name already in use with a different configuration"})

		// Update.
		cfg.Subjects = []string{"orders.>", "returns.*"}
		cfg.MaxMsgs = 100
		s, err = js.UpdateStream(ctx, cfg)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if c := s.CachedInfo().Config; c.MaxMsgs != 100 || !slices.Equal(c.Subjects, cfg.Subjects) {
			t.Fatalf("updated config: max_msgs=%d subjects=%v", c.MaxMsgs, c.Subjects)
		}
		if ack := jssPub(t, ctx, js, "returns.1", "r"); ack.Stream != "ORDERS" || ack.Sequence != 1 {
			t.Fatalf("publish on an added subject: %+v", ack)
		}
		if _, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: "NOPE", Subjects: []string{"nope"}}); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("update of a missing stream: %v, want ErrStreamNotFound", err)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.UPDATE.NOPE", `{"name":"NOPE","subjects":["nope"]}`,
			"io.nats.jetstream.api.v1.stream_update_response", jssAPIError{404, 10059, "stream not found"})
		jssWantAPIErr(t, nc, "$JS.API.STREAM.UPDATE.ORDERS", `{"name":"ORDERS","subjects":["orders.>"],"storage":"memory"}`,
			"io.nats.jetstream.api.v1.stream_update_response",
			jssAPIError{500, 10052, "stream configuration update can not change storage type"})

		// Info.
		if _, err := js.Stream(ctx, "NOPE"); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("info of a missing stream: %v, want ErrStreamNotFound", err)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.INFO.NOPE", "", "io.nats.jetstream.api.v1.stream_info_response",
			jssAPIError{404, 10059, "stream not found"})
		got, err := js.Stream(ctx, "ORDERS")
		if err != nil {
			t.Fatalf("stream ORDERS: %v", err)
		}
		if gi := got.CachedInfo(); gi.Config.MaxMsgs != 100 || gi.State.Msgs != 1 || gi.State.LastSeq != 1 {
			t.Fatalf("info ORDERS: max_msgs=%d state=%+v", gi.Config.MaxMsgs, gi.State)
		}

		// List and names, with a subject filter.
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.*"}})
		if names := jssNames(t, ctx, js); !slices.Equal(names, []string{"EVENTS", "ORDERS"}) {
			t.Fatalf("stream names = %v, want [EVENTS ORDERS]", names)
		}
		for _, tc := range []struct {
			subject string
			want    []string
		}{
			{"events.x", []string{"EVENTS"}},
			{"returns.9", []string{"ORDERS"}},
			{">", []string{"EVENTS", "ORDERS"}},
			{"nothing", nil},
		} {
			if names := jssNames(t, ctx, js, jetstream.WithStreamListSubject(tc.subject)); !slices.Equal(names, tc.want) {
				t.Errorf("stream names for subject %q = %v, want %v", tc.subject, names, tc.want)
			}
		}
		resp := jssAPI(t, nc, "$JS.API.STREAM.NAMES", `{"subject":"events.x"}`)
		if resp["type"] != "io.nats.jetstream.api.v1.stream_names_response" || jssNum(t, resp, "total") != 1 ||
			fmt.Sprint(resp["streams"]) != "[EVENTS]" {
			t.Errorf("raw stream names for events.x: %v", resp)
		}
		l := js.ListStreams(ctx)
		var listed []string
		for si := range l.Info() {
			listed = append(listed, si.Config.Name)
			if si.Config.Name == "ORDERS" && si.State.Msgs != 1 {
				t.Errorf("listed ORDERS state %+v, want 1 message", si.State)
			}
		}
		if err := l.Err(); err != nil {
			t.Fatalf("list streams: %v", err)
		}
		slices.Sort(listed)
		if !slices.Equal(listed, []string{"EVENTS", "ORDERS"}) {
			t.Fatalf("listed streams = %v", listed)
		}
		resp = jssAPI(t, nc, "$JS.API.STREAM.LIST", "")
		if resp["type"] != "io.nats.jetstream.api.v1.stream_list_response" || jssNum(t, resp, "total") != 2 {
			t.Errorf("raw stream list: type %v total %v", resp["type"], resp["total"])
		}

		// Delete.
		if err := js.DeleteStream(ctx, "ORDERS"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := js.Stream(ctx, "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("info after delete: %v, want ErrStreamNotFound", err)
		}
		if err := js.DeleteStream(ctx, "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("second delete: %v, want ErrStreamNotFound", err)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.DELETE.ORDERS", "", "io.nats.jetstream.api.v1.stream_delete_response",
			jssAPIError{404, 10059, "stream not found"})
		if names := jssNames(t, ctx, js); !slices.Equal(names, []string{"EVENTS"}) {
			t.Fatalf("names after delete = %v, want [EVENTS]", names)
		}
		// Its subjects are free again, and publishing there has no stream.
		if _, err := js.Publish(ctx, "orders.1", nil, jetstream.WithRetryAttempts(0)); !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("publish to a deleted stream's subject: %v, want ErrNoStreamResponse", err)
		}
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "ORDERS2", Subjects: []string{"orders.>"}})
	})
}

func TestJSStreamCreateErrors(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "BASE", Subjects: []string{"base.>"}})

		const typ = "io.nats.jetstream.api.v1.stream_create_response"
		for _, tc := range []struct {
			name, subj, body string
			want             jssAPIError
		}{
			{"overlapping subjects", "OVER", `{"name":"OVER","subjects":["base.a"]}`,
				jssAPIError{400, 10065, "subjects overlap with an existing stream"}},
			{"overlapping wildcard", "OVER", `{"name":"OVER","subjects":["base.*"]}`,
				jssAPIError{400, 10065, "subjects overlap with an existing stream"}},
			{"replicas 3", "R3", `{"name":"R3","subjects":["r3"],"num_replicas":3}`,
				jssAPIError{500, 10074, "replicas > 1 not supported in non-clustered mode"}},
			{"name differs from subject", "X", `{"name":"Y","subjects":["xy"]}`,
				jssAPIError{400, 10056, "stream name in subject does not match request"}},
			{"no name in body", "X", `{"subjects":["xy"]}`,
				jssAPIError{400, 10056, "stream name in subject does not match request"}},
			{"slash in name", "a/b", `{"name":"a/b","subjects":["ab"]}`,
				jssAPIError{400, 10128, "Stream name can not contain path separators"}},
			{"backslash in name", `a\b`, `{"name":"a\\b","subjects":["ab"]}`,
				jssAPIError{400, 10128, "Stream name can not contain path separators"}},
			{"wildcard name", "*", `{"name":"*","subjects":["ab"]}`,
				jssAPIError{500, 10052, `stream name is required and can not contain '.', '*', '>', '\', '/'`}},
			{"invalid JSON", "X", `{"name":`,
				jssAPIError{400, 10025, "invalid JSON: *"}},
			{"invalid subject", "X", `{"name":"X","subjects":["x y"]}`,
				jssAPIError{500, 10052, "invalid subject"}},
			{"negative max_age", "X", `{"name":"X","subjects":["x"],"max_age":-1}`,
				jssAPIError{500, 10052, "max age can not be negative"}},
			{"max_age under 100ms", "X", `{"name":"X","subjects":["x"],"max_age":30000000}`,
				jssAPIError{500, 10052, "max age needs to be >= 100ms"}},
			{"rollups without purge", "X", `{"name":"X","subjects":["x"],"allow_rollup_hdrs":true,"deny_purge":true}`,
				jssAPIError{500, 10052, "roll-ups require the purge permission"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				jssWantAPIErr(t, nc, "$JS.API.STREAM.CREATE."+tc.subj, tc.body, typ, tc.want)
			})
		}
		// None of them was created.
		if names := jssNames(t, ctx, js); !slices.Equal(names, []string{"BASE"}) {
			t.Fatalf("stream names after failed creates = %v, want [BASE]", names)
		}
		// The client maps 10074 to an APIError too.
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3})
		jssWantErr(t, "create with 3 replicas", err, 10074, "replicas > 1 not supported in non-clustered mode")
	})
}

func TestJSStreamPublish(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.>"}})

		for i := uint64(1); i <= 3; i++ {
			if ack := jssPub(t, ctx, js, "p.a", fmt.Sprint(i)); ack.Stream != "P" || ack.Sequence != i || ack.Duplicate {
				t.Fatalf("publish %d: ack %+v, want stream P seq %d", i, ack, i)
			}
		}
		// The raw ack JSON.
		m, err := nc.Request("p.b", []byte("raw"), 5*time.Second)
		if err != nil {
			t.Fatalf("raw publish: %v", err)
		}
		if got := string(m.Data); got != `{"stream":"P","seq":4}` {
			t.Errorf("raw pub ack = %s, want {\"stream\":\"P\",\"seq\":4}", got)
		}

		// De-duplication returns the original sequence.
		if ack := jssPub(t, ctx, js, "p.a", "once", jetstream.WithMsgID("id-1")); ack.Sequence != 5 || ack.Duplicate {
			t.Fatalf("first publish with msg id: %+v, want seq 5 not duplicate", ack)
		}
		jssPub(t, ctx, js, "p.b", "between")
		for i := 0; i < 2; i++ {
			if ack := jssPub(t, ctx, js, "p.a", "again", jetstream.WithMsgID("id-1")); ack.Sequence != 5 || !ack.Duplicate || ack.Stream != "P" {
				t.Fatalf("duplicate publish: %+v, want stream P seq 5 duplicate", ack)
			}
		}
		m, err = nc.RequestMsg(&nats.Msg{Subject: "p.a", Data: []byte("x"), Header: nats.Header{"Nats-Msg-Id": {"id-1"}}}, 5*time.Second)
		if err != nil {
			t.Fatalf("raw duplicate publish: %v", err)
		}
		var dup map[string]any
		if err := json.Unmarshal(m.Data, &dup); err != nil || dup["stream"] != "P" || dup["seq"] != 5.0 || dup["duplicate"] != true {
			t.Errorf("raw duplicate ack = %s (%v), want stream P seq 5 duplicate true", m.Data, err)
		}
		jssWantState(t, ctx, s, 6, 1, 6)
		if msg, err := s.GetMsg(ctx, 5); err != nil || string(msg.Data) != "once" {
			t.Fatalf("message 5 after duplicates: %v %v, want the original", msg, err)
		}

		// Expected stream.
		_, err = js.Publish(ctx, "p.a", nil, jetstream.WithExpectStream("OTHER"))
		jssWantErr(t, "expect stream OTHER", err, 10060, "expected stream does not match")
		if ack := jssPub(t, ctx, js, "p.a", "s", jetstream.WithExpectStream("P")); ack.Sequence != 7 {
			t.Fatalf("expect stream P: %+v, want seq 7", ack)
		}

		// Expected last sequence.
		_, err = js.Publish(ctx, "p.a", nil, jetstream.WithExpectLastSequence(3))
		jssWantErr(t, "expect last sequence 3", err, 10071, "wrong last sequence: 7")
		if ack := jssPub(t, ctx, js, "p.a", "ls", jetstream.WithExpectLastSequence(7)); ack.Sequence != 8 {
			t.Fatalf("expect last sequence 7: %+v, want seq 8", ack)
		}

		// Expected last sequence per subject: p.b last is 6.
		_, err = js.Publish(ctx, "p.b", nil, jetstream.WithExpectLastSequencePerSubject(4))
		jssWantErr(t, "expect last subject sequence 4", err, 10071, "wrong last sequence: 6")
		if ack := jssPub(t, ctx, js, "p.b", "lss", jetstream.WithExpectLastSequencePerSubject(6)); ack.Sequence != 9 {
			t.Fatalf("expect last subject sequence 6: %+v, want seq 9", ack)
		}
		// 0 means no message on the subject yet.
		if ack := jssPub(t, ctx, js, "p.new", "n", jetstream.WithExpectLastSequencePerSubject(0)); ack.Sequence != 10 {
			t.Fatalf("expect last subject sequence 0 on a new subject: %+v, want seq 10", ack)
		}
		_, err = js.Publish(ctx, "p.new", nil, jetstream.WithExpectLastSequencePerSubject(0))
		jssWantErr(t, "expect last subject sequence 0 on a used subject", err, 10071, "wrong last sequence: 10")

		// Expected last msg id.
		if ack := jssPub(t, ctx, js, "p.a", "m1", jetstream.WithMsgID("m-1")); ack.Sequence != 11 {
			t.Fatalf("publish m-1: %+v, want seq 11", ack)
		}
		_, err = js.Publish(ctx, "p.a", nil, jetstream.WithExpectLastMsgID("m-0"))
		jssWantErr(t, "expect last msg id m-0", err, 10070, "wrong last msg ID: m-1")
		if ack := jssPub(t, ctx, js, "p.a", "m2", jetstream.WithExpectLastMsgID("m-1"), jetstream.WithMsgID("m-2")); ack.Sequence != 12 {
			t.Fatalf("expect last msg id m-1: %+v, want seq 12", ack)
		}

		// Failed expectations stored nothing.
		jssWantState(t, ctx, s, 12, 1, 12)

		// A failed publish's raw ack still names the stream.
		m, err = nc.RequestMsg(&nats.Msg{Subject: "p.a", Header: nats.Header{"Nats-Expected-Last-Sequence": {"1"}}}, 5*time.Second)
		if err != nil {
			t.Fatalf("raw publish: %v", err)
		}
		var failed struct {
			Stream string       `json:"stream"`
			Error  *jssAPIError `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &failed); err != nil || failed.Stream != "P" || failed.Error == nil ||
			*failed.Error != (jssAPIError{400, 10071, "wrong last sequence: 12"}) {
			t.Errorf("raw failed ack = %s, want stream P and error 400/10071 \"wrong last sequence: 12\"", m.Data)
		}

		// No stream on the subject: no responders.
		if _, err := js.Publish(ctx, "nostream", nil, jetstream.WithRetryAttempts(0)); !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("publish without a stream: %v, want ErrNoStreamResponse", err)
		}
	})
}

func TestJSStreamLimits(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)

		t.Run("max_msgs discard old", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "MO", Subjects: []string{"mo"}, MaxMsgs: 3})
			for i := 1; i <= 5; i++ {
				jssPub(t, ctx, js, "mo", fmt.Sprint(i))
			}
			jssWantState(t, ctx, s, 3, 3, 5)
			if _, err := s.GetMsg(ctx, 2); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("dropped message 2: %v, want ErrMsgNotFound", err)
			}
			if m, err := s.GetMsg(ctx, 3); err != nil || string(m.Data) != "3" {
				t.Fatalf("oldest kept message: %v %v, want 3", m, err)
			}
		})

		t.Run("max_msgs discard new", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "MN", Subjects: []string{"mn"}, MaxMsgs: 2, Discard: jetstream.DiscardNew})
			jssPub(t, ctx, js, "mn", "1")
			jssPub(t, ctx, js, "mn", "2")
			_, err := js.Publish(ctx, "mn", []byte("3"))
			jssWantErr(t, "third publish", err, 10077, "maximum messages exceeded")
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.Code != 503 {
				t.Errorf("maximum messages exceeded: code %d, want 503", apiErr.Code)
			}
			jssWantState(t, ctx, s, 2, 1, 2)
		})

		t.Run("max_bytes", func(t *testing.T) {
			// A file-store message without headers counts 22+len(subject)+len(data)+8
			// bytes: 43 here, so 100 bytes hold 2.
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "BO", Subjects: []string{"b.o"}, MaxBytes: 100})
			for i := 1; i <= 5; i++ {
				jssPub(t, ctx, js, "b.o", "0123456789")
			}
			if st := jssWantState(t, ctx, s, 2, 4, 5); st.Bytes != 86 {
				t.Errorf("bytes = %d, want 86", st.Bytes)
			}
			jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "BN", Subjects: []string{"b.n"}, MaxBytes: 100, Discard: jetstream.DiscardNew})
			jssPub(t, ctx, js, "b.n", "0123456789")
			jssPub(t, ctx, js, "b.n", "0123456789")
			_, err := js.Publish(ctx, "b.n", []byte("0123456789"))
			jssWantErr(t, "publish over max_bytes", err, 10077, "maximum bytes exceeded")
		})

		t.Run("max_msgs_per_subject", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "PS", Subjects: []string{"ps.*"}, MaxMsgsPerSubject: 2})
			for _, subj := range []string{"ps.a", "ps.a", "ps.b", "ps.a", "ps.b", "ps.c"} {
				jssPub(t, ctx, js, subj, subj)
			}
			jssWantState(t, ctx, s, 5, 2, 6)
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
			if err != nil {
				t.Fatalf("info: %v", err)
			}
			if want := map[string]uint64{"ps.a": 2, "ps.b": 2, "ps.c": 1}; !reflect.DeepEqual(info.State.Subjects, want) {
				t.Fatalf("subjects = %v, want %v", info.State.Subjects, want)
			}
			if _, err := s.GetMsg(ctx, 1); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("oldest ps.a (seq 1): %v, want ErrMsgNotFound", err)
			}

			jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "PSN", Subjects: []string{"psn.*"}, MaxMsgsPerSubject: 1,
				Discard: jetstream.DiscardNew, DiscardNewPerSubject: true})
			jssPub(t, ctx, js, "psn.a", "1")
			jssPub(t, ctx, js, "psn.b", "1")
			_, err = js.Publish(ctx, "psn.a", []byte("2"))
			jssWantErr(t, "second psn.a", err, 10077, "maximum messages per subject exceeded")
		})

		t.Run("max_age", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "AGE", Subjects: []string{"age"}, MaxAge: 300 * time.Millisecond})
			start := time.Now()
			for i := 0; i < 3; i++ {
				jssPub(t, ctx, js, "age", "x")
			}
			if st := jssState(t, ctx, s); st.Msgs != 3 && time.Since(start) < 200*time.Millisecond {
				t.Fatalf("right after publishing: %d messages, want 3", st.Msgs)
			}
			jssWaitMsgs(t, ctx, s, 0, 3*time.Second)
			if el := time.Since(start); el < 250*time.Millisecond {
				t.Fatalf("messages expired after %v, before max_age 300ms", el)
			}
			st := jssState(t, ctx, s)
			if st.FirstSeq != 4 || st.LastSeq != 3 {
				t.Fatalf("after expiry: first=%d last=%d, want 4 3", st.FirstSeq, st.LastSeq)
			}
		})

		t.Run("max_msg_size", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "SZ", Subjects: []string{"sz"}, MaxMsgSize: 10})
			jssPub(t, ctx, js, "sz", "0123456789")
			_, err := js.Publish(ctx, "sz", []byte("0123456789A"))
			jssWantErr(t, "11-byte message", err, 10054, "message size exceeds maximum allowed")
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.Code != 400 {
				t.Errorf("message size exceeds maximum: code %d, want 400", apiErr.Code)
			}
			// Headers count towards the size.
			_, err = js.PublishMsg(ctx, &nats.Msg{Subject: "sz", Data: []byte("abc"), Header: nats.Header{"X-Pad": {"0123456789"}}})
			jssWantErr(t, "3-byte message with a header", err, 10054, "message size exceeds maximum allowed")
			jssWantState(t, ctx, s, 1, 1, 1)
		})
	})
}

func TestJSStreamRetention(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)

		fetchAck := func(t *testing.T, c jetstream.Consumer, n int) []jetstream.Msg {
			t.Helper()
			b, err := c.FetchNoWait(n)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			var msgs []jetstream.Msg
			for m := range b.Messages() {
				msgs = append(msgs, m)
			}
			if len(msgs) != n {
				t.Fatalf("fetched %d messages, want %d (batch error %v)", len(msgs), n, b.Error())
			}
			return msgs
		}

		t.Run("workqueue", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "WQ", Subjects: []string{"wq.>"}, Retention: jetstream.WorkQueuePolicy})
			if c := s.CachedInfo().Config; c.Retention != jetstream.WorkQueuePolicy {
				t.Fatalf("retention = %v", c.Retention)
			}
			for i := 0; i < 3; i++ {
				jssPub(t, ctx, js, "wq.job", fmt.Sprint(i))
			}
			c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				t.Fatalf("consumer: %v", err)
			}
			msgs := fetchAck(t, c, 3)
			// Delivered but unacknowledged messages stay.
			jssWantState(t, ctx, s, 3, 1, 3)
			for _, m := range msgs[:2] {
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatalf("ack: %v", err)
				}
			}
			jssWaitMsgs(t, ctx, s, 1, 2*time.Second)
			jssWantState(t, ctx, s, 1, 3, 3)
			if err := msgs[2].DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
			jssWaitMsgs(t, ctx, s, 0, 2*time.Second)
			jssWantState(t, ctx, s, 0, 4, 3)
		})

		t.Run("interest", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "IN", Subjects: []string{"in.>"}, Retention: jetstream.InterestPolicy})
			// Without consumers nobody is interested: nothing is kept.
			if ack := jssPub(t, ctx, js, "in.x", "lost"); ack.Sequence != 1 {
				t.Fatalf("ack %+v, want seq 1", ack)
			}
			jssWantState(t, ctx, s, 0, 2, 1)

			var cons []jetstream.Consumer
			for _, name := range []string{"C1", "C2"} {
				c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy})
				if err != nil {
					t.Fatalf("consumer %s: %v", name, err)
				}
				cons = append(cons, c)
			}
			jssPub(t, ctx, js, "in.x", "a")
			jssPub(t, ctx, js, "in.x", "b")
			jssWantState(t, ctx, s, 2, 2, 3)
			for _, m := range fetchAck(t, cons[0], 2) {
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatalf("ack: %v", err)
				}
			}
			// C2 has not acknowledged: both stay.
			time.Sleep(50 * time.Millisecond)
			jssWantState(t, ctx, s, 2, 2, 3)
			c2 := fetchAck(t, cons[1], 2)
			if err := c2[0].DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
			jssWaitMsgs(t, ctx, s, 1, 2*time.Second)
			if err := c2[1].DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
			jssWaitMsgs(t, ctx, s, 0, 2*time.Second)
		})
	})
}

func TestJSStreamPurge(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "G", Subjects: []string{"g.*"}})
		// g.0: 1 4 7 10, g.1: 2 5 8, g.2: 3 6 9.
		for i := 0; i < 10; i++ {
			jssPub(t, ctx, js, fmt.Sprintf("g.%d", i%3), fmt.Sprint(i+1))
		}
		subjects := func(want map[string]uint64) {
			t.Helper()
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
			if err != nil {
				t.Fatalf("info: %v", err)
			}
			got := info.State.Subjects
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("subjects = %v, want %v", got, want)
			}
		}
		purged := func(body string, want int64) {
			t.Helper()
			resp := jssAPI(t, nc, "$JS.API.STREAM.PURGE.G", body)
			if resp["type"] != "io.nats.jetstream.api.v1.stream_purge_response" || resp["success"] != true || jssNum(t, resp, "purged") != want {
				t.Fatalf("purge %s: %v, want success and purged %d", body, resp, want)
			}
		}

		purged(`{"filter":"g.0"}`, 4)
		jssWantState(t, ctx, s, 6, 2, 10)
		subjects(map[string]uint64{"g.1": 3, "g.2": 3})

		if err := s.Purge(ctx, jetstream.WithPurgeSubject("g.1"), jetstream.WithPurgeKeep(1)); err != nil {
			t.Fatalf("purge g.1 keep 1: %v", err)
		}
		jssWantState(t, ctx, s, 4, 3, 10) // 3 6 8 9
		subjects(map[string]uint64{"g.1": 1, "g.2": 3})
		if m, err := s.GetLastMsgForSubject(ctx, "g.1"); err != nil || m.Sequence != 8 {
			t.Fatalf("kept g.1: %v %v, want seq 8", m, err)
		}

		if err := s.Purge(ctx, jetstream.WithPurgeSequence(6)); err != nil {
			t.Fatalf("purge up to 6: %v", err)
		}
		jssWantState(t, ctx, s, 3, 6, 10) // 6 8 9

		jssWantAPIErr(t, nc, "$JS.API.STREAM.PURGE.G", `{"seq":8,"keep":1}`, "io.nats.jetstream.api.v1.stream_purge_response",
			jssAPIError{400, 10003, "bad request"})

		if err := s.Purge(ctx, jetstream.WithPurgeKeep(1)); err != nil {
			t.Fatalf("purge keep 1: %v", err)
		}
		jssWantState(t, ctx, s, 1, 9, 10)

		purged(`{"filter":"g.9"}`, 0)
		purged("", 1)
		st := jssWantState(t, ctx, s, 0, 11, 10)
		if st.Bytes != 0 || st.NumSubjects != 0 {
			t.Fatalf("after a full purge: bytes=%d subjects=%d", st.Bytes, st.NumSubjects)
		}
		subjects(nil)
		// Sequences continue after a purge.
		if ack := jssPub(t, ctx, js, "g.0", "after"); ack.Sequence != 11 {
			t.Fatalf("publish after purge: seq %d, want 11", ack.Sequence)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.PURGE.NOPE", "", "io.nats.jetstream.api.v1.stream_purge_response",
			jssAPIError{404, 10059, "stream not found"})
	})
}

func TestJSStreamGetDelete(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "K", Subjects: []string{"k.*"}})
		before := time.Now().Add(-time.Second)
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "k.a", Data: []byte("one"), Header: nats.Header{"X-Test": {"v1"}}}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		jssPub(t, ctx, js, "k.b", "two")
		jssPub(t, ctx, js, "k.a", "three")
		jssPub(t, ctx, js, "k.b", "four")
		jssPub(t, ctx, js, "k.c", "five")

		m, err := s.GetMsg(ctx, 1)
		if err != nil {
			t.Fatalf("get 1: %v", err)
		}
		if m.Subject != "k.a" || m.Sequence != 1 || string(m.Data) != "one" || m.Header.Get("X-Test") != "v1" ||
			m.Time.Before(before) || m.Time.After(time.Now().Add(time.Second)) {
			t.Fatalf("get 1: subject=%q seq=%d data=%q header=%v time=%v", m.Subject, m.Sequence, m.Data, m.Header, m.Time)
		}
		if m, err := s.GetLastMsgForSubject(ctx, "k.a"); err != nil || m.Sequence != 3 || string(m.Data) != "three" {
			t.Fatalf("last for k.a: %+v %v, want seq 3", m, err)
		}
		if m, err := s.GetLastMsgForSubject(ctx, "k.*"); err != nil || m.Sequence != 5 {
			t.Fatalf("last for k.*: %+v %v, want seq 5", m, err)
		}
		if m, err := s.GetMsg(ctx, 2, jetstream.WithGetMsgSubject("k.a")); err != nil || m.Sequence != 3 {
			t.Fatalf("next k.a from 2: %+v %v, want seq 3", m, err)
		}
		if _, err := s.GetLastMsgForSubject(ctx, "k.none"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("last for k.none: %v, want ErrMsgNotFound", err)
		}
		if _, err := s.GetMsg(ctx, 99); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("get 99: %v, want ErrMsgNotFound", err)
		}

		// The raw message get response.
		resp := jssAPI(t, nc, "$JS.API.STREAM.MSG.GET.K", `{"seq":1}`)
		msg, _ := resp["message"].(map[string]any)
		if resp["type"] != "io.nats.jetstream.api.v1.stream_msg_get_response" || msg == nil ||
			msg["subject"] != "k.a" || msg["seq"] != 1.0 || msg["data"] != base64.StdEncoding.EncodeToString([]byte("one")) {
			t.Fatalf("raw msg get: %v", resp)
		}
		if h, _ := msg["hdrs"].(string); h == "" {
			t.Errorf("raw msg get: no hdrs in %v", msg)
		} else if raw, err := base64.StdEncoding.DecodeString(h); err != nil || !strings.HasPrefix(string(raw), "NATS/1.0\r\n") ||
			!strings.Contains(string(raw), "X-Test: v1\r\n") {
			t.Errorf("raw msg get hdrs = %q (%v)", raw, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(msg["time"])); err != nil {
			t.Errorf("raw msg get time %v: %v", msg["time"], err)
		}
		jssWantAPIErr(t, nc, "$JS.API.STREAM.MSG.GET.K", `{"seq":99}`, "io.nats.jetstream.api.v1.stream_msg_get_response",
			jssAPIError{404, 10037, "no message found"})
		jssWantAPIErr(t, nc, "$JS.API.STREAM.MSG.GET.K", `{"last_by_subj":"k.none"}`, "io.nats.jetstream.api.v1.stream_msg_get_response",
			jssAPIError{404, 10037, "no message found"})

		// Delete and secure delete.
		if err := s.DeleteMsg(ctx, 2); err != nil {
			t.Fatalf("delete 2: %v", err)
		}
		if err := s.SecureDeleteMsg(ctx, 4); err != nil {
			t.Fatalf("secure delete 4: %v", err)
		}
		for _, seq := range []uint64{2, 4} {
			if _, err := s.GetMsg(ctx, seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("get deleted %d: %v, want ErrMsgNotFound", seq, err)
			}
		}
		if m, err := s.GetLastMsgForSubject(ctx, "k.b"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("last for k.b after deleting both: %+v %v, want ErrMsgNotFound", m, err)
		}
		st := jssWantState(t, ctx, s, 3, 1, 5)
		if st.NumDeleted != 2 || st.NumSubjects != 2 {
			t.Fatalf("after deletes: num_deleted=%d num_subjects=%d, want 2 2", st.NumDeleted, st.NumSubjects)
		}
		// Deleting a deleted message again reports the sequence missing.
		err = s.DeleteMsg(ctx, 2)
		if !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
			t.Fatalf("delete 2 again: %v, want ErrMsgDeleteUnsuccessful", err)
		}
		jssWantErr(t, "delete 2 again", err, 10043, "sequence 2 not found")
		jssWantAPIErr(t, nc, "$JS.API.STREAM.MSG.DELETE.K", `{"seq":2,"no_erase":true}`, "io.nats.jetstream.api.v1.stream_msg_delete_response",
			jssAPIError{400, 10043, "sequence 2 not found"})
		resp = jssAPI(t, nc, "$JS.API.STREAM.MSG.DELETE.K", `{"seq":99}`)
		if e, _ := resp["error"].(map[string]any); e == nil || e["err_code"] != 10057.0 {
			t.Fatalf("delete 99: %v, want err_code 10057", resp)
		}
		resp = jssAPI(t, nc, "$JS.API.STREAM.MSG.DELETE.K", `{"seq":1,"no_erase":true}`)
		if resp["type"] != "io.nats.jetstream.api.v1.stream_msg_delete_response" || resp["success"] != true {
			t.Fatalf("raw delete 1: %v", resp)
		}
		// Deleting the first message moves first_seq; the gap at 2 is not counted twice.
		st = jssWantState(t, ctx, s, 2, 3, 5)
		if st.NumDeleted != 1 {
			t.Fatalf("after deleting 1: num_deleted=%d, want 1 (seq 4)", st.NumDeleted)
		}

		// deny_delete and deny_purge.
		dd := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "DENY", Subjects: []string{"deny"}, DenyDelete: true, DenyPurge: true})
		if c := dd.CachedInfo().Config; !c.DenyDelete || !c.DenyPurge {
			t.Fatalf("deny flags not in config: %+v", c)
		}
		jssPub(t, ctx, js, "deny", "x")
		jssPub(t, ctx, js, "deny", "y")
		jssWantErr(t, "delete with deny_delete", dd.DeleteMsg(ctx, 1), 10057, "message delete not permitted")
		jssWantErr(t, "purge with deny_purge", dd.Purge(ctx), 10110, "stream purge not permitted")
		jssWantAPIErr(t, nc, "$JS.API.STREAM.MSG.DELETE.DENY", `{"seq":1}`, "io.nats.jetstream.api.v1.stream_msg_delete_response",
			jssAPIError{500, 10057, "message delete not permitted"})
		jssWantAPIErr(t, nc, "$JS.API.STREAM.PURGE.DENY", "", "io.nats.jetstream.api.v1.stream_purge_response",
			jssAPIError{500, 10110, "stream purge not permitted"})
		jssWantState(t, ctx, dd, 2, 1, 2)
	})
}

func TestJSStreamDirectGet(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "D", Subjects: []string{"d.*"}, AllowDirect: true})
		if !s.CachedInfo().Config.AllowDirect {
			t.Fatalf("allow_direct not in the created config")
		}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "d.a", Data: []byte("1"), Header: nats.Header{"X-Test": {"v"}}}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		jssPub(t, ctx, js, "d.b", "2")
		jssPub(t, ctx, js, "d.a", "3")

		// The client uses $JS.API.DIRECT.GET because the stream allows it.
		if m, err := s.GetMsg(ctx, 2); err != nil || m.Subject != "d.b" || m.Sequence != 2 || string(m.Data) != "2" {
			t.Fatalf("direct get 2: %+v %v", m, err)
		}
		if m, err := s.GetMsg(ctx, 1); err != nil || m.Header.Get("X-Test") != "v" {
			t.Fatalf("direct get 1: %+v %v, want header X-Test: v", m, err)
		}
		if m, err := s.GetLastMsgForSubject(ctx, "d.a"); err != nil || m.Sequence != 3 || string(m.Data) != "3" {
			t.Fatalf("direct last for d.a: %+v %v", m, err)
		}
		if m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("d.b")); err != nil || m.Sequence != 2 {
			t.Fatalf("direct next d.b from 1: %+v %v", m, err)
		}
		if _, err := s.GetMsg(ctx, 99); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("direct get 99: %v, want ErrMsgNotFound", err)
		}
		if _, err := s.GetLastMsgForSubject(ctx, "d.none"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("direct last for d.none: %v, want ErrMsgNotFound", err)
		}

		// Raw: last message by subject in the request subject.
		wantHdrs := func(what string, m *nats.Msg, subj, seq, data string) {
			t.Helper()
			if m.Header.Get("Nats-Stream") != "D" || m.Header.Get("Nats-Subject") != subj || m.Header.Get("Nats-Sequence") != seq ||
				string(m.Data) != data {
				t.Fatalf("%s: headers %v data %q, want Nats-Stream D Nats-Subject %s Nats-Sequence %s data %q", what, m.Header, m.Data, subj, seq, data)
			}
			ts, err := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
			if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Minute {
				t.Fatalf("%s: Nats-Time-Stamp %q (%v), want an RFC 3339 time of about now", what, m.Header.Get("Nats-Time-Stamp"), err)
			}
			if st := m.Header.Get("Status"); st != "" {
				t.Fatalf("%s: Status header %q on a found message", what, st)
			}
		}
		m, err := nc.Request("$JS.API.DIRECT.GET.D.d.a", nil, 5*time.Second)
		if err != nil {
			t.Fatalf("direct get last d.a: %v", err)
		}
		wantHdrs("direct get last d.a", m, "d.a", "3", "3")
		m, err = nc.Request("$JS.API.DIRECT.GET.D", []byte(`{"seq":1}`), 5*time.Second)
		if err != nil {
			t.Fatalf("direct get seq 1: %v", err)
		}
		wantHdrs("direct get seq 1", m, "d.a", "1", "1")
		if m.Header.Get("X-Test") != "v" {
			t.Errorf("direct get seq 1: stored header X-Test missing: %v", m.Header)
		}
		m, err = nc.Request("$JS.API.DIRECT.GET.D", []byte(`{"last_by_subj":"d.b"}`), 5*time.Second)
		if err != nil {
			t.Fatalf("direct get last_by_subj d.b: %v", err)
		}
		wantHdrs("direct get last_by_subj d.b", m, "d.b", "2", "2")

		// Not found: a 404 status message without a body.
		for _, req := range []struct{ subj, body string }{{"$JS.API.DIRECT.GET.D.d.none", ""}, {"$JS.API.DIRECT.GET.D", `{"seq":99}`}} {
			m, err := nc.Request(req.subj, []byte(req.body), 5*time.Second)
			if err != nil {
				t.Fatalf("direct get %s %s: %v", req.subj, req.body, err)
			}
			if m.Header.Get("Status") != "404" || m.Header.Get("Description") != "Message Not Found" || len(m.Data) != 0 {
				t.Fatalf("direct get %s %s: headers %v data %q, want Status 404 Message Not Found", req.subj, req.body, m.Header, m.Data)
			}
		}

		// Without allow_direct nobody answers the direct subjects.
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "ND", Subjects: []string{"nd"}})
		jssPub(t, ctx, js, "nd", "x")
		if _, err := nc.Request("$JS.API.DIRECT.GET.ND.nd", nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("direct get without allow_direct: %v, want no responders", err)
		}
	})
}

func TestJSStreamRollup(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		rollup := func(subj, data, kind string) (*jetstream.PubAck, error) {
			return js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: []byte(data), Header: nats.Header{"Nats-Rollup": {kind}}})
		}

		no := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "NOROLL", Subjects: []string{"nr.*"}})
		jssPub(t, ctx, js, "nr.a", "1")
		_, err := rollup("nr.a", "2", "sub")
		jssWantErr(t, "rollup without allow_rollup_hdrs", err, 10111, "rollup not permitted")
		jssWantState(t, ctx, no, 1, 1, 1)

		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "ROLL", Subjects: []string{"r.*"}, AllowRollup: true})
		if !s.CachedInfo().Config.AllowRollup {
			t.Fatalf("allow_rollup_hdrs not in the created config")
		}
		jssPub(t, ctx, js, "r.a", "1")
		jssPub(t, ctx, js, "r.a", "2")
		jssPub(t, ctx, js, "r.b", "3")
		if ack, err := rollup("r.a", "4", "sub"); err != nil || ack.Sequence != 4 {
			t.Fatalf("rollup sub: %+v %v, want seq 4", ack, err)
		}
		jssWantState(t, ctx, s, 2, 3, 4)
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatalf("info: %v", err)
		}
		if want := map[string]uint64{"r.a": 1, "r.b": 1}; !reflect.DeepEqual(info.State.Subjects, want) {
			t.Fatalf("after rollup sub: subjects %v, want %v", info.State.Subjects, want)
		}
		if m, err := s.GetMsg(ctx, 4); err != nil || m.Header.Get("Nats-Rollup") != "sub" {
			t.Fatalf("rollup message keeps its header: %+v %v", m, err)
		}

		jssPub(t, ctx, js, "r.b", "5")
		if ack, err := rollup("r.c", "6", "all"); err != nil || ack.Sequence != 6 {
			t.Fatalf("rollup all: %+v %v, want seq 6", ack, err)
		}
		st := jssWantState(t, ctx, s, 1, 6, 6)
		if st.NumSubjects != 1 {
			t.Fatalf("after rollup all: %d subjects, want 1", st.NumSubjects)
		}

		_, err = rollup("r.c", "7", "bogus")
		jssWantErr(t, "rollup bogus", err, 10111, `rollup value invalid: "bogus"`)
		jssWantState(t, ctx, s, 1, 6, 6)
	})
}

func TestJSStreamInfoDetails(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "INFO", Subjects: []string{"a.*", "b.*"}})
		for _, subj := range []string{"a.x", "a.x", "a.y", "b.z", "b.z", "b.z"} {
			jssPub(t, ctx, js, subj, "data")
		}

		for _, tc := range []struct {
			filter string
			want   map[string]uint64
		}{
			{">", map[string]uint64{"a.x": 2, "a.y": 1, "b.z": 3}},
			{"a.*", map[string]uint64{"a.x": 2, "a.y": 1}},
			{"b.z", map[string]uint64{"b.z": 3}},
			{"c.*", nil},
		} {
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(tc.filter))
			if err != nil {
				t.Fatalf("info with filter %q: %v", tc.filter, err)
			}
			got := info.State.Subjects
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("subjects for filter %q = %v, want %v", tc.filter, got, tc.want)
			}
			if info.State.NumSubjects != 3 {
				t.Errorf("num_subjects with filter %q = %d, want 3", tc.filter, info.State.NumSubjects)
			}
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("info: %v", err)
		}
		// Without a filter there is no subjects map; the bytes follow the
		// file store's accounting: 22+len(subject)+len(data)+8 per message.
		if info.State.Subjects != nil || info.State.NumSubjects != 3 || info.State.Bytes != 6*(22+3+4+8) {
			t.Errorf("info without filter: subjects=%v num_subjects=%d bytes=%d, want nil 3 %d",
				info.State.Subjects, info.State.NumSubjects, info.State.Bytes, 6*(22+3+4+8))
		}
		if info.State.FirstTime.IsZero() || info.State.LastTime.Before(info.State.FirstTime) {
			t.Errorf("first_ts %v last_ts %v", info.State.FirstTime, info.State.LastTime)
		}

		// Raw: subjects_filter gives a subjects object and a total.
		resp := jssAPI(t, nc, "$JS.API.STREAM.INFO.INFO", `{"subjects_filter":"a.*"}`)
		state, _ := resp["state"].(map[string]any)
		if state == nil || fmt.Sprint(state["subjects"]) != "map[a.x:2 a.y:1]" || jssNum(t, resp, "total") != 2 {
			t.Errorf("raw info with subjects_filter: total %v state %v", resp["total"], state)
		}

		for _, seq := range []uint64{2, 4, 5} {
			if err := s.DeleteMsg(ctx, seq); err != nil {
				t.Fatalf("delete %d: %v", seq, err)
			}
		}
		info, err = s.Info(ctx, jetstream.WithDeletedDetails(true))
		if err != nil {
			t.Fatalf("info with deleted details: %v", err)
		}
		if st := info.State; !slices.Equal(st.Deleted, []uint64{2, 4, 5}) || st.NumDeleted != 3 || st.Msgs != 3 {
			t.Fatalf("deleted details: deleted=%v num_deleted=%d msgs=%d, want [2 4 5] 3 3", st.Deleted, st.NumDeleted, st.Msgs)
		}
		info, err = s.Info(ctx)
		if err != nil {
			t.Fatalf("info: %v", err)
		}
		if st := info.State; st.Deleted != nil || st.NumDeleted != 3 {
			t.Fatalf("without deleted details: deleted=%v num_deleted=%d, want nil 3", st.Deleted, st.NumDeleted)
		}
		resp = jssAPI(t, nc, "$JS.API.STREAM.INFO.INFO", `{"deleted_details":true}`)
		state, _ = resp["state"].(map[string]any)
		if state == nil || fmt.Sprint(state["deleted"]) != "[2 4 5]" || state["num_deleted"] != 3.0 {
			t.Errorf("raw info with deleted_details: state %v", state)
		}
	})
}

func TestJSStreamRestart(t *testing.T) {
	// ForEach picks the targets; each one then runs on its own store
	// directory, started twice.
	harness.ForEach(t, harness.Options{}, func(t *testing.T, probe *harness.Target) {
		probe.Shutdown()
		opts := harness.Options{JetStream: true, StoreDir: t.TempDir()}
		tg := harness.Start(t, probe.Name, opts)
		_, js, ctx := jsConnect(t, tg)

		cfg := jetstream.StreamConfig{
			Name: "DUR", Description: "durable", Subjects: []string{"dur.*"},
			MaxMsgs: 100, MaxMsgsPerSubject: 10, AllowDirect: true, AllowRollup: true, Duplicates: time.Minute,
		}
		created := jssCreate(t, ctx, js, cfg).CachedInfo()
		jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "MEM", Subjects: []string{"mem"}, Storage: jetstream.MemoryStorage})
		jssPub(t, ctx, js, "mem", "gone after restart")
		for i := 1; i <= 5; i++ {
			msg := &nats.Msg{Subject: fmt.Sprintf("dur.%d", i%2), Data: []byte(fmt.Sprint("m", i)), Header: nats.Header{"X-I": {fmt.Sprint(i)}}}
			if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprint("id-", i))); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		s, err := js.Stream(ctx, "DUR")
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if err := s.DeleteMsg(ctx, 3); err != nil {
			t.Fatalf("delete 3: %v", err)
		}
		tg.Shutdown()

		tg = harness.Start(t, probe.Name, opts)
		_, js, ctx = jsConnect(t, tg)
		s, err = js.Stream(ctx, "DUR")
		if err != nil {
			t.Fatalf("stream after restart: %v", err)
		}
		info := s.CachedInfo()
		c := info.Config
		if c.Description != cfg.Description || !slices.Equal(c.Subjects, cfg.Subjects) || c.MaxMsgs != 100 || c.MaxMsgsPerSubject != 10 ||
			!c.AllowDirect || !c.AllowRollup || c.Duplicates != time.Minute || c.Storage != jetstream.FileStorage {
			t.Fatalf("config after restart: %+v", c)
		}
		if !info.Created.Equal(created.Created) {
			t.Errorf("created after restart %v, want %v", info.Created, created.Created)
		}
		if st := info.State; st.Msgs != 4 || st.FirstSeq != 1 || st.LastSeq != 5 || st.NumDeleted != 1 || st.NumSubjects != 2 {
			t.Fatalf("state after restart: %+v, want 4 messages 1..5, 1 deleted, 2 subjects", st)
		}
		for _, seq := range []uint64{1, 5} {
			m, err := s.GetMsg(ctx, seq)
			if err != nil || string(m.Data) != fmt.Sprint("m", seq) || m.Header.Get("X-I") != fmt.Sprint(seq) || m.Subject != fmt.Sprintf("dur.%d", seq%2) {
				t.Fatalf("message %d after restart: %+v %v", seq, m, err)
			}
		}
		if _, err := s.GetMsg(ctx, 3); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("deleted message 3 after restart: %v, want ErrMsgNotFound", err)
		}
		if m, err := s.GetLastMsgForSubject(ctx, "dur.0"); err != nil || m.Sequence != 4 {
			t.Fatalf("last for dur.0 after restart: %+v %v, want seq 4", m, err)
		}
		// De-duplication survives the restart.
		if ack := jssPub(t, ctx, js, "dur.1", "dup", jetstream.WithMsgID("id-5")); !ack.Duplicate || ack.Sequence != 5 {
			t.Fatalf("duplicate after restart: %+v, want duplicate of seq 5", ack)
		}
		if ack := jssPub(t, ctx, js, "dur.1", "m6", jetstream.WithMsgID("id-6")); ack.Duplicate || ack.Sequence != 6 {
			t.Fatalf("publish after restart: %+v, want seq 6", ack)
		}
		// A memory stream does not survive a restart.
		if _, err := js.Stream(ctx, "MEM"); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("memory stream after restart: %v, want ErrStreamNotFound", err)
		}
		if names := jssNames(t, ctx, js); !slices.Equal(names, []string{"DUR"}) {
			t.Fatalf("names after restart = %v", names)
		}
	})
}

// jsConnect connects to tg and returns the connection, a JetStream handle
// and a context that bounds every call of the test.
func jsConnect(t *testing.T, tg *harness.Target) (*nats.Conn, jetstream.JetStream, context.Context) {
	t.Helper()
	nc := connect(t, tg)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("%s: jetstream.New: %v", tg.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return nc, js, ctx
}
