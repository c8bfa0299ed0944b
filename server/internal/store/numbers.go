package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/batonhq/baton/server/internal/domain"
)

// The FC2 numbers (shop ID, user ID, site ID) are identity columns. A shop
// or affiliate moving from FC2 brings its own number; movePast then moves
// the column's sequence past it, so the numbers Baton draws later never
// meet an imported one. The adjustment runs under a transaction-scoped
// advisory lock, so two imports cannot move a sequence backwards.
type numberSeq struct {
	table, column string
}

var (
	seqShopID = numberSeq{"advertisers", "shop_id"}
	seqUserID = numberSeq{"publishers", "user_id"}
	seqSiteID = numberSeq{"sites", "site_id"}
)

// numberLock is the advisory lock key held while a sequence is moved ("fc2num").
const numberLock = 0x6663_326e_756d

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// movePast makes the sequence of seq hand out only numbers above n (it
// never moves it backwards).
func movePast(ctx context.Context, tx execer, seq numberSeq, n int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(numberLock)); err != nil {
		return err
	}
	// pg_sequence_last_value is NULL until the first number is drawn; the
	// sequence then starts at seqstart.
	_, err := tx.Exec(ctx, `WITH s AS (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq)
		SELECT setval(s.seq, $3) FROM s
		WHERE $3 >= coalesce(pg_sequence_last_value(s.seq), (SELECT seqstart FROM pg_sequence WHERE seqrelid = s.seq))`,
		seq.table, seq.column, n)
	return err
}

// takenNumber turns a unique violation of constraint into an
// already-exists error naming the number.
func takenNumber(err error, constraint, what string, n int64) error {
	if isUniqueViolation(err, constraint) {
		return domain.Wrap(domain.ErrAlreadyExists, err, "%s %d is taken", what, n)
	}
	return translate(err)
}

// retryNumbered runs an insert that draws its number from the sequence,
// again when the number drawn was taken meanwhile by a number given
// explicitly (an import racing it): the next draw is past it.
func retryNumbered[T any](insert func() (T, error), constraint string) (T, error) {
	var out T
	var err error
	for range 5 {
		out, err = insert()
		if !isUniqueViolation(err, constraint) {
			break
		}
	}
	return out, translate(err)
}
