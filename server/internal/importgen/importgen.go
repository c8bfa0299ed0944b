// Package importgen writes a synthetic FC2 program in baton import's CSV
// formats: one shop and offer, N publishers with a site each, and M past
// conversions spread over them and over the last two months. It exists to
// measure the import and to give the crash test something large enough to
// kill in the middle of.
package importgen

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Program describes what Write generates.
type Program struct {
	Publishers  int
	Conversions int
	// Now anchors the sale times (the last two months before it).
	Now time.Time
}

// The generated shop's numbers.
const (
	ShopID       = 7001
	ShopPassword = "generated-shop-password"
	OfferID      = "off_gen_7001"
	FirstUserID  = 100001
	FirstSiteID  = 500001
)

// Write writes shops.csv, publishers.csv, sites.csv, offers.csv and
// conversions.csv into dir.
func Write(dir string, p Program) error {
	if p.Publishers < 1 {
		return fmt.Errorf("importgen: at least one publisher")
	}
	files := map[string][][]string{
		"shops.csv": {
			{"shop_id", "name", "password", "require_signature"},
			{fmt.Sprint(ShopID), "Generated Shop", ShopPassword, "false"},
		},
		"offers.csv": {
			{"offer_id", "shop_id", "name", "landing_url", "payout_percent_bps", "click_id_param"},
			{OfferID, fmt.Sprint(ShopID), "Generated offer", "https://shop7001.example.jp/", "800", "sid"},
		},
	}
	pubs := [][]string{{"user_id", "name", "kind"}}
	sites := [][]string{{"site_id", "user_id", "name", "url"}}
	for i := range p.Publishers {
		u := FirstUserID + i
		pubs = append(pubs, []string{fmt.Sprint(u), fmt.Sprintf("Affiliate %d", u), "media"})
		sites = append(sites, []string{fmt.Sprint(FirstSiteID + i), fmt.Sprint(u), fmt.Sprintf("Site of %d", u), fmt.Sprintf("https://a%d.example.jp/", u)})
	}
	files["publishers.csv"], files["sites.csv"] = pubs, sites
	statuses := []string{"pending", "approved", "approved", "approved", "rejected", "reversed"}
	convs := [][]string{{"order_id", "shop_id", "offer_id", "amount", "sale_time", "user_id", "site_id", "status", "uname", "recurring"}}
	for i := range p.Conversions {
		pub := i % p.Publishers
		at := p.Now.Add(-time.Duration(i%(59*24)) * time.Hour).Add(-time.Minute)
		convs = append(convs, []string{fmt.Sprintf("GEN-%08d", i), fmt.Sprint(ShopID), OfferID, fmt.Sprint(500 + i%5000),
			at.UTC().Format(time.RFC3339), fmt.Sprint(FirstUserID + pub), fmt.Sprint(FirstSiteID + pub), statuses[i%len(statuses)],
			fmt.Sprintf("buyer%d", i%(p.Conversions/3+1)), fmt.Sprint(min(i%4, 1))})
	}
	files["conversions.csv"] = convs
	for name, rows := range files {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		if err := w.WriteAll(rows); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
