package router

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// confirmProbe records the calls of a Confirm's done.
type confirmProbe struct {
	calls atomic.Int32
	err   atomic.Value
}

func (p *confirmProbe) done(err error) {
	p.calls.Add(1)
	if err != nil {
		p.err.Store(err)
	}
}

func (p *confirmProbe) result() error {
	err, _ := p.err.Load().(error)
	return err
}

// Each scenario is a sequence of steps: 'a' Add, 'd' Done(nil), '1'
// Done(errA), '2' Done(errB), 'r' Release. done must run exactly at the
// step after which nothing is outstanding, and never before.
func TestConfirmDoneOnceAfterLast(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	cases := []struct {
		name  string
		steps string
		want  error
	}{
		{"nothing stores it", "r", nil},
		{"stored then released", "adr", nil},
		{"released then stored", "ard", nil},
		{"two stores, release between", "aadrd", nil},
		{"two stores, release last", "aaddr", nil},
		{"release first", "aardd", nil},
		{"one fails", "aa1dr", errA},
		{"failure after release", "aard1", errA},
		{"first error wins", "aa12r", errA},
		{"first error wins, other order", "aar21", errB},
		{"success does not clear an error", "aa1rd", errA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p confirmProbe
			c := NewConfirm(p.done)
			for i, step := range tc.steps {
				if n := p.calls.Load(); n != 0 {
					t.Fatalf("done ran before step %d (%q)", i, tc.steps[:i])
				}
				switch step {
				case 'a':
					c.Add()
				case 'd':
					c.Done(nil)
				case '1':
					c.Done(errA)
				case '2':
					c.Done(errB)
				case 'r':
					c.Release()
				}
			}
			if n := p.calls.Load(); n != 1 {
				t.Fatalf("done ran %d times, want once", n)
			}
			if got := p.result(); got != tc.want {
				t.Fatalf("done(%v), want done(%v)", got, tc.want)
			}
		})
	}
}

func TestConfirmInitReuse(t *testing.T) {
	var first, second confirmProbe
	c := NewConfirm(first.done)
	c.Add()
	c.Done(errors.New("disk full"))
	c.Release()
	c.Init(second.done)
	c.Add()
	c.Release()
	if second.calls.Load() != 0 {
		t.Fatal("reused Confirm done before its store finished")
	}
	c.Done(nil)
	if first.calls.Load() != 1 || second.calls.Load() != 1 {
		t.Fatalf("done calls: first %d, second %d", first.calls.Load(), second.calls.Load())
	}
	if err := second.result(); err != nil {
		t.Fatalf("the reused Confirm kept the old error %v", err)
	}
}

// Stores finishing on many goroutines at once, racing the publisher's
// Release: done runs once, after all of them, with an error when one
// failed. Run with -race.
func TestConfirmConcurrent(t *testing.T) {
	const stores = 16
	for round := range 200 {
		var p confirmProbe
		var finished atomic.Int32
		c := NewConfirm(func(err error) {
			if n := finished.Load(); n != stores {
				t.Errorf("round %d: done after %d of %d stores", round, n, stores)
			}
			p.done(err)
		})
		fail := round % stores
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range stores {
			c.Add()
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if i == fail && round%2 == 0 {
					err = errors.New("rejected")
				}
				finished.Add(1)
				c.Done(err)
			}()
		}
		close(start)
		c.Release()
		wg.Wait()
		if n := p.calls.Load(); n != 1 {
			t.Fatalf("round %d: done ran %d times", round, n)
		}
		if failed := round%2 == 0; (p.result() != nil) != failed {
			t.Fatalf("round %d: done(%v), want an error: %v", round, p.result(), failed)
		}
	}
}
