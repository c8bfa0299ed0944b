package store

import (
	"context"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// QueueStats counts the pending deliveries (by the partial index on
// pending ones) and the failing and failing-disabled endpoints.
func (s *Store) QueueStats(ctx context.Context) (domain.QueueStats, error) {
	var q domain.QueueStats
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM postback_deliveries WHERE state = 'pending'),
		(SELECT min(created_at) FROM postback_deliveries WHERE state = 'pending'),
		(SELECT count(*) FROM postback_endpoints WHERE deleted_at IS NULL AND state = 'enabled' AND failing_since IS NOT NULL),
		(SELECT count(*) FROM postback_endpoints WHERE deleted_at IS NULL AND state = 'disabled_failing')`).
		Scan(&q.Pending, &oldest, &q.FailingEndpoints, &q.DisabledFailingEndpoints)
	if err != nil {
		return q, translate(err)
	}
	if oldest != nil {
		q.OldestPending = *oldest
	}
	return q, nil
}
