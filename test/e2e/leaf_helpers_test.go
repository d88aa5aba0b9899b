package e2e

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// The leafnode link end to end (leaf_*_test.go): leafgate runs as a
// process (its binary, as shipped) with a leafnodes remote pointing at a
// real nats-server v2.15.2 hub started in-process (test/internal/hub),
// directly or through a TCP proxy that can black-hole, cut or refuse the
// link (test/internal/netproxy). nats.go clients sit on both sides, paho
// on leafgate's MQTT port. Every wait is a poll with a deadline; the
// deadlines are generous for a busy 2-core CI machine.

const (
	// leafWait bounds what should happen promptly: a link coming up,
	// interest crossing it, a message arriving.
	leafWait = 20 * time.Second
	// leafQuiet is how long a test listens for something that must NOT
	// arrive, after a marker that would have come after it has arrived.
	// It is a margin for scheduling, not a synchronisation.
	leafQuiet = 300 * time.Millisecond
)

// edgeRemote is one leafnodes.remotes entry.
type edgeRemote struct {
	urls []string
	// extra is more keys of the entry, one "key: value" per line,
	// unindented (nested blocks indented relative to it, e.g.
	// "tls:\n  ca_file: /x").
	extra string
}

// edgeOpts describe a leafgate leafnode.
type edgeOpts struct {
	remotes []edgeRemote
	// leafnodes overrides keys of the leafnodes section ("ping_interval":
	// "1s"); by default reconnect is 100ms and reconnect_max 1s, so a
	// link comes up promptly after a refusal in a test.
	leafnodes map[string]string
	// domain is leafgate's jetstream.domain.
	domain      string
	noJetStream bool
	// config is extra top-level YAML.
	config string
}

// edge is leafgate running as a leafnode.
type edge struct {
	*mqttpeer.Broker
}

// startEdge starts leafgate with o's leafnodes section, its monitoring
// port on, and stops it at cleanup (writing its log to the test log when
// the test failed).
func startEdge(t *testing.T, o edgeOpts) *edge {
	t.Helper()
	ln := map[string]string{"reconnect": "100ms", "reconnect_max": "1s"}
	for k, v := range o.leafnodes {
		ln[k] = v
	}
	var b strings.Builder
	b.WriteString("leafnodes:\n")
	for _, k := range slices.Sorted(maps.Keys(ln)) {
		fmt.Fprintf(&b, "  %s: %s\n", k, ln[k])
	}
	b.WriteString("  remotes:\n")
	for _, r := range o.remotes {
		fmt.Fprintf(&b, "    - urls: [%s]\n", quoteList(r.urls))
		for _, line := range strings.Split(strings.TrimRight(r.extra, "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	b.WriteString(o.config)
	js := ""
	if o.domain != "" {
		js = "  domain: " + o.domain + "\n"
	}
	lg := mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{
		Config: b.String(), JetStream: js, NoJetStream: o.noJetStream, Monitor: true,
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("leafgate log:\n%s", lg.Log())
		}
	})
	return &edge{lg}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// startLinked starts a hub with ho and a leafgate whose one remote points
// straight at it (extra: more keys of the remote), and waits for the link.
func startLinked(t *testing.T, ho hub.Options, eo edgeOpts, extra string) (*hub.Hub, *edge) {
	t.Helper()
	h := hub.Start(t, ho)
	eo.remotes = []edgeRemote{{urls: []string{h.LeafURL}, extra: extra}}
	e := startEdge(t, eo)
	e.waitLinks(t, 1)
	h.WaitLeafs(t, 1, leafWait)
	return h, e
}

// connect connects a nats.go client to leafgate, closed at cleanup.
func (e *edge) connect(t *testing.T, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return natsConnect(t, e.Broker, append([]nats.Option{nats.Name("edge-client")}, opts...)...)
}

// logCount counts leafgate's log lines matching re.
func (e *edge) logCount(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(e.Log(), -1))
}

// waitLog waits until leafgate has logged at least n lines matching re.
func (e *edge) waitLog(t *testing.T, re string, n int, timeout time.Duration) {
	t.Helper()
	hub.Until(t, timeout, func() string {
		if got := e.logCount(re); got < n {
			return fmt.Sprintf("leafgate logged %d lines matching %q, want %d", got, re, n)
		}
		return ""
	})
}

// waitLinks waits until leafgate has logged n "leafnode link up" lines.
func (e *edge) waitLinks(t *testing.T, n int) {
	t.Helper()
	e.waitLog(t, `msg="leafnode link up"`, n, leafWait)
}

// edgeSubs are leafgate's subscriptions matching the literal subject subj
// that no NATS client of leafgate made (cid 0): the hub's interest, which
// the link holds as subscriptions, and leafgate's internal ones.
func (e *edge) edgeSubs(t *testing.T, subj string) []map[string]any {
	t.Helper()
	sz := getJSON(t, e.MonitorURL+"/subsz?subs=1&limit=100000&test="+subj)
	var out []map[string]any
	list, _ := sz["subscriptions_list"].([]any)
	for _, x := range list {
		d, _ := x.(map[string]any)
		if cid, _ := d["cid"].(float64); cid == 0 {
			out = append(out, d)
		}
	}
	return out
}

// waitHubInterest waits until leafgate holds at least n of the hub's
// subscriptions matching subj (a queue group counts once), so a local
// publish on subj reaches the hub.
func (e *edge) waitHubInterest(t *testing.T, subj string, n int) {
	t.Helper()
	hub.Until(t, leafWait, func() string {
		if got := len(e.edgeSubs(t, subj)); got < n {
			return fmt.Sprintf("leafgate holds %d hub subscriptions matching %q, want %d", got, subj, n)
		}
		return ""
	})
}

// subSync subscribes and flushes, so the server has the subscription
// before anything the test does next.
func subSync(t *testing.T, nc *nats.Conn, subj string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subj)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	return sub
}

func queueSync(t *testing.T, nc *nats.Conn, subj, queue string) *nats.Subscription {
	t.Helper()
	sub, err := nc.QueueSubscribeSync(subj, queue)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	return sub
}

func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(leafWait); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func publish(t *testing.T, nc *nats.Conn, subj, data string) {
	t.Helper()
	if err := nc.Publish(subj, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// recv waits for the next message on sub and checks its subject and data.
func recv(t *testing.T, sub *nats.Subscription, subj, data string) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(leafWait)
	if err != nil {
		t.Fatalf("%s: waiting for %s %q: %v", sub.Subject, subj, data, err)
	}
	if m.Subject != subj || string(m.Data) != data {
		t.Fatalf("%s: got %s %q, want %s %q", sub.Subject, m.Subject, m.Data, subj, data)
	}
	return m
}

// leafNone checks that nothing (more) arrives on any of subs for leafQuiet.
func leafNone(t *testing.T, subs ...*nats.Subscription) {
	t.Helper()
	deadline := time.Now().Add(leafQuiet)
	for _, s := range subs {
		if m, err := s.NextMsg(max(time.Until(deadline), time.Millisecond)); err == nil {
			t.Fatalf("%s: unexpected %s %q", s.Subject, m.Subject, m.Data)
		}
	}
}

// edgeLeafz is the part of leafgate's GET /leafz these tests read:
// nats-server's fields for connected links, leafgate's per remote.
type edgeLeafz struct {
	NumLeafs int `json:"leafnodes"`
	Leafs    []struct {
		Name    string `json:"name"`
		NumSubs uint32 `json:"subscriptions"`
	} `json:"leafs"`
	Remotes []struct {
		Name            string `json:"name"`
		Connected       bool   `json:"connected"`
		URL             string `json:"url"`
		LastError       string `json:"last_error"`
		Reconnects      int64  `json:"reconnects"`
		FailedAttempts  int64  `json:"failed_attempts"`
		HubSubsIgnored  int64  `json:"hub_subscriptions_ignored"`
		HubSetupsResume int64  `json:"hub_setups_resumed"`
	} `json:"remotes"`
}

// leafz reads leafgate's /leafz; it expects exactly one remote.
func (e *edge) leafz(t *testing.T) edgeLeafz {
	t.Helper()
	var lz edgeLeafz
	monitorGet(t, e.Broker, "/leafz", &lz)
	if len(lz.Remotes) != 1 {
		t.Fatalf("/leafz lists %d remotes, want 1: %+v", len(lz.Remotes), lz)
	}
	return lz
}
