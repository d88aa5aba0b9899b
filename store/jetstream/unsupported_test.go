package jetstream

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/store/jsapi"
)

// Every configuration field of nats-server 2.15 that leafgate does not
// implement is refused, and nothing is created; a default value is
// accepted and not echoed back.
func TestUnsupportedConfigRefused(t *testing.T) {
	e := openEnv(t, t.TempDir())
	for _, tc := range []struct {
		field string
		code  int
		desc  string
	}{
		{`"allow_msg_counter":true`, 10052, "message counters (allow_msg_counter) are not supported"},
		{`"allow_atomic":true`, 10052, "atomic batch publish (allow_atomic) is not supported"},
		{`"allow_batched":true`, 10052, "fast batch publish (allow_batched) is not supported"},
		{`"persist_mode":"async"`, 10052, "async persist mode is not supported"},
		{`"persist_mode":"sometimes"`, 10025, ""},
		// Without sync/sourcing running (no Config.Follower) mirrors
		// and sources are refused; sync/sourcing's tests cover them.
		{`"mirror":{"name":"O"}`, 10052, "need replication, which is not running"},
		{`"sources":[{"name":"O"}]`, 10052, "need replication, which is not running"},
		{`"num_replicas":3`, 10074, ""},
	} {
		for _, op := range []string{"CREATE", "UPDATE"} {
			if op == "UPDATE" {
				e.createStream(jsapi.StreamConfig{Name: "U", Subjects: []string{"u"}})
			}
			m := e.request("$JS.API.STREAM."+op+".U", `{"name":"U","subjects":["u"],`+tc.field+`}`)
			var resp jsapi.Response
			_ = json.Unmarshal(m.data, &resp)
			if resp.Error == nil || int(resp.Error.ErrCode) != tc.code || !strings.Contains(resp.Error.Description, tc.desc) {
				t.Errorf("%s %s: %s", op, tc.field, m.data)
			}
			key, _, _ := strings.Cut(tc.field, ":")
			var info struct {
				jsapi.Response
				jsapi.StreamInfo
			}
			m = e.request("$JS.API.STREAM.INFO.U", nil)
			_ = json.Unmarshal(m.data, &info)
			if op == "CREATE" && info.Error == nil {
				t.Errorf("%s: stream created", tc.field)
			}
			if strings.Contains(string(m.data), key) && key != `"num_replicas"` {
				t.Errorf("%s %s: echoed back: %s", op, tc.field, m.data)
			}
			e.request("$JS.API.STREAM.DELETE.U", nil)
		}
	}
	m := e.request("$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"persist_mode":"default"}`)
	if strings.Contains(string(m.data), `"error"`) || strings.Contains(string(m.data), "persist_mode") {
		t.Errorf("default persist mode: %s", m.data)
	}
	// Direct (a mirror's or source's) consumers are served, with
	// nats-server's checks (source_origin_test.go has the rest).
	for _, tc := range []struct {
		field string
		code  uint16
	}{
		{`"direct":true`, 10090},
		{`"ack_policy":"flow_control"`, 10218},
		{`"ack_policy":"flow_control","deliver_subject":"dd","ack_wait":1000000000`, 10221},
		{`"ack_policy":"flow_control","deliver_subject":"dd","max_deliver":3`, 10222},
	} {
		m := e.request("$JS.API.CONSUMER.CREATE.D", `{"stream_name":"D","config":{`+tc.field+`}}`)
		var resp jsapi.Response
		_ = json.Unmarshal(m.data, &resp)
		if resp.Error == nil || resp.Error.ErrCode != tc.code {
			t.Errorf("consumer %s: %s", tc.field, m.data)
		}
	}
	m = e.request("$JS.API.CONSUMER.CREATE.D.X", `{"stream_name":"D","config":{"durable_name":"X","direct":true,"deliver_subject":"dd"}}`)
	if !strings.Contains(string(m.data), `"err_code":10091`) {
		t.Errorf("durable direct consumer: %s", m.data)
	}
}
