package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

const capColumns = `id, offer_id, publisher_id, kind, period, cap_limit, currency, action, created_at`

func scanCap(row pgx.CollectableRow) (domain.Cap, error) {
	var c domain.Cap
	var kind, period, action string
	err := row.Scan(&c.ID, &c.OfferID, &c.PublisherID, &kind, &period, &c.Limit, &c.Currency, &action, &c.CreatedAt)
	c.Kind, c.Period, c.Action = domain.CapKind(kind), domain.CapPeriod(period), domain.SignalAction(action)
	return c, err
}

// SetCaps replaces an offer's caps with list. A cap that stays (the same
// publisher, kind and period) keeps its ID and its counters, so changing a
// limit does not reset what was used; a cap left out is deleted with its
// counters.
func (s *Store) SetCaps(ctx context.Context, offerID string, list []domain.Cap) ([]domain.Cap, error) {
	var out []domain.Cap
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM offers WHERE id = $1 FOR UPDATE`, offerID); err != nil {
			return err
		}
		keep := make([]string, 0, len(list))
		for _, c := range list {
			rows, _ := tx.Query(ctx, `INSERT INTO caps (id, offer_id, publisher_id, kind, period, cap_limit, currency, action, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (offer_id, publisher_id, kind, period) DO UPDATE SET cap_limit = excluded.cap_limit,
					currency = excluded.currency, action = excluded.action
				RETURNING `+capColumns,
				s.ids.New("cap"), offerID, c.PublisherID, string(c.Kind), string(c.Period), c.Limit, c.Currency, string(c.Action), s.now())
			got, err := pgx.CollectExactlyOneRow(rows, scanCap)
			if err != nil {
				return err
			}
			keep = append(keep, got.ID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM caps WHERE offer_id = $1 AND NOT (id = ANY($2))`, offerID, keep); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+capColumns+` FROM caps WHERE offer_id = $1 ORDER BY publisher_id, kind, period`, offerID)
		var err error
		out, err = pgx.CollectRows(rows, scanCap)
		return err
	})
	return out, translate(err)
}

// ListCaps returns an offer's caps.
func (s *Store) ListCaps(ctx context.Context, offerID string) ([]domain.Cap, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+capColumns+` FROM caps WHERE offer_id = $1 ORDER BY publisher_id, kind, period`, offerID)
	list, err := pgx.CollectRows(rows, scanCap)
	return list, translate(err)
}

// CapUsed returns how much of a cap the period starting at periodStart used.
func (s *Store) CapUsed(ctx context.Context, capID string, periodStart time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT used FROM cap_counters WHERE cap_id = $1 AND period_start = $2), 0)`,
		capID, periodStart).Scan(&n)
	return n, translate(err)
}

// SetOfferControls stores an offer's conversion controls.
func (s *Store) SetOfferControls(ctx context.Context, offerID string, c domain.OfferControls) (domain.Offer, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return domain.Offer{}, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE offers SET controls = $2, updated_at = $3 WHERE id = $1`, offerID, b, s.now())
	if err != nil {
		return domain.Offer{}, translate(err)
	}
	if tag.RowsAffected() == 0 {
		return domain.Offer{}, domain.NotFound("offer", offerID)
	}
	return s.GetOffer(ctx, offerID)
}

// CountConversionsByClick counts the conversions already recorded on a
// click that were not rejected (test ones excluded).
func (s *Store) CountConversionsByClick(ctx context.Context, clickID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM conversions WHERE click_id = $1 AND NOT test AND status <> 'rejected'`, clickID).Scan(&n)
	return n, translate(err)
}

// CountConversionsByIP counts an offer's conversions from a buyer IP
// recorded since a time that were not rejected (test ones excluded).
func (s *Store) CountConversionsByIP(ctx context.Context, offerID, ip string, since time.Time) (int, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return 0, nil //nolint:nilerr // an address that does not parse matches nothing
	}
	var n int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM conversions WHERE offer_id = $1 AND buyer_ip = $2 AND created_at >= $3
		AND NOT test AND status <> 'rejected'`, offerID, addr, since).Scan(&n)
	return n, translate(err)
}

// OfferCaps returns an offer's caps inside the conversion's transaction.
func (t Tx) OfferCaps(ctx context.Context, offerID string) ([]domain.Cap, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+capColumns+` FROM caps WHERE offer_id = $1 ORDER BY id`, offerID)
	list, err := pgx.CollectRows(rows, scanCap)
	return list, translate(err)
}

// UseCap adds n to a cap's counter for the period starting at periodStart
// unless that would pass limit. It returns whether it did and the counter
// after (or, when refused, as it stands). The guarded upsert locks the
// counter row until the transaction ends, and PostgreSQL re-checks the
// guard on the latest row, so racing transactions on any node never pass
// the limit.
func (t Tx) UseCap(ctx context.Context, capID string, periodStart time.Time, n, limit int64) (bool, int64, error) {
	var used int64
	err := t.tx.QueryRow(ctx, `INSERT INTO cap_counters (cap_id, period_start, used) SELECT $1, $2, $3::bigint WHERE $3::bigint <= $4::bigint
		ON CONFLICT (cap_id, period_start) DO UPDATE SET used = cap_counters.used + excluded.used
		WHERE cap_counters.used + excluded.used <= $4::bigint RETURNING used`, capID, periodStart, n, limit).Scan(&used)
	if err == nil {
		return true, used, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, 0, translate(err)
	}
	err = t.tx.QueryRow(ctx, `SELECT coalesce((SELECT used FROM cap_counters WHERE cap_id = $1 AND period_start = $2), 0)`,
		capID, periodStart).Scan(&used)
	return false, used, translate(err)
}

// ReleaseCap takes n back from a cap's counter (a cap used by a conversion
// that another cap then stopped, in the same transaction).
func (t Tx) ReleaseCap(ctx context.Context, capID string, periodStart time.Time, n int64) error {
	_, err := t.tx.Exec(ctx, `UPDATE cap_counters SET used = used - $3 WHERE cap_id = $1 AND period_start = $2`, capID, periodStart, n)
	return translate(err)
}

// SetHold writes a conversion's hold: until (nil: none) and reason (empty:
// not held for a person).
func (t Tx) SetHold(ctx context.Context, id string, until *time.Time, reason string) error {
	_, err := t.tx.Exec(ctx, `UPDATE conversions SET hold_until = $2, hold_reason = $3 WHERE id = $1`, id, until, reason)
	return translate(err)
}

// AddSignals adds signals to a conversion's (keeping those it has).
func (t Tx) AddSignals(ctx context.Context, id string, signals []domain.Signal) error {
	_, err := t.tx.Exec(ctx, `UPDATE conversions SET signals = ARRAY(SELECT DISTINCT unnest(signals || $2::text[]) ORDER BY 1) WHERE id = $1`,
		id, signalStrings(signals))
	return translate(err)
}

func signalStrings(list []domain.Signal) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return out
}

// SignalReport counts non-test conversions per day of sale (in the
// filter's time zone), offer, publisher and signal.
func (s *Store) SignalReport(ctx context.Context, f domain.ReportFilter) ([]domain.SignalCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT to_char(sale_at AT TIME ZONE $1, 'YYYY-MM-DD'), offer_id, coalesce(publisher_id, ''), sig, count(*)
		FROM conversions, unnest(signals) AS sig WHERE sale_at >= $2 AND sale_at < $3 AND NOT test
		AND ($4 = '' OR offer_id = $4) AND ($5 = '' OR publisher_id = $5) AND ($6 = '' OR advertiser_id = $6)
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, f.TimeZone, f.From, f.To, f.OfferID, f.PublisherID, f.AdvertiserID)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.SignalCount, error) {
		var c domain.SignalCount
		var sig string
		err := row.Scan(&c.Day, &c.OfferID, &c.PublisherID, &sig, &c.Conversions)
		c.Signal = domain.Signal(sig)
		return c, err
	})
	return list, translate(err)
}
