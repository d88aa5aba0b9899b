package jetstream

import (
	"testing"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/store/jsapi"
)

func TestJszDetail(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "B", Subjects: []string{"b"}})
	e.createStream(jsapi.StreamConfig{Name: "A", Subjects: []string{"a"}})
	e.publish("a", "x")
	e.publish("a", "yy")
	e.publish("b", "z")
	var resp jsapi.Response
	e.api("CONSUMER.DURABLE.CREATE.A.D", map[string]any{"stream_name": "A", "config": map[string]any{"durable_name": "D", "ack_policy": "explicit"}}, &resp)
	if resp.Error != nil {
		t.Fatalf("create consumer: %+v", resp.Error)
	}

	tests := []struct {
		name              string
		opts              monitor.JszOptions
		accounts, streams int // listed
		consumers         int // listed under stream A
		config            bool
	}{
		{"plain", monitor.JszOptions{}, 0, 0, 0, false},
		{"accounts", monitor.JszOptions{Accounts: true}, 1, 0, 0, false},
		{"accounts offset", monitor.JszOptions{Accounts: true, Offset: 1}, 0, 0, 0, false},
		{"streams", monitor.JszOptions{Accounts: true, Streams: true}, 1, 2, 0, false},
		{"all", monitor.JszOptions{Accounts: true, Streams: true, Consumers: true, Config: true}, 1, 2, 1, true},
		{"consumers no config", monitor.JszOptions{Accounts: true, Streams: true, Consumers: true}, 1, 2, 1, false},
		{"acc $G", monitor.JszOptions{Account: "$G", Streams: true}, 1, 2, 0, false},
		{"acc other", monitor.JszOptions{Account: "other", Streams: true}, 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := e.svc.Jsz(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if info.Streams != 2 || info.Consumers != 1 || info.Messages != 3 || info.Bytes == 0 ||
				info.Accounts != 1 || info.Total != 1 || info.API.Level != APILevel || info.API.Total < 3 {
				t.Fatalf("totals %+v", info)
			}
			if len(info.AccountDetails) != tc.accounts {
				t.Fatalf("%d accounts listed, want %d", len(info.AccountDetails), tc.accounts)
			}
			if tc.accounts == 0 {
				return
			}
			a := info.AccountDetails[0]
			if a.Name != "$G" || a.ID != "$G" || a.Store != info.Store || len(a.Streams) != tc.streams {
				t.Fatalf("account %+v", a)
			}
			if tc.streams == 0 {
				return
			}
			sa := a.Streams[0]
			if sa.Name != "A" || a.Streams[1].Name != "B" {
				t.Fatalf("streams %q, %q: want sorted A, B", sa.Name, a.Streams[1].Name)
			}
			if st := sa.State.(jsapi.StreamState); st.Msgs != 2 || st.Consumers != 1 {
				t.Fatalf("state %+v", st)
			}
			if (sa.Config != nil) != tc.config || len(sa.Consumer) != tc.consumers {
				t.Fatalf("config %v consumers %v", sa.Config, sa.Consumer)
			}
			if tc.consumers > 0 {
				ci := sa.Consumer[0].(*jsapi.ConsumerInfo)
				if ci.Name != "D" || (ci.Config != nil) != tc.config {
					t.Fatalf("consumer %+v", ci)
				}
			}
		})
	}

	v := e.svc.JetStreamVarz()
	if v.Config == nil || v.Config.StoreDir != e.dir || v.Stats == nil || v.Stats.Accounts != 1 || v.Stats.Store == 0 || v.Limits == nil {
		t.Fatalf("varz %+v", v)
	}
}
