package sessstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// The crash test runs a writer in a child process (this test binary,
// re-executed with SESSSTORE_KILL_WRITER set) that applies a
// deterministic workload — step(k) is the k-th batch, computed from k and
// the model state alone — and prints k once batch k's done has reported
// it durable. The parent kills it with SIGKILL at a random moment,
// reopens the file, reads which batch the file holds (the "progress"
// session's will) and checks that it is at least the last acknowledged
// one and that the whole store equals the model replayed to that batch.
// Then the next writer goes on from there.

func TestMain(m *testing.M) {
	if path := os.Getenv("SESSSTORE_KILL_WRITER"); path != "" {
		killWriter(path)
		return
	}
	os.Exit(m.Run())
}

const progressClient = "progress"

var crashClients = func() []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = fmt.Sprintf("client-%02d", i)
	}
	return out
}()

type mEntry struct {
	Entry          // Body is not compared: ids differ between runs
	content string // the body's bytes, unless Released
}

type mSession struct {
	sess     Session
	queue    []mEntry
	incoming map[uint16]bool
	nextSeq  uint64
}

// model is what the store must hold after a number of steps.
type model struct {
	sessions map[string]*mSession
	steps    int // steps applied: the store's progress is steps-1
}

func newModel() *model { return &model{sessions: make(map[string]*mSession)} }

// step applies batch k to m and, if b is not nil, adds the same changes to
// b. It depends only on k and m.
func step(k int, m *model, b *Batch) {
	rng := rand.New(rand.NewPCG(uint64(k), 0x5e55))
	put := func(s *mSession) {
		if b != nil {
			sess := s.sess
			b.PutSession(&sess)
		}
	}
	newSession := func(c string) {
		s := &mSession{
			sess: Session{ClientID: c, Version: byte(4 + rng.IntN(2)), Expiry: uint32(rng.IntN(1000)),
				Subs: []Sub{{Filter: c + "/#", QoS: 1, ID: uint32(rng.IntN(3))}}},
			incoming: make(map[uint16]bool),
			nextSeq:  1,
		}
		if rng.IntN(2) == 0 {
			s.sess.Subs = append(s.sess.Subs, Sub{Filter: "$share/g/all/+", QoS: 2, NoLocal: true})
		}
		m.sessions[c] = s
		put(s)
	}
	pick := func() (string, *mSession) {
		c := crashClients[rng.IntN(len(crashClients))]
		return c, m.sessions[c]
	}
	if k == 0 {
		for _, c := range crashClients {
			newSession(c)
		}
	}
	// Messages, each fanned out to a few sessions.
	for i := range rng.IntN(3) {
		content := fmt.Sprintf("msg %d/%d %s", k, i, bytes.Repeat([]byte{'x'}, rng.IntN(300)))
		var id BodyID
		if b != nil {
			id = b.AddBody([]byte(content))
		}
		for range 1 + rng.IntN(8) {
			c, s := pick()
			if s == nil {
				continue
			}
			e := mEntry{Entry: Entry{Seq: s.nextSeq, Body: id, QoS: byte(rng.IntN(3)), Flags: byte(rng.IntN(4))}, content: content}
			s.nextSeq++
			s.queue = append(s.queue, e)
			if b != nil {
				b.Enqueue(c, e.Entry)
			}
		}
	}
	// Acks: PUBACK, PUBREC (release), a send (packet id), any position.
	for range rng.IntN(6) {
		c, s := pick()
		if s == nil || len(s.queue) == 0 {
			continue
		}
		i := rng.IntN(len(s.queue))
		e := &s.queue[i]
		switch {
		case e.QoS == 2 && !e.Released && rng.IntN(2) == 0:
			e.Released, e.PacketID, e.content = true, uint16(1+k%65535), ""
			if b != nil {
				b.Update(c, e.Entry)
			}
		case e.PacketID == 0 && rng.IntN(3) == 0:
			e.PacketID, e.Flags = uint16(1+rng.IntN(65535)), e.Flags|8
			if b != nil {
				b.Update(c, e.Entry)
			}
		default:
			seq := e.Seq
			s.queue = slices.Delete(s.queue, i, i+1)
			if b != nil {
				b.Remove(c, seq)
			}
		}
	}
	// Inbound QoS 2.
	if rng.IntN(3) == 0 {
		c, s := pick()
		if s != nil {
			pid := uint16(1 + rng.IntN(20))
			if s.incoming[pid] {
				delete(s.incoming, pid)
				if b != nil {
					b.RemoveIncoming(c, pid)
				}
			} else {
				s.incoming[pid] = true
				if b != nil {
					b.AddIncoming(c, pid)
				}
			}
		}
	}
	// Sessions end (clean start, expiry) and begin; go offline.
	switch c, s := pick(); {
	case s != nil && rng.IntN(25) == 0:
		delete(m.sessions, c)
		if b != nil {
			b.DeleteSession(c)
		}
		if rng.IntN(2) == 0 {
			newSession(c)
		}
	case s == nil && rng.IntN(4) == 0:
		newSession(c)
	case s != nil && rng.IntN(8) == 0:
		s.sess.Disconnected = int64(k)
		put(s)
	}
	// The progress marker, in the same transaction as the rest.
	p := &mSession{sess: Session{ClientID: progressClient, Version: 5, Will: binary.BigEndian.AppendUint64(nil, uint64(k))}, incoming: map[uint16]bool{}}
	m.sessions[progressClient] = p
	put(p)
	m.steps = k + 1
}

// replay is the model after steps 0..last.
func replay(last int) *model {
	m := newModel()
	for k := 0; k <= last; k++ {
		step(k, m, nil)
	}
	return m
}

// storedModel reads the whole store into a model and returns the progress
// it records (-1 for an empty store).
func storedModel(s *Store) (*model, int, error) {
	m := newModel()
	progress := -1
	err := s.Load(func(sess *Session, queue []Entry, incoming []uint16) error {
		ms := &mSession{sess: *sess, incoming: make(map[uint16]bool)}
		for _, e := range queue {
			me := mEntry{Entry: e}
			me.Body = 0
			if !e.Released {
				body, err := s.Body(e.Body)
				if err != nil {
					return fmt.Errorf("%s seq %d: %w", sess.ClientID, e.Seq, err)
				}
				me.content = string(body)
			}
			ms.queue = append(ms.queue, me)
		}
		for _, pid := range incoming {
			ms.incoming[pid] = true
		}
		if sess.ClientID == progressClient {
			progress = int(binary.BigEndian.Uint64(sess.Will))
		}
		m.sessions[sess.ClientID] = ms
		return nil
	})
	return m, progress, err
}

// diff describes how got differs from want, or is empty.
func diff(got, want *model) string {
	for c, w := range want.sessions {
		g := got.sessions[c]
		if g == nil {
			return fmt.Sprintf("session %s missing", c)
		}
		if !reflect.DeepEqual(g.sess, w.sess) {
			return fmt.Sprintf("session %s: %+v, want %+v", c, g.sess, w.sess)
		}
		wq := slices.Clone(w.queue)
		for i := range wq {
			wq[i].Body = 0
		}
		if !reflect.DeepEqual(g.queue, wq) && (len(g.queue) != 0 || len(wq) != 0) {
			return fmt.Sprintf("session %s queue:\n got %+v\nwant %+v", c, g.queue, wq)
		}
		if !reflect.DeepEqual(g.incoming, w.incoming) {
			return fmt.Sprintf("session %s incoming %v, want %v", c, g.incoming, w.incoming)
		}
	}
	for c := range got.sessions {
		if want.sessions[c] == nil {
			return fmt.Sprintf("session %s should not be stored", c)
		}
	}
	return ""
}

// killWriter is the child: it goes on from the stored progress and prints
// each step's number once it is durable, until it is killed.
func killWriter(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(Options{Path: path})
	if err != nil {
		fail(err)
	}
	_, progress, err := storedModel(s)
	if err != nil {
		fail(err)
	}
	m := replay(progress)
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	sem := make(chan struct{}, 16) // batches in flight: real group commits
	b := s.NewBatch()
	for k := progress + 1; ; k++ {
		sem <- struct{}{}
		b.Reset()
		step(k, m, b)
		s.Apply(b, func(err error) {
			if err != nil {
				fail(fmt.Errorf("step %d: %w", k, err))
			}
			mu.Lock()
			fmt.Fprintln(out, k)
			out.Flush()
			mu.Unlock()
			<-sem
		})
	}
}

// Kill -9 the writer at random moments, five times: every acknowledged
// batch is in the file, and the file is exactly the model at the batch it
// holds — sessions, queues in order with their bodies, incoming ids —
// with every body stored once.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	path := filepath.Join(t.TempDir(), "mqtt", "sessions.db")
	acked := -1
	for round := range 5 {
		killChild(t, path, 100+rand.IntN(600), func(line string) {
			k, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("child printed %q", line)
			}
			if k != acked+1 {
				t.Fatalf("acknowledged step %d after %d", k, acked)
			}
			acked = k
		})
		s, err := Open(Options{Path: path})
		if err != nil {
			t.Fatalf("round %d: open after kill -9: %v", round, err)
		}
		got, progress, err := storedModel(s)
		if err != nil {
			s.Close()
			t.Fatalf("round %d: load after kill -9: %v", round, err)
		}
		st := s.Stats()
		s.Close()
		if progress < acked {
			t.Fatalf("round %d: the file holds step %d, step %d was acknowledged", round, progress, acked)
		}
		want := replay(progress)
		if d := diff(got, want); d != "" {
			t.Fatalf("round %d at step %d: %s", round, progress, d)
		}
		entries, bodies := 0, map[string]bool{}
		for _, ms := range want.sessions {
			entries += len(ms.queue)
			for _, e := range ms.queue {
				if !e.Released {
					bodies[e.content] = true
				}
			}
		}
		if st.Entries != entries || st.Bodies != len(bodies) || st.Sessions != len(want.sessions) {
			t.Fatalf("round %d: stats %+v; want %d sessions, %d entries, %d bodies", round, st, len(want.sessions), entries, len(bodies))
		}
		t.Logf("round %d: killed after step %d acknowledged, file at step %d: %d sessions, %d entries, %d bodies",
			round, acked, progress, st.Sessions, st.Entries, st.Bodies)
		acked = progress // the next writer goes on from what is stored
	}
}

// killChild runs the writer child on path, passes each line it prints to
// line, kills it with SIGKILL after target lines, reads what it printed
// before dying, and fails unless SIGKILL ended it.
func killChild(t *testing.T, path string, target int, line func(string)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SESSSTORE_KILL_WRITER="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for lines := 0; sc.Scan(); {
		line(sc.Text())
		if lines++; lines == target {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not SIGKILL; stderr: %s", err, stderr.String())
	}
}

// The model itself: replaying is deterministic, and the store applied
// in-process matches it step by step.
func TestModelMatchesStoreInProcess(t *testing.T) {
	s := openTest(t, Options{})
	m := newModel()
	b := s.NewBatch()
	for k := range 200 {
		b.Reset()
		step(k, m, b)
		mustApply(t, s, b)
		if k%50 == 49 {
			got, progress, err := storedModel(s)
			if err != nil {
				t.Fatal(err)
			}
			if progress != k {
				t.Fatalf("progress %d at step %d", progress, k)
			}
			if d := diff(got, m); d != "" {
				t.Fatalf("step %d: %s", k, d)
			}
			if d := diff(replay(k), m); d != "" {
				t.Fatalf("replay differs at step %d: %s", k, d)
			}
		}
	}
}

func (m *model) clone() *model {
	c := &model{sessions: make(map[string]*mSession, len(m.sessions)), steps: m.steps}
	for id, s := range m.sessions {
		cs := *s
		cs.queue = slices.Clone(s.queue)
		cs.incoming = make(map[uint16]bool, len(s.incoming))
		for pid := range s.incoming {
			cs.incoming[pid] = true
		}
		c.sessions[id] = &cs
	}
	return c
}

// Commits fail at random (a quarter of them, as a failing fsync would):
// each failed step leaves the store and its index as they were, so the
// same step applies again later, and the store always equals the model of
// the steps that committed — also after a reopen.
func TestRandomFailuresRollBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	rng := rand.New(rand.NewPCG(7, 7))
	var fail bool // set before each Apply, read by the committer after it
	boom := errors.New("injected failure")
	s := openTest(t, Options{Path: path, BeforeCommit: func() error {
		if fail {
			return boom
		}
		return nil
	}})
	m := newModel()
	b := s.NewBatch()
	failures := 0
	for k := 0; k < 150; {
		next := m.clone()
		b.Reset()
		step(k, next, b)
		fail = k > 0 && rng.IntN(4) == 0
		err := apply(s, b)
		if fail {
			if !errors.Is(err, boom) {
				t.Fatalf("step %d: %v, want the injected failure", k, err)
			}
			failures++
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		m = next
		if k%25 == 0 {
			got, _, err := storedModel(s)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(got, m); d != "" {
				t.Fatalf("step %d: %s", k, d)
			}
		}
		k++
	}
	st := s.Stats()
	s.Close()
	s = openTest(t, Options{Path: path})
	got, progress, err := storedModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, m); d != "" || progress != 149 {
		t.Fatalf("after reopen at %d: %s", progress, d)
	}
	if re := s.Stats(); re.Entries != st.Entries || re.Bodies != st.Bodies || re.Sessions != st.Sessions {
		t.Fatalf("index after the run %+v, rebuilt at Open %+v", st, re)
	}
	t.Logf("150 steps with %d failed commits rolled back", failures)
}
