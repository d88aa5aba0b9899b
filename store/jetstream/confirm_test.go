package jetstream

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
	"github.com/leafgate/leafgate/store/msgstore"
)

// confirmProbe is the publisher's side of one publish's router.Confirm.
// Once done has run, wait re-arms the Confirm with an Add of its own, so a
// second Done from the stream would run done again: calls then shows
// whether the stream called Done exactly once.
type confirmProbe struct {
	c   *router.Confirm
	mu  sync.Mutex
	res []error
	sig chan struct{}
}

func newConfirmProbe() *confirmProbe {
	p := &confirmProbe{sig: make(chan struct{}, 1)}
	p.c = router.NewConfirm(func(err error) {
		p.mu.Lock()
		p.res = append(p.res, err)
		p.mu.Unlock()
		select {
		case p.sig <- struct{}{}:
		default:
		}
	})
	return p
}

func (p *confirmProbe) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.res)
}

// wait returns the outcome done was called with, within d.
func (p *confirmProbe) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.sig:
	case <-time.After(d):
		t.Fatalf("no confirmation within %v", d)
	}
	p.c.Add() // re-arm: a second Done would call done again
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.res[0]
}

// publishConfirmed publishes as an MQTT session publishing at QoS 1 does:
// with a Confirm, released once Publish returns.
func (e *env) publishConfirmed(subj, reply string, hdr, data []byte) *confirmProbe {
	p := newConfirmProbe()
	e.r.Publish(&router.Publisher{Confirm: p.c}, []byte(subj), []byte(reply), hdr, data)
	p.c.Release()
	return p
}

func checkOnce(t *testing.T, probes ...*confirmProbe) {
	t.Helper()
	for i, p := range probes {
		if n := p.calls(); n != 1 {
			t.Fatalf("publish %d confirmed %d times, want once", i, n)
		}
	}
}

// A stream confirms a publish when its batch has committed and synced,
// the moment its PubAck is sent, not before; with or without a reply.
func TestConfirmAfterCommit(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	held, release := holdCommits(t, e.svc.lookup("S").file)
	acks := newInbox(t, e.r, "_INBOX.ack")
	quiet := e.publishConfirmed("s.1", "", nil, []byte("x"))
	waitHeld(t, held)
	acked := e.publishConfirmed("s.2", "_INBOX.ack", nil, []byte("y"))
	time.Sleep(100 * time.Millisecond)
	if n := quiet.calls() + acked.calls(); n != 0 {
		t.Fatalf("%d confirmations before the commit finished", n)
	}
	release()
	for _, p := range []*confirmProbe{quiet, acked} {
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatalf("confirmed with %v", err)
		}
	}
	acks.wait(t, 0, 5*time.Second)
	if n := e.streamMsgs("S"); n != 2 {
		t.Fatalf("stream holds %d, want 2", n)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, quiet, acked)
}

// A publish the stream rejects is confirmed with the error its PubAck
// carries, whether or not it has a reply subject, on no_ack streams too.
func TestConfirmRejected(t *testing.T) {
	cases := []struct {
		name    string
		cfg     jsapi.StreamConfig
		before  int // publishes that are stored first
		hdr     string
		data    string
		errCode uint16
	}{
		{"discard new, full", jsapi.StreamConfig{MaxMsgs: 1, Discard: jsapi.DiscardNew}, 1, "", "x", 10077},
		{"discard new, no_ack", jsapi.StreamConfig{MaxMsgs: 1, Discard: jsapi.DiscardNew, NoAck: true}, 1, "", "x", 10077},
		{"too large", jsapi.StreamConfig{MaxMsgSize: 4}, 0, "", "12345", 10054},
		{"wrong last sequence", jsapi.StreamConfig{}, 1, "NATS/1.0\r\nNats-Expected-Last-Sequence: 7\r\n\r\n", "x", 10071},
		{"wrong stream", jsapi.StreamConfig{}, 0, "NATS/1.0\r\nNats-Expected-Stream: T\r\n\r\n", "x", 10060},
	}
	for _, tc := range cases {
		for _, reply := range []string{"", "_INBOX.r"} {
			t.Run(tc.name+"/reply="+reply, func(t *testing.T) {
				e := openEnv(t, t.TempDir())
				cfg := tc.cfg
				cfg.Name, cfg.Subjects = "S", []string{"s.>"}
				e.createStream(cfg)
				for range tc.before {
					if p := e.publishConfirmed("s.1", "", nil, []byte("a")); p.wait(t, 10*time.Second) != nil {
						t.Fatal("setup publish not confirmed")
					}
				}
				var hdr []byte
				if tc.hdr != "" {
					hdr = []byte(tc.hdr)
				}
				p := e.publishConfirmed("s.2", reply, hdr, []byte(tc.data))
				err := p.wait(t, 10*time.Second)
				var je *jsapi.Error
				if !errors.As(err, &je) || je.ErrCode != tc.errCode {
					t.Fatalf("confirmed with %v, want error %d", err, tc.errCode)
				}
				if err := e.svc.Close(); err != nil {
					t.Fatal(err)
				}
				checkOnce(t, p)
			})
		}
	}
}

// A duplicate (Nats-Msg-Id) is confirmed without error, as its PubAck
// says the message is stored; a no_ack stream confirms too.
func TestConfirmDuplicateAndNoAck(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	e.createStream(jsapi.StreamConfig{Name: "N", Subjects: []string{"n.>"}, NoAck: true})
	hdr := []byte("NATS/1.0\r\nNats-Msg-Id: one\r\n\r\n")
	first := e.publishConfirmed("s.1", "", hdr, []byte("x"))
	dup := e.publishConfirmed("s.1", "", hdr, []byte("x"))
	replies := newInbox(t, e.r, "_INBOX.noack")
	noack := e.publishConfirmed("n.1", "_INBOX.noack", nil, []byte("x"))
	for _, p := range []*confirmProbe{first, dup, noack} {
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatalf("confirmed with %v", err)
		}
	}
	if n := e.streamMsgs("S"); n != 1 {
		t.Fatalf("stream holds %d, want the one message", n)
	}
	if n := e.streamMsgs("N"); n != 1 {
		t.Fatalf("no_ack stream holds %d, want 1", n)
	}
	if n := replies.count(); n != 0 {
		t.Fatalf("no_ack stream answered %d times", n)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, first, dup, noack)
}

// failingStore fails every commit.
type failingStore struct{ msgstore.Store }

var errCommitFailed = errors.New("commit failed")

func (f failingStore) Apply(_ *msgstore.Batch, done func(error)) { done(errCommitFailed) }

// A failed commit is confirmed with its error, as its PubAck reports it.
func TestConfirmCommitFails(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ms := e.svc.lookup("S")
	var real msgstore.Store
	ms.do(func() { real, ms.store = ms.store, failingStore{ms.store} })
	p := e.publishConfirmed("s.1", "", nil, []byte("x"))
	err := p.wait(t, 10*time.Second)
	var je *jsapi.Error
	if !errors.As(err, &je) || je.ErrCode != 10077 {
		t.Fatalf("confirmed with %v, want a store failure", err)
	}
	ms.do(func() { ms.store = real })
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, p)
}

// A stream that stops with publishes queued, or is published to after it
// stopped, confirms each of them exactly once: stored ones without error,
// the rest with ErrStreamStopped.
func TestConfirmStreamStopped(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	ms := e.svc.lookup("S")
	held, release := holdCommits(t, ms.file)
	probes := []*confirmProbe{e.publishConfirmed("s.0", "", nil, []byte("x"))}
	waitHeld(t, held)
	for range 20 {
		probes = append(probes, e.publishConfirmed("s.1", "", nil, []byte("x")))
	}
	stopped := make(chan struct{})
	go func() {
		ms.delete()
		close(stopped)
	}()
	<-ms.quit
	release()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not stop")
	}
	// A publisher that matched the subscription just before it went.
	late := newConfirmProbe()
	ms.rcv.DeliverFrom(&router.Publisher{Confirm: late.c}, &router.Sub{}, []byte("s.2"), nil, nil, []byte("x"))
	late.c.Release()
	if err := late.wait(t, time.Second); !errors.Is(err, ErrStreamStopped) {
		t.Fatalf("publish after stop confirmed with %v", err)
	}
	if err := probes[0].wait(t, time.Second); err != nil {
		t.Fatalf("the committed publish confirmed with %v", err)
	}
	stoppedN := 0
	for i, p := range probes[1:] {
		err := p.wait(t, time.Second)
		if err != nil && !errors.Is(err, ErrStreamStopped) {
			t.Fatalf("queued publish %d confirmed with %v", i, err)
		}
		if err != nil {
			stoppedN++
		}
	}
	t.Logf("%d of %d queued publishes not stored", stoppedN, len(probes)-1)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, append(probes, late)...)
}

// A publish the stream's full mailbox refuses is confirmed with 429 Too
// Many Requests at once, on the publisher's goroutine.
func TestConfirmIngestFull(t *testing.T) {
	e := openEnvConfig(t, Config{Dir: t.TempDir(), IngestHighWater: 4 << 10, IngestLimit: 4 << 10})
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	held, release := holdCommits(t, e.svc.lookup("S").file)
	first := e.publishConfirmed("s.0", "", nil, []byte("x"))
	waitHeld(t, held)
	var queued []*confirmProbe
	for {
		p := e.publishConfirmed("s.1", "", nil, make([]byte, 1024))
		if p.calls() == 0 {
			queued = append(queued, p)
			if len(queued) > 10 {
				t.Fatal("no publish refused past the mailbox's limit")
			}
			continue
		}
		if err := p.wait(t, time.Second); !errors.Is(err, jsapi.ErrStreamTooManyRequests) {
			t.Fatalf("refused publish confirmed with %v", err)
		}
		queued = append(queued, p)
		break
	}
	release()
	for _, p := range queued[:len(queued)-1] {
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatalf("queued publish confirmed with %v", err)
		}
	}
	if err := first.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, append(queued, first)...)
}
