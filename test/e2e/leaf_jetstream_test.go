package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
)

// JetStream domains across the leafnode link: leafgate's JetStream in
// domain "edge", the hub's in domain "hub". Each side reaches the other's
// as $JS.<domain>.API.> (nats.go's NewWithDomain, natscli's --js-domain);
// $JS.API.> stays on the side it was sent on.

func startJSLinked(t *testing.T) (*hub.Hub, *edge, *nats.Conn, *nats.Conn) {
	t.Helper()
	h, e := startLinked(t, hub.Options{JetStream: true, Domain: "hub"}, edgeOpts{domain: "edge"}, "")
	hc, ec := h.Connect(t), e.connect(t)
	// The domain API interest each side needs from the other.
	h.WaitInterest(t, leafWait, "$JS.edge.API.INFO", "$JS.edge.API.STREAM.>")
	e.waitHubInterest(t, "$JS.hub.API.INFO", 1)
	return h, e, hc, ec
}

func streamNames(t *testing.T, ctx context.Context, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(ctx)
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("stream names: %v", err)
	}
	slices.Sort(names)
	return names
}

// From the hub, the edge's JetStream is domain "edge": account info names
// it, streams are created, listed and published to (the stream's subjects
// are interest the hub sees), a pull consumer created there delivers to a
// hub client, and the PubAck names the edge's domain.
func TestLeafJetStreamEdgeDomainFromHub(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), leafWait)
	defer cancel()
	js, err := jetstream.NewWithDomain(hc, "edge")
	if err != nil {
		t.Fatal(err)
	}
	ai, err := js.AccountInfo(ctx)
	if err != nil || ai.Domain != "edge" {
		t.Fatalf("account info through domain edge: %v, domain %q", err, domainOf(ai))
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EDGE_S", Subjects: []string{"edge.s.>"}})
	if err != nil {
		t.Fatalf("create stream on the edge from the hub: %v", err)
	}
	if got := streamNames(t, ctx, js); !slices.Contains(got, "EDGE_S") {
		t.Fatalf("streams in domain edge: %q, want EDGE_S", got)
	}
	local := newJS(t, ec) // the same stream, seen at the edge
	if _, err := local.Stream(ctx, "EDGE_S"); err != nil {
		t.Fatalf("the stream created from the hub is not at the edge: %v", err)
	}

	ack, err := js.Publish(ctx, "edge.s.1", []byte("stored at the edge"))
	if err != nil {
		t.Fatalf("JetStream publish from the hub into the edge's stream: %v", err)
	}
	if ack.Stream != "EDGE_S" || ack.Domain != "edge" || ack.Sequence != 1 {
		t.Fatalf("PubAck %+v, want stream EDGE_S domain edge seq 1", ack)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "hubreader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create consumer from the hub: %v", err)
	}
	// leafgate must send each message to the hub's inbox with the
	// stream subject after the ack reply, as nats-server does.
	wantFetch(t, ctx, c, "edge.s.1 stored at the edge")
}

// wantFetch fetches one message from c, checks its subject and data,
// acks it (waiting for the ack's confirmation) and checks that the
// consumer took the ack.
func wantFetch(t *testing.T, ctx context.Context, c jetstream.Consumer, want string) {
	t.Helper()
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Subject()+" "+string(m.Data()))
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("ack across the link: %v", err)
		}
	}
	if err := batch.Error(); err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("fetch across the link: %q %v, want %q", got, err, want)
	}
	ci, err := c.Info(ctx)
	if err != nil || ci.NumAckPending != 0 || ci.AckFloor.Stream != 1 {
		t.Fatalf("consumer after the ack across the link: %v %+v", err, ci)
	}
}

func newJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func domainOf(ai *jetstream.AccountInfo) string {
	if ai == nil {
		return ""
	}
	return ai.Domain
}

// KV in the edge's domain from the hub: nats.go puts through
// $JS.edge.API.$KV.<bucket>.<key> (nats-server maps it to $KV.> on the
// leaf) and reads through the domain's DIRECT.GET; the value is the
// edge's.
func TestLeafJetStreamEdgeKVFromHub(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), leafWait)
	defer cancel()
	js, err := jetstream.NewWithDomain(hc, "edge")
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatalf("create KV bucket on the edge from the hub: %v", err)
	}
	rev, err := kv.Put(ctx, "mode", []byte("eco"))
	if err != nil {
		t.Fatalf("KV put from the hub through $JS.edge.API.$KV.cfg.mode: %v", err)
	}
	e, err := kv.Get(ctx, "mode")
	if err != nil || string(e.Value()) != "eco" || e.Revision() != rev {
		t.Fatalf("KV get from the hub: %v %q", err, entryValue(e))
	}
	lkv, err := newJS(t, ec).KeyValue(ctx, "cfg")
	if err != nil {
		t.Fatalf("the bucket is not at the edge: %v", err)
	}
	if e, err := lkv.Get(ctx, "mode"); err != nil || string(e.Value()) != "eco" {
		t.Fatalf("KV get at the edge: %v %q", err, entryValue(e))
	}
	var names []string
	for n := range js.KeyValueStoreNames(ctx).Name() {
		names = append(names, n)
	}
	if !slices.Contains(names, "cfg") {
		t.Fatalf("KV buckets in domain edge: %q", names)
	}
}

func entryValue(e jetstream.KeyValueEntry) string {
	if e == nil {
		return ""
	}
	return string(e.Value())
}

// From the edge, the hub's JetStream is domain "hub": a stream created,
// published to and read there.
func TestLeafJetStreamHubDomainFromEdge(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), leafWait)
	defer cancel()
	js, err := jetstream.NewWithDomain(ec, "hub")
	if err != nil {
		t.Fatal(err)
	}
	ai, err := js.AccountInfo(ctx)
	if err != nil || ai.Domain != "hub" {
		t.Fatalf("account info through domain hub: %v, domain %q", err, domainOf(ai))
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HUB_S", Subjects: []string{"hub.s.>"}}); err != nil {
		t.Fatalf("create stream on the hub from the edge: %v", err)
	}
	if _, err := newJS(t, hc).Stream(ctx, "HUB_S"); err != nil {
		t.Fatalf("the stream created from the edge is not at the hub: %v", err)
	}
	ack, err := js.Publish(ctx, "hub.s.1", []byte("stored at the hub"))
	if err != nil || ack.Stream != "HUB_S" || ack.Domain != "hub" {
		t.Fatalf("JetStream publish from the edge into the hub's stream: %v %+v", err, ack)
	}
	s, err := js.Stream(ctx, "HUB_S")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetMsg(ctx, 1)
	if err != nil || string(raw.Data) != "stored at the hub" {
		t.Fatalf("get from the hub's stream: %v", err)
	}
	// A pull consumer on the hub read from the edge: nats-server sends
	// each message to the edge's inbox with the stream subject after the
	// ack reply ("$JS.ACK...@hub.s.1"), which the edge must restore.
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "edgereader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create consumer on the hub from the edge: %v", err)
	}
	wantFetch(t, ctx, c, "hub.s.1 stored at the hub")
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hubcfg"})
	if err != nil {
		t.Fatalf("create KV on the hub from the edge: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("KV put on the hub from the edge: %v", err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("KV get on the hub from the edge: %v %q", err, entryValue(e))
	}
}

// $JS.API.> without a domain is answered by the side it was sent on only:
// streams made on one side without a domain are not visible from the
// other without one, and one request gets one answer, from its own side.
func TestLeafJetStreamNoDomainStaysLocal(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), leafWait)
	defer cancel()
	hjs, ejs := newJS(t, hc), newJS(t, ec)
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "ONLY_HUB", Subjects: []string{"onlyhub.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "ONLY_EDGE", Subjects: []string{"onlyedge.>"}}); err != nil {
		t.Fatal(err)
	}
	if got := streamNames(t, ctx, hjs); !slices.Equal(got, []string{"ONLY_HUB"}) {
		t.Errorf("hub without domain lists %q, want only ONLY_HUB", got)
	}
	if got := streamNames(t, ctx, ejs); !slices.Equal(got, []string{"ONLY_EDGE"}) {
		t.Errorf("edge without domain lists %q, want only ONLY_EDGE", got)
	}
	if _, err := hjs.Stream(ctx, "ONLY_EDGE"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("hub without domain, stream info ONLY_EDGE: %v, want not found", err)
	}
	if _, err := ejs.Stream(ctx, "ONLY_HUB"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("edge without domain, stream info ONLY_HUB: %v, want not found", err)
	}

	// One answer per request, from the side it was sent on.
	for _, side := range []struct {
		name, domain string
		nc           *nats.Conn
	}{{"hub", "hub", hc}, {"edge", "edge", ec}} {
		inbox := nats.NewInbox()
		replies := subSync(t, side.nc, inbox)
		if err := side.nc.PublishRequest("$JS.API.INFO", inbox, nil); err != nil {
			t.Fatal(err)
		}
		m, err := replies.NextMsg(leafWait)
		if err != nil {
			t.Fatalf("$JS.API.INFO sent at the %s: no answer: %v", side.name, err)
		}
		domains := []string{jsonDomain(t, m.Data)}
		for {
			m, err := replies.NextMsg(leafQuiet)
			if err != nil {
				break
			}
			domains = append(domains, jsonDomain(t, m.Data))
		}
		if !slices.Equal(domains, []string{side.domain}) {
			t.Errorf("$JS.API.INFO sent at the %s answered from domains %q, want only %q", side.name, domains, side.domain)
		}
	}
}

func jsonDomain(t *testing.T, data []byte) string {
	t.Helper()
	var v struct {
		Domain string `json:"domain"`
		Error  any    `json:"error"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("JetStream answer %q: %v", data, err)
	}
	if v.Error != nil {
		t.Fatalf("JetStream answer with an error: %s", data)
	}
	return v.Domain
}

// natscli run against the hub with --js-domain edge manages the edge's
// JetStream: stream ls lists what leafgate holds, kv ls its buckets.
func TestLeafJetStreamNatsCLIDomain(t *testing.T) {
	natsCLI(t)
	h, _, _, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), leafWait)
	defer cancel()
	ejs := newJS(t, ec)
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "CLI_EDGE", Subjects: []string{"cli.edge.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "clibucket"}); err != nil {
		t.Fatal(err)
	}
	out := runNatsCLI(t, h.URL, "--js-domain", "edge", "stream", "ls", "--names")
	if !strings.Contains(out, "CLI_EDGE") {
		t.Fatalf("nats --js-domain edge stream ls against the hub:\n%s", out)
	}
	out = runNatsCLI(t, h.URL, "--js-domain", "edge", "kv", "ls", "--names")
	if !strings.Contains(out, "clibucket") {
		t.Fatalf("nats --js-domain edge kv ls against the hub:\n%s", out)
	}
	out = runNatsCLI(t, h.URL, "stream", "ls", "--names")
	if strings.Contains(out, "CLI_EDGE") {
		t.Fatalf("nats stream ls against the hub without a domain lists the edge's stream:\n%s", out)
	}
}
