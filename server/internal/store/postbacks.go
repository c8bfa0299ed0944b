package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
)

const endpointColumns = `id, publisher_id, coalesce(offer_id, ''), events, method, url_template, body_template, headers,
	signature_param, test, state, state_reason, failing_since, secret_hint, created_at, updated_at, secret_names`

func scanEndpoint(row pgx.CollectableRow) (domain.PostbackEndpoint, error) {
	var e domain.PostbackEndpoint
	var events []string
	var method, state string
	var headers, secretNames []byte
	err := row.Scan(&e.ID, &e.PublisherID, &e.OfferID, &events, &method, &e.URLTemplate, &e.BodyTemplate, &headers,
		&e.SignatureParam, &e.Test, &state, &e.StateReason, &e.FailingSince, &e.SecretHint, &e.CreatedAt, &e.UpdatedAt, &secretNames)
	if err != nil {
		return e, err
	}
	return e, finishEndpoint(&e, events, method, state, headers, secretNames)
}

func finishEndpoint(e *domain.PostbackEndpoint, events []string, method, state string, headers, secretNames []byte) error {
	e.Method, e.State = domain.PostbackMethod(method), domain.EndpointState(state)
	for _, ev := range events {
		e.Events = append(e.Events, domain.ConversionStatus(ev))
	}
	if err := json.Unmarshal(secretNames, &e.Secrets); err != nil {
		return err
	}
	if len(e.Secrets) == 0 {
		e.Secrets = nil
	}
	return json.Unmarshal(headers, &e.Headers)
}

func eventStrings(list []domain.ConversionStatus) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = string(e)
	}
	return out
}

func headersJSON(h []domain.Header) []byte {
	if len(h) == 0 {
		return []byte("[]")
	}
	b, _ := json.Marshal(h) //nolint:errcheck // headers are strings, which always marshal
	return b
}

// CreateEndpoint stores an endpoint with its signing secret and its sealed
// secrets (e.Secrets, with values) sealed.
func (s *Store) CreateEndpoint(ctx context.Context, e domain.PostbackEndpoint, secret string) (domain.PostbackEndpoint, error) {
	if e.ID == "" {
		e.ID = s.ids.New("pbe")
	}
	sealed, err := s.sealSecrets(e.Secrets)
	if err != nil {
		return e, err
	}
	now := s.now()
	rows, _ := s.pool.Query(ctx, `INSERT INTO postback_endpoints (id, publisher_id, offer_id, events, method, url_template,
		body_template, headers, signature_param, test, state, secret_sealed, secret_hint, created_at, updated_at,
		secret_names, secrets_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'enabled', $11, $12, $13, $13, $14, $15) RETURNING `+endpointColumns,
		e.ID, e.PublisherID, nullable(e.OfferID), eventStrings(e.Events), string(e.Method), e.URLTemplate, e.BodyTemplate,
		headersJSON(e.Headers), e.SignatureParam, e.Test, s.box.Seal(secret), secretbox.Hint(secret), now,
		secretNamesJSON(e.Secrets), sealed)
	out, err := pgx.CollectExactlyOneRow(rows, scanEndpoint)
	return out, translate(err)
}

// GetEndpoint returns one endpoint that was not deleted.
func (s *Store) GetEndpoint(ctx context.Context, id string) (domain.PostbackEndpoint, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM postback_endpoints WHERE id = $1 AND deleted_at IS NULL`, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanEndpoint)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, domain.NotFound("postback endpoint", id)
	}
	return e, translate(err)
}

// ListEndpoints pages through endpoints.
func (s *Store) ListEndpoints(ctx context.Context, publisherID, offerID string, state domain.EndpointState, page domain.Page) ([]domain.PostbackEndpoint, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM postback_endpoints WHERE deleted_at IS NULL
		AND ($1 = '' OR publisher_id = $1) AND ($2 = '' OR offer_id = $2) AND ($3 = '' OR state = $3) AND id > $4
		ORDER BY id LIMIT $5`, publisherID, offerID, string(state), page.After, size+1)
	list, err := pgx.CollectRows(rows, scanEndpoint)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(e domain.PostbackEndpoint) string { return e.ID })
	return list, next, nil
}

// UpdateEndpoint writes the changeable fields of e. Enabling an endpoint
// clears its failure record. e.Secrets is the new list of sealed secrets:
// an entry without a value keeps the stored one (see mergeSecrets).
func (s *Store) UpdateEndpoint(ctx context.Context, e domain.PostbackEndpoint) (domain.PostbackEndpoint, error) {
	var out domain.PostbackEndpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err := s.storedSecrets(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		list, err := mergeSecrets(e.ID, e.Secrets, stored)
		if err != nil {
			return err
		}
		sealed, err := s.sealSecrets(list)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `UPDATE postback_endpoints SET offer_id = $2, events = $3, method = $4, url_template = $5,
		body_template = $6, headers = $7, signature_param = $8, test = $9, state = $10, state_reason = $11,
		failing_since = CASE WHEN $10 = 'enabled' THEN NULL ELSE failing_since END, updated_at = $12,
		secret_names = $13, secrets_sealed = $14
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+endpointColumns,
			e.ID, nullable(e.OfferID), eventStrings(e.Events), string(e.Method), e.URLTemplate, e.BodyTemplate, headersJSON(e.Headers),
			e.SignatureParam, e.Test, string(e.State), e.StateReason, s.now(), secretNamesJSON(list), sealed)
		out, err = pgx.CollectExactlyOneRow(rows, scanEndpoint)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("postback endpoint", e.ID)
		}
		return err
	})
	return out, translate(err)
}

// DeleteEndpoint marks an endpoint deleted; its pending deliveries are
// cancelled when their turn comes.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE postback_endpoints SET deleted_at = $2, state = 'disabled', state_reason = 'deleted', updated_at = $2
		WHERE id = $1 AND deleted_at IS NULL`, id, s.now())
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return domain.NotFound("postback endpoint", id)
	}
	return nil
}

// RotateEndpointSecret replaces the signing secret, keeping the previous one
// in use (deliveries are signed with both) until now+overlap.
func (s *Store) RotateEndpointSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.PostbackEndpoint, time.Time, error) {
	now := s.now()
	expires := now.Add(overlap)
	rows, _ := s.pool.Query(ctx, `UPDATE postback_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = $4,
		secret_sealed = $2, secret_hint = $3, updated_at = $5 WHERE id = $1 AND deleted_at IS NULL RETURNING `+endpointColumns,
		id, s.box.Seal(secret), secretbox.Hint(secret), expires, now)
	out, err := pgx.CollectExactlyOneRow(rows, scanEndpoint)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, time.Time{}, domain.NotFound("postback endpoint", id)
	}
	return out, expires, translate(err)
}

// EndpointSecrets returns the current secret and, during an overlap, the
// previous one.
func (s *Store) EndpointSecrets(ctx context.Context, id string) ([]string, error) {
	return s.secrets(ctx, "postback_endpoints", id)
}

// EndpointFailed records a failed delivery and disables the endpoint when it
// has been failing since before disableBefore. It reports whether it did.
func (s *Store) EndpointFailed(ctx context.Context, id string, now, disableBefore time.Time) (bool, error) {
	var disabled bool
	err := s.sendPool().QueryRow(ctx, `UPDATE postback_endpoints SET
		failing_since = coalesce(failing_since, $2),
		state = CASE WHEN coalesce(failing_since, $2) < $3 AND state = 'enabled' THEN 'disabled_failing' ELSE state END,
		state_reason = CASE WHEN coalesce(failing_since, $2) < $3 AND state = 'enabled'
			THEN 'every delivery failed since ' || to_char(coalesce(failing_since, $2) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC; re-enable it when the receiver is fixed'
			ELSE state_reason END,
		updated_at = $2
		WHERE id = $1 RETURNING state = 'disabled_failing'`, id, now, disableBefore).Scan(&disabled)
	return disabled, translate(err)
}

// EndpointSucceeded clears an endpoint's failure record.
func (s *Store) EndpointSucceeded(ctx context.Context, id string) error {
	_, err := s.sendPool().Exec(ctx, `UPDATE postback_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, id)
	return translate(err)
}

// ---------------------------------------------------------------- deliveries

// EndpointsFor returns the enabled endpoints that want an event of a
// conversion: the publisher's, for this offer or every offer, test ones for
// test conversions only.
func (t Tx) EndpointsFor(ctx context.Context, publisherID, offerID string, event domain.ConversionStatus, test bool) ([]domain.PostbackEndpoint, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+endpointColumns+` FROM postback_endpoints WHERE publisher_id = $1
		AND (offer_id IS NULL OR offer_id = $2) AND $3 = ANY(events) AND test = $4 AND state = 'enabled' AND deleted_at IS NULL
		ORDER BY id`, publisherID, offerID, string(event), test)
	list, err := pgx.CollectRows(rows, scanEndpoint)
	return list, translate(err)
}

// InsertDelivery stores a delivery owed.
func (t Tx) InsertDelivery(ctx context.Context, d domain.Delivery) error {
	vars, err := json.Marshal(d.Vars)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO postback_deliveries (id, endpoint_id, publisher_id, advertiser_id, conversion_id, event,
		state, attempt_count, next_attempt_at, vars, test, traceparent, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $9, $10, $7, $7)`,
		d.ID, d.EndpointID, d.PublisherID, d.AdvertiserID, d.ConversionID, string(d.Event), d.CreatedAt, vars, d.Test, d.TraceParent)
	return translate(err)
}

// NewID makes an ID with the store's source (for records made inside a Tx).
func (t Tx) NewID(prefix string) string { return t.store.ids.New(prefix) }

const deliveryColumns = `id, endpoint_id, publisher_id, advertiser_id, conversion_id, event, state, attempt_count,
	next_attempt_at, vars, test, traceparent, created_at, updated_at`

func scanDelivery(row pgx.CollectableRow) (domain.Delivery, error) {
	var d domain.Delivery
	var event, state string
	var vars []byte
	err := row.Scan(&d.ID, &d.EndpointID, &d.PublisherID, &d.AdvertiserID, &d.ConversionID, &event, &state, &d.AttemptCount,
		&d.NextAttemptAt, &vars, &d.Test, &d.TraceParent, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return d, err
	}
	d.Event, d.State = domain.ConversionStatus(event), domain.DeliveryState(state)
	return d, json.Unmarshal(vars, &d.Vars)
}

// GetDelivery returns one delivery with its attempts.
func (s *Store) GetDelivery(ctx context.Context, id string) (domain.Delivery, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM postback_deliveries WHERE id = $1`, id)
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, domain.NotFound("delivery", id)
	}
	if err != nil {
		return d, translate(err)
	}
	list := []domain.Delivery{d}
	if err := s.attempts(ctx, list, false); err != nil {
		return d, err
	}
	return list[0], nil
}

// attempts loads all attempts (or only the last one) of each delivery.
func (s *Store) attempts(ctx context.Context, list []domain.Delivery, lastOnly bool) error {
	if len(list) == 0 {
		return nil
	}
	idx := map[string]int{}
	keys := make([]string, len(list))
	for i, d := range list {
		idx[d.ID], keys[i] = i, d.ID
	}
	q := `SELECT delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error
		FROM postback_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, number`
	if lastOnly {
		q = `SELECT DISTINCT ON (delivery_id) delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error
		FROM postback_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, number DESC`
	}
	rows, err := s.pool.Query(ctx, q, keys)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a domain.Attempt
		var us int64
		if err := rows.Scan(&id, &a.Number, &a.At, &a.URL, &a.StatusCode, &a.Outcome, &us, &a.ResponseExcerpt, &a.Error); err != nil {
			return translate(err)
		}
		a.Latency = time.Duration(us) * time.Microsecond
		d := &list[idx[id]]
		d.Attempts = append(d.Attempts, a)
	}
	return translate(rows.Err())
}

// ListDeliveries pages through deliveries, each with its last attempt.
func (s *Store) ListDeliveries(ctx context.Context, f domain.DeliveryFilter, page domain.Page) ([]domain.Delivery, string, error) {
	size := pageSize(page)
	from, to := optTime(f.From), optTime(f.To)
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM postback_deliveries
		WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
		AND ($3 = '' OR endpoint_id = $3) AND ($4 = '' OR publisher_id = $4) AND ($5 = '' OR advertiser_id = $5)
		AND ($6 = '' OR conversion_id = $6) AND ($7 = '' OR state = $7) AND ($8 = '' OR event = $8)
		AND id > $9 ORDER BY id LIMIT $10`,
		from, to, f.EndpointID, f.PublisherID, f.AdvertiserID, f.ConversionID, string(f.State), string(f.Event), page.After, size+1)
	list, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(d domain.Delivery) string { return d.ID })
	if err := s.attempts(ctx, list, true); err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// RecordAttempt appends an attempt and moves the delivery to state, with
// nextAt the time of the next attempt (pending only), in one statement.
func (s *Store) RecordAttempt(ctx context.Context, id string, a domain.Attempt, state domain.DeliveryState, nextAt *time.Time) error {
	_, err := s.sendPool().Exec(ctx, `WITH attempt AS (
			INSERT INTO postback_attempts (delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
		UPDATE postback_deliveries SET state = $10, attempt_count = $2, next_attempt_at = $11, updated_at = $3 WHERE id = $1`,
		id, a.Number, a.At, a.URL, a.StatusCode, a.Outcome, a.Latency.Microseconds(), a.ResponseExcerpt, a.Error, string(state), nextAt)
	return translate(err)
}

// LoadDelivery returns a delivery without its attempts (the worker's read).
func (s *Store) LoadDelivery(ctx context.Context, id string) (domain.Delivery, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM postback_deliveries WHERE id = $1`, id)
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, domain.NotFound("delivery", id)
	}
	return d, translate(err)
}

// EndpointForDelivery returns an endpoint that was not deleted with its
// signing secrets (the current one, and the previous during an overlap) and
// its sealed secrets opened (e.Secrets with values), in one read.
func (s *Store) EndpointForDelivery(ctx context.Context, id string) (domain.PostbackEndpoint, []string, error) {
	m, err := s.EndpointsForDeliveries(ctx, []string{id})
	if err != nil {
		return domain.PostbackEndpoint{}, nil, err
	}
	e, ok := m[id]
	if !ok {
		return e.Endpoint, nil, domain.NotFound("postback endpoint", id)
	}
	return e.Endpoint, e.Secrets, e.Err
}

// EndpointsForDeliveries is EndpointForDelivery for many endpoints in one
// read: the ones not deleted, by ID (a missing ID was deleted). An endpoint
// whose secrets cannot be opened has Err set; the others are unaffected.
func (s *Store) EndpointsForDeliveries(ctx context.Context, ids []string) (map[string]domain.SendableEndpoint, error) {
	type row struct {
		e                 domain.PostbackEndpoint
		cur, prev, sealed []byte
		prevExp           *time.Time
	}
	rows, _ := s.sendPool().Query(ctx, `SELECT `+endpointColumns+`, secret_sealed, previous_secret_sealed, previous_secret_expires_at,
		secrets_sealed FROM postback_endpoints WHERE id = ANY($1) AND deleted_at IS NULL`, ids)
	list, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var r row
		e := &r.e
		var events []string
		var method, state string
		var headers, secretNames []byte
		err := cr.Scan(&e.ID, &e.PublisherID, &e.OfferID, &events, &method, &e.URLTemplate, &e.BodyTemplate, &headers,
			&e.SignatureParam, &e.Test, &state, &e.StateReason, &e.FailingSince, &e.SecretHint, &e.CreatedAt, &e.UpdatedAt,
			&secretNames, &r.cur, &r.prev, &r.prevExp, &r.sealed)
		if err != nil {
			return r, err
		}
		return r, finishEndpoint(e, events, method, state, headers, secretNames)
	})
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]domain.SendableEndpoint, len(list))
	now := s.now()
	for _, r := range list {
		out[r.e.ID] = s.openEndpoint(r.e, r.cur, r.prev, r.sealed, r.prevExp, now)
	}
	return out, nil
}

// openEndpoint opens an endpoint's sealed secrets and signing secrets.
func (s *Store) openEndpoint(e domain.PostbackEndpoint, cur, prev, sealed []byte, prevExp *time.Time, now time.Time) domain.SendableEndpoint {
	var err error
	if e.Secrets, err = s.openSecrets(e.ID, sealed); err != nil {
		return domain.SendableEndpoint{Endpoint: e, Err: err}
	}
	c, err := s.box.Open(cur)
	if err != nil {
		return domain.SendableEndpoint{Endpoint: e, Err: fmt.Errorf("postback endpoint %s: %w", e.ID, err)}
	}
	secrets := []string{c}
	if prev != nil && prevExp != nil && now.Before(*prevExp) {
		if p, err := s.box.Open(prev); err == nil {
			secrets = append(secrets, p)
		}
	}
	return domain.SendableEndpoint{Endpoint: e, Secrets: secrets}
}

// LoadDeliveries is LoadDelivery for many deliveries in one read; a
// missing ID is left out.
func (s *Store) LoadDeliveries(ctx context.Context, ids []string) ([]domain.Delivery, error) {
	rows, _ := s.sendPool().Query(ctx, `SELECT `+deliveryColumns+` FROM postback_deliveries WHERE id = ANY($1)`, ids)
	list, err := pgx.CollectRows(rows, scanDelivery)
	return list, translate(err)
}

// RecordAttempts is RecordAttempt for many deliveries in one statement:
// all of them or none (an error leaves every delivery as it was). Each
// delivery appears at most once.
func (s *Store) RecordAttempts(ctx context.Context, recs []domain.AttemptRecord) error {
	n := len(recs)
	ids, urls, outcomes, excerpts, errs, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, codes := make([]int32, n), make([]int32, n)
	ats, nexts := make([]time.Time, n), make([]*time.Time, n)
	lat := make([]int64, n)
	for i, r := range recs {
		a := r.Attempt
		ids[i], numbers[i], ats[i], urls[i], codes[i], outcomes[i] = r.DeliveryID, int32(a.Number), a.At, a.URL, int32(a.StatusCode), a.Outcome
		lat[i], excerpts[i], errs[i], states[i], nexts[i] = a.Latency.Microseconds(), a.ResponseExcerpt, a.Error, string(r.State), r.NextAt
	}
	tag, err := s.sendPool().Exec(ctx, `WITH r AS (
			SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::int[], $6::text[], $7::bigint[], $8::text[],
				$9::text[], $10::text[], $11::timestamptz[])
				AS r(delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error, state, next_at)),
		attempt AS (
			INSERT INTO postback_attempts (delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error)
			SELECT delivery_id, number, at, url, status_code, outcome, latency_us, response_excerpt, error FROM r)
		UPDATE postback_deliveries d SET state = r.state, attempt_count = r.number, next_attempt_at = r.next_at, updated_at = r.at
		FROM r WHERE d.id = r.delivery_id`,
		ids, numbers, ats, urls, codes, outcomes, lat, excerpts, errs, states, nexts)
	if err != nil {
		return translate(err)
	}
	if int(tag.RowsAffected()) != n {
		return fmt.Errorf("record attempts: %d of %d deliveries updated", tag.RowsAffected(), n)
	}
	return nil
}

// SetDeliveryState moves a delivery to a state without an attempt (cancelled).
func (s *Store) SetDeliveryState(ctx context.Context, id string, state domain.DeliveryState) error {
	_, err := s.sendPool().Exec(ctx, `UPDATE postback_deliveries SET state = $2, next_attempt_at = NULL, updated_at = $3 WHERE id = $1`,
		id, string(state), s.now())
	return translate(err)
}

// RequeueDelivery sets a delivery pending again (redelivery) inside tx.
func (t Tx) RequeueDelivery(ctx context.Context, id string, now time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE postback_deliveries SET state = 'pending', next_attempt_at = $2, updated_at = $2 WHERE id = $1`, id, now)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return domain.NotFound("delivery", id)
	}
	return nil
}

// DeliveryIDs returns the IDs of an endpoint's deliveries in a state, for
// redelivery by filter (at most limit).
func (s *Store) DeliveryIDs(ctx context.Context, endpointID string, state domain.DeliveryState, from, to time.Time, limit int) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM postback_deliveries WHERE endpoint_id = $1 AND state = $2
		AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4) ORDER BY id LIMIT $5`,
		endpointID, string(state), optTime(from), optTime(to), limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, translate(err)
}

// NetworkByToken finds the network whose current (or, during an overlap,
// previous) kickback token is token.
func (s *Store) NetworkByToken(ctx context.Context, token string) (domain.Network, error) {
	h := HashKey(token)
	rows, _ := s.pool.Query(ctx, `SELECT `+networkColumns+` FROM networks WHERE token_hash = $1
		OR (previous_token_hash = $1 AND previous_secret_expires_at > $2) LIMIT 1`, h, s.now())
	n, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, domain.Wrap(domain.ErrUnauthenticated, nil, "no network with this token")
	}
	return n, translate(err)
}

// PendingDeliveries counts the deliveries owed and the age of the oldest.
func (s *Store) PendingDeliveries(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM postback_deliveries WHERE state = 'pending'`).Scan(&n, &oldest)
	if err != nil || oldest == nil {
		return n, 0, translate(err)
	}
	return n, s.now().Sub(*oldest), nil
}
