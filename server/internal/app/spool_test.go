package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/pgembed"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// spoolOutage is how long PostgreSQL stays down in
// TestClicksSpooledThroughDatabaseOutage: 8 s by default, a stand-in for
// issue 18's 60 s (past the 5 s link cache, so stale link settings are
// used too); BATON_TEST_SPOOL_OUTAGE=60s runs the full length.
func spoolOutage(t *testing.T) time.Duration {
	if v := os.Getenv("BATON_TEST_SPOOL_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return 8 * time.Second
}

// ownCluster starts a PostgreSQL cluster of the test's own, which the test
// may stop; restart starts it again on the same port and data.
func ownCluster(t *testing.T) (cluster *pgembed.Cluster, restart func() *pgembed.Cluster) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o711)
	restart = func() *pgembed.Cluster {
		c, err := pgembed.Start(context.Background(), pgembed.Config{Dir: filepath.Join(dir, "pg"), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return restart(), restart
}

// TestClicksSpooledThroughDatabaseOutage stops PostgreSQL under click load
// from 8 clients: with the click spool every redirect keeps answering 302
// while it is down, and once it is back every acknowledged click is in
// PostgreSQL exactly once.
func TestClicksSpooledThroughDatabaseOutage(t *testing.T) {
	t.Parallel()
	outage := spoolOutage(t)
	cluster, restart := ownCluster(t)
	defer func() { _ = cluster.Stop(context.Background()) }()
	s := start(t, func(c *config.Config) { c.DatabaseURL = cluster.URL() })
	var mu sync.Mutex
	answered := map[string]bool{}
	statuses := map[int]int{}
	var down atomic.Bool
	var n, whileDown, notFoundWhileDown atomic.Int64
	click := func(client *http.Client) {
		i := n.Add(1)
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/c/demo?param1=outage-%d", s.url, i), nil)
		req.Header.Set("User-Agent", browserUA)
		wasDown := down.Load()
		res, err := client.Do(req)
		if err != nil {
			mu.Lock()
			statuses[0]++
			mu.Unlock()
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		statuses[res.StatusCode]++
		if res.StatusCode == http.StatusFound {
			u, _ := url.Parse(res.Header.Get("Location"))
			answered[u.Query().Get("sid")] = true
			if wasDown && down.Load() {
				whileDown.Add(1)
			}
		} else if wasDown {
			notFoundWhileDown.Add(1)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := noFollow(nil)
			for {
				select {
				case <-stop:
					return
				default:
					click(client)
				}
			}
		}()
	}
	testwait.Until(t, 30*time.Second, "500 clicks before the outage", func() bool { return n.Load() >= 500 })
	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	stopped := time.Now()
	// Clicks go on for the outage: wait for its length and for clicks
	// answered meanwhile (polling, with a deadline).
	testwait.Until(t, outage+60*time.Second, "the outage's length under load", func() bool {
		return time.Since(stopped) >= outage && whileDown.Load() >= 200
	})
	down.Store(false)
	cluster = restart()
	outageLen := time.Since(stopped)
	n0 := n.Load()
	testwait.Until(t, 30*time.Second, "more clicks after the outage", func() bool { return n.Load() >= n0+200 })
	close(stop)
	wg.Wait()

	db, err := pgx.Connect(context.Background(), cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	// The loader catches up by itself once PostgreSQL is back.
	var lost, twice int
	back := time.Now()
	testwait.Until(t, 60*time.Second, "every acknowledged click loaded", func() bool {
		rows, _ := db.Query(context.Background(), `SELECT id, count(*) FROM clicks GROUP BY id`)
		counts := map[string]int{}
		for rows.Next() {
			var id string
			var c int
			if rows.Scan(&id, &c) == nil {
				counts[id] = c
			}
		}
		if rows.Err() != nil {
			return false
		}
		lost, twice = 0, 0
		for id := range answered {
			switch counts[id] {
			case 0:
				lost++
			case 1:
			default:
				twice++
			}
		}
		return lost == 0 && twice == 0
	})
	caughtUp := time.Since(back)
	if notFoundWhileDown.Load() != 0 || statuses[http.StatusFound] != len(answered) {
		t.Errorf("while PostgreSQL was down, %d clicks were not answered 302: %v", notFoundWhileDown.Load(), statuses)
	}
	if statuses[http.StatusServiceUnavailable] != 0 || statuses[http.StatusInternalServerError] != 0 {
		t.Errorf("answers %v: want only 302", statuses)
	}
	proof.Tally(t, "fault: PostgreSQL down under click load (spool)", int(n.Load()), lost+twice+int(notFoundWhileDown.Load()),
		fmt.Sprintf("PostgreSQL down %.1f s (issue 18 asks 60 s: BATON_TEST_SPOOL_OUTAGE=60s) under 8 clients: %d redirects answered 302 while down, answers %v; all %d acknowledged in PostgreSQL once, %.2f s after it was back",
			outageLen.Seconds(), whileDown.Load(), statuses, len(answered), caughtUp.Seconds()))
}

// TestConversionFindsASpooledClick: a conversion for a click that is
// answered but not yet loaded into PostgreSQL (the loader is held by a
// lock) waits for the load and is attributed to the click, instead of
// saying "unknown click".
func TestConversionFindsASpooledClick(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	db, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `LOCK TABLE clicks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	id := e.clickID(t, "param1=spooled") // answered: the click is in the spool
	var inDB int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM clicks WHERE id = $1`, id).Scan(&inDB); err != nil || inDB != 0 {
		t.Fatalf("the click is already in PostgreSQL (%d, %v): the lock did not hold the loader", inDB, err)
	}
	type result struct {
		clickID string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "SPOOLED-1", AmountJpy: yen(1000)})
		done <- result{res.GetConversion().GetClickId(), err}
	}()
	if err := tx.Commit(ctx); err != nil { // the loader goes on
		t.Fatal(err)
	}
	r := <-done
	lost := 0
	if r.err != nil || r.clickID != id {
		lost = 1
		t.Errorf("conversion for a spooled click: click %q, %v", r.clickID, r.err)
	}
	proof.Tally(t, "fault: conversion for a click still in the spool", 1, lost,
		"the loader held by a lock: the conversion waits for the click's load and is attributed to it")
}
