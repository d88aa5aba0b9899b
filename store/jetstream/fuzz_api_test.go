package jetstream

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// apiOps are the requests FuzzAPI sends, each with the fuzzed body. The
// stream S holds messages on s.1 … s.4; "pub" publishes with the body as
// header lines (Nats-Expected-*, Nats-TTL, Nats-Rollup, Nats-Msg-Id …).
var apiOps = []string{
	"$JS.API.STREAM.INFO.S",
	"$JS.API.STREAM.MSG.GET.S",
	"$JS.API.DIRECT.GET.S",
	"$JS.API.DIRECT.GET.S.s.2",
	"$JS.API.STREAM.PURGE.S",
	"$JS.API.STREAM.MSG.DELETE.S",
	"$JS.API.STREAM.UPDATE.S",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.LIST",
	"$JS.API.CONSUMER.CREATE.S",
	"$JS.API.CONSUMER.LIST.S",
	"$JS.API.CONSUMER.MSG.NEXT.S.PULL",
	"$JS.API.STREAM.CREATE.X",
	"pub",
}

// fuzzReplies routes the first reply on each _R.<n> subject to the request
// waiting for it; later replies (batched direct gets) are dropped.
type fuzzReplies struct{ waiting sync.Map } // reply subject → chan []byte

func (f *fuzzReplies) Deliver(_ *router.Sub, subj, _, _, data []byte) bool {
	if ch, ok := f.waiting.LoadAndDelete(string(subj)); ok {
		ch.(chan []byte) <- append([]byte(nil), data...)
	}
	return false
}
func (f *fuzzReplies) Flush() {}

// FuzzAPI sends arbitrary request bodies (and publish headers) to a live
// service: every request is answered within seconds, nothing panics, and
// the service still answers afterwards.
func FuzzAPI(f *testing.F) {
	for op, body := range map[int]string{
		0:  `{"subjects_filter":">","deleted_details":true,"offset":2}`,
		1:  `{"seq":3}`,
		2:  `{"last_by_subj":"s.1"}`,
		3:  ``,
		4:  `{"filter":"s.1","keep":1}`,
		5:  `{"seq":2,"no_erase":true}`,
		6:  `{"name":"S","subjects":["s.>"],"storage":"memory","max_msgs_per_subject":2}`,
		7:  `{"offset":-1,"subject":"s.*"}`,
		8:  `{"offset":1000000}`,
		9:  `{"stream_name":"S","config":{"name":"C","filter_subject":"s.1","deliver_policy":"by_start_sequence","opt_start_seq":18446744073709551615}}`,
		10: `{"offset":3}`,
		11: `{"batch":3,"no_wait":true}`,
		12: `{"name":"X","subjects":["s.>"]}`,
		13: "Nats-Expected-Last-Sequence: 5\r\nNats-Msg-Id: a",
	} {
		f.Add(uint8(op), []byte(body))
	}
	f.Add(uint8(13), []byte("Nats-Rollup: sub\r\nNats-TTL: 1s"))
	f.Add(uint8(13), []byte("Nats-Expected-Last-Subject-Sequence: 18446744073709551615"))
	f.Add(uint8(2), []byte(`{"multi_last":["s.*"],"batch":2,"up_to_seq":3}`))

	r := router.New()
	svc, err := Open(Config{Dir: f.TempDir()}, r)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = svc.Close() })
	replies := &fuzzReplies{}
	if err := r.Subscribe(&router.Sub{Subject: "_R.>", Receiver: replies}); err != nil {
		f.Fatal(err)
	}
	var seq atomic.Uint64
	request := func(subj string, hdr, body []byte) ([]byte, bool) {
		reply := fmt.Appendf(nil, "_R.%d", seq.Add(1))
		ch := make(chan []byte, 1)
		replies.waiting.Store(string(reply), ch)
		defer replies.waiting.Delete(string(reply))
		r.Publish(&router.Publisher{}, []byte(subj), reply, hdr, body)
		select {
		case m := <-ch:
			return m, true
		case <-time.After(5 * time.Second):
			return nil, false
		}
	}
	mustAnswer := func(subj string, hdr, body []byte) []byte {
		m, ok := request(subj, hdr, body)
		if !ok {
			f.Fatalf("no answer to %s %q", subj, body)
		}
		return m
	}
	// reset recreates S with messages on four subjects and a pull consumer.
	reset := func() {
		mustAnswer("$JS.API.STREAM.DELETE.S", nil, nil)
		mustAnswer("$JS.API.STREAM.DELETE.X", nil, nil)
		cfg := `{"name":"S","subjects":["s.>"],"storage":"memory","max_msgs_per_subject":5,"allow_direct":true,"allow_rollup_hdrs":true,"allow_msg_ttl":true,"duplicate_window":1000000000}`
		var resp jsapi.Response
		if err := json.Unmarshal(mustAnswer("$JS.API.STREAM.CREATE.S", nil, []byte(cfg)), &resp); err != nil || resp.Error != nil {
			f.Fatalf("create S: %v %+v", err, resp.Error)
		}
		for i := 0; i < 20; i++ {
			mustAnswer(fmt.Sprintf("s.%d", i%4+1), nil, []byte("m"))
		}
		mustAnswer("$JS.API.CONSUMER.CREATE.S.PULL", nil, []byte(`{"stream_name":"S","config":{"durable_name":"PULL","ack_policy":"explicit"}}`))
	}
	reset()
	var execs atomic.Int64
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		if execs.Add(1)%200 == 0 {
			reset() // keep the stream populated and consumers few
		}
		subj := apiOps[int(op)%len(apiOps)]
		switch subj {
		case "pub":
			hdr := append(append([]byte("NATS/1.0\r\n"), body...), "\r\n\r\n"...)
			m, ok := request("s.1", hdr, []byte("x"))
			if !ok {
				t.Fatalf("no pub ack for headers %q", body)
			}
			var ack jsapi.PubAckResponse
			if err := json.Unmarshal(m, &ack); err != nil {
				t.Fatalf("pub ack %q: %v", m, err)
			}
		case "$JS.API.CONSUMER.MSG.NEXT.S.PULL":
			// A pull request may wait for messages: no answer is required,
			// but it must not break the service (checked below).
			r.Publish(&router.Publisher{}, []byte(subj), fmt.Appendf(nil, "_X.%d", seq.Add(1)), nil, body)
		default:
			m, ok := request(subj, nil, body)
			if !ok {
				t.Fatalf("no answer to %s %q", subj, body)
			}
			if subj == "$JS.API.CONSUMER.CREATE.S" {
				var resp struct {
					jsapi.Response
					jsapi.ConsumerInfo
				}
				if json.Unmarshal(m, &resp) == nil && resp.Error == nil && resp.Name != "" {
					mustAnswer("$JS.API.CONSUMER.DELETE.S."+resp.Name, nil, nil)
				}
			}
		}
		if _, ok := request("$JS.API.INFO", nil, nil); !ok {
			t.Fatalf("service stopped answering after %s %q", subj, body)
		}
	})
}
