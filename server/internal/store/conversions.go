package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

const conversionColumns = `id, advertiser_id, offer_id, coalesce(publisher_id, ''), coalesce(site_id, ''), coalesce(click_id, ''),
	click_created_at, order_id, order_id_2, coalesce(dedupe_key, ''), coalesce(idempotency_key, ''), currency, amount_minor,
	commission_currency, commission_minor, items, recurring, buyer_user_name, buyer_email, buyer_email_hash, buyer_ip,
	buyer_user_agent, status, test, source, attribution, upstream_id, sub_ids, downstream_id, sale_at, created_at, updated_at,
	signals, hold_until, hold_reason`

func scanConversion(row pgx.CollectableRow) (domain.Conversion, error) {
	var c domain.Conversion
	var items, attribution []byte
	var ip *netip.Addr
	var status string
	var signals []string
	err := row.Scan(&c.ID, &c.AdvertiserID, &c.OfferID, &c.PublisherID, &c.SiteID, &c.ClickID, &c.ClickCreatedAt,
		&c.OrderID, &c.OrderID2, &c.DedupeKey, &c.IdempotencyKey, &c.Amount.Currency, &c.Amount.Minor,
		&c.Commission.Currency, &c.Commission.Minor, &items, &c.Recurring, &c.BuyerUserName, &c.BuyerEmail,
		&c.BuyerEmailHash, &ip, &c.BuyerUserAgent, &status, &c.Test, &c.Source, &attribution, &c.UpstreamID,
		&c.SubIDs, &c.DownstreamID, &c.SaleAt, &c.CreatedAt, &c.UpdatedAt, &signals, &c.HoldUntil, &c.HoldReason)
	if err != nil {
		return c, err
	}
	for _, s := range signals {
		c.Signals = append(c.Signals, domain.Signal(s))
	}
	c.Status = domain.ConversionStatus(status)
	if ip != nil {
		c.BuyerIP = ip.String()
	}
	if err := json.Unmarshal(items, &c.Items); err != nil {
		return c, fmt.Errorf("conversion %s items: %w", c.ID, err)
	}
	if err := json.Unmarshal(attribution, &c.Attribution); err != nil {
		return c, fmt.Errorf("conversion %s attribution: %w", c.ID, err)
	}
	return c, nil
}

// Tx is a unit of work inside one database transaction. The conversion and
// everything it causes (history, postbacks owed) are written through one Tx,
// so they commit or roll back together.
type Tx struct {
	tx    pgx.Tx
	store *Store
}

// InTx runs f in a transaction, committing when it returns nil.
func (s *Store) InTx(ctx context.Context, f func(Tx) error) error {
	return translate(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(Tx{tx: tx, store: s}) }))
}

// InsertConversion inserts c unless a conversion with the same dedupe key
// or idempotency key exists for the advertiser; then it returns that one
// with inserted false. Racing inserts are settled by the unique indexes.
//
// The first history entry (recorded, by actor) is written by the same
// statement.
func (t Tx) InsertConversion(ctx context.Context, c domain.Conversion, actor string) (out domain.Conversion, inserted bool, err error) {
	items, err := json.Marshal(c.Items)
	if err != nil {
		return c, false, err
	}
	if c.Items == nil {
		items = []byte("[]")
	}
	attribution, err := json.Marshal(c.Attribution)
	if err != nil {
		return c, false, err
	}
	var ip any
	if a, err := netip.ParseAddr(c.BuyerIP); err == nil {
		ip = a
	}
	var ruleID, ruleVersion any // the conversion rule that decided it, if one did
	if r := c.Attribution.Rule; r != nil {
		ruleID, ruleVersion = r.RuleID, r.Version
	}
	// The keys go first, into conversion_keys (migration 0031): only when
	// every key of c is new is the conversion inserted, by the same
	// statement. A racing report of the same key waits on the key's index
	// entry, then finds it taken.
	nkeys := 0
	if c.DedupeKey != "" {
		nkeys++
	}
	if c.IdempotencyKey != "" {
		nkeys++
	}
	rows, _ := t.tx.Query(ctx, `WITH k AS (INSERT INTO conversion_keys (advertiser_id, kind, key, conversion_id)
			SELECT $2, kind, key, $1 FROM (VALUES ('dedupe', $10::text), ('idempotency', $11::text)) v(kind, key) WHERE key IS NOT NULL
			ON CONFLICT DO NOTHING RETURNING 1),
		ins AS (INSERT INTO conversions (id, advertiser_id, offer_id, publisher_id, site_id, click_id,
		click_created_at, order_id, order_id_2, dedupe_key, idempotency_key, currency, amount_minor, commission_currency,
		commission_minor, items, recurring, buyer_user_name, buyer_email, buyer_email_hash, buyer_ip, buyer_user_agent,
		status, test, source, attribution_path, attribution, upstream_id, sub_ids, downstream_id, sale_at, created_at, updated_at,
		signals, hold_until, hold_reason, rule_id, rule_version)
		SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32,$32,$35,$36,$37,$38,$39
		WHERE (SELECT count(*) FROM k) = $34
		RETURNING *),
		history AS (INSERT INTO conversion_status_changes (conversion_id, seq, from_status, to_status, reason, note, actor, at)
			SELECT id, 1, '', status, 'recorded', '', $33, created_at FROM ins)
		SELECT `+conversionColumns+` FROM ins`,
		c.ID, c.AdvertiserID, c.OfferID, nullable(c.PublisherID), nullable(c.SiteID), nullable(c.ClickID), c.ClickCreatedAt,
		c.OrderID, c.OrderID2, nullable(c.DedupeKey), nullable(c.IdempotencyKey), c.Amount.Currency, c.Amount.Minor,
		c.Commission.Currency, c.Commission.Minor, items, c.Recurring, c.BuyerUserName, c.BuyerEmail, c.BuyerEmailHash, ip,
		c.BuyerUserAgent, string(c.Status), c.Test, int16(c.Source), c.Attribution.Path, attribution, c.UpstreamID,
		nonNil(c.SubIDs), c.DownstreamID, c.SaleAt, c.CreatedAt, actor, nkeys, signalStrings(c.Signals), c.HoldUntil, c.HoldReason, ruleID, ruleVersion)
	out, err = pgx.CollectExactlyOneRow(rows, scanConversion)
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return c, false, translate(err)
	}
	// A conflict: undo the keys this statement took (when only one of two
	// was taken) and return the conversion that holds them.
	if _, err := t.tx.Exec(ctx, `DELETE FROM conversion_keys WHERE advertiser_id = $1 AND conversion_id = $2`, c.AdvertiserID, c.ID); err != nil {
		return c, false, translate(err)
	}
	rows, _ = t.tx.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE id = (SELECT conversion_id FROM conversion_keys
		WHERE advertiser_id = $1 AND ((kind = 'dedupe' AND key = $2) OR (kind = 'idempotency' AND key = $3))
		ORDER BY conversion_id LIMIT 1)`, c.AdvertiserID, nullable(c.DedupeKey), nullable(c.IdempotencyKey))
	out, err = pgx.CollectExactlyOneRow(rows, scanConversion)
	if err != nil {
		return c, false, fmt.Errorf("conversion conflicted but the existing one cannot be read: %w", translate(err))
	}
	return out, false, nil
}

// AddStatusChange appends to a conversion's history.
func (t Tx) AddStatusChange(ctx context.Context, id string, ch domain.StatusChange) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO conversion_status_changes (conversion_id, seq, from_status, to_status, reason, note, actor, at)
		VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM conversion_status_changes WHERE conversion_id = $1), $2, $3, $4, $5, $6, $7)`,
		id, string(ch.From), string(ch.To), ch.Reason, ch.Note, ch.Actor, ch.At)
	return translate(err)
}

// UseSignature records a signature as used until expires. It returns false
// when it was used before (a replay).
func (t Tx) UseSignature(ctx context.Context, advertiserID, sig string, now, expires time.Time) (bool, error) {
	if _, err := t.tx.Exec(ctx, `DELETE FROM used_signatures WHERE advertiser_id = $1 AND expires_at < $2`, advertiserID, now); err != nil {
		return false, translate(err)
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO used_signatures (advertiser_id, signature, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, advertiserID, sig, expires)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// CompleteAttribution attributes a conversion that was recorded without a
// click, from a later report of the same sale that carried one (see
// service.CompletionWindow). It changes nothing and returns false when the
// conversion has a publisher by now.
func (t Tx) CompleteAttribution(ctx context.Context, id string, c domain.Conversion) (domain.Conversion, bool, error) {
	attribution, err := json.Marshal(c.Attribution)
	if err != nil {
		return c, false, err
	}
	rows, _ := t.tx.Query(ctx, `UPDATE conversions SET publisher_id = $2, site_id = $3, click_id = $4, click_created_at = $5,
		commission_currency = $6, commission_minor = $7, attribution_path = $8, attribution = $9, upstream_id = $10, sub_ids = $11,
		updated_at = $12 WHERE id = $1 AND publisher_id IS NULL AND click_id IS NULL RETURNING `+conversionColumns,
		id, nullable(c.PublisherID), nullable(c.SiteID), nullable(c.ClickID), c.ClickCreatedAt, c.Commission.Currency, c.Commission.Minor,
		c.Attribution.Path, attribution, c.UpstreamID, nonNil(c.SubIDs), c.UpdatedAt)
	out, err := pgx.CollectExactlyOneRow(rows, scanConversion)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, translate(err)
	}
	return out, true, nil
}

// LockConversion reads a conversion FOR UPDATE inside the transaction.
func (t Tx) LockConversion(ctx context.Context, id string) (domain.Conversion, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE id = $1 FOR UPDATE`, id)
	c, err := pgx.CollectExactlyOneRow(rows, scanConversion)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.NotFound("conversion", id)
	}
	return c, translate(err)
}

// SetStatus writes a new status.
func (t Tx) SetStatus(ctx context.Context, id string, status domain.ConversionStatus, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE conversions SET status = $2, updated_at = $3 WHERE id = $1`, id, string(status), at)
	return translate(err)
}

// ConversionIDsByOrder returns the IDs of an offer's conversions of one
// order (several when the offer does not deduplicate).
func (t Tx) ConversionIDsByOrder(ctx context.Context, advertiserID, offerID, orderID string) ([]string, error) {
	rows, _ := t.tx.Query(ctx, `SELECT id FROM conversions WHERE advertiser_id = $1 AND offer_id = $2 AND order_id = $3 AND NOT test ORDER BY id`,
		advertiserID, offerID, orderID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, translate(err)
}

func (s *Store) history(ctx context.Context, q querier, list []domain.Conversion) error {
	if len(list) == 0 {
		return nil
	}
	idx := map[string]int{}
	keys := make([]string, len(list))
	for i, c := range list {
		idx[c.ID] = i
		keys[i] = c.ID
	}
	rows, err := q.Query(ctx, `SELECT conversion_id, from_status, to_status, reason, note, actor, at
		FROM conversion_status_changes WHERE conversion_id = ANY($1) ORDER BY conversion_id, seq`, keys)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, from, to string
		var ch domain.StatusChange
		if err := rows.Scan(&id, &from, &to, &ch.Reason, &ch.Note, &ch.Actor, &ch.At); err != nil {
			return translate(err)
		}
		ch.From, ch.To = domain.ConversionStatus(from), domain.ConversionStatus(to)
		c := &list[idx[id]]
		c.History = append(c.History, ch)
	}
	return translate(rows.Err())
}

// GetConversion returns one conversion with its history.
func (s *Store) GetConversion(ctx context.Context, id string) (domain.Conversion, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE id = $1`, id)
	c, err := pgx.CollectExactlyOneRow(rows, scanConversion)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.NotFound("conversion", id)
	}
	if err != nil {
		return c, translate(err)
	}
	list := []domain.Conversion{c}
	err = s.history(ctx, s.pool, list)
	return list[0], err
}

// ListConversions pages through conversions in ID (time) order.
func (s *Store) ListConversions(ctx context.Context, f domain.ConversionFilter, page domain.Page) ([]domain.Conversion, string, error) {
	size := pageSize(page)
	from, to := optTime(f.From), optTime(f.To)
	// Listings may be a little stale: they read the replica when one serves.
	var list []domain.Conversion
	var next string
	err := s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
		AND ($3 = '' OR offer_id = $3) AND ($4 = '' OR publisher_id = $4) AND ($5 = '' OR advertiser_id = $5)
		AND ($6 = '' OR status = $6) AND ($7 = '' OR order_id = $7) AND ($8 = '' OR click_id = $8)
		AND ($9 OR NOT test) AND id > $10 ORDER BY id LIMIT $11`,
			from, to, f.OfferID, f.PublisherID, f.AdvertiserID, string(f.Status), f.OrderID, f.ClickID, f.IncludeTest, page.After, size+1)
		if err != nil {
			return translate(err)
		}
		list, err = pgx.CollectRows(rows, scanConversion)
		if err != nil {
			return translate(err)
		}
		list, next = nextAfter(list, size, func(c domain.Conversion) string { return c.ID })
		return s.history(ctx, q, list)
	})
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// ClicksByIP returns the clicks on an offer from ip in [from, to], oldest first.
func (s *Store) ClicksByIP(ctx context.Context, offerID, ip string, from, to time.Time) ([]domain.Click, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, nil //nolint:nilerr // no click comes from an address that does not parse
	}
	if err := s.awaitClicks(ctx); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+clickColumns+` FROM clicks WHERE offer_id = $1 AND ip = $2
		AND created_at >= $3 AND created_at <= $4 ORDER BY created_at LIMIT 100`, offerID, addr, from, to)
	list, err := pgx.CollectRows(rows, scanClick)
	return list, translate(err)
}

// PreviousSale returns the latest attributed, non-test conversion of an
// advertiser under a buyer user name since a time (the FC2 recurring rule).
// Attributed means credited to a publisher: a sale imported from the
// previous system (or a recurring charge credited through one) has a
// publisher but no Baton click.
func (s *Store) PreviousSale(ctx context.Context, advertiserID, userName string, since time.Time) (domain.Conversion, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE advertiser_id = $1
		AND buyer_user_name = $2 AND sale_at >= $3 AND publisher_id IS NOT NULL AND NOT test
		AND status <> 'rejected' ORDER BY sale_at DESC LIMIT 1`, advertiserID, userName, since)
	c, err := pgx.CollectExactlyOneRow(rows, scanConversion)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.NotFound("previous sale of", userName)
	}
	return c, translate(err)
}

// DueForAutoApproval returns the IDs of pending, non-test conversions whose
// time has come: a held one's hold has ended, or (not held) its offer
// approves automatically and its days have passed.
func (s *Store) DueForAutoApproval(ctx context.Context, now time.Time, limit int) ([]string, error) {
	// A conversion recorded with a hold (a rule's, or the offer's hold
	// period) carries its hold_until; one without falls back to the offer's
	// auto_approve_after_days. A conversion held for a person (hold_reason)
	// is never approved automatically.
	rows, _ := s.pool.Query(ctx, `SELECT id FROM (
		SELECT c.id FROM conversions c WHERE c.status = 'pending' AND NOT c.test AND c.hold_reason = ''
		AND c.hold_until IS NOT NULL AND c.hold_until <= $1
		UNION
		SELECT c.id FROM conversions c JOIN offers o ON o.id = c.offer_id
		WHERE c.status = 'pending' AND NOT c.test AND c.hold_reason = '' AND c.hold_until IS NULL AND o.auto_approve_after_days > 0
		AND c.created_at <= $1::timestamptz - make_interval(days => o.auto_approve_after_days)) due
		ORDER BY id LIMIT $2`, now, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, translate(err)
}

// ClicksByPublisher returns a publisher's (and, when siteID is set, a
// site's) clicks on an advertiser's offers in [from, to], oldest first: the
// candidates when a shop names the affiliate (FC2 ref_userid/ref_siteid).
func (s *Store) ClicksByPublisher(ctx context.Context, advertiserID, publisherID, siteID string, from, to time.Time) ([]domain.Click, error) {
	if err := s.awaitClicks(ctx); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+clickColumns+` FROM clicks WHERE publisher_id = $1 AND advertiser_id = $2
		AND ($3 = '' OR site_id = $3) AND created_at >= $4 AND created_at <= $5 ORDER BY created_at DESC LIMIT 100`,
		publisherID, advertiserID, siteID, from, to)
	list, err := pgx.CollectRows(rows, scanClick)
	return list, translate(err)
}
