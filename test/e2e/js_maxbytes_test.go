package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// A fixed sequence of max_bytes pull requests gets the same messages, and
// ends with the same status and pending counts, from both servers: a
// message counts its subject, ack reply, headers and payload as delivered
// (headers_only: the Nats-Msg-Size header, no payload); one over the bytes
// left ends the request with 409 and stays for the next; a batch that
// completes with bytes left ends with 409 Batch Completed.
func TestJSPullMaxBytesSequence(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)
		s := consStream(t, ctx, js, "MB", "mb.>")
		for i := range 12 {
			m := nats.NewMsg(fmt.Sprintf("mb.s%d", i))
			m.Data = []byte(strings.Repeat("x", 10*i))
			if i%3 == 0 {
				m.Header.Set("K", strings.Repeat("h", i))
			}
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy})
		consCreate(t, ctx, s, jetstream.ConsumerConfig{Durable: "H", AckPolicy: jetstream.AckExplicitPolicy, HeadersOnly: true})
		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		for i, step := range []struct {
			cons, body, want string
		}{
			// The first message alone is over: nothing is delivered.
			{"D", `{"batch":100,"max_bytes":30,"no_wait":true}`, "0 409 Message Size Exceeds MaxBytes 100/30"},
			{"D", `{"batch":100,"max_bytes":46,"no_wait":true}`, "0 409 Message Size Exceeds MaxBytes 100/46"},
			{"D", `{"batch":100,"max_bytes":101,"no_wait":true}`, "1 409 Message Size Exceeds MaxBytes 99/38"},
			// The pending count in the ack reply drops from 10 to 9 here.
			{"D", `{"batch":100,"max_bytes":150,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/29"},
			{"D", `{"batch":100,"max_bytes":200,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/20"},
			{"D", `{"batch":1,"max_bytes":500,"no_wait":true}`, "1 409 Batch Completed 0/405"},
			{"D", `{"batch":100,"max_bytes":300,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/57"},
			{"D", `{"batch":100,"max_bytes":400,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/112"},
			{"D", `{"batch":100,"max_bytes":500,"no_wait":true}`, "2 404 No Messages /"},
			{"H", `{"batch":100,"max_bytes":200,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/42"},
			{"H", `{"batch":100,"max_bytes":200,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/40"},
			{"H", `{"batch":3,"max_bytes":1000,"no_wait":true}`, "3 409 Batch Completed 0/761"},
			{"H", `{"batch":100,"max_bytes":160,"no_wait":true}`, "2 409 Message Size Exceeds MaxBytes 98/8"},
		} {
			if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.MB."+step.cons, inbox, []byte(step.body)); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				m, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if st := m.Header.Get("Status"); st != "" && len(m.Data) == 0 {
					got := fmt.Sprintf("%d %s %s %s/%s", n, st, m.Header.Get("Description"), m.Header.Get("Nats-Pending-Messages"), m.Header.Get("Nats-Pending-Bytes"))
					if got != step.want {
						t.Errorf("step %d %s %s: %q, want %q", i, step.cons, step.body, got, step.want)
					}
					break
				}
				n++
			}
		}
	})
}
