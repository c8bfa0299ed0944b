package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Partitioned tables besides clicks (migrations 0030-0033): each in monthly
// partitions named table_YYYYMM, bounded by the IDs of idPrefix made in that
// month (package ids), or by time when idPrefix is empty.
var partitioned = []struct{ table, idPrefix string }{
	{"conversions", "cv"},
	{"conversion_status_changes", "cv"},
	{"postback_deliveries", "dlv"},
	{"postback_attempts", "dlv"},
	{"conversion_refusals", ""},
}

// Retention says how long each partitioned table keeps its rows; 0 keeps
// them all. A month is dropped whole once it ends before now - retention.
type Retention struct {
	Conversions time.Duration // with their history and idempotency keys
	Deliveries  time.Duration // with their attempts
	Attempts    time.Duration // at most Deliveries (attempts go with their delivery)
	Refusals    time.Duration
}

// A drop takes an exclusive lock on its parent tables for a moment, and
// queries queue behind a drop waiting for it. So a drop waits for its
// locks at most half of deadlock_timeout (SET LOCAL lock_timeout), then
// gives up and tries again, up to dropTries times: traffic stalls for
// less than that at worst, and when a drop and a request wait for each
// other it is always the drop that gives up (PostgreSQL only looks for a
// deadlock after deadlock_timeout), so requests never fail for it.
const (
	dropTries   = 20
	dropBackoff = 200 * time.Millisecond
)

// EnsurePartitions creates the monthly partitions of conversions,
// deliveries, attempts and refusals from last month to three months ahead.
// Run at start and hourly, with EnsureClickPartitions.
func (s *Store) EnsurePartitions(ctx context.Context) (int, error) {
	total := 0
	for _, p := range partitioned {
		var n int
		// Creating a partition locks its parent (and the tables its foreign
		// keys point at) like a drop: the same bounded waits.
		if err := s.lockRetry(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT baton_ensure_partitions($1, nullif($2, ''), $3, 5)`,
				p.table, p.idPrefix, s.now().AddDate(0, -1, 0)).Scan(&n)
		}); err != nil {
			return total, fmt.Errorf("store: partitions of %s: %w", p.table, translate(err))
		}
		total += n
	}
	return total, nil
}

// lockRetry runs f in a transaction whose lock waits are bounded by half
// of deadlock_timeout, up to dropTries times while it times out waiting.
func (s *Store) lockRetry(ctx context.Context, f func(pgx.Tx) error) error {
	var err error
	for try := 0; try < dropTries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(dropBackoff):
			}
		}
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout',
				(SELECT greatest(setting::integer / 2, 1)::text FROM pg_settings WHERE name = 'deadlock_timeout'), true)`); err != nil {
				return err
			}
			return f(tx)
		})
		if !isLockTimeout(err) {
			return err
		}
	}
	return err
}

// DropExpiredPartitions drops the months past their table's retention and
// returns the partitions it dropped. It never drops what is still needed:
// a month of deliveries holding a pending delivery, or a month of
// conversions some delivery still points into, is left (and logged) for a
// later run. Each month is dropped in its own short transaction.
func (s *Store) DropExpiredPartitions(ctx context.Context, r Retention) ([]string, error) {
	now := s.now()
	var dropped []string
	var errs []error
	run := func(table string, keep time.Duration, drop func(pgx.Tx, string) error) {
		if keep <= 0 {
			return
		}
		rows, _ := s.pool.Query(ctx, `SELECT baton_expired_partitions($1, $2)`, table, now.Add(-keep))
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			errs = append(errs, fmt.Errorf("store: expired partitions of %s: %w", table, translate(err)))
			return
		}
		for _, name := range names {
			err := s.lockRetry(ctx, func(tx pgx.Tx) error { return drop(tx, name) })
			var keep errKept
			switch {
			case err == nil:
				dropped = append(dropped, name)
			case errors.As(err, &keep):
				s.log.WarnContext(ctx, "partition past retention kept", "partition", name, "reason", keep.reason)
			case isLockTimeout(err):
				s.log.WarnContext(ctx, "partition past retention not dropped: its table stayed busy, trying again next run", "partition", name)
			default:
				errs = append(errs, fmt.Errorf("store: drop %s: %w", name, translate(err)))
			}
		}
	}
	attempts := r.Attempts
	if r.Deliveries > 0 && (attempts <= 0 || attempts > r.Deliveries) {
		attempts = r.Deliveries
	}
	// Children before parents: attempts, deliveries, conversions.
	run("postback_attempts", attempts, func(tx pgx.Tx, name string) error {
		// Not while the month's deliveries are owed: their next attempts
		// would land in the default partition and pin the month.
		if _, err := tx.Exec(ctx, `LOCK TABLE postback_deliveries, postback_attempts IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		deliveries := "postback_deliveries_" + name[len("postback_attempts_"):]
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, deliveries).Scan(&pending); err != nil {
			return err
		}
		if pending {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{deliveries}.Sanitize()+` WHERE state = 'pending')`).Scan(&pending); err != nil {
				return err
			}
		}
		if pending {
			return errKept{"its deliveries are not all delivered yet"}
		}
		return detachDrop(ctx, tx, "postback_attempts", name)
	})
	run("postback_deliveries", r.Deliveries, func(tx pgx.Tx, name string) error {
		month := name[len("postback_deliveries_"):]
		// Both parents first (attempts are detached before deliveries).
		if _, err := tx.Exec(ctx, `LOCK TABLE postback_deliveries, postback_attempts IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := detachDropIfExists(ctx, tx, "postback_attempts", "postback_attempts_"+month); err != nil {
			return err
		}
		p, c := pgx.Identifier{"postback_deliveries"}.Sanitize(), pgx.Identifier{name}.Sanitize()
		_, err := tx.Exec(ctx, `ALTER TABLE `+p+` DETACH PARTITION `+c)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
			return errKept{"attempts outside its month still point at its deliveries"}
		}
		if err != nil {
			return err
		}
		// Detached, the month takes no more writes: a delivery still owed
		// (pending, or requeued a moment ago) keeps it.
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+c+` WHERE state = 'pending')`).Scan(&pending); err != nil {
			return err
		}
		if pending {
			return errKept{"it holds pending deliveries"}
		}
		_, err = tx.Exec(ctx, `DROP TABLE `+c)
		return err
	})
	run("conversions", r.Conversions, func(tx pgx.Tx, name string) error {
		month := name[len("conversions_"):]
		// The parents first, and only then the key rows: a report of an
		// old order waiting on a key row would otherwise hold the table
		// lock the drop waits for.
		if _, err := tx.Exec(ctx, `LOCK TABLE conversions, conversion_status_changes IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM conversion_keys WHERE conversion_id >= baton_id_floor('cv', $1::timestamptz)
			AND conversion_id < baton_id_floor('cv', (($1::timestamptz AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC')`,
			monthStart(month)); err != nil {
			return err
		}
		if err := detachDropIfExists(ctx, tx, "conversion_status_changes", "conversion_status_changes_"+month); err != nil {
			return err
		}
		err := detachDrop(ctx, tx, "conversions", name)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
			return errKept{"deliveries still point at its conversions"}
		}
		return err
	})
	run("conversion_refusals", r.Refusals, func(tx pgx.Tx, name string) error {
		return detachDrop(ctx, tx, "conversion_refusals", name)
	})
	return dropped, errors.Join(errs...)
}

// errKept rolls a month's drop back for a reason that is not a failure.
type errKept struct{ reason string }

func (e errKept) Error() string { return "kept: " + e.reason }

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.LockNotAvailable
}

// monthStart is the first instant (UTC) of a "YYYYMM" month.
func monthStart(yyyymm string) time.Time {
	t, err := time.Parse("200601", yyyymm)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// detachDrop detaches partition from parent (which checks that no foreign
// key points into it) and drops it.
func detachDrop(ctx context.Context, tx pgx.Tx, parent, partition string) error {
	p, c := pgx.Identifier{parent}.Sanitize(), pgx.Identifier{partition}.Sanitize()
	if _, err := tx.Exec(ctx, `ALTER TABLE `+p+` DETACH PARTITION `+c); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DROP TABLE `+c)
	return err
}

func detachDropIfExists(ctx context.Context, tx pgx.Tx, parent, partition string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 AND c.relname = $2)`, parent, partition).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	return detachDrop(ctx, tx, parent, partition)
}
