package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A full disk fails publishes loudly with a JetStream error, while reads
// and consumers keep working and the server stays up. The disk is made
// "full" with a file-size limit (ulimit -f) on the leafgate process: its
// database can not grow past 4 MiB, exactly as on a full filesystem.
func TestJSDiskFullFailsWritesKeepsReads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for ulimit")
	}
	p := startProc(t, t.TempDir(), []string{bash, "-c", `ulimit -f 4096 && exec "$@"`, "leafgate"})
	nc, js, ctx := p.connectJS(t)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "F", Subjects: []string{"f.>"}})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(strings.Repeat("x", 4096))
	var stored uint64
	var pubErr error
	for i := 0; i < 5000; i++ {
		ack, err := js.Publish(ctx, "f.data", payload)
		if err != nil {
			pubErr = err
			break
		}
		stored = ack.Sequence
	}
	var apiErr *jetstream.APIError
	if !errors.As(pubErr, &apiErr) {
		t.Fatalf("after %d stored, publish error %v is not a JetStream API error", stored, pubErr)
	}
	if apiErr.ErrorCode != 10077 || apiErr.Code != 503 {
		t.Fatalf("publish on a full disk: %+v, want code 503 err_code 10077", apiErr)
	}
	if stored < 100 {
		t.Fatalf("only %d messages stored before the limit", stored)
	}
	// Still full: a second publish fails the same way, nothing is lost.
	if _, err := js.Publish(ctx, "f.data", payload); !errors.As(err, &apiErr) {
		t.Fatalf("second publish on a full disk: %v", err)
	}
	// Reads and consumers keep working, and the server is up.
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != stored {
		t.Fatalf("stream info on a full disk: %v, msgs %d want %d", err, info.State.Msgs, stored)
	}
	m, err := s.GetMsg(ctx, stored)
	if err != nil || len(m.Data) != len(payload) {
		t.Fatalf("get last stored message: %v", err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Name: "R", AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true})
	if err != nil {
		t.Fatalf("create an in-memory consumer on a full disk: %v", err)
	}
	batch, err := c.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if n != 10 {
		t.Fatalf("consumer read %d of 10 on a full disk", n)
	}
	if err := nc.Publish("core.subject", []byte("still routing")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("server not answering: %v", err)
	}
	select {
	case <-p.done:
		t.Fatal("leafgate exited on a full disk")
	default:
	}
}
