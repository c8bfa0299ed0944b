package rules_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/rules"
)

// Whatever a caller saves, Parse answers a rule set or an Invalid error,
// never a panic or another kind; a set it accepts evaluates without one.
func FuzzParse(f *testing.F) {
	bench, err := os.ReadFile("testdata/bench20.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(bench))
	f.Add(one(`{"any":[{"amount":{"currency":"JPY","min":5,"max":4}}]}`))
	f.Add(`{"rules":[{"name":"x","conditions":{"all":[{"any":[{"all":[{"test":true}]}]}]},"action":{"type":"accept"}}]}`)
	f.Add(`{"rules":[{"name":"x","conditions":{"sub_id":{"slot":1,"glob":["*a?b*"]}},"action":{"type":"payout","payout":{"percent_bps":10000}}}]}`)
	f.Add(`[]`)
	f.Add(`{"rules":null}`)
	click := time.Unix(1_700_000_000, 0)
	in := rules.Input{Amount: domain.Money{Currency: "JPY", Minor: 5}, SubIDs: []string{"ab"}, ClickAt: &click, SaleAt: click.Add(time.Second),
		IP: "::ffff:10.0.0.1", UserAgent: "bot", Signals: []domain.Signal{domain.SignalBotClick}, ClickFlags: domain.FlagBot}
	f.Fuzz(func(t *testing.T, doc string) {
		set, err := rules.Parse([]byte(doc))
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("%q: %v is not an Invalid error", doc, err)
			}
			return
		}
		d := rules.Evaluate(in, &set)
		if d.Matched && d.Public == "" {
			t.Fatalf("%q: a decision without a public text: %+v", doc, d)
		}
	})
}
