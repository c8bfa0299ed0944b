package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// failures counts a hostile test's failed checks for its proof.Tally line.
type failures struct {
	t    *testing.T
	lost int
}

func (f *failures) Errorf(format string, args ...any) {
	f.t.Helper()
	f.lost++
	f.t.Errorf(format, args...)
}

func newLimitsEnv(t *testing.T) *clickEnv {
	return newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
}

// clickOf reads the click a redirect's sid names.
func (e *clickEnv) clickOf(t *testing.T, res *http.Response) *batonv1.Click {
	t.Helper()
	id := clickIDFrom(t, res, "sid")
	c, err := e.clicks.GetClick(context.Background(), &batonv1.GetClickRequest{Id: id})
	if err != nil {
		t.Fatalf("click %q from %s: %v", id, res.Header.Get("Location"), err)
	}
	return c.GetClick()
}

// TestClickWithA100KBQueryLands: a click URL with a 100 KB query string
// (a tracker that appends everything) still lands on the offer and is
// recorded, its sub-ID cut and flagged; other routes (but the image tags)
// keep the 64 KiB limit on the request line and headers (431).
func TestClickWithA100KBQueryLands(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	f := &failures{t: t}
	pad := strings.Repeat("x", 100<<10)
	res := e.click(t, nil, "param1=big-"+pad[:1000]+"&pad="+pad, browserUA)
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://shop.example/lp?sid=") {
		t.Fatalf("100 KB query: %d, Location %.80q", res.StatusCode, res.Header.Get("Location"))
	}
	c := e.clickOf(t, res)
	if !strings.HasPrefix(c.GetUpstream().GetId(), "big-") || len(c.GetUpstream().GetId()) > 255 || !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_SUB_ID_TRUNCATED) {
		f.Errorf("stored upstream ID of %d bytes, flags %v", len(c.GetUpstream().GetId()), c.GetFlags())
	}
	// Over HTTP/2 too.
	h2 := h2cClient()
	h2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if res := e.click(t, h2, "param1=h2&pad="+pad, browserUA); res.StatusCode != http.StatusFound {
		f.Errorf("100 KB query over h2c: %d", res.StatusCode)
	}
	// Elsewhere the limit stays.
	for _, path := range []string{"/healthz", "/postback", "/baton.v1.ConfigService/ListOffers"} {
		res, err := e.client.Get(e.url + path + "?pad=" + pad)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			f.Errorf("%s with a 100 KB query: %d, want 431", path, res.StatusCode)
		}
	}
	// And past the click path's own limit (256 KiB), a clear 431.
	if res := e.click(t, nil, "pad="+strings.Repeat("x", 300<<10), browserUA); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		f.Errorf("300 KB query: %d, want 431", res.StatusCode)
	}
	proof.Tally(t, "hostile: 100 KB click query", 6, f.lost,
		"a 100 KB click query lands (HTTP/1.1 and h2c), sub-ID cut and flagged; 431 on 3 other routes and past 256 KiB")
}

// TestClickPastTenThousandParametersLands: Go's query parser gives up past
// 10,000 parameters and returns nothing, so the sub-ID and the deep link
// were silently lost. The first parameters are read, the click is flagged
// as cut, and the person lands on the deep link.
func TestClickPastTenThousandParametersLands(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	f := &failures{t: t}
	q := "param1=kept-upstream&jump=" + url.QueryEscape("/item/42") + strings.Repeat("&a", 12000)
	res := e.click(t, nil, q, browserUA)
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://shop.example/item/42?sid=") {
		t.Fatalf("12,000 parameters: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	c := e.clickOf(t, res)
	if c.GetUpstream().GetId() != "kept-upstream" || !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_QUERY_CUT) {
		f.Errorf("stored upstream ID %q, flags %v", c.GetUpstream().GetId(), c.GetFlags())
	}
	// A normal click is not flagged.
	if c := e.clickOf(t, e.click(t, nil, "param1=plain&a=1&b=2", browserUA)); slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_QUERY_CUT) {
		f.Errorf("a plain click is flagged: %v", c.GetFlags())
	}
	proof.Tally(t, "hostile: click with 12,000 query parameters", 2, f.lost,
		"lands on its deep link with its sub-ID, flagged QUERY_CUT; a plain click is not flagged")
}

// TestClickCancelledByTheClientIsFlagged: an HTTP/2 client sends a click
// and cancels the stream (RST_STREAM) before the answer: the click, already
// on its way to the database, is stored flagged cancelled and not unique.
func TestClickCancelledByTheClientIsFlagged(t *testing.T) {
	t.Parallel()
	// Without the click spool (BATON_CLICK_SPOOL_MAX_BYTES=0), a click
	// waits for its commit, which the test holds; a spooled click is
	// answered after an fsync, before any lock could hold it.
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}},
		func(c *config.Config) { c.ClickSpoolMaxBytes = 0 })
	f := &failures{t: t}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	// Hold the click's commit: inserts into clicks wait for this lock.
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE clicks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	watch, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	h2 := h2cClient()
	reqCtx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, e.link.GetUrl()+"?param1=cancelled-click", nil)
	req.Header.Set("User-Agent", browserUA)
	errc := make(chan error, 1)
	go func() {
		res, err := h2.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	// Wait until the click's insert waits on the lock, then cancel.
	testwait.Until(t, 20*time.Second, "the click's insert waiting on the lock", func() bool {
		var waiting int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()
			AND query ILIKE '%clicks%' AND pid <> pg_backend_pid()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting > 0
	})
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	// The server reads a connection's frames in order: once a later
	// request on the same connection is answered, it has seen the
	// RST_STREAM.
	res, err := h2.Get(e.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var flags int
	var unique bool
	var rowErr error
	if !testwait.Poll(20*time.Second, func() bool {
		rowErr = db.QueryRow(ctx, `SELECT flags, is_unique FROM clicks WHERE upstream_id = 'cancelled-click'`).Scan(&flags, &unique)
		return rowErr == nil && flags != 0
	}) {
		t.Fatalf("cancelled click: flags %d, unique %v, %v", flags, unique, rowErr)
	}
	l, err := e.clicks.ListClicks(ctx, &batonv1.ListClicksRequest{UpstreamId: "cancelled-click"})
	if err != nil || len(l.GetClicks()) != 1 {
		t.Fatalf("ListClicks: %v %v", l, err)
	}
	if c := l.GetClicks()[0]; !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_CANCELLED) || c.GetUnique() {
		f.Errorf("cancelled click listed with flags %v, unique %v", c.GetFlags(), c.GetUnique())
	}
	// A click answered normally is not flagged.
	if c := e.clickOf(t, e.click(t, nil, "param1=answered", browserUA)); slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_CANCELLED) {
		f.Errorf("an answered click is flagged: %v", c.GetFlags())
	}
	proof.Tally(t, "hostile: click cancelled by RST_STREAM", 2, f.lost,
		"stored flagged CANCELLED and not unique; an answered click is not flagged")
}
