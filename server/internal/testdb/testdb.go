// Package testdb gives tests real PostgreSQL databases.
//
// Each call to URL creates a brand-new empty database that is dropped when the
// test ends. Databases live on the server named by BATON_TEST_DATABASE_URL
// when it is set (a URL whose user may create databases, e.g.
// postgres://postgres:pw@localhost:5432/postgres?sslmode=disable); otherwise
// one private pgembed cluster is started per test process, in a temporary
// directory, on first use.
//
// Packages using it should call Main from TestMain so that cluster is shut
// down and its directory removed:
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
//
// Without Main the cluster still stops when the test process exits (Linux
// parent-death signal), but its temporary directory is left behind.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/batonhq/baton/server/internal/pgembed"
)

// EnvURL names the environment variable that points the tests at an existing
// server instead of an embedded cluster.
const EnvURL = "BATON_TEST_DATABASE_URL"

const opTimeout = time.Minute

// state is the per-process server, set up once by setup.
var (
	once     sync.Once
	mu       sync.Mutex // guards the fields below against Main's shutdown
	adminURL string
	cluster  *pgembed.Cluster
	pool     *pgxpool.Pool
	tmpDir   string
	setupErr error
)

// Main runs the tests, then stops the cluster started by this process (if
// any) and removes its directory. It returns the exit code for os.Exit,
// turning success into failure if the shutdown fails.
func Main(m *testing.M) int {
	code := m.Run()
	if err := shutdown(); err != nil {
		slog.New(slog.NewTextHandler(os.Stderr, nil)).Error("testdb: shutting down test database server", "err", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if pool != nil {
		pool.Close()
		pool = nil
	}
	var err error
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		err = cluster.Stop(ctx)
		cluster = nil
	}
	if tmpDir != "" {
		err = errors.Join(err, os.RemoveAll(tmpDir))
		tmpDir = ""
	}
	return err
}

// URL returns the connection URL of a new, empty database created for this
// test, with a unique name "t_<16 hex digits>". The database is dropped (WITH
// FORCE, so open connections do not prevent it) in t.Cleanup. The URL carries
// the server's credentials and may be used with pgx directly. Safe for
// parallel tests. Fails the test if no server is available.
func URL(t testing.TB) string {
	t.Helper()
	p := admin(t)
	name := "t_" + randomHex(8)
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := createDatabase(ctx, p, ident); err != nil {
		t.Fatalf("testdb: creating database %s: %v", name, err)
	}
	// Cleanup runs after the test's own context is cancelled, so use a fresh one.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := p.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: dropping database %s: %v", name, err)
		}
	})
	u, err := withDatabase(adminURL, name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return u
}

// Server returns the admin URL of the server (its user may create and drop
// databases; its database is "postgres" for the embedded cluster) and the
// cluster when this process started it, or nil when BATON_TEST_DATABASE_URL is
// used. The cluster is shared by every test in the process: do not Stop it;
// use Restart.
func Server(t testing.TB) (url string, c *pgembed.Cluster) {
	t.Helper()
	admin(t)
	mu.Lock()
	defer mu.Unlock()
	return adminURL, cluster
}

// Restart stops the embedded cluster (fast shutdown) and starts it again on
// the same directory and port, so every URL handed out stays valid and the
// databases keep their contents. Connections open across the restart break.
// It must not run in parallel with other tests using the server. The test is
// skipped when BATON_TEST_DATABASE_URL is used.
func Restart(t testing.TB) {
	t.Helper()
	admin(t)
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil {
		t.Skipf("testdb: Restart needs the embedded cluster; %s is set", EnvURL)
	}
	u, err := url.Parse(cluster.URL())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("testdb: port of %s: %v", redact(cluster.URL()), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := cluster.Stop(ctx); err != nil {
		t.Fatalf("testdb: stopping cluster: %v", err)
	}
	c, err := pgembed.Start(ctx, clusterConfig(cluster.Dir(), port))
	if err != nil {
		t.Fatalf("testdb: restarting cluster: %v", err)
	}
	cluster = c
	pool.Reset() // drop connections to the old server
}

func clusterConfig(dir string, port int) pgembed.Config {
	return pgembed.Config{
		Dir:      dir,
		Port:     port,
		Database: "postgres",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// admin sets up the server on first use and returns a pool connected to its
// admin database.
func admin(t testing.TB) *pgxpool.Pool {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("testdb: no PostgreSQL server for tests: %v", setupErr)
	}
	mu.Lock()
	defer mu.Unlock()
	if pool == nil {
		t.Fatal("testdb: the test database server was already shut down by Main")
	}
	return pool
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // may download binaries
	defer cancel()
	mu.Lock()
	defer mu.Unlock()

	adminURL = os.Getenv(EnvURL)
	if adminURL == "" {
		dir, err := os.MkdirTemp("", "baton-testdb-")
		if err != nil {
			return err
		}
		tmpDir = dir
		// Tests running as root start postgres as an unprivileged user, which
		// must be able to enter this directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		cluster, err = pgembed.Start(ctx, clusterConfig(filepath.Join(dir, "postgres"), 0))
		if err != nil {
			return err
		}
		adminURL = cluster.URL()
	} else if _, err := withDatabase(adminURL, "x"); err != nil {
		return fmt.Errorf("%s: %w", EnvURL, err)
	}

	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		return fmt.Errorf("parsing admin URL: %w", err)
	}
	cfg.MaxConns = 4
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(adminURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(adminURL), err)
	}
	return nil
}

// createDatabase retries briefly when concurrent creations collide on the
// template database (SQLSTATE 55006, object_in_use).
func createDatabase(ctx context.Context, p *pgxpool.Pool, ident string) error {
	for attempt := 1; ; attempt++ {
		_, err := p.Exec(ctx, "CREATE DATABASE "+ident)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 10 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// withDatabase returns serverURL with its database replaced by db.
func withDatabase(serverURL, db string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("want a postgres:// URL, got %q", redact(serverURL))
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String(), nil
}

// redact hides the password in a URL for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error on supported platforms
	return hex.EncodeToString(b)
}
