package jetstream

import (
	"errors"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// captureFollower hands the test the Replica of each stream it follows.
type captureFollower struct{ reps chan *Replica }

func (c captureFollower) Follow(r *Replica) { c.reps <- r }
func (captureFollower) Unfollow(string)     {}

func openReplicaEnv(t *testing.T, dir string) (*env, *Replica) {
	t.Helper()
	f := captureFollower{reps: make(chan *Replica, 4)}
	r := router.New()
	svc, err := Open(Config{Dir: dir, Follower: f}, r)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, r: r, svc: svc, dir: dir}
	t.Cleanup(func() { _ = svc.Close() })
	var rep *Replica
	if svc.lookup("COPY") != nil {
		rep = <-f.reps
	} else {
		e.createStream(jsapi.StreamConfig{Name: "COPY", Sources: []*jsapi.StreamSource{{Name: "ORIGIN"}}})
		rep = <-f.reps
	}
	return e, rep
}

func appendSync(t *testing.T, rep *Replica, msgs ...ReplMsg) error {
	t.Helper()
	ch := make(chan error, 1)
	rep.Append(msgs, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("append never completed")
		return nil
	}
}

// An Append completes only once its messages are durable: with the
// commit held, its callback does not run.
func TestReplicaAppendWaitsForCommit(t *testing.T) {
	e, rep := openReplicaEnv(t, t.TempDir())
	iname := SourceIName(&jsapi.StreamSource{Name: "ORIGIN"})
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	file := e.svc.lookup("COPY").file
	file.SetBeforeCommit(func() {
		select {
		case held <- struct{}{}:
		default:
		}
		<-hold
	})
	done := make(chan error, 1)
	rep.Append([]ReplMsg{{Source: iname, OriginSeq: 5, Subject: "o.x", Data: []byte("a")}}, func(err error) { done <- err })
	<-held
	select {
	case <-done:
		t.Fatal("append completed while its commit was held")
	case <-time.After(200 * time.Millisecond):
	}
	file.SetBeforeCommit(nil)
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A source's position commits with its messages and survives a restart;
// what it already stored is not stored again; a refused message refuses
// the rest of its epoch until a new one starts.
func TestReplicaPositions(t *testing.T) {
	dir := t.TempDir()
	e, rep := openReplicaEnv(t, dir)
	iname := SourceIName(&jsapi.StreamSource{Name: "ORIGIN"})
	if err := appendSync(t, rep,
		ReplMsg{Source: iname, OriginSeq: 3, Subject: "o.x", Data: []byte("3")},
		ReplMsg{Source: iname, OriginSeq: 9, Subject: "o.x", Data: []byte("9")},
	); err != nil {
		t.Fatal(err)
	}
	_ = e.svc.Close()
	e, rep = openReplicaEnv(t, dir)
	_, pos, ok := rep.Position()
	if !ok || pos[iname] != 9 {
		t.Fatalf("position after restart %v", pos)
	}
	// Already stored: skipped.
	if err := appendSync(t, rep, ReplMsg{Source: iname, OriginSeq: 9, Subject: "o.x", Data: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if n := e.streamMsgs("COPY"); n != 2 {
		t.Fatalf("%d messages after a repeat, want 2", n)
	}
	// Refused (a sealed stream would do; here max_msgs with discard new).
	var resp struct {
		jsapi.Response
	}
	cfg := e.svc.lookup("COPY").config()
	cfg.MaxMsgs, cfg.Discard = 2, jsapi.DiscardNew
	e.api("STREAM.UPDATE.COPY", cfg, &resp)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	err := appendSync(t, rep, ReplMsg{Source: iname, OriginSeq: 10, Epoch: 1, Subject: "o.x", Data: []byte("10")})
	var je *jsapi.Error
	if !errors.As(err, &je) {
		t.Fatalf("over the limit: %v", err)
	}
	cfg.MaxMsgs = 10
	e.api("STREAM.UPDATE.COPY", cfg, &resp)
	// The same epoch stays refused (a later message would leave 10 behind) ...
	if err := appendSync(t, rep, ReplMsg{Source: iname, OriginSeq: 11, Epoch: 1, Subject: "o.x", Data: []byte("11")}); err == nil {
		t.Fatal("a later message of a refused epoch was stored")
	}
	// ... a new one resumes.
	if err := appendSync(t, rep, ReplMsg{Source: iname, OriginSeq: 10, Epoch: 2, Subject: "o.x", Data: []byte("10")}); err != nil {
		t.Fatal(err)
	}
	if _, pos, _ := rep.Position(); pos[iname] != 10 {
		t.Fatalf("position %v, want 10", pos)
	}
}
