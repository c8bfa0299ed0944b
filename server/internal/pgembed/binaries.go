package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// binaries is a directory holding usable postgres and initdb executables.
type binaries struct {
	dir     string
	major   int
	version string // e.g. "15.8"
}

// fetchMajor is the major version downloaded for a new cluster when nothing
// suitable is installed.
const fetchMajor = 17

// fetchVersions maps major versions to the releases embedded-postgres can
// download.
var fetchVersions = map[int]embeddedpostgres.PostgresVersion{
	14: embeddedpostgres.V14,
	15: embeddedpostgres.V15,
	16: embeddedpostgres.V16,
	17: embeddedpostgres.V17,
	18: embeddedpostgres.V18,
}

// installedDirs lists directories that may hold installed PostgreSQL server
// binaries, most preferred first. A variable so tests can force the download.
var installedDirs = defaultInstalledDirs

// findBinaries picks installed binaries of the cluster's major version (or,
// for a new cluster, of version 14 or later), downloading them into
// <parent of cluster dir>/pgbin when none are installed.
func findBinaries(ctx context.Context, lay layout, logger *slog.Logger) (binaries, error) {
	want := 0
	if b, err := os.ReadFile(filepath.Join(lay.dir, dataSubdir, "PG_VERSION")); err == nil {
		if want, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return binaries{}, fmt.Errorf("reading cluster version: %w", err)
		}
	}
	var seen, found []string
	for _, d := range installedDirs(ctx) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			d = r
		}
		if slices.Contains(seen, d) {
			continue
		}
		seen = append(seen, d)
		b, err := probe(ctx, d)
		if err != nil {
			continue
		}
		if (want == 0 && b.major >= minMajor) || (want != 0 && b.major == want) {
			return b, nil
		}
		found = append(found, b.dir+" ("+b.version+")")
	}

	major := want
	if want == 0 {
		major = fetchMajor
	}
	logger.Warn("no suitable installed PostgreSQL server found; using downloaded binaries",
		"need_major", major, "installed", found)
	b, err := fetchBinaries(ctx, filepath.Join(filepath.Dir(lay.dir), "pgbin"), major, logger)
	if err != nil {
		return binaries{}, fmt.Errorf("no PostgreSQL %d server binaries installed (found %v), and downloading them failed "+
			"(install the PostgreSQL server package, e.g. apt-get install postgresql): %w", major, found, err)
	}
	return b, nil
}

func defaultInstalledDirs(ctx context.Context) []string {
	var dirs []string
	if p, err := exec.LookPath("pg_config"); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(cctx, p, "--bindir").Output()
		cancel()
		if err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
	}
	for _, name := range []string{"postgres", "initdb"} {
		if p, err := exec.LookPath(name); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	dirs = append(dirs, versionedDirs("/usr/lib/postgresql/*/bin")...) // Debian, Ubuntu
	dirs = append(dirs, versionedDirs("/usr/pgsql-*/bin")...)          // RHEL (PGDG)
	return append(dirs, "/usr/local/pgsql/bin")                        // source build
}

// versionedDirs expands pattern and orders the matches by the version in
// them, highest first.
func versionedDirs(pattern string) []string {
	matches, _ := filepath.Glob(pattern) //nolint:errcheck // the only possible error is a bad pattern, and ours are constant
	key := func(p string) []int {
		var v []int
		for _, f := range strings.FieldsFunc(p, func(r rune) bool { return r < '0' || r > '9' }) {
			n, _ := strconv.Atoi(f) //nolint:errcheck // f is all digits; an overflow sorts as 0, which only orders the candidates
			v = append(v, n)
		}
		return v
	}
	slices.SortFunc(matches, func(a, b string) int { return slices.Compare(key(b), key(a)) })
	return matches
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) ((\d+)\S*)`)

// probe checks that dir holds runnable postgres and initdb and reads the
// version from `postgres --version` (allowed even as root).
func probe(ctx context.Context, dir string) (binaries, error) {
	for _, name := range []string{"postgres", "initdb"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return binaries{}, err
		}
		if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			return binaries{}, fmt.Errorf("%s is not an executable file", filepath.Join(dir, name))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return binaries{}, fmt.Errorf("running %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return binaries{}, fmt.Errorf("unrecognised version output %q", out)
	}
	major, err := strconv.Atoi(string(m[2]))
	if err != nil {
		return binaries{}, fmt.Errorf("unrecognised version output %q", out)
	}
	return binaries{dir: dir, major: major, version: string(m[1])}, nil
}

// fetchBinaries returns binaries of the given major version from
// cacheDir/<version>, downloading them first if needed.
//
// The download uses github.com/fergusstrange/embedded-postgres, which fetches
// the zonky.io build from Maven Central, checks its SHA-256 and extracts it.
// That library exposes only a combined "download, initdb and run" Start, so it
// is pointed at a throw-away data directory containing just a PG_VERSION file:
// the library then treats the directory as an existing cluster and skips
// initdb, and its attempt to run pg_ctl on it fails at once (pg_ctl also
// refuses to run as root). Only the extracted binaries are kept; they are run
// by this package like installed ones, so the root handling applies.
//
// The library cannot be cancelled: when ctx ends, this returns but the
// download finishes in the background. Each download leaves one small
// embedded_postgres_log* file in the temp directory (created by the library).
func fetchBinaries(ctx context.Context, cacheDir string, major int, logger *slog.Logger) (binaries, error) {
	ver, ok := fetchVersions[major]
	if !ok {
		return binaries{}, fmt.Errorf("no downloadable build of PostgreSQL %d", major)
	}
	root := filepath.Join(cacheDir, string(ver))
	if b, err := probe(ctx, filepath.Join(root, "bin")); err == nil {
		return b, nil
	}
	type result struct {
		b   binaries
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := download(cacheDir, ver, root, logger)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return binaries{}, fmt.Errorf("downloading PostgreSQL %s: %w", ver, ctx.Err())
	}
}

func download(cacheDir string, ver embeddedpostgres.PostgresVersion, root string, logger *slog.Logger) (binaries, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return binaries{}, fmt.Errorf("creating binary cache: %w", err)
	}
	// The unprivileged server user must be able to reach the binaries.
	if err := os.Chmod(cacheDir, 0o755); err != nil {
		return binaries{}, fmt.Errorf("opening up binary cache: %w", err)
	}
	// Serialise downloads between processes sharing the cache.
	lock, err := os.OpenFile(filepath.Join(cacheDir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return binaries{}, fmt.Errorf("locking binary cache: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return binaries{}, fmt.Errorf("locking binary cache: %w", err)
	}
	if b, err := probe(context.Background(), filepath.Join(root, "bin")); err == nil {
		return b, nil // another process finished the download meanwhile
	}

	logger.Info("downloading PostgreSQL binaries from Maven Central", "version", ver, "dir", root)
	work, err := os.MkdirTemp(cacheDir, "fetch-")
	if err != nil {
		return binaries{}, fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return binaries{}, fmt.Errorf("creating download directory: %w", err)
	}
	major, _, _ := strings.Cut(string(ver), ".")
	if err := os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte(major+"\n"), 0o600); err != nil {
		return binaries{}, fmt.Errorf("creating download directory: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return binaries{}, err
	}
	extracted := filepath.Join(work, "pg")
	ep := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Version(ver).
		Port(uint32(port)).
		CachePath(filepath.Join(work, "archive")).
		RuntimePath(filepath.Join(work, "runtime")).
		DataPath(data).
		BinariesPath(extracted).
		StartTimeout(5 * time.Second).
		Logger(io.Discard))
	startErr := startLibrary(ep) // expected to fail after extracting; see fetchBinaries
	if startErr == nil {
		_ = ep.Stop()
	}
	if _, err := probe(context.Background(), filepath.Join(extracted, "bin")); err != nil {
		return binaries{}, fmt.Errorf("downloading PostgreSQL %s: %w", ver, errors.Join(startErr, err))
	}
	if err := makeReadable(extracted); err != nil {
		return binaries{}, err
	}
	// Publish atomically so a half-extracted tree is never used.
	if err := os.Rename(extracted, root); err != nil {
		return binaries{}, fmt.Errorf("installing downloaded binaries: %w", err)
	}
	logger.Info("downloaded PostgreSQL binaries", "version", ver, "dir", root)
	return probe(context.Background(), filepath.Join(root, "bin"))
}

// startLibrary runs the library's Start, turning its panics into errors.
func startLibrary(ep *embeddedpostgres.EmbeddedPostgres) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("embedded-postgres panicked: %v", r)
		}
	}()
	return ep.Start()
}

// makeReadable grants everyone read (and, where the owner has it, execute)
// access under root, so an unprivileged server user can run the binaries
// whatever umask they were extracted with.
func makeReadable(root string) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | 0o444
		if d.IsDir() || mode&0o100 != 0 {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		return fmt.Errorf("making binaries readable: %w", err)
	}
	return nil
}
