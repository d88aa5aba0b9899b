package jetstream

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// deleted_details lists every deleted sequence, a deleted last message
// included (deleting 2 and 4 of 1..4 reports [2 4], as nats-server).
func TestDeletedDetailsIncludesTail(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	for range 4 {
		e.publish("s", "x")
	}
	for _, seq := range []uint64{2, 4} {
		var resp struct {
			jsapi.Response
			Success bool `json:"success"`
		}
		e.api("STREAM.MSG.DELETE.S", map[string]any{"seq": seq}, &resp)
		if !resp.Success {
			t.Fatalf("delete %d: %+v", seq, resp.Error)
		}
	}
	var info struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.S", map[string]any{"deleted_details": true}, &info)
	if info.State.NumDeleted != 2 || !slices.Equal(info.State.Deleted, []uint64{2, 4}) {
		t.Fatalf("num_deleted %d deleted %v, want 2 [2 4]", info.State.NumDeleted, info.State.Deleted)
	}
}

// A no_ack stream stores what it captures without answering the
// publisher: a stream over request subjects must not put a PubAck into
// the requester's inbox.
func TestNoAckStreamSendsNoPubAck(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "R", Subjects: []string{"req.>"}, NoAck: true})
	ib := newInbox(t, e.r, "_INBOX.requester")
	e.r.Publish(&router.Publisher{}, []byte("req.1"), []byte("_INBOX.requester"), nil, []byte("q"))
	var info struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.api("STREAM.INFO.R", nil, &info)
		if info.State.Msgs == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	// Operations run on the stream's goroutine only between commits, so
	// once this one has run the commit's answers have been published.
	e.svc.lookup("R").do(func() {})
	if n := ib.count(); n != 0 {
		t.Fatalf("the requester got %d replies from a no_ack stream", n)
	}
}

// Consumer create answers as nats-server's jsConsumerCreateRequest: both
// filter forms give 10136; the subject's name wins over the config's; an
// update may set durable_name on a named consumer.
func TestConsumerCreateMatchesNATSServer(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	create := func(subj string, cfg jsapi.ConsumerConfig) (*jsapi.Error, string) {
		var resp struct {
			jsapi.Response
			jsapi.ConsumerInfo
		}
		e.api(subj, jsapi.CreateConsumerRequest{Stream: "S", Config: cfg}, &resp)
		return resp.Error, resp.Name
	}
	if err, _ := create("CONSUMER.CREATE.S.A", jsapi.ConsumerConfig{FilterSubject: "s.a", FilterSubjects: []string{"s.b"}, AckPolicy: jsapi.AckExplicit}); err == nil || err.ErrCode != 10136 {
		t.Fatalf("filter_subject with filter_subjects: %+v, want 10136", err)
	}
	if err, name := create("CONSUMER.CREATE.S.B", jsapi.ConsumerConfig{Name: "OTHER", AckPolicy: jsapi.AckExplicit}); err != nil || name != "B" {
		t.Fatalf("config name differing from the subject's: %+v %q, want consumer B", err, name)
	}
	if err, name := create("CONSUMER.CREATE.S.B", jsapi.ConsumerConfig{Durable: "B", AckPolicy: jsapi.AckExplicit}); err != nil || name != "B" {
		t.Fatalf("update setting durable_name: %+v %q", err, name)
	}
	if err, _ := create("CONSUMER.CREATE.S.C", jsapi.ConsumerConfig{Durable: "D", AckPolicy: jsapi.AckExplicit}); err == nil || err.ErrCode != 10017 {
		t.Fatalf("durable differing from the subject's name: %+v, want 10017", err)
	}
}

// Waiting pull requests share a consumer's messages round robin, as
// nats-server serves them: two workers asking for 10 each out of 10
// messages get 5 each, not 10 and 0.
func TestPullRequestsRoundRobin(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "W", AckPolicy: jsapi.AckExplicit})
	a, b := newInbox(t, e.r, "_INBOX.a"), newInbox(t, e.r, "_INBOX.b")
	for _, in := range []string{"_INBOX.a", "_INBOX.b"} {
		e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.S.W"), []byte(in), nil, []byte(`{"batch":10,"expires":60000000000}`))
	}
	e.waitWaiting("S", "W", 2)
	for range 10 {
		e.publish("s", "x")
	}
	a.wait(t, 4, 5*time.Second)
	b.wait(t, 4, 5*time.Second)
	e.svc.lookup("S").do(func() {})
	if a.count() != 5 || b.count() != 5 {
		t.Fatalf("worker a got %d, b got %d; want 5 each", a.count(), b.count())
	}
}

// A push consumer delivers what was stored while nobody listened as soon
// as a subscriber appears on its deliver subject, without waiting for a
// publish or a heartbeat (none is configured here).
func TestPushConsumerDeliversWhenInterestAppears(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "P", DeliverSubject: "deliver.p", AckPolicy: jsapi.AckExplicit})
	for range 3 {
		e.publish("s", "x")
	}
	// A wildcard subscription covering the deliver subject counts too.
	ib := newInbox(t, e.r, "deliver.>")
	ib.wait(t, 2, 10*time.Second)
}

// At shutdown every waiting pull request gets nats-server's 409 Server
// Shutdown with its pending counts.
func TestPullRequestsEndWithServerShutdown(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.durable("S", jsapi.ConsumerConfig{Durable: "W", AckPolicy: jsapi.AckExplicit})
	ib := newInbox(t, e.r, "_INBOX.w")
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.CONSUMER.MSG.NEXT.S.W"), []byte("_INBOX.w"), nil, []byte(`{"batch":7,"expires":60000000000}`))
	e.waitWaiting("S", "W", 1)
	e.svc.EndPullRequests()
	m := ib.wait(t, 0, 5*time.Second)
	if want := "NATS/1.0 409 Server Shutdown\r\nNats-Pending-Messages: 7\r\nNats-Pending-Bytes: 0\r\n\r\n"; string(m.hdr) != want {
		t.Fatalf("got %q, want %q", m.hdr, want)
	}
	e.waitWaiting("S", "W", 0)
}

// A request that needs a newer API level than leafgate implements is
// refused with nats-server's 412 / 10185, not served without the feature.
func TestRequiredAPILevel(t *testing.T) {
	e := openEnv(t, t.TempDir())
	for _, tc := range []struct {
		level string
		fail  bool
	}{{"1", false}, {"0", false}, {"2", true}, {"x", true}} {
		ib := newInbox(t, e.r, "_INBOX.lvl"+tc.level)
		hdr := []byte("NATS/1.0\r\nNats-Required-Api-Level: " + tc.level + "\r\n\r\n")
		e.r.Publish(&router.Publisher{}, []byte("$JS.API.STREAM.CREATE.L"+tc.level), []byte("_INBOX.lvl"+tc.level), hdr, []byte(`{"name":"L`+tc.level+`","subjects":["l`+tc.level+`"]}`))
		m := ib.wait(t, 0, 5*time.Second)
		var resp jsapi.Response
		if err := json.Unmarshal(m.data, &resp); err != nil {
			t.Fatal(err)
		}
		if got := resp.Error != nil && resp.Error.ErrCode == 10185 && resp.Error.Code == 412; got != tc.fail {
			t.Fatalf("level %s: %s", tc.level, m.data)
		}
		if resp.Type != jsapi.TypeStreamCreate {
			t.Fatalf("level %s: type %q", tc.level, resp.Type)
		}
	}
}

// Schedules are served at the advertised level 1 without a level header;
// the same request requiring level 2 is refused like any other.
func TestSchedulesAtAdvertisedLevel(t *testing.T) {
	e := openEnv(t, t.TempDir())
	for _, tc := range []struct {
		hdr  []byte
		fail bool
	}{{nil, false}, {[]byte("NATS/1.0\r\nNats-Required-Api-Level: 2\r\n\r\n"), true}} {
		reply := fmt.Sprintf("_INBOX.schedlvl.%v", tc.fail)
		ib := newInbox(t, e.r, reply)
		e.r.Publish(&router.Publisher{}, []byte("$JS.API.STREAM.CREATE.SL"), []byte(reply), tc.hdr, []byte(`{"name":"SL","subjects":["sl.>"],"allow_msg_schedules":true}`))
		m := ib.wait(t, 0, 5*time.Second)
		var resp jsapi.Response
		if err := json.Unmarshal(m.data, &resp); err != nil {
			t.Fatal(err)
		}
		if got := resp.Error != nil && resp.Error.ErrCode == 10185; got != tc.fail {
			t.Fatalf("level header %q: %s", tc.hdr, m.data)
		}
		if !tc.fail && !strings.Contains(string(m.data), `"allow_msg_schedules":true`) {
			t.Fatalf("schedules not enabled: %s", m.data)
		}
		e.request("$JS.API.STREAM.DELETE.SL", nil)
	}
}

// durable creates a durable consumer on stream, failing the test on error.
func (e *env) durable(stream string, cfg jsapi.ConsumerConfig) {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	e.api("CONSUMER.CREATE."+stream+"."+cfg.Durable, jsapi.CreateConsumerRequest{Stream: stream, Config: cfg}, &resp)
	if resp.Error != nil {
		e.t.Fatalf("create consumer %s: %+v", cfg.Durable, resp.Error)
	}
}

// waitWaiting waits until consumer info counts n waiting pull requests.
func (e *env) waitWaiting(stream, name string, n int) {
	e.t.Helper()
	var resp struct {
		jsapi.Response
		jsapi.ConsumerInfo
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		e.api("CONSUMER.INFO."+stream+"."+name, nil, &resp)
		if resp.NumWaiting == n {
			return
		}
	}
	e.t.Fatalf("consumer %s: %d pull requests waiting, want %d", name, resp.NumWaiting, n)
}

// An API request without a reply subject is carried out, and audited, as
// nats-server does; only the answer has nowhere to go.
func TestAPIRequestWithoutReply(t *testing.T) {
	e := openEnv(t, t.TempDir())
	e.createStream(jsapi.StreamConfig{Name: "NR", Subjects: []string{"nr.>"}, Storage: jsapi.FileStorage})
	audits := newInbox(t, e.r, jsapi.AdvisoryAPI)
	e.r.Publish(&router.Publisher{}, []byte("$JS.API.STREAM.DELETE.NR"), nil, nil, nil)
	// The CREATE's own audit is sent after its answer, so it may still
	// arrive first: look for the DELETE's among the first two.
	for i := 0; ; i++ {
		a := audits.wait(t, i, 5*time.Second)
		if strings.Contains(string(a.data), `"subject":"$JS.API.STREAM.DELETE.NR"`) {
			break
		}
		if i == 1 || !strings.Contains(string(a.data), `"subject":"$JS.API.STREAM.CREATE.NR"`) {
			t.Fatalf("audit %s", a.data)
		}
	}
	var resp struct {
		jsapi.Response
		jsapi.StreamInfo
	}
	e.api("STREAM.INFO.NR", nil, &resp)
	if resp.Error == nil || resp.Error.ErrCode != jsapi.ErrStreamNotFound.ErrCode {
		t.Fatalf("stream info after a reply-less delete: %+v", resp.Error)
	}
}
