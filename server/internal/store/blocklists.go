package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

const blocklistColumns = `id, kind, match, value, COALESCE(offer_id, ''), COALESCE(publisher_id, ''), note, created_at`

func scanBlocklistEntry(row pgx.CollectableRow) (domain.BlocklistEntry, error) {
	var e domain.BlocklistEntry
	var kind, match string
	err := row.Scan(&e.ID, &kind, &match, &e.Value, &e.OfferID, &e.PublisherID, &e.Note, &e.CreatedAt)
	e.Kind, e.Match = domain.BlocklistKind(kind), domain.BlocklistMatch(match)
	return e, err
}

// AddBlocklistEntry stores e (checked by the caller, its offer and
// publisher too) with a new ID.
func (s *Store) AddBlocklistEntry(ctx context.Context, e domain.BlocklistEntry) (domain.BlocklistEntry, error) {
	e.ID = s.ids.New("blk")
	rows, _ := s.pool.Query(ctx, `INSERT INTO blocklist_entries (id, kind, match, value, offer_id, publisher_id, note, created_at)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7, $8) RETURNING `+blocklistColumns,
		e.ID, string(e.Kind), string(e.Match), e.Value, e.OfferID, e.PublisherID, e.Note, s.now())
	out, err := pgx.CollectExactlyOneRow(rows, scanBlocklistEntry)
	return out, translate(err)
}

// RemoveBlocklistEntry deletes one entry (domain.ErrNotFound if none).
func (s *Store) RemoveBlocklistEntry(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM blocklist_entries WHERE id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return domain.NotFound("blocklist entry", id)
	}
	return nil
}

// ListBlocklistEntries lists entries, newest first, at most
// domain.MaxBlocklistEntries; empty filters match all.
func (s *Store) ListBlocklistEntries(ctx context.Context, kind domain.BlocklistKind, offerID, publisherID string) ([]domain.BlocklistEntry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+blocklistColumns+` FROM blocklist_entries
		WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR offer_id = $2) AND ($3 = '' OR publisher_id = $3)
		ORDER BY created_at DESC, id LIMIT $4`, string(kind), offerID, publisherID, domain.MaxBlocklistEntries)
	out, err := pgx.CollectRows(rows, scanBlocklistEntry)
	return out, translate(err)
}
