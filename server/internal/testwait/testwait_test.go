package testwait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/testwait"
)

func TestPollReturnsAsSoonAsTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	if !testwait.Poll(time.Minute, func() bool { return calls.Add(1) == 3 }) {
		t.Fatal("Poll gave up on a condition that became true")
	}
	if calls.Load() != 3 {
		t.Fatalf("condition checked %d times, want 3 (stop once true)", calls.Load())
	}
}

func TestPollGivesUpAtTheDeadline(t *testing.T) {
	if testwait.Poll(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
}

func TestReceive(t *testing.T) {
	c := make(chan int, 1)
	c <- 7
	if got := testwait.Receive(t, time.Minute, "a value", c); got != 7 {
		t.Fatalf("got %d", got)
	}
}
