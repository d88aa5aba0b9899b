package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/release"
)

// buildLeafgate builds the leafgate binary once per test binary.
var buildLeafgate = sync.OnceValues(func() (string, error) {
	// One directory per test binary, reused run after run, so repeated
	// test runs do not leave a build behind each time.
	dir := filepath.Join(os.TempDir(), "leafgate-bin-"+filepath.Base(os.Args[0]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "leafgate")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	args := append([]string{"build", "-o", bin}, release.BuildArgs()...)
	cmd := exec.Command("go", append(args, "./cmd/leafgate")...)
	cmd.Dir = root // the product module, with its own go.sum
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// connectJS connects to the process and returns the connection, a
// JetStream handle and a context bounding the test's calls; all end with
// the test.
func (p *proc) connectJS(t *testing.T) (*nats.Conn, jetstream.JetStream, context.Context) {
	t.Helper()
	nc, err := nats.Connect(p.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return nc, js, ctx
}

// proc is a leafgate process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	mqtt string // host:port of the MQTT listener
	done chan struct{}
}

// startProc runs the leafgate binary on a free port with JetStream under
// storeDir, plus any extra arguments, and waits until it accepts clients.
func startProc(t *testing.T, storeDir string, wrap []string, extra ...string) *proc {
	t.Helper()
	bin, err := buildLeafgate()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-m", "0", "--store_dir", storeDir, "--mqtt_port", "0", "--websocket_port", "0"}, extra...)
	var cmd *exec.Cmd
	if len(wrap) > 0 {
		cmd = exec.Command(wrap[0], append(append(wrap[1:], bin), args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, url: fmt.Sprintf("nats://127.0.0.1:%d", port), done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "leafgate started") {
				once.Do(func() {
					if m := mqttAddr.FindStringSubmatch(sc.Text()); m != nil {
						p.mqtt = "127.0.0.1:" + m[1]
					}
					close(started)
				})
			}
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case <-started:
	case <-p.done:
		t.Fatalf("leafgate exited before starting: %v", cmd.ProcessState)
	case <-time.After(15 * time.Second):
		t.Fatal("leafgate did not start")
	}
	return p
}

// mqttAddr finds the MQTT listener's port in the start-up log line.
var mqttAddr = regexp.MustCompile(`mqtt=\S*:(\d+)`)

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Acknowledged means durable: publishers and an acking consumer run while
// the process is killed with SIGKILL, five times. After each restart every
// acknowledged message is there with its payload, and no message whose
// consumer ack was confirmed (AckSync) is delivered again.
func TestJSDurabilityKillNine(t *testing.T) {
	t.Parallel() // waits, mostly: it overlaps with the other waiting tests
	if testing.Short() {
		t.Skip("kills processes")
	}
	dir := t.TempDir()
	acked := map[uint64]string{}    // stream seq → payload, PubAck received
	ackedCons := map[uint64]bool{}  // consumer ack confirmed
	unsureCons := map[uint64]bool{} // ack sent, confirmation lost in the kill
	var mu sync.Mutex
	const rounds = 5
	for round := 0; round < rounds; round++ {
		p := startProc(t, dir, nil)
		nc, err := nats.Connect(p.url, nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "D", Subjects: []string{"d.>"}})
		if err != nil {
			t.Fatal(err)
		}
		cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					payload := fmt.Sprintf("r%d-g%d-%d", round, g, i)
					futs := make([]jetstream.PubAckFuture, 0, 64)
					for k := 0; k < 64; k++ {
						f, err := js.PublishAsync(fmt.Sprintf("d.%d", g), []byte(fmt.Sprintf("%s-%d", payload, k)))
						if err != nil {
							return
						}
						futs = append(futs, f)
					}
					for _, f := range futs {
						select {
						case ack := <-f.Ok():
							mu.Lock()
							acked[ack.Sequence] = string(f.Msg().Data)
							mu.Unlock()
						case <-f.Err():
						case <-time.After(5 * time.Second):
							return
						}
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				batch, err := cons.Fetch(50, jetstream.FetchMaxWait(200*time.Millisecond))
				if err != nil {
					return
				}
				for m := range batch.Messages() {
					md, err := m.Metadata()
					if err != nil {
						continue
					}
					seq := md.Sequence.Stream
					if err := m.DoubleAck(context.Background()); err != nil {
						mu.Lock()
						unsureCons[seq] = true
						mu.Unlock()
						continue
					}
					mu.Lock()
					ackedCons[seq] = true
					mu.Unlock()
				}
			}
		}()
		time.Sleep(time.Duration(200+round*100) * time.Millisecond)
		p.kill() // SIGKILL under load
		close(stop)
		cancel()
		nc.Close()
		wg.Wait()
	}

	// Restart and check.
	p := startProc(t, dir, nil)
	_, js, ctx := p.connectJS(t)
	s, err := js.Stream(ctx, "D")
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) < 1000 {
		t.Fatalf("only %d acknowledged publishes: the load was too light to prove anything", len(acked))
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Read the whole stream once with an ordered consumer.
	stored := make(map[uint64]string, info.State.Msgs)
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for uint64(len(stored)) < info.State.Msgs {
		batch, err := oc.Fetch(5000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			stored[md.Sequence.Stream] = string(m.Data())
			n++
		}
		if n == 0 {
			t.Fatalf("read %d of %d stored messages", len(stored), info.State.Msgs)
		}
	}
	for seq, want := range acked {
		got, ok := stored[seq]
		if !ok {
			t.Fatalf("acknowledged seq %d lost", seq)
		}
		if got != want {
			t.Fatalf("seq %d holds %q, acknowledged %q", seq, got, want)
		}
	}
	// Every stored message not confirmed as acked is delivered again;
	// none whose ack was confirmed is.
	cons, err := s.Consumer(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	delivered := map[uint64]bool{}
	for len(delivered) < int(info.State.Msgs) {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			seq := md.Sequence.Stream
			if ackedCons[seq] {
				t.Fatalf("seq %d redelivered after its ack was confirmed", seq)
			}
			delivered[seq] = true
			_ = m.Ack()
			n++
		}
		if n == 0 {
			break
		}
	}
	missing := 0
	for seq := range stored {
		if !ackedCons[seq] && !unsureCons[seq] && !delivered[seq] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d stored, unacknowledged messages never delivered after restart", missing)
	}
	t.Logf("%d acknowledged publishes intact over %d kills; %d consumer acks confirmed, none redelivered; %d redelivered as expected",
		len(acked), rounds, len(ackedCons), len(delivered))
}
