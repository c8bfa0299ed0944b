package pgembed

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// fallbackBase is where clusters are relocated when running as root and the
// unprivileged user cannot reach Config.Dir. A variable for tests.
var fallbackBase = "/var/lib/baton"

// account is the unprivileged OS user initdb and postgres run as when this
// process is root.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32 // supplementary groups, including gid
}

// layout is where a cluster lives and who runs it.
type layout struct {
	dir   string   // cluster directory (holds data/, password, postgres.log)
	runAs *account // nil: run as ourselves (not root)
}

// resolveLayout decides the cluster directory and the user to run as, and
// creates the directory owned by that user. dir is absolute.
//
// As root: an existing cluster in dir, then one in the fallback location, is
// reused and run as its owner (or the default user if root owns it). Otherwise
// dir is used if the default user can traverse to it, else the fallback.
func resolveLayout(dir string, logger *slog.Logger) (layout, error) {
	if os.Geteuid() != 0 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return layout{}, fmt.Errorf("creating cluster directory: %w", err)
		}
		return layout{dir: dir}, nil
	}

	fallback := filepath.Join(fallbackBase, "pg-"+shortHash(dir))
	sweepOrphans(logger)
	if err := claimFallback(dir, fallback, logger); err != nil {
		return layout{}, err
	}
	for _, cand := range []string{dir, fallback} {
		fi, err := os.Stat(filepath.Join(cand, dataSubdir, "PG_VERSION"))
		if err != nil {
			continue
		}
		acct, err := clusterAccount(filepath.Join(cand, dataSubdir), fi)
		if err != nil {
			return layout{}, err
		}
		if !canTraverse(cand, acct) {
			// Never start an empty cluster elsewhere while the real data sits here.
			return layout{}, fmt.Errorf("existing cluster in %s cannot be reached by user %q (uid %d): "+
				"a parent directory is not searchable by that user", cand, acct.name, acct.uid)
		}
		if err := prepareDir(cand, acct); err != nil {
			return layout{}, err
		}
		if cand == fallback {
			logger.Info("using relocated embedded postgres cluster", "configured_dir", dir, "dir", fallback)
		}
		return layout{dir: cand, runAs: acct}, nil
	}

	acct, err := defaultAccount()
	if err != nil {
		return layout{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return layout{}, fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	if canTraverse(dir, acct) {
		if err := prepareDir(dir, acct); err != nil {
			return layout{}, err
		}
		return layout{dir: dir, runAs: acct}, nil
	}

	logger.Warn("PostgreSQL cannot run as root and user "+acct.name+" cannot reach the configured directory; "+
		"placing the embedded cluster in the fallback location (it will be reused on every start)",
		"configured_dir", dir, "dir", fallback, "user", acct.name)
	if err := os.MkdirAll(fallbackBase, 0o755); err != nil {
		return layout{}, fmt.Errorf("creating %s: %w", fallbackBase, err)
	}
	if !canTraverse(fallback, acct) {
		return layout{}, fmt.Errorf("neither %s nor the fallback %s is reachable by user %q", dir, fallback, acct.name)
	}
	if err := prepareDir(fallback, acct); err != nil {
		return layout{}, err
	}
	if err := link(dir, fallback); err != nil {
		return layout{}, err
	}
	// Leave a note where an operator will look for the data.
	if err := os.MkdirAll(dir, 0o700); err == nil {
		note := fmt.Sprintf("The embedded PostgreSQL cluster for this directory lives in %s\n"+
			"because PostgreSQL cannot run as root and user %q cannot reach %s.\n"+
			"Back up that directory; it is reused on every start.\n", fallback, acct.name, dir)
		_ = os.WriteFile(filepath.Join(dir, "RELOCATED.txt"), []byte(note), 0o644)
	}
	return layout{dir: fallback, runAs: acct}, nil
}

// clusterAccount is the user to run an existing cluster as: the owner of its
// data directory unless that is root, in which case the data is handed to the
// default user.
func clusterAccount(dataDir string, fi fs.FileInfo) (*account, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("cannot read owner of %s", dataDir)
	}
	if st.Uid == 0 {
		acct, err := defaultAccount()
		if err != nil {
			return nil, err
		}
		if err := chownTree(dataDir, acct); err != nil {
			return nil, err
		}
		return acct, nil
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10)); err == nil {
		return accountOf(u)
	}
	return &account{name: strconv.FormatUint(uint64(st.Uid), 10), uid: st.Uid, gid: st.Gid, groups: []uint32{st.Gid}}, nil
}

// defaultAccount is "postgres" if that user exists, else "nobody".
func defaultAccount() (*account, error) {
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return accountOf(u)
		}
	}
	return nil, errors.New(`running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as`)
}

func accountOf(u *user.User) (*account, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Username, err)
	}
	a := &account{name: u.Username, uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && !slices.Contains(a.groups, uint32(g)) {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// canTraverse reports whether acct may search every existing ancestor of dir
// (dir itself will be owned by acct). Symlinks are resolved first. POSIX ACLs
// are not consulted.
func canTraverse(dir string, acct *account) bool {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return false
	}
	for p := parent; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		switch {
		case st.Uid == acct.uid:
			ok = perm&0o100 != 0
		case slices.Contains(acct.groups, st.Gid):
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// prepareDir creates dir (mode 0700) and gives it to acct, along with the
// password file if present.
func prepareDir(dir string, acct *account) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating cluster directory: %w", err)
	}
	for _, p := range []string{dir, filepath.Join(dir, passwordFile)} {
		if err := os.Chown(p, int(acct.uid), int(acct.gid)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("giving %s to user %q: %w", p, acct.name, err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting %s: %w", dir, err)
	}
	return nil
}

// chownTree gives every file under root to acct.
func chownTree(root string, acct *account) error {
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(acct.uid), int(acct.gid))
	})
	if err != nil {
		return fmt.Errorf("giving %s to user %q: %w", root, acct.name, err)
	}
	return nil
}

// shortHash names the fallback directory for dir.
func shortHash(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:6])
}

// A relocated cluster is tied to the directory it stands in for by a
// random ID written to both (linkFile), and the fallback records that
// directory (ownerFile). When the directory is deleted the cluster is
// deleted with it at the next start (of any cluster): a new directory at
// the same path gets a new cluster, never the old data.
const (
	linkFile  = "pgembed-cluster-id"
	ownerFile = "pgembed-owner"
)

// link writes a fresh ID to dir and fallback, and fallback's owner.
func link(dir, fallback string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	id := randomHex(16)
	for _, f := range []struct{ path, text string }{
		{filepath.Join(fallback, linkFile), id}, {filepath.Join(fallback, ownerFile), dir}, {filepath.Join(dir, linkFile), id},
	} {
		if err := os.WriteFile(f.path, []byte(f.text+"\n"), 0o644); err != nil {
			return fmt.Errorf("tying the relocated cluster to %s: %w", dir, err)
		}
	}
	return nil
}

// linked reports whether fallback's ID is the one in dir. A fallback from
// before IDs, whose dir still holds its RELOCATED.txt, is adopted.
func linked(dir, fallback string) bool {
	want, err := os.ReadFile(filepath.Join(fallback, linkFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, "RELOCATED.txt")); err == nil {
			return link(dir, fallback) == nil
		}
		return false
	}
	got, err2 := os.ReadFile(filepath.Join(dir, linkFile))
	return err == nil && err2 == nil && string(got) == string(want)
}

// claimFallback removes the fallback cluster of dir when it belongs to an
// earlier directory at that path (deleted since): its data is not dir's.
func claimFallback(dir, fallback string, logger *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(fallback, dataSubdir, "PG_VERSION")); err != nil {
		return nil //nolint:nilerr // no cluster in the fallback: nothing to claim
	}
	if linked(dir, fallback) {
		return nil
	}
	return removeOrphan(fallback, dir, logger)
}

// sweepOrphans removes relocated clusters whose directory is gone (or was
// replaced), unless one is running.
func sweepOrphans(logger *slog.Logger) {
	matches, _ := filepath.Glob(filepath.Join(fallbackBase, "pg-*")) //nolint:errcheck // the only possible error is a bad pattern, and this one is constant
	for _, fb := range matches {
		owner, err := os.ReadFile(filepath.Join(fb, ownerFile))
		if err != nil {
			continue // from before owners were recorded: unknown, left alone
		}
		dir := strings.TrimSpace(string(owner))
		if linked(dir, fb) {
			continue
		}
		_ = removeOrphan(fb, dir, logger)
	}
}

// removeOrphan deletes a relocated cluster that no directory refers to any
// more, unless it is in use.
func removeOrphan(fallback, dir string, logger *slog.Logger) error {
	lock, err := lockDir(fallback)
	if err != nil {
		return nil // running: not an orphan of ours to judge now
	}
	defer lock.Close()
	if err := os.RemoveAll(fallback); err != nil {
		return fmt.Errorf("removing orphaned cluster %s: %w", fallback, err)
	}
	logger.Warn("removed a relocated embedded postgres cluster whose data directory was deleted", "dir", fallback, "was_for", dir)
	return nil
}
