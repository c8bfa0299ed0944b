package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/batonhq/baton/server/internal/domain"
)

// querier is what a read runs on: the primary's pool or the replica's.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DefaultReplicaMaxLag is how far behind the primary a replica may be and
// still serve reports (BATON_REPLICA_MAX_LAG's default).
const DefaultReplicaMaxLag = 10 * time.Second

// replicaCheckEvery is how often the replica's state is read.
const replicaCheckEvery = time.Second

// replicaLogEvery rate-limits the lines saying a read fell back to the
// primary because the replica failed mid-read (state changes are always
// logged, once each).
const replicaLogEvery = time.Minute

// replica is the second pool that read-only report queries go to while it
// is up and at most maxLag behind the primary (see WithReplica).
type replica struct {
	pool   *pgxpool.Pool
	maxLag time.Duration

	usable atomic.Bool // the last check found it up and within maxLag
	reads  atomic.Int64
	falls  atomic.Int64

	mu      sync.Mutex
	state   string        // what the last check found, for /healthz
	lag     time.Duration // the last lag measured (-1: unknown)
	lastLog time.Time     // of the last rate-limited fallback line

	stop chan struct{}
	done chan struct{}
}

// ReplicaStatus is what the last check found, for /healthz and metrics.
type ReplicaStatus struct {
	// Configured is false when no replica is set: every read goes to the primary.
	Configured bool
	// Serving is true while reports are read from the replica.
	Serving bool
	// State says why not (or "serving") in a few words.
	State string
	// Lag is the replica's last measured replay lag (-1: unknown).
	Lag time.Duration
	// Reads counts reads served by the replica; Fallbacks those sent
	// to the primary instead because the replica was down, lagging, or
	// failed mid-read.
	Reads, Fallbacks int64
}

// WithReplica connects to a streaming replica (a hot standby of the
// primary) and sends read-only report queries to it while it is up and at
// most maxLag (<= 0: DefaultReplicaMaxLag) behind; otherwise they go to the
// primary. Only reads whose result may be a few seconds stale use it:
// Report, ListRefusals, ListConversions and ListClicks. Intake,
// idempotency, attribution and every read that follows a write in the same
// request stay on the primary. The replica's state is checked every second
// in the background; a replica that cannot be reached at start is not an
// error (reports use the primary until it answers). Call before serving;
// Close closes it.
func (s *Store) WithReplica(ctx context.Context, url string, maxLag time.Duration) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return errors.New("store: the replica URL is not valid") // the error may quote the password
	}
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	cfg.MaxConns = max(4, s.pool.Config().MaxConns/2)
	cfg.ConnConfig.Tracer = s.pool.Config().ConnConfig.Tracer
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: replica: %w", translate(err))
	}
	if maxLag <= 0 {
		maxLag = DefaultReplicaMaxLag
	}
	r := &replica{pool: pool, maxLag: maxLag, state: "not checked yet", lag: -1, stop: make(chan struct{}), done: make(chan struct{})}
	s.replica = r
	s.checkReplica(ctx)
	go func() {
		defer close(r.done)
		t := time.NewTicker(replicaCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				s.checkReplica(cctx)
				cancel()
			}
		}
	}()
	return nil
}

func (s *Store) closeReplica() {
	if r := s.replica; r != nil {
		close(r.stop)
		<-r.done
		r.pool.Close()
	}
}

// checkReplica measures the replica's lag and sets whether it may serve.
// The lag is zero when the replica has replayed all the WAL the primary had
// written when asked (an idle primary writes no commits, so the time of the
// last replayed one would grow without the replica falling behind);
// otherwise it is the age of the last transaction replayed.
func (s *Store) checkReplica(ctx context.Context) {
	r := s.replica
	var primaryLSN string
	if err := s.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&primaryLSN); err != nil {
		r.set(s, false, "primary unavailable", -1)
		return
	}
	var standby, caughtUp bool
	var lag *float64
	err := r.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(),
		coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false),
		extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8`, primaryLSN).Scan(&standby, &caughtUp, &lag)
	switch {
	case err != nil:
		r.set(s, false, "replica unavailable", -1)
	case !standby:
		// Promoted, or not a standby at all: its data may have left the
		// primary's, so reports stay on the primary.
		r.set(s, false, "replica is not a standby (pg_is_in_recovery is false)", -1)
	case caughtUp:
		r.set(s, true, "serving", 0)
	case lag == nil:
		r.set(s, false, "replica has replayed no transaction yet", -1)
	default:
		d := time.Duration(*lag * float64(time.Second))
		if d > r.maxLag {
			r.set(s, false, fmt.Sprintf("replica lags %s (more than %s)", d.Round(100*time.Millisecond), r.maxLag), d)
		} else {
			r.set(s, true, "serving", d)
		}
	}
}

// set records a check's outcome and logs a change of state, once.
func (r *replica) set(s *Store, usable bool, state string, lag time.Duration) {
	r.mu.Lock()
	was, wasState := r.usable.Load(), r.state
	r.state, r.lag = state, lag
	r.usable.Store(usable)
	r.mu.Unlock()
	switch {
	case usable && !was:
		s.log.Info("read replica serving reports", "lag", lag.String())
	case !usable && (was || (state != wasState && !sameKind(state, wasState))):
		s.log.Warn("read replica not used: reports read the primary", "reason", state)
	}
}

// sameKind is true for two lagging states (the figure changes every check;
// the line is written once).
func sameKind(a, b string) bool {
	const p = "replica lags "
	return len(a) > len(p) && len(b) > len(p) && a[:len(p)] == p && b[:len(p)] == p
}

// ReplicaStatus reports the replica's state.
func (s *Store) ReplicaStatus() ReplicaStatus {
	r := s.replica
	if r == nil {
		return ReplicaStatus{State: "no replica configured", Lag: -1}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplicaStatus{Configured: true, Serving: r.usable.Load(), State: r.state, Lag: r.lag, Reads: r.reads.Load(), Fallbacks: r.falls.Load()}
}

// read runs f on the replica when it may serve, else on the primary. A
// read that fails on the replica (it went down, or a query was cancelled
// by a conflict with recovery) is run again on the primary: reads are
// read-only, so running one twice is harmless.
func (s *Store) read(ctx context.Context, f func(q querier) error) error {
	r := s.replica
	if r == nil {
		return f(s.pool)
	}
	if !r.usable.Load() {
		r.falls.Add(1)
		return f(s.pool)
	}
	err := f(r.pool)
	if err == nil {
		r.reads.Add(1)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &pgErr) {
		r.set(s, false, "replica unavailable", -1) // the next check tells when it is back
	}
	r.falls.Add(1)
	r.mu.Lock()
	logIt := time.Since(r.lastLog) >= replicaLogEvery
	if logIt {
		r.lastLog = time.Now()
	}
	r.mu.Unlock()
	if logIt {
		s.log.Warn("a report read failed on the read replica; read the primary instead (logged once a minute)", "error", err.Error())
	}
	return f(s.pool)
}
