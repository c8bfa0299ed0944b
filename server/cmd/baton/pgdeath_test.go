package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// reachableDir is a fresh data directory the unprivileged postgres user can
// reach when the tests run as root, so the embedded cluster stays inside it.
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEmbeddedPostgresKilled kills the embedded postmaster with SIGKILL
// under a running Baton, three times. While the database is down /healthz
// must not answer ok; Baton must come back on its own (clicks answered with
// a 302 again) with every click answered before the kill still stored.
func TestEmbeddedPostgresKilled(t *testing.T) {
	dataDir := reachableDir(t)
	addr := freeAddr(t)
	startBatonEnv(t, "", dataDir, addr)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	click := func(tag string) (string, bool) {
		res, err := client.Get(fmt.Sprintf("http://%s/c/demo?param1=%s", addr, tag))
		if err != nil {
			return "", false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			return "", false
		}
		loc, _ := url.Parse(res.Header.Get("Location"))
		return loc.Query().Get("sid"), true
	}
	healthz := func() int {
		res, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	pidFile := filepath.Join(dataDir, "postgres", "data", "postmaster.pid")
	answered := map[string]bool{}
	var recoveries []string
	tried, lost := 0, 0
	for round := range 3 {
		for i := range 20 {
			tried++
			if sid, ok := click(fmt.Sprintf("before-%d-%d", round, i)); ok {
				answered[sid] = true
			}
		}
		pid := postmasterPID(t, pidFile)
		if pid == 0 {
			t.Fatal("no postmaster.pid")
		}
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Recovered: a new postmaster runs, a click gets its 302 and
		// /healthz says ok. Until then /healthz must not say ok while
		// clicks fail on both sides of it.
		liedOK := 0
		recovered := testwait.Poll(90*time.Second-time.Since(killed), func() bool {
			_, before := click(fmt.Sprintf("probe-%d", round))
			code := healthz()
			_, after := click(fmt.Sprintf("probe-%d", round))
			if !before && !after && code == http.StatusOK {
				liedOK++
			}
			now := postmasterPID(t, pidFile)
			return now != 0 && now != pid && syscall.Kill(now, 0) == nil && after && code == http.StatusOK
		})
		tried++
		if liedOK > 0 {
			lost++
			t.Errorf("round %d: /healthz answered ok %d times while clicks failed", round, liedOK)
		}
		if !recovered {
			lost++
			t.Errorf("round %d: Baton did not recover within 90 s of the postmaster's kill -9", round)
			break
		}
		recoveries = append(recoveries, fmt.Sprintf("%.1fs", time.Since(killed).Seconds()))
	}
	// Every click answered before a kill is stored, once: answered from
	// the click spool, whose loader retries until PostgreSQL is back
	// (polling, with a deadline).
	conn := embeddedConn(t, dataDir)
	defer conn.Close(t.Context())
	var wrong []string
	testwait.Poll(30*time.Second, func() bool {
		wrong = wrong[:0]
		for sid := range answered {
			var n int
			if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM clicks WHERE id = $1`, sid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				wrong = append(wrong, fmt.Sprintf("click %s answered with a 302 is stored %d times", sid, n))
			}
		}
		return len(wrong) == 0
	})
	for _, w := range wrong {
		lost++
		t.Error(w)
	}
	proof.Tally(t, "fault: kill -9 of embedded postmaster x3", tried, lost,
		fmt.Sprintf("%d clicks answered before the kills all stored; recovered in %s", len(answered), strings.Join(recoveries, ", ")))
}

// postmasterPID reads the PID in postmaster.pid; 0 when there is none.
func postmasterPID(t *testing.T, pidFile string) int {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// embeddedConn connects to the running embedded cluster of dataDir as its
// superuser (password file, port from postmaster.pid).
func embeddedConn(t *testing.T, dataDir string) *pgx.Conn {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(dataDir, "postgres", "password"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		t.Fatalf("postmaster.pid too short: %q", b)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", strings.TrimSpace(string(pw))),
		Host: "127.0.0.1:" + strings.TrimSpace(lines[3]), Path: "/baton", RawQuery: "sslmode=disable"}
	conn, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
