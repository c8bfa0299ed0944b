package delivery

import (
	"context"
	"sync"
	"time"
)

// batcher coalesces concurrent calls into one call of run with all their
// inputs, the way a group commit does: a caller that finds fewer than
// parallel batches running starts one; the others join the next batch,
// which forms while the running one is in the database. With one delivery
// at a time nothing waits (a batch of one runs at once); under load the
// workers' reads and writes become a few multi-row statements instead of
// one round trip (and one pool connection) each.
//
// run returns one result per input, in order, or an error for the whole
// batch.
type batcher[In, Out any] struct {
	run      func(ctx context.Context, in []In) ([]Out, error)
	max      int
	parallel int
	timeout  time.Duration

	mu      sync.Mutex
	pending []*batchCall[In, Out]
	running int
}

type batchCall[In, Out any] struct {
	ctx  context.Context
	in   In
	out  Out
	err  error
	done chan struct{}
}

func newBatcher[In, Out any](maxSize, parallel int, timeout time.Duration, run func(context.Context, []In) ([]Out, error)) *batcher[In, Out] {
	return &batcher[In, Out]{run: run, max: maxSize, parallel: parallel, timeout: timeout}
}

// do runs in within a batch and returns its result; it gives up when ctx
// ends (the batch still runs for the others).
func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	c := &batchCall[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	start := b.running < b.parallel
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.drain()
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// drain runs batches until nothing is pending.
func (b *batcher[In, Out]) drain() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		n := min(len(b.pending), b.max)
		calls := make([]*batchCall[In, Out], n)
		copy(calls, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		b.mu.Unlock()
		b.runBatch(calls)
	}
}

func (b *batcher[In, Out]) runBatch(calls []*batchCall[In, Out]) {
	// The batch is everyone's: no one caller's cancellation ends it, but
	// it is bounded. Values (the trace) come from the first caller.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(calls[0].ctx), b.timeout)
	defer cancel()
	in := make([]In, len(calls))
	for i, c := range calls {
		in[i] = c.in
	}
	out, err := b.run(ctx, in)
	for i, c := range calls {
		if err != nil {
			c.err = err
		} else {
			c.out = out[i]
		}
		close(c.done)
	}
}
