package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/pgembed"
	"github.com/batonhq/baton/server/internal/store"
)

// Backup writes Baton's database to file as a pg_dump archive (custom
// format: compressed, restorable table by table with pg_restore). With the
// embedded cluster it starts the cluster of cfg.DataDir for the dump, so
// Baton must not be running on that directory; with BATON_DATABASE_URL it
// dumps that database, running or not (pg_dump takes a consistent
// snapshot).
//
// The archive holds partner secrets sealed with the master key, not the key:
// restoring needs the same key (the data directory's master.key or
// BATON_MASTER_KEY), which is to be kept apart from the backups.
func Backup(ctx context.Context, cfg config.Config, file string, log *slog.Logger) error {
	db, err := openRaw(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.stop()
	tool, err := pgTool(db.binDir, "pg_dump")
	if err != nil {
		return err
	}
	tmp := file + ".partial"
	if err := runPG(ctx, tool, db.url, "--format=custom", "--no-owner", "--file="+tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	// Only a complete dump gets the name asked for.
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Restore loads a Backup archive into an empty database: the embedded
// cluster of cfg.DataDir (created if new) or BATON_DATABASE_URL. It refuses
// a database that already has tables, and a data directory without the
// master key the backup's secrets are sealed with. It runs in one
// transaction: on any error nothing is restored.
func Restore(ctx context.Context, cfg config.Config, file string, log *slog.Logger) error {
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if cfg.MasterKey == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "master.key")); err != nil {
			return fmt.Errorf("restore: no master key: the backup's partner secrets are sealed with the key of "+
				"the Baton it was taken from; copy its master.key into %s (or set BATON_MASTER_KEY) first", cfg.DataDir)
		}
	}
	db, err := openRaw(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.stop()
	st, err := store.Open(ctx, db.url, store.Options{MaxConns: 1, Logger: log})
	if err != nil {
		return err
	}
	has, err := st.HasTables(ctx)
	st.Close()
	if err != nil {
		return err
	}
	if has {
		return errors.New("restore: the database already holds tables; restore into a new data directory " +
			"(BATON_DATA_DIR) or an empty database (BATON_DATABASE_URL)")
	}
	tool, err := pgTool(db.binDir, "pg_restore")
	if err != nil {
		return err
	}
	if err := runPG(ctx, tool, db.url, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", file); err != nil {
		return fmt.Errorf("restore (nothing was restored): %w", err)
	}
	return nil
}

type rawDB struct {
	url    string
	binDir string // "" for an external database: tools from PATH
	stop   func()
}

// openRaw gives the database's URL without migrating it.
func openRaw(ctx context.Context, cfg config.Config, log *slog.Logger) (rawDB, error) {
	if cfg.DatabaseURL != "" {
		return rawDB{url: cfg.DatabaseURL, stop: func() {}}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
		return rawDB{}, fmt.Errorf("data directory: %w", err)
	}
	c, err := pgembed.Start(ctx, pgembed.Config{Dir: filepath.Join(cfg.DataDir, "postgres"), Database: "baton",
		Logger: log.With("component", "pgembed")})
	if err != nil {
		return rawDB{}, fmt.Errorf("embedded PostgreSQL of %s (is Baton running on it? stop it first): %w", cfg.DataDir, err)
	}
	return rawDB{url: c.URL(), binDir: c.BinDir(), stop: func() { _ = c.Stop(context.Background()) }}, nil
}

// pgTool finds a PostgreSQL client program: next to the embedded cluster's
// server (same version), else on PATH.
func pgTool(binDir, name string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found next to PostgreSQL (%s) nor on PATH: install PostgreSQL's client programs "+
			"(Debian: postgresql-client)", name, binDir)
	}
	return p, nil
}

// runPG runs a PostgreSQL client on dbURL. The password goes in PGPASSWORD,
// not on the command line, where other users could read it.
func runPG(ctx context.Context, tool, dbURL string, args ...string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return errors.New("the database URL is not valid")
	}
	env := os.Environ()
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	cmd := exec.CommandContext(ctx, tool, append([]string{"--dbname=" + u.String()}, args...)...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, msg)
	}
	return nil
}
