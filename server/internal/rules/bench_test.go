package rules_test

import (
	"os"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/rules"
)

// BenchmarkEvaluate20Rules is the CPU cost of the rules at intake: 20
// rules of the benchmark's kinds (cmd/batonbench/rules.go), none matching
// until the last. make bench measures the whole intake; this isolates it.
func BenchmarkEvaluate20Rules(b *testing.B) {
	src, err := os.ReadFile("testdata/bench20.json")
	if err != nil {
		b.Fatal(err)
	}
	set, err := rules.Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	click := time.Now().Add(-time.Hour)
	in := rules.Input{AdvertiserID: "ad_1", OfferID: "of_1", PublisherID: "pub_demo", Amount: domain.Money{Currency: "JPY", Minor: 1980},
		SubIDs: []string{"bench-media"}, ClickAt: &click, SaleAt: time.Now(), Path: "click_id", IP: "192.168.10.7",
		UserAgent: "Mozilla/5.0 Safari/605", Source: domain.SourceAPI}
	b.ReportAllocs()
	for b.Loop() {
		if d := rules.Evaluate(in, &set); d.RuleName != "everything else" {
			b.Fatalf("decided by %q", d.RuleName)
		}
	}
}
