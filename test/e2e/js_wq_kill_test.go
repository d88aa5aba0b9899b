package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A confirmed ack on a work-queue stream is durable in the stream: workers
// ack with AckSync while the process is killed with SIGKILL, three times;
// after each restart no message whose ack was confirmed is in the stream
// or delivered again, and every message not confirmed is still there.
func TestJSWorkQueueAckKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	dir := t.TempDir()
	const total = 6000
	confirmed := map[uint64]bool{}
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		p := startProc(t, dir, nil)
		nc, err := nats.Connect(p.url, nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "WQ", Subjects: []string{"wq.>"}, Retention: jetstream.WorkQueuePolicy})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			for i := 0; i < total; i++ {
				if _, err := js.PublishAsync(fmt.Sprintf("wq.%d", i%8), []byte("job")); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatal("publishes not acknowledged")
			}
		}
		// Nothing confirmed earlier may be back after the restart.
		mu.Lock()
		for seq := range confirmed {
			if _, err := s.GetMsg(ctx, seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("round %d: confirmed ack of seq %d came back (%v)", round, seq, err)
			}
		}
		mu.Unlock()
		cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					batch, err := cons.Fetch(20, jetstream.FetchMaxWait(200*time.Millisecond))
					if err != nil {
						return
					}
					for m := range batch.Messages() {
						md, err := m.Metadata()
						if err != nil {
							continue
						}
						mu.Lock()
						if confirmed[md.Sequence.Stream] {
							mu.Unlock()
							t.Errorf("round %d: seq %d delivered again after its ack was confirmed", round, md.Sequence.Stream)
							continue
						}
						mu.Unlock()
						if m.DoubleAck(context.Background()) == nil {
							mu.Lock()
							confirmed[md.Sequence.Stream] = true
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+round*150) * time.Millisecond)
		p.kill()
		close(stop)
		cancel()
		nc.Close()
		wg.Wait()
	}
	p := startProc(t, dir, nil)
	_, js, ctx := p.connectJS(t)
	s, err := js.Stream(ctx, "WQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(confirmed) < 100 {
		t.Fatalf("only %d confirmed acks: too few to prove anything", len(confirmed))
	}
	// Every job is either confirmed (gone) or still stored: nothing lost,
	// nothing confirmed kept. Acks sent whose confirmation the kill cut
	// off may have gone either way, so count from the stored side.
	if got := info.State.Msgs; got > uint64(total-len(confirmed)) {
		t.Fatalf("%d messages stored, but %d of %d were confirmed acked", got, len(confirmed), total)
	}
	for seq := range confirmed {
		if _, err := s.GetMsg(ctx, seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("confirmed ack of seq %d came back (%v)", seq, err)
		}
	}
	t.Logf("%d jobs confirmed over 3 kills, %d left", len(confirmed), info.State.Msgs)
}
