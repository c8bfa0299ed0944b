// Package attribution decides which click earns a conversion and what it
// pays, and says why in words a partner understands. It is pure: callers
// load the candidate clicks, this package judges them. Standard library only.
package attribution

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Path says how candidate clicks were found.
type Path string

// Paths, in the order they are tried.
const (
	PathClickID       Path = "click_id"       // the conversion named the click
	PathFirstParty    Path = "first_party"    // the click ID kept by the first-party tag (t.js) on the shop's site
	PathCookie        Path = "cookie"         // the click cookie (image tag)
	PathReferrerIDs   Path = "referrer_ids"   // FC2 ref_userid / ref_siteid
	PathRecurringUser Path = "recurring_user" // previous sale under the same user name
	PathIPMatch       Path = "ip_match"       // same IP (and user agent) shortly before
	PathNone          Path = "none"
	// PathImported: moved from the previous system with the publisher it
	// credited (baton import); never decided by Baton.
	PathImported Path = "imported"
)

// Model picks among eligible clicks.
type Model string

// Models.
const (
	LastClick  Model = "last_click"
	FirstClick Model = "first_click"
)

// Click is a candidate click as the decision needs it.
type Click struct {
	ID          string
	PublisherID string
	SiteID      string
	OfferID     string
	At          time.Time
	Bot         bool
	Path        Path
}

// Rules are the offer's attribution settings.
type Rules struct {
	Window        time.Duration
	Model         Model
	IPMatchWindow time.Duration
}

// Candidate is a click with the verdict on it.
type Candidate struct {
	Click    Click
	Eligible bool
	Winner   bool
	Reason   string
}

// Decision is the outcome: the winning click (if any) and every candidate
// with the reason it won or lost.
type Decision struct {
	Path       Path
	Model      Model
	Window     time.Duration
	Winner     *Click
	Candidates []Candidate
	// Summary explains the decision in a sentence or two.
	Summary string
	// Unidentified: a publisher is credited, but which of its clicks was
	// the buyer's is not known, so no click's IDs may be passed on.
	Unidentified bool
}

// Human renders a duration the way partners write windows: "30 days",
// "24 hours", "90 minutes".
func Human(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// Age renders an elapsed time exactly to the second: "1 day 1 second",
// "3 hours 5 minutes".
func Age(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0 seconds"
	}
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, plural(int64(n), u.name))
			d %= u.d
		}
	}
	return strings.Join(parts, " ")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// Decide judges the candidates found by path for a sale at saleAt. Clicks
// after the sale, outside the window, or from bots are not eligible; among
// the eligible, the model picks (last click by default). For the IP path
// the window is the shorter of the attribution window and the IP window.
func Decide(path Path, r Rules, saleAt time.Time, clicks []Click) Decision {
	if r.Model == "" {
		r.Model = LastClick
	}
	window := r.Window
	if path == PathIPMatch && r.IPMatchWindow > 0 && r.IPMatchWindow < window {
		window = r.IPMatchWindow
	}
	d := Decision{Path: path, Model: r.Model, Window: window}
	best := -1
	for _, c := range clicks {
		cand := Candidate{Click: c}
		age := saleAt.Sub(c.At)
		switch {
		case c.Bot:
			cand.Reason = "the click came from a bot or crawler"
		case age < 0:
			cand.Reason = "the click came after the sale"
		case age > window:
			cand.Reason = fmt.Sprintf("the click was %s before the sale, outside the %s window", Age(age), Human(window))
		default:
			cand.Eligible = true
		}
		d.Candidates = append(d.Candidates, cand)
		if !cand.Eligible {
			continue
		}
		i := len(d.Candidates) - 1
		if best < 0 ||
			(r.Model == LastClick && c.At.After(d.Candidates[best].Click.At)) ||
			(r.Model == FirstClick && c.At.Before(d.Candidates[best].Click.At)) {
			best = i
		}
	}
	for i := range d.Candidates {
		c := &d.Candidates[i]
		if !c.Eligible {
			continue
		}
		if i == best {
			c.Winner = true
			c.Reason = fmt.Sprintf("%s within the %s window", map[Model]string{LastClick: "the last click", FirstClick: "the first click"}[r.Model], Human(window))
		} else if r.Model == LastClick {
			c.Reason = "a later click won (last click)"
		} else {
			c.Reason = "an earlier click won (first click)"
		}
	}
	if best >= 0 {
		w := d.Candidates[best].Click
		d.Winner = &w
		d.Summary = fmt.Sprintf("Attributed to click %s of publisher %s, found %s: it came %s before the sale, within the %s window.",
			w.ID, w.PublisherID, PathWords(path), Age(saleAt.Sub(w.At)), Human(window))
		if n := len(d.Candidates); n > 1 {
			d.Summary += fmt.Sprintf(" %d clicks were candidates; the %s rule picked this one.", n, strings.ReplaceAll(string(r.Model), "_", " "))
		}
		return d
	}
	if len(d.Candidates) == 0 {
		d.Path = PathNone
		d.Summary = "Not attributed: " + NoCandidateReason(path)
		return d
	}
	d.Summary = fmt.Sprintf("Not attributed: the click found %s is not eligible (%s).", PathWords(path), d.Candidates[0].Reason)
	if len(d.Candidates) > 1 {
		d.Summary = fmt.Sprintf("Not attributed: none of the %d clicks found %s is eligible.", len(d.Candidates), PathWords(path))
	}
	return d
}

// PathWords says how clicks were found, for sentences.
func PathWords(p Path) string {
	switch p {
	case PathClickID:
		return "by the click ID the conversion named"
	case PathFirstParty:
		return "by the click ID Baton's first-party tag kept on the shop's own site"
	case PathCookie:
		return "by the click cookie in the buyer's browser"
	case PathReferrerIDs:
		return "by the aff_userid and aff_siteid the shop passed back"
	case PathRecurringUser:
		return "through the buyer's previous sale under the same user name"
	case PathIPMatch:
		return "by the buyer's IP address and user agent"
	}
	return "by no rule"
}

// NoCandidateReason explains an empty search.
func NoCandidateReason(p Path) string {
	switch p {
	case PathRecurringUser:
		return "no earlier attributed sale under this user name in the last two months."
	case PathIPMatch:
		return "the conversion named no click, carried no click cookie, and no click came from its IP address within the IP matching window."
	}
	return "the conversion named no click and none could be found."
}

// ---------------------------------------------------------------- money

// Payout is a fixed amount or basis points of the sale.
type Payout struct {
	FixedCurrency string
	FixedMinor    int64
	Fixed         bool
	PercentBPS    uint32
}

// Commission returns what a payout earns on a sale, in minor units, and how
// it was computed. A percentage is rounded down to the minor unit of the
// sale's currency (integer arithmetic, never floating point); a fixed
// amount is paid in its own currency.
func Commission(p Payout, saleCurrency string, saleMinor int64) (currency string, minor int64, rule string) {
	if p.Fixed {
		return p.FixedCurrency, p.FixedMinor, "a fixed " + FormatMoney(p.FixedCurrency, p.FixedMinor) + " per sale"
	}
	if saleMinor < 0 {
		saleMinor = 0
	}
	// saleMinor <= 1e15 and bps <= 1e4 keep the product inside int64.
	minor = saleMinor * int64(p.PercentBPS) / 10000
	rule = fmt.Sprintf("%s of %s = %s", FormatBPS(p.PercentBPS), FormatMoney(saleCurrency, saleMinor), FormatMoney(saleCurrency, minor))
	if saleMinor*int64(p.PercentBPS)%10000 != 0 {
		rule += " (rounded down)"
	}
	return saleCurrency, minor, rule
}

// Override is one publisher's own payout on an offer.
type Override struct {
	PublisherID string
	Payout      Payout
}

// Earned returns what publisherID earns on a sale: Commission of its own
// payout when the offer's overrides give it one (the last, if several name
// it), else of the offer's payout; the rule says which.
func Earned(offer Payout, overrides []Override, publisherID, saleCurrency string, saleMinor int64) (currency string, minor int64, rule string) {
	p, overridden := PayoutFor(offer, overrides, publisherID)
	currency, minor, rule = Commission(p, saleCurrency, saleMinor)
	if overridden {
		rule = "publisher override: " + rule
	}
	return currency, minor, rule
}

// PayoutFor is the payout publisherID earns: the last of overrides naming
// it, else the offer's; overridden says which.
func PayoutFor(offer Payout, overrides []Override, publisherID string) (p Payout, overridden bool) {
	p = offer
	for _, ov := range overrides {
		if ov.PublisherID == publisherID {
			p, overridden = ov.Payout, true
		}
	}
	return p, overridden
}

// FormatBPS renders basis points as a percentage: 500 → "5%", 1250 → "12.5%".
func FormatBPS(bps uint32) string {
	whole, frac := bps/100, bps%100
	if frac == 0 {
		return strconv.FormatUint(uint64(whole), 10) + "%"
	}
	s := fmt.Sprintf("%d.%02d", whole, frac)
	return strings.TrimRight(s, "0") + "%"
}

// MinorDigits is the number of minor-unit digits of a currency (ISO 4217).
func MinorDigits(currency string) int {
	switch currency {
	case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND", "IQD", "LYD":
		return 3
	}
	return 2
}

// FormatMoney renders an amount for people: "¥1,980", "$19.99", "EUR 5.00".
func FormatMoney(currency string, minor int64) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	digits := MinorDigits(currency)
	div := int64(1)
	for range digits {
		div *= 10
	}
	whole := strconv.FormatInt(minor/div, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	num := b.String()
	if digits > 0 {
		num += fmt.Sprintf(".%0*d", digits, minor%div)
	}
	sign := ""
	if neg {
		sign = "-"
	}
	switch currency {
	case "JPY":
		return sign + "¥" + num
	case "USD":
		return sign + "$" + num
	}
	return sign + currency + " " + num
}

// ParseDecimal turns "19.99" into minor units for currency (1999 for USD).
// It refuses more fraction digits than the currency has, signs and
// exponents: money arrives as text and never passes through a float.
func ParseDecimal(currency, s string) (int64, error) {
	digits := MinorDigits(currency)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 13 || (hasFrac && (frac == "" || len(frac) > digits)) {
		return 0, fmt.Errorf("%q is not an amount in %s with at most %d decimals", s, currency, digits)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a decimal amount", s)
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	for len(frac) < digits {
		frac += "0"
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64) //nolint:errcheck // frac is checked above to be at most MinorDigits decimal digits
	}
	mul := int64(1)
	for range digits {
		mul *= 10
	}
	return w*mul + f, nil
}

// Decimal renders an amount as a plain decimal in major units, the way
// postbacks carry it: "1980" for ¥1,980, "19.99" for $19.99.
func Decimal(currency string, minor int64) string {
	digits := MinorDigits(currency)
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if digits == 0 {
		return sign + strconv.FormatInt(minor, 10)
	}
	div := int64(1)
	for range digits {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, minor/div, digits, minor%div)
}
