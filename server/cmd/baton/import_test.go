package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"

	"github.com/batonhq/baton/server/internal/importgen"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/signature"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

const (
	sampleProgram   = "testdata/program"
	badProgram      = "testdata/program-bad"
	shop26Password  = "sample-shop-pass-26" // testdata/program/shops.csv
	importAdminKey  = "crash-test-admin-key-0123"
	importLogLevels = "BATON_LOG_LEVEL=warn"
)

// batonCommand is the test binary run as `baton args...` on dbURL.
func batonCommand(dbURL, dataDir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BATON_TEST_AS_MAIN=1", "BATON_DATABASE_URL="+dbURL, "BATON_DATA_DIR="+dataDir, importLogLevels)
	return cmd
}

// runBaton runs `baton args...` to the end and returns its standard output
// and exit code.
func runBaton(t *testing.T, dbURL, dataDir string, args ...string) (string, int) {
	t.Helper()
	cmd := batonCommand(dbURL, dataDir, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Logf("baton %s (stderr):\n%s", strings.Join(args, " "), errOut.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// tableCounts is what an import may change: the rows of every table it
// writes, and where the FC2 number sequences stand.
func tableCounts(t *testing.T, dbURL string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]int64{}
	for _, q := range []string{
		"SELECT count(*) FROM advertisers", "SELECT count(*) FROM publishers", "SELECT count(*) FROM sites",
		"SELECT count(*) FROM offers", "SELECT count(*) FROM conversions", "SELECT count(*) FROM conversion_status_changes",
		"SELECT count(*) FROM postback_deliveries",
		"SELECT last_value FROM advertisers_shop_id_seq", "SELECT last_value FROM publishers_user_id_seq", "SELECT last_value FROM sites_site_id_seq",
	} {
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[q] = n
	}
	return out
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

// TestImportSampleProgram runs `baton import --dry-run` and `baton import`
// on the committed sample program, twice, and the refused program, through
// the real binary on a real PostgreSQL.
func TestImportSampleProgram(t *testing.T) {
	dbURL, dataDir := testdb.URL(t), t.TempDir()

	out, code := runBaton(t, dbURL, dataDir, "import", "--dry-run", sampleProgram)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	wantLines(t, out,
		"shops.csv              2 rows:       2 to create,       0 already in Baton",
		"publishers.csv         3 rows:       3 to create",
		"sites.csv              3 rows:       3 to create",
		"offers.csv             2 rows:       2 to create",
		"conversions.csv        5 rows:       5 to create",
		"nothing was written")
	empty := tableCounts(t, dbURL)
	for q, n := range empty {
		if strings.Contains(q, "count") && n != 0 {
			t.Errorf("after the dry run: %s = %d, want 0", q, n)
		}
	}

	out, code = runBaton(t, dbURL, dataDir, "import", sampleProgram)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	wantLines(t, out, "shops.csv              2 rows:       2 created", "publishers.csv         3 rows:       3 created",
		"sites.csv              3 rows:       3 created", "offers.csv             2 rows:       2 created", "conversions.csv        5 rows:       5 created")
	first := tableCounts(t, dbURL)
	for q, want := range map[string]int64{"SELECT count(*) FROM advertisers": 2, "SELECT count(*) FROM publishers": 3, "SELECT count(*) FROM sites": 3,
		"SELECT count(*) FROM offers": 2, "SELECT count(*) FROM conversions": 5, "SELECT count(*) FROM conversion_status_changes": 5,
		"SELECT count(*) FROM postback_deliveries": 0} {
		if first[q] != want {
			t.Errorf("after the import: %s = %d, want %d", q, first[q], want)
		}
	}

	// The same files again: nothing changes, and the dry run says so.
	out, code = runBaton(t, dbURL, dataDir, "import", sampleProgram)
	if code != 0 {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
	wantLines(t, out, "shops.csv              2 rows:       0 created,       2 already in Baton",
		"conversions.csv        5 rows:       0 created,       5 already in Baton")
	out, _ = runBaton(t, dbURL, dataDir, "import", "--dry-run", sampleProgram)
	wantLines(t, out, "conversions.csv        5 rows:       0 to create,       5 already in Baton")
	if second := tableCounts(t, dbURL); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("the second run changed the database:\nfirst  %v\nsecond %v", first, second)
	}

	// A program with mistakes: every refused row by file, line, column and
	// reason, exit status 1, and nothing written even without --dry-run.
	for _, args := range [][]string{{"import", "--dry-run", badProgram}, {"import", badProgram}} {
		out, code = runBaton(t, dbURL, dataDir, args...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", args, code, out)
		}
		wantLines(t, out,
			"8 rows refused; nothing was written",
			`sites.csv:1: owner: unknown column "owner" (known: site_id, user_id, name, url)`,
			"conversions.csv:3: order_id: order ID A-0001 of shop ID 26 is also on line 2",
			`conversions.csv:4: amount: "19.80" is not an amount in JPY with at most 0 decimals`,
			"conversions.csv:5: offer_id: offer off_fc2_27 is an offer of shop ID 27, not 26",
			"conversions.csv:6: user_id: no publisher with user ID 9999 in publishers.csv or in Baton",
			`conversions.csv:7: status: "paid" is not pending, approved, rejected or reversed`,
			`conversions.csv:7: sale_time: "yesterday" is not RFC 3339`,
			"conversions.csv:8: shop_id: no shop with shop ID 99 in shops.csv or in Baton")
	}
	if after := tableCounts(t, dbURL); fmt.Sprint(after) != fmt.Sprint(first) {
		t.Errorf("the refused program changed the database:\nbefore %v\nafter  %v", first, after)
	}
	if _, code := runBaton(t, dbURL, dataDir, "import", "testdata/no-such-dir"); code == 0 {
		t.Error("a missing directory: exit 0")
	}
}

// fc2SH is sh as the FC2 specification defines it.
func fc2SH(password string, p url.Values) string {
	h := sha1.Sum([]byte(password + p.Get("shopid") + p.Get("unique_id") + p.Get("uname") + p.Get("email") + p.Get("amount_y") +
		p.Get("amount_d") + p.Get("ts") + p.Get("recurring") + p.Get("item_code") + p.Get("unit_num")))
	return hex.EncodeToString(h[:])
}

// seedTag is the FC2 specification's example tag (seeds/002), verbatim but
// for a fresh ts: the seed's is from 2006.
func seedTag(uniqueID string) url.Values {
	q, err := url.ParseQuery("shopid=26&uname=tarou&email=tarou%40hogehoge.com&amount_y=1980&unique_id=100&ts=20060228185000&recurring=0&item_code=sample1&unit_num=1")
	if err != nil {
		panic(err)
	}
	q.Set("ts", signature.FormatFC2TS(time.Now()))
	if uniqueID != "" {
		q.Set("unique_id", uniqueID)
	}
	return q
}

type importedEnv struct {
	t      *testing.T
	base   string
	config batonv1connect.ConfigServiceClient
	conv   batonv1connect.ConversionServiceClient
	attr   batonv1connect.AttributionServiceClient
	pb     batonv1connect.PostbackServiceClient
}

func (e *importedEnv) advertiserByShop(shopID int64) *batonv1.Advertiser {
	e.t.Helper()
	res, err := e.config.ListAdvertisers(context.Background(), &batonv1.ListAdvertisersRequest{PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range res.GetAdvertisers() {
		if a.GetShopId() == shopID {
			return a
		}
	}
	e.t.Fatalf("no advertiser with shop ID %d", shopID)
	return nil
}

func (e *importedEnv) publisherByUser(userID int64) *batonv1.Publisher {
	e.t.Helper()
	res, err := e.config.ListPublishers(context.Background(), &batonv1.ListPublishersRequest{PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range res.GetPublishers() {
		if p.GetUserId() == userID {
			return p
		}
	}
	e.t.Fatalf("no publisher with user ID %d", userID)
	return nil
}

// order returns the conversions of an order at a shop.
func (e *importedEnv) order(advertiserID, orderID string) []*batonv1.Conversion {
	e.t.Helper()
	res, err := e.conv.ListConversions(context.Background(), &batonv1.ListConversionsRequest{AdvertiserId: advertiserID, OrderId: orderID})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.GetConversions()
}

func (e *importedEnv) pixel(q url.Values) int {
	e.t.Helper()
	res, err := http.Get(e.base + "/tracking/tracking_img.php?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (e *importedEnv) post(form url.Values) (int, string) {
	e.t.Helper()
	res, err := http.PostForm(e.base+"/tracking/tracking_post.php", form)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, strings.TrimSpace(string(b))
}

// TestImportedProgramKeepsItsTags imports the sample program and then uses
// it as the shops and affiliates would: the FC2 specification's own tag and
// POST for shop 26 with its old password, a wrong password, the FC2 numbers
// Baton hands out afterwards, approvals and reversals of imported sales by
// order ID, and a recurring charge credited through an imported sale —
// with no postback for the imported past.
func TestImportedProgramKeepsItsTags(t *testing.T) {
	dbURL, dataDir := testdb.URL(t), t.TempDir()
	if out, code := runBaton(t, dbURL, dataDir, "import", sampleProgram); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	var mu sync.Mutex
	var received []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.URL.RawQuery)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer rcv.Close()
	addr := freeAddr(t)
	startBatonEnv(t, dbURL, dataDir, addr, "BATON_POSTBACK_ALLOW=127.0.0.0/8", "BATON_POSTBACK_SCHEDULE=200ms")
	base := "http://" + addr
	admin := bearerKey(importAdminKey)
	e := &importedEnv{t: t, base: base,
		config: batonv1connect.NewConfigServiceClient(http.DefaultClient, base, admin),
		conv:   batonv1connect.NewConversionServiceClient(http.DefaultClient, base, admin),
		attr:   batonv1connect.NewAttributionServiceClient(http.DefaultClient, base, admin),
		pb:     batonv1connect.NewPostbackServiceClient(http.DefaultClient, base, admin)}
	ctx := context.Background()
	shop26 := e.advertiserByShop(26)

	t.Run("the seed's image tag with the old password", func(t *testing.T) {
		q := seedTag("")
		q.Set("sh", fc2SH(shop26Password, q))
		if code := e.pixel(q); code != http.StatusOK {
			t.Fatalf("tag: %d", code)
		}
		got := e.order(shop26.GetId(), "100")
		if len(got) != 1 || got[0].GetAmount().GetAmountMinor() != 1980 || got[0].GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_PIXEL {
			t.Fatalf("order 100 of shop 26: %v", got)
		}
		// A wrong password: answered with the image as always, not recorded.
		bad := seedTag("101")
		bad.Set("sh", fc2SH("not-the-password", bad))
		e.pixel(bad)
		if got := e.order(shop26.GetId(), "101"); len(got) != 0 {
			t.Errorf("a tag signed with a wrong password was recorded: %v", got)
		}
		refusals, err := e.conv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{AdvertiserId: shop26.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range refusals.GetRefusals() {
			for _, s := range r.GetSamples() {
				found = found || (s.GetOrderId() == "101" && r.GetCode() == "bad_signature" && strings.Contains(s.GetMessage(), "sh does not match"))
			}
		}
		if !found {
			t.Errorf("no refusal says why order 101 was refused: %v", refusals.GetRefusals())
		}
	})

	t.Run("the seed's values by server POST with the old password", func(t *testing.T) {
		form := seedTag("102")
		form.Set("sh", fc2SH(shop26Password, form))
		if code, body := e.post(form); code != http.StatusOK || body != "OK" {
			t.Fatalf("POST with sh: %d %q", code, body)
		}
		form = seedTag("103")
		form.Set("passwd", shop26Password)
		if code, body := e.post(form); code != http.StatusOK || body != "OK" {
			t.Fatalf("POST with passwd: %d %q", code, body)
		}
		for _, order := range []string{"102", "103"} {
			if got := e.order(shop26.GetId(), order); len(got) != 1 {
				t.Errorf("order %s: %d conversions", order, len(got))
			}
		}
		bad := seedTag("104")
		bad.Set("passwd", "not-the-password")
		if code, body := e.post(bad); code != http.StatusForbidden || body != "ERROR: passwd is wrong" {
			t.Errorf("POST with a wrong passwd: %d %q", code, body)
		}
		bad = seedTag("105")
		bad.Set("sh", fc2SH("not-the-password", bad))
		if code, body := e.post(bad); code != http.StatusForbidden || !strings.Contains(body, "sh does not match") {
			t.Errorf("POST with sh of a wrong password: %d %q", code, body)
		}
		for _, order := range []string{"104", "105"} {
			if got := e.order(shop26.GetId(), order); len(got) != 0 {
				t.Errorf("order %s with a wrong password was recorded", order)
			}
		}
		refusals, err := e.conv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{AdvertiserId: shop26.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]string{}
		for _, r := range refusals.GetRefusals() {
			for _, s := range r.GetSamples() {
				codes[s.GetOrderId()] = r.GetCode()
			}
		}
		if codes["104"] != "bad_password" || codes["105"] != "bad_signature" {
			t.Errorf("refusal codes %v: want 104 bad_password, 105 bad_signature", codes)
		}
	})

	t.Run("FC2 numbers given and drawn never collide", func(t *testing.T) {
		_, err := e.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "Another shop 26", ShopId: ptr(int64(26)), Secret: ptr("another-password")})
		if connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "shop ID 26") {
			t.Errorf("shop ID 26 again: %v", err)
		}
		_, err = e.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "Another 2001", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA, UserId: ptr(int64(2001))})
		if connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "user ID 2001") {
			t.Errorf("user ID 2001 again: %v", err)
		}
		// Given numbers above what the sequences reached: the next drawn
		// numbers are past them.
		adv, err := e.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "Moved shop 4000", ShopId: ptr(int64(4000)), Secret: ptr("moved-shop-4000")})
		if err != nil {
			t.Fatal(err)
		}
		if adv.GetSecret() != "" || adv.GetAdvertiser().GetShopId() != 4000 {
			t.Errorf("a given secret is not echoed and the shop ID is kept: %v", adv)
		}
		drawn, err := e.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "New shop"})
		if err != nil {
			t.Fatal(err)
		}
		if id := drawn.GetAdvertiser().GetShopId(); id <= 4000 {
			t.Errorf("a drawn shop ID %d is not past the given 4000", id)
		}
		pub, err := e.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "New media", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
		if err != nil {
			t.Fatal(err)
		}
		if id := pub.GetPublisher().GetUserId(); id <= 2003 {
			t.Errorf("a drawn user ID %d is not past the imported 2003", id)
		}
		site, err := e.config.CreateSite(ctx, &batonv1.CreateSiteRequest{PublisherId: pub.GetPublisher().GetId(), Name: "New site", Url: "https://new.example.jp/"})
		if err != nil {
			t.Fatal(err)
		}
		if id := site.GetSite().GetSiteId(); id <= 5003 {
			t.Errorf("a drawn site ID %d is not past the imported 5003", id)
		}
		_, err = e.config.CreateSite(ctx, &batonv1.CreateSiteRequest{PublisherId: pub.GetPublisher().GetId(), Name: "Taken", Url: "https://taken.example.jp/", SiteId: ptr(int64(5001))})
		if connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "site ID 5001") {
			t.Errorf("site ID 5001 again: %v", err)
		}
		// Only an admin gives numbers and secrets.
		advKey := bearerKey("bk_demo_advertiser_key_0000000000")
		asAdv := batonv1connect.NewConfigServiceClient(http.DefaultClient, base, advKey)
		if _, err := asAdv.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "x", ShopId: ptr(int64(4100)), Secret: ptr("password-x")}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("an advertiser key creating a shop with a given ID: %v", err)
		}
		pubKey := batonv1connect.NewConfigServiceClient(http.DefaultClient, base, bearerKey("bk_demo_publisher_key_00000000000"))
		if _, err := pubKey.CreateSite(ctx, &batonv1.CreateSiteRequest{PublisherId: "pub_demo", Name: "x", Url: "https://x.example.jp/", SiteId: ptr(int64(9100))}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("a publisher key giving its site an FC2 site ID: %v", err)
		}
		if _, err := asAdv.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: "shop_id,name,password\n4200,x,password\n"}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("an advertiser key importing: %v", err)
		}
	})

	t.Run("ImportProgram by RPC", func(t *testing.T) {
		shops := "shop_id,name,password\n4300,RPC shop,rpc-shop-password\n"
		offers := "offer_id,shop_id,name,landing_url,payout_percent_bps\noff_rpc,4300,RPC offer,https://rpc.example.jp/,500\n"
		dry, err := e.config.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: shops, OffersCsv: offers, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if f := dry.GetFiles(); !dry.GetDryRun() || len(f) != 2 || f[0].GetCreated() != 1 || f[1].GetCreated() != 1 || len(dry.GetProblems()) != 0 {
			t.Fatalf("dry run: %v", dry)
		}
		if _, err := e.config.ListOffers(ctx, &batonv1.ListOffersRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.config.GetOffer(ctx, &batonv1.GetOfferRequest{Id: "off_rpc"}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("the dry run created off_rpc: %v", err)
		}
		for range 2 {
			res, err := e.config.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: shops, OffersCsv: offers})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.GetFiles()) != 2 || res.GetFiles()[0].GetCreated()+res.GetFiles()[0].GetExisting() != 1 {
				t.Fatalf("import: %v", res)
			}
		}
		if o, err := e.config.GetOffer(ctx, &batonv1.GetOfferRequest{Id: "off_rpc"}); err != nil || o.GetOffer().GetAdvertiserId() != e.advertiserByShop(4300).GetId() {
			t.Errorf("off_rpc: %v %v", o, err)
		}
		// A number that belongs to a record created in Baton is refused, not adopted.
		demo, err := e.config.GetAdvertiser(ctx, &batonv1.GetAdvertiserRequest{Id: "adv_demo"})
		if err != nil {
			t.Fatal(err)
		}
		taken, err := e.config.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: fmt.Sprintf("shop_id,name,password\n%d,Not the demo,password\n", demo.GetAdvertiser().GetShopId())})
		if err != nil {
			t.Fatal(err)
		}
		if p := taken.GetProblems(); len(p) != 1 || p[0].GetLine() != 2 || !strings.Contains(p[0].GetReason(), "is taken by adv_demo, which was created in Baton, not imported") {
			t.Errorf("the demo shop's number: %v", p)
		}
		bad, err := e.config.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: "shop_id,name,password,colour\n4301,x,password,red\n"})
		if err != nil {
			t.Fatal(err)
		}
		if p := bad.GetProblems(); len(p) != 1 || p[0].GetFile() != "shops.csv" || p[0].GetLine() != 1 || p[0].GetColumn() != "colour" {
			t.Errorf("unknown column: %v", p)
		}
	})

	t.Run("imported conversions are marked and explained as imported", func(t *testing.T) {
		got := e.order(shop26.GetId(), "A-0001")
		if len(got) != 1 {
			t.Fatalf("A-0001: %v", got)
		}
		c := got[0]
		tarou := e.publisherByUser(2001)
		if c.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_IMPORT || c.GetPublisherId() != tarou.GetId() ||
			c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_IMPORTED || c.GetCommission().GetAmountMinor() != 198 ||
			c.GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED || c.GetClickId() != "" {
			t.Errorf("A-0001 as imported: %v", c)
		}
		exp, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: c.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(exp.GetSummary(), "Imported from the previous system (conversions.csv line 2)") ||
			!strings.Contains(exp.GetSummary(), "FC2 user ID 2001, site ID 5001") {
			t.Errorf("explanation: %q", exp.GetSummary())
		}
		if h := c.GetHistory(); len(h) != 1 || h[0].GetActor() != "import" || h[0].GetNote() != "imported from conversions.csv line 2" {
			t.Errorf("history: %v", h)
		}
		// The shop reporting an imported order again (a reopened thank-you
		// page, a resent POST): the same conversion, not a second one.
		again := seedTag("A-0002")
		again.Set("sh", fc2SH(shop26Password, again))
		if code, body := e.post(again); code != http.StatusOK || body != "OK" {
			t.Fatalf("POST of imported order A-0002: %d %q", code, body)
		}
		if a2 := e.order(shop26.GetId(), "A-0002"); len(a2) != 1 || a2[0].GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_IMPORT {
			t.Errorf("A-0002 after a live report of it: %v", a2)
		}
		// Commission computed from the offer's 10% when the file gives none.
		if a2 := e.order(shop26.GetId(), "A-0002"); len(a2) != 1 || a2[0].GetCommission().GetAmountMinor() != 198 {
			t.Errorf("A-0002 commission: %v", a2)
		}
	})

	t.Run("imported sales are approved and reversed later by order ID", func(t *testing.T) {
		res, err := e.conv.BulkUpdateConversionStatus(ctx, &batonv1.BulkUpdateConversionStatusRequest{OfferId: "off_fc2_26", OrderIds: []string{"A-0002"},
			Status: batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE})
		if err != nil || res.GetUpdatedCount() != 1 {
			t.Fatalf("approve A-0002: %v %v", res, err)
		}
		res, err = e.conv.BulkUpdateConversionStatus(ctx, &batonv1.BulkUpdateConversionStatusRequest{OfferId: "off_fc2_26", OrderIds: []string{"A-0001"},
			Status: batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED, Reason: batonv1.StatusReason_STATUS_REASON_REFUND})
		if err != nil || res.GetUpdatedCount() != 1 {
			t.Fatalf("reverse A-0001: %v %v", res, err)
		}
		if got := e.order(shop26.GetId(), "A-0002"); got[0].GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED {
			t.Errorf("A-0002: %v", got[0].GetStatus())
		}
		if got := e.order(shop26.GetId(), "A-0001"); got[0].GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED || len(got[0].GetHistory()) != 2 {
			t.Errorf("A-0001: %v", got[0])
		}
	})

	t.Run("a recurring charge is credited through the imported previous sale, with no postback for the past", func(t *testing.T) {
		hanako := e.publisherByUser(2002)
		if _, err := e.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: hanako.GetId(),
			UrlTemplate: rcv.URL + "/pb?o={order_id}&s={status}",
			Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING, batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED,
				batonv1.PostbackEvent_POSTBACK_EVENT_REJECTED, batonv1.PostbackEvent_POSTBACK_EVENT_REVERSED},
			Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
			t.Fatal(err)
		}
		// The previous system's last sale to hanako26, ten days ago,
		// imported while Baton runs and hanako's endpoint listens.
		dir := t.TempDir()
		prev := time.Now().Add(-10 * 24 * time.Hour).UTC().Format(time.RFC3339)
		csv := "order_id,shop_id,offer_id,amount,sale_time,user_id,site_id,status,uname\nR-0001,26,off_fc2_26,980," + prev + ",2002,5003,approved,hanako26\n"
		if err := os.WriteFile(filepath.Join(dir, "conversions.csv"), []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := runBaton(t, dbURL, dataDir, "import", dir); code != 0 || !strings.Contains(out, "1 created") {
			t.Fatalf("import R-0001: exit %d\n%s", code, out)
		}
		form := url.Values{"shopid": {"26"}, "unique_id": {"R-0002"}, "uname": {"hanako26"}, "amount_y": {"980"}, "recurring": {"1"},
			"ts": {signature.FormatFC2TS(time.Now())}}
		form.Set("sh", fc2SH(shop26Password, form))
		if code, body := e.post(form); code != http.StatusOK || body != "OK" {
			t.Fatalf("recurring POST: %d %q", code, body)
		}
		got := e.order(shop26.GetId(), "R-0002")
		if len(got) != 1 || got[0].GetPublisherId() != hanako.GetId() || got[0].GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_RECURRING_USER ||
			got[0].GetCommission().GetAmountMinor() != 98 {
			t.Fatalf("R-0002 is not credited to hanako through the imported sale: %v", got)
		}
		exp, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: got[0].GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(exp.GetSummary(), "imported from the previous system") {
			t.Errorf("explanation: %q", exp.GetSummary())
		}
		// The recurring charge is posted back; the imported past is not.
		testwait.Poll(30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(received) > 0
		})
		mu.Lock()
		defer mu.Unlock()
		var past int
		for _, q := range received {
			if !strings.Contains(q, "o=R-0002") {
				past++
			}
		}
		if len(received) != 1 || past != 0 {
			t.Errorf("postbacks received: %v (want only R-0002)", received)
		}
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var owed int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM postback_deliveries d JOIN conversions c ON c.id = d.conversion_id WHERE c.source = 5`).Scan(&owed); err != nil {
			t.Fatal(err)
		}
		if owed != 0 {
			t.Errorf("%d postbacks owed for imported conversions", owed)
		}
	})
}

// TestImportSurvivesKill9 kills `baton import` with SIGKILL in the middle
// of writing the conversions of a generated program, runs it again, and
// checks every row is there exactly once; a third run creates nothing.
func TestImportSurvivesKill9(t *testing.T) {
	dbURL, dataDir := testdb.URL(t), t.TempDir()
	dir := t.TempDir()
	const pubs, convs = 2000, 40000
	if err := importgen.Write(dir, importgen.Program{Publishers: pubs, Conversions: convs, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, code := runBaton(t, dbURL, dataDir, "migrate"); code != 0 {
		t.Fatal("migrate failed")
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cmd := batonCommand(dbURL, dataDir, "import", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var atKill int
	// A fixed, short interval: the kill must land while the import runs.
	testwait.PollEvery(2*time.Minute, 2*time.Millisecond, func() bool {
		atKill = count(`SELECT count(*) FROM conversions`)
		return atKill > 0
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	killed := count(`SELECT count(*) FROM conversions`)
	if killed == 0 || killed >= convs {
		t.Fatalf("the kill did not land mid-import: %d of %d conversions written", killed, convs)
	}
	out, code := runBaton(t, dbURL, dataDir, "import", dir)
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, out)
	}
	wantLines(t, out, fmt.Sprintf("conversions.csv   %6d rows: %7d created, %7d already in Baton", convs, convs-killed, killed))
	stored := count(`SELECT count(DISTINCT order_id) FROM conversions`)
	rows := count(`SELECT count(*) FROM conversions`)
	history := count(`SELECT count(*) FROM conversion_status_changes`)
	publishers := count(`SELECT count(*) FROM publishers`)
	sites := count(`SELECT count(*) FROM sites`)
	lost := (convs - stored) + (rows - stored) + (pubs - publishers) + (pubs - sites) + (rows - history)
	t.Logf("kill -9 after %d of %d conversions: rerun stored %d distinct (%d rows, %d history), %d publishers, %d sites",
		killed, convs, stored, rows, history, publishers, sites)
	proof.Tally(t, "fault: kill -9 mid-import, then rerun", convs+2*pubs, lost,
		fmt.Sprintf("killed after %d of %d conversions; after the rerun %d stored, %d twice, %d without history", killed, convs, stored, rows-stored, rows-history))
	out, _ = runBaton(t, dbURL, dataDir, "import", dir)
	wantLines(t, out, fmt.Sprintf("conversions.csv   %6d rows: %7d created", convs, 0))
}

// TestHelpListsCommands: `baton help` names every command, migrate and
// import included, before the flags.
func TestHelpListsCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"help"}, &out, &errOut); code != 0 {
		t.Fatalf("baton help: exit %d\n%s", code, errOut.String())
	}
	wantLines(t, out.String(), "baton migrate [flags]", "baton import [--dry-run] [flags] DIR", "baton help", "-database-url")
}
