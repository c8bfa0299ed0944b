// Package pgembed starts and owns a private PostgreSQL cluster stored under a
// data directory, so that Baton runs without any database being configured.
//
// # Files
//
// The cluster directory (Config.Dir, or a relocated directory when running as
// root, see below) holds:
//
//	data/         the PostgreSQL data directory (PGDATA)
//	password      superuser password, mode 0600
//	postgres.log  server log (stdout/stderr of postgres), rotated to postgres.log.1 at 16 MiB
//	baton.lock    flock held while a Cluster is running, so two processes never share a cluster
//
// Binaries fetched by the fallback (see below) are cached next to the cluster
// directory in ../pgbin.
//
// # Binaries
//
// Installed binaries are preferred: the directory reported by `pg_config
// --bindir`, then `postgres`/`initdb` on PATH, then
// /usr/lib/postgresql/<highest>/bin (Debian), /usr/pgsql-<highest>/bin (RHEL)
// and /usr/local/pgsql/bin. PostgreSQL 14 or newer is required; an existing
// cluster is always run with binaries of the major version that created it.
// Only when no suitable binaries are installed are they downloaded, see
// fetchBinaries.
//
// # Authentication
//
// The cluster is initialised with scram-sha-256 authentication for every
// connection and a random 256-bit superuser password (user "postgres") kept
// in the password file. It listens only on 127.0.0.1 and has no Unix socket.
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the process is root, initdb and
// postgres run as the owner of an existing cluster, or else as the "postgres"
// user, or else as "nobody", and the cluster directory is chowned to that
// user. If that user cannot reach Config.Dir (for example it is under /root,
// mode 0700), the cluster is placed in /var/lib/baton/pg-<hash of Dir>
// instead, a note saying so is written to Dir/RELOCATED.txt, and the move is
// logged. The choice is stable across restarts. The relocated cluster is tied
// to Dir by a random ID written to both: once Dir is deleted, the next Start
// (of any cluster) deletes the relocated one, so a new Dir at the same path
// starts empty instead of getting the old data back, and no orphaned
// clusters pile up in /var/lib/baton.
//
// # Lifetime
//
// postgres is a direct child process started with a parent-death signal
// (Linux), so it performs a fast shutdown even when the owning process is
// killed with SIGKILL. A later Start waits for such a previous server to
// finish exiting and removes a stale postmaster.pid.
//
// While the Cluster runs, postgres is supervised: if it exits without Stop
// (killed, crashed), it is started again on the same port and data
// directory, with backoff from 250 ms to 15 s, so URL stays valid and pools
// reconnect. After five minutes without a successful restart Failed is
// closed, and the owner should exit non-zero.
package pgembed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	superuser       = "postgres"
	minMajor        = 14
	startTimeout    = 30 * time.Second
	maxLogSize      = 16 << 20
	defaultDB       = "baton"
	dataSubdir      = "data"
	passwordFile    = "password"
	logFileName     = "postgres.log"
	lockFileName    = "baton.lock"
	startAttempts   = 3 // with Port 0, retries when the picked port was taken meanwhile
	killGracePeriod = 5 * time.Second
)

// Config describes the cluster to start.
type Config struct {
	// Dir is where the cluster lives (for example $BATON_DATA_DIR/postgres).
	// It is created if missing and its data survives restarts. When running
	// as root it may be relocated; see the package documentation.
	Dir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free port at each start.
	Port int
	// Database is created if missing. Default "baton".
	Database string
	// Logger receives lifecycle messages; nil discards them. The server's own
	// log goes to postgres.log in the cluster directory.
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL server owned by this process.
type Cluster struct {
	logger   *slog.Logger
	dir      string
	dataDir  string
	port     int
	url      string // Config.Database
	adminURL string // maintenance database "postgres"

	cmd     *exec.Cmd
	exited  <-chan struct{} // closed once postgres has exited and waitErr is set
	waitErr error

	logFile *os.File
	lock    *os.File

	// What a restart needs (see supervise).
	bin      binaries
	runAs    *account
	password string

	quit     chan struct{} // closed by Stop: no more restarts
	quitOnce sync.Once
	failed   chan struct{} // closed when supervise gave up; failErr says why
	failErr  error

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Start initialises the cluster if needed, starts postgres, waits (up to 30 s)
// until it accepts connections and creates Config.Database if missing.
// ctx bounds the start-up work only, not the server's lifetime: call Stop.
// On error nothing is left running.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir == "" {
		return nil, errors.New("pgembed: Config.Dir is empty")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("pgembed: invalid port %d", cfg.Port)
	}
	db := cfg.Database
	if db == "" {
		db = defaultDB
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: resolving %q: %w", cfg.Dir, err)
	}

	lay, err := resolveLayout(dir, logger)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	lock, err := lockDir(lay.dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	c := &Cluster{logger: logger, dir: lay.dir, dataDir: filepath.Join(lay.dir, dataSubdir), lock: lock,
		quit: make(chan struct{}), failed: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			c.release()
		}
	}()

	bin, err := findBinaries(ctx, lay, logger)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := initCluster(ctx, lay, bin, logger); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	pw, err := os.ReadFile(filepath.Join(lay.dir, passwordFile))
	if err != nil {
		return nil, fmt.Errorf("pgembed: reading superuser password: %w", err)
	}
	password := strings.TrimSpace(string(pw))
	if err := waitForPreviousServer(ctx, c.dataDir, logger); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if c.logFile, err = openLog(filepath.Join(lay.dir, logFileName)); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}

	for attempt := 1; ; attempt++ {
		port := cfg.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("pgembed: %w", err)
			}
		}
		err = c.launch(ctx, bin, lay.runAs, port, password)
		if err == nil {
			break
		}
		if cfg.Port == 0 && attempt < startAttempts && errors.Is(err, errPortInUse) {
			logger.Warn("postgres port was taken, retrying with another", "port", port)
			continue
		}
		return nil, fmt.Errorf("pgembed: %w", err)
	}

	if err := c.createDatabase(ctx, db); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	c.url = connURL(c.port, password, db, "sslmode=disable")
	c.bin, c.runAs, c.password = bin, lay.runAs, password
	ok = true
	go c.supervise()
	logger.Info("embedded postgres ready", "dir", lay.dir, "version", bin.version, "pid", c.cmd.Process.Pid,
		"addr", c.host())
	return c, nil
}

// URL returns a connection URL for Config.Database, authenticating as the
// superuser with the cluster's password, e.g.
// postgres://postgres:PW@127.0.0.1:PORT/baton?sslmode=disable.
func (c *Cluster) URL() string { return c.url }

// Dir returns the directory the cluster actually lives in: Config.Dir, or its
// relocation when running as root (see the package documentation).
func (c *Cluster) Dir() string { return c.dir }

// BinDir is the directory of the PostgreSQL binaries the cluster runs with;
// its pg_dump and pg_restore (when present) match the server's version.
func (c *Cluster) BinDir() string { return c.bin.dir }

// Stop asks postgres for a fast shutdown (clients are disconnected, a
// checkpoint is written) and waits for it to exit. If ctx ends first, postgres
// is shut down immediately (safe: it recovers from WAL at the next start) and
// ctx's error is returned. Stop may be called more than once and concurrently;
// later calls return the first call's result. It reports an error if postgres
// had already exited on its own. Stop on a nil *Cluster does nothing.
func (c *Cluster) Stop(ctx context.Context) error {
	if c == nil {
		return nil
	}
	// First stop restarts (a restart in progress gives up at once), then
	// wait for the lock a restart may hold.
	c.quitOnce.Do(func() { close(c.quit) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	c.stopErr = c.shutdown(ctx)
	c.release()
	if c.stopErr == nil {
		c.logger.Info("embedded postgres stopped", "dir", c.dir)
	}
	return c.stopErr
}

// Failed is closed when postgres died and could not be restarted within
// restartBudget; Err then says why. The process should exit non-zero so
// that its own supervisor starts it again.
func (c *Cluster) Failed() <-chan struct{} { return c.failed }

// Err is why Failed was closed; nil before.
func (c *Cluster) Err() error {
	select {
	case <-c.failed:
		return c.failErr
	default:
		return nil
	}
}

const (
	restartBudget     = 5 * time.Minute
	restartMinBackoff = 250 * time.Millisecond
	restartMaxBackoff = 15 * time.Second
)

// supervise restarts postgres, on the same port and data directory, each
// time it exits without Stop having been called (killed, crashed, OOM):
// clients of URL reconnect to it unchanged. It retries with exponential
// backoff; after restartBudget without success it closes Failed.
func (c *Cluster) supervise() {
	for {
		c.mu.Lock()
		exited, stopped := c.exited, c.stopped
		c.mu.Unlock()
		if stopped {
			return
		}
		select {
		case <-c.quit:
			return
		case <-exited:
		}
		c.mu.Lock()
		stopped, waitErr := c.stopped, c.waitErr
		c.mu.Unlock()
		if stopped {
			return
		}
		c.logger.Error("embedded postgres exited unexpectedly; restarting it", "dir", c.dir, "error", waitErr)
		down := time.Now()
		backoff := restartMinBackoff
		for {
			err := c.restart()
			if err == nil {
				c.logger.Warn("embedded postgres restarted", "dir", c.dir, "pid", c.cmd.Process.Pid,
					"down", time.Since(down).Round(time.Millisecond))
				break
			}
			select {
			case <-c.quit:
				return
			default:
			}
			if time.Since(down) > restartBudget {
				c.failErr = fmt.Errorf("pgembed: postgres died and could not be restarted for %v: %w", restartBudget, err)
				c.logger.Error("giving up on the embedded postgres", "error", c.failErr)
				close(c.failed)
				return
			}
			c.logger.Warn("embedded postgres restart failed; retrying", "error", err, "in", backoff)
			select {
			case <-c.quit:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, restartMaxBackoff)
		}
	}
}

// restart waits for what is left of the dead server (its backends) to exit,
// then launches postgres again on the same port. Stop cancels it.
func (c *Cluster) restart() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := waitForPreviousServer(ctx, c.dataDir, c.logger); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("pgembed: stopped")
	}
	return c.launch(ctx, c.bin, c.runAs, c.port, c.password)
}

func (c *Cluster) shutdown(ctx context.Context) error {
	select {
	case <-c.exited:
		return fmt.Errorf("pgembed: postgres had already exited: %w%s", c.waitErr, c.logTail(0))
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgembed: signalling postgres: %w", err)
	}
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
	}
	c.logger.Warn("postgres fast shutdown timed out, shutting down immediately")
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(killGracePeriod):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	return fmt.Errorf("pgembed: stopping postgres: %w", ctx.Err())
}

// release closes the log and drops the directory lock.
func (c *Cluster) release() {
	if c.logFile != nil {
		_ = c.logFile.Close()
		c.logFile = nil
	}
	if c.lock != nil {
		_ = c.lock.Close()
		c.lock = nil
	}
}

func (c *Cluster) host() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// connURL is the URL of database db on this cluster as the superuser.
func connURL(port int, password, db, query string) string {
	return (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + db,
		RawQuery: query,
	}).String()
}

var errPortInUse = errors.New("port in use")

// launch starts postgres on port and waits until it accepts connections.
func (c *Cluster) launch(ctx context.Context, bin binaries, runAs *account, port int, password string) error {
	logStart, _ := c.logFile.Seek(0, io.SeekEnd)            //nolint:errcheck // only used to show the log's new lines on failure; 0 shows it all
	cmd := exec.Command(filepath.Join(bin.dir, "postgres"), //nolint:noctx // the server outlives the start-up context; Stop ends it
		"-D", c.dataDir,
		"-p", strconv.Itoa(port),
		// Security and durability settings are forced here so that edits to
		// postgresql.conf cannot weaken them.
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=on",
		"-c", "full_page_writes=on",
		"-c", "synchronous_commit=on",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	)
	cmd.Dir = c.dataDir
	cmd.Env = serverEnv()
	cmd.Stdout = c.logFile
	cmd.Stderr = c.logFile
	cmd.SysProcAttr = sysProcAttr(runAs, syscall.SIGINT)

	exited, err := startLocked(cmd, &c.waitErr)
	if err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	c.cmd, c.exited, c.port = cmd, exited, port
	c.adminURL = connURL(port, password, "postgres", "sslmode=disable&connect_timeout=2")

	if err := c.waitReady(ctx); err != nil {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-exited:
			case <-time.After(killGracePeriod):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		tail := c.logTail(logStart)
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("%w%s", err, tail)
	}
	return nil
}

// waitReady polls until postgres accepts an authenticated connection.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var lastErr error
	for {
		conn, err := pgx.Connect(ctx, c.adminURL)
		if err == nil {
			return conn.Close(ctx)
		}
		lastErr = err
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
			return fmt.Errorf("postgres rejected the password in %s: %w",
				filepath.Join(c.dir, passwordFile), err)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up: %w", c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w (last error: %w)", ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) createDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to create database %q: %w", db, err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return fmt.Errorf("checking for database %q: %w", db, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("creating database %q: %w", db, err)
	}
	c.logger.Info("created database", "database", db)
	return nil
}

// logTail returns the end of postgres.log written since offset, formatted
// for appending to an error message.
func (c *Cluster) logTail(offset int64) string {
	const tailSize = 4096
	if c.logFile == nil {
		return ""
	}
	f, err := os.Open(c.logFile.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || end <= offset {
		return ""
	}
	offset = max(offset, end-tailSize)
	buf := make([]byte, end-offset)
	n, _ := f.ReadAt(buf, offset) //nolint:errcheck // best effort: a short read shows the part that was read (n bytes)
	s := strings.TrimSpace(string(buf[:n]))
	if s == "" {
		return ""
	}
	return "\n--- " + c.logFile.Name() + " ---\n" + s
}

// startLocked starts cmd from a goroutine locked to its OS thread and reaps it
// there. Linux delivers the parent-death signal when the *thread* that forked
// the child exits, and the Go runtime may end threads of goroutines that exit
// while locked; a dedicated thread that lives as long as the child makes the
// signal fire only when the whole process dies. The returned channel is closed
// after *waitErr is set.
func startLocked(cmd *exec.Cmd, waitErr *error) (<-chan struct{}, error) {
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		*waitErr = cmd.Wait()
		runtime.UnlockOSThread()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// runLocked runs cmd to completion on a locked thread (see startLocked),
// killing it if ctx ends, and returns its combined output.
func runLocked(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	var waitErr error
	exited, err := startLocked(cmd, &waitErr)
	if err != nil {
		return nil, err
	}
	select {
	case <-exited:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return []byte(out.String()), ctx.Err()
	}
	return []byte(out.String()), waitErr
}

// serverEnv is the environment for initdb and postgres: ours minus PG*
// variables (which could point them at other clusters) and locale variables
// (the cluster uses the C locale; a missing system locale must not break it).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// openLog opens the server log for appending, first rotating it when large.
func openLog(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("rotating %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	return f, nil
}

// lockDir takes an exclusive, non-blocking flock on dir/baton.lock. The lock
// is released when the file is closed or the process dies.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("cluster directory %s is in use by another embedded postgres", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// freePort asks the kernel for an unused TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("finding a free port: unexpected address %v", l.Addr())
	}
	return addr.Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error on supported platforms
	return hex.EncodeToString(b)
}
