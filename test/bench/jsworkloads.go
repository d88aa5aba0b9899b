package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream workloads. Each run expects a server with an empty store (the
// harness starts a fresh one per run) and creates its file-storage stream
// or KV bucket under a fixed name, so leftover data fails its count check.
// Counts are sized for about 2-5 s on nats-server.
var jsWorkloads = []workload{
	{"js-pub-async", "msgs/s", []int{128}, fixed(500_000), jsPubAsync},
	{"js-pub-sync", "msgs/s", []int{128}, fixed(30_000), jsPubSync},
	{"js-pull-consume", "msgs/s", []int{128}, fixed(500_000), jsPullConsume},
	{"js-push-consume", "msgs/s", []int{128}, fixed(500_000), jsPushConsume},
	{"kv-put", "ops/s", []int{128}, fixed(25_000), kvPut},
	{"kv-get", "ops/s", []int{128}, fixed(30_000), kvGet},
}

const (
	benchStream  = "BENCH"
	benchSubject = "bench.js"
	benchBucket  = "bench"
	jsTimeout    = 2 * time.Minute // per run; generous, so a slow server shows as a low rate
)

func benchSubj(int) string { return benchSubject }
func kvKey(i int) string   { return "k." + strconv.Itoa(i) }

func createStream(ctx context.Context, nc *nats.Conn) (jetstream.Stream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return js.CreateStream(ctx, jetstream.StreamConfig{
		Name: benchStream, Subjects: []string{benchSubject}, Storage: jetstream.FileStorage,
	})
}

// publishAsync publishes n messages with PublishAsync (default window of
// outstanding acks) and waits until every one is acknowledged.
func publishAsync(nc *nats.Conn, subject func(int) string, data []byte, n int) error {
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		failed.Add(1)
	}))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync(subject(i), data, jetstream.WithStallWait(jsTimeout)); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(jsTimeout):
		return errors.New("timed out waiting for publish acks")
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d publishes failed", f, n)
	}
	return nil
}

func checkStored(ctx context.Context, st jetstream.Stream, n int) error {
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs != uint64(n) {
		return fmt.Errorf("stream holds %d messages, want %d", info.State.Msgs, n)
	}
	return nil
}

// jsPubAsync: PublishAsync into a file-storage stream; msgs/s until the
// last ack.
func jsPubAsync(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	st, err := createStream(ctx, nc)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := publishAsync(nc, benchSubj, make([]byte, payload), n); err != nil {
		return 0, err
	}
	rate := float64(n) / time.Since(start).Seconds()
	return rate, checkStored(ctx, st, n)
}

// jsPubSync: one Publish at a time, each waiting for its ack.
func jsPubSync(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	st, err := createStream(ctx, nc)
	if err != nil {
		return 0, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	data := make([]byte, payload)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(ctx, benchSubject, data); err != nil {
			return 0, err
		}
	}
	rate := float64(n) / time.Since(start).Seconds()
	return rate, checkStored(ctx, st, n)
}

// prefilled connects and stores n messages in a fresh stream, untimed.
func prefilled(ctx context.Context, url string, payload, n int) (*nats.Conn, jetstream.Stream, error) {
	nc, err := conn(url)
	if err != nil {
		return nil, nil, err
	}
	st, err := createStream(ctx, nc)
	if err == nil {
		err = publishAsync(nc, benchSubj, make([]byte, payload), n)
	}
	if err == nil {
		err = checkStored(ctx, st, n)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, st, nil
}

// counter counts delivered messages and closes done at want.
type counter struct {
	got  atomic.Int64
	want int64
	done chan struct{}
	once sync.Once
}

func newCounter(n int) *counter {
	return &counter{want: int64(n), done: make(chan struct{})}
}

func (c *counter) add() {
	if c.got.Add(1) == c.want {
		c.once.Do(func() { close(c.done) })
	}
}

// wait returns the time from start to the last message; a run that loses
// or duplicates a message is an error.
func (c *counter) wait(start time.Time) (time.Duration, error) {
	select {
	case <-c.done:
	case <-time.After(jsTimeout):
		return 0, fmt.Errorf("received %d of %d messages", c.got.Load(), c.want)
	}
	elapsed := time.Since(start)
	time.Sleep(20 * time.Millisecond)
	if g := c.got.Load(); g != c.want {
		return 0, fmt.Errorf("received %d messages, want %d (duplicates)", g, c.want)
	}
	return elapsed, nil
}

// waitAcked polls consumer info until the server has processed every ack.
func waitAcked(ctx context.Context, info func() (*jetstream.ConsumerInfo, error)) error {
	for {
		ci, err := info()
		if err != nil {
			return err
		}
		if ci.NumAckPending == 0 && ci.NumPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consumer: %d acks pending, %d messages pending", ci.NumAckPending, ci.NumPending)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// jsPullConsume: a durable pull consumer with explicit acks reads n
// pre-filled messages with Consume; msgs/s from consumer creation to the
// last message received and acked.
func jsPullConsume(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, st, err := prefilled(ctx, url, payload, n)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	c := newCounter(n)
	start := time.Now()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "bench-pull", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return 0, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		c.add()
	})
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	elapsed, err := c.wait(start)
	if err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), waitAcked(ctx, func() (*jetstream.ConsumerInfo, error) { return cons.Info(ctx) })
}

// jsPushConsume: a push consumer (nats.go's legacy js.Subscribe with a
// deliver subject and explicit acks) receives n pre-filled messages;
// msgs/s from the subscribe call to the last message received and acked.
func jsPushConsume(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, _, err := prefilled(ctx, url, payload, n)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return 0, err
	}
	c := newCounter(n)
	start := time.Now()
	sub, err := js.Subscribe(benchSubject, func(m *nats.Msg) {
		_ = m.Ack()
		c.add()
	}, nats.BindStream(benchStream), nats.DeliverSubject(nc.NewInbox()), nats.DeliverAll(), nats.AckExplicit(), nats.ManualAck())
	if err != nil {
		return 0, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1)
	elapsed, err := c.wait(start)
	if err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), waitAcked(ctx, func() (*jetstream.ConsumerInfo, error) {
		ci, err := sub.ConsumerInfo()
		if err != nil {
			return nil, err
		}
		return &jetstream.ConsumerInfo{NumAckPending: ci.NumAckPending, NumPending: ci.NumPending}, nil
	})
}

// createBucket makes a fresh file-storage KV bucket (history 1).
func createBucket(ctx context.Context, nc *nats.Conn) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: benchBucket, Storage: jetstream.FileStorage})
}

func checkKeys(ctx context.Context, kv jetstream.KeyValue, n int) error {
	s, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	if s.Values() != uint64(n) {
		return fmt.Errorf("bucket holds %d values, want %d", s.Values(), n)
	}
	return nil
}

// kvPut: Put of n distinct keys, one at a time.
func kvPut(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	kv, err := createBucket(ctx, nc)
	if err != nil {
		return 0, err
	}
	data := make([]byte, payload)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := kv.Put(ctx, kvKey(i), data); err != nil {
			return 0, err
		}
	}
	rate := float64(n) / time.Since(start).Seconds()
	return rate, checkKeys(ctx, kv, n)
}

// kvGet: Get of n distinct keys, one at a time, after an untimed fill
// (async publishes to the bucket's subjects, which is what Put sends).
func kvGet(url string, payload, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	nc, err := conn(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	kv, err := createBucket(ctx, nc)
	if err != nil {
		return 0, err
	}
	subj := func(i int) string { return "$KV." + benchBucket + "." + kvKey(i) }
	if err := publishAsync(nc, subj, make([]byte, payload), n); err != nil {
		return 0, err
	}
	if err := checkKeys(ctx, kv, n); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		e, err := kv.Get(ctx, kvKey(i))
		if err != nil {
			return 0, fmt.Errorf("get %s: %w", kvKey(i), err)
		}
		if len(e.Value()) != payload {
			return 0, fmt.Errorf("get %s: %d bytes, want %d", kvKey(i), len(e.Value()), payload)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
