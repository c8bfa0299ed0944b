package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"

	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

// The test binary doubles as the baton binary: with BATON_TEST_AS_MAIN set
// it runs main's logic instead of the tests, so crash tests can kill -9 a
// real server process without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("BATON_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(testdb.Main(m))
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBaton starts the server as a child process on dbURL and waits until
// it is ready.
func startBaton(t *testing.T, dbURL, dataDir, addr string) *proc {
	t.Helper()
	return startBatonEnv(t, dbURL, dataDir, addr)
}

// startBatonEnv is startBaton with extra environment variables.
func startBatonEnv(t *testing.T, dbURL, dataDir, addr string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BATON_TEST_AS_MAIN=1", "BATON_DATABASE_URL="+dbURL, "BATON_DATA_DIR="+dataDir,
		"BATON_ADDR="+addr, "BATON_ADMIN_KEY=crash-test-admin-key-0123", "BATON_DEMO=true", "BATON_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, extra...)
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	testwait.Until(t, 30*time.Second, "baton becomes ready", func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// TestClicksSurviveKill9 sends redirects from concurrent clients, kills the
// server with SIGKILL in the middle, restarts it, and checks that every
// click that got a 302 is in the database, once. Three rounds. Clicks are
// answered from the click spool, so what the killed process had not loaded
// is replayed by the next one.
func TestClicksSurviveKill9(t *testing.T) {
	dbURL := testdb.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	answered := map[string]bool{}
	var mu sync.Mutex
	tried := 0
	var spooled int64 // bytes in the click spool at each kill
	spoolOnly := 0    // clicks answered in round 1, when only the spool had them
	for round := range 3 {
		p := startBaton(t, dbURL, dataDir, addr)
		var hold pgx.Tx
		if round == 1 {
			// This round the loader is held (inserts into clicks wait for
			// the lock): every click answered is only in the spool at the
			// kill, and only the replay can store it.
			conn, err := pgx.Connect(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if hold, err = conn.Begin(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := hold.Exec(context.Background(), `LOCK TABLE clicks IN SHARE MODE`); err != nil {
				t.Fatal(err)
			}
		}
		var ok atomic.Int64
		var attempts atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					attempts.Add(1)
					res, err := client.Get(fmt.Sprintf("http://%s/c/demo?param1=r%d-w%d-%d", addr, round, w, i))
					if err != nil {
						continue // the server is gone: no answer, no promise
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusFound {
						continue
					}
					loc, err := url.Parse(res.Header.Get("Location"))
					if err != nil {
						t.Error(err)
						continue
					}
					mu.Lock()
					answered[loc.Query().Get("sid")] = true
					mu.Unlock()
					ok.Add(1)
				}
			}()
		}
		// Let the load build up, then kill -9 in the middle of it.
		testwait.Until(t, 2*time.Minute, "300 clicks answered before the kill", func() bool { return ok.Load() >= 300 })
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, _ = p.cmd.Process.Wait()
		close(stop)
		wg.Wait()
		tried += int(attempts.Load())
		spooled += spoolBytes(t, dataDir)
		if hold != nil {
			spoolOnly = int(ok.Load())
			_ = hold.Rollback(context.Background())
		}
	}

	// Restart once more (recovery must work) and count from the database,
	// once the spool is replayed (polling, with a deadline).
	startBaton(t, dbURL, dataDir, addr)
	var stored, lost, twice int
	testwait.Until(t, 60*time.Second, "every answered click loaded", func() bool {
		stored, lost, twice = missingOrTwice(t, dbURL, `SELECT id, count(*) FROM clicks GROUP BY id`, answered)
		return lost == 0 && twice == 0
	})
	t.Logf("kill -9 x3 during click load: %d requests tried, %d answered 302, %d stored, %d lost, %d stored twice",
		tried, len(answered), stored, lost, twice)
	proof.Tally(t, "fault: kill -9 x3 under click load (spool replay)", tried, lost+twice,
		fmt.Sprintf("%d answered with a 302 from the spool (%d of them while the loader was held, in no table at the kill; %d KiB of spool files at the kills, replayed): %d missing, %d stored twice",
			len(answered), spoolOnly, spooled>>10, lost, twice))
}

// spoolBytes is the size of the click spool's segment files in dataDir.
func spoolBytes(t *testing.T, dataDir string) int64 {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dataDir, "clickspool", "seg-*.log"))
	var n int64
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			n += fi.Size()
		}
	}
	if len(segs) == 0 {
		t.Errorf("no click spool in %s", dataDir)
	}
	return n
}

// TestPostbackOutboxSurvivesKill9 kills the server while a postback is in
// flight (the conversion committed, the send not finished), restarts it, and
// checks the postback is delivered: same delivery ID, and the receiver can
// drop the duplicate.
func TestPostbackOutboxSurvivesKill9(t *testing.T) {
	dbURL := testdb.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var deliveries []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries = append(deliveries, r.Header.Get("X-Baton-Delivery"))
		first := len(deliveries) == 1
		mu.Unlock()
		if first {
			<-release // hold the first attempt until the sender is dead
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer rcv.Close()
	defer close(release)
	env := []string{"BATON_POSTBACK_ALLOW=127.0.0.0/8", "BATON_POSTBACK_TIMEOUT=1s", "BATON_POSTBACK_RESCUE_AFTER=4s", "BATON_POSTBACK_SCHEDULE=1s"}
	p := startBatonEnv(t, dbURL, dataDir, addr, env...)
	conversionsOwingPostbacks(t, "http://"+addr, rcv.URL, "CRASH-1")
	delivered := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(deliveries) >= n
		}
	}
	testwait.Until(t, 10*time.Second, "the postback leaves", delivered(1))
	// The send is in flight: kill -9.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
	startBatonEnv(t, dbURL, dataDir, addr, env...)
	testwait.Until(t, 30*time.Second, "the interrupted postback is sent again after the restart", delivered(2))
	mu.Lock()
	defer mu.Unlock()
	if deliveries[0] == "" || deliveries[1] != deliveries[0] {
		t.Fatalf("the resend must carry the same delivery ID: %v", deliveries)
	}
	proof.Tally(t, "fault: kill -9 mid-postback", 1, 0, "the postback owed was sent again after the restart, with the same delivery ID")
}

// TestConversionsSurviveKill9 kills the server with SIGKILL three times
// under a conversion load: every conversion that was answered with success
// is stored once, and every postback it owes reaches the receiver once the
// server is back.
func TestConversionsSurviveKill9(t *testing.T) {
	dbURL := testdb.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	var mu sync.Mutex
	received := map[string]bool{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received[r.URL.Query().Get("o")] = true
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer rcv.Close()
	env := []string{"BATON_POSTBACK_ALLOW=127.0.0.0/8", "BATON_POSTBACK_TIMEOUT=1s", "BATON_POSTBACK_RESCUE_AFTER=4s", "BATON_POSTBACK_SCHEDULE=200ms,500ms,1s,1s,1s,1s,1s,1s"}
	p := startBatonEnv(t, dbURL, dataDir, addr, env...)
	ctx := context.Background()
	base := "http://" + addr
	sid := endpointAndClick(t, base, rcv.URL)

	succeeded := map[string]bool{}
	tried := 0
	for round := range 3 {
		var ok atomic.Int64
		var attempts atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conv := batonv1connect.NewConversionServiceClient(&http.Client{Timeout: 5 * time.Second}, base, bearerKey("bk_demo_advertiser_key_0000000000"))
				amount := int64(1000)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					order := fmt.Sprintf("K%d-W%d-%d", round, w, i)
					attempts.Add(1)
					if _, err := conv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: sid, OrderId: order, AmountJpy: &amount}); err != nil {
						continue // no success, no promise
					}
					mu.Lock()
					succeeded[order] = true
					mu.Unlock()
					ok.Add(1)
				}
			}()
		}
		testwait.Until(t, 2*time.Minute, "100 conversions answered before the kill", func() bool { return ok.Load() >= 100 })
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = p.cmd.Process.Wait()
		close(stop)
		wg.Wait()
		tried += int(attempts.Load())
		p = startBatonEnv(t, dbURL, dataDir, addr, env...)
	}

	// Every postback owed arrives once the server is back (interrupted
	// sends are rescued after BATON_POSTBACK_RESCUE_AFTER).
	var missing int
	testwait.Poll(60*time.Second, func() bool {
		missing = 0
		mu.Lock()
		for order := range succeeded {
			if !received[order] {
				missing++
			}
		}
		mu.Unlock()
		return missing == 0
	})
	_, lost, twice := missingOrTwice(t, dbURL, `SELECT order_id, count(*) FROM conversions GROUP BY order_id`, succeeded)
	proof.Tally(t, "fault: kill -9 x3 under conversion load", tried, lost+twice+missing,
		fmt.Sprintf("%d answered with success: %d missing, %d stored twice, %d owed postbacks never delivered", len(succeeded), lost, twice, missing))
}

// missingOrTwice reads (key, row count) pairs with query and counts, of the
// keys Baton acknowledged, those with no row (lost) and those with more than
// one (stored twice). stored is how many distinct keys the database holds.
func missingOrTwice(t *testing.T, dbURL, query string, acked map[string]bool) (stored, lost, twice int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, query)
	counts := map[string]int64{}
	for rows.Next() {
		var key string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			t.Fatal(err)
		}
		counts[key] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for key := range acked {
		switch counts[key] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
	}
	return len(counts), lost, twice
}

// endpointAndClick registers a postback endpoint for the demo publisher
// pointing at receiver, makes one browser click on the demo link and
// returns its click ID.
func endpointAndClick(t *testing.T, base, receiver string) string {
	t.Helper()
	pb := batonv1connect.NewPostbackServiceClient(http.DefaultClient, base, bearerKey("crash-test-admin-key-0123"))
	if _, err := pb.CreatePostbackEndpoint(context.Background(), &batonv1.CreatePostbackEndpointRequest{PublisherId: "pub_demo",
		UrlTemplate: receiver + "/pb?o={order_id}", Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING},
		Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, base+"/c/demo", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 Chrome/156.0")
	res, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("sid") == "" {
		t.Fatalf("demo click: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query().Get("sid")
}
