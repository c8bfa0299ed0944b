package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/batonhq/baton/server/internal/domain"
)

// reasonCounts are the report's click counts per reason, one column per
// domain.ClickReasons entry, in its order.
var reasonCounts = func() string {
	var b strings.Builder
	for _, r := range domain.ClickReasons {
		fmt.Fprintf(&b, ", count(*) FILTER (WHERE flags & %d <> 0)", int16(r.Flag))
	}
	return b.String()
}()

// Report aggregates clicks and attributed, non-test conversions per day (in
// the filter's time zone), offer and publisher, sorted by day, offer and
// publisher.
func (s *Store) Report(ctx context.Context, f domain.ReportFilter) ([]domain.ReportRow, error) {
	rows := map[[3]string]*domain.ReportRow{}
	get := func(day, offer, pub string) *domain.ReportRow {
		k := [3]string{day, offer, pub}
		r := rows[k]
		if r == nil {
			r = &domain.ReportRow{Day: day, OfferID: offer, PublisherID: pub, ByStatus: map[domain.ConversionStatus]int64{}, ByPath: map[string]int64{},
				Sales: map[string]int64{}, CommissionsPending: map[string]int64{}, CommissionsApproved: map[string]int64{}}
			rows[k] = r
		}
		return r
	}
	if err := s.awaitClicks(ctx); err != nil {
		return nil, err
	}
	// Reports may be a little stale: they read the replica when one serves.
	err := s.read(ctx, func(q querier) error {
		clear(rows)
		return s.report(ctx, q, f, get)
	})
	if err != nil {
		return nil, err
	}
	return sortedRows(rows), nil
}

func (s *Store) report(ctx context.Context, q querier, f domain.ReportFilter, get func(day, offer, pub string) *domain.ReportRow) error {
	cr, err := q.Query(ctx, `SELECT to_char(created_at AT TIME ZONE $1, 'YYYY-MM-DD'), offer_id, publisher_id,
		count(*), count(*) FILTER (WHERE is_unique)`+reasonCounts+`
		FROM clicks WHERE created_at >= $2 AND created_at < $3
		AND ($4 = '' OR offer_id = $4) AND ($5 = '' OR publisher_id = $5) AND ($6 = '' OR advertiser_id = $6)
		GROUP BY 1, 2, 3`, f.TimeZone, f.From, f.To, f.OfferID, f.PublisherID, f.AdvertiserID)
	if err != nil {
		return translate(err)
	}
	for cr.Next() {
		var day, offer, pub string
		var n, u int64
		byReason := make([]int64, len(domain.ClickReasons))
		dest := []any{&day, &offer, &pub, &n, &u}
		for i := range byReason {
			dest = append(dest, &byReason[i])
		}
		if err := cr.Scan(dest...); err != nil {
			cr.Close()
			return translate(err)
		}
		r := get(day, offer, pub)
		r.Clicks, r.UniqueClicks = n, u
		for i, k := range byReason {
			if k > 0 {
				if r.ClicksByReason == nil {
					r.ClicksByReason = map[string]int64{}
				}
				r.ClicksByReason[domain.ClickReasons[i].Name] = k
			}
		}
	}
	cr.Close()
	if err := cr.Err(); err != nil {
		return translate(err)
	}
	vr, err := q.Query(ctx, `SELECT to_char(sale_at AT TIME ZONE $1, 'YYYY-MM-DD'), offer_id, publisher_id, status,
		currency, commission_currency, attribution_path, count(*), sum(amount_minor), sum(commission_minor)
		FROM conversions WHERE sale_at >= $2 AND sale_at < $3 AND NOT test AND publisher_id IS NOT NULL
		AND ($4 = '' OR offer_id = $4) AND ($5 = '' OR publisher_id = $5) AND ($6 = '' OR advertiser_id = $6)
		GROUP BY 1, 2, 3, 4, 5, 6, 7`, f.TimeZone, f.From, f.To, f.OfferID, f.PublisherID, f.AdvertiserID)
	if err != nil {
		return translate(err)
	}
	err = func() error {
		defer vr.Close()
		for vr.Next() {
			var day, offer, pub, status, cur, ccur, path string
			var n, amount, commission int64
			if err := vr.Scan(&day, &offer, &pub, &status, &cur, &ccur, &path, &n, &amount, &commission); err != nil {
				return err
			}
			r := get(day, offer, pub)
			st := domain.ConversionStatus(status)
			r.Conversions += n
			r.ByStatus[st] += n
			r.ByPath[path] += n
			switch st {
			case domain.StatusPending:
				r.Sales[cur] += amount
				r.CommissionsPending[ccur] += commission
			case domain.StatusApproved:
				r.Sales[cur] += amount
				r.CommissionsApproved[ccur] += commission
			}
		}
		return vr.Err()
	}()
	return translate(err)
}

// sortedRows sorts report rows by day, offer and publisher.
func sortedRows(rows map[[3]string]*domain.ReportRow) []domain.ReportRow {
	out := make([]domain.ReportRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.OfferID != b.OfferID {
			return a.OfferID < b.OfferID
		}
		return a.PublisherID < b.PublisherID
	})
	return out
}
