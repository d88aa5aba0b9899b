package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// A pull request still waiting when the server shuts down is answered
// with 409 Server Shutdown before the connection closes.
func TestJSPullRequestEndsAtShutdown(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "SD", "sd")
		c := consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy})
		inbox := nats.NewInbox()
		// A channel subscription: nats.go puts the answer in it as it
		// reads it, while NextMsg would refuse to return it once the
		// connection's close (right after it) has been seen.
		answers := make(chan *nats.Msg, 4)
		if _, err := nc.ChanSubscribe(inbox, answers); err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.SD.W", inbox, []byte(`{"batch":3,"expires":60000000000}`)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumWaiting == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pull request is not waiting: %d", info.NumWaiting)
			}
			time.Sleep(20 * time.Millisecond)
		}
		go tg.Shutdown()
		var m *nats.Msg
		select {
		case m = <-answers:
		case <-time.After(10 * time.Second):
			t.Fatal("no answer to the waiting pull request")
		}
		if m.Header.Get("Status") != "409" || m.Header.Get("Description") != "Server Shutdown" {
			t.Fatalf("answer %v, want 409 Server Shutdown", m.Header)
		}
	})
}

// An API request published without a reply subject is still carried out
// (`nats pub '$JS.API.STREAM.DELETE.X'`).
func TestJSAPIRequestWithoutReply(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		consStream(t, ctx, js, "NOREPLY", "noreply")
		if err := nc.Publish("$JS.API.STREAM.DELETE.NOREPLY", nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := js.Stream(ctx, "NOREPLY")
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream still there 20s after a reply-less delete request: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
