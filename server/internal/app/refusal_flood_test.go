package app_test

import (
	"bytes"
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
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

// countingWriter counts the bytes of the server's log.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// TestHostileRefusalFlood floods garbage image tags and FC2 server POSTs,
// for a real shop and for shops that do not exist, and measures what the
// flood costs: refusal rows added and log bytes written. Before, each
// request added a row (88,405 rows, 53 MiB, in a 20 s flood, 29,459 of them
// for a shop that does not exist) and a WARN line (38 MiB): now refusals
// are aggregated per advertiser, source, code and minute, one naming no
// shop keeps only its count, and log lines of one kind are limited per
// minute. The shop still sees every refusal counted, with samples.
func TestHostileRefusalFlood(t *testing.T) {
	t.Parallel()
	var logw countingWriter
	s := startLogged(t, &logw)
	const perKind = 1000
	kinds := []struct {
		name string
		send func(i int) (*http.Response, error)
		shop bool
	}{
		{"tag, real shop", func(i int) (*http.Response, error) {
			q := url.Values{"shopid": {"100"}, "unique_id": {fmt.Sprintf("FLOOD-%d", i)}, "amount_y": {fmt.Sprintf("garbage%d", i)}}
			return s.client.Get(s.url + "/tracking/tracking_img.php?" + q.Encode())
		}, true},
		{"tag, no such shop", func(i int) (*http.Response, error) {
			q := url.Values{"shopid": {fmt.Sprintf("9%08d", i)}, "unique_id": {fmt.Sprintf("FLOOD-%d", i)}, "amount_y": {"1"}}
			return s.client.Get(s.url + "/tracking/tracking_img.php?" + q.Encode())
		}, false},
		{"POST, real shop", func(i int) (*http.Response, error) {
			return s.client.PostForm(s.url+"/tracking/tracking_post.php", url.Values{"shopid": {"100"}, "unique_id": {fmt.Sprintf("FLOODP-%d", i)},
				"amount_y": {"1"}, "passwd": {fmt.Sprintf("wrong-%d", i)}})
		}, true},
		{"POST, no such shop", func(i int) (*http.Response, error) {
			return s.client.PostForm(s.url+"/tracking/tracking_post.php", url.Values{"shopid": {fmt.Sprintf("8%08d", i)}, "unique_id": {fmt.Sprintf("FLOODP-%d", i)},
				"amount_y": {"1"}, "passwd": {"x"}})
		}, false},
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	countRows := func() (n int64) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM conversion_refusals`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rowsBefore, logBefore := countRows(), logw.n.Load()
	began := time.Now()
	var tried, fiveXX, failed atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan func(), 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				f()
			}
		}()
	}
	for i := range perKind {
		for _, k := range kinds {
			jobs <- func() {
				tried.Add(1)
				res, err := k.send(i)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 500 {
					fiveXX.Add(1)
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	ended := time.Now()
	rows, logBytes := countRows()-rowsBefore, logw.n.Load()-logBefore
	// Rows and lines are bounded per minute: a flood inside one minute
	// costs what a whole minute of it would; one across a boundary costs
	// that once per minute it touched.
	minutes := int64(ended.Truncate(time.Minute).Sub(began.Truncate(time.Minute))/time.Minute) + 1
	lost := int(fiveXX.Load() + failed.Load())
	// At most one row per advertiser (the shop, and "none"), source (tag,
	// POST) and code, per minute.
	if maxRows := minutes * 2 * 2 * 13; rows > maxRows {
		lost++
		t.Errorf("the flood added %d refusal rows for %d requests over %d minute(s); want at most %d", rows, tried.Load(), minutes, maxRows)
	}
	if maxLog := minutes * 64 << 10; logBytes > maxLog {
		lost++
		t.Errorf("the flood wrote %d log bytes for %d requests over %d minute(s); want at most %d", logBytes, tried.Load(), minutes, maxLog)
	}
	// Nothing of what the unknown shops sent is kept.
	var kept int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM conversion_refusals WHERE advertiser_id = ''
		AND (order_id <> '' OR params <> '{}' OR remote_ip <> '' OR message LIKE '%9000%' OR message LIKE '%8000%')`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept > 0 {
		lost++
		t.Errorf("%d refusal rows keep what a report for no shop sent", kept)
	}
	// The shop sees why its tags fail: every refusal counted, with samples.
	adv := batonv1connect.NewConversionServiceClient(s.client, s.url, withKey(app.DemoAdvertiserKey))
	l, err := adv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	codes := map[string]int64{}
	for _, r := range l.GetRefusals() {
		counted += r.GetCount()
		codes[r.GetCode()] += r.GetCount()
		if n := len(r.GetSamples()); n == 0 || n > 10 || r.GetSamples()[0].GetOrderId() != r.GetOrderId() {
			lost++
			t.Errorf("refusal %s (%d counted): %d samples, want 1 to 10 starting with %q", r.GetId(), r.GetCount(), n, r.GetOrderId())
		}
		if !strings.HasPrefix(r.GetOrderId(), "FLOOD") {
			lost++
			t.Errorf("the shop's refusal shows order %q", r.GetOrderId())
		}
	}
	if want := int64(2 * perKind); counted != want {
		lost++
		t.Errorf("the shop sees %d refusals counted (%v), want %d", counted, codes, want)
	}
	perMin := func(n int64) int64 { return n / minutes }
	proof.Tally(t, "hostile: refusal flood (tags and POSTs, real and no shop)", int(tried.Load()), lost,
		fmt.Sprintf("%d requests in %v: %d refusal rows and %d log bytes (%d rows/min, %.1f KiB/min of flood; was ~265,000 rows and ~114 MiB per minute); the shop sees %d counted (%v)",
			tried.Load(), ended.Sub(began).Round(time.Millisecond), rows, logBytes, perMin(rows), float64(perMin(logBytes))/1024, counted, codes))
}

// refusalsOf expands the refusal aggregates of a ListRefusals answer into
// one Refusal per sample (code, source and advertiser of its aggregate,
// the rest the sample's), as a log of one row per report would list them;
// an aggregate without samples (reports naming no shop) is left as it is.
func refusalsOf(l *batonv1.ListRefusalsResponse) []*batonv1.Refusal {
	var out []*batonv1.Refusal
	for _, r := range l.GetRefusals() {
		if len(r.GetSamples()) == 0 {
			out = append(out, r)
			continue
		}
		for _, s := range r.GetSamples() {
			out = append(out, &batonv1.Refusal{Id: r.GetId(), AdvertiserId: r.GetAdvertiserId(), OfferId: r.GetOfferId(), Source: r.GetSource(),
				Code: r.GetCode(), Reason: r.GetReason(), Message: s.GetMessage(), OrderId: s.GetOrderId(), ClickId: s.GetClickId(),
				Params: s.GetParams(), RemoteIp: s.GetRemoteIp(), CreateTime: s.GetTime(), Count: 1, LastTime: s.GetTime()})
		}
	}
	return out
}

// TestRefusalsPastRetentionAreDeleted: the maintenance loop deletes refusal
// aggregates older than BATON_REFUSAL_RETENTION and keeps the recent ones.
func TestRefusalsPastRetentionAreDeleted(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	ctx := context.Background()
	for _, age := range []time.Duration{40 * 24 * time.Hour, time.Hour} {
		st, err := store.Open(ctx, dbURL, store.Options{Box: testBox(t), Now: func() time.Time { return time.Now().Add(-age) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.AddRefusal(ctx, domain.Refusal{AdvertiserID: app.DemoAdvertiserID, Source: domain.SourcePixel,
			Code: domain.RefusalInvalidParameter, Message: "m", OrderID: fmt.Sprintf("AGE-%v", age)}); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	s := start(t, func(c *config.Config) { c.DatabaseURL = dbURL; c.RefusalRetention = 30 * 24 * time.Hour })
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var orders []string
	if !testwait.Poll(20*time.Second, func() bool {
		rows, _ := conn.Query(ctx, `SELECT order_id FROM conversion_refusals ORDER BY order_id`)
		var err error
		if orders, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		return len(orders) == 1 && orders[0] == "AGE-1h0m0s"
	}) {
		t.Fatalf("refusals left: %v; want only the one an hour old", orders)
	}
}

func testBox(t testing.TB) *secretbox.Box {
	b, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
