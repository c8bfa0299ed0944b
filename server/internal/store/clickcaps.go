package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/batonhq/baton/server/internal/domain"
)

// ClickCaps lists the click caps: the rows of kind 'clicks' of the caps
// table (CapService's, helper D2's migration). Until that table exists the
// list is empty.
func (s *Store) ClickCaps(ctx context.Context) ([]domain.ClickCap, error) {
	rows, _ := s.pool.Query(ctx, `SELECT c.id, c.offer_id, c.publisher_id, c.period, c.cap_limit, o.controls
		FROM caps c JOIN offers o ON o.id = c.offer_id WHERE c.kind = 'clicks' ORDER BY c.id`)
	caps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.ClickCap, error) {
		var c domain.ClickCap
		var period string
		var controls []byte
		if err := r.Scan(&c.ID, &c.OfferID, &c.PublisherID, &period, &c.Limit, &controls); err != nil {
			return c, err
		}
		c.Period = domain.CapPeriod(period)
		var ctl domain.OfferControls
		if len(controls) > 0 {
			if err := json.Unmarshal(controls, &ctl); err != nil {
				return c, fmt.Errorf("offer %s controls: %w", c.OfferID, err)
			}
		}
		c.Location = ctl.Location()
		return c, nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable {
		return nil, nil
	}
	return caps, translate(err)
}

// CountClicksForCap counts the stored clicks a cap counts: the offer's (the
// publisher's on it, if the cap has one) since since, not flagged capped.
// It first waits for this process's spooled clicks to be loaded, so the
// count holds every click this node answered before the call.
func (s *Store) CountClicksForCap(ctx context.Context, c domain.ClickCap, since time.Time) (int64, error) {
	if err := s.awaitClicks(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM clicks WHERE offer_id = $1 AND ($2 = '' OR publisher_id = $2)
		AND created_at >= $3 AND flags & $4 = 0`, c.OfferID, c.PublisherID, since, int16(domain.FlagCapped)).Scan(&n)
	return n, translate(err)
}
