package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leafgate/leafgate/leaf/router"
)

// echo answers every request on its subject with "re:" + the payload and
// the request's headers, from the requester's publishing goroutine, as an
// internal service does.
type echo struct {
	r    *router.Router
	hold chan struct{} // when set, requests are answered once it closes
	mu   sync.Mutex
	held [][2][]byte // reply, payload
}

func (e *echo) Deliver(_ *router.Sub, _, reply, hdr, data []byte) bool {
	if e.hold != nil {
		e.mu.Lock()
		e.held = append(e.held, [2][]byte{append([]byte(nil), reply...), append([]byte(nil), data...)})
		e.mu.Unlock()
		return false
	}
	e.r.Publish(&router.Publisher{}, reply, nil, hdr, append([]byte("re:"), data...))
	return false
}
func (*echo) Flush() {}

func (e *echo) release() {
	e.mu.Lock()
	held := e.held
	e.held = nil
	e.mu.Unlock()
	for _, h := range held {
		e.r.Publish(&router.Publisher{}, h[0], nil, nil, append([]byte("re:"), h[1]...))
	}
}

func setup(t *testing.T) (*router.Router, *Requester, *echo) {
	t.Helper()
	r := router.New()
	e := &echo{r: r}
	if err := r.Subscribe(&router.Sub{Subject: "svc.>", Receiver: e}); err != nil {
		t.Fatal(err)
	}
	q, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	return r, q, e
}

func TestRequestReply(t *testing.T) {
	_, q, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := []byte("NATS/1.0\r\nA: b\r\n\r\n")
	rep, err := q.Do(ctx, "svc.echo", hdr, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if string(rep.Data) != "re:hi" || string(rep.Hdr) != string(hdr) {
		t.Fatalf("reply %q %q", rep.Hdr, rep.Data)
	}
	rep, err = q.Do(ctx, "svc.echo", nil, nil)
	if err != nil || rep.Hdr != nil || string(rep.Data) != "re:" {
		t.Fatalf("no headers: %q %q %v", rep.Hdr, rep.Data, err)
	}
}

// Many concurrent requests each get their own reply, exactly once.
func TestConcurrentRequests(t *testing.T) {
	_, q, _ := setup(t)
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			want := fmt.Sprint(i)
			q.Request("svc.x", nil, []byte(want), time.Minute, func(r Reply, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("request %s: %v", want, err)
					return
				}
				got[string(r.Data)]++
				if string(r.Data) != "re:"+want {
					t.Errorf("request %s got %q", want, r.Data)
				}
			})
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d distinct replies, want %d", len(got), n)
	}
}

func TestNoResponders(t *testing.T) {
	_, q, _ := setup(t)
	_, err := q.Do(context.Background(), "nobody.home", nil, nil)
	if !errors.Is(err, ErrNoResponders) {
		t.Fatalf("err %v, want ErrNoResponders", err)
	}
}

// A request whose reply never comes fails with ErrTimeout; the late reply
// is dropped, and the callback runs once.
func TestTimeoutAndLateReply(t *testing.T) {
	_, q, e := setup(t)
	e.hold = make(chan struct{})
	calls := make(chan error, 2)
	q.Request("svc.slow", nil, []byte("x"), 50*time.Millisecond, func(_ Reply, err error) { calls <- err })
	select {
	case err := <-calls:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no timeout")
	}
	e.release()
	// A round trip through the same requester: anything the late reply
	// queued would have been handed out before this answer.
	e.hold = nil
	if _, err := q.Do(context.Background(), "svc.ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-calls:
		t.Fatalf("callback ran twice (%v)", err)
	default:
	}
}

// Do ends with its context; the request is forgotten.
func TestDoContext(t *testing.T) {
	_, q, e := setup(t)
	e.hold = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Do(ctx, "svc.slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	q.mu.Lock()
	n := len(q.pending)
	q.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests still pending", n)
	}
}

// Close fails what is waiting, once, and later requests at once.
func TestClose(t *testing.T) {
	r, q, e := setup(t)
	e.hold = make(chan struct{})
	calls := make(chan error, 4)
	q.Request("svc.slow", nil, nil, time.Minute, func(_ Reply, err error) { calls <- err })
	q.Close()
	if err := <-calls; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending request: %v", err)
	}
	q.Request("svc.x", nil, nil, time.Minute, func(_ Reply, err error) { calls <- err })
	if err := <-calls; !errors.Is(err, ErrClosed) {
		t.Fatalf("request after close: %v", err)
	}
	q.Close() // twice is fine
	if r.Count() != 1 {
		t.Fatalf("%d subscriptions left, want only the echo service's", r.Count())
	}
	e.release()
	select {
	case err := <-calls:
		t.Fatalf("callback after close: %v", err)
	default:
	}
}

// Token is n characters of subject-safe base 62, and differs each time.
func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{1, 8, 10, 12, 40} {
		for range 50 {
			tok := Token(n)
			if len(tok) != n || strings.Trim(tok, tokenAlphabet) != "" {
				t.Fatalf("Token(%d) = %q", n, tok)
			}
			if n >= 8 && seen[tok] {
				t.Fatalf("Token(%d) repeated %q", n, tok)
			}
			seen[tok] = true
		}
	}
}
