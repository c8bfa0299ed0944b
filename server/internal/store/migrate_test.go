package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/batonhq/baton/server/internal/store"
)

// TestMigrateRefusesANewerSchemaAndChangedMigrations: a database migrated
// by a newer Baton (a version this binary does not know) is refused, as is
// one where an applied migration's text differs from the binary's (edited
// after release): starting would run old code on a schema it does not
// know.
func TestMigrateRefusesANewerSchemaAndChangedMigrations(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := store.PoolOf(st).Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future.sql')`)
	if _, err := st.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("schema version 9999: err = %v, want a refusal saying the schema is newer", err)
	}
	exec(`DELETE FROM schema_migrations WHERE version = 9999`)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("back to the known versions: %v", err)
	}
	var checksum string
	if err := store.PoolOf(st).QueryRow(ctx, `SELECT checksum FROM schema_migrations WHERE version = 1`).Scan(&checksum); err != nil || len(checksum) != 64 {
		t.Fatalf("applied migrations carry no checksum: %q %v", checksum, err)
	}
	exec(`UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1`)
	_, err := st.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("changed migration: err = %v, want a checksum refusal", err)
	}
}
