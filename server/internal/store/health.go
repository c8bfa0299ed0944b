package store

import (
	"context"
	"time"
)

// OldestDueDelivery returns when the longest-waiting delivery that is due
// (pending, its next attempt at or before now) fell due; ok is false when
// none is. A due delivery is one a worker should take within moments: one
// that waits long means the queue is stuck. It reads the partial index on
// pending deliveries.
func (s *Store) OldestDueDelivery(ctx context.Context) (due time.Time, ok bool, err error) {
	var at *time.Time
	err = s.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM postback_deliveries
		WHERE state = 'pending' AND next_attempt_at <= $1`, s.now()).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, false, translate(err)
	}
	return *at, true, nil
}
