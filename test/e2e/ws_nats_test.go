package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// nats.go over WebSocket (ws:// and wss://) against leafgate and
// nats-server's WebSocket listener: the same assertions hold for both.

// wsNATS connects nats.go to url (ws:// or wss://) and closes it at cleanup.
func wsNATS(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(mqttWait)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("nats.go connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Core NATS, JetStream and KV from nats.go over ws://: what a TCP client
// gets, with messages larger than a WebSocket read (a 256 KiB payload)
// arriving whole, and headers, request/reply and no-responders intact.
func TestWSNATSGo(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		url := wsURL(b, "ws", "")
		nc := wsNATS(t, url, nats.Name("ws-natsgo"))
		peer := wsNATS(t, url, nats.Name("ws-natsgo-peer"))
		if got := nc.ConnectedUrl(); got != url {
			t.Fatalf("connected to %q, want %q", got, url)
		}

		t.Run("pub sub", func(t *testing.T) {
			sub := natsSubSync(t, peer, "wsgo.*.temp")
			big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
			for _, m := range []*nats.Msg{
				{Subject: "wsgo.a.temp", Data: []byte("21.5")},
				{Subject: "wsgo.a.hum", Data: []byte("not matched")},
				{Subject: "wsgo.b.temp", Data: big},
				{Subject: "wsgo.c.temp", Data: nil},
			} {
				if err := nc.PublishMsg(m); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []struct {
				subj string
				data []byte
			}{{"wsgo.a.temp", []byte("21.5")}, {"wsgo.b.temp", big}, {"wsgo.c.temp", nil}} {
				m := nextMsg(t, sub)
				if m.Subject != want.subj || !bytes.Equal(m.Data, want.data) {
					t.Fatalf("got %s (%d bytes), want %s (%d bytes)", m.Subject, len(m.Data), want.subj, len(want.data))
				}
			}
			noMsg(t, sub)
		})

		t.Run("headers", func(t *testing.T) {
			sub := natsSubSync(t, peer, "wsgo.hdr")
			h := nats.Header{"Trace": {"t-1"}, "Multi": {"a", "b"}}
			if err := nc.PublishMsg(&nats.Msg{Subject: "wsgo.hdr", Header: h, Data: []byte("with headers")}); err != nil {
				t.Fatal(err)
			}
			m := nextMsg(t, sub)
			if string(m.Data) != "with headers" || m.Header.Get("Trace") != "t-1" || strings.Join(m.Header.Values("Multi"), ",") != "a,b" {
				t.Fatalf("got %q %v", m.Data, m.Header)
			}
		})

		t.Run("request reply", func(t *testing.T) {
			rs, err := peer.Subscribe("wsgo.svc", func(m *nats.Msg) {
				r := &nats.Msg{Subject: m.Reply, Data: append([]byte("re:"), m.Data...),
					Header: nats.Header{"Echo": {m.Header.Get("Trace")}}}
				_ = m.RespondMsg(r)
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rs.Unsubscribe() })
			if err := peer.Flush(); err != nil {
				t.Fatal(err)
			}
			r, err := nc.RequestMsg(&nats.Msg{Subject: "wsgo.svc", Data: []byte("hi"), Header: nats.Header{"Trace": {"t-42"}}}, mqttWait)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Data) != "re:hi" || r.Header.Get("Echo") != "t-42" {
				t.Fatalf("reply %q %v", r.Data, r.Header)
			}
			if _, err := nc.Request("wsgo.nobody", nil, mqttWait); !errors.Is(err, nats.ErrNoResponders) {
				t.Fatalf("request without responders: %v, want no responders", err)
			}
		})

		t.Run("jetstream", func(t *testing.T) {
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WSGO", Subjects: []string{"wsgo.js.>"}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				ack, err := js.Publish(ctx, "wsgo.js.n", []byte{byte('0' + i)})
				if err != nil {
					t.Fatal(err)
				}
				if ack.Stream != "WSGO" || ack.Sequence != uint64(i+1) {
					t.Fatalf("PubAck %+v, want WSGO seq %d", ack, i+1)
				}
			}
			c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "wsgo", AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for len(got) < 10 {
				batch, err := c.Fetch(10-len(got), jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				for m := range batch.Messages() {
					got = append(got, m.Data()...)
					if err := m.DoubleAck(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := batch.Error(); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != "0123456789" {
				t.Fatalf("consumer got %q", got)
			}
			ci, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ci.AckFloor.Stream != 10 || ci.NumAckPending != 0 || ci.NumPending != 0 {
				t.Fatalf("consumer info: ack floor %d, ack pending %d, pending %d", ci.AckFloor.Stream, ci.NumAckPending, ci.NumPending)
			}
		})

		t.Run("kv", func(t *testing.T) {
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "wsgo", History: 2})
			if err != nil {
				t.Fatal(err)
			}
			w, err := kv.Watch(ctx, "mode", jetstream.UpdatesOnly())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = w.Stop() }()
			rev, err := kv.Put(ctx, "mode", []byte("eco"))
			if err != nil {
				t.Fatal(err)
			}
			kvEntry(t, kvRecv(t, w.Updates(), "watch put"), "mode", "eco", rev, jetstream.KeyValuePut)
			if _, err := kv.Update(ctx, "mode", []byte("stale"), rev+10); !errors.Is(err, jetstream.ErrKeyExists) {
				t.Fatalf("update at a wrong revision: %v, want key exists", err)
			}
			rev2, err := kv.Update(ctx, "mode", []byte("boost"), rev)
			if err != nil {
				t.Fatal(err)
			}
			e, err := kv.Get(ctx, "mode")
			if err != nil {
				t.Fatal(err)
			}
			kvEntry(t, e, "mode", "boost", rev2, jetstream.KeyValuePut)
			kvEntry(t, kvRecv(t, w.Updates(), "watch update"), "mode", "boost", rev2, jetstream.KeyValuePut)
		})
	})
}

// nats.go over wss:// with the test CA: pub/sub and request/reply work,
// the connection is TLS; a client that does not trust the CA, and a
// plain ws:// client, cannot connect.
func TestWSNATSGoTLS(t *testing.T) {
	certs := testCerts(t)
	forWS(t, wsOpts{certs: &certs}, func(t *testing.T, b *mqttpeer.Broker) {
		url := wsURL(b, "wss", "")
		nc := wsNATS(t, url, nats.RootCAs(certs.CAFile))
		if got := nc.ConnectedUrl(); got != url {
			t.Fatalf("connected to %q, want %q", got, url)
		}
		sub := natsSubSync(t, nc, "wss.>")
		if err := nc.Publish("wss.a", []byte("over wss")); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); string(m.Data) != "over wss" {
			t.Fatalf("got %q", m.Data)
		}
		if _, err := nc.Subscribe("wss.svc", func(m *nats.Msg) { _ = m.Respond([]byte("secure " + string(m.Data))) }); err != nil {
			t.Fatal(err)
		}
		if r, err := nc.Request("wss.svc", []byte("hi"), mqttWait); err != nil || string(r.Data) != "secure hi" {
			t.Fatalf("request over wss: %v %v", r, err)
		}
		// The NATS and MQTT sides see it too: a TCP NATS client gets its
		// publish.
		tcp := natsConnect(t, b)
		tsub := natsSubSync(t, tcp, "wss.tcp")
		if err := nc.Publish("wss.tcp", []byte("to tcp")); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, tsub); string(m.Data) != "to tcp" {
			t.Fatalf("tcp got %q", m.Data)
		}

		if nc2, err := nats.Connect(url, nats.MaxReconnects(0), nats.Timeout(5*time.Second)); err == nil {
			nc2.Close()
			t.Fatal("connected over wss without trusting the server certificate")
		}
		if nc3, err := nats.Connect(wsURL(b, "ws", ""), nats.MaxReconnects(0), nats.Timeout(5*time.Second)); err == nil {
			nc3.Close()
			t.Fatal("connected with plain ws:// to the wss:// listener")
		}
		// MQTT over wss, with gorilla/websocket as browsers' MQTT.js would
		// speak it: CONNECT answered by CONNACK.
		r := wsDial(t, b.WSAddr, wsHello{path: "/mqtt", protocols: "mqtt",
			tls: &tls.Config{RootCAs: caPool(t, certs.CAFile), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
		r.mustUpgrade("MQTT over wss")
		r.send(mqttConnectPacket("wss-raw"))
		r.waitFor(string(mqttConnackOK))
	})
}

// A nats.go WebSocket client reconnects by itself after the server
// restarts, keeps its subscription, and reads what JetStream stored before
// the restart; raw NATS and MQTT WebSocket clients get close 1001 at the
// shutdown.
func TestWSNATSGoReconnect(t *testing.T) {
	forWS(t, wsOpts{}, func(t *testing.T, b *mqttpeer.Broker) {
		reconnected := make(chan struct{}, 4)
		nc := wsNATS(t, wsURL(b, "ws", ""), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
			nats.ReconnectJitter(0, 0), nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
		sub := natsSubSync(t, nc, "wsre.>")
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WSRE", Subjects: []string{"wsre.js"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "wsre.js", []byte("before restart")); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); string(m.Data) != "before restart" {
			t.Fatalf("got %q", m.Data)
		}

		// Raw clients, NATS and MQTT, are told why when the server stops:
		// close 1001 (going away).
		rawNATS := wsSubscribed(t, b, false, "restart-nats")
		rawMQTT := wsSubscribed(t, b, true, "restart-mqtt")

		b.Restart(t)
		rawNATS.mustClose("NATS client at shutdown", 1001)
		rawMQTT.mustClose("MQTT client at shutdown", 1001)
		select {
		case <-reconnected:
		case <-time.After(30 * time.Second):
			t.Fatalf("nats.go did not reconnect over WebSocket within 30 s: status %v, last error %v", nc.Status(), nc.LastError())
		}
		if got := nc.ConnectedUrl(); !strings.HasPrefix(got, "ws://") {
			t.Fatalf("reconnected to %q", got)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		// The subscription was sent again: a TCP client's publish reaches it.
		tcp := natsConnect(t, b)
		if err := tcp.Publish("wsre.after", []byte("after restart")); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); m.Subject != "wsre.after" || string(m.Data) != "after restart" {
			t.Fatalf("got %s %q", m.Subject, m.Data)
		}
		msg, err := s.GetMsg(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(msg.Data) != "before restart" {
			t.Fatalf("stream message 1 after restart: %q", msg.Data)
		}
	})
}

// INFO over WebSocket comes first after the upgrade; its connect_urls
// never hold the NATS port's address (clients must reconnect over
// WebSocket), and on leafgate hold websocket.advertise.
func TestWSInfo(t *testing.T) {
	forWS(t, wsOpts{advertise: "ws.example.com:443"}, func(t *testing.T, b *mqttpeer.Broker) {
		r := wsDial(t, b.WSAddr, wsHello{})
		r.mustUpgrade("NATS")
		r.waitFor("INFO ")
		line := string(r.in)
		r.waitFor("\r\n")
		line = line[:strings.Index(line, "\r\n")]
		var info struct {
			ServerID    string   `json:"server_id"`
			Headers     bool     `json:"headers"`
			MaxPayload  int      `json:"max_payload"`
			ConnectURLs []string `json:"connect_urls"`
		}
		if err := json.Unmarshal([]byte(line), &info); err != nil {
			t.Fatalf("INFO %q: %v", line, err)
		}
		if info.ServerID == "" || !info.Headers || info.MaxPayload != 1<<20 {
			t.Fatalf("INFO %s", line)
		}
		for _, u := range info.ConnectURLs {
			if strings.HasSuffix(b.NATSURL, "//"+u) {
				t.Fatalf("INFO connect_urls %q has the NATS port's address", info.ConnectURLs)
			}
		}
		want := "ws.example.com:443"
		if b.Name == "nats-server" {
			// nats-server fills WebSocket connect_urls from its cluster's
			// routes only; alone it sends none, its advertise included.
			want = ""
		}
		if strings.Join(info.ConnectURLs, ",") != want {
			t.Fatalf("INFO connect_urls %q, want %q", info.ConnectURLs, want)
		}
	})
}
