// Package store is the only package that speaks SQL. It owns the schema
// (numbered migrations embedded in the binary), runs every query through
// pgx v5, and translates database errors into the sentinels of package
// domain, so no pgx type leaks past it.
package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
	"github.com/batonhq/baton/server/internal/secretbox"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is Baton's database.
type Store struct {
	pool *pgxpool.Pool
	// node marks this Store's configuration announcements (notify.go).
	node string
	jobs *river.Client[pgx.Tx]        // inserts postback jobs (outbox.go)
	send atomic.Pointer[pgxpool.Pool] // the postback workers' own connections (outbox.go)
	box  *secretbox.Box
	ids  *ids.Source
	now  func() time.Time
	log  *slog.Logger
	// clicksIn, when set, is waited on before clicks are read (clickload.go).
	clicksIn ClickBarrier
	// replica, when set, serves read-only report queries (reader.go).
	replica *replica
	// windowPurged is when ended duplicate-click windows were last deleted
	// (Unix ns; clickwindow.go).
	windowPurged atomic.Int64
}

// Options configure Open.
type Options struct {
	// MaxConns caps the pool; 0 means pgx's default (max(4, CPUs)).
	MaxConns int32
	Box      *secretbox.Box
	IDs      *ids.Source      // nil: ids.Default
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: discard
	Tracer   pgx.QueryTracer  // optional
}

// Open connects to url and checks the connection. It does not migrate.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: do not wrap it.
		return nil, errors.New("store: the database URL is not valid")
	}
	// The default (max(4, CPUs)) starves 50 postback workers and concurrent
	// requests that each hold a connection for a transaction.
	cfg.MaxConns = max(16, 4*int32(runtime.GOMAXPROCS(0)))
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.ConnConfig.Tracer = opts.Tracer
	// Fail fast when the database is down, so callers answer 503 instead of
	// hanging; the pool reconnects by itself when it is back.
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", translate(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach the database: %w", translate(err))
	}
	s := &Store{pool: pool, node: newNodeToken(), box: opts.Box, ids: opts.IDs, now: opts.Now, log: opts.Logger}
	if s.ids == nil {
		s.ids = ids.Default
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.jobs, err = newJobInserter(s); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool (and the postback workers').
func (s *Store) Close() {
	if p := s.send.Load(); p != nil {
		p.Close()
	}
	s.closeReplica()
	s.pool.Close()
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return translate(s.pool.Ping(ctx)) }

// ConnString is the connection string the store was opened with (the
// benchmark opens its own pool for its baseline). It holds the password.
func (s *Store) ConnString() string { return s.pool.Config().ConnString() }

// Migrate applies the embedded migrations that are not applied yet, each in
// its own transaction, under an advisory lock so that two processes starting
// at once do not race. It returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	return Migrate(ctx, s.pool)
}

type migration struct {
	version int
	name    string
	sql     string
}

// checksum is the hex SHA-256 of the migration's SQL.
func (m migration) checksum() string {
	sum := sha256.Sum256([]byte(m.sql))
	return hex.EncodeToString(sum[:])
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("store: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// migrationLock is the advisory lock key held while migrating ("baton" in ASCII).
const migrationLock = 0x626174_6f6e

// Migrate applies pending migrations on pool; see Store.Migrate.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	return migrateUpTo(ctx, pool, int(^uint(0)>>1))
}

// migrateUpTo is Migrate stopping after version last (tests of upgrades).
func migrateUpTo(ctx context.Context, pool *pgxpool.Pool, last int) ([]int, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", translate(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return nil, fmt.Errorf("store: migrate: lock: %w", translate(err))
	}
	defer func() {
		// A fresh context: the caller's may be cancelled by now.
		unlockCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("store: migrate: %w", translate(err))
	}
	// Each applied migration's SHA-256, so that one edited after it was
	// applied is noticed; rows from before checksums get theirs now.
	if _, err := conn.Exec(ctx, `ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text NOT NULL DEFAULT ''`); err != nil {
		return nil, fmt.Errorf("store: migrate: %w", translate(err))
	}
	type row struct {
		Version  int32
		Checksum string
	}
	rows, _ := conn.Query(ctx, `SELECT version, checksum FROM schema_migrations ORDER BY version`)
	done, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", translate(err))
	}
	known := map[int]migration{}
	for _, m := range all {
		known[m.version] = m
	}
	applied := map[int]bool{}
	for _, r := range done {
		v := int(r.Version)
		applied[v] = true
		m, ok := known[v]
		if !ok {
			return nil, fmt.Errorf("store: the database's schema (migration %d) is newer than this binary knows (up to %d): run the Baton that migrated it, or a newer one", v, all[len(all)-1].version)
		}
		switch sum := m.checksum(); r.Checksum {
		case sum:
		case "":
			if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET checksum = $2 WHERE version = $1`, v, sum); err != nil {
				return nil, fmt.Errorf("store: migrate: %w", translate(err))
			}
		default:
			return nil, fmt.Errorf("store: migration %s was applied with checksum %s but this binary's has %s: it was changed after it was applied", m.name, r.Checksum, sum)
		}
	}
	var ran []int
	for _, m := range all {
		if applied[m.version] || m.version > last {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, m.version, m.name, m.checksum())
			return err
		})
		if err != nil {
			return ran, fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		ran = append(ran, m.version)
	}
	return ran, nil
}

// translate maps pgx and network errors to domain errors, once, here: the
// caller's text is fixed, the driver's error kept as the cause for logs.
// SQLSTATEs are named as in PostgreSQL's errcodes (package pgerrcode).
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Wrap(domain.ErrNotFound, err, "")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == pgerrcode.UniqueViolation:
			return domain.Wrap(domain.ErrAlreadyExists, err, "%s", pgErr.ConstraintName)
		case pgErr.Code == pgerrcode.CharacterNotInRepertoire: // a NUL in text
			return &domain.Error{Kind: domain.ErrInvalid, Field: "text", Public: "a string contains a NUL (\\u0000) character, which cannot be stored", Cause: err}
		case pgerrcode.IsDataException(pgErr.Code): // the caller's value, not our fault
			return &domain.Error{Kind: domain.ErrInvalid, Field: "value", Public: "a value is out of range or malformed", Cause: err}
		case pgErr.Code == pgerrcode.ForeignKeyViolation:
			return domain.Wrap(domain.ErrFailedPrecondition, err, "a referenced record does not exist")
		case pgErr.Code == pgerrcode.AdminShutdown, pgErr.Code == pgerrcode.CrashShutdown, pgErr.Code == pgerrcode.CannotConnectNow,
			pgerrcode.IsConnectionException(pgErr.Code),
			pgErr.Code == pgerrcode.TooManyConnections, pgErr.Code == pgerrcode.ConfigurationLimitExceeded,
			// A transaction chosen as a deadlock's victim, or one that waited
			// past lock_timeout, may simply be tried again.
			pgErr.Code == pgerrcode.DeadlockDetected, pgErr.Code == pgerrcode.LockNotAvailable:
			return domain.Wrap(domain.ErrUnavailable, err, "")
		}
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return domain.Wrap(domain.ErrUnavailable, err, "")
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return domain.Wrap(domain.ErrUnavailable, err, "")
	}
	return err
}

// isUniqueViolation reports whether err is a unique violation of constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation && pgErr.ConstraintName == constraint
}

// pageSize normalises a requested page size.
func pageSize(p domain.Page) int {
	switch {
	case p.Size <= 0:
		return domain.DefaultPageSize
	case p.Size > 1000:
		return 1000
	}
	return p.Size
}

// nextAfter trims a page read with limit size+1 and returns the cursor for
// the next page ("" when this was the last).
func nextAfter[T any](items []T, size int, id func(T) string) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, id(items[size-1])
}

// HashEmail returns the keyed hash Baton stores for a buyer email (lower
// case, trimmed).
func (s *Store) HashEmail(email string) string {
	if email == "" {
		return ""
	}
	return s.box.Hash(strings.ToLower(strings.TrimSpace(email)))
}

// optTime turns a zero time (no bound) into SQL NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
