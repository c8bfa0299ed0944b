package store

import "github.com/jackc/pgx/v5/pgxpool"

// PoolOf hands tests of this package the pool, to set up and inspect rows
// directly; nothing outside the tests sees it.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }
