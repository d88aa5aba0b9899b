package router

import "testing"

func TestStatsCountsSubscribes(t *testing.T) {
	r := New()
	c := &counter{}
	subs := []*Sub{{Subject: "a", Receiver: c}, {Subject: "b", Queue: "q", Receiver: c}, {Subject: "c.>", Receiver: c}}
	for _, s := range subs {
		if err := r.Subscribe(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Unsubscribe(subs[0]); err != nil {
		t.Fatal(err)
	}
	_ = r.Unsubscribe(subs[0]) // not counted: not subscribed
	_ = r.Subscribe(&Sub{Subject: "bad..subject", Receiver: c})
	st := r.Stats()
	if st.Subscriptions != 2 || st.Inserts != 3 || st.Removes != 1 {
		t.Fatalf("stats %+v", st)
	}
	n := 0
	r.Each(func(*Sub) { n++ })
	if n != 2 {
		t.Fatalf("Each visited %d, want 2", n)
	}
}
