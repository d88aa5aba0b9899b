package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/extensions/rpc"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// MQTT 5 request/response across the protocols: an MQTT requester
// (Response Topic + Correlation Data, paho.golang's rpc extension) served
// by NATS responders, and NATS requesters (nats.go, natscli) served by an
// MQTT 5 responder that answers the Response Topic.

// serveEcho answers every request c receives on its Response Topic with
// "echo:<payload>" and the request's Correlation Data, until the test
// ends. It reports each request's Response Topic on seen.
func serveEcho(t *testing.T, c *v5Client, seen chan<- string) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case m := <-c.msgs:
				if m.Properties == nil || m.Properties.ResponseTopic == "" {
					continue
				}
				if seen != nil {
					select {
					case seen <- m.Properties.ResponseTopic:
					default:
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
				_, err := c.Publish(ctx, &paho.Publish{Topic: m.Properties.ResponseTopic, QoS: 1,
					Payload:    append([]byte("echo:"), m.Payload...),
					Properties: &paho.PublishProperties{CorrelationData: m.Properties.CorrelationData}})
				cancel()
				if err != nil {
					t.Errorf("responder: publish reply: %v", err)
				}
			case <-stop:
				return
			}
		}
	}()
}

// newRequester connects an MQTT 5 client with paho.golang's rpc handler,
// which subscribes "<client id>/responses" and matches replies by their
// Correlation Data.
func newRequester(t *testing.T, b *mqttpeer.Broker, clientID string) *rpc.Handler {
	t.Helper()
	c := v5Connect(t, b, v5Opts{clientID: clientID})
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	h, err := rpc.NewHandler(ctx, c.Client)
	if err != nil {
		t.Fatalf("rpc handler: %v", err)
	}
	return h
}

func request(t *testing.T, h *rpc.Handler, topic, payload string) *paho.Publish {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	resp, err := h.Request(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("request on %s: %v", topic, err)
	}
	return resp
}

// MQTT to MQTT: the responder sees the requester's Response Topic and
// Correlation Data and the reply carries them back — plain MQTT 5, the
// same on mosquitto.
func TestMQTTRequestResponseV5(t *testing.T) {
	forBrokers(t, []string{"leafgate", "mosquitto"}, func(t *testing.T, b *mqttpeer.Broker) {
		resp := v5Connect(t, b, v5Opts{clientID: "rr5-responder"})
		resp.mustSub(t, "rr5/svc", 1)
		seen := make(chan string, 1)
		serveEcho(t, resp, seen)
		h := newRequester(t, b, "rr5-requester")
		for _, p := range []string{"one", "two"} {
			r := request(t, h, "rr5/svc", p)
			if string(r.Payload) != "echo:"+p || r.Topic != "rr5-requester/responses" {
				t.Fatalf("reply %s %q", r.Topic, r.Payload)
			}
		}
		if rt := <-seen; rt != "rr5-requester/responses" {
			t.Fatalf("responder saw Response Topic %q", rt)
		}
	})
}

// An MQTT 5 requester and `nats reply`: the reply to the NATS reply
// subject comes back on the Response Topic with the request's Correlation
// Data, so paho's rpc matches it. A nats.go responder sees the request's
// properties as headers, and its reply headers reach the requester as
// user properties.
func TestMQTTLeafgateRequestToNATSResponder(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	nc := natsConnect(t, b)
	startNatsCLI(t, b.NATSURL, "reply", "rr.cli", "pong:{{ Request }}")
	waitResponder(t, nc, "rr.cli")

	h := newRequester(t, b, "rr-requester")
	for _, p := range []string{"a", "b"} {
		r := request(t, h, "rr/cli", p)
		if string(r.Payload) != "pong:"+p || r.Topic != "rr-requester/responses" || r.Properties == nil ||
			len(r.Properties.CorrelationData) == 0 {
			t.Fatalf("reply from nats reply: %s %q %+v", r.Topic, r.Payload, r.Properties)
		}
	}

	reqs := make(chan *nats.Msg, 1)
	if _, err := nc.Subscribe("rr.go", func(m *nats.Msg) {
		reqs <- m
		_ = m.RespondMsg(&nats.Msg{Data: []byte("from go"), Header: nats.Header{"X-Answer": []string{"42"}}})
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r := request(t, h, "rr/go", "q")
	if string(r.Payload) != "from go" || r.Properties == nil || r.Properties.User.Get("X-Answer") != "42" {
		t.Fatalf("reply from nats.go: %q %+v", r.Payload, r.Properties)
	}
	m := <-reqs
	corr, err := base64.StdEncoding.DecodeString(m.Header.Get("Nmqtt-Correlation-Data"))
	if m.Reply == "" || m.Header.Get("Nmqtt-Response-Topic") != "rr-requester/responses" || err != nil || len(corr) == 0 ||
		string(r.Properties.CorrelationData) != string(corr) {
		t.Fatalf("NATS responder saw reply %q headers %v; the reply's correlation data %q", m.Reply, m.Header, r.Properties.CorrelationData)
	}
}

// nats.go and `nats request` against an MQTT 5 responder: the responder
// gets the NATS reply subject as its Response Topic and its answer there
// is the NATS reply.
func TestMQTTLeafgateNATSRequestToMQTTResponder(t *testing.T) {
	b := startLeafgateMQTT(t, "")
	resp := v5Connect(t, b, v5Opts{clientID: "rr-mqtt-responder"})
	resp.mustSub(t, "svc/echo", 1)
	seen := make(chan string, 1)
	serveEcho(t, resp, seen)

	nc := natsConnect(t, b)
	m, err := nc.Request("svc.echo", []byte("hi"), mqttWait)
	if err != nil || string(m.Data) != "echo:hi" {
		t.Fatalf("nats.go request: %v %v", m, err)
	}
	if rt := <-seen; !strings.HasPrefix(rt, "_INBOX/") {
		t.Fatalf("responder saw Response Topic %q, want the reply subject as a topic", rt)
	}
	if out := runNatsCLI(t, b.NATSURL, "request", "svc.echo", "hello", "--raw"); strings.TrimSpace(out) != "echo:hello" {
		t.Fatalf("nats request printed %q", out)
	}
}
