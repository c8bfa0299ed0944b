package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

const apiKeyColumns = `id, name, role, coalesce(partner_id, ''), prefix, created_at, revoked_at, last_used_at`

func scanAPIKey(row pgx.CollectableRow) (domain.APIKey, error) {
	var k domain.APIKey
	var role string
	err := row.Scan(&k.ID, &k.Name, &role, &k.PartnerID, &k.Prefix, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt)
	k.Role = domain.Role(role)
	return k, err
}

// keyPrefix is what is kept of a key in clear, to recognise it: "bk_" and 5
// random characters (30 of its 256 bits) for keys Baton issues, only 4
// characters of a key chosen by an operator (BATON_ADMIN_KEY).
func keyPrefix(key string) string {
	n := 4
	if strings.HasPrefix(key, "bk_") {
		n = 8
	}
	if len(key) < n {
		n = len(key) / 2
	}
	return key[:n]
}

// HashKey is how API keys are stored: SHA-256 of the key.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateAPIKey stores the hash of key under a new ID.
func (s *Store) CreateAPIKey(ctx context.Context, name string, role domain.Role, partnerID, key string) (domain.APIKey, error) {
	prefix := keyPrefix(key)
	var partner any
	if partnerID != "" {
		partner = partnerID
	}
	rows, _ := s.pool.Query(ctx, `INSERT INTO api_keys (id, name, role, partner_id, key_hash, prefix, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+apiKeyColumns,
		s.ids.New("key"), name, string(role), partner, HashKey(key), prefix, s.now())
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	return k, translate(err)
}

// EnsureAPIKey stores key (with the given ID) unless a key with the same
// hash exists. It is used for keys given by configuration (BATON_ADMIN_KEY,
// demo keys), so a restart does not duplicate them.
func (s *Store) EnsureAPIKey(ctx context.Context, id, name string, role domain.Role, partnerID, key string) (created bool, err error) {
	var partner any
	if partnerID != "" {
		partner = partnerID
	}
	prefix := keyPrefix(key)
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, name, role, partner_id, key_hash, prefix, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		id, name, string(role), partner, HashKey(key), prefix, s.now())
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// HasActiveAdminKey reports whether any unrevoked admin key exists.
func (s *Store) HasActiveAdminKey(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL)`).Scan(&ok)
	return ok, translate(err)
}

// Authenticate finds the unrevoked key whose hash matches key. It returns
// domain.ErrUnauthenticated when there is none.
func (s *Store) Authenticate(ctx context.Context, key string) (domain.Principal, error) {
	var p domain.Principal
	var role string
	err := s.pool.QueryRow(ctx, `SELECT id, role, coalesce(partner_id, '') FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL`, HashKey(key)).Scan(&p.KeyID, &role, &p.PartnerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, domain.ErrUnauthenticated
	}
	if err != nil {
		return p, translate(err)
	}
	p.Role = domain.Role(role)
	return p, nil
}

// TouchAPIKey records that a key was used; it is called at most once a
// minute per key, so it writes little.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1
		AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')`, id, at)
	return translate(err)
}

// GetAPIKey returns one key.
func (s *Store) GetAPIKey(ctx context.Context, id string) (domain.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id)
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, domain.NotFound("api key", id)
	}
	return k, translate(err)
}

// ListAPIKeys lists keys, optionally of one partner.
func (s *Store) ListAPIKeys(ctx context.Context, partnerID string, includeRevoked bool, page domain.Page) ([]domain.APIKey, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE ($1 = '' OR partner_id = $1) AND ($2 OR revoked_at IS NULL) AND id > $3
		ORDER BY id LIMIT $4`, partnerID, includeRevoked, page.After, size+1)
	keys, err := pgx.CollectRows(rows, scanAPIKey)
	if err != nil {
		return nil, "", translate(err)
	}
	keys, next := nextAfter(keys, size, func(k domain.APIKey) string { return k.ID })
	return keys, next, nil
}

// RevokeAPIKey revokes a key; revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (domain.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2)
		WHERE id = $1 RETURNING `+apiKeyColumns, id, s.now())
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, domain.NotFound("api key", id)
	}
	if err != nil {
		return k, fmt.Errorf("revoke api key: %w", translate(err))
	}
	return k, nil
}

// PartnerExists reports whether a partner of the role exists.
func (s *Store) PartnerExists(ctx context.Context, role domain.Role, id string) (bool, error) {
	var table string
	switch role {
	case domain.RoleAdvertiser:
		table = "advertisers"
	case domain.RolePublisher:
		table = "publishers"
	case domain.RoleNetwork:
		table = "networks"
	default:
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&ok)
	return ok, translate(err)
}
