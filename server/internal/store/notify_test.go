package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestConfigAnnouncementsReachAListenerAndSurviveItsConnection: a change
// announced on one store reaches a listener on another (two nodes on one
// database) in well under a second; when the listener's connection is
// killed by the server, it reconnects, tells its owner to drop everything
// (resync: what was announced meanwhile is lost), and hears announcements
// again.
func TestConfigAnnouncementsReachAListenerAndSurviveItsConnection(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *store.Store {
		st, err := store.Open(ctx, url, store.Options{Box: box})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	a, b := open(), open()
	got := make(chan string, 16)
	var resyncs atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ListenConfig(ctx, func(what string) { got <- what }, func() { resyncs.Add(1) })
	}()
	testwait.Until(t, 5*time.Second, "the listener connects", func() bool { return resyncs.Load() == 1 })

	heard := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		if err := a.AnnounceConfigChange(ctx, what); err != nil {
			t.Fatal(err)
		}
		if w := testwait.Receive(t, time.Second, "the announcement of "+what, got); w != what {
			t.Fatalf("heard %q, want %q", w, what)
		}
		return time.Since(start)
	}
	first := heard("api_keys")

	// The server drops the listener's connection: it comes back by itself.
	tag, err := store.PoolOf(a).Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, store.ListenerName)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the listener's backend: %v (%d rows)", err, tag.RowsAffected())
	}
	testwait.Until(t, 10*time.Second, "the listener reconnects and resyncs", func() bool { return resyncs.Load() == 2 })
	again := heard("offers")
	cancel()
	testwait.Receive(t, 5*time.Second, "the listener stops with its context", (<-chan struct{})(done))
	t.Logf("announcement heard by the other store in %v; after a reconnection in %v", first, again)
	proof.Tally(t, "fault: the listener's connection terminated by the server", 2, 0,
		"both announcements heard within 1 s; the reconnection resynced (caches dropped) once")
}

// TestConcurrentMigrationsOnAFreshDatabase: three nodes starting at once on
// an empty database all migrate successfully (under the advisory lock),
// each migration is applied exactly once, and the postback queue's schema
// is there.
func TestConcurrentMigrationsOnAFreshDatabase(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	ctx := context.Background()
	const nodes = 3
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	ran := make([][]int, nodes)
	stores := make([]*store.Store, nodes)
	start := make(chan struct{})
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, err := store.Open(ctx, url, store.Options{Box: box})
			if err != nil {
				errs[i] = err
				return
			}
			stores[i] = st
			if ran[i], err = st.Migrate(ctx); err != nil {
				errs[i] = err
				return
			}
			errs[i] = st.MigrateQueue(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for _, st := range stores {
		if st != nil {
			defer st.Close()
		}
	}
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			t.Errorf("node %d: %v", i, err)
		}
	}
	applied := map[int]int{}
	for _, r := range ran {
		for _, v := range r {
			applied[v]++
		}
	}
	var rows, distinct int
	if err := store.PoolOf(stores[0]).QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	twice := 0
	for v, n := range applied {
		if n != 1 {
			twice++
			t.Errorf("migration %d applied by %d nodes", v, n)
		}
	}
	if rows != distinct || rows != len(applied) || rows == 0 {
		t.Errorf("schema_migrations has %d rows (%d versions); the nodes applied %d migrations", rows, distinct, len(applied))
	}
	var queue bool
	if err := store.PoolOf(stores[0]).QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&queue); err != nil || !queue {
		t.Errorf("the postback queue's table is missing: %v", err)
	}
	proof.Tally(t, "fault: 3 nodes migrate a fresh database at once", nodes, failed+twice,
		fmt.Sprintf("%d migrations applied once each, %d nodes failed", len(applied), failed))
}

// TestConfigListenerKeepsAnIdleConnection: an idle listener checks its
// connection (a ping) and keeps it: no reconnection, no cache drop, and
// announcements still arrive. Not parallel: it shortens the idle check.
func TestConfigListenerKeepsAnIdleConnection(t *testing.T) {
	url := testdb.URL(t)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, url, store.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	restore := store.ShortenListenIdle(20 * time.Millisecond)
	defer restore()
	got := make(chan string, 16)
	var resyncs atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.ListenConfig(ctx, func(what string) { got <- what }, func() { resyncs.Add(1) })
	}()
	defer func() { cancel(); <-done }()
	var pid int
	testwait.Until(t, 5*time.Second, "the idle listener pings its connection", func() bool {
		err := store.PoolOf(st).QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND query = '-- ping'`, store.ListenerName).Scan(&pid)
		return err == nil
	})
	// Its own announcement is not relayed (the node that changed something
	// has dropped its caches already); another node's is.
	other, err := store.Open(ctx, url, store.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := st.AnnounceConfigChange(ctx, "own-change"); err != nil {
		t.Fatal(err)
	}
	if err := other.AnnounceConfigChange(ctx, "sites"); err != nil {
		t.Fatal(err)
	}
	if w := testwait.Receive(t, time.Second, "an announcement after idle pings", (<-chan string)(got)); w != "sites" {
		t.Fatalf("heard %q first, want the other node's %q (a node's own announcements are not relayed to it)", w, "sites")
	}
	if n := resyncs.Load(); n != 1 {
		t.Errorf("the idle listener reconnected: %d resyncs, want 1", n)
	}
}
