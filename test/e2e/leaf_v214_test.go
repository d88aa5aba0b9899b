package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// TestLeafHubV214 holds leafgate to the wire contract of an older hub:
// nats-server v2.14.5 as a process, with its defaults (leafnode
// compression s2_auto) and JetStream in domain "hub". Messages and
// requests cross both ways, the hub reaches leafgate's JetStream by
// domain, and S2 was negotiated.
func TestLeafHubV214(t *testing.T) {
	// The oldest 2.14 release the module proxy serves, which `make tools`
	// installs.
	bin := toolBinary(t, "nats-server 2.14", "NATS_SERVER_214", "../../.bin/nats-server-v2.14.*/nats-server")
	dir := t.TempDir()
	ports, err := mqttpeer.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "hub.conf")
	text := fmt.Sprintf("host: 127.0.0.1\nport: %d\nserver_name: hub214\nleafnodes {\n  host: 127.0.0.1\n  port: %d\n}\njetstream {\n  store_dir: %q\n  domain: hub\n}\n",
		ports[0], ports[1], filepath.Join(dir, "js"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	var hubLog strings.Builder
	cmd.Stdout, cmd.Stderr = &hubLog, &hubLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	hubAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if err := mqttpeer.WaitListening(hubAddr, 20*time.Second, nil); err != nil {
		t.Fatalf("%v\n%s", err, hubLog.String())
	}
	lg := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{Monitor: true, JetStream: "  domain: edge\n", Config: fmt.Sprintf(
		"leafnodes:\n  remotes:\n    - url: nats-leaf://127.0.0.1:%d\n", ports[1])})

	// The link is up and compressed as both sides' defaults (s2_auto) say.
	deadline := time.Now().Add(20 * time.Second)
	var lz monitor.Leafz
	for {
		monitorGet(t, lg, "/leafz", &lz)
		if lz.NumLeafs == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lz.NumLeafs != 1 || lz.Leafs[0].Name != "hub214" || !strings.HasPrefix(lz.Leafs[0].Compression, "s2_") {
		t.Fatalf("leafgate /leafz: %+v (remotes %+v)\nhub log:\n%s", lz.Leafs, lz.Remotes, hubLog.String())
	}

	hub, err := nats.Connect("nats://"+hubAddr, nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	edge, err := nats.Connect(lg.NATSURL, nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()

	// Responders on each side; each side's requests reach the other's,
	// which proves interest went both ways too.
	if _, err := hub.Subscribe("svc.hub", func(m *nats.Msg) { _ = m.Respond([]byte("from hub")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.Subscribe("svc.edge", func(m *nats.Msg) { _ = m.Respond(append([]byte("from edge: "), m.Header.Get("X-Id")...)) }); err != nil {
		t.Fatal(err)
	}
	_ = hub.Flush()
	_ = edge.Flush()
	request := func(nc *nats.Conn, subj string, hdr nats.Header) string {
		t.Helper()
		var last error
		for time.Now().Before(deadline.Add(10 * time.Second)) {
			m, err := nc.RequestMsg(&nats.Msg{Subject: subj, Header: hdr}, 2*time.Second)
			if err == nil {
				return string(m.Data)
			}
			last = err
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("request %s: %v", subj, last)
		return ""
	}
	if got := request(edge, "svc.hub", nil); got != "from hub" {
		t.Fatalf("edge → hub: %q", got)
	}
	if got := request(hub, "svc.edge", nats.Header{"X-Id": []string{"42"}}); got != "from edge: 42" {
		t.Fatalf("hub → edge (headers across the link): %q", got)
	}

	// The hub administers leafgate's JetStream by domain, and leafgate's
	// clients reach the hub's.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	edgeJS, err := jetstream.NewWithDomain(hub, "edge")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edgeJS.CreateStream(ctx, jetstream.StreamConfig{Name: "TELEMETRY", Subjects: []string{"telemetry.>"}}); err != nil {
		t.Fatalf("create a stream on the edge from the hub: %v", err)
	}
	if _, err := edge.Request("$JS.API.STREAM.INFO.TELEMETRY", nil, 5*time.Second); err != nil {
		t.Fatalf("the stream is not on leafgate: %v", err)
	}
	hubJS, err := jetstream.NewWithDomain(edge, "hub")
	if err != nil {
		t.Fatal(err)
	}
	kv, err := hubJS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "site"})
	if err != nil {
		t.Fatalf("create a bucket on the hub from the edge: %v", err)
	}
	if _, err := kv.Put(ctx, "name", []byte("plant-7")); err != nil {
		t.Fatal(err)
	}
	hubLocal, err := jetstream.New(hub)
	if err != nil {
		t.Fatal(err)
	}
	hkv, err := hubLocal.KeyValue(ctx, "site")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := hkv.Get(ctx, "name"); err != nil || string(e.Value()) != "plant-7" {
		t.Fatalf("the hub's bucket: %v %v", e, err)
	}
}
