package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/proof"
)

const (
	importShops  = "shop_id,name,password\n26,Shop 26,sample-shop-pass-26\n"
	importPubs   = "user_id,name\n2001,Tarou\n"
	importSites  = "site_id,user_id,name\n5001,2001,Tarou's blog\n"
	importOffers = "offer_id,shop_id,name,landing_url,payout_percent_bps\noff_26,26,Shop 26,https://shop26.example.jp/,1000\n"
	importConvs  = "order_id,shop_id,offer_id,amount,sale_time\n"
)

// TestImportRefusesEveryBadRowByName sends programs with one mistake each
// to ImportProgram: each is refused with its file, line and column, and
// nothing is written.
func TestImportRefusesEveryBadRowByName(t *testing.T) {
	t.Parallel()
	s := start(t)
	cfg := s.config(adminKey)
	ctx := context.Background()
	base := func() *batonv1.ImportProgramRequest {
		return &batonv1.ImportProgramRequest{ShopsCsv: importShops, PublishersCsv: importPubs, SitesCsv: importSites, OffersCsv: importOffers}
	}
	cases := []struct {
		name   string
		edit   func(*batonv1.ImportProgramRequest)
		file   string
		line   int32
		column string
		reason string
	}{
		{"unknown column", func(r *batonv1.ImportProgramRequest) {
			r.ShopsCsv = "shop_id,name,password,colour\n27,x,password,red\n"
		},
			"shops.csv", 1, "colour", `unknown column "colour"`},
		{"missing required column", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id\n2002\n" },
			"publishers.csv", 1, "name", `required column "name" is missing`},
		{"column twice", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id,name,name\n2002,a,b\n" },
			"publishers.csv", 1, "name", "appears twice"},
		{"empty file", func(r *batonv1.ImportProgramRequest) { r.SitesCsv = "\n" },
			"sites.csv", 1, "", "a header row is required"},
		{"wrong field count", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id,name\n2001,Tarou\n2002\n" },
			"publishers.csv", 3, "", "1 fields, the header has 2"},
		{"not a number", func(r *batonv1.ImportProgramRequest) { r.ShopsCsv = "shop_id,name,password\n26x,Shop,password\n" },
			"shops.csv", 2, "shop_id", "not a positive whole number"},
		{"zero", func(r *batonv1.ImportProgramRequest) { r.ShopsCsv = "shop_id,name,password\n0,Shop,password\n" },
			"shops.csv", 2, "shop_id", "not a positive whole number"},
		{"password with a space", func(r *batonv1.ImportProgramRequest) { r.ShopsCsv = "shop_id,name,password\n26,Shop,pass word\n" },
			"shops.csv", 2, "password", "printable ASCII"},
		{"control character", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id,name\n2001,Tar\x00ou\n" },
			"publishers.csv", 2, "name", "control characters"},
		{"bare quote", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id,name\n2001,Ta\"rou\n" },
			"publishers.csv", 2, "", "not CSV"},
		{"same number twice", func(r *batonv1.ImportProgramRequest) { r.PublishersCsv = "user_id,name\n2001,Tarou\n2001,Again\n" },
			"publishers.csv", 3, "user_id", "also on line 2"},
		{"site of nobody", func(r *batonv1.ImportProgramRequest) { r.SitesCsv = "site_id,user_id,name\n5001,3001,x\n" },
			"sites.csv", 2, "user_id", "no publisher with user ID 3001"},
		{"two payouts", func(r *batonv1.ImportProgramRequest) {
			r.OffersCsv = "offer_id,shop_id,name,landing_url,payout_percent_bps,payout_fixed\noff_26,26,x,https://a.example/,10,100\n"
		}, "offers.csv", 2, "payout_percent_bps", "exactly one of"},
		{"landing URL not http", func(r *batonv1.ImportProgramRequest) {
			r.OffersCsv = "offer_id,shop_id,name,landing_url,payout_percent_bps\noff_26,26,x,ftp://a.example/,10\n"
		}, "offers.csv", 2, "landing_url", "http or https"},
		{"offer ID with a slash", func(r *batonv1.ImportProgramRequest) {
			r.OffersCsv = "offer_id,shop_id,name,landing_url,payout_percent_bps\noff/26,26,x,https://a.example/,10\n"
		}, "offers.csv", 2, "offer_id", "letters, digits"},
		{"USD with three decimals", func(r *batonv1.ImportProgramRequest) {
			r.ConversionsCsv = "order_id,shop_id,offer_id,amount,currency,sale_time\nA-1,26,off_26,12.505,USD,2026-10-01 12:00:00\n"
		}, "conversions.csv", 2, "amount", "at most 2 decimals"},
		{"negative amount", func(r *batonv1.ImportProgramRequest) {
			r.ConversionsCsv = importConvs + "A-1,26,off_26,-1980,2026-10-01 12:00:00\n"
		},
			"conversions.csv", 2, "amount", "not a decimal amount"},
		{"sale in the future", func(r *batonv1.ImportProgramRequest) {
			r.ConversionsCsv = importConvs + "A-1,26,off_26,1980,2999-01-01 00:00:00\n"
		},
			"conversions.csv", 2, "sale_time", "in the future"},
		{"commission to nobody", func(r *batonv1.ImportProgramRequest) {
			r.ConversionsCsv = "order_id,shop_id,offer_id,amount,sale_time,commission\nA-1,26,off_26,1980,2026-10-01 12:00:00,198\n"
		}, "conversions.csv", 2, "commission", "needs the publisher"},
		{"site of another publisher", func(r *batonv1.ImportProgramRequest) {
			r.PublishersCsv = importPubs + "2002,Hanako\n"
			r.ConversionsCsv = "order_id,shop_id,offer_id,amount,sale_time,user_id,site_id\nA-1,26,off_26,1980,2026-10-01 12:00:00,2002,5001\n"
		}, "conversions.csv", 2, "site_id", "belongs to user ID 2001, not 2002"},
		{"the test email", func(r *batonv1.ImportProgramRequest) {
			r.ConversionsCsv = "order_id,shop_id,offer_id,amount,sale_time,email\nA-1,26,off_26,1980,2026-10-01 12:00:00,test@fc2.com\n"
		}, "conversions.csv", 2, "email", "test sale"},
	}
	for _, tc := range cases {
		req := base()
		tc.edit(req)
		res, err := cfg.ImportProgram(ctx, req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		found := false
		for _, p := range res.GetProblems() {
			found = found || (p.GetFile() == tc.file && p.GetLine() == tc.line && p.GetColumn() == tc.column && strings.Contains(p.GetReason(), tc.reason))
		}
		if !found {
			t.Errorf("%s: want %s:%d %s %q, got %v", tc.name, tc.file, tc.line, tc.column, tc.reason, res.GetProblems())
		}
		if _, err := cfg.GetOffer(ctx, &batonv1.GetOfferRequest{Id: "off_26"}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("%s: a refused program was written (off_26: %v)", tc.name, err)
		}
	}
	// A header with a byte order mark, quoted fields and blank lines, as
	// spreadsheets write them, is read.
	ok, err := cfg.ImportProgram(ctx, &batonv1.ImportProgramRequest{ShopsCsv: "\uFEFFshop_id,name,password\r\n\r\n26,\"Shop, \"\"26\"\"\",sample-shop-pass-26\r\n", DryRun: true})
	if err != nil || len(ok.GetProblems()) != 0 || ok.GetFiles()[0].GetCreated() != 1 {
		t.Errorf("a spreadsheet's CSV: %v %v", ok, err)
	}
}

// TestCreateWithGivenNumbersIsValidated: numbers and secrets given to the
// Create RPCs follow the contract's rules.
func TestCreateWithGivenNumbersIsValidated(t *testing.T) {
	t.Parallel()
	s := start(t)
	cfg := s.config(adminKey)
	ctx := context.Background()
	for _, req := range []*batonv1.CreateAdvertiserRequest{
		{Name: "x", ShopId: ptr(int64(0))},
		{Name: "x", ShopId: ptr(int64(-5))},
		{Name: "x", Secret: ptr("abc")},
		{Name: "x", Secret: ptr("has a space")},
	} {
		_, err := cfg.CreateAdvertiser(ctx, req)
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%v: %v", req, err)
			continue
		}
		if f := violationFields(t, err); len(f) != 1 || (f[0] != "shop_id" && f[0] != "secret") {
			t.Errorf("%v: fields %v", req, f)
		}
	}
	if _, err := cfg.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "x", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA, UserId: ptr(int64(0))}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("user ID 0: %v", err)
	}
	// The secret given is the one sh is checked with, and only its hint is shown.
	adv, err := cfg.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "Moved", ShopId: ptr(int64(26)), Secret: ptr("sample-shop-pass-26")})
	if err != nil {
		t.Fatal(err)
	}
	if adv.GetSecret() != "" || strings.Contains(adv.GetAdvertiser().GetSecretHint(), "sample-shop") {
		t.Errorf("the secret shows: %v", adv)
	}
}

// TestImportRacesDrawnNumbers imports publishers whose user IDs are the
// very numbers the sequence would hand out next, while other clients
// create publishers that draw their numbers: every creation succeeds, no
// number is given twice, and each imported user ID belongs to the
// imported publisher.
func TestImportRacesDrawnNumbers(t *testing.T) {
	t.Parallel()
	s := start(t)
	cfg := s.config(adminKey)
	ctx := context.Background()
	probe, err := cfg.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "probe", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
	if err != nil {
		t.Fatal(err)
	}
	next := probe.GetPublisher().GetUserId() + 1
	const imported, drawers, each = 300, 6, 20
	var csv strings.Builder
	csv.WriteString("user_id,name\n")
	for i := range imported {
		fmt.Fprintf(&csv, "%d,Imported %d\n", next+int64(i), i)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var drawn []int64
	failed := 0
	for range drawers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := cfg.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "drawn", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
				mu.Lock()
				if err != nil {
					failed++
				} else {
					drawn = append(drawn, res.GetPublisher().GetUserId())
				}
				mu.Unlock()
			}
		}()
	}
	res, importErr := cfg.ImportProgram(ctx, &batonv1.ImportProgramRequest{PublishersCsv: csv.String()})
	wg.Wait()
	list, err := cfg.ListPublishers(ctx, &batonv1.ListPublishersRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[int64][]string{}
	for _, p := range list.GetPublishers() {
		byNumber[p.GetUserId()] = append(byNumber[p.GetUserId()], p.GetName())
	}
	wrong := 0
	switch {
	case importErr == nil && len(res.GetProblems()) == 0:
		// The import won every number: each is its row's.
		for i := range imported {
			if names := byNumber[next+int64(i)]; !slices.Equal(names, []string{fmt.Sprintf("Imported %d", i)}) {
				wrong++
			}
		}
	case importErr != nil && connect.CodeOf(importErr) == connect.CodeFailedPrecondition,
		importErr == nil && len(res.GetProblems()) > 0:
		// A drawn number got in first: the import says so and stops.
		t.Logf("drawn numbers got in first: the import stopped (%v) or refused %d rows before writing", importErr, len(res.GetProblems()))
	default:
		t.Fatalf("import: %v %v", importErr, res)
	}
	for n, names := range byNumber {
		if len(names) > 1 {
			t.Errorf("user ID %d is given to %v", n, names)
			wrong++
		}
	}
	for _, n := range drawn {
		if n >= next && n < next+imported && byNumber[n][0] != "drawn" {
			wrong++
		}
	}
	proof.Tally(t, "fault: import racing drawn user IDs", imported+drawers*each, failed+wrong,
		fmt.Sprintf("%d drawn creations failed, %d numbers wrong or given twice", failed, wrong))
}

func ptr[T any](v T) *T { return &v }
