package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// benchRules is 20 rules of the kinds a network writes, in the order that
// makes intake evaluate every one: the first 19 do not match the bench's
// sales (¥1,980 by the API on a human click), the last accepts them.
const benchRules = `{"rules":[
 {"name":"huge orders","conditions":{"amount":{"currency":"JPY","min":500000}},"action":{"type":"reject","reason":"too big"}},
 {"name":"dollar sales","conditions":{"currency":["USD","EUR"]},"action":{"type":"hold","hold_days":7}},
 {"name":"click injection","conditions":{"click_to_conversion":{"max":"500ms"}},"action":{"type":"reject","reason":"click-to-conversion under 0.5 s"}},
 {"name":"click spamming","conditions":{"click_to_conversion":{"min":"720h"}},"action":{"type":"hold","hold_days":30}},
 {"name":"bad sub-IDs","conditions":{"sub_id":{"slot":1,"regexp":["^(spam|fraud)-[0-9]+$","^test[_-]"]}},"action":{"type":"reject","reason":"sub-ID blocked"}},
 {"name":"bad sub prefixes","conditions":{"sub_id":{"slot":2,"prefix":["xx-","yy-"]}},"action":{"type":"reject","reason":"sub-ID blocked"}},
 {"name":"crawler buyers","conditions":{"user_agent":{"regexp":["(?i)(bot|crawler|spider|headless)"]}},"action":{"type":"reject","reason":"automated buyer"}},
 {"name":"curl buyers","conditions":{"user_agent":{"contains":["curl/","python-requests","Go-http-client"]}},"action":{"type":"hold","hold_days":14}},
 {"name":"data-centre IPs","conditions":{"ip":["198.51.100.0/24","203.0.113.0/24","192.0.2.0/24","2001:db8::/32"]},"action":{"type":"hold","hold_days":10}},
 {"name":"night shift","conditions":{"all":[{"time_of_day":{"from":"02:00","to":"04:00","time_zone":"Asia/Tokyo"}},{"amount":{"currency":"JPY","min":100000}}]},"action":{"type":"hold","hold_days":3}},
 {"name":"campaign window","conditions":{"date":{"from":"2020-01-01","to":"2020-12-31","time_zone":"Asia/Tokyo"}},"action":{"type":"payout","payout":{"percent_bps":1000}}},
 {"name":"fraud signals","conditions":{"signals":["bot_click","duplicate_click","blocked_ip","blocked_user_agent","blocked_sub_id"]},"action":{"type":"reject","reason":"fraud signal"}},
 {"name":"bot clicks","conditions":{"click_flags":["bot","duplicate"]},"action":{"type":"payout","payout":{"fixed":{"currency":"JPY","minor":0}}}},
 {"name":"tag or post","conditions":{"source":["tag","post"]},"action":{"type":"hold","hold_days":5}},
 {"name":"ip matched big","conditions":{"all":[{"attribution_path":["ip_match","referrer_ids"]},{"amount":{"currency":"JPY","min":20000}}]},"action":{"type":"hold","hold_days":7}},
 {"name":"test sales","conditions":{"test":true},"action":{"type":"accept"}},
 {"name":"either","conditions":{"any":[{"amount":{"currency":"JPY","max":10}},{"sub_id":{"slot":3,"glob":["promo-*-x?"]}}]},"action":{"type":"hold","hold_days":2}},
 {"name":"bulk orders","conditions":{"all":[{"amount":{"currency":"JPY","min":50000,"max":499999}},{"any":[{"source":["kickback"]},{"attribution_path":["none"]}]}]},"action":{"type":"hold","hold_days":7}},
 {"name":"vip publisher","scope":{"publisher_id":"pub_demo2"},"action":{"type":"payout","payout":{"percent_bps":800}}},
 {"name":"everything else","action":{"type":"accept"}}]}`

// benchCaps are the 3 caps of the rules offer, of the kinds a network
// sets, every one counted by each bench conversion (attributed, ¥99 of
// commission) and far from full, so none is ever reached: a conversion cap
// per day on the offer, a JPY payout cap per month, and a cap on the demo
// publisher's conversions in total.
func benchCaps() []domain.Cap {
	const never = 1 << 50
	return []domain.Cap{
		{Kind: domain.CapConversions, Period: domain.PeriodDay, Limit: never, Action: domain.ActionReject},
		{Kind: domain.CapPayout, Period: domain.PeriodMonth, Limit: never, Currency: "JPY", Action: domain.ActionHold},
		{Kind: domain.CapConversions, Period: domain.PeriodTotal, Limit: never, PublisherID: app.DemoPublisherID, Action: domain.ActionReject},
	}
}

// rulesBench sets up a second advertiser whose own rule set holds
// benchRules (the demo advertiser has none) and whose offer has benchCaps
// (the demo offer has none), and returns its click ID: the same intake
// with 20 rules and 3 caps and with neither, side by side in one run.
func rulesBench(ctx context.Context, db *app.Database, addr, adminKey string) (string, error) {
	st := db.Store
	const adv, offer, link = "adv_bench_rules", "off_bench_rules", "bench_rules"
	if _, err := st.GetAdvertiser(ctx, adv); errors.Is(err, domain.ErrNotFound) {
		if _, err := st.CreateAdvertiser(ctx, domain.Advertiser{ID: adv, Name: "Rules Shop"}, "rules-shop-password"); err != nil {
			return "", err
		}
		o := domain.Offer{ID: offer, AdvertiserID: adv, Name: "Rules offer", LandingURL: "https://shop.example.com/lp",
			Downstream: domain.Downstream{ClickIDParam: "sid", FC2Params: true}, IPMatchWindow: domain.DefaultIPMatchWindow,
			DedupeOrderID: true, Payout: domain.Payout{PercentBPS: 500}}
		service.ApplyOfferDefaults(&o)
		if _, err := st.CreateOffer(ctx, o); err != nil {
			return "", err
		}
		if _, err := st.CreateLink(ctx, domain.TrackingLink{ID: link, OfferID: offer, PublisherID: app.DemoPublisherID, SiteID: app.DemoSiteID}); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if _, err := st.SetCaps(ctx, offer, benchCaps()); err != nil {
		return "", err
	}
	body, err := json.Marshal(map[string]string{"advertiserId": adv, "rulesJson": benchRules})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/baton.v1.RuleService/PutRuleSet", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, err := io.ReadAll(res.Body)
		return "", errors.Join(fmt.Errorf("put rule set: %d %s", res.StatusCode, b), err)
	}
	return benchClickOn(ctx, addr, link)
}

// benchClickOn makes one click through a link and returns its ID.
func benchClickOn(ctx context.Context, addr, link string) (string, error) {
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/c/"+link+"?param1=bench-media", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 batonbench-click")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		return "", err
	}
	return loc.Query().Get("sid"), nil
}
