package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/batonhq/baton/server/internal/domain"
)

// The postback outbox lives here because it is SQL in the caller's
// transaction: a delivery's River job is inserted with the same pgx.Tx as
// the delivery, so no driver type leaves this package.

// deliveryJob is the River job that delivers one postback. The worker in
// package delivery decodes the same kind and JSON.
type deliveryJob struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (deliveryJob) Kind() string { return domain.DeliveryJobKind }

// InsertOpts implements river.JobArgsWithInsertOpts. Attempts are counted by
// Baton (postback_deliveries), which reschedules with JobSnooze; River's own
// retries only cover failures to record an attempt (the database down).
func (deliveryJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: domain.DeliveryQueue, MaxAttempts: domain.DeliveryJobTries}
}

// newJobInserter is an insert-only River client on the pool (no queues, no
// workers, never started): it only writes jobs inside transactions.
//
// Its FetchCooldown is how often it may tell the workers (LISTEN/NOTIFY)
// that jobs were inserted: River's default (100 ms) would leave a new
// postback waiting up to that long, or for the workers' next poll.
func newJobInserter(s *Store) (*river.Client[pgx.Tx], error) {
	c, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{Logger: s.log.With("component", "river"), FetchCooldown: InsertNotifyEvery})
	if err != nil {
		return nil, fmt.Errorf("store: postback outbox: %w", err)
	}
	return c, nil
}

// EnqueueDelivery enqueues the job that delivers the delivery id, inside the
// transaction: it runs only if the transaction commits.
func (t Tx) EnqueueDelivery(ctx context.Context, id string) error {
	if _, err := t.store.jobs.InsertTx(ctx, t.tx, deliveryJob{DeliveryID: id}, nil); err != nil {
		return fmt.Errorf("enqueue postback: %w", translate(err))
	}
	return nil
}

// RequeueDeliveries sets deliveries pending again and enqueues them, in one
// transaction: all of them or none.
func (s *Store) RequeueDeliveries(ctx context.Context, ids []string, now time.Time) error {
	return s.InTx(ctx, func(tx Tx) error {
		for _, id := range ids {
			if err := tx.RequeueDelivery(ctx, id, now); err != nil {
				return err
			}
			if err := tx.EnqueueDelivery(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// MigrateQueue applies River's own migrations (its job tables).
func (s *Store) MigrateQueue(ctx context.Context) error {
	// Under the lock Migrate takes: River's migrations do not serialize
	// themselves, and nodes starting at once would race to create its
	// tables.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("river migrations: %w", translate(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("river migrations: lock: %w", translate(err))
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}()
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", translate(err))
	}
	return nil
}

// QueueClient is the River client that works the postback queue, on the
// store's pool. Package delivery configures it (workers, queues, timeouts)
// and starts and stops it, without seeing the driver.
type QueueClient struct {
	c *river.Client[pgx.Tx]
}

// InsertNotifyEvery bounds how often inserting postback jobs notifies the
// workers.
const InsertNotifyEvery = 5 * time.Millisecond

// SendConns is the size of the postback workers' own pool: River's fetches,
// completions, LISTEN and maintenance, and the workers' batched reads and
// writes. Batched, a few connections carry thousands of deliveries a
// second; on the shared pool they would queue behind every request's
// transaction, and deliveries fall behind the intake that causes them.
const SendConns = 8

// QueueClient builds the working River client from cfg, on a pool of its
// own (SendConns) that the workers' reads and writes share.
func (s *Store) QueueClient(cfg *river.Config) (*QueueClient, error) {
	pcfg := s.pool.Config().Copy()
	pcfg.MaxConns = SendConns
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("store: postback pool: %w", translate(err))
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if old := s.send.Swap(pool); old != nil {
		old.Close()
	}
	return &QueueClient{c: c}, nil
}

// sendPool is the pool of the workers' reads and writes: their own once
// QueueClient has built it, the store's until then.
func (s *Store) sendPool() *pgxpool.Pool {
	if p := s.send.Load(); p != nil {
		return p
	}
	return s.pool
}

// Start starts the workers.
func (q *QueueClient) Start(ctx context.Context) error { return q.c.Start(ctx) }

// Stop lets running jobs finish (up to ctx) and stops.
func (q *QueueClient) Stop(ctx context.Context) error { return q.c.Stop(ctx) }

// PoolStats reads the connection pool's counters (for the gauges).
func (s *Store) PoolStats() domain.PoolStats {
	st := s.pool.Stat()
	return domain.PoolStats{Acquired: int64(st.AcquiredConns()), Total: int64(st.TotalConns())}
}
