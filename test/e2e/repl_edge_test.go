package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// configs/edge.yaml end to end: its streams, uplinks and downlinks
// sections (read from the file, so the example stays true) on a leafgate
// linked to a nats-server hub through a proxy. Devices publish telemetry
// over MQTT, which reaches the hub's stream; the hub's commands reach a
// device's persistent session even though the device connects only after
// the link went down again (issue 12, part 4) — and after a kill -9.

// edgeSections is configs/edge.yaml from its streams section on.
func edgeSections(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "edge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\nstreams:")
	if i < 0 {
		t.Fatal("configs/edge.yaml has no streams section")
	}
	return "server_name: gw1\n" + s[i+1:]
}

func TestReplEdgeExample(t *testing.T) {
	h := hub.Start(t, hub.Options{JetStream: true, Domain: "hub"})
	hc := h.Connect(t)
	hjs, _ := jetstream.New(hc, jetstream.WithPublishAsyncMaxPending(1<<14))
	ctx, cancel := context.WithTimeout(context.Background(), 3*replWait)
	defer cancel()
	for _, sc := range []jetstream.StreamConfig{
		{Name: "HUBTEL", Subjects: []string{"telemetry.>"}, Duplicates: time.Hour},
		{Name: "COMMANDS", Subjects: []string{"commands.>"}},
	} {
		if _, err := hjs.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	p := netproxy.Start(t, h.LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + p.Addr()}}}, domain: "edge", config: edgeSections(t)})
	e.waitLinks(t, 1)

	// A device subscribes with a persistent session, then goes away.
	dev, _ := pahoConnect(t, e.Broker, "dev1", false, nil)
	waitToken(t, "subscribe", dev.Subscribe("commands/dev1", 1, nil))
	dev.Disconnect(100)

	// Telemetry goes up, transformed with the gateway's id.
	mqttPublishN(t, e.Broker, "telemetry/dev1", 300, 100, 1, 0)
	waitStreamMsgs(t, hjs, "HUBTEL", 300)
	for i, m := range streamMsgsBySeq(t, hjs, "HUBTEL", 300) {
		if m.Subject() != fmt.Sprintf("telemetry.gw1.dev1.%d", i%3) || string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("HUBTEL %d: %s %q", i, m.Subject(), m.Data())
		}
	}

	// The cloud sends commands while the device is away; the gateway
	// sources them, then the link goes down, then the gateway is killed.
	const n = 200
	for i := 0; i < n; i++ {
		if _, err := hjs.PublishAsync("commands.dev1", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-hjs.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("commands not acknowledged by the hub")
	}
	ec := e.connect(t)
	ejs, _ := jetstream.New(ec)
	waitStreamMsgs(t, ejs, "COMMANDS", n)
	p.Refuse(true)
	p.Cut()
	e.Crash(t)

	// The device comes back with the link still down: every command,
	// once, in order.
	in := newInbox()
	dev2, present := pahoConnect(t, e.Broker, "dev1", false, in.handler)
	if !present {
		t.Fatal("the persistent session was lost")
	}
	_ = dev2
	got := in.wait(t, n)
	for i, g := range got {
		if want := fmt.Sprintf("commands/dev1 1 %d", i); g != want {
			t.Fatalf("command %d: %q, want %q", i, g, want)
		}
	}
	time.Sleep(leafQuiet)
	if extra := in.wait(t, n); len(extra) != n {
		t.Fatalf("%d commands, want %d (duplicates)", len(extra), n)
	}
	if uz := e.uplinkz(t); len(uz.Downlinks) != 1 || uz.Downlinks[0].Delivered != n || uz.Downlinks[0].Backlog != 0 {
		t.Fatalf("/uplinkz downlinks %+v, want %d delivered and none left", uz.Downlinks, n)
	}
}
