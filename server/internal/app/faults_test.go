package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestOneSaleSentAThousandTimesIsCountedOnce sends the same order 1,000
// times at once, through the API, the FC2 image tag and the FC2 server POST:
// one conversion, every request answered without a server error.
func TestOneSaleSentAThousandTimesIsCountedOnce(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	click := e.click(t, e.client, "param1=dup-media", browserUA)
	loc, _ := url.Parse(click.Header.Get("Location"))
	sid := loc.Query().Get("sid")
	const order, n = "DUP-1000", 1000
	var wg sync.WaitGroup
	var serverErrors, done atomic.Int64
	sem := make(chan struct{}, 48)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var status int
			switch i % 3 {
			case 0:
				_, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: sid, OrderId: order, AmountJpy: yen(1980)})
				if err != nil {
					status = 500
				} else {
					status = 200
				}
			case 1:
				q := fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "amount_y": "1980", "ts": nowTS()}, demoShopPassword)
				req, _ := http.NewRequest(http.MethodGet, e.url+"/tracking/tracking_img.php?"+q.Encode(), nil)
				req.Header.Set("User-Agent", browserUA)
				res, err := e.client.Do(req)
				if err != nil {
					status = 599
				} else {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					status = res.StatusCode
				}
			default:
				res, err := http.PostForm(e.url+"/tracking/tracking_post.php", url.Values{"shopid": {"100"}, "unique_id": {order},
					"amount_y": {"1980"}, "passwd": {demoShopPassword}, "ref_userid": {loc.Query().Get("aff_userid")}})
				if err != nil {
					status = 599
				} else {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					status = res.StatusCode
					if status == 200 && strings.TrimSpace(string(b)) != "OK" {
						status = 598
					}
				}
			}
			if status >= 500 {
				serverErrors.Add(1)
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	l, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: order, IncludeTest: true})
	if err != nil {
		t.Fatal(err)
	}
	count := len(l.GetConversions())
	proof.Tally(t, "fault: one order sent 1,000 times", int(done.Load()), max(count-1, 1-count)+int(serverErrors.Load()),
		fmt.Sprintf("by API, image tag and POST at once: %d conversion, %d server errors", count, serverErrors.Load()))
}

// TestDatabaseRestartMeans503ThenRecovery restarts PostgreSQL under click
// load: while it is down Baton answers 503 (not 500, not a hang), it
// recovers by itself, and every click it answered with a 302 is stored.
func TestDatabaseRestartMeans503ThenRecovery(t *testing.T) {
	t.Parallel()
	cluster, restart := ownCluster(t)
	defer func() { _ = cluster.Stop(context.Background()) }()
	// The synchronous path (no click spool): TestClicksSpooledThroughDatabaseOutage
	// is the same outage with the spool.
	s := start(t, func(c *config.Config) { c.DatabaseURL = cluster.URL(); c.ClickSpoolMaxBytes = 0 })
	client := noFollow(nil)
	var mu sync.Mutex
	answered := map[string]bool{}
	statuses := map[int]int{}
	clickOnce := func(i int) (int, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/c/demo?param1=restart-%d", s.url, i), nil)
		req.Header.Set("User-Agent", browserUA)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, time.Since(t0)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		statuses[res.StatusCode]++
		if res.StatusCode == http.StatusFound {
			u, _ := url.Parse(res.Header.Get("Location"))
			answered[u.Query().Get("sid")] = true
		}
		mu.Unlock()
		return res.StatusCode, time.Since(t0)
	}
	i := 0
	for range 50 {
		i++
		if st, _ := clickOnce(i); st != http.StatusFound {
			t.Fatalf("before the restart: %d", st)
		}
	}
	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		i++
		st, took := clickOnce(i)
		if st != http.StatusServiceUnavailable || took > 6*time.Second {
			t.Fatalf("with the database down: status %d after %v, want 503 quickly", st, took)
		}
	}
	cluster = restart()
	back := time.Now()
	testwait.Until(t, 30*time.Second, "Baton recovers once the database is back", func() bool {
		i++
		st, _ := clickOnce(i)
		return st == http.StatusFound
	})
	recovered := time.Since(back)
	for range 50 {
		i++
		clickOnce(i)
	}
	db, err := pgx.Connect(context.Background(), cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	lost := 0
	for id := range answered {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM clicks WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
			lost++
		}
	}
	if statuses[http.StatusInternalServerError] != 0 {
		t.Errorf("%d clicks answered 500", statuses[http.StatusInternalServerError])
	}
	proof.Tally(t, "fault: PostgreSQL restarted under click load", i, lost,
		fmt.Sprintf("answers %v; recovered %v after the database was back; %d answered with a 302, all stored", statuses, recovered.Round(10*time.Millisecond), len(answered)))
}
