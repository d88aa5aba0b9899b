package retain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/router/inbox"
	"github.com/leafgate/leafgate/store/jetstream"
	"github.com/leafgate/leafgate/store/jsapi"
)

// env is a router with JetStream on a directory, and a requester to talk
// to it as a NATS client would.
type env struct {
	t   *testing.T
	dir string
	r   *router.Router
	js  *jetstream.Service
	req *inbox.Requester
}

func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	r := router.New()
	js, err := jetstream.Open(jetstream.Config{Dir: dir, Logger: slog.New(slog.NewTextHandler(tlog{t}, nil))}, r)
	if err != nil {
		t.Fatal(err)
	}
	req, err := inbox.New(r)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, r: r, js: js, req: req}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.req.Close()
	_ = e.js.Close()
}

// open opens a Store with a short heartbeat, closed with the test.
func (e *env) open(opts Options) *Store {
	e.t.Helper()
	if opts.heartbeat == 0 {
		opts.heartbeat = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tlog{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, e.r, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

// tlog writes logs to the test's log.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// request sends a request and returns the reply's payload.
func (e *env) request(subj string, hdr []byte, data any) []byte {
	e.t.Helper()
	var body []byte
	switch v := data.(type) {
	case nil:
	case string:
		body = []byte(v)
	default:
		body, _ = json.Marshal(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := e.req.Do(ctx, subj, hdr, body)
	if err != nil {
		e.t.Fatalf("request %s: %v", subj, err)
	}
	return rep.Data
}

// kvPut publishes to a key as a NATS client does and waits for the PubAck.
func (e *env) kvPut(key string, hdr []byte, value string) {
	e.t.Helper()
	var ack jsapi.PubAckResponse
	if err := json.Unmarshal(e.request("$KV.mqtt_retained."+key, hdr, value), &ack); err != nil || ack.Error != nil {
		e.t.Fatalf("put %s: %v %+v", key, err, ack.Error)
	}
}

// lastMsg is the stored message of a key (STREAM.MSG.GET last_by_subj),
// nil when there is none.
func (e *env) lastMsg(key string) *jsapi.StoredMsg {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		Message *jsapi.StoredMsg `json:"message"`
	}
	data := e.request("$JS.API.STREAM.MSG.GET.KV_mqtt_retained", nil, jsapi.MsgGetRequest{LastFor: "$KV.mqtt_retained." + key})
	if err := json.Unmarshal(data, &resp); err != nil {
		e.t.Fatal(err)
	}
	if resp.Error != nil {
		if errors.Is(resp.Error, jsapi.ErrNoMessageFound) {
			return nil
		}
		e.t.Fatalf("msg get %s: %v", key, resp.Error)
	}
	return resp.Message
}

func (e *env) streamInfo() jsapi.StreamInfo {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	if err := json.Unmarshal(e.request("$JS.API.STREAM.INFO.KV_mqtt_retained", nil, nil), &resp); err != nil || resp.Error != nil {
		e.t.Fatalf("stream info: %v %+v", err, resp.Error)
	}
	return resp.StreamInfo
}

// set calls Set and waits for done.
func set(t *testing.T, s *Store, m Msg) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Set(m, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Set %q: done not called", m.Topic)
		return nil
	}
}

func mustSet(t *testing.T, s *Store, topic, payload string) {
	t.Helper()
	if err := set(t, s, Msg{Topic: []byte(topic), Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// matched is "topic=payload" for each match of filter, sorted.
func matched(s *Store, filter string) []string {
	var got []string
	s.Match([]byte(filter), func(m Msg) { got = append(got, string(m.Topic)+"="+string(m.Payload)) })
	slices.Sort(got)
	return got
}

// eventually waits for cond, on a generous deadline for busy machines.
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

func TestSetMatchClear(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	if s.Len() != 0 {
		t.Fatalf("new store holds %d", s.Len())
	}
	// The bucket is a KV bucket as nats.go makes them, with TTLs on.
	cfg := e.streamInfo().Config
	if cfg.MaxMsgsPer != 1 || !cfg.AllowRollup || !cfg.DenyDelete || !cfg.AllowDirect || !cfg.AllowMsgTTL ||
		cfg.Discard != jsapi.DiscardNew || cfg.SubjectDeleteMarkerTTL != markerTTL || !slices.Equal(cfg.Subjects, []string{"$KV.mqtt_retained.>"}) {
		t.Fatalf("bucket config %+v", cfg)
	}

	hdr := []byte("NATS/1.0\r\nNmqtt-Pub: 11\r\nContent-Type: text/plain\r\n\r\n")
	if err := set(t, s, Msg{Topic: []byte("home/kitchen/temp"), Hdr: hdr, Payload: []byte("21")}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "home/kitchen/hum", "40")
	mustSet(t, s, "home/hall/temp", "19")
	// A User Property posing as a JetStream header is not stored: this
	// rollup would purge the bucket.
	rollup := []byte("NATS/1.0\r\nNats-Rollup: all\r\n\r\n")
	if err := set(t, s, Msg{Topic: []byte("home"), Hdr: rollup, Payload: []byte("root")}); err != nil {
		t.Fatal(err)
	}
	if n := e.streamInfo().State.Msgs; n != 4 {
		t.Fatalf("bucket holds %d messages, want 4", n)
	}
	if s.Len() != 4 {
		t.Fatalf("Len %d", s.Len())
	}
	// Match reflects a Set as soon as done is called.
	var got Msg
	n := 0
	s.Match([]byte("home/kitchen/temp"), func(m Msg) {
		n++
		got = Msg{Topic: slices.Clone(m.Topic), Hdr: slices.Clone(m.Hdr), Payload: slices.Clone(m.Payload), Expires: m.Expires}
	})
	if n != 1 || string(got.Topic) != "home/kitchen/temp" || string(got.Payload) != "21" || string(got.Hdr) != string(hdr) || got.Expires != 0 {
		t.Fatalf("exact match: %d %q %q %q %d", n, got.Topic, got.Hdr, got.Payload, got.Expires)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"home/+/temp", []string{"home/hall/temp=19", "home/kitchen/temp=21"}},
		{"home/#", []string{"home/hall/temp=19", "home/kitchen/hum=40", "home/kitchen/temp=21", "home=root"}},
		{"#", []string{"home/hall/temp=19", "home/kitchen/hum=40", "home/kitchen/temp=21", "home=root"}},
		{"+", []string{"home=root"}},
		{"home/kitchen", nil},
		{"home/#/x", nil}, // not a valid filter
	} {
		if got := matched(s, tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("Match(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
	// What NATS applications see: the value, the broker's headers, the
	// topic header.
	m := e.lastMsg("home.kitchen.temp")
	if m == nil || string(m.Data) != "21" || string(proto.HeaderGet(m.Header, "Nmqtt-Pub")) != "11" ||
		string(proto.HeaderGet(m.Header, HdrTopic)) != "home/kitchen/temp" || proto.HeaderGet(m.Header, "Nats-TTL") != nil {
		t.Fatalf("stored %+v %q", m, m.Header)
	}

	// A new value replaces the old one.
	mustSet(t, s, "home", "root2")
	if got := matched(s, "home"); !slices.Equal(got, []string{"home=root2"}) {
		t.Fatalf("after replace: %q", got)
	}
	// An empty payload clears, with a KV purge marker.
	mustSet(t, s, "home/kitchen/temp", "")
	if got := matched(s, "home/kitchen/#"); !slices.Equal(got, []string{"home/kitchen/hum=40"}) {
		t.Fatalf("after clear: %q", got)
	}
	if s.Len() != 3 {
		t.Fatalf("Len %d after clear", s.Len())
	}
	m = e.lastMsg("home.kitchen.temp")
	if m == nil || string(proto.HeaderGet(m.Header, "KV-Operation")) != "PURGE" || len(m.Data) != 0 {
		t.Fatalf("clear stored %+v", m)
	}
	// Clearing what is not there writes nothing.
	last := e.streamInfo().State.LastSeq
	mustSet(t, s, "home/kitchen/temp", "")
	mustSet(t, s, "never/set", "")
	if got := e.streamInfo().State.LastSeq; got != last {
		t.Fatalf("clearing nothing wrote: last seq %d → %d", last, got)
	}
}

func TestDollarTopics(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	mustSet(t, s, "$SYS/broker/uptime", "1")
	mustSet(t, s, "$internal", "2")
	mustSet(t, s, "app/$x", "3")
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"#", []string{"app/$x=3"}},
		{"+/broker/uptime", nil},
		{"+", nil},
		{"+/+", []string{"app/$x=3"}},
		{"$SYS/#", []string{"$SYS/broker/uptime=1"}},
		{"$SYS/+/uptime", []string{"$SYS/broker/uptime=1"}},
		{"$internal", []string{"$internal=2"}},
	} {
		if got := matched(s, tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("Match(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}

// Topics whose subject is no KV key get base64 keys; all come back exact,
// also after a restart.
func TestWeirdTopics(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	s := e.open(Options{})
	topics := map[string]string{
		"my topic/a b":        "_b64.bXkgdG9waWMvYSBi",
		"café/menü":           Key([]byte("café/menü")),
		"spBv1.0/group/NDATA": "spBv1//0.group.NDATA",
		"/leading":            "/.leading",
		"trailing/":           "trailing./",
		"_b64/x":              "_b64.X2I2NC94",
		"a//b":                "a./.b",
		" padded ":            Key([]byte(" padded ")),
	}
	for tp := range topics {
		mustSet(t, s, tp, "v:"+tp)
	}
	check := func(s *Store) {
		t.Helper()
		for tp, key := range topics {
			if got := matched(s, tp); tp != " padded " && !slices.Equal(got, []string{tp + "=v:" + tp}) {
				t.Errorf("Match(%q) = %q", tp, got)
			}
			m := e.lastMsg(key)
			if m == nil || string(m.Data) != "v:"+tp {
				t.Errorf("key %q of %q: %+v", key, tp, m)
				continue
			}
			if h := proto.HeaderGet(m.Header, HdrTopic); tp != " padded " && string(h) != tp {
				t.Errorf("key %q: topic header %q, want %q", key, h, tp)
			}
		}
		var all []string
		s.Match([]byte("#"), func(m Msg) { all = append(all, string(m.Topic)) })
		if len(all) != len(topics) {
			t.Errorf("# matched %d: %q", len(all), all)
		}
		for _, tp := range all {
			if _, ok := topics[tp]; !ok {
				t.Errorf("# matched unknown topic %q", tp)
			}
		}
	}
	check(s)
	s.Close()
	e.close()

	e = newEnv(t, dir)
	check(e.open(Options{}))
}

// Close everything, reopen on the same directory: the values are loaded.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	s := e.open(Options{})
	for i := range 50 {
		mustSet(t, s, fmt.Sprintf("dev/%d/state", i), fmt.Sprint(i))
	}
	mustSet(t, s, "dev/7/state", "")
	if err := set(t, s, Msg{Topic: []byte("dev/x"), Hdr: []byte("NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n"), Payload: []byte("h"), Expires: time.Now().Add(time.Hour).UnixNano()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.close()

	e = newEnv(t, dir)
	s = e.open(Options{})
	if s.Len() != 50 {
		t.Fatalf("reopened with %d, want 50", s.Len())
	}
	if got := matched(s, "dev/+/state"); len(got) != 49 || slices.Contains(got, "dev/7/state=7") {
		t.Fatalf("reopened: %d %q", len(got), got)
	}
	s.Match([]byte("dev/x"), func(m Msg) {
		want := "NATS/1.0\r\nNmqtt-Pub: 1\r\nNmqtt-Expires: " + time.Unix(0, m.Expires).UTC().Format(time.RFC3339Nano) + "\r\n\r\n"
		if string(m.Hdr) != want || m.Expires < time.Now().Add(59*time.Minute).UnixNano() {
			t.Errorf("reopened dev/x: %q expires %v", m.Hdr, time.Unix(0, m.Expires))
		}
	})
	// The old watch consumers are gone; one is ours.
	if n := e.streamInfo().State.Consumers; n > 1 {
		t.Logf("consumers after reopen: %d (an old ephemeral one goes when idle)", n)
	}
}

// A message with an expiry is not matched once it has expired, and
// JetStream drops it (leaving a delete marker).
func TestExpiry(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	exp := time.Now().Add(1500 * time.Millisecond).UnixNano()
	if err := set(t, s, Msg{Topic: []byte("short/lived"), Payload: []byte("x"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "long/lived", "y")
	m := e.lastMsg("short.lived")
	if m == nil || string(proto.HeaderGet(m.Header, "Nats-TTL")) != "2" || proto.HeaderGet(m.Header, HdrExpires) == nil {
		t.Fatalf("stored %+v %q", m, m.Header)
	}
	if got := matched(s, "+/lived"); time.Now().UnixNano() < exp && len(got) != 2 {
		t.Fatalf("before expiry: %q", got)
	}
	eventually(t, "expiry in Match", func() bool { return len(matched(s, "short/lived")) == 0 })
	if time.Now().UnixNano() < exp {
		t.Fatal("gone before it expired")
	}
	eventually(t, "the index to prune it", func() bool { return s.Len() == 1 })
	eventually(t, "JetStream to drop it", func() bool {
		m := e.lastMsg("short.lived")
		return m == nil || proto.HeaderGet(m.Header, "Nats-Marker-Reason") != nil
	})
	if got := matched(s, "#"); !slices.Equal(got, []string{"long/lived=y"}) {
		t.Fatalf("after expiry: %q", got)
	}
	// An expiry already past clears.
	mustSet(t, s, "long/lived", "")
	mustSet(t, s, "again", "z")
	if err := set(t, s, Msg{Topic: []byte("again"), Payload: []byte("late"), Expires: time.Now().Add(-time.Second).UnixNano()}); err != nil {
		t.Fatal(err)
	}
	if got := matched(s, "#"); len(got) != 0 {
		t.Fatalf("expired set kept: %q", got)
	}
}

// A put or delete by a NATS application reaches the index.
func TestNATSWrites(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	e.kvPut("plant.line1.speed", nil, "7")
	eventually(t, "a NATS put", func() bool { return slices.Equal(matched(s, "plant/#"), []string{"plant/line1/speed=7"}) })
	e.kvPut("plant.line1.speed", []byte("NATS/1.0\r\nA: b\r\n\r\n"), "8")
	eventually(t, "a NATS update", func() bool { return slices.Equal(matched(s, "plant/#"), []string{"plant/line1/speed=8"}) })
	s.Match([]byte("plant/line1/speed"), func(m Msg) {
		if string(m.Hdr) != "NATS/1.0\r\nA: b\r\n\r\n" {
			t.Errorf("headers %q", m.Hdr)
		}
	})
	e.kvPut("plant.line1.speed", []byte("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"), "")
	eventually(t, "a NATS delete", func() bool { return len(matched(s, "plant/#")) == 0 })

	mustSet(t, s, "plant/line2", "on")
	e.kvPut("plant.line2", []byte("NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n"), "")
	eventually(t, "a NATS purge", func() bool { return s.Len() == 0 })

	// A value under a key that is no topic's key is ignored; one with a
	// TTL expires.
	e.kvPut("x/y", nil, "ignored")
	e.kvPut("ttl", []byte("NATS/1.0\r\nNats-TTL: 1\r\n\r\n"), "brief")
	eventually(t, "a NATS put with a TTL", func() bool { return s.Len() == 1 })
	s.Match([]byte("ttl"), func(m Msg) {
		if m.Expires == 0 || string(m.Hdr) != "NATS/1.0\r\nNmqtt-Expires: "+time.Unix(0, m.Expires).UTC().Format(time.RFC3339Nano)+"\r\n\r\n" {
			t.Errorf("TTL put: expires %d hdr %q", m.Expires, m.Hdr)
		}
	})
	if got := matched(s, "#"); !slices.Equal(got, []string{"ttl=brief"}) {
		t.Fatalf("matched %q", got)
	}
	eventually(t, "the TTL to run out", func() bool { return s.Len() == 0 })
}

// Sets of one goroutine land in order, also without waiting for each.
func TestSetOrder(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(3)
		tp := []byte(fmt.Sprintf("t/%d", i%10))
		s.Set(Msg{Topic: tp, Payload: []byte("a")}, func(error) { wg.Done() })
		s.Set(Msg{Topic: tp, Payload: []byte(fmt.Sprint(i))}, func(error) { wg.Done() })
		if i%3 == 0 {
			s.Set(Msg{Topic: tp}, func(error) { wg.Done() }) // clear right after a put
		} else {
			wg.Done()
		}
	}
	wg.Wait()
	var want []string
	for i := 90; i < 100; i++ {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("t/%d=%d", i%10, i))
		}
	}
	slices.Sort(want)
	if got := matched(s, "t/+"); !slices.Equal(got, want) {
		t.Fatalf("matched %q, want %q", got, want)
	}
}

// Many writers, MQTT and NATS, at once: the index ends up as the bucket
// is, which a fresh Store loads.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				tp := fmt.Sprintf("k/%d", (i*7+w)%20)
				if w == 3 {
					// A NATS client, no waiting for the index.
					hdr := []byte(nil)
					if i%5 == 0 {
						hdr = []byte("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n")
					}
					e.r.Publish(&router.Publisher{}, []byte("$KV.mqtt_retained."+Key([]byte(tp))), nil, hdr, []byte(fmt.Sprintf("n%d", i)))
					continue
				}
				payload := fmt.Sprintf("w%d-%d", w, i)
				if i%7 == 0 {
					payload = ""
				}
				if err := set(t, s, Msg{Topic: []byte(tp), Payload: []byte(payload)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// A fresh store reads the bucket; once the first has seen every
	// write (its watch delivers the last one), both agree.
	last := e.streamInfo().State.LastSeq
	eventually(t, "the watch to catch up", func() bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.ix.seen >= last
	})
	fresh := e.open(Options{})
	if a, b := matched(s, "#"), matched(fresh, "#"); !slices.Equal(a, b) {
		t.Fatalf("index and bucket differ:\n%q\n%q", a, b)
	}
	s.mu.RLock()
	tombs := len(s.ix.tombs)
	s.mu.RUnlock()
	if tombs != 0 {
		t.Fatalf("%d tombstones left after the watch passed them", tombs)
	}
}

// If the watch's consumer goes, the store notices and watches again, and
// picks up what changed meanwhile.
func TestWatchRestart(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	mustSet(t, s, "a", "1")
	mustSet(t, s, "b", "2")
	s.Close() // stop the first store's watch; a second store runs on
	s = e.open(Options{})
	name := s.watchName()
	var resp struct{ jsapi.Response }
	if err := json.Unmarshal(e.request("$JS.API.CONSUMER.DELETE.KV_mqtt_retained."+name, nil, nil), &resp); err != nil || resp.Error != nil {
		t.Fatalf("delete consumer %s: %v %+v", name, err, resp.Error)
	}
	// Changes while nobody watches: a is purged from the stream (no
	// marker left: only the end of the new watch's sync can tell), c is
	// put.
	var presp struct {
		jsapi.Response
		Purged uint64 `json:"purged"`
	}
	if err := json.Unmarshal(e.request("$JS.API.STREAM.PURGE.KV_mqtt_retained", nil, jsapi.StreamPurgeRequest{Subject: "$KV.mqtt_retained.a"}), &presp); err != nil || presp.Error != nil || presp.Purged != 1 {
		t.Fatalf("purge a: %v %+v %d", err, presp.Error, presp.Purged)
	}
	e.kvPut("c", nil, "3")
	eventually(t, "a new watch", func() bool { n := s.watchName(); return n != "" && n != name })
	eventually(t, "the changes", func() bool { return slices.Equal(matched(s, "#"), []string{"b=2", "c=3"}) })
	e.kvPut("d", nil, "4")
	eventually(t, "a change after the restart", func() bool { return len(matched(s, "d")) == 1 })
}

// watchName is the current consumer's name, read on the watch goroutine.
func (s *Store) watchName() string {
	ch := make(chan string, 1)
	s.post(func() { ch <- s.w.name })
	return <-ch
}

func TestSetErrors(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{})
	for _, tp := range []string{"", "a/+", "#", "a\x00b"} {
		if err := set(t, s, Msg{Topic: []byte(tp), Payload: []byte("x")}); err == nil {
			t.Errorf("Set(%q) accepted", tp)
		}
	}
	s.Close()
	if err := set(t, s, Msg{Topic: []byte("a"), Payload: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
	s.Close() // twice is fine
}

// A failed PubAck fails the Set and leaves the index alone.
func TestSetPubAckError(t *testing.T) {
	e := newEnv(t, t.TempDir())
	// A bucket made beforehand with a small value limit.
	cfg := bucketConfig("mqtt_retained")
	cfg.MaxMsgSize = 64
	var resp struct{ jsapi.Response }
	if err := json.Unmarshal(e.request("$JS.API.STREAM.CREATE.KV_mqtt_retained", nil, cfg), &resp); err != nil || resp.Error != nil {
		t.Fatalf("create: %v %+v", err, resp.Error)
	}
	s := e.open(Options{})
	err := set(t, s, Msg{Topic: []byte("big"), Payload: make([]byte, 100)})
	if !errors.Is(err, jsapi.ErrStreamMessageExceedsMaximum) {
		t.Fatalf("Set of a too large value: %v", err)
	}
	if s.Len() != 0 {
		t.Fatal("failed Set in the index")
	}
}

// A bucket made with `nats kv add` (no TTLs) is taken and updated; a
// stream that cannot be a bucket is refused.
func TestExistingBucket(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cfg := bucketConfig("mqtt_retained")
	cfg.AllowMsgTTL, cfg.SubjectDeleteMarkerTTL = false, 0
	var resp struct{ jsapi.Response }
	if err := json.Unmarshal(e.request("$JS.API.STREAM.CREATE.KV_mqtt_retained", nil, cfg), &resp); err != nil || resp.Error != nil {
		t.Fatalf("create: %v %+v", err, resp.Error)
	}
	e.kvPut("kept", nil, "v")
	s := e.open(Options{})
	if !e.streamInfo().Config.AllowMsgTTL {
		t.Fatal("allow_msg_ttl not turned on")
	}
	if got := matched(s, "kept"); !slices.Equal(got, []string{"kept=v"}) {
		t.Fatalf("existing value: %q", got)
	}
	if err := set(t, s, Msg{Topic: []byte("ttl"), Payload: []byte("x"), Expires: time.Now().Add(time.Hour).UnixNano()}); err != nil {
		t.Fatal(err)
	}

	bad := bucketConfig("other")
	bad.AllowRollup, bad.DenyPurge, bad.SubjectDeleteMarkerTTL = false, true, 0
	if err := json.Unmarshal(e.request("$JS.API.STREAM.CREATE.KV_other", nil, bad), &resp); err != nil || resp.Error != nil {
		t.Fatalf("create: %v %+v", err, resp.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, e.r, Options{Bucket: "other"}); err == nil || !strings.Contains(err.Error(), "denies purges") {
		t.Fatalf("Open on a stream denying purges: %v", err)
	}
	if _, err := Open(ctx, e.r, Options{Bucket: "bad.name"}); err == nil {
		t.Fatal("bad bucket name accepted")
	}
}

// Without JetStream, Open fails at once.
func TestOpenWithoutJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := router.New()
	_, err := Open(ctx, r, Options{})
	if !errors.Is(err, inbox.ErrNoResponders) {
		t.Fatalf("Open without JetStream: %v", err)
	}
	if r.Count() != 0 {
		t.Fatalf("%d subscriptions left behind", r.Count())
	}
}

// Open returns with the whole bucket loaded, also when another watch on
// the stream keeps it ticking (its first heartbeat may come before the
// first delivery).
func TestOpenLoadsAll(t *testing.T) {
	e := newEnv(t, t.TempDir())
	s := e.open(Options{heartbeat: 100 * time.Millisecond})
	for i := range 30 {
		mustSet(t, s, fmt.Sprintf("k/%d", i), "v")
	}
	for i := range 20 {
		fresh := e.open(Options{heartbeat: 100 * time.Millisecond})
		if n := fresh.Len(); n != 30 {
			t.Fatalf("open %d loaded %d of 30", i, n)
		}
		fresh.Close()
	}
}
