package mqtt

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leafgate/leafgate/mqtt/retain"
)

// LazyRetain opens once however many callers race for it, and retries an
// open that failed at the next use.
func TestLazyRetainOpensOnceAndRetries(t *testing.T) {
	var calls atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	l := NewLazyRetain(func() (*retain.Store, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		if fail.Load() {
			return nil, errors.New("no jetstream")
		}
		return &retain.Store{}, nil
	}, nil)
	var wg sync.WaitGroup
	var errs atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.store(); err != nil {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	if errs.Load() == 0 || calls.Load() == 0 {
		t.Fatalf("failing open: %d errors, %d calls", errs.Load(), calls.Load())
	}
	fail.Store(false)
	before := calls.Load()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := l.store(); err != nil || s == nil {
				t.Errorf("store: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load() - before; n != 1 {
		t.Fatalf("%d opens after the failure, want 1", n)
	}
}
