package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

// Two Baton processes on one database share the IAB duplicate-click
// window: the same visitor clicking through node 1 and then node 2 within
// the offer's interval gives one unique click, and a click after the
// interval a second one, although each node answered from its own spool
// and its own memory.
func TestDuplicateClickWindowAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	// One master key for both nodes (each has its own data directory and
	// click spool).
	key := "BATON_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	node1 := startBatonEnv(t, dbURL, t.TempDir(), freeAddr(t), key)
	node2 := startBatonEnv(t, dbURL, t.TempDir(), freeAddr(t), key)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A short interval so the test can outlive it; the loader reads it
	// from the offer row when it decides (the nodes' cached offers still
	// say 30 minutes, and node 2's memory calls the third click a repeat).
	const interval = 3 * time.Second
	if _, err := conn.Exec(ctx, `UPDATE offers SET duplicate_click_interval = $1 WHERE id = (SELECT offer_id FROM tracking_links WHERE id = 'demo')`, interval); err != nil {
		t.Fatal(err)
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	click := func(p *proc, n int) (string, time.Time) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/c/demo?param1=window-%d", p.addr, n), nil)
		req.Header.Set("User-Agent", ua)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("click %d: status %d, want 302", n, res.StatusCode)
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Query().Get("sid"), time.Now()
	}
	first, at := click(node1, 1)
	second, secondAt := click(node2, 2)
	if secondAt.Sub(at) >= interval {
		t.Skipf("two requests took %v, longer than the %v window: cannot judge", secondAt.Sub(at), interval)
	}
	testwait.Until(t, 10*time.Second, "the window has ended", func() bool { return time.Since(at) > interval+100*time.Millisecond })
	third, _ := click(node2, 3)

	ids := []string{first, second, third}
	unique := map[string]bool{}
	testwait.Until(t, 30*time.Second, "the three clicks loaded by their nodes", func() bool {
		rows, err := conn.Query(ctx, `SELECT id, is_unique FROM clicks WHERE id = ANY($1)`, ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
			id string
			u  bool
		}, error) {
			var v struct {
				id string
				u  bool
			}
			return v, r.Scan(&v.id, &v.u)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range got {
			unique[v.id] = v.u
		}
		return len(got) == 3
	})
	if !unique[first] || unique[second] || !unique[third] {
		t.Errorf("stored unique: node 1 first=%v, node 2 within %v=%v, node 2 after it=%v; want true, false, true",
			unique[first], interval, unique[second], unique[third])
	}
}
