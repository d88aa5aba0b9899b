package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/leafgate/leafgate/test/internal/mqttpeer"
)

// Client helpers for the MQTT end-to-end tests in mqtt_leafgate*_test.go:
// paho.mqtt.golang (3.1.1) and paho.golang (5.0) clients whose TCP
// connection a test can cut (to fire a will), whose received messages and
// server DISCONNECTs arrive on channels, and nats.go / natscli on the NATS
// side of the same broker.

// mqttGrace is how long a test waits to be sure something did NOT
// happen, after an event that it would have come before (an ack released
// in order, a marker message sent after it) has already been seen. It is a
// margin for goroutine scheduling, not a synchronisation.
const mqttGrace = 300 * time.Millisecond

// forBrokers runs fn against those of mqttpeer.Targets() named in names
// (LEAFGATE_MQTT_TARGETS still narrows the set).
func forBrokers(t *testing.T, names []string, fn func(t *testing.T, b *mqttpeer.Broker)) {
	t.Helper()
	for _, name := range mqttpeer.Targets() {
		if !slices.Contains(names, name) {
			continue
		}
		t.Run(name, func(t *testing.T) { fn(t, mqttpeer.Start(t, name)) })
	}
}

// startLeafgateMQTT runs leafgate with extra configuration appended to the
// generated file, which ends inside the mqtt section: lines indented two
// spaces are mqtt keys, unindented ones start top-level sections.
func startLeafgateMQTT(t *testing.T, config string) *mqttpeer.Broker {
	t.Helper()
	if !slices.Contains(mqttpeer.Targets(), "leafgate") {
		t.Skip("leafgate is not among LEAFGATE_MQTT_TARGETS")
	}
	return mqttpeer.StartLeafgate(t, mqttpeer.LeafgateOptions{Config: config})
}

// natsConnect connects nats.go to the broker's NATS port.
func natsConnect(t *testing.T, b *mqttpeer.Broker, opts ...nats.Option) *nats.Conn {
	t.Helper()
	if b.NATSURL == "" {
		t.Fatalf("%s has no NATS port", b.Name)
	}
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(mqttWait)}, opts...)
	nc, err := nats.Connect(b.NATSURL, opts...)
	if err != nil {
		t.Fatalf("nats connect to %s: %v", b.Name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// natsSubSync subscribes and flushes, so the broker has the subscription
// before anything the test publishes next.
func natsSubSync(t *testing.T, nc *nats.Conn, subj string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subj)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// runNatsCLI runs natscli against url and returns its standard output;
// it fails the test with both outputs when the command fails.
func runNatsCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin := natsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", url, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nats %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// startNatsCLI starts a long-running natscli command (nats reply) and
// kills it at cleanup.
func startNatsCLI(t *testing.T, url string, args ...string) {
	t.Helper()
	bin := natsCLI(t)
	cmd := exec.Command(bin, append([]string{"--server", url, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nats %s output:\n%s", strings.Join(args, " "), out.String())
		}
	})
}

// waitResponder waits until a request on subj finds a responder, the
// no-responders status telling it apart from a slow reply.
func waitResponder(t *testing.T, nc *nats.Conn, subj string) {
	t.Helper()
	deadline := time.Now().Add(mqttWait)
	for {
		_, err := nc.Request(subj, []byte("probe"), mqttWait)
		if err == nil {
			return
		}
		if err != nats.ErrNoResponders || time.Now().After(deadline) {
			t.Fatalf("no responder on %q: %v", subj, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cutConn is a net.Conn the test can close under its client, which then
// sees a dead connection without sending DISCONNECT.
type cutConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (cc *cutConn) set(c net.Conn) {
	cc.mu.Lock()
	cc.c = c
	cc.mu.Unlock()
}

// cut closes the connection abruptly (RST rather than FIN where the kernel
// allows), as a device that loses power or network would.
func (cc *cutConn) cut() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if tc, ok := cc.c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	if cc.c != nil {
		_ = cc.c.Close()
	}
}

// dialMQTT opens the connection an MQTT client runs over: TCP for
// tcp://host:port, WebSocket (subprotocol "mqtt", binary frames, as
// paho.mqtt.golang does it) for ws:// and wss:// URLs. Closing a
// WebSocket one closes its TCP connection without a close frame, so cut
// fires a will there too.
func dialMQTT(rawURL string, timeout time.Duration) (net.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "ws" || u.Scheme == "wss" {
		return mqtt.NewWebsocket(rawURL, nil, timeout, nil, nil)
	}
	return net.DialTimeout("tcp", u.Host, timeout)
}

// v3Opts configure a paho.mqtt.golang (MQTT 3.1.1) client.
type v3Opts struct {
	clientID   string
	wsURL      string // ws://host:port/mqtt: MQTT over WebSocket instead of TCP
	persistent bool   // clean session 0
	user, pass string
	will       *v3Will
}

type v3Will struct {
	topic, payload string
	qos            byte
	retain         bool
}

// v3Client is a connected paho.mqtt.golang client whose messages (from
// every subscription) arrive on msgs and whose lost connection is
// reported on lost.
type v3Client struct {
	mqtt.Client
	present bool
	conn    cutConn
	msgs    chan mqtt.Message
	lost    chan error
}

// v3Dial connects; a refused CONNECT is returned as the token's return
// code and error.
func v3Dial(t *testing.T, b *mqttpeer.Broker, o v3Opts) (*v3Client, byte, error) {
	t.Helper()
	c := &v3Client{msgs: make(chan mqtt.Message, 1024), lost: make(chan error, 1)}
	broker := b.TCPURL()
	if o.wsURL != "" {
		broker = o.wsURL
	}
	mo := mqtt.NewClientOptions().AddBroker(broker).SetClientID(o.clientID).SetCleanSession(!o.persistent).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(mqttWait).
		SetOrderMatters(true).SetKeepAlive(30 * time.Second).SetWriteTimeout(mqttWait)
	mo.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.msgs <- m })
	mo.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case c.lost <- err:
		default:
		}
	})
	mo.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		nc, err := dialMQTT(u.String(), mqttWait)
		if err == nil {
			c.conn.set(nc)
		}
		return nc, err
	})
	if o.user != "" {
		mo.SetUsername(o.user).SetPassword(o.pass)
	}
	if w := o.will; w != nil {
		mo.SetWill(w.topic, w.payload, w.qos, w.retain)
	}
	c.Client = mqtt.NewClient(mo)
	tok := c.Connect()
	if !tok.WaitTimeout(mqttWait) {
		t.Fatalf("connect %s: no CONNACK within %v", o.clientID, mqttWait)
	}
	ct := tok.(*mqtt.ConnectToken)
	if tok.Error() != nil {
		return nil, ct.ReturnCode(), tok.Error()
	}
	c.present = ct.SessionPresent()
	t.Cleanup(func() { c.Disconnect(0) })
	return c, 0, nil
}

func v3Connect(t *testing.T, b *mqttpeer.Broker, o v3Opts) *v3Client {
	t.Helper()
	c, code, err := v3Dial(t, b, o)
	if err != nil {
		t.Fatalf("connect %s to %s: code %d: %v", o.clientID, b.Name, code, err)
	}
	return c
}

// sub subscribes filter at qos and returns the granted QoS (0x80 refused).
func (c *v3Client) sub(t *testing.T, filter string, qos byte) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	waitToken(t, "subscribe "+filter, tok)
	// paho keys the result by the filter without a "$share/<group>/" prefix.
	res := tok.(*mqtt.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %s: result %v", filter, res)
	}
	for _, q := range res {
		return q
	}
	return 0
}

func (c *v3Client) pub(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	waitToken(t, "publish "+topic, c.Publish(topic, qos, false, payload))
}

// next returns the next message, failing the test after mqttWait.
func (c *v3Client) next(t *testing.T, what string) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(mqttWait):
		t.Fatalf("%s: no message within %v", what, mqttWait)
		return nil
	}
}

// v5Opts configure a paho.golang (MQTT 5.0) client.
type v5Opts struct {
	clientID   string
	wsURL      string // ws://host:port/mqtt: MQTT over WebSocket instead of TCP
	resume     bool   // Clean Start 0
	expiry     uint32 // Session Expiry Interval
	user, pass string
	props      paho.ConnectProperties // further CONNECT properties
	will       *paho.WillMessage
	willProps  *paho.WillProperties
	hook       func(*paho.Publish) // paho.ClientConfig.PublishHook
}

// v5Client is a connected paho.golang client: received PUBLISHes arrive
// on msgs (and are acknowledged by paho), a server DISCONNECT on disc.
type v5Client struct {
	*paho.Client
	ack  *paho.Connack
	conn cutConn
	msgs chan *paho.Publish
	disc chan *paho.Disconnect
}

// v5Dial connects; a refused CONNECT comes back with its CONNACK.
func v5Dial(t *testing.T, b *mqttpeer.Broker, o v5Opts) (*v5Client, *paho.Connack, error) {
	t.Helper()
	addr := b.TCPURL()
	if o.wsURL != "" {
		addr = o.wsURL
	}
	nc, err := dialMQTT(addr, mqttWait)
	if err != nil {
		t.Fatal(err)
	}
	c := &v5Client{msgs: make(chan *paho.Publish, 1024), disc: make(chan *paho.Disconnect, 1)}
	c.conn.set(nc)
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn:     nc,
		ClientID: o.clientID,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disc <- d:
			default:
			}
		},
		OnClientError: func(error) {},
		PublishHook:   o.hook,
	})
	props := o.props
	if o.expiry > 0 {
		props.SessionExpiryInterval = &o.expiry
	}
	cp := &paho.Connect{ClientID: o.clientID, CleanStart: !o.resume, KeepAlive: 30, Properties: &props,
		WillMessage: o.will, WillProperties: o.willProps}
	if o.user != "" {
		cp.UsernameFlag, cp.Username = true, o.user
		cp.PasswordFlag, cp.Password = true, []byte(o.pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ca, err
	}
	c.ack = ca
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ca, nil
}

func v5Connect(t *testing.T, b *mqttpeer.Broker, o v5Opts) *v5Client {
	t.Helper()
	c, ca, err := v5Dial(t, b, o)
	if err != nil {
		t.Fatalf("connect %s to %s: %+v: %v", o.clientID, b.Name, ca, err)
	}
	return c
}

// sub subscribes one filter and returns its SUBACK reason code.
func (c *v5Client) sub(t *testing.T, so paho.SubscribeOptions, props *paho.SubscribeProperties) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{so}, Properties: props})
	if sa == nil || len(sa.Reasons) != 1 {
		t.Fatalf("subscribe %s: %+v, %v", so.Topic, sa, err)
	}
	return sa.Reasons[0]
}

// mustSub subscribes and fails the test unless the requested QoS is granted.
func (c *v5Client) mustSub(t *testing.T, filter string, qos byte) {
	t.Helper()
	if code := c.sub(t, paho.SubscribeOptions{Topic: filter, QoS: qos}, nil); code != qos {
		t.Fatalf("subscribe %s: reason 0x%02x, want QoS %d", filter, code, qos)
	}
}

// pub publishes and returns the PUBACK reason code (0 for QoS 0).
func (c *v5Client) pub(t *testing.T, p *paho.Publish) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	defer cancel()
	pr, err := c.Publish(ctx, p)
	if pr == nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
	return pr.ReasonCode
}

func (c *v5Client) next(t *testing.T, what string) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(mqttWait):
		t.Fatalf("%s: no message within %v", what, mqttWait)
		return nil
	}
}

// nothingMore fails the test if a message is waiting or arrives within
// mqttGrace.
func (c *v5Client) nothingMore(t *testing.T, what string) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("%s: unexpected message %s %q", what, m.Topic, m.Payload)
	case <-time.After(mqttGrace):
	}
}

// mqttMsgString formats a 3.1.1 message as "topic qos payload".
func mqttMsgString(m mqtt.Message) string {
	return fmt.Sprintf("%s %d %s", m.Topic(), m.Qos(), m.Payload())
}
