package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// Stream options the other suites leave alone: republish, subject
// transform, first sequence, sealing, max consumers, headers-only
// delivery, per-message TTL and pull heartbeats, against both servers.
func TestJSFeatures(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		nc, js, ctx := jsConnect(t, tg)

		t.Run("republish", func(t *testing.T) {
			sub, err := nc.SubscribeSync("repub.>")
			if err != nil {
				t.Fatal(err)
			}
			jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "RP", Subjects: []string{"rp.>"},
				RePublish: &jetstream.RePublish{Source: "rp.>", Destination: "repub.>"}})
			for i, want := range []string{"0", "1"} {
				jssPub(t, ctx, js, "rp.a", "hello")
				m, err := sub.NextMsg(2 * time.Second)
				if err != nil {
					t.Fatalf("republished message: %v", err)
				}
				if m.Subject != "repub.a" || string(m.Data) != "hello" || m.Header.Get("Nats-Stream") != "RP" ||
					m.Header.Get("Nats-Subject") != "rp.a" || m.Header.Get("Nats-Sequence") != fmt.Sprint(i+1) ||
					m.Header.Get("Nats-Last-Sequence") != want {
					t.Fatalf("republished %q %q headers %v", m.Subject, m.Data, m.Header)
				}
			}
		})

		t.Run("subject transform", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "TR", Subjects: []string{"tr.*.*"},
				SubjectTransform: &jetstream.SubjectTransformConfig{Source: "tr.*.*", Destination: "stored.{{wildcard(2)}}.{{wildcard(1)}}"}})
			jssPub(t, ctx, js, "tr.eu.42", "x")
			m, err := s.GetMsg(ctx, 1)
			if err != nil || m.Subject != "stored.42.eu" {
				t.Fatalf("transformed subject: %+v %v", m, err)
			}
		})

		t.Run("first sequence and sealing", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "FS", Subjects: []string{"fs"}, FirstSeq: 100})
			if ack := jssPub(t, ctx, js, "fs", "x"); ack.Sequence != 100 {
				t.Fatalf("first publish got seq %d, want 100", ack.Sequence)
			}
			cfg := s.CachedInfo().Config
			cfg.Sealed = true
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("seal: %v", err)
			}
			_, err := js.Publish(ctx, "fs", []byte("y"))
			jssWantErr(t, "publish to a sealed stream", err, 10109, "invalid operation on sealed stream")
			if err := s.DeleteMsg(ctx, 100); err == nil {
				t.Fatal("delete from a sealed stream accepted")
			}
		})

		t.Run("max consumers", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "MC", Subjects: []string{"mc"}, MaxConsumers: 1})
			if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "one"}); err != nil {
				t.Fatal(err)
			}
			_, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "two"})
			jssWantErr(t, "second consumer", err, 10026, "maximum consumers limit reached")
		})

		t.Run("headers only", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "HO", Subjects: []string{"ho"}})
			jssPub(t, ctx, js, "ho", "twelve bytes")
			c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "h", HeadersOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for m := range b.Messages() {
				n++
				if len(m.Data()) != 0 || m.Headers().Get("Nats-Msg-Size") != "12" {
					t.Fatalf("headers-only delivery: data %q headers %v", m.Data(), m.Headers())
				}
			}
			if n != 1 {
				t.Fatalf("got %d messages", n)
			}
		})

		t.Run("message TTL", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "TT", Subjects: []string{"tt.>"}, AllowMsgTTL: true})
			jssPub(t, ctx, js, "tt.short", "bye", jetstream.WithMsgTTL(time.Second))
			jssPub(t, ctx, js, "tt.keep", "stay")
			jssWaitMsgs(t, ctx, s, 1, 5*time.Second)
			if _, err := s.GetMsg(ctx, 1); err == nil {
				t.Fatal("expired message still readable")
			}
		})

		t.Run("pull heartbeat", func(t *testing.T) {
			s := jssCreate(t, ctx, js, jetstream.StreamConfig{Name: "HB", Subjects: []string{"hb"}})
			if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "p", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
			inbox := nats.NewInbox()
			sub, err := nc.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			req := `{"batch":1,"expires":2000000000,"idle_heartbeat":300000000}`
			if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.HB.p", inbox, []byte(req)); err != nil {
				t.Fatal(err)
			}
			m, err := sub.NextMsg(2 * time.Second)
			if err != nil {
				t.Fatalf("no heartbeat: %v", err)
			}
			if m.Header.Get("Status") != "100" || m.Header.Get("Description") != "Idle Heartbeat" {
				t.Fatalf("first message on an idle pull: headers %v", m.Header)
			}
		})
	})
}

// With a domain, the API also answers on $JS.<domain>.API and acks and
// account info carry the domain, as a leafnode in its own domain does.
func TestJSDomain(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true, Domain: "edge"}, func(t *testing.T, tg *harness.Target) {
		nc := connect(t, tg)
		js, err := jetstream.NewWithDomain(nc, "edge")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, err := js.AccountInfo(ctx)
		if err != nil || info.Domain != "edge" {
			t.Fatalf("account info through the domain: %+v %v", info, err)
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "D", Subjects: []string{"d"}}); err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, "d", []byte("x"))
		if err != nil || ack.Domain != "edge" || ack.Sequence != 1 {
			t.Fatalf("pub ack: %+v %v", ack, err)
		}
		// The plain API prefix still works locally.
		plain, _ := jetstream.New(nc)
		if _, err := plain.Stream(ctx, "D"); err != nil {
			t.Fatalf("stream through $JS.API: %v", err)
		}
	})
}

// With limit markers (subject_delete_marker_ttl), a key that expires leaves
// a marker KV watchers see as a purge, for a per-key TTL and for the
// bucket's max age alike.
func TestJSKVLimitMarkers(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LM", TTL: 2 * time.Second, LimitMarkerTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := kv.Create(ctx, "short", []byte("x"), jetstream.KeyTTL(time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "aged", []byte("y")); err != nil {
			t.Fatal(err)
		}
		gone := map[string]jetstream.KeyValueOp{}
		deadline := time.After(8 * time.Second)
		for len(gone) < 2 {
			select {
			case e := <-w.Updates():
				if e != nil && e.Operation() != jetstream.KeyValuePut {
					gone[e.Key()] = e.Operation()
				}
			case <-deadline:
				t.Fatalf("markers seen: %v", gone)
			}
		}
		if gone["short"] != jetstream.KeyValuePurge || gone["aged"] != jetstream.KeyValuePurge {
			t.Fatalf("expiry ops: %v, want purges", gone)
		}
		if _, err := kv.Get(ctx, "short"); err == nil {
			t.Fatal("expired key still readable")
		}
	})
}
