package service

import (
	"context"
	"sync"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// ClickCapStore is what click caps need from storage: the caps of kind
// clicks (CapService's table) and the stored clicks a cap counts.
type ClickCapStore interface {
	ClickCaps(ctx context.Context) ([]domain.ClickCap, error)
	CountClicksForCap(ctx context.Context, c domain.ClickCap, since time.Time) (int64, error)
}

// ClickCapSync is how often a node re-reads click caps and their counts
// from PostgreSQL.
const ClickCapSync = time.Second

// ClickCaps enforces click caps on the redirect without waiting for
// PostgreSQL: each node counts the clicks it admits on top of the count it
// last read (every ClickCapSync, in the background). On one node the count
// is exact; across N nodes a cap may be passed by what the other nodes
// admitted since their last sync: at most (N-1) × their clicks per sync
// interval on the capped offer.
type ClickCaps struct {
	store ClickCapStore
	now   func() time.Time

	mu      sync.Mutex
	caps    []*capCount
	synced  time.Time
	syncing bool
}

// capCount is one cap's count on this node.
type capCount struct {
	cap    domain.ClickCap
	start  time.Time // the period the counts are for
	stored int64     // clicks in PostgreSQL at the last sync
	local  int64     // clicks admitted here since that count
}

// NewClickCaps returns click caps over st.
func NewClickCaps(st ClickCapStore, now func() time.Time) *ClickCaps {
	if now == nil {
		now = time.Now
	}
	return &ClickCaps{store: st, now: now}
}

// Admit says whether a click at at on offer from publisher is within every
// cap that applies, and if so counts it. It never reads PostgreSQL: an
// overdue sync starts in the background.
func (k *ClickCaps) Admit(ctx context.Context, offerID, publisherID string, at time.Time) bool {
	if k == nil {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.syncing && k.now().Sub(k.synced) >= ClickCapSync {
		k.syncing = true
		// A failed sync keeps the last counts; the next click retries it.
		// It is no part of the click that happened to start it: not of its
		// trace either (an operator reading the click's trace would see
		// another request's queries).
		go k.sync(context.Background()) //nolint:contextcheck,errcheck // outlives the click on purpose
	}
	var applying []*capCount
	for _, c := range k.caps {
		if c.cap.OfferID != offerID || (c.cap.PublisherID != "" && c.cap.PublisherID != publisherID) {
			continue
		}
		if start := c.cap.PeriodStart(at); !start.Equal(c.start) {
			c.start, c.stored, c.local = start, 0, 0 // a new day or month
		}
		if c.stored+c.local >= c.cap.Limit {
			return false
		}
		applying = append(applying, c)
	}
	for _, c := range applying {
		c.local++
	}
	return true
}

// ConfigChanged makes the next click start a sync (a cap was changed).
func (k *ClickCaps) ConfigChanged() {
	k.mu.Lock()
	k.synced = time.Time{}
	k.mu.Unlock()
}

// Sync reads the caps and their counts now (at start-up, and in tests);
// clicks use the counts from the last sync that worked.
func (k *ClickCaps) Sync(ctx context.Context) error {
	k.mu.Lock()
	k.syncing = true
	k.mu.Unlock()
	return k.sync(ctx)
}

func (k *ClickCaps) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	defer func() {
		k.mu.Lock()
		k.syncing = false
		k.synced = k.now()
		k.mu.Unlock()
	}()
	caps, err := k.store.ClickCaps(ctx)
	if err != nil {
		return err
	}
	now := k.now()
	k.mu.Lock()
	before := map[string]*capCount{}
	for _, c := range k.caps {
		before[c.cap.ID] = c
	}
	// What this node admitted until now is in the count read next (the
	// store waits for this node's spooled clicks); what it admits while
	// the count is read stays local.
	admitted := map[string]int64{}
	for _, c := range k.caps {
		admitted[c.cap.ID] = c.local
	}
	k.mu.Unlock()
	fresh := make([]*capCount, 0, len(caps))
	for _, c := range caps {
		start := c.PeriodStart(now)
		n, err := k.store.CountClicksForCap(ctx, c, start)
		if err != nil {
			return err
		}
		fresh = append(fresh, &capCount{cap: c, start: start, stored: n})
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range fresh {
		if old := before[c.cap.ID]; old != nil && old.start.Equal(c.start) {
			c.local = max(old.local-admitted[c.cap.ID], 0)
		}
	}
	k.caps = fresh
	return nil
}
