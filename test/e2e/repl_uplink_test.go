package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// The uplink (issue 12, part 3): leafgate forwards its TELEMETRY stream
// into the hub stream that captures telemetry.>, by JetStream publish with
// Nats-Msg-Id <gateway>.<stream>.<seq>, resuming exactly after outages,
// restarts and kill -9.

const uplinkYAML = `server_name: gw1
uplinks:
  - stream: TELEMETRY
    filter: telemetry.>
    subject_transform: {src: "telemetry.>", dest: "telemetry.gw1.>"}
`

// startUplinked starts a JetStream hub with stream HUBTEL on telemetry.>
// and a leafgate (through a proxy) with stream TELEMETRY and an uplink.
func startUplinked(t *testing.T, extra string) (*hub.Hub, *netproxy.Proxy, *edge, jetstream.JetStream, jetstream.JetStream) {
	t.Helper()
	return startUplinkedWith(t, edgeOpts{config: extra}, "")
}

// startUplinkedWith is startUplinked with o's leafnodes keys and extra
// configuration, and remoteExtra on the remote.
func startUplinkedWith(t *testing.T, o edgeOpts, remoteExtra string) (*hub.Hub, *netproxy.Proxy, *edge, jetstream.JetStream, jetstream.JetStream) {
	t.Helper()
	h := hub.Start(t, hub.Options{JetStream: true, Domain: "hub"})
	hc := h.Connect(t)
	hjs, _ := jetstream.New(hc)
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "HUBTEL", Subjects: []string{"telemetry.>"}, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	p := netproxy.Start(t, h.LeafAddr)
	o.remotes = []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}, extra: remoteExtra}}
	o.domain, o.config = "edge", uplinkYAML+o.config
	e := startEdge(t, o)
	e.waitLinks(t, 1)
	ec := e.connect(t)
	ejs, _ := jetstream.New(ec, jetstream.WithPublishAsyncMaxPending(1<<14))
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		t.Fatal(err)
	}
	return h, p, e, ejs, hjs
}

// checkUplinked reads n messages of the hub stream and checks each once,
// in order: payload i on telemetry.gw1.dev.<i%3>, with its message id.
func checkUplinked(t *testing.T, hjs jetstream.JetStream, n int) {
	t.Helper()
	for i, m := range streamMsgsBySeq(t, hjs, "HUBTEL", n) {
		if string(m.Data()) != fmt.Sprint(i) || m.Subject() != fmt.Sprintf("telemetry.gw1.dev.%d", i%3) {
			md, _ := m.Metadata()
			t.Fatalf("HUBTEL seq %d: %s %q, want payload %d", md.Sequence.Stream, m.Subject(), m.Data(), i)
		}
		if id := m.Headers().Get("Nats-Msg-Id"); id != fmt.Sprintf("gw1.TELEMETRY.%d", i+1) {
			t.Fatalf("message %d id %q", i, id)
		}
	}
}

type uplinkz struct {
	Uplinks []struct {
		Name        string `json:"name"`
		State       string `json:"state"`
		Confirmed   uint64 `json:"confirmed_seq"`
		BacklogMsgs uint64 `json:"backlog_msgs"`
		Sent        uint64 `json:"sent"`
		Acked       uint64 `json:"acked"`
		Resent      uint64 `json:"resent"`
		Stalls      uint64 `json:"stalls"`
		Batches     uint64 `json:"batches"`
		Dropped     struct {
			Msgs     uint64 `json:"msgs"`
			FirstSeq uint64 `json:"first_seq"`
			LastSeq  uint64 `json:"last_seq"`
		} `json:"dropped"`
	} `json:"uplinks"`
	Downlinks []struct {
		Name      string `json:"name"`
		Delivered uint64 `json:"delivered_seq"`
		Backlog   uint64 `json:"backlog_msgs"`
	} `json:"downlinks"`
}

func (e *edge) uplinkz(t *testing.T) uplinkz {
	t.Helper()
	resp, err := http.Get(e.MonitorURL + "/uplinkz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var uz uplinkz
	if err := json.Unmarshal(b, &uz); err != nil || len(uz.Uplinks) != 1 {
		t.Fatalf("/uplinkz: %v %s", err, b)
	}
	return uz
}

// 100,000 MQTT QoS 1 messages published on leafgate while the link drops
// every 2 s: the hub stream ends with every one once, in order, and
// /uplinkz shows everything confirmed. Nothing reaches it untransformed (a
// core copy over the link would).
func TestReplUplinkFlaps(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}
	h, p, e, _, hjs := startUplinked(t, "")
	hc := h.Connect(t)
	core := subSync(t, hc, "telemetry.dev.>")
	stop := flapper(p, 2*time.Second)
	start := time.Now()
	mqttPublishN(t, e.Broker, "telemetry/dev", n, 1000, 10, 500*time.Millisecond)
	waitStreamMsgs(t, hjs, "HUBTEL", uint64(n))
	t.Logf("all %d at the hub after %v, %d link cuts", n, time.Since(start).Round(time.Millisecond), stop())
	checkUplinked(t, hjs, n)
	if m, err := core.NextMsg(leafQuiet); err == nil {
		t.Fatalf("a core copy crossed the link: %s", m.Subject)
	}
	hub.Until(t, replWait, func() string {
		uz := e.uplinkz(t)
		if u := uz.Uplinks[0]; u.Confirmed != uint64(n) || u.BacklogMsgs != 0 || u.State != "idle" {
			return fmt.Sprintf("/uplinkz %+v", u)
		}
		return ""
	})
}

// leafgate killed with kill -9 twice while it catches up a backlog the
// link's outage left: the hub ends with every message once. The same in
// fast batches, killed mid-batch.
func TestReplUplinkKill(t *testing.T) {
	t.Run("single publishes", func(t *testing.T) { testUplinkKill(t, false) })
	t.Run("fast batches", func(t *testing.T) { testUplinkKill(t, true) })
}

func testUplinkKill(t *testing.T, fastBatch bool) {
	n := 30_000
	if raceEnabled {
		n = 10_000
	}
	extra := ""
	if fastBatch {
		extra = "    fast_batch: true\n" // the uplink entry's
	}
	_, p, e, ejs, hjs := startUplinked(t, extra)
	if fastBatch {
		allowBatches(t, hjs, true)
		// Slow enough that the kills fall inside a batch.
		p.SetRate(n * 250 / 4)
	}
	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 0, n)
	p.Refuse(false)
	for k := 0; k < 2; k++ {
		waitStreamAtLeast(t, hjs, "HUBTEL", uint64((k+1)*n/4))
		e.Crash(t)
	}
	waitStreamMsgs(t, hjs, "HUBTEL", uint64(n))
	checkUplinked(t, hjs, n)
	if fastBatch {
		hub.Until(t, replWait, func() string {
			if u := e.uplinkz(t).Uplinks[0]; u.Batches == 0 {
				return fmt.Sprintf("/uplinkz %+v: the restarted uplink caught up without a batch", u)
			}
			return ""
		})
	}
}

// An outage whose backlog exceeds the stream's limit: the oldest unsent
// messages are dropped by the discard policy and /uplinkz says how many,
// which, and why; the rest reach the hub once, in order.
func TestReplUplinkBacklogOverLimit(t *testing.T) {
	_, p, e, ejs, hjs := startUplinked(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	cfg := streamConfig(t, ejs, "TELEMETRY")
	cfg.MaxMsgs = 1000
	if _, err := ejs.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	hub.Until(t, leafWait, func() string { // the uplink has found its stream
		if st := e.uplinkz(t).Uplinks[0].State; st == "waiting for stream" {
			return "uplink " + st
		}
		return ""
	})
	p.Refuse(true)
	p.Cut()
	hub.Until(t, leafWait, func() string {
		if lz := e.leafz(t); lz.Remotes[0].Connected {
			return "link still up"
		}
		return ""
	})
	jsPublishN(t, ejs, "telemetry.dev", 0, 3000)
	hub.Until(t, leafWait, func() string { // /uplinkz is refreshed every second
		if d := e.uplinkz(t).Uplinks[0].Dropped; d.Msgs != 2000 || d.FirstSeq != 1 || d.LastSeq != 2000 {
			return fmt.Sprintf("/uplinkz dropped %+v, want 2000 (1..2000)", d)
		}
		return ""
	})
	p.Refuse(false)
	waitStreamMsgs(t, hjs, "HUBTEL", 1000)
	for i, m := range streamMsgsBySeq(t, hjs, "HUBTEL", 1000) {
		if want := fmt.Sprint(2000 + i); string(m.Data()) != want {
			t.Fatalf("HUBTEL %d: %q, want %q", i, m.Data(), want)
		}
	}
	if n := e.logCount(`limits dropped messages an uplink had not sent`); n == 0 {
		t.Fatal("no log line for the dropped backlog")
	}
}

// The hub restarted mid-stream, in both directions at once: telemetry
// goes up through the uplink while leafgate sources the hub's COMMANDS.
// After the restart both carry on from where they were; the uplink's
// first message reaches the hub within a few seconds of the hub
// listening again (leafgate drives it), and everything arrives once.
func TestReplHubRestartMidStream(t *testing.T) {
	t.Parallel() // waits, mostly: it overlaps with the other waiting tests
	h, _, _, ejs, hjs := startUplinked(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*replWait)
	defer cancel()
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Subjects: []string{"commands.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMANDS", Sources: []*jetstream.StreamSource{{Name: "COMMANDS", Domain: "hub"}}}); err != nil {
		t.Fatal(err)
	}
	jsPublishN(t, ejs, "telemetry.dev", 0, 500)
	hubPublishN(t, hjs, "commands.dev", 0, 500)
	waitStreamMsgs(t, hjs, "HUBTEL", 500)
	waitStreamMsgs(t, ejs, "COMMANDS", 500)

	h.Shutdown()
	jsPublishN(t, ejs, "telemetry.dev", 500, 500) // queued at the edge
	h.Restart(t)
	restarted := time.Now()
	hc := h.Connect(t)
	hjs, _ = jetstream.New(hc, jetstream.WithPublishAsyncMaxPending(1<<14))
	hubPublishN(t, hjs, "commands.dev", 500, 500)
	var first time.Duration
	hub.Until(t, replWait, func() string {
		s, err := hjs.Stream(ctx, "HUBTEL")
		if err != nil {
			return err.Error()
		}
		if n := s.CachedInfo().State.Msgs; n <= 500 {
			return fmt.Sprintf("HUBTEL holds %d", n)
		}
		first = time.Since(restarted)
		return ""
	})
	t.Logf("first queued message at the hub %v after it listened again", first.Round(time.Millisecond))
	waitStreamMsgs(t, hjs, "HUBTEL", 1000)
	checkUplinked(t, hjs, 1000)
	waitStreamMsgs(t, ejs, "COMMANDS", 1000)
	checkFollowed(t, ejs, "COMMANDS", "commands.dev", 1000)
}

// fast_batch: a backlog goes up in nats-server 2.14 fast batches when the
// hub stream allows them. The link is cut every 0.4 s while it drains, so
// batches are abandoned and resent; the hub stream ends with every
// message once, in order, and /uplinkz counts committed batches. Against
// a stream without allow_batched the uplink falls back to one publish per
// message, says so once, and loses nothing.
func TestReplUplinkFastBatch(t *testing.T) {
	n := 60_000
	if raceEnabled {
		n = 20_000
	}
	_, p, e, ejs, hjs := startUplinkedWith(t, edgeOpts{config: "    fast_batch: true\n"}, "") // the uplink entry's
	allowBatches(t, hjs, true)
	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 0, n)
	p.Refuse(false)
	start := time.Now()
	stop := flapper(p, 400*time.Millisecond)
	waitStreamMsgs(t, hjs, "HUBTEL", uint64(n))
	t.Logf("%d in fast batches after %v, %d link cuts", n, time.Since(start).Round(time.Millisecond), stop())
	checkUplinked(t, hjs, n)

	// One more outage, the link steady after it: the catch-up commits its
	// batch. (With a cut every 0.4 s, each commit may be cut short too.)
	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", n, 5000)
	p.Refuse(false)
	waitStreamMsgs(t, hjs, "HUBTEL", uint64(n+5000))
	checkUplinked(t, hjs, n+5000)
	hub.Until(t, replWait, func() string {
		if u := e.uplinkz(t).Uplinks[0]; u.Confirmed != uint64(n+5000) || u.Batches == 0 {
			return fmt.Sprintf("/uplinkz %+v, want all confirmed and batches committed", u)
		}
		return ""
	})

	// The hub stops allowing batches: one publish per message, said once.
	allowBatches(t, hjs, false)
	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", n+5000, 5000)
	p.Refuse(false)
	waitStreamMsgs(t, hjs, "HUBTEL", uint64(n+10000))
	checkUplinked(t, hjs, n+10000)
	if c := e.logCount(`the hub refuses fast batches`); c != 1 {
		t.Fatalf("%d log lines for the refused batches, want 1", c)
	}
}

// fast_batch unset (the default): an uplink whose subjects go into two
// hub streams, both allowing batches. A batch is one stream's, so the
// first one breaks; the uplink then publishes one by one, says so once,
// and each hub stream ends with its messages once, in order.
func TestReplUplinkAutoBatchTwoHubStreams(t *testing.T) {
	const n = 3000
	_, p, e, ejs, hjs := startUplinkedWith(t, edgeOpts{}, "")
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	cfg := streamConfig(t, hjs, "HUBTEL")
	cfg.Subjects, cfg.AllowBatchPublish = []string{"telemetry.gw1.dev.0"}, true
	if _, err := hjs.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Name, cfg.Subjects = "HUBTEL2", []string{"telemetry.gw1.dev.1", "telemetry.gw1.dev.2"}
	if _, err := hjs.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	p.Refuse(true)
	p.Cut()
	jsPublishN(t, ejs, "telemetry.dev", 0, n)
	p.Refuse(false)
	waitStreamMsgs(t, hjs, "HUBTEL", n/3)
	waitStreamMsgs(t, hjs, "HUBTEL2", 2*n/3)
	for stream, want := range map[string][]int{"HUBTEL": {0}, "HUBTEL2": {1, 2}} {
		i := want[0]
		for _, m := range streamMsgsBySeq(t, hjs, stream, n/3*len(want)) {
			if string(m.Data()) != fmt.Sprint(i) || m.Headers().Get("Nats-Msg-Id") != fmt.Sprintf("gw1.TELEMETRY.%d", i+1) {
				t.Fatalf("%s: %s %q, want payload %d", stream, m.Subject(), m.Data(), i)
			}
			if i++; i%3 == 0 && len(want) == 2 {
				i++ // HUBTEL2 has no dev.0
			} else if len(want) == 1 {
				i += 2
			}
		}
	}
	hub.Until(t, replWait, func() string {
		if u := e.uplinkz(t).Uplinks[0]; u.Confirmed != n {
			return fmt.Sprintf("/uplinkz %+v, want all confirmed", u)
		}
		return ""
	})
	if c := e.logCount(`the hub refuses fast batches`); c != 1 {
		t.Fatalf("%d log lines for the broken batches, want 1:\n%s", c, e.Log())
	}
	t.Log(regexp.MustCompile(`.*the hub refuses fast batches.*`).FindString(e.Log()))
}

// streamConfig is stream name's configuration.
func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Config
}

// allowBatches sets the hub stream HUBTEL's allow_batched.
func allowBatches(t *testing.T, hjs jetstream.JetStream, on bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replWait)
	defer cancel()
	cfg := streamConfig(t, hjs, "HUBTEL")
	cfg.AllowBatchPublish = on
	if _, err := hjs.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}
