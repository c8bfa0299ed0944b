package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOf hands tests of this package the pool, to set up and inspect rows
// directly; nothing outside the tests sees it.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }

// MigrateUpTo applies the migrations up to version last, to test upgrades
// from a schema of that version.
func MigrateUpTo(ctx context.Context, s *Store, last int) ([]int, error) {
	return migrateUpTo(ctx, s.pool, last)
}

// ShortenListenIdle makes the configuration listener check its idle
// connection every d, until the returned function restores the default.
// Not for parallel tests.
func ShortenListenIdle(d time.Duration) (restore func()) {
	old := listenIdle
	listenIdle = d
	return func() { listenIdle = old }
}
