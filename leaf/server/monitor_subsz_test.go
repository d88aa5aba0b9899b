package server_test

import (
	"fmt"
	"testing"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
)

func TestSubszFromRouter(t *testing.T) {
	s := servertest.Run(t, server.Options{MonitorListen: "-"})
	c := dialRaw(t, s, quiet)
	c.send("SUB foo.* 1\r\nSUB foo.bar q 2\r\nSUB baz 3\r\nSUB gone 4\r\nUNSUB 4\r\nPUB foo.bar 2\r\nhi\r\nPUB foo.bar 2\r\nhi\r\nPING\r\n")
	c.expect("MSG foo.bar 1 2")
	c.expect("hi")
	c.expect("MSG foo.bar 2 2")
	c.expect("hi")
	c.expect("MSG foo.bar 1 2")
	c.expect("hi")
	c.expect("MSG foo.bar 2 2")
	c.expect("hi")
	c.expect("PONG")

	sz, err := s.Subsz(monitor.SubszOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := sz.SublistStats
	if st.NumSubs != 3 || st.NumInserts != 4 || st.NumRemoves != 1 || sz.Subs != nil {
		t.Fatalf("stats %+v subs %v", st, sz.Subs)
	}
	if st.NumCache != 1 || st.MaxFanout != 2 || st.AvgFanout != 2 {
		t.Errorf("cache %d max_fanout %d avg_fanout %v, want 1, 2, 2 (foo.bar cached after two publishes)",
			st.NumCache, st.MaxFanout, st.AvgFanout)
	}

	tests := []struct {
		test string
		want []string // sids
	}{
		{"", []string{"1", "2", "3"}},
		{"foo.bar", []string{"1", "2"}},
		{"foo.x", []string{"1"}},
		{"nothing", nil},
	}
	for _, tc := range tests {
		sz, err := s.Subsz(monitor.SubszOptions{Subscriptions: true, Test: tc.test})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range sz.Subs {
			got = append(got, d.Sid)
			if d.Cid == 0 || d.Account != "$G" {
				t.Errorf("test %q: detail %+v lacks cid or account", tc.test, d)
			}
			if d.Sid == "1" && d.Msgs != 2 {
				t.Errorf("sid 1 msgs %d, want 2", d.Msgs)
			}
			if d.Sid == "2" && d.Queue != "q" {
				t.Errorf("sid 2 qgroup %q", d.Queue)
			}
		}
		if len(got) != len(tc.want) || (len(got) > 0 && fmt.Sprint(got) != fmt.Sprint(tc.want)) {
			t.Errorf("test %q: sids %v, want %v", tc.test, got, tc.want)
		}
	}
}
