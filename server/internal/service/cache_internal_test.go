package service

import (
	"testing"
	"time"
)

// TestACacheDropDuringALoadIsNotUndone: a value read from the database
// while the cache was dropped (a change announced meanwhile, by this node
// or another) may be the old one, and is not kept: the next read loads
// again instead of serving it for the TTL.
func TestACacheDropDuringALoadIsNotUndone(t *testing.T) {
	c := newTTLCache[string](time.Minute)
	now := time.Now()
	loads := 0
	v, err := c.get("off_1", now, func() (string, error) {
		loads++
		c.clear() // the offer was paused while its old row was being read
		return "active", nil
	})
	if err != nil || v != "active" {
		t.Fatalf("get = %q, %v", v, err)
	}
	v, _ = c.get("off_1", now, func() (string, error) { loads++; return "paused", nil })
	if v != "paused" || loads != 2 {
		t.Fatalf("after a drop during the load: %q with %d loads, want the new value from a second load", v, loads)
	}
	v, _ = c.get("off_1", now, func() (string, error) { loads++; return "never read", nil })
	if v != "paused" || loads != 2 {
		t.Fatalf("a value loaded without a drop is cached: got %q with %d loads", v, loads)
	}
}
