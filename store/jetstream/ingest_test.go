package jetstream

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

func openEnvConfig(t *testing.T, cfg Config) *env {
	t.Helper()
	r := router.New()
	svc, err := Open(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return &env{t: t, r: r, svc: svc, dir: cfg.Dir}
}

// holdCommits makes every commit of file wait until the returned release
// is called; held receives once a commit is waiting.
func holdCommits(t *testing.T, file *msgstore.Bolt) (held <-chan struct{}, release func()) {
	t.Helper()
	hold := make(chan struct{})
	h := make(chan struct{}, 1)
	file.SetBeforeCommit(func() {
		select {
		case h <- struct{}{}:
		default:
		}
		<-hold
	})
	released := false
	release = func() {
		if !released {
			released = true
			file.SetBeforeCommit(nil)
			close(hold)
		}
	}
	t.Cleanup(release)
	return h, release
}

func waitHeld(t *testing.T, held <-chan struct{}) {
	t.Helper()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the commit never started")
	}
}

func (e *env) streamMsgs(name string) uint64 {
	var info struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO."+name, nil, &info)
	if info.Error != nil {
		e.t.Fatalf("stream info: %+v", info.Error)
	}
	return info.State.Msgs
}

// A publisher that waits as a NATS client's read loop does (a FlushSet
// and a router.Stalls) is held back by a stream whose commits are held:
// the stream's mailbox stays within a batch of its high-water mark
// instead of taking everything the publisher has. Once commits resume,
// every message is stored.
func TestIngestPacesPublisher(t *testing.T) {
	const high = 64 << 10
	e := openEnvConfig(t, Config{Dir: t.TempDir(), IngestHighWater: high})
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ms := e.svc.lookup("S")
	held, release := holdCommits(t, ms.file)
	e.r.Publish(&router.Publisher{}, []byte("s.first"), nil, nil, []byte("x"))
	waitHeld(t, held)

	const batch, total = 16, 2048 // 2 MiB: 32 times the mark
	payload := make([]byte, 1024)
	var sent atomic.Int64
	cancel := make(chan struct{})
	defer close(cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var fs router.FlushSet
		var stalls router.Stalls
		p := &router.Publisher{Pending: &fs}
		for sent.Load() < total {
			for range batch {
				e.r.Publish(p, []byte("s.x"), nil, nil, payload)
				sent.Add(1)
			}
			stalls.Collect(&fs, nil)
			fs.Flush()
			stalls.Wait(time.Minute, cancel)
		}
	}()
	waitFor(t, func() bool { return ms.in.queued() > high }, "the mailbox to reach its high-water mark")
	time.Sleep(200 * time.Millisecond) // time to overrun the mark, were it not paced
	batchBytes := int64(batch) * (&inMsg{subject: "s.x", data: payload}).queuedSize()
	if q := ms.in.queued(); q > high+batchBytes {
		t.Fatalf("mailbox holds %d bytes, beyond its %d mark plus a batch (%d)", q, high, batchBytes)
	}
	if n := sent.Load(); n >= total {
		t.Fatalf("the publisher sent all %d messages while the stream could take none", n)
	}

	release()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("publisher still held after commits resumed: %d of %d sent", sent.Load(), total)
	}
	waitFor(t, func() bool { return e.streamMsgs("S") == total+1 }, "every message stored")
}

// Several publishers fill one stream at once: each batch of each of them
// is asked to wait, however their deliveries interleave.
func TestIngestStallsEveryPublisher(t *testing.T) {
	e := openEnvConfig(t, Config{Dir: t.TempDir(), IngestHighWater: 1})
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ms := e.svc.lookup("S")
	held, _ := holdCommits(t, ms.file)
	e.r.Publish(&router.Publisher{}, []byte("s.first"), nil, nil, []byte("x"))
	waitHeld(t, held)

	var fs1, fs2 router.FlushSet
	p1 := &router.Publisher{Pending: &fs1}
	p2 := &router.Publisher{Pending: &fs2}
	for range 3 {
		e.r.Publish(p1, []byte("s.1"), nil, nil, []byte("a"))
		e.r.Publish(p2, []byte("s.2"), nil, nil, []byte("b"))
	}
	if fs1.Len() != 1 || fs2.Len() != 1 {
		t.Fatalf("flush sets hold %d and %d receivers, want the stream once in each", fs1.Len(), fs2.Len())
	}
	var s router.Stalls
	s.Collect(&fs1, nil)
	if s.Len() != 1 {
		t.Fatalf("collected %d stalls, want the stream's", s.Len())
	}
	// Internal publishers (no FlushSet) just enqueue.
	if n := e.r.Publish(&router.Publisher{}, []byte("s.3"), nil, nil, []byte("c")); n != 1 {
		t.Fatalf("internal publish delivered to %d", n)
	}
}

// At its limit the mailbox refuses publishes, answering 429 Too Many
// Requests as nats-server does, rather than holding without bound what a
// stream that cannot commit is sent by publishers that cannot wait.
func TestIngestLimitRefuses(t *testing.T) {
	const limit = 64 << 10
	e := openEnvConfig(t, Config{Dir: t.TempDir(), IngestHighWater: limit / 2, IngestLimit: limit})
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ms := e.svc.lookup("S")
	held, release := holdCommits(t, ms.file)
	e.r.Publish(&router.Publisher{}, []byte("s.first"), nil, nil, []byte("x"))
	waitHeld(t, held)

	ib := newInbox(t, e.r, "_INBOX.acks.*")
	const total = 200
	payload := []byte(strings.Repeat("x", 1024))
	for i := range total {
		e.r.Publish(&router.Publisher{}, []byte("s.x"), []byte("_INBOX.acks."+string(rune('a'+i%26))), nil, payload)
	}
	if q := ms.in.queued(); q > limit {
		t.Fatalf("mailbox holds %d bytes, over its %d limit", q, limit)
	}
	refused := ib.count()
	if refused == 0 || refused == total {
		t.Fatalf("%d of %d refused while commits were held", refused, total)
	}
	for i := range refused {
		m := ib.wait(t, i, time.Second)
		var ack jsapi.PubAckResponse
		if err := json.Unmarshal(m.data, &ack); err != nil || ack.Error == nil || ack.Error.Code != 429 || ack.Error.ErrCode != 10167 {
			t.Fatalf("refusal %d: %s (%v)", i, m.data, err)
		}
		if !strings.HasPrefix(string(m.hdr), "NATS/1.0 429 Too Many Requests\r\n") {
			t.Fatalf("refusal %d header %q", i, m.hdr)
		}
	}
	release()
	waitFor(t, func() bool { return ib.count() == total }, "every publish answered")
	if stored := e.streamMsgs("S"); stored != uint64(total-refused+1) {
		t.Fatalf("stored %d, want the %d not refused and the first", stored, total-refused)
	}
}
