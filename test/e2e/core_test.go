// Package e2e holds end-to-end tests with real NATS clients. Every test runs
// against leafgate and against nats-server v2.15.2 (see harness.ForEach).
package e2e

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/harness"
)

func connect(t *testing.T, tg *harness.Target, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(tg.URL, opts...)
	if err != nil {
		t.Fatalf("%s: connect: %v", tg.Name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(15 * time.Second)
	if err != nil {
		t.Fatalf("next message on %q: %v", sub.Subject, err)
	}
	return m
}

func noMsg(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("unexpected message on %q: %q %q", sub.Subject, m.Subject, m.Data)
	}
}

func TestPubSubWildcards(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		exact, _ := nc.SubscribeSync("sensors.a.temp")
		star, _ := nc.SubscribeSync("sensors.*.temp")
		gt, _ := nc.SubscribeSync("sensors.>")
		other, _ := nc.SubscribeSync("actuators.>")
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		pub := connect(t, tg)
		for _, s := range []string{"sensors.a.temp", "sensors.b.temp", "sensors.b.hum.x"} {
			if err := pub.Publish(s, []byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, exact); m.Subject != "sensors.a.temp" || string(m.Data) != "sensors.a.temp" {
			t.Fatalf("exact got %q", m.Subject)
		}
		noMsg(t, exact)
		for _, want := range []string{"sensors.a.temp", "sensors.b.temp"} {
			if m := nextMsg(t, star); m.Subject != want {
				t.Fatalf("star got %q want %q", m.Subject, want)
			}
		}
		noMsg(t, star)
		for _, want := range []string{"sensors.a.temp", "sensors.b.temp", "sensors.b.hum.x"} {
			if m := nextMsg(t, gt); m.Subject != want {
				t.Fatalf("> got %q want %q", m.Subject, want)
			}
		}
		noMsg(t, other)
		// Unsubscribe stops delivery.
		if err := gt.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		pub.Publish("sensors.c.temp", nil)
		pub.Flush()
		nextMsg(t, star)
		if _, err := gt.NextMsg(100 * time.Millisecond); !errors.Is(err, nats.ErrBadSubscription) && err == nil {
			t.Fatal("message after unsubscribe")
		}
	})
}

func TestQueueGroups(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		const n = 400
		var counts [4]atomic.Int64
		var total atomic.Int64
		done := make(chan struct{})
		for i := range counts {
			nc := connect(t, tg)
			_, err := nc.QueueSubscribe("jobs", "workers", func(*nats.Msg) {
				counts[i].Add(1)
				if total.Add(1) == n {
					close(done)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			nc.Flush()
		}
		watcher := connect(t, tg)
		all, _ := watcher.SubscribeSync("jobs")
		watcher.Flush()
		pub := connect(t, tg)
		for i := 0; i < n; i++ {
			pub.Publish("jobs", []byte(fmt.Sprint(i)))
		}
		pub.Flush()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("queue group received %d of %d", total.Load(), n)
		}
		time.Sleep(100 * time.Millisecond) // any duplicate would arrive now
		if got := total.Load(); got != n {
			t.Fatalf("queue group received %d messages, want exactly %d", got, n)
		}
		for i := range counts {
			if c := counts[i].Load(); c < n/16 {
				t.Errorf("member %d got only %d of %d: load not spread", i, c, n)
			}
		}
		for i := 0; i < n; i++ {
			nextMsg(t, all) // the plain subscriber gets every message
		}
	})
}

func TestRequestReplyAndNoResponders(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		svc := connect(t, tg)
		svc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) })
		svc.Flush()
		nc := connect(t, tg)
		for i := 0; i < 20; i++ {
			resp, err := nc.Request("svc.echo", []byte(fmt.Sprint(i)), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("echo:%d", i); string(resp.Data) != want {
				t.Fatalf("reply %q want %q", resp.Data, want)
			}
		}
		start := time.Now()
		_, err := nc.Request("svc.nobody", nil, 30*time.Second)
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request without responders: %v, want ErrNoResponders", err)
		}
		// Far below the request's 30 s timeout, with room for a busy machine.
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no-responders took %v: the 503 status was not sent", time.Since(start))
		}
	})
}

func TestHeadersRoundTrip(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		sub, _ := nc.SubscribeSync("h")
		nc.Flush()
		m := nats.NewMsg("h")
		m.Header.Set("Trace-Id", "abc123")
		m.Header.Add("Multi", "1")
		m.Header.Add("Multi", "2")
		m.Data = []byte("body")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		got := nextMsg(t, sub)
		if got.Header.Get("Trace-Id") != "abc123" || len(got.Header.Values("Multi")) != 2 || string(got.Data) != "body" {
			t.Fatalf("header message %+v", got)
		}
	})
}

func TestNoEchoAndAutoUnsubscribe(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		quiet := connect(t, tg, nats.NoEcho())
		own, _ := quiet.SubscribeSync("echo")
		loud := connect(t, tg)
		theirs, _ := loud.SubscribeSync("echo")
		quiet.Flush()
		loud.Flush()
		quiet.Publish("echo", []byte("from-quiet"))
		quiet.Flush()
		nextMsg(t, theirs)
		noMsg(t, own)
		loud.Publish("echo", []byte("from-loud"))
		loud.Flush()
		if m := nextMsg(t, own); string(m.Data) != "from-loud" {
			t.Fatalf("no-echo client missed others' message: %q", m.Data)
		}

		limited, _ := loud.SubscribeSync("limited")
		limited.AutoUnsubscribe(3)
		loud.Flush()
		for i := 0; i < 10; i++ {
			quiet.Publish("limited", []byte(fmt.Sprint(i)))
		}
		quiet.Flush()
		for i := 0; i < 3; i++ {
			nextMsg(t, limited)
		}
		if _, err := limited.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatal("auto-unsubscribe delivered more than 3 messages")
		}
	})
}

func TestMaxPayload(t *testing.T) {
	harness.ForEach(t, harness.Options{MaxPayload: 1024}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		if mp := nc.MaxPayload(); mp != 1024 {
			t.Fatalf("client sees max_payload %d, want 1024", mp)
		}
		if err := nc.Publish("big", make([]byte, 1025)); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("oversize publish: %v", err)
		}
		// A client that ignores the limit is cut with the protocol's error.
		raw := harness.DialRaw(t, tg, "{}")
		raw.Send("PUB big 2048\r\n")
		lines := raw.ExpectClosed(5 * time.Second)
		if len(lines) == 0 || lines[len(lines)-1] != "-ERR 'Maximum Payload Violation'" {
			t.Fatalf("oversize raw publish: lines %q", lines)
		}
	})
}

func TestManyConcurrentPublishers(t *testing.T) {
	harness.ForEach(t, harness.Options{}, func(t *testing.T, tg *harness.Target) {
		const pubs, each = 8, 500
		sub := connect(t, tg)
		var got atomic.Int64
		done := make(chan struct{})
		sub.Subscribe("fan.in.*", func(*nats.Msg) {
			if got.Add(1) == pubs*each {
				close(done)
			}
		})
		sub.Flush()
		var wg sync.WaitGroup
		for p := 0; p < pubs; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				nc := connect(t, tg)
				for i := 0; i < each; i++ {
					nc.Publish(fmt.Sprintf("fan.in.%d", p), []byte("x"))
				}
				nc.Flush()
			}(p)
		}
		wg.Wait()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d", got.Load(), pubs*each)
		}
	})
}
