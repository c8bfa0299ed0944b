package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

// An endpoint's sealed secrets are stored twice: their names (and whether
// each is a header) in secret_names, readable by every query; and the whole
// list with values, as JSON sealed by the master key, in secrets_sealed,
// opened only by EndpointForDelivery.

// secretNamesJSON is the readable half: names and kinds, no values.
func secretNamesJSON(list []domain.EndpointSecret) []byte {
	names := make([]domain.EndpointSecret, 0, len(list))
	for _, s := range list {
		names = append(names, domain.EndpointSecret{Name: s.Name, Header: s.Header})
	}
	b, _ := json.Marshal(names) //nolint:errcheck // names and flags always marshal
	return b
}

// sealSecrets seals the list with its values (nil when there is none).
func (s *Store) sealSecrets(list []domain.EndpointSecret) ([]byte, error) {
	if len(list) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return s.box.Seal(string(b)), nil
}

// openSecrets opens what sealSecrets sealed.
func (s *Store) openSecrets(id string, sealed []byte) ([]domain.EndpointSecret, error) {
	if sealed == nil {
		return nil, nil
	}
	plain, err := s.box.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("postback endpoint %s: secrets: %w", id, err)
	}
	var list []domain.EndpointSecret
	if err := json.Unmarshal([]byte(plain), &list); err != nil {
		return nil, fmt.Errorf("postback endpoint %s: secrets: %w", id, err)
	}
	return list, nil
}

// mergeSecrets resolves an update's list: an entry with a value sets it; an
// entry without one keeps the stored value of the same name and kind (an
// endpoint read and written back keeps its secrets); a stored secret not in
// the list is removed.
func mergeSecrets(id string, next, stored []domain.EndpointSecret) ([]domain.EndpointSecret, error) {
	type key struct {
		name   string
		header bool
	}
	old := map[key]string{}
	for _, s := range stored {
		old[key{s.Name, s.Header}] = s.Value
	}
	out := make([]domain.EndpointSecret, 0, len(next))
	for _, s := range next {
		if s.Value == "" {
			v, ok := old[key{s.Name, s.Header}]
			if !ok {
				return nil, domain.Invalid("secrets", "secret %q of endpoint %s has no value: give one", s.Name, id)
			}
			s.Value = v
		}
		out = append(out, s)
	}
	return out, nil
}

// storedSecrets reads (and locks, inside tx) an endpoint's sealed secrets.
func (s *Store) storedSecrets(ctx context.Context, tx pgx.Tx, id string) ([]domain.EndpointSecret, error) {
	var sealed []byte
	err := tx.QueryRow(ctx, `SELECT secrets_sealed FROM postback_endpoints WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.NotFound("postback endpoint", id)
	}
	if err != nil {
		return nil, translate(err)
	}
	return s.openSecrets(id, sealed)
}
