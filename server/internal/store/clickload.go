package store

import (
	"context"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// LoadClicks inserts spooled clicks in one multi-row statement, skipping
// those already stored: a spool replayed after kill -9 loads again what the
// killed process may have loaded, and each click is still stored once (the
// key is (id, created_at), and created_at is encoded in the ID).
//
// Whether each click is unique is decided here, by the duplicate-click
// window shared by every node (clickwindow.go), not by the node that
// answered the redirect.
func (s *Store) LoadClicks(ctx context.Context, clicks []*domain.Click) error {
	if err := s.insertClicks(ctx, clicks, ` ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	if err := s.purgeClickWindows(ctx); err != nil {
		s.log.WarnContext(ctx, "ended duplicate-click windows not purged", "error", err)
	}
	return nil
}

// ClickBarrier is what reads of clicks wait on while clicks are answered
// before they reach PostgreSQL (the click spool): Await returns once the
// click id, if it is still spooled, is loaded; AwaitAll once every click
// spooled before the call is loaded.
type ClickBarrier interface {
	Await(ctx context.Context, id string) error
	AwaitAll(ctx context.Context) error
}

// SetClickBarrier makes reads of clicks (GetClick, ListClicks, MarkClick,
// ClicksByIP, ClicksByPublisher, Report) first wait on b, so a conversion
// for a click still in the spool finds it. Call before serving.
func (s *Store) SetClickBarrier(b ClickBarrier) { s.clicksIn = b }

// clickWait bounds how long a read waits for the loader (PostgreSQL down:
// the read fails as unavailable instead of saying "no such click").
const clickWait = 5 * time.Second

func (s *Store) awaitClick(ctx context.Context, id string) error {
	if s.clicksIn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, clickWait)
	defer cancel()
	return s.clicksIn.Await(ctx, id)
}

func (s *Store) awaitClicks(ctx context.Context) error {
	if s.clicksIn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, clickWait)
	defer cancel()
	return s.clicksIn.AwaitAll(ctx)
}
