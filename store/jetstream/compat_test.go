package jetstream

import (
	"slices"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// deleted_details lists every deleted sequence, a deleted last message
// included (deleting 2 and 4 of 1..4 reports [2 4], as nats-server).
func TestDeletedDetailsIncludesTail(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	for range 4 {
		e.publish("s", "x")
	}
	for _, seq := range []uint64{2, 4} {
		var resp struct {
			jsapi.Response
			Success bool `json:"success"`
		}
		e.api("STREAM.MSG.DELETE.S", map[string]any{"seq": seq}, &resp)
		if !resp.Success {
			t.Fatalf("delete %d: %+v", seq, resp.Error)
		}
	}
	var info struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.S", map[string]any{"deleted_details": true}, &info)
	if info.State.NumDeleted != 2 || !slices.Equal(info.State.Deleted, []uint64{2, 4}) {
		t.Fatalf("num_deleted %d deleted %v, want 2 [2 4]", info.State.NumDeleted, info.State.Deleted)
	}
}

// A no_ack stream stores what it captures without answering the
// publisher: a stream over request subjects must not put a PubAck into
// the requester's inbox.
func TestNoAckStreamSendsNoPubAck(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "R", Subjects: []string{"req.>"}, NoAck: true})
	ib := newInbox(t, e.r, "_INBOX.requester")
	e.r.Publish(&router.Publisher{}, []byte("req.1"), []byte("_INBOX.requester"), nil, []byte("q"))
	var info struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.api("STREAM.INFO.R", nil, &info)
		if info.State.Msgs == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	// Operations run on the stream's goroutine only between commits, so
	// once this one has run the commit's answers have been published.
	e.svc.lookup("R").do(func() {})
	if n := ib.count(); n != 0 {
		t.Fatalf("the requester got %d replies from a no_ack stream", n)
	}
}
