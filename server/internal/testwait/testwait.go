// Package testwait lets tests wait for something to become true without
// sleeping a fixed time: a condition is checked at once and then at growing
// intervals (5 ms up to 100 ms) until it holds or a deadline passes. A
// test waits only as long as the system under test needs, and a slow,
// shared machine only makes it wait longer, never fail.
//
// Prefer a signal where the code under test can give one (a channel it
// closes, a receiver that reports each arrival) or an injected clock
// (app.WithClock); poll where the only evidence is a state to read back.
package testwait

import (
	"testing"
	"time"
)

// Until fails t (with what) unless cond returns true within the duration.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("not within %v: %s", within, what)
	}
}

// Poll reports whether cond returned true within the duration. cond is
// called from the caller's goroutine.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	wait := 5 * time.Millisecond
	for {
		if cond() {
			return true
		}
		next := time.NewTimer(wait)
		select {
		case <-deadline.C:
			next.Stop()
			return cond()
		case <-next.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// PollEvery is Poll at a fixed interval, for a test that must catch a
// short-lived state (a process to kill mid-way through its work).
func PollEvery(within, every time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}

// Receive waits for a value on c within the duration and fails t (with
// what) if none comes.
func Receive[T any](t testing.TB, within time.Duration, what string, c <-chan T) T {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-timer.C:
		t.Fatalf("not within %v: %s", within, what)
		var zero T
		return zero
	}
}
