// Package retain checks mqtt/retain against nats.go's KV client: the
// retained messages an MQTT broker keeps are an ordinary KV bucket that
// NATS applications read, watch and write. leafgate has no MQTT listener
// yet, so the store runs in-process on a server's router (as the broker
// will run it) and nats.go talks to the same server over TCP.
package retain

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/leaf/server/servertest"
	js "github.com/leafgate/leafgate/store/jetstream"

	"github.com/leafgate/leafgate/mqtt/retain"
)

// start runs a server with JetStream and a retained-message store on its
// router, and connects nats.go to it.
func start(t *testing.T) (*retain.Store, jetstream.KeyValue) {
	t.Helper()
	srv := servertest.Run(t, server.Options{JetStream: true, JetStreamAPILevel: js.APILevel, MonitorListen: "-"})
	svc, err := js.Open(js.Config{Dir: t.TempDir(), ServerName: srv.Name()}, srv.Router())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := retain.Open(ctx, srv.Router(), retain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	jsc, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := jsc.KeyValue(ctx, "mqtt_retained")
	if err != nil {
		t.Fatalf("nats.go cannot bind the bucket: %v", err)
	}
	return st, kv
}

func set(t *testing.T, st *retain.Store, m retain.Msg) {
	t.Helper()
	ch := make(chan error, 1)
	st.Set(m, func(err error) { ch <- err })
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Set %q: no done", m.Topic)
	}
}

func next(t *testing.T, w jetstream.KeyWatcher, what string) jetstream.KeyValueEntry {
	t.Helper()
	select {
	case e, ok := <-w.Updates():
		if !ok {
			t.Fatalf("%s: watcher closed", what)
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no watcher update", what)
		return nil
	}
}

func expect(t *testing.T, e jetstream.KeyValueEntry, key, val string, op jetstream.KeyValueOp) {
	t.Helper()
	if e == nil {
		t.Fatalf("want %s=%q %v, got the end of initial values", key, val, op)
	}
	if e.Key() != key || string(e.Value()) != val || e.Operation() != op {
		t.Fatalf("got %s=%q %v, want %s=%q %v", e.Key(), e.Value(), e.Operation(), key, val, op)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func matched(st *retain.Store, filter string) []string {
	var got []string
	st.Match([]byte(filter), func(m retain.Msg) { got = append(got, string(m.Topic)+"="+string(m.Payload)) })
	slices.Sort(got)
	return got
}

// MQTT writes, nats.go reads and watches.
func TestNATSReadsRetained(t *testing.T) {
	st, kv := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	set(t, st, retain.Msg{Topic: []byte("home/kitchen/temp"), Hdr: []byte("NATS/1.0\r\nNmqtt-Pub: 11\r\n\r\n"), Payload: []byte("21")})
	set(t, st, retain.Msg{Topic: []byte("café/menu"), Payload: []byte("soup")})

	status, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.History() != 1 || status.Bucket() != "mqtt_retained" || status.Values() != 2 {
		t.Fatalf("status: history %d bucket %s values %d", status.History(), status.Bucket(), status.Values())
	}
	e, err := kv.Get(ctx, "home.kitchen.temp")
	if err != nil || string(e.Value()) != "21" {
		t.Fatalf("get: %v %+v", err, e)
	}
	e, err = kv.Get(ctx, retain.Key([]byte("café/menu")))
	if err != nil || string(e.Value()) != "soup" {
		t.Fatalf("get base64 key: %v %+v", err, e)
	}
	keys, err := kv.Keys(ctx)
	slices.Sort(keys)
	if err != nil || !slices.Equal(keys, []string{"_b64.Y2Fmw6kvbWVudQ", "home.kitchen.temp"}) {
		t.Fatalf("keys %q %v", keys, err)
	}

	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	initial := map[string]string{}
	for {
		e := next(t, w, "initial values")
		if e == nil {
			break
		}
		initial[e.Key()] = string(e.Value())
	}
	if len(initial) != 2 || initial["home.kitchen.temp"] != "21" {
		t.Fatalf("initial values %q", initial)
	}

	set(t, st, retain.Msg{Topic: []byte("home/kitchen/temp"), Payload: []byte("22")})
	expect(t, next(t, w, "update"), "home.kitchen.temp", "22", jetstream.KeyValuePut)
	set(t, st, retain.Msg{Topic: []byte("home/kitchen/temp")})
	expect(t, next(t, w, "clear"), "home.kitchen.temp", "", jetstream.KeyValuePurge)
	if _, err := kv.Get(ctx, "home.kitchen.temp"); err != jetstream.ErrKeyNotFound {
		t.Fatalf("get after clear: %v", err)
	}
	// An expiring message: the watcher sees it go when its TTL runs out.
	set(t, st, retain.Msg{Topic: []byte("brief"), Payload: []byte("x"), Expires: time.Now().Add(time.Second).UnixNano()})
	expect(t, next(t, w, "expiring put"), "brief", "x", jetstream.KeyValuePut)
	expect(t, next(t, w, "expiry"), "brief", "", jetstream.KeyValuePurge)
	if _, err := kv.Get(ctx, "brief"); err != jetstream.ErrKeyNotFound {
		t.Fatalf("get after expiry: %v", err)
	}
}

// nats.go writes, MQTT sees.
func TestNATSWritesRetained(t *testing.T) {
	st, kv := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kv.Put(ctx, "plant.line1.speed", []byte("7")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(ctx, "plant.line2.speed", "9"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nats.go puts", func() bool {
		return slices.Equal(matched(st, "plant/+/speed"), []string{"plant/line1/speed=7", "plant/line2/speed=9"})
	})
	if err := kv.Delete(ctx, "plant.line1.speed"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "plant.line2.speed"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nats.go delete and purge", func() bool { return st.Len() == 0 })
	// Create with a TTL: the store sees the value expire.
	if _, err := kv.Create(ctx, "plant.alarm", []byte("on"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a value with a TTL", func() bool { return len(matched(st, "plant/alarm")) == 1 })
	eventually(t, "its expiry", func() bool { return len(matched(st, "plant/#")) == 0 && st.Len() == 0 })
}
