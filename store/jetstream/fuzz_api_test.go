package jetstream

import (
	"encoding/json"
	"fmt"
	"runtime"
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
	"$JS.API.CONSUMER.UNPIN.S.PULL",
	"$JS.API.CONSUMER.RESET.S.PULL",
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
	f.Add(uint8(11), []byte(`{"batch":2,"group":"A","priority":3,"min_pending":1,"id":"x"}`))
	f.Add(uint8(14), []byte(`{"group":"A"}`))
	f.Add(uint8(15), []byte(`{"seq":2}`))
	f.Add(uint8(15), []byte(``))

	env := newAPIFuzzEnv(f)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) { env.exec(t, op, body) })
}

// apiFuzzEnv is a live service with stream S, shared by every input of a
// fuzzing process.
type apiFuzzEnv struct {
	r       *router.Router
	replies *fuzzReplies
	seq     atomic.Uint64
	execs   atomic.Int64
	subs    int // router subscriptions right after a reset
}

func newAPIFuzzEnv(tb testing.TB) *apiFuzzEnv {
	e := &apiFuzzEnv{r: router.New(), replies: &fuzzReplies{}}
	svc, err := Open(Config{Dir: tb.TempDir()}, e.r)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = svc.Close() })
	if err := e.r.Subscribe(&router.Sub{Subject: "_R.>", Receiver: e.replies}); err != nil {
		tb.Fatal(err)
	}
	e.reset(tb)
	e.subs = e.r.Count()
	return e
}

// request publishes and waits up to 5 s for the first reply.
func (e *apiFuzzEnv) request(subj string, hdr, body []byte) ([]byte, bool) {
	reply := fmt.Appendf(nil, "_R.%d", e.seq.Add(1))
	ch := make(chan []byte, 1)
	e.replies.waiting.Store(string(reply), ch)
	defer e.replies.waiting.Delete(string(reply))
	e.r.Publish(&router.Publisher{}, []byte(subj), reply, hdr, body)
	select {
	case m := <-ch:
		return m, true
	case <-time.After(5 * time.Second):
		return nil, false
	}
}

func (e *apiFuzzEnv) mustAnswer(tb testing.TB, subj string, hdr, body []byte) []byte {
	tb.Helper()
	m, ok := e.request(subj, hdr, body)
	if !ok {
		tb.Fatalf("no answer to %s %q\n%s", subj, body, goroutines())
	}
	return m
}

// reset recreates S with messages on four subjects and a pull consumer.
func (e *apiFuzzEnv) reset(tb testing.TB) {
	tb.Helper()
	e.mustAnswer(tb, "$JS.API.STREAM.DELETE.S", nil, nil)
	e.mustAnswer(tb, "$JS.API.STREAM.DELETE.X", nil, nil)
	cfg := `{"name":"S","subjects":["s.>"],"storage":"memory","max_msgs_per_subject":5,"allow_direct":true,"allow_rollup_hdrs":true,"allow_msg_ttl":true,"duplicate_window":1000000000}`
	var resp jsapi.Response
	if err := json.Unmarshal(e.mustAnswer(tb, "$JS.API.STREAM.CREATE.S", nil, []byte(cfg)), &resp); err != nil || resp.Error != nil {
		tb.Fatalf("create S: %v %+v", err, resp.Error)
	}
	for i := 0; i < 20; i++ {
		e.mustAnswer(tb, fmt.Sprintf("s.%d", i%4+1), nil, []byte("m"))
	}
	e.mustAnswer(tb, "$JS.API.CONSUMER.CREATE.S.PULL", nil, []byte(`{"stream_name":"S","config":{"durable_name":"PULL","ack_policy":"explicit"}}`))
}

// exec sends one fuzzed request and checks the service still answers.
func (e *apiFuzzEnv) exec(t testing.TB, op uint8, body []byte) {
	if e.execs.Add(1)%200 == 0 {
		e.reset(t) // keep the stream populated and consumers few
		// Whatever the last 200 requests did, deleting and recreating the
		// streams leaves the router as the first reset did.
		if n := e.r.Count(); n != e.subs {
			t.Fatalf("%d router subscriptions after a reset, %d after the first", n, e.subs)
		}
	}
	subj := apiOps[int(op)%len(apiOps)]
	switch subj {
	case "pub":
		hdr := append(append([]byte("NATS/1.0\r\n"), body...), "\r\n\r\n"...)
		m, ok := e.request("s.1", hdr, []byte("x"))
		if !ok {
			t.Fatalf("no pub ack for headers %q\n%s", body, goroutines())
		}
		var ack jsapi.PubAckResponse
		if err := json.Unmarshal(m, &ack); err != nil {
			t.Fatalf("pub ack %q: %v", m, err)
		}
	case "$JS.API.CONSUMER.MSG.NEXT.S.PULL":
		// A pull request may wait for messages: no answer is required,
		// but it must not break the service (checked below).
		e.r.Publish(&router.Publisher{}, []byte(subj), fmt.Appendf(nil, "_X.%d", e.seq.Add(1)), nil, body)
	default:
		m, ok := e.request(subj, nil, body)
		if !ok {
			t.Fatalf("no answer to %s %q\n%s", subj, body, goroutines())
		}
		if subj == "$JS.API.CONSUMER.CREATE.S" {
			var resp struct {
				jsapi.Response
				jsapi.ConsumerInfo
			}
			if json.Unmarshal(m, &resp) == nil && resp.Error == nil && resp.Name != "" {
				e.mustAnswer(t, "$JS.API.CONSUMER.DELETE.S."+resp.Name, nil, nil)
			}
		}
	}
	if _, ok := e.request("$JS.API.INFO", nil, nil); !ok {
		t.Fatalf("service stopped answering after %s %q\n%s", subj, body, goroutines())
	}
}

// goroutines is a dump of every goroutine, for hangs.
func goroutines() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}
