package pgembed

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/testwait"
)

const helperEnv = "PGEMBED_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(runHelper(dir))
	}
	os.Exit(m.Run())
}

// runHelper is the child process of TestKilledParent: it starts a cluster,
// prints its URL and waits to be killed.
func runHelper(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Dir: dir})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString(c.URL() + "\n")
	// Wait to be killed (the test sends SIGKILL; SIGTERM ends it too).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return 0
}

// clusterDir returns a fresh directory the unprivileged postgres user can
// reach when the tests run as root (t.TempDir's parent directory is mode 0700).
func clusterDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "postgres")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func readNote(t *testing.T, url string) string {
	t.Helper()
	var note string
	if err := connect(t, url).QueryRow(context.Background(), "SELECT note FROM notes").Scan(&note); err != nil {
		t.Fatalf("reading row: %v", err)
	}
	return note
}

func TestStartStopRestart(t *testing.T) {
	dir := clusterDir(t)
	c := start(t, Config{Dir: dir})

	if !strings.HasPrefix(c.URL(), "postgres://postgres:") || !strings.Contains(c.URL(), "@127.0.0.1:") ||
		!strings.HasSuffix(c.URL(), "/baton?sslmode=disable") {
		t.Errorf("unexpected URL %q", c.URL())
	}
	conn := connect(t, c.URL())
	var db, fsync, listen string
	if err := conn.QueryRow(context.Background(),
		"SELECT current_database(), current_setting('fsync'), current_setting('listen_addresses')").
		Scan(&db, &fsync, &listen); err != nil {
		t.Fatal(err)
	}
	if db != "baton" || fsync != "on" || listen != "127.0.0.1" {
		t.Errorf("database %q fsync %q listen_addresses %q", db, fsync, listen)
	}
	exec1(t, conn, "CREATE TABLE notes (note text NOT NULL)")
	exec1(t, conn, "INSERT INTO notes VALUES ($1)", "survives restarts")
	conn.Close(context.Background())

	// A second cluster on the same directory must be refused while the first runs.
	if _, err := Start(context.Background(), Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Start on a running cluster: got %v, want an in-use error", err)
	}

	pw, err := os.Stat(filepath.Join(c.Dir(), passwordFile))
	if err != nil {
		t.Fatal(err)
	}
	if pw.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v, want 0600", pw.Mode().Perm())
	}
	// A wrong password must be rejected (scram authentication, not trust).
	bad := strings.Replace(c.URL(), "postgres://postgres:", "postgres://postgres:x", 1)
	if conn, err := pgx.Connect(context.Background(), bad); err == nil {
		conn.Close(context.Background())
		t.Error("connected with a wrong password")
	}

	stop(t, c)
	stop(t, c) // second Stop is a no-op
	if _, err := pgx.Connect(context.Background(), c.URL()); err == nil {
		t.Error("server still accepts connections after Stop")
	}

	c2 := start(t, Config{Dir: dir, Logger: testLogger(t)})
	if got := readNote(t, c2.URL()); got != "survives restarts" {
		t.Errorf("after restart read %q", got)
	}
	if _, err := os.Stat(filepath.Join(c2.Dir(), logFileName)); err != nil {
		t.Errorf("server log: %v", err)
	}
	stop(t, c2)
}

func TestFixedPortAndDatabase(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, Config{Dir: clusterDir(t), Port: port, Database: `odd "name"`})
	var db string
	if err := connect(t, c.URL()).QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db != `odd "name"` {
		t.Errorf("current_database() = %q", db)
	}
	if c.port != port {
		t.Errorf("port %d, want %d", c.port, port)
	}
}

// TestKilledParent kills the process owning a cluster with SIGKILL and checks
// that postgres goes down with it and the cluster restarts with its data.
func TestKilledParent(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := clusterDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper did not report a URL: %v", err)
	}
	url = strings.TrimSpace(url)
	conn := connect(t, url)
	exec1(t, conn, "CREATE TABLE notes (note text NOT NULL)")
	exec1(t, conn, "INSERT INTO notes VALUES ('committed before kill -9')")

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// The parent-death signal must take postgres down on its own.
	if !testwait.Poll(30*time.Second, func() bool {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return true
		}
		c.Close(context.Background())
		return false
	}) {
		t.Fatal("postgres still running 30s after its parent was killed")
	}

	c := start(t, Config{Dir: dir})
	if got := readNote(t, c.URL()); got != "committed before kill -9" {
		t.Errorf("after restart read %q", got)
	}
	stop(t, c)
}

// TestStalePidFile simulates a crash that left postmaster.pid naming a live,
// unrelated process (a reused PID), which postgres alone would refuse.
func TestStalePidFile(t *testing.T) {
	dir := clusterDir(t)
	c := start(t, Config{Dir: dir})
	stop(t, c)
	pidFile := filepath.Join(c.Dir(), dataSubdir, "postmaster.pid")
	stale := "1\n" + filepath.Join(c.Dir(), dataSubdir) + "\n1700000000\n5432\n\n127.0.0.1\n  5432001   0\nready   \n"
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c = start(t, Config{Dir: dir})
	stop(t, c)
}

// TestRelocatesUnreachableDir runs only as root: a Dir the postgres user
// cannot reach moves the cluster to the fallback location, persistently.
func TestRelocatesUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := clusterDir(t)
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	old := fallbackBase
	fallbackBase = filepath.Join(base, "fallback")
	t.Cleanup(func() { fallbackBase = old })

	private := filepath.Join(base, "private") // like /root: mode 0700, owned by root
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(private, "postgres")
	c := start(t, Config{Dir: dir})
	want := filepath.Join(fallbackBase, "pg-"+shortHash(dir))
	if c.Dir() != want {
		t.Fatalf("Dir() = %q, want %q", c.Dir(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "RELOCATED.txt")); err != nil {
		t.Errorf("no relocation note: %v", err)
	}
	exec1(t, connect(t, c.URL()), "CREATE TABLE notes AS SELECT 'relocated'::text AS note")
	stop(t, c)

	c = start(t, Config{Dir: dir})
	if c.Dir() != want {
		t.Errorf("after restart Dir() = %q, want %q", c.Dir(), want)
	}
	if got := readNote(t, c.URL()); got != "relocated" {
		t.Errorf("after restart read %q", got)
	}
	stop(t, c)
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Config{}); err == nil {
		t.Error("Start with empty Dir succeeded")
	}
	if _, err := Start(ctx, Config{Dir: t.TempDir(), Port: 70000}); err == nil {
		t.Error("Start with port 70000 succeeded")
	}
	// A data directory that is not a cluster is never touched.
	dir := clusterDir(t)
	if err := os.MkdirAll(filepath.Join(dir, dataSubdir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dataSubdir, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(ctx, Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("Start on a foreign data directory: %v", err)
	}
}

// TestFetchBinaries downloads PostgreSQL from Maven Central (tens of MB), so
// it runs only with PGEMBED_TEST_FETCH=1. It then runs a cluster on them.
func TestFetchBinaries(t *testing.T) {
	if os.Getenv("PGEMBED_TEST_FETCH") != "1" {
		t.Skip("set PGEMBED_TEST_FETCH=1 to test downloading binaries")
	}
	old := installedDirs
	installedDirs = func(context.Context) []string { return nil }
	t.Cleanup(func() { installedDirs = old })

	dir := clusterDir(t)
	c := start(t, Config{Dir: dir})
	b, err := probe(context.Background(), filepath.Join(filepath.Dir(dir), "pgbin", string(fetchVersions[fetchMajor]), "bin"))
	if err != nil || b.major != fetchMajor {
		t.Fatalf("downloaded binaries: %+v, %v", b, err)
	}
	var v string
	if err := connect(t, c.URL()).QueryRow(context.Background(), "SHOW server_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, b.version) {
		t.Errorf("server_version %q, downloaded %q", v, b.version)
	}
	stop(t, c)
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "pgbin", "fetch-*")); len(matches) > 0 {
		t.Errorf("download left %v behind", matches)
	}
}

func TestVersionedDirs(t *testing.T) {
	d := t.TempDir()
	for _, v := range []string{"9.6", "15", "14", "17"} {
		if err := os.MkdirAll(filepath.Join(d, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := versionedDirs(filepath.Join(d, "*", "bin"))
	var vs []string
	for _, g := range got {
		vs = append(vs, filepath.Base(filepath.Dir(g)))
	}
	if strings.Join(vs, " ") != "17 15 14 9.6" {
		t.Errorf("order %v", vs)
	}
}

// TestRelocatedClusterDiesWithItsDir runs only as root: deleting the data
// directory of a relocated cluster deletes the cluster at the next start,
// so a new directory at the same path starts empty (never gets the old
// data back), and clusters of directories deleted meanwhile are swept.
func TestRelocatedClusterDiesWithItsDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := clusterDir(t)
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	old := fallbackBase
	fallbackBase = filepath.Join(base, "fallback")
	t.Cleanup(func() { fallbackBase = old })
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir, other := filepath.Join(private, "a", "postgres"), filepath.Join(private, "b", "postgres")
	c := start(t, Config{Dir: dir})
	first := c.Dir()
	exec1(t, connect(t, c.URL()), "CREATE TABLE notes AS SELECT 'old data'::text AS note")
	stop(t, c)
	c = start(t, Config{Dir: other})
	otherFallback := c.Dir()
	stop(t, c)

	// The data directory is deleted and made again at the same path.
	if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
		t.Fatal(err)
	}
	c = start(t, Config{Dir: dir})
	var n int
	if err := connect(t, c.URL()).QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'").Scan(&n); err != nil || n != 0 {
		t.Errorf("a new directory at the same path got the old data back (%d, %v)", n, err)
	}
	if c.Dir() != first {
		t.Errorf("Dir() = %q, want %q", c.Dir(), first)
	}
	stop(t, c)

	// other's directory is deleted: the next start of any cluster sweeps
	// its relocated cluster.
	if err := os.RemoveAll(filepath.Dir(other)); err != nil {
		t.Fatal(err)
	}
	c = start(t, Config{Dir: dir})
	stop(t, c)
	if _, err := os.Stat(otherFallback); !os.IsNotExist(err) {
		t.Errorf("the cluster of a deleted directory is still there: %v", err)
	}
}
