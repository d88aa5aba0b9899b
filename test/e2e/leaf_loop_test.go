package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/leafgate/leafgate/test/internal/hub"
	"github.com/leafgate/leafgate/test/internal/netproxy"
)

// Loop detection. Every server advertises its own $LDS.<id> subject on its
// leaf links; an LS+ for it arriving back means the interest went round a
// loop, and the link is closed with -ERR 'Loop detected ...' and, on the
// soliciting side, not retried for 30 s.

// loopQuiet is how long a looped link is watched for reconnect attempts:
// with reconnect 100ms a link that ignored the 30 s delay would have tried
// several times.
const loopQuiet = 3 * time.Second

// A real loop: leafgate joins hub A and hub B, and B is itself a leaf of
// A. leafgate's loop-detection subject goes up one link and comes back
// down the other; leafgate drops that link with the loop -ERR (which the
// hub logs) and waits 30 s before trying it again. The loop needs
// request_isolation off (leafgate's default is on, which keeps the hubs
// from sending it other leafnodes' interest, its own included).
func TestLeafLoopDetected(t *testing.T) {
	a := hub.Start(t, hub.Options{ServerName: "A"})
	au, err := url.Parse(a.LeafURL)
	if err != nil {
		t.Fatal(err)
	}
	b := hub.Start(t, hub.Options{ServerName: "B", Configure: func(so *natsserver.Options) {
		so.LeafNode.Remotes = []*natsserver.RemoteLeafOpts{{URLs: []*url.URL{au}}}
	}})
	a.WaitLeafs(t, 1, leafWait) // B
	pa, pb := netproxy.Start(t, a.LeafAddr), netproxy.Start(t, b.LeafAddr)
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{
		{urls: []string{"nats-leaf://" + pa.Addr()}, extra: "name: toA\nrequest_isolation: false"},
		{urls: []string{"nats-leaf://" + pb.Addr()}, extra: "name: toB\nrequest_isolation: false"},
	}})
	e.waitLog(t, `msg="leafnode link down".*Loop detected`, 1, leafWait)
	// Let the other link, which may see the loop too, settle.
	time.Sleep(leafQuiet)
	loopLines := grepLines(e.Log(), "Loop detected")
	t.Logf("leafgate:\n%s", loopLines)
	for _, line := range strings.Split(loopLines, "\n") {
		if !strings.Contains(line, "retry_in=30s") {
			t.Errorf("a looped link is retried without the 30 s delay: %s", line)
		}
	}
	if !strings.Contains(a.Log()+b.Log(), "Loop detected") {
		t.Errorf("neither hub got leafgate's loop -ERR")
	}
	looped := map[string]*netproxy.Proxy{}
	for name, p := range map[string]*netproxy.Proxy{"toA": pa, "toB": pb} {
		if strings.Contains(loopLines, "leafnode="+name+" ") {
			looped[name] = p
		}
	}
	before := map[string]int64{}
	for name, p := range looped {
		before[name] = p.Attempts()
	}
	time.Sleep(loopQuiet) // a window in which no attempt may come
	for name, p := range looped {
		if n := p.Attempts() - before[name]; n != 0 {
			t.Errorf("link %s reconnected %d times within %v of its loop", name, n, loopQuiet)
		}
	}
}

// The hub's side of it: a hub that finds its own loop subject coming back
// sends -ERR 'Loop detected for leafnode account="$G". Delaying attempt to
// reconnect for 30s' and closes. leafgate cannot make a nats-server hub
// send it (it never advertises the hub's interest back), so this hub is
// scripted: it speaks the leafnode handshake byte for byte as nats-server
// v2.15.2 does and then sends that -ERR. leafgate must not come back for
// 30 s.
func TestLeafLoopErrFromHub(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	var sawLDS atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(leafWait))
				fmt.Fprintf(c, "INFO {\"server_id\":\"NFAKEHUB\",\"server_name\":\"fakehub\",\"version\":\"2.15.2\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"nonce\":\"abc\",\"client_id\":1,\"info_on_connect\":true}\r\n")
				r := bufio.NewReader(c)
				line, err := r.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "CONNECT ") {
					return
				}
				fmt.Fprintf(c, "INFO {\"server_id\":\"NFAKEHUB\",\"server_name\":\"fakehub\",\"version\":\"2.15.2\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"client_id\":1,\"info_on_connect\":true,\"connect_info\":true,\"remote_account\":\"$G\"}\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "LS+ $LDS.") {
						sawLDS.Store(true)
						fmt.Fprintf(c, "-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n")
						return
					}
				}
			}()
		}
	}()
	e := startEdge(t, edgeOpts{remotes: []edgeRemote{{urls: []string{"nats-leaf://" + ln.Addr().String()}}}})
	e.waitLog(t, `msg="leafnode link down".*Loop detected.*retry_in=30s`, 1, leafWait)
	if !sawLDS.Load() {
		t.Fatal("leafgate did not advertise its loop-detection subject")
	}
	time.Sleep(loopQuiet) // a window in which no attempt may come
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections within %v of the loop -ERR, want 1 (the 30 s delay)", n, loopQuiet)
	}
}
