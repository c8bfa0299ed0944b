package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// BlocklistStore is what blocklists need from storage.
type BlocklistStore interface {
	AddBlocklistEntry(ctx context.Context, e domain.BlocklistEntry) (domain.BlocklistEntry, error)
	RemoveBlocklistEntry(ctx context.Context, id string) error
	ListBlocklistEntries(ctx context.Context, kind domain.BlocklistKind, offerID, publisherID string) ([]domain.BlocklistEntry, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
}

// blocklistTTL is how long a node uses the list it read before reading it
// again, when no configuration-change notice dropped it sooner.
const blocklistTTL = 5 * time.Second

// Blocklists keeps the network's IP, user-agent and sub-ID blocklists, and
// the compiled list each click and conversion is checked against, cached
// per node: clicks never wait for PostgreSQL to be checked.
type Blocklists struct {
	store   BlocklistStore
	now     func() time.Time
	changed func() // runs the configuration-change hooks (and drops the cache)

	mu      sync.Mutex
	list    *domain.Blocklist
	expires time.Time
	loading bool
	gen     uint64 // changes seen; a reload that began before one is stale
}

// NewBlocklists returns the blocklist use cases. changed, if not nil, is run
// after every change (the configuration-change hook, which reaches the other
// nodes); the node's own cache is dropped either way.
func NewBlocklists(st BlocklistStore, now func() time.Time, changed func()) *Blocklists {
	if now == nil {
		now = time.Now
	}
	return &Blocklists{store: st, now: now, changed: changed}
}

// ConfigChanged drops the cached list and reads it again in the
// background (clicks meanwhile use the previous one).
func (b *Blocklists) ConfigChanged() {
	b.mu.Lock()
	b.expires = time.Time{}
	b.gen++
	start := !b.loading
	b.loading = true
	b.mu.Unlock()
	if start {
		go b.reload(context.Background())
	}
}

// afterChange reads the list again before the change's RPC answers, so the
// next click on this node sees it, and tells the other nodes.
func (b *Blocklists) afterChange(ctx context.Context) {
	b.mu.Lock()
	b.gen++
	b.mu.Unlock()
	b.reload(ctx)
	if b.changed != nil {
		b.changed()
	}
}

// Add checks and stores one entry (admin only).
func (b *Blocklists) Add(ctx context.Context, p domain.Principal, e domain.BlocklistEntry) (domain.BlocklistEntry, error) {
	if err := adminOnly(p, "change blocklists"); err != nil {
		return e, err
	}
	if err := domain.CheckBlocklistEntry(&e); err != nil {
		return e, err
	}
	if e.OfferID != "" {
		if _, err := b.store.GetOffer(ctx, e.OfferID); errors.Is(err, domain.ErrNotFound) {
			return e, domain.Invalid("offer_id", "no offer with ID %q", e.OfferID)
		} else if err != nil {
			return e, err
		}
	}
	if e.PublisherID != "" {
		if _, err := b.store.GetPublisher(ctx, e.PublisherID); errors.Is(err, domain.ErrNotFound) {
			return e, domain.Invalid("publisher_id", "no publisher with ID %q", e.PublisherID)
		} else if err != nil {
			return e, err
		}
	}
	if all, err := b.store.ListBlocklistEntries(ctx, "", "", ""); err != nil {
		return e, err
	} else if len(all) >= domain.MaxBlocklistEntries {
		return e, domain.Failed("the blocklists hold %d entries, the most a node keeps in memory: remove some first", len(all))
	}
	out, err := b.store.AddBlocklistEntry(ctx, e)
	if err == nil {
		b.afterChange(ctx)
	}
	return out, err
}

// Remove deletes one entry (admin only).
func (b *Blocklists) Remove(ctx context.Context, p domain.Principal, id string) error {
	if err := adminOnly(p, "change blocklists"); err != nil {
		return err
	}
	err := b.store.RemoveBlocklistEntry(ctx, id)
	if err == nil {
		b.afterChange(ctx)
	}
	return err
}

// List lists entries (admin only), newest first.
func (b *Blocklists) List(ctx context.Context, p domain.Principal, kind domain.BlocklistKind, offerID, publisherID string) ([]domain.BlocklistEntry, error) {
	if err := adminOnly(p, "read blocklists"); err != nil {
		return nil, err
	}
	return b.store.ListBlocklistEntries(ctx, kind, offerID, publisherID)
}

// current is the compiled list. A click never waits on PostgreSQL for it:
// an expired list is reloaded in the background while the previous one is
// used, and when PostgreSQL cannot be read the last list read stays in use
// (a click is never refused over a blocklist). Only a node that has never
// read the list reads it inline, bounded by blocklistFirstRead.
func (b *Blocklists) current(ctx context.Context) *domain.Blocklist {
	now := b.now()
	b.mu.Lock()
	l, fresh, loading := b.list, now.Before(b.expires), b.loading
	if !fresh && !loading {
		b.loading = true
	}
	b.mu.Unlock()
	switch {
	case fresh || loading && l != nil:
		return l
	case l != nil:
		go b.reload(context.WithoutCancel(ctx)) //nolint:contextcheck // outlives the click on purpose
		return l
	}
	if loading {
		return nil // another caller's first read: block nothing meanwhile
	}
	return b.reload(ctx)
}

// blocklistFirstRead bounds a read of the list.
const blocklistFirstRead = 2 * time.Second

// reload reads and compiles the list.
func (b *Blocklists) reload(ctx context.Context) *domain.Blocklist {
	ctx, cancel := context.WithTimeout(ctx, blocklistFirstRead)
	defer cancel()
	b.mu.Lock()
	gen := b.gen
	b.mu.Unlock()
	entries, err := b.store.ListBlocklistEntries(ctx, "", "", "")
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loading = false
	if err != nil {
		b.expires = b.now().Add(time.Second) // try again soon
		return b.list
	}
	b.list = domain.CompileBlocklist(entries)
	b.expires = b.now().Add(blocklistTTL)
	if b.gen != gen {
		b.expires = time.Time{} // changed while reading: read again next time
	}
	return b.list
}

// CheckClick returns the blocklist flags of a click (0: none).
func (b *Blocklists) CheckClick(ctx context.Context, offerID, publisherID, ip, ua string, subIDs []string) domain.ClickFlag {
	if b == nil {
		return 0
	}
	return b.current(ctx).Check(offerID, publisherID, ip, ua, subIDs)
}

// ConversionSignals are the blocklist signals of a conversion, by its
// buyer IP and user agent and the sub-IDs of its attributed click, for its
// offer and publisher. The conversion intake adds them to Signals.
func (b *Blocklists) ConversionSignals(ctx context.Context, conv domain.Conversion) []domain.Signal {
	if b == nil {
		return nil
	}
	l := b.current(ctx)
	if l.Empty() {
		return nil
	}
	flags := l.Check(conv.OfferID, conv.PublisherID, conv.BuyerIP, conv.BuyerUserAgent, nil)
	flags |= l.Check(conv.OfferID, conv.PublisherID, "", "", conv.SubIDs) & domain.FlagBlockedSubID
	return domain.BlockSignals(flags)
}
