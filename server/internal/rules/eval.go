package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// Input is what rules see of a conversion.
type Input struct {
	AdvertiserID, OfferID, PublisherID string
	Amount                             domain.Money
	SubIDs                             []string
	// ClickAt is when the attributed click happened; nil without one.
	ClickAt    *time.Time
	SaleAt     time.Time
	Path       string
	Test       bool
	IP         string
	UserAgent  string
	Signals    []domain.Signal
	ClickFlags domain.ClickFlag
	Source     domain.ConversionSource
}

// InputOf is what rules see of a conversion c whose click carries flags.
func InputOf(c domain.Conversion, flags domain.ClickFlag) Input {
	return Input{AdvertiserID: c.AdvertiserID, OfferID: c.OfferID, PublisherID: c.PublisherID, Amount: c.Amount, SubIDs: c.SubIDs,
		ClickAt: c.ClickCreatedAt, SaleAt: c.SaleAt, Path: c.Attribution.Path, Test: c.Test, IP: c.BuyerIP, UserAgent: c.BuyerUserAgent,
		Signals: c.Signals, ClickFlags: flags, Source: c.Source}
}

// Decision is what a rule set decided for one conversion.
type Decision struct {
	// Matched is false when no rule matched: the conversion is treated as
	// without rules.
	Matched bool
	Action  Action
	// The rule that decided.
	RuleID      string
	RuleVersion int
	RuleName    string
	// Condition is the path of the condition that decided, within the
	// rule ("conditions.all[1].click_to_conversion"); empty when the rule
	// has no conditions.
	Condition string
	// Public is the text partners see: "held: click-to-conversion 8 s".
	Public string
	// Internal is the text the network and the advertiser see: the rule,
	// its version and the condition with the values compared.
	Internal string
}

// Evaluate returns the decision of the first rule of sets (in order) that
// matches in.
func Evaluate(in Input, sets ...*RuleSet) Decision {
	for _, s := range sets {
		if s == nil {
			continue
		}
		for i := range s.Rules {
			r := &s.Rules[i]
			if !r.Scope.covers(in) {
				continue
			}
			why := []hit{}
			if r.Conditions != nil {
				if ok, _ := r.Conditions.test(in); !ok {
					continue
				}
				_, why = r.Conditions.eval(in)
			}
			return decide(r, why)
		}
	}
	return Decision{}
}

// NeedsClickFlags reports whether any rule of sets tests click flags (so
// intake need read the click only then).
func NeedsClickFlags(sets ...*RuleSet) bool {
	for _, s := range sets {
		if s == nil {
			continue
		}
		for i := range s.Rules {
			if s.Rules[i].Conditions.uses(func(c *Condition) bool { return c.ClickFlags != nil }) {
				return true
			}
		}
	}
	return false
}

func (c *Condition) uses(f func(*Condition) bool) bool {
	if c == nil {
		return false
	}
	if f(c) {
		return true
	}
	for i := range c.All {
		if c.All[i].uses(f) {
			return true
		}
	}
	for i := range c.Any {
		if c.Any[i].uses(f) {
			return true
		}
	}
	return false
}

func (s Scope) covers(in Input) bool {
	return (s.AdvertiserID == "" || s.AdvertiserID == in.AdvertiserID) && (s.OfferID == "" || s.OfferID == in.OfferID) &&
		(s.PublisherID == "" || s.PublisherID == in.PublisherID)
}

// hit is one condition that held: where, and what it saw.
type hit struct {
	path, text string
}

func decide(r *Rule, why []hit) Decision {
	d := Decision{Matched: true, Action: r.Action, RuleID: r.ID, RuleVersion: r.Version, RuleName: r.Name}
	var paths, texts []string
	for _, h := range why {
		paths = append(paths, h.path)
		texts = append(texts, h.text)
	}
	d.Condition = strings.Join(paths, " and ")
	because := strings.Join(texts, " and ")
	if because == "" {
		because = "every conversion in scope"
	}
	switch r.Action.Type {
	case Accept:
		d.Public = "accepted: " + because
	case Hold:
		d.Public = fmt.Sprintf("held %s: %s", days(r.Action.HoldDays), because)
		if r.Action.Reason != "" {
			d.Public = fmt.Sprintf("held %s: %s", days(r.Action.HoldDays), r.Action.Reason)
		}
	case Reject:
		d.Public = "rejected: " + r.Action.Reason
	case ChangePayout:
		d.Public = "payout changed to " + r.Action.Payout.String() + ": " + because
	}
	cond := d.Condition
	if cond == "" {
		cond = "no conditions"
	}
	d.Internal = fmt.Sprintf("rule %q (%s v%d) matched on %s: %s", r.Name, r.ID, r.Version, cond, because)
	return d
}

func days(n int) string {
	if n == 1 {
		return "for 1 day"
	}
	return fmt.Sprintf("for %d days", n)
}

// String is the payout as partners read it: "JPY 500" or "5%".
func (p *Payout) String() string {
	if p.Fixed != nil {
		return FormatMoney(p.Fixed.Currency, p.Fixed.Minor)
	}
	bps := *p.PercentBPS
	s := strconv.FormatUint(uint64(bps/100), 10)
	if bps%100 != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", bps%100), "0")
	}
	return s + "% of the sale"
}

// Commission is what payout p earns on a sale: a fixed amount in its own
// currency, or a share of the sale rounded down to its minor unit
// (integer arithmetic, as package attribution computes offer payouts).
func (p *Payout) Commission(sale domain.Money) domain.Money {
	if p.Fixed != nil {
		return domain.Money{Currency: p.Fixed.Currency, Minor: p.Fixed.Minor}
	}
	minor := max(sale.Minor, 0)
	// Amounts are at most 10^15 minor units and bps at most 10^4, so the
	// product fits in int64; beyond that, divide first.
	if minor <= 1e15 {
		return domain.Money{Currency: sale.Currency, Minor: minor * int64(*p.PercentBPS) / 10000}
	}
	return domain.Money{Currency: sale.Currency, Minor: minor / 10000 * int64(*p.PercentBPS)}
}

// FormatMoney writes an amount as "JPY 1,980" or "USD 19.80".
func FormatMoney(currency string, minor int64) string {
	digits := 2
	switch currency {
	case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF":
		digits = 0
	case "BHD", "JOD", "KWD", "OMR", "TND", "IQD", "LYD":
		digits = 3
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	s := strconv.FormatInt(minor, 10)
	for len(s) <= digits {
		s = "0" + s
	}
	whole, frac := s[:len(s)-digits], s[len(s)-digits:]
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := currency + " " + sign + b.String()
	if digits > 0 {
		out += "." + frac
	}
	return out
}

// eval reports whether c holds for in and, when it does, the tests that
// decided (for all: every child; for any: the first that held). Texts are
// only made for the tests that held.
func (c *Condition) eval(in Input) (bool, []hit) {
	switch {
	case c.All != nil:
		for i := range c.All {
			if ok, _ := c.All[i].test(in); !ok {
				return false, nil
			}
		}
		var out []hit
		for i := range c.All {
			_, h := c.All[i].eval(in)
			out = append(out, h...)
		}
		return true, out
	case c.Any != nil:
		for i := range c.Any {
			if ok, _ := c.Any[i].test(in); ok {
				_, h := c.Any[i].eval(in)
				return true, h
			}
		}
		return false, nil
	}
	if !c.leaf(in) {
		return false, nil
	}
	return true, []hit{{path: c.path + "." + c.tests()[0], text: c.describe(in)}}
}

// test reports whether c holds, making no texts.
func (c *Condition) test(in Input) (bool, struct{}) {
	switch {
	case c.All != nil:
		for i := range c.All {
			if ok, _ := c.All[i].test(in); !ok {
				return false, struct{}{}
			}
		}
		return true, struct{}{}
	case c.Any != nil:
		for i := range c.Any {
			if ok, _ := c.Any[i].test(in); ok {
				return true, struct{}{}
			}
		}
		return false, struct{}{}
	}
	return c.leaf(in), struct{}{}
}

// describe says what a test that held saw.
func (c *Condition) describe(in Input) string {
	_, text := c.leafText(in)
	return text
}

// leaf evaluates a single test without making its text (the path every
// rule takes that does not match).
func (c *Condition) leaf(in Input) bool {
	switch {
	case c.Amount != nil:
		a := c.Amount
		return in.Amount.Currency == a.Currency && (a.Min == nil || in.Amount.Minor >= *a.Min) && (a.Max == nil || in.Amount.Minor <= *a.Max)
	case c.Currency != nil:
		return contains(c.Currency, in.Amount.Currency)
	case c.SubID != nil:
		s := c.SubID
		v := ""
		if s.Slot <= len(in.SubIDs) {
			v = in.SubIDs[s.Slot-1]
		}
		switch {
		case s.Exact != nil:
			return contains(s.Exact, v)
		case s.Prefix != nil:
			for _, pre := range s.Prefix {
				if strings.HasPrefix(v, pre) {
					return true
				}
			}
			return false
		}
		return c.matchAny(v)
	case c.ClickToConversion != nil:
		if in.ClickAt == nil {
			return false
		}
		d, r := in.SaleAt.Sub(*in.ClickAt), c.ClickToConversion
		return (r.Min == nil || d >= time.Duration(*r.Min)) && (r.Max == nil || d <= time.Duration(*r.Max))
	case c.IP != nil:
		a, err := parseAddr(in.IP)
		if err != nil {
			return false
		}
		for _, pfx := range c.ips {
			if pfx.Contains(a) {
				return true
			}
		}
		return false
	case c.UserAgent != nil:
		if c.UserAgent.Contains != nil {
			for _, s := range c.UserAgent.Contains {
				if strings.Contains(in.UserAgent, s) {
					return true
				}
			}
			return false
		}
		return c.matchAny(in.UserAgent)
	case c.TimeOfDay != nil:
		t := in.SaleAt.In(c.loc)
		m := t.Hour()*60 + t.Minute()
		if c.from > c.to {
			return m >= c.from || m < c.to
		}
		return m >= c.from && m < c.to
	case c.Date != nil:
		y, mo, dd := in.SaleAt.In(c.loc).Date()
		n := int(time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Unix() / 86400)
		return n >= c.from && n <= c.to
	}
	ok, _ := c.leafText(in) // the rest make no text worth avoiding
	return ok
}

// leafText evaluates a single test and says what it saw.
func (c *Condition) leafText(in Input) (bool, string) {
	switch {
	case c.Amount != nil:
		a := c.Amount
		ok := in.Amount.Currency == a.Currency && (a.Min == nil || in.Amount.Minor >= *a.Min) && (a.Max == nil || in.Amount.Minor <= *a.Max)
		return ok, "amount " + FormatMoney(in.Amount.Currency, in.Amount.Minor)
	case c.Currency != nil:
		return contains(c.Currency, in.Amount.Currency), "currency " + in.Amount.Currency
	case c.SubID != nil:
		s := c.SubID
		v := ""
		if s.Slot <= len(in.SubIDs) {
			v = in.SubIDs[s.Slot-1]
		}
		text := fmt.Sprintf("sub%d %q", s.Slot, v)
		switch {
		case s.Exact != nil:
			return contains(s.Exact, v), text
		case s.Prefix != nil:
			for _, pre := range s.Prefix {
				if strings.HasPrefix(v, pre) {
					return true, text
				}
			}
			return false, text
		}
		return c.matchAny(v), text
	case c.ClickToConversion != nil:
		if in.ClickAt == nil {
			return false, "no click"
		}
		d := in.SaleAt.Sub(*in.ClickAt)
		r := c.ClickToConversion
		ok := (r.Min == nil || d >= time.Duration(*r.Min)) && (r.Max == nil || d <= time.Duration(*r.Max))
		return ok, "click-to-conversion " + human(d)
	case c.AttributionPath != nil:
		path := in.Path
		if path == "" {
			path = "none"
		}
		return contains(c.AttributionPath, path), "attribution path " + path
	case c.Test != nil:
		if in.Test {
			return *c.Test, "a test conversion"
		}
		return !*c.Test, "not a test conversion"
	case c.IP != nil:
		a, err := parseAddr(in.IP)
		if err != nil {
			return false, "no buyer IP"
		}
		for _, pfx := range c.ips {
			if pfx.Contains(a) {
				return true, "buyer IP " + a.String() + " in " + pfx.String()
			}
		}
		return false, ""
	case c.UserAgent != nil:
		if c.UserAgent.Contains != nil {
			for _, s := range c.UserAgent.Contains {
				if strings.Contains(in.UserAgent, s) {
					return true, fmt.Sprintf("user agent contains %q", s)
				}
			}
			return false, ""
		}
		return c.matchAny(in.UserAgent), "user agent matches"
	case c.TimeOfDay != nil:
		t := in.SaleAt.In(c.loc)
		m := t.Hour()*60 + t.Minute()
		ok := m >= c.from && m < c.to
		if c.from > c.to {
			ok = m >= c.from || m < c.to
		}
		return ok, fmt.Sprintf("sale at %s %s", t.Format("15:04"), c.TimeOfDay.TimeZone)
	case c.Date != nil:
		t := in.SaleAt.In(c.loc)
		y, mo, dd := t.Date()
		n := int(time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Unix() / 86400)
		return n >= c.from && n <= c.to, "sale on " + t.Format(time.DateOnly)
	case c.Signals != nil:
		for _, s := range in.Signals {
			if contains(c.Signals, string(s)) {
				return true, "signal " + string(s)
			}
		}
		return false, ""
	case c.ClickFlags != nil:
		if f := in.ClickFlags & c.flags; f != 0 {
			for _, name := range c.ClickFlags {
				if ClickFlagNames[name]&f != 0 {
					return true, "click flagged " + name
				}
			}
		}
		return false, ""
	case c.Source != nil:
		for _, s := range c.Source {
			if SourceNames[s] == in.Source {
				return true, "source " + s
			}
		}
		return false, ""
	}
	return false, ""
}

func (c *Condition) matchAny(v string) bool {
	for _, re := range c.res {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// human writes a duration as partners read it: "8 s", "3 min 5 s", "2 h".
func human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-d)
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case d < time.Hour:
		m, s := int64(d/time.Minute), int64(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%d min", m)
		}
		return fmt.Sprintf("%d min %d s", m, s)
	case d < 48*time.Hour:
		h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	return a.Unmap(), nil
}
