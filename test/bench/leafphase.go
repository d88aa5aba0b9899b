package main

// The leafnode rows (issue 11): leafgate and, as the reference, nats-server
// each run as a soliciting leafnode of a nats-server hub (the bench's own
// nats-server build with `leafnodes { listen }`), one leaf and its hub at a
// time, and the same nats.go clients measure:
//
//   - leaf-local: the core 1 pub -> 1 sub workload (16 B), publisher and
//     subscriber both on the leaf, on a subject the hub has no interest
//     in, with the link up and with it down, and the leaf's CPU time per
//     message each way (leafworkloads.go);
//   - leaf-upstream: a publisher on the leaf, a subscriber on the hub;
//     leaf-downstream: the reverse (leafworkloads.go);
//   - leaf-request: request/reply round trips over the link, a requester
//     on the hub and a responder on the leaf, and the reverse
//     (leafrequest.go);
//   - leaf-wire: the bytes on the leaf→hub link for JSON telemetry with
//     each compression mode, through a counting proxy (leafwire.go);
//   - leaf-hub-subs: the leaf's memory per subscription of the hub's that
//     it holds (leafworkloads.go).
//
// The rows go in the main table, ratio leafgate / nats-server-as-leaf;
// the targets are budgets (budgets.go), checked when the rows ran.
// -workloads leaf selects them all; each is selectable by its name.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// leafGroup is the -workloads name that selects every leafnode row.
const leafGroup = "leaf"

// leafWorkload is one leafnode measurement: it starts its own hubs and
// leafs and returns its rows.
type leafWorkload struct {
	name string
	run  func(ctx context.Context, out io.Writer, bins []string) ([]Row, error)
}

var leafWorkloads = []leafWorkload{
	{"leaf-local", leafLocal},
	{"leaf-upstream", leafLink(upstream)},
	{"leaf-downstream", leafLink(downstream)},
	{"leaf-request", leafRequest},
	{"leaf-wire", leafWire},
	{"leaf-hub-subs", leafHubSubs},
	{"leaf-catchup", leafCatchup},
}

// hubInterest is the subject of the subscriber every hub gets before a
// leaf measures anything: interest the leaf learns, as in a deployment
// where the hub's services listen, on subjects no workload publishes to.
const hubInterest = "hub.events.>"

// selectedLeaf is the part of leafWorkloads -workloads names: all of them
// by default or for "leaf", none with -footprint.
func selectedLeaf() []leafWorkload {
	if *flagFootprint {
		return nil
	}
	names := strings.Split(*flagWorkloads, ",")
	all := *flagWorkloads == "" || slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == leafGroup })
	var out []leafWorkload
	for _, w := range leafWorkloads {
		if all || slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == w.name }) {
			out = append(out, w)
		}
	}
	return out
}

// leafPhase runs the selected leafnode workloads. bins are leafgate's and
// nats-server's binaries; every hub runs the latter.
func leafPhase(ctx context.Context, out io.Writer, bins []string) ([]Row, error) {
	selected := selectedLeaf()
	if len(selected) == 0 {
		return nil, nil
	}
	fmt.Fprintln(out, "Leafnode links (leafgate and nats-server, each as a leafnode of a nats-server hub):")
	var rows []Row
	for _, w := range selected {
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		start := time.Now()
		r, err := w.run(ctx, out, bins)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", w.name, err)
		}
		fmt.Fprintf(out, "  (%s took %v)\n", w.name, time.Since(start).Round(time.Second))
	}
	return rows, nil
}

// leafOptions are what a leaf's remote and its hub's leafnode listener
// are configured with beyond the defaults.
type leafOptions struct {
	compression    string // the remote's compression mode; "" for the default (s2_auto)
	hubCompression string // the hub's leafnodes.compression; "" for the default (s2_auto)
}

// startHub starts a nats-server hub whose leafnode listener is on
// 127.0.0.1:leafPort.
func startHub(bin string, leafPort int, o leafOptions) (*Server, error) {
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-hub-")
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("server_name: bench-hub\nleafnodes {\n  listen: \"127.0.0.1:%d\"\n", leafPort)
	if o.hubCompression != "" {
		text += fmt.Sprintf("  compression: %s\n", o.hubCompression)
	}
	text += "}\n"
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Name: "hub", Bin: bin, StoreDir: dir, Args: []string{"-c", conf}}
	if err := s.start(); err != nil {
		s.stop()
		return nil, err
	}
	if err := s.waitListening(fmt.Sprintf("127.0.0.1:%d", leafPort)); err != nil {
		s.stop()
		return nil, fmt.Errorf("hub's leafnode listener: %w", err)
	}
	return s, nil
}

// startLeaf starts server j (serverNames order) with one leafnode remote,
// hubAddr (host:port), and otherwise as the core rows run it: leafgate as
// it ships (JetStream and MQTT on, its default request_isolation),
// nats-server without JetStream. leafgate's reconnect back-off is capped
// at 1 s, nats-server's fixed interval, so that a leaf started before its
// hub joins it as soon as a nats-server leaf would.
func startLeaf(j int, bin, hubAddr string, o leafOptions) (*Server, error) {
	name := serverNames[j]
	dir, err := os.MkdirTemp(*flagStore, "leafgate-bench-leaf-"+name+"-")
	if err != nil {
		return nil, err
	}
	url := "nats-leaf://" + hubAddr
	s := &Server{Name: name, Bin: bin, StoreDir: dir}
	var text, conf string
	if name == "leafgate" {
		text = fmt.Sprintf("leafnodes:\n  reconnect_max: 1s\n  remotes:\n    - url: %s\n", url)
		if o.compression != "" {
			text += fmt.Sprintf("      compression: %s\n", o.compression)
		}
		conf = filepath.Join(dir, "leafgate.yaml")
		s.Args = []string{"--config", conf, "--store_dir", filepath.Join(dir, "store"), "--mqtt_port", "0", "--websocket_port", "0"}
	} else {
		text = fmt.Sprintf("server_name: bench-leaf\nleafnodes {\n  remotes = [\n    {\n      url: %q\n", url)
		if o.compression != "" {
			text += fmt.Sprintf("      compression: %s\n", o.compression)
		}
		text += "    }\n  ]\n}\n"
		conf = filepath.Join(dir, "leaf.conf")
		s.Args = []string{"-c", conf}
	}
	return startConfigured(s, dir, conf, text)
}

// leafz is the part of a leaf's /leafz the bench reads; leafgate's and
// nats-server's have the same field names.
type leafz struct {
	NumLeafs int `json:"leafnodes"`
	Leafs    []struct {
		NumSubs     int      `json:"subscriptions"` // the hub's interest held
		Subs        []string `json:"subscriptions_list"`
		Compression string   `json:"compression"`
	} `json:"leafs"`
}

// hasSub reports whether the (one) link holds the hub's interest in subject.
func (z *leafz) hasSub(subject string) bool {
	return z.NumLeafs == 1 && len(z.Leafs) == 1 && slices.Contains(z.Leafs[0].Subs, subject)
}

// numSubs is the hub's interest the (one) link holds, -1 without a link.
func (z *leafz) numSubs() int {
	if z.NumLeafs != 1 || len(z.Leafs) != 1 {
		return -1
	}
	return z.Leafs[0].NumSubs
}

// compression is the mode the (one) link runs, "" without a link.
func (z *leafz) compression() string {
	if len(z.Leafs) != 1 {
		return ""
	}
	return z.Leafs[0].Compression
}

var monitorClient = &http.Client{Timeout: 5 * time.Second}

// leafz reads s's /leafz, with the subscription lists when subs is set.
func (s *Server) leafz(subs bool) (*leafz, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/leafz", s.monPort)
	if subs {
		url += "?subs=1"
	}
	resp, err := monitorClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /leafz: %s", resp.Status)
	}
	var z leafz
	if err := json.NewDecoder(resp.Body).Decode(&z); err != nil {
		return nil, fmt.Errorf("GET /leafz: %w", err)
	}
	return &z, nil
}

// leafWait is how long a leaf gets to reach a state: start-up, the
// leafgate back-off (1 s here) and a busy machine.
const leafWait = 30 * time.Second

// waitLeafz polls s's /leafz until ok holds, for up to leafWait; what
// says what it waits for, in the error.
func (s *Server) waitLeafz(subs bool, what string, ok func(*leafz) bool) (*leafz, error) {
	deadline := time.Now().Add(leafWait)
	var last string
	for {
		z, err := s.leafz(subs)
		if err == nil && ok(z) {
			return z, nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("leafnodes %d, hub subscriptions %d", z.NumLeafs, z.numSubs())
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no %s after %v (%s); its log ends: %s", s.Name, what, leafWait, last, lastLine(s.stderr.String()))
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited waiting for %s: %s", s.Name, what, strings.TrimSpace(s.stderr.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitLinkUp waits until s's one leafnode link is up and holds the other
// side's interest in subject: on a leaf, the hub's; on a hub, the leaf's
// (a hub's /leafz lists what its leaf sent).
func (s *Server) waitLinkUp(subject string) (*leafz, error) {
	return s.waitLeafz(true, "link holding the other side's "+subject, func(z *leafz) bool { return z.hasSub(subject) })
}

// waitLinkDown waits until s reports no link.
func (s *Server) waitLinkDown() error {
	_, err := s.waitLeafz(false, "link down", func(z *leafz) bool { return z.NumLeafs == 0 })
	return err
}

// leafPair is one leaf, its hub and a client on the hub subscribed to
// hubInterest.
type leafPair struct {
	leaf, hub *Server
	hubClient *nats.Conn
	hubPort   int // the hub's leafnode listener, on 127.0.0.1
}

func (p *leafPair) hubAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.hubPort) }

// startHub starts p's hub with its leafnode listener on p.hubPort, and a
// client on it subscribed to hubInterest.
func (p *leafPair) startHub(bin string, o leafOptions) error {
	hub, err := startHub(bin, p.hubPort, o)
	if err != nil {
		return err
	}
	p.hub = hub
	nc, err := conn(hub.URL)
	if err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	p.hubClient = nc
	if _, err := nc.SubscribeSync(hubInterest); err != nil {
		return err
	}
	return nc.Flush()
}

// stopHub stops p's hub and its client.
func (p *leafPair) stopHub() {
	if p.hubClient != nil {
		p.hubClient.Close()
		p.hubClient = nil
	}
	if p.hub != nil {
		p.hub.stop()
		p.hub = nil
	}
}

func (p *leafPair) stop() {
	if p.leaf != nil {
		p.leaf.stop()
	}
	p.stopHub()
}

// startLeafPair starts a hub, then server j as its leaf, and waits for the
// link to be up with the hub's interest learned. via, when set, is given
// the hub's leafnode address and returns the one the leaf dials instead
// (a proxy to the hub: see leafWire).
func startLeafPair(bins []string, j int, o leafOptions, via func(hubAddr string) (string, error)) (*leafPair, error) {
	p := &leafPair{hubPort: freePort()}
	if err := p.startHub(bins[1], o); err != nil {
		p.stop()
		return nil, err
	}
	dial := p.hubAddr()
	if via != nil {
		var err error
		if dial, err = via(p.hubAddr()); err != nil {
			p.stop()
			return nil, err
		}
	}
	leaf, err := startLeaf(j, bins[j], dial, o)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.leaf = leaf
	if _, err := leaf.waitLinkUp(hubInterest); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startConfigured writes a leaf's configuration file and starts it; on
// failure its directory is removed.
func startConfigured(s *Server, dir, conf, text string) (*Server, error) {
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}
