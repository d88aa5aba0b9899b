package server_test

import (
	"testing"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

type fakeJetStream struct{}

func (fakeJetStream) Jsz(monitor.JszOptions) (*monitor.JSInfo, error) {
	return &monitor.JSInfo{Streams: 1, AccountDetails: []*monitor.AccountDetail{{Name: "$G", Streams: []monitor.StreamDetail{{Name: "S"}}}}}, nil
}

func (fakeJetStream) JetStreamVarz() *monitor.JetStreamVarz {
	return &monitor.JetStreamVarz{Stats: &monitor.JetStreamStats{Accounts: 1}}
}

func TestServerJsz(t *testing.T) {
	s := servertest.Run(t, server.Options{ServerName: "gw", MonitorListen: "-"})
	info, err := s.Jsz(monitor.JszOptions{})
	if err != nil || !info.Disabled || info.ID == "" || info.Now.IsZero() {
		t.Fatalf("without JetStream: %+v, %v", info, err)
	}
	if v := s.Varz(); v.JetStream.Stats != nil || v.JetStream.Config != nil {
		t.Fatalf("varz jetstream without JetStream: %+v", v.JetStream)
	}
	s.SetJetStream(fakeJetStream{})
	info, err = s.Jsz(monitor.JszOptions{})
	if err != nil || info.Disabled || info.ID == "" || info.Streams != 1 {
		t.Fatalf("with JetStream: %+v, %v", info, err)
	}
	if c := info.AccountDetails[0].Streams[0].Cluster; c == nil || c.Leader != "gw" {
		t.Fatalf("stream cluster %+v, want leader gw", c)
	}
	if v := s.Varz(); v.JetStream.Stats == nil || v.JetStream.Stats.Accounts != 1 {
		t.Fatalf("varz jetstream: %+v", v.JetStream)
	}
	s.SetJetStream(nil)
	if info, _ := s.Jsz(monitor.JszOptions{}); !info.Disabled {
		t.Fatal("detached JetStream still reported")
	}
}
