package store

import (
	"context"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// MarkClick adds flags to a stored click (at is its creation time, which
// picks the partition) and makes it not unique.
func (s *Store) MarkClick(ctx context.Context, id string, at time.Time, flags domain.ClickFlag) error {
	if err := s.awaitClick(ctx, id); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE clicks SET flags = flags | $3, is_unique = false WHERE id = $1
		AND created_at BETWEEN $2::timestamptz - interval '1 second' AND $2::timestamptz + interval '1 second'`,
		id, at, int16(flags))
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return domain.ErrNotFound
	}
	return nil
}
