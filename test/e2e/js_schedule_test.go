package e2e

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leafgate/leafgate/test/internal/harness"
)

// schedWait waits for a message on subj with a sequence above after.
func schedWait(t *testing.T, ctx context.Context, s jetstream.Stream, subj string, after uint64) *jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := s.GetLastMsgForSubject(ctx, subj)
		if err == nil && m.Sequence > after {
			return m
		}
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("get last %s: %v", subj, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message on %s after seq %d", subj, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// schedHeaders flattens a header for comparison, with the values of the
// keys in vary replaced by "*".
func schedHeaders(h nats.Header, vary ...string) string {
	var out []string
	for k, vs := range h {
		v := strings.Join(vs, ",")
		for _, x := range vary {
			if k == x {
				v = "*"
			}
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func schedPub(ctx context.Context, js jetstream.JetStream, subj, data string, kv ...string) (*jetstream.PubAck, error) {
	m := nats.NewMsg(subj)
	m.Data = []byte(data)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Header.Set(kv[i], kv[i+1])
	}
	return js.PublishMsg(ctx, m)
}

// Message schedules: an @at fires once on its target and is purged, an
// @every keeps firing, the stored and produced headers are the same on
// both servers, and bad schedules get the same errors.
func TestJSMessageSchedules(t *testing.T) {
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: "SCHED", Subjects: []string{"sched.>", "out.>"}, AllowMsgSchedules: true, AllowMsgTTL: true, DenyPurge: true,
		})
		if err != nil {
			t.Fatalf("create stream: %v", err)
		}
		cfg := s.CachedInfo().Config
		if !cfg.AllowMsgSchedules || !cfg.AllowRollup || cfg.DenyPurge {
			t.Fatalf("config: schedules %v rollup %v deny purge %v", cfg.AllowMsgSchedules, cfg.AllowRollup, cfg.DenyPurge)
		}

		at := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
		if _, err := schedPub(ctx, js, "sched.at", "hello", "Nats-Schedule", "@at "+at.Format(time.RFC3339),
			"Nats-Schedule-Target", "out.at", "Nats-Schedule-TTL", "1m", "Nats-Msg-Id", "m1", "Foo", "bar"); err != nil {
			t.Fatalf("publish @at: %v", err)
		}
		stored, err := s.GetLastMsgForSubject(ctx, "sched.at")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := schedHeaders(stored.Header, "Nats-Schedule"), "Foo=bar Nats-Msg-Id=m1 Nats-Rollup=sub Nats-Schedule-TTL=1m Nats-Schedule-Target=out.at Nats-Schedule=*"; got != want {
			t.Fatalf("stored schedule headers\n got %s\nwant %s", got, want)
		}
		if _, err := schedPub(ctx, js, "sched.every", "tick", "Nats-Schedule", "@every 1s", "Nats-Schedule-Target", "out.every"); err != nil {
			t.Fatalf("publish @every: %v", err)
		}

		fired := schedWait(t, ctx, s, "out.at", 0)
		if got, want := schedHeaders(fired.Header), "Foo=bar Nats-Schedule-Next=purge Nats-Scheduler=sched.at Nats-TTL=1m"; got != want {
			t.Fatalf("fired @at headers\n got %s\nwant %s", got, want)
		}
		if string(fired.Data) != "hello" || fired.Time.Before(at.Add(-time.Second)) {
			t.Fatalf("fired @at: data %q at %s, scheduled %s", fired.Data, fired.Time, at)
		}
		if _, err := s.GetLastMsgForSubject(ctx, "sched.at"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("@at schedule still stored: %v", err)
		}

		e1 := schedWait(t, ctx, s, "out.every", 0)
		e2 := schedWait(t, ctx, s, "out.every", e1.Sequence)
		for _, m := range []*jetstream.RawStreamMsg{e1, e2} {
			if got, want := schedHeaders(m.Header, "Nats-Schedule-Next"), "Nats-Schedule-Next=* Nats-Scheduler=sched.every"; got != want {
				t.Fatalf("fired @every headers\n got %s\nwant %s", got, want)
			}
			next, err := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Schedule-Next"))
			if err != nil || !strings.HasSuffix(m.Header.Get("Nats-Schedule-Next"), "Z") || next.Before(m.Time.Add(-2*time.Second)) {
				t.Fatalf("Nats-Schedule-Next %q (%v) on a message stored at %s", m.Header.Get("Nats-Schedule-Next"), err, m.Time)
			}
		}
		if e2.Time.Sub(e1.Time) < 500*time.Millisecond {
			t.Fatalf("@every 1s fired %s apart", e2.Time.Sub(e1.Time))
		}
		if _, err := s.GetLastMsgForSubject(ctx, "sched.every"); err != nil {
			t.Fatalf("@every schedule gone: %v", err)
		}

		// A client purges a schedule with Nats-Schedule-Next: purge.
		far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if _, err := schedPub(ctx, js, "sched.far", "", "Nats-Schedule", "@at "+far, "Nats-Schedule-Target", "out.far"); err != nil {
			t.Fatal(err)
		}
		if _, err := schedPub(ctx, js, "out.purge", "", "Nats-Schedule-Next", "purge", "Nats-Scheduler", "sched.far"); err != nil {
			t.Fatalf("purge schedule: %v", err)
		}
		if _, err := s.GetLastMsgForSubject(ctx, "sched.far"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("purged schedule still stored: %v", err)
		}

		for _, tc := range []struct {
			kv   []string
			code jetstream.ErrorCode
			desc string
		}{
			{[]string{"Nats-Schedule", "@every 100ms", "Nats-Schedule-Target", "out.x"}, 10189, "message schedules pattern is invalid"},
			{[]string{"Nats-Schedule", "0 0 * * *", "Nats-Schedule-Target", "out.x"}, 10189, "message schedules pattern is invalid"},
			{[]string{"Nats-Schedule", "@daily", "Nats-Schedule-Time-Zone", "Nowhere/Never", "Nats-Schedule-Target", "out.x"}, 10223, "message schedules time zone is invalid"},
			{[]string{"Nats-Schedule", "@at " + far, "Nats-Schedule-Target", "elsewhere"}, 10190, "message schedules target is invalid"},
			{[]string{"Nats-Schedule", "@at " + far, "Nats-Schedule-Target", "out.x", "Nats-Schedule-Source", "out.x"}, 10203, "message schedules source is invalid"},
			{[]string{"Nats-Schedule", "@at " + far, "Nats-Schedule-Target", "out.x", "Nats-Schedule-TTL", "soon"}, 10191, "message schedules invalid per-message TTL"},
			{[]string{"Nats-Schedule", "@at " + far, "Nats-Schedule-Target", "out.x", "Nats-Schedule-Rollup", "all"}, 10192, "message schedules invalid rollup"},
			{[]string{"Nats-Scheduler", "sched.every"}, 10212, "message schedules invalid scheduler"},
		} {
			_, err := schedPub(ctx, js, "sched.bad", "", tc.kv...)
			jssWantErr(t, strings.Join(tc.kv, " "), err, tc.code, tc.desc)
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}}); err != nil {
			t.Fatal(err)
		}
		_, err = schedPub(ctx, js, "plain.a", "", "Nats-Schedule", "@at "+far, "Nats-Schedule-Target", "plain.b")
		jssWantErr(t, "schedule on a stream without schedules", err, 10188, "message schedules is disabled")
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "DN", Subjects: []string{"dn"}, AllowMsgSchedules: true, Discard: jetstream.DiscardNew})
		jssWantErr(t, "schedules with discard new", err, 10052, "message scheduling cannot use discard new")
		_, err = js.UpdateStream(ctx, jetstream.StreamConfig{Name: "SCHED", Subjects: []string{"sched.>", "out.>"}, AllowMsgTTL: true, AllowRollup: true})
		jssWantErr(t, "disable schedules", err, 10052, "message schedules can not be disabled")
	})
}

// A pending schedule survives a restart: after the server comes back on
// the same store, the @every schedule fires again and an @at set before
// the restart fires once.
func TestJSMessageSchedulesSurviveRestart(t *testing.T) {
	for _, name := range consTargets() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := harness.Options{JetStream: true, StoreDir: dir}
			tg := harness.Start(t, name, opts)
			_, js, ctx := jsConnect(t, tg)
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SR", Subjects: []string{"sched.>", "out.>"}, AllowMsgSchedules: true})
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
			if _, err := schedPub(ctx, js, "sched.at", "later", "Nats-Schedule", "@at "+at.Format(time.RFC3339), "Nats-Schedule-Target", "out.at"); err != nil {
				t.Fatal(err)
			}
			if _, err := schedPub(ctx, js, "sched.every", "tick", "Nats-Schedule", "@every 1s", "Nats-Schedule-Target", "out.every"); err != nil {
				t.Fatal(err)
			}
			first := schedWait(t, ctx, s, "out.every", 0)
			tg.Shutdown()

			tg = harness.Start(t, name, opts)
			_, js, ctx = jsConnect(t, tg)
			s, err = js.Stream(ctx, "SR")
			if err != nil {
				t.Fatal(err)
			}
			schedWait(t, ctx, s, "out.every", first.Sequence)
			m := schedWait(t, ctx, s, "out.at", 0)
			if string(m.Data) != "later" || m.Header.Get("Nats-Schedule-Next") != "purge" {
				t.Fatalf("@at after restart: %q %v", m.Data, m.Header)
			}
			if _, err := s.GetLastMsgForSubject(ctx, "sched.at"); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("@at schedule still stored after firing: %v", err)
			}
		})
	}
}

// Schedule variants give the same messages on both servers: an @at in the
// past fires at once (Nats-Expected-* headers dropped), a cron with a time
// zone reports its next time in that zone, Nats-Schedule-Source sends the
// source's newest message, a new schedule replaces the old one on its
// subject and a plain message cancels it, and an interest stream without
// consumers keeps no schedule.
func TestJSMessageScheduleVariants(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	harness.ForEach(t, harness.Options{JetStream: true}, func(t *testing.T, tg *harness.Target) {
		_, js, ctx := jsConnect(t, tg)
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "V", Subjects: []string{"sched.>", "out.>"}, AllowMsgSchedules: true})
		if err != nil {
			t.Fatal(err)
		}
		pub := func(subj, data string, kv ...string) {
			t.Helper()
			if _, err := schedPub(ctx, js, subj, data, kv...); err != nil {
				t.Fatalf("publish %s %v: %v", subj, kv, err)
			}
		}
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		pub("sched.past", "p", "Nats-Schedule", "@at "+past, "Nats-Schedule-Target", "out.past", "Nats-Expected-Last-Subject-Sequence", "0")
		pub("sched.cron", "c", "Nats-Schedule", "* * * * * *", "Nats-Schedule-Target", "out.cron", "Nats-Schedule-Time-Zone", "Europe/Amsterdam")
		pub("sched.src", "srcdata", "X", "1", "Nats-Msg-Id", "src-1")
		pub("sched.s", "own", "Nats-Schedule", "@every 1s", "Nats-Schedule-Target", "out.s", "Nats-Schedule-Source", "sched.src", "Nats-Schedule-Rollup", "sub")
		far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		pub("sched.r", "one", "Nats-Schedule", "@at "+far, "Nats-Schedule-Target", "out.r")
		pub("sched.r", "two", "Nats-Schedule", "@every 1s", "Nats-Schedule-Target", "out.r")

		m := schedWait(t, ctx, s, "out.past", 0)
		if got, want := schedHeaders(m.Header)+" "+string(m.Data), "Nats-Schedule-Next=purge Nats-Scheduler=sched.past p"; got != want {
			t.Errorf("past @at: %s, want %s", got, want)
		}
		m = schedWait(t, ctx, s, "out.cron", 0)
		next := m.Header.Get("Nats-Schedule-Next")
		nt, err := time.Parse(time.RFC3339Nano, next)
		if err != nil || !strings.HasSuffix(next, nt.In(ams).Format("-07:00")) || nt.Nanosecond() != 0 {
			t.Errorf("cron in Europe/Amsterdam: Nats-Schedule-Next %q", next)
		}
		m = schedWait(t, ctx, s, "out.s", 0)
		if got, want := schedHeaders(m.Header, "Nats-Schedule-Next")+" "+string(m.Data), "Nats-Rollup=sub Nats-Schedule-Next=* Nats-Scheduler=sched.s X=1 srcdata"; got != want {
			t.Errorf("sourced: %s, want %s", got, want)
		}
		m = schedWait(t, ctx, s, "out.r", 0)
		if string(m.Data) != "two" {
			t.Errorf("replaced schedule sent %q", m.Data)
		}
		if info, err := s.Info(ctx, jetstream.WithSubjectFilter("sched.r")); err != nil || info.State.Subjects["sched.r"] != 1 {
			t.Errorf("replacing schedule kept %v (%v)", info.State.Subjects, err)
		}
		pub("sched.r", "plain")
		last := schedWait(t, ctx, s, "out.r", 0).Sequence
		time.Sleep(2500 * time.Millisecond)
		if m := schedWait(t, ctx, s, "out.r", 0); m.Sequence != last {
			t.Errorf("cancelled schedule fired again (%d after %d)", m.Sequence, last)
		}

		is, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "I", Subjects: []string{"i.>"}, Retention: jetstream.InterestPolicy, AllowMsgSchedules: true})
		if err != nil {
			t.Fatal(err)
		}
		if ack, err := schedPub(ctx, js, "i.s", "x", "Nats-Schedule", "@every 1s", "Nats-Schedule-Target", "i.out"); err != nil || ack.Sequence != 1 {
			t.Fatalf("schedule on interest stream: %+v %v", ack, err)
		}
		time.Sleep(2 * time.Second)
		if info, err := is.Info(ctx); err != nil || info.State.Msgs != 0 || info.State.LastSeq != 1 {
			t.Errorf("interest stream without consumers: %+v %v", info.State, err)
		}
	})
}
