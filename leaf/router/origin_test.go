package router

import "testing"

// originRecorder is an OriginAware receiver remembering each origin.
type originRecorder struct {
	origins []Receiver
	plain   int
}

func (o *originRecorder) Deliver(*Sub, []byte, []byte, []byte, []byte) bool {
	o.plain++
	return false
}

func (o *originRecorder) DeliverFrom(p *Publisher, _ *Sub, _, _, _, _ []byte) bool {
	o.origins = append(o.origins, p.Origin)
	return false
}

func (o *originRecorder) Flush() {}

func TestOriginAwareGetsPublisherOrigin(t *testing.T) {
	r := New()
	rec := &originRecorder{}
	mustSub(t, r, &Sub{Subject: "api.>", Receiver: rec})
	mustSub(t, r, &Sub{Subject: "q.>", Queue: "g", Receiver: rec})
	client := &counter{}
	r.Publish(&Publisher{Origin: client}, []byte("api.x"), nil, nil, nil)
	r.Publish(&Publisher{}, []byte("api.y"), nil, nil, nil)
	r.Publish(&Publisher{Origin: client}, []byte("q.z"), nil, nil, nil)
	if rec.plain != 0 {
		t.Fatalf("Deliver called %d times on an OriginAware receiver", rec.plain)
	}
	want := []Receiver{client, nil, client}
	if len(rec.origins) != len(want) {
		t.Fatalf("origins %v, want %v", rec.origins, want)
	}
	for i := range want {
		if rec.origins[i] != want[i] {
			t.Fatalf("origin %d: %v, want %v", i, rec.origins[i], want[i])
		}
	}
}
