package downlink

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
)

// heldStore is a durable subscriber (as an MQTT persistent session's
// queue is) whose stores the test completes by hand.
type heldStore struct {
	mu      sync.Mutex
	got     []string
	pending []*router.Confirm
}

func (h *heldStore) Deliver(_ *router.Sub, _, _, _, data []byte) bool {
	return h.DeliverFrom(&router.Publisher{}, nil, nil, nil, nil, data)
}

func (h *heldStore) DeliverFrom(p *router.Publisher, _ *router.Sub, _, _, _, data []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, string(data))
	if p.Confirm != nil {
		p.Confirm.Add()
		h.pending = append(h.pending, p.Confirm)
	}
	return false
}

func (*heldStore) Flush() {}

func (h *heldStore) release() {
	h.mu.Lock()
	p := h.pending
	h.pending = nil
	h.mu.Unlock()
	for _, c := range p {
		c.Done(nil)
	}
}

func (h *heldStore) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func open(t *testing.T, dir string) (*router.Router, *jetstream.Service) {
	t.Helper()
	r := router.New()
	js, err := jetstream.Open(jetstream.Config{Dir: dir}, r)
	if err != nil {
		t.Fatal(err)
	}
	return r, js
}

type box chan []byte

func (b box) Deliver(_ *router.Sub, _, _, _, data []byte) bool {
	b <- append([]byte(nil), data...)
	return false
}
func (box) Flush() {}

func request(t *testing.T, r *router.Router, subj string, body any) []byte {
	t.Helper()
	b := make(box, 1)
	sub := &router.Sub{Subject: "_INBOX.t", Receiver: b}
	_ = r.Subscribe(sub)
	defer func() { _ = r.Unsubscribe(sub) }()
	var data []byte
	switch v := body.(type) {
	case string:
		data = []byte(v)
	default:
		data, _ = json.Marshal(v)
	}
	r.Publish(&router.Publisher{}, []byte(subj), []byte("_INBOX.t"), nil, data)
	select {
	case m := <-b:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer", subj)
		return nil
	}
}

func waitDelivered(t *testing.T, d *Downlink, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for d.Status().Delivered != seq {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, want %d", d.Status().Delivered, seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The position advances only once the durable subscriber has stored a
// message; after a restart nothing it stored comes again, and what it
// had not stored does.
func TestDownlinkWaitsForStores(t *testing.T) {
	dir := t.TempDir()
	r, js := open(t, dir)
	request(t, r, "$JS.API.STREAM.CREATE.C", jsapi.StreamConfig{Name: "C", Subjects: []string{"in.>"}})
	h := &heldStore{}
	if err := r.Subscribe(&router.Sub{Subject: "out.>", Receiver: h}); err != nil {
		t.Fatal(err)
	}
	tr, _ := subject.NewTransform("in.>", "out.>")
	d := Start(Config{Stream: "C", Filter: "in.>", Transform: tr}, js, r, nil)
	for i := range 3 {
		request(t, r, "in.dev1", fmt.Sprint(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.received()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("received %v", h.received())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := d.Status().Delivered; got != 0 {
		t.Fatalf("position %d before the subscriber stored anything", got)
	}
	h.release()
	waitDelivered(t, d, 3)
	request(t, r, "in.dev1", "3") // not stored by the subscriber before the restart
	for len(h.received()) < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	d.Close()
	_ = js.Close()

	r, js = open(t, dir)
	defer js.Close()
	h2 := &heldStore{}
	if err := r.Subscribe(&router.Sub{Subject: "out.>", Receiver: h2}); err != nil {
		t.Fatal(err)
	}
	d = Start(Config{Stream: "C", Filter: "in.>", Transform: tr}, js, r, nil)
	defer d.Close()
	deadline = time.Now().Add(5 * time.Second)
	for len(h2.received()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the unstored message was not delivered again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := d.Status().Delivered; got != 3 {
		t.Fatalf("delivered after the restart %d, want the stored 3", got)
	}
	h2.release()
	waitDelivered(t, d, 4)
	if got := h2.received(); len(got) != 1 || got[0] != "3" {
		t.Fatalf("after the restart: %v, want only [3]", got)
	}
}
