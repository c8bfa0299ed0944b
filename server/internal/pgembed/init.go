package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// confDefaults is appended to postgresql.conf by initCluster. Unlike the
// settings forced on the command line (see launch), operators may tune these.
const confDefaults = `
# Defaults added by Baton's embedded PostgreSQL, sized for a small machine.
# listen_addresses, port, unix_socket_directories, fsync, full_page_writes and
# synchronous_commit are forced on the postgres command line.
max_connections = 200
shared_buffers = 128MB
`

// initCluster creates the cluster with initdb unless dir/data already holds
// one. initdb runs into a temporary directory that is renamed into place when
// complete, so an interrupted initialisation is simply redone.
func initCluster(ctx context.Context, lay layout, bin binaries, logger *slog.Logger) error {
	data := filepath.Join(lay.dir, dataSubdir)
	pwPath := filepath.Join(lay.dir, passwordFile)
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		if _, err := os.Stat(pwPath); err != nil {
			return fmt.Errorf("cluster in %s has no password file: %w", lay.dir, err)
		}
		return nil
	}
	if entries, err := os.ReadDir(data); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("%s exists but is not a PostgreSQL data directory; refusing to touch it", data)
		}
		if err := os.Remove(data); err != nil {
			return fmt.Errorf("removing empty %s: %w", data, err)
		}
	}

	logger.Info("initialising embedded postgres cluster", "dir", lay.dir, "version", bin.version)
	tmp := data + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("removing leftover %s: %w", tmp, err)
	}
	pwTmp := pwPath + ".new"
	if err := os.WriteFile(pwTmp, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing password file: %w", err)
	}
	if lay.runAs != nil {
		if err := os.Chown(pwTmp, int(lay.runAs.uid), int(lay.runAs.gid)); err != nil {
			return fmt.Errorf("giving password file to user %q: %w", lay.runAs.name, err)
		}
	}

	cmd := exec.CommandContext(ctx, filepath.Join(bin.dir, "initdb"),
		"-D", tmp,
		"--username", superuser,
		"--pwfile", pwTmp,
		"--auth", "scram-sha-256",
		"--encoding", "UTF8",
		// The C locale keeps index order independent of the OS's collation
		// tables, which change across glibc upgrades and corrupt indexes.
		"--locale", "C",
		// Page checksums detect storage corruption; worth it for money data.
		"--data-checksums",
	)
	cmd.Dir = lay.dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = sysProcAttr(lay.runAs, syscall.SIGKILL)
	if out, err := runLocked(ctx, cmd); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("initdb failed: %w\n%s", err, strings.TrimSpace(string(out)))
	}

	conf, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening postgresql.conf: %w", err)
	}
	_, err = conf.WriteString(confDefaults)
	if err = errors.Join(err, conf.Sync(), conf.Close()); err != nil {
		return fmt.Errorf("writing postgresql.conf: %w", err)
	}
	if err := os.Rename(pwTmp, pwPath); err != nil {
		return fmt.Errorf("installing password file: %w", err)
	}
	if err := os.Rename(tmp, data); err != nil {
		return fmt.Errorf("installing data directory: %w", err)
	}
	return syncDir(lay.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if err = errors.Join(err, d.Close()); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// waitForPreviousServer deals with a postmaster.pid left by an earlier run.
//
// We hold the directory lock, so any postgres process still working in the
// data directory belongs to a previous owner that died: typically it is in
// the fast shutdown triggered by its parent-death signal. Wait for it; if it
// is still there after 10 s, ask it to shut down; give up after 60 s. Once no
// process uses the directory the pid file is stale and is removed, because
// postgres itself refuses to start if the recorded PID has been reused by an
// unrelated process. Where processes cannot be inspected (non-Linux), the pid
// file is left for postgres to judge.
func waitForPreviousServer(ctx context.Context, dataDir string, logger *slog.Logger) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	if _, err := os.Stat(pidFile); err != nil {
		return nil //nolint:nilerr // no readable pid file: no earlier server to wait for
	}
	start := time.Now()
	warned, signalled := false, false
	for {
		pids, known := dataDirProcesses(dataDir)
		if !known {
			return nil
		}
		if len(pids) == 0 {
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing stale %s: %w", pidFile, err)
			}
			logger.Info("removed stale postmaster.pid", "waited", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if !warned {
			warned = true
			logger.Warn("waiting for postgres from a previous run to exit", "pids", pids)
		}
		elapsed := time.Since(start)
		if !signalled && elapsed > 10*time.Second {
			signalled = true
			if pid := postmasterPID(pidFile); pid > 0 && slices.Contains(pids, pid) {
				logger.Warn("asking orphaned postgres to shut down", "pid", pid)
				_ = syscall.Kill(pid, syscall.SIGINT)
			}
		}
		if elapsed > 60*time.Second {
			return fmt.Errorf("postgres processes %v from a previous run still use %s", pids, dataDir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for previous postgres to exit: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// postmasterPID reads the first line of postmaster.pid; 0 if unreadable.
func postmasterPID(pidFile string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line)) //nolint:errcheck // an unreadable pid file means no pid: 0
	return pid
}
