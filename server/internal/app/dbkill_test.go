package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
)

// postmasterPID is the PID of the server process behind conn: the parent
// of conn's backend.
func postmasterPID(t testing.TB, conn *pgx.Conn) int {
	t.Helper()
	var backend int
	if err := conn.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", backend))
	if err != nil {
		t.Skipf("cannot read the backend's parent (%v)", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", backend)
	return 0
}

// TestEmbeddedDatabaseKilledUnderLoad runs Baton on its own embedded
// PostgreSQL, clicks without pause, and kill -9s the postmaster: clicks and
// RPCs fail (503, unavailable) while /healthz says 503, then succeed again
// once the supervisor has restarted the cluster, within seconds; every
// click that was answered with a redirect is stored.
func TestEmbeddedDatabaseKilledUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o711)
	// The synchronous path (no click spool), where clicks wait for the
	// database; with the spool they keep answering 302
	// (TestClicksSpooledThroughDatabaseOutage).
	s := start(t, func(c *config.Config) { c.DatabaseURL = ""; c.DataDir = dir; c.ClickSpoolMaxBytes = 0 })
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	pid := postmasterPID(t, conn)
	conn.Close(ctx)

	client := noFollow(nil)
	client.Timeout = 10 * time.Second
	offers := batonv1connect.NewConfigServiceClient(s.client, s.url, withKey(adminKey))
	var mu sync.Mutex
	answered := []string{}
	statuses := map[int]int{}
	var n atomic.Int64
	click := func() int {
		i := n.Add(1)
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/c/demo?param1=kill-%d", s.url, i), nil)
		req.Header.Set("User-Agent", browserUA)
		res, err := client.Do(req)
		if err != nil {
			mu.Lock()
			statuses[0]++
			mu.Unlock()
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		statuses[res.StatusCode]++
		if res.StatusCode == http.StatusFound {
			u, _ := url.Parse(res.Header.Get("Location"))
			answered = append(answered, u.Query().Get("sid"))
		}
		return res.StatusCode
	}
	for range 50 {
		if st := click(); st != http.StatusFound {
			t.Fatalf("before the kill: %d", st)
		}
	}
	// Clicks without pause, from 4 clients, until told to stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					click()
				}
			}
		}()
	}
	health := func() int {
		res, err := s.client.Get(s.url + "/healthz")
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if h := health(); h != http.StatusOK {
		t.Fatalf("/healthz before the kill: %d", h)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Until a click and an RPC have failed and then succeed again (the
	// backends of a killed postmaster may answer a moment longer): /healthz
	// is asked all along, and must have said 503 meanwhile.
	var clickBack, rpcBack time.Duration
	clickDown, rpcDown := false, false
	healthStatuses := map[int]int{}
	deadline := killed.Add(60 * time.Second)
	for clickBack == 0 || rpcBack == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 60 s after kill -9: clicks %v, /healthz %v, click back %v, RPC back %v", statuses, healthStatuses, clickBack, rpcBack)
		}
		healthStatuses[health()]++
		if clickBack == 0 {
			ok := click() == http.StatusFound
			if ok && clickDown {
				clickBack = time.Since(killed)
			}
			clickDown = clickDown || !ok
		}
		if rpcBack == 0 {
			_, err := offers.ListOffers(ctx, &batonv1.ListOffersRequest{})
			if err == nil && rpcDown {
				rpcBack = time.Since(killed)
			}
			rpcDown = rpcDown || err != nil
		}
	}
	healthStatuses[health()]++
	close(stop)
	wg.Wait()
	if h := health(); h != http.StatusOK {
		t.Errorf("/healthz after recovery: %d", h)
	}
	conn, err = pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lost := 0
	for _, id := range answered {
		var found int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM clicks WHERE id = $1`, id).Scan(&found); err != nil || found != 1 {
			lost++
		}
	}
	if healthStatuses[http.StatusServiceUnavailable] == 0 {
		lost++
		t.Errorf("/healthz never said 503 while the database was down: %v", healthStatuses)
	}
	if statuses[http.StatusInternalServerError] != 0 {
		t.Errorf("%d clicks answered 500", statuses[http.StatusInternalServerError])
	}
	proof.Tally(t, "fault: embedded PostgreSQL kill -9 under click load", int(n.Load()), lost,
		fmt.Sprintf("clicks back %.2f s, RPCs back %.2f s after kill -9; /healthz %v meanwhile; clicks %v, %d redirected, all stored",
			clickBack.Seconds(), rpcBack.Seconds(), healthStatuses, statuses, len(answered)))
}
