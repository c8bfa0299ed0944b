package delivery

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/testwait"
)

// TestBatcherGroupsCallsThatArriveWhileABatchRuns: with one batch at a
// time, the calls made while the first is in the database go together in
// the next; each caller gets its own result; an error of a batch reaches
// each of its callers; a caller that gives up gets its context's error
// while the batch still runs for the others.
func TestBatcherGroupsCallsThatArriveWhileABatchRuns(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := newBatcher(100, 1, time.Minute, func(_ context.Context, in []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(in))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release
		}
		if slices.Contains(in, -1) {
			return nil, errors.New("refused")
		}
		out := make([]int, len(in))
		for i, v := range in {
			out[i] = v * 10
		}
		return out, nil
	})
	ctx := context.Background()
	got := make([]int, 21)
	var wg sync.WaitGroup
	call := func(i int) {
		defer wg.Done()
		v, err := b.do(ctx, i)
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
		got[i] = v
	}
	wg.Add(1)
	go call(0)
	testwait.Until(t, 10*time.Second, "the first batch runs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sizes) == 1
	})
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go call(i)
	}
	cancelled, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := b.do(cancelled, 99)
		gaveUp <- err
	}()
	testwait.Until(t, 10*time.Second, "21 calls wait", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.pending) == 21
	})
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller got %v", err)
	}
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != i*10 {
			t.Fatalf("call %d got %d, want %d", i, v, i*10)
		}
	}
	mu.Lock()
	if !slices.Equal(sizes, []int{1, 21}) {
		t.Fatalf("batch sizes %v, want [1 21]: the waiting calls in one batch", sizes)
	}
	mu.Unlock()
	if _, err := b.do(ctx, -1); err == nil || err.Error() != "refused" {
		t.Fatalf("a refused batch: %v", err)
	}
}
