package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// leafgate as the origin of replication (issue 12, part 1): streams on a
// nats-server hub source and mirror leafgate's streams across the
// leafnode link by JetStream domain, exactly as they would a nats-server
// leaf's. The hub's side is nats-server's own code (stream.go
// trySetupSourceConsumer, setupMirrorConsumer); leafgate serves the
// consumers it asks for.

const replWait = 60 * time.Second

// streamMsgsBySeq reads every message of a stream with a direct-less
// ordered consumer, in stream order.
func streamMsgsBySeq(t *testing.T, js jetstream.JetStream, stream string, n int) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", stream, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	out := make([]jetstream.Msg, 0, n)
	for len(out) < n {
		m, err := it.Next(jetstream.NextMaxWait(replWait))
		if err != nil {
			t.Fatalf("%s: message %d of %d: %v", stream, len(out)+1, n, err)
		}
		out = append(out, m)
	}
	return out
}

// waitStreamAtLeast waits until stream holds at least n messages, and
// reports how many it holds.
func waitStreamAtLeast(t *testing.T, js jetstream.JetStream, stream string, n uint64) uint64 {
	t.Helper()
	var got uint64
	hub.Until(t, replWait, func() string {
		s, err := js.Stream(context.Background(), stream)
		if err != nil {
			return err.Error()
		}
		if got = s.CachedInfo().State.Msgs; got < n {
			return fmt.Sprintf("%s holds %d, waiting for %d", stream, got, n)
		}
		return ""
	})
	return got
}

// waitStreamMsgs waits until stream holds n messages.
func waitStreamMsgs(t *testing.T, js jetstream.JetStream, stream string, n uint64) *jetstream.StreamInfo {
	t.Helper()
	var si *jetstream.StreamInfo
	hub.Until(t, replWait, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err.Error()
		}
		si = s.CachedInfo()
		if si.State.Msgs != n {
			return fmt.Sprintf("%s holds %d messages, want %d", stream, si.State.Msgs, n)
		}
		return ""
	})
	return si
}

func jsPublishN(t *testing.T, js jetstream.JetStream, subj string, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	for i := from; i < from+n; i++ {
		if _, err := js.PublishAsync(fmt.Sprintf("%s.%d", subj, i%3), []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishes not acknowledged")
	}
}

// The hub sources and mirrors leafgate's TELEMETRY by domain "edge":
// every message arrives once, in order, with its subject; the source's
// header names the origin; the mirror keeps leafgate's sequence numbers
// (including a gap where leafgate deleted a message); more messages
// published later arrive too.
func TestReplHubSourcesEdgeStream(t *testing.T) {
	h, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	ejs, _ := jetstream.New(ec, jetstream.WithPublishAsyncMaxPending(1<<14))
	hjs, _ := jetstream.New(hc)
	es, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}})
	if err != nil {
		t.Fatal(err)
	}
	const first = 500
	jsPublishN(t, ejs, "telemetry.dev", 0, first)
	if err := es.DeleteMsg(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "MIR", Mirror: &jetstream.StreamSource{Name: "TELEMETRY", Domain: "edge"},
	}); err != nil {
		t.Fatal(err)
	}
	waitStreamMsgs(t, hjs, "AGG", first-1)
	waitStreamMsgs(t, hjs, "MIR", first-1)
	jsPublishN(t, ejs, "telemetry.dev", first, 300)
	const total = first - 1 + 300
	agg := waitStreamMsgs(t, hjs, "AGG", total)
	mir := waitStreamMsgs(t, hjs, "MIR", total)
	if mir.State.LastSeq != first+300 || mir.State.FirstSeq != 1 {
		t.Fatalf("mirror sequences %d..%d, want 1..%d", mir.State.FirstSeq, mir.State.LastSeq, first+300)
	}
	if agg.State.LastSeq != total {
		t.Fatalf("source last seq %d, want %d", agg.State.LastSeq, total)
	}
	check := func(stream string, mirror bool) {
		msgs := streamMsgsBySeq(t, hjs, stream, total)
		want := 0
		for _, m := range msgs {
			if want == 6 { // leafgate's seq 7 was deleted
				want++
			}
			md, _ := m.Metadata()
			if string(m.Data()) != fmt.Sprint(want) || m.Subject() != fmt.Sprintf("telemetry.dev.%d", want%3) {
				t.Fatalf("%s seq %d: %s %q, want %q", stream, md.Sequence.Stream, m.Subject(), m.Data(), fmt.Sprint(want))
			}
			if mirror && md.Sequence.Stream != uint64(want+1) {
				t.Fatalf("mirror seq %d holds origin seq %d", md.Sequence.Stream, want+1)
			}
			if !mirror {
				src := m.Headers().Get("Nats-Stream-Source")
				if !strings.HasPrefix(src, "TELEMETRY:") {
					t.Fatalf("source header %q", src)
				}
			}
			want++
		}
	}
	check("AGG", false)
	check("MIR", true)

	// nats-server reports both as active, with no error and no lag.
	s, _ := hjs.Stream(ctx, "AGG")
	info, _ := s.Info(ctx)
	if len(info.Sources) != 1 || info.Sources[0].Error != nil || info.Sources[0].Lag != 0 {
		t.Fatalf("source info %+v", info.Sources)
	}
	// leafgate does not list the hub's direct consumers.
	ls, _ := ejs.Stream(ctx, "TELEMETRY")
	li, _ := ls.Info(ctx)
	if li.State.Consumers != 0 {
		t.Fatalf("leafgate lists %d consumers", li.State.Consumers)
	}
	// The acks and flow-control replies leafgate asks the hub for are
	// its streams', not every one in the account.
	subs := h.LeafSubjects()
	if !slices.Contains(subs, "$JS.FC.TELEMETRY.>") || !slices.Contains(subs, "$JS.ACK.TELEMETRY.>") ||
		slices.Contains(subs, "$JS.ACK.>") || slices.Contains(subs, "$JS.FC.>") {
		t.Fatalf("leaf interest %q", subs)
	}
}

// From a work-queue stream on leafgate (#3207): the hub's source gets a
// durable consumer acknowledged by its flow-control replies, so a message
// leaves leafgate's stream only once the hub stored it.
func TestReplHubSourcesEdgeWorkQueue(t *testing.T) {
	_, _, hc, ec := startJSLinked(t)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	ejs, _ := jetstream.New(ec, jetstream.WithPublishAsyncMaxPending(1<<14))
	hjs, _ := jetstream.New(hc)
	es, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "WQ", Subjects: []string{"wq.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	jsPublishN(t, ejs, "wq.job", 0, n)
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "JOBS", Sources: []*jetstream.StreamSource{{Name: "WQ", Domain: "edge"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitStreamMsgs(t, hjs, "JOBS", n)
	waitEmpty(t, ctx, es, "leafgate's work queue, after the hub stored everything")
	ci := onlyConsumer(t, ctx, es)
	if ci.Config.AckPolicy != jetstream.AckFlowControlPolicy || ci.Config.Durable == "" {
		t.Fatalf("source consumer %+v", ci.Config)
	}
	msgs := streamMsgsBySeq(t, hjs, "JOBS", n)
	for i, m := range msgs {
		if string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("JOBS message %d is %q", i, m.Data())
		}
	}
}

// onlyConsumer is the info of the one consumer s lists.
func onlyConsumer(t *testing.T, ctx context.Context, s jetstream.Stream) *jetstream.ConsumerInfo {
	t.Helper()
	l := s.ListConsumers(ctx)
	var infos []*jetstream.ConsumerInfo
	for ci := range l.Info() {
		infos = append(infos, ci)
	}
	if len(infos) != 1 {
		t.Fatalf("%d consumers, want the source's durable", len(infos))
	}
	return infos[0]
}

// mqttPublishN publishes payloads "0".."n-1" at QoS 1 on topic/<i%3>
// from one paho client, at most window unacknowledged, and waits for
// every PUBACK: each is a message leafgate stored. It publishes in parts,
// pausing between them.
func mqttPublishN(t *testing.T, b *mqttpeer.Broker, topic string, n, window, parts int, pause time.Duration) {
	t.Helper()
	c, _ := pahoConnect(t, b, "repl-pub", true, nil)
	toks := make([]mqtt.Token, 0, window)
	for i := 0; i < n; i++ {
		if i > 0 && i%(n/parts) == 0 {
			time.Sleep(pause)
		}
		toks = append(toks, c.Publish(fmt.Sprintf("%s/%d", topic, i%3), 1, false, fmt.Sprint(i)))
		if len(toks) == window || i == n-1 {
			for _, tok := range toks {
				waitToken(t, "publish", tok)
			}
			toks = toks[:0]
		}
	}
}

// checkSourced reads n messages of a hub stream that sourced leafgate's
// and checks each once, in order: payload i on telemetry.dev.<i%3>.
func checkSourced(t *testing.T, js jetstream.JetStream, stream string, n int) {
	t.Helper()
	for i, m := range streamMsgsBySeq(t, js, stream, n) {
		if string(m.Data()) != fmt.Sprint(i) || m.Subject() != fmt.Sprintf("telemetry.dev.%d", i%3) {
			md, _ := m.Metadata()
			t.Fatalf("%s seq %d: %s %q, want payload %d", stream, md.Sequence.Stream, m.Subject(), m.Data(), i)
		}
	}
}

// MQTT QoS 1 messages published on leafgate while the link to the hub
// drops every 2 s: the hub's source of leafgate's stream ends with every
// message once, in order.
func TestReplHubSourcesEdgeFlaps(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}
	p, e, _, hjs := startHubSourcing(t, jetstream.LimitsPolicy)
	stop := flapper(p, 2*time.Second)
	// Published in ten parts half a second apart, so the cuts fall while
	// messages are being published and sourced.
	start := time.Now()
	mqttPublishN(t, e.Broker, "telemetry/dev", n, 1000, 10, 500*time.Millisecond)
	t.Logf("%d messages published in %v", n, time.Since(start).Round(time.Millisecond))
	waitStreamMsgs(t, hjs, "AGG", uint64(n))
	t.Logf("all at the hub after %v, %d link cuts", time.Since(start).Round(time.Millisecond), stop())
	checkSourced(t, hjs, "AGG", n)
}

// startHubSourcing starts startProxiedJS's hub and leafgate with
// leafgate's TELEMETRY (retention as given) sourced by the hub's AGG.
func startHubSourcing(t *testing.T, retention jetstream.RetentionPolicy) (*netproxy.Proxy, *edge, jetstream.Stream, jetstream.JetStream) {
	t.Helper()
	_, p, e, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	es, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}, Retention: retention})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}},
	}); err != nil {
		t.Fatal(err)
	}
	return p, e, es, hjs
}

// flapper cuts the link through p every period until stopped, and
// reports how many connections it cut.
func flapper(p *netproxy.Proxy, period time.Duration) (stop func() int) {
	done, cuts := make(chan struct{}), make(chan int, 1)
	go func() {
		n := 0
		defer func() { cuts <- n }()
		for {
			select {
			case <-done:
				return
			case <-time.After(period):
				n += p.Cut()
			}
		}
	}()
	return func() int { close(done); return <-cuts }
}

// startProxiedJS starts a JetStream hub (domain hub) and a leafgate
// (domain edge) linked through a proxy.
func startProxiedJS(t *testing.T) (*hub.Hub, *netproxy.Proxy, *edge, jetstream.JetStream, jetstream.JetStream) {
	t.Helper()
	h := hub.Start(t, hub.Options{JetStream: true, Domain: "hub"})
	p := netproxy.Start(t, h.LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}}}, domain: "edge"})
	e.waitLinks(t, 1)
	hc, ec := h.Connect(t), e.connect(t)
	h.WaitInterest(t, leafWait, "$JS.edge.API.STREAM.>")
	ejs, _ := jetstream.New(ec, jetstream.WithPublishAsyncMaxPending(1<<14))
	hjs, _ := jetstream.New(hc)
	return h, p, e, ejs, hjs
}

// A work-queue stream on leafgate sourced by the hub while the link drops
// every 2 s (#3207): every message reaches the hub once, and leafgate's
// queue empties only as the hub confirms.
func TestReplHubSourcesEdgeWorkQueueFlaps(t *testing.T) {
	n := 50_000
	if raceEnabled {
		n = 10_000
	}
	p, e, es, hjs := startHubSourcing(t, jetstream.WorkQueuePolicy)
	ctx, cancel := context.WithTimeout(context.Background(), 5*replWait)
	defer cancel()
	stop := flapper(p, 2*time.Second)
	start := time.Now()
	mqttPublishN(t, e.Broker, "telemetry/dev", n, 1000, 10, 500*time.Millisecond)
	waitStreamMsgs(t, hjs, "AGG", uint64(n))
	t.Logf("all %d at the hub after %v, %d link cuts", n, time.Since(start).Round(time.Millisecond), stop())
	checkSourced(t, hjs, "AGG", n)
	waitEmpty(t, ctx, es, "leafgate's work queue, after the hub stored everything")
	// Nothing more arrives later (no duplicates trickling in).
	time.Sleep(2 * time.Second)
	waitStreamMsgs(t, hjs, "AGG", uint64(n))
}

// leafgate's stream deleted and created again while the hub sources it
// (#6206): the hub's source learns from the stream identity that it is a
// new stream and sources it from its start, instead of waiting for
// sequences past the old one's.
func TestReplHubSourcesEdgeStreamRecreated(t *testing.T) {
	t.Parallel() // waits, mostly: it overlaps with the other waiting tests
	_, _, _, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*replWait)
	defer cancel()
	cfg := jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}
	if _, err := ejs.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}},
	}); err != nil {
		t.Fatal(err)
	}
	jsPublishN(t, ejs, "telemetry.dev", 0, 100)
	waitStreamMsgs(t, hjs, "AGG", 100)
	if err := ejs.DeleteStream(ctx, "TELEMETRY"); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Fewer messages than before: without the identity the hub would
	// ask for sequence 101 and never get any of these.
	jsPublishN(t, ejs, "telemetry.dev", 100, 20)
	start := time.Now()
	waitStreamMsgs(t, hjs, "AGG", 120)
	t.Logf("re-created stream sourced %v after its messages were published", time.Since(start).Round(time.Millisecond))
	checkSourced(t, hjs, "AGG", 120)
}

// waitEmpty waits until a work-queue stream holds nothing.
func waitEmpty(t *testing.T, ctx context.Context, s jetstream.Stream, what string) {
	t.Helper()
	hub.Until(t, replWait, func() string {
		si, err := s.Info(ctx)
		if err != nil {
			return err.Error()
		}
		if si.State.Msgs != 0 {
			return fmt.Sprintf("%s holds %d", what, si.State.Msgs)
		}
		return ""
	})
}

// nats-server waits this long for the answer to a source or mirror setup
// request (srcConsumerWaitTime) before it backs off and asks again.
const hubSetupWait = 30 * time.Second

// waitResumed waits for the hub streams to hold n each and reports how
// long that took; it fails once nats-server's own wait for a lost setup
// request would be over.
func waitResumed(t *testing.T, hjs jetstream.JetStream, n uint64, streams ...string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubSetupWait)
	defer cancel()
	start := time.Now()
	hub.Until(t, hubSetupWait-5*time.Second, func() string {
		for _, name := range streams {
			s, err := hjs.Stream(ctx, name)
			if err != nil {
				return err.Error()
			}
			if got := s.CachedInfo().State.Msgs; got < n {
				return fmt.Sprintf("%s holds %d of %d", name, got, n)
			}
		}
		return ""
	})
	return time.Since(start)
}

// The hub's source and mirror of leafgate's stream resume as soon as the
// link is back, not when nats-server would ask again (30 s and more).
// After an outage longer than the hub's 10 s health check, each has a
// setup request waiting that the outage lost; leafgate asks the hub to
// repeat them (resume_hub_sources). Then the hub restarts: its streams
// ask before leafgate is connected, and the same happens. Both streams
// end with every message once, in order, the mirror with leafgate's
// sequences.
func TestReplHubResumesSourcing(t *testing.T) {
	t.Parallel() // waits, mostly: it overlaps with the other waiting tests
	h, p, e, ejs, hjs := startProxiedJS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*replWait)
	defer cancel()
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []jetstream.StreamConfig{
		{Name: "AGG", Sources: []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}}},
		{Name: "MIR", Mirror: &jetstream.StreamSource{Name: "TELEMETRY", Domain: "edge"}},
	} {
		if _, err := hjs.CreateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	jsPublishN(t, ejs, "telemetry.dev", 0, 100)
	waitStreamMsgs(t, hjs, "AGG", 100)
	waitStreamMsgs(t, hjs, "MIR", 100)

	resumed := func(n uint64) time.Duration { return waitResumed(t, hjs, n, "AGG", "MIR") }

	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 100, 100)
	// The hub's health check finds both quiet and asks again, into the
	// void: its two requests wait for answers.
	hub.Until(t, replWait, func() string {
		if got := h.SubjectsWithPrefix("$JSC.R."); len(got) < 2 {
			return fmt.Sprintf("hub waits on %q", got)
		}
		return ""
	})
	p.Refuse(false)
	t.Logf("after the outage, both streams complete %v after the link is allowed back",
		resumed(200).Round(time.Millisecond))
	if n := e.leafz(t).Remotes[0].HubSetupsResume; n < 2 {
		t.Fatalf("hub_setups_resumed %d, want at least 2", n)
	}

	h.Shutdown()
	jsPublishN(t, ejs, "telemetry.dev", 200, 100)
	h.Restart(t)
	hc := h.Connect(t)
	hjs, _ = jetstream.New(hc)
	t.Logf("after a hub restart, both streams complete %v after it listened again (hub_setups_resumed %d)",
		resumed(300).Round(time.Millisecond), e.leafz(t).Remotes[0].HubSetupsResume)

	agg := streamMsgsBySeq(t, hjs, "AGG", 300)
	mir := streamMsgsBySeq(t, hjs, "MIR", 300)
	for i := range 300 {
		want := fmt.Sprint(i)
		if string(agg[i].Data()) != want || string(mir[i].Data()) != want {
			t.Fatalf("message %d: AGG %q, MIR %q, want %q", i, agg[i].Data(), mir[i].Data(), want)
		}
		if md, _ := mir[i].Metadata(); md.Sequence.Stream != uint64(i+1) {
			t.Fatalf("MIR seq %d holds origin message %d", md.Sequence.Stream, i+1)
		}
	}
}

// startHubCluster starts three JetStream hubs routed as one cluster
// (domain hub), each tagged az:<its name>, and waits for JetStream to
// answer on each.
func startHubCluster(t *testing.T) []*hub.Hub {
	t.Helper()
	names := []string{"hub-a", "hub-b", "hub-c"}
	// Cluster ports chosen first: each hub routes to all three.
	ports := make([]int, len(names))
	var routes []string
	for i := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	hubs := make([]*hub.Hub, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() { // together: each waits for the others to form JetStream
			defer wg.Done()
			hubs[i], errs[i] = hub.Run(hub.Options{ServerName: name, ClusterName: "hubs", JetStream: true, Domain: "hub",
				Configure: func(so *natsserver.Options) {
					so.Cluster.Host, so.Cluster.Port = "127.0.0.1", ports[i]
					so.Routes = natsserver.RoutesFromStr(strings.Join(routes, ","))
					so.Tags = []string{"az:" + name}
				}})
		}()
	}
	wg.Wait()
	for i, h := range hubs {
		if h != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s log:\n%s", names[i], h.Log())
				}
				h.Close()
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("hub cluster: %v", err)
	}
	for _, h := range hubs {
		js, _ := jetstream.New(h.Connect(t))
		hub.Until(t, replWait, func() string {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := js.AccountInfo(ctx); err != nil {
				return err.Error()
			}
			return ""
		})
	}
	return hubs
}

// resume_hub_sources with a clustered hub: leafgate is linked to hub-b,
// and the stream that sources it lives on hub-a. The reply subject the
// source waits on reaches leafgate through hub-b's routes, and so does
// its answer: after an outage that left a setup request waiting, the
// source resumes at once, with every message once, in order.
func TestReplHubClusterResumesSourcing(t *testing.T) {
	t.Parallel() // waits, mostly: the hub's 10 s health check
	hubs := startHubCluster(t)
	p := netproxy.Start(t, hubs[1].LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}}}, domain: "edge"})
	e.waitLinks(t, 1)
	hubs[1].WaitInterest(t, leafWait, "$JS.edge.API.STREAM.>")
	ejs, _ := jetstream.New(e.connect(t), jetstream.WithPublishAsyncMaxPending(1<<14))
	hjs, _ := jetstream.New(hubs[0].Connect(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*replWait)
	defer cancel()
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "AGG",
		Sources:   []*jetstream.StreamSource{{Name: "TELEMETRY", Domain: "edge"}},
		Placement: &jetstream.Placement{Tags: []string{"az:hub-a"}}}); err != nil {
		t.Fatal(err)
	}
	jsPublishN(t, ejs, "telemetry.dev", 0, 100)
	waitStreamMsgs(t, hjs, "AGG", 100)
	if s, _ := hjs.Stream(ctx, "AGG"); s.CachedInfo().Cluster.Leader != "hub-a" {
		t.Fatalf("AGG's leader is %q, want hub-a", s.CachedInfo().Cluster.Leader)
	}

	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 100, 100)
	hub.Until(t, replWait, func() string {
		if got := hubs[0].SubjectsWithPrefix("$JSC.R."); len(got) == 0 {
			return "hub-a waits on no setup"
		}
		return ""
	})
	p.Refuse(false)
	took := waitResumed(t, hjs, 200, "AGG")
	t.Logf("AGG on hub-a complete %v after the link to hub-b was allowed back (hub_setups_resumed %d)",
		took.Round(time.Millisecond), e.leafz(t).Remotes[0].HubSetupsResume)
	for i, m := range streamMsgsBySeq(t, hjs, "AGG", 200) {
		if string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("AGG message %d: %q", i, m.Data())
		}
	}
}
