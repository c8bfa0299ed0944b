package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

// ActiveRuleSets returns the rule set in force of every owner: the latest
// version of each.
func (s *Store) ActiveRuleSets(ctx context.Context) ([]domain.RuleSetRecord, error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT ON (owner) owner, version, document, created_at, created_by
		FROM rule_sets ORDER BY owner, version DESC`)
	list, err := pgx.CollectRows(rows, scanRuleSet)
	return list, translate(err)
}

// RuleSet returns the rule set in force of owner ("" for the network's);
// version 0 and no document when it never saved one.
func (s *Store) RuleSet(ctx context.Context, owner string) (domain.RuleSetRecord, error) {
	rows, _ := s.pool.Query(ctx, `SELECT owner, version, document, created_at, created_by FROM rule_sets
		WHERE owner = $1 ORDER BY version DESC LIMIT 1`, owner)
	r, err := pgx.CollectExactlyOneRow(rows, scanRuleSet)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.RuleSetRecord{Owner: owner}, nil
	}
	return r, translate(err)
}

func scanRuleSet(row pgx.CollectableRow) (domain.RuleSetRecord, error) {
	var r domain.RuleSetRecord
	err := row.Scan(&r.Owner, &r.Version, &r.Document, &r.CreatedAt, &r.CreatedBy)
	return r, err
}

// PutRuleSet saves a new version of owner's rule set. build is given the
// set in force (read under a lock that orders concurrent saves of the same
// owner) and returns the new document and the rule versions it creates;
// the new set and those versions commit together.
func (s *Store) PutRuleSet(ctx context.Context, owner, actor string, now time.Time,
	build func(cur domain.RuleSetRecord) ([]byte, []domain.RuleVersionRecord, error)) (domain.RuleSetRecord, error) {
	var out domain.RuleSetRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('baton.rule_sets:' || $1, 0))`, owner); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT owner, version, document, created_at, created_by FROM rule_sets
			WHERE owner = $1 ORDER BY version DESC LIMIT 1`, owner)
		cur, err := pgx.CollectExactlyOneRow(rows, scanRuleSet)
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err = domain.RuleSetRecord{Owner: owner}, nil
		}
		if err != nil {
			return err
		}
		doc, versions, err := build(cur)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if _, err := tx.Exec(ctx, `INSERT INTO rule_versions (rule_id, version, owner, name, definition, created_at, created_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, v.RuleID, v.Version, owner, v.Name, v.Definition, now, actor); err != nil {
				return err
			}
		}
		out = domain.RuleSetRecord{Owner: owner, Version: cur.Version + 1, Document: doc, CreatedAt: now, CreatedBy: actor}
		_, err = tx.Exec(ctx, `INSERT INTO rule_sets (owner, version, document, created_at, created_by) VALUES ($1, $2, $3, $4, $5)`,
			owner, out.Version, doc, now, actor)
		return err
	})
	return out, translate(err)
}

// RuleVersions returns every saved version of a rule, oldest first.
func (s *Store) RuleVersions(ctx context.Context, ruleID string) ([]domain.RuleVersionRecord, error) {
	rows, _ := s.pool.Query(ctx, `SELECT rule_id, version, owner, name, definition, created_at, created_by
		FROM rule_versions WHERE rule_id = $1 ORDER BY version`, ruleID)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.RuleVersionRecord, error) {
		var r domain.RuleVersionRecord
		err := row.Scan(&r.RuleID, &r.Version, &r.Owner, &r.Name, &r.Definition, &r.CreatedAt, &r.CreatedBy)
		return r, err
	})
	if err == nil && len(list) == 0 {
		return nil, domain.NotFound("rule", ruleID)
	}
	return list, translate(err)
}

// RecentConversions returns the latest limit conversions (newest first),
// of one advertiser when advertiserID is set, test ones included: what a
// dry run of a rule set is judged against.
func (s *Store) RecentConversions(ctx context.Context, advertiserID string, limit int) ([]domain.Conversion, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE ($1 = '' OR advertiser_id = $1) ORDER BY id DESC LIMIT $2`, advertiserID, limit)
	list, err := pgx.CollectRows(rows, scanConversion)
	return list, translate(err)
}
