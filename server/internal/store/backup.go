package store

import "context"

// HasTables reports whether the database holds any table outside the
// system schemas: `baton restore` refuses such a database rather than mix a
// backup into existing data.
func (s *Store) HasTables(ctx context.Context) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))`).Scan(&found)
	return found, translate(err)
}
