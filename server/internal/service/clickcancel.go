package service

import (
	"context"

	"github.com/batonhq/baton/server/internal/domain"
)

// MarkCancelled flags a stored click whose client went away before the
// redirect was answered (the person did not land): cancelled, and no
// longer unique.
func (c *Clicks) MarkCancelled(ctx context.Context, click domain.Click) error {
	return c.store.MarkClick(ctx, click.ID, click.CreatedAt, domain.FlagCancelled)
}
