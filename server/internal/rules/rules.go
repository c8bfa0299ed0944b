// Package rules is the network's own conversion policy: ordered rules, each
// with a scope (network-wide, an advertiser, an offer, a publisher),
// conditions combined with AND and OR, and an action (accept, hold for N
// days, reject, change the payout). The first rule that matches a
// conversion decides it; when none matches, the conversion is treated as
// it would be without rules.
//
// The package is pure: it parses and validates rule sets (every problem is
// named by its field path, e.g. rules[2].conditions.any[0].amount.min) and
// evaluates them against a conversion. Storage, caching and intake live in
// store and service.
package rules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// Limits on a rule set, so a saved rule set cannot make intake slow.
const (
	MaxRules      = 200  // rules in one rule set
	MaxConditions = 100  // conditions (leaves and groups) in one rule
	MaxDepth      = 5    // nesting of all/any groups
	MaxListLen    = 500  // entries in one list (IPs, values, ...)
	MaxPatternLen = 256  // bytes of one regexp or glob
	MaxProgram    = 2000 // compiled RE2 instructions of one regexp
	MaxHoldDays   = 366
	MaxTextLen    = 500 // bytes of a name or a reason
)

// RuleSet is an ordered list of rules; the first that matches decides.
type RuleSet struct {
	Rules []Rule `json:"rules"`
}

// Rule is one rule of a rule set.
type Rule struct {
	// ID is Baton's ID of the rule, assigned when it is first saved; a
	// saved rule set names it to change the rule rather than add one.
	ID string `json:"id,omitempty"`
	// Version counts the rule's saved changes, from 1.
	Version int `json:"version,omitempty"`
	// Name is for people: it appears in explanations.
	Name string `json:"name"`
	// Scope says which conversions the rule applies to.
	Scope Scope `json:"scope"`
	// Conditions must all hold for the rule to match; nil matches every
	// conversion in scope.
	Conditions *Condition `json:"conditions,omitempty"`
	// Action is what the rule does to a conversion it matches.
	Action Action `json:"action"`
}

// Scope narrows a rule: every field set must equal the conversion's; an
// empty scope is network-wide.
type Scope struct {
	AdvertiserID string `json:"advertiser_id,omitempty"`
	OfferID      string `json:"offer_id,omitempty"`
	PublisherID  string `json:"publisher_id,omitempty"`
}

// Condition is one node of a rule's condition tree: a group (all or any
// of its children) or exactly one test.
type Condition struct {
	// All holds when every child holds (AND).
	All []Condition `json:"all,omitempty"`
	// Any holds when at least one child holds (OR).
	Any []Condition `json:"any,omitempty"`

	// Amount holds when the sale is in the currency and within the range.
	Amount *AmountRange `json:"amount,omitempty"`
	// Currency holds when the sale's currency is one of these.
	Currency []string `json:"currency,omitempty"`
	// SubID holds when a sub-ID slot matches.
	SubID *SubIDMatch `json:"sub_id,omitempty"`
	// ClickToConversion holds when the time from the attributed click to
	// the sale is within the range (never without a click).
	ClickToConversion *DurationRange `json:"click_to_conversion,omitempty"`
	// AttributionPath holds when the click was found this way (click_id,
	// first_party, cookie, referrer_ids, recurring_user, ip_match, none).
	AttributionPath []string `json:"attribution_path,omitempty"`
	// Test holds when the conversion's test flag is this.
	Test *bool `json:"test,omitempty"`
	// IP holds when the buyer's IP is in one of these (IPs or CIDRs).
	IP []string `json:"ip,omitempty"`
	// UserAgent holds when the buyer's user agent matches.
	UserAgent *TextMatch `json:"user_agent,omitempty"`
	// TimeOfDay holds when the sale happened within the hours.
	TimeOfDay *TimeOfDay `json:"time_of_day,omitempty"`
	// Date holds when the sale happened within the days.
	Date *DateRange `json:"date,omitempty"`
	// Signals holds when the conversion carries any of these signals.
	Signals []string `json:"signals,omitempty"`
	// ClickFlags holds when the attributed click carries any of these
	// flags (bot, duplicate, ...).
	ClickFlags []string `json:"click_flags,omitempty"`
	// Source holds when the conversion came through one of these
	// entrances (api, tag, post, kickback).
	Source []string `json:"source,omitempty"`

	// compiled forms, filled by Validate.
	path     string // within the rule: conditions.all[1]
	ips      []netip.Prefix
	res      []*regexp.Regexp
	loc      *time.Location
	from, to int // minutes of the day, or days since 1970 for Date
	flags    domain.ClickFlag
}

// AmountRange is a sale amount range, in minor units of one currency
// (¥1,980 is 1980; $19.80 is 1980), both ends included.
type AmountRange struct {
	Currency string `json:"currency"`
	Min      *int64 `json:"min,omitempty"`
	Max      *int64 `json:"max,omitempty"`
}

// SubIDMatch tests one sub-ID slot (1..5).
type SubIDMatch struct {
	Slot int `json:"slot"`
	// Exactly one of the following.
	Exact  []string `json:"exact,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
	Glob   []string `json:"glob,omitempty"` // * any run, ? one character
	Regexp []string `json:"regexp,omitempty"`
}

// TextMatch tests a text (the user agent): any substring, or any RE2
// regexp.
type TextMatch struct {
	Contains []string `json:"contains,omitempty"`
	Regexp   []string `json:"regexp,omitempty"`
}

// DurationRange is a range of durations ("15s", "24h"), both ends
// included; at least one end is set.
type DurationRange struct {
	Min *Duration `json:"min,omitempty"`
	Max *Duration `json:"max,omitempty"`
}

// TimeOfDay is a range of hours, "HH:MM" from (included) to (excluded), in
// an IANA time zone; from after to wraps past midnight ("22:00" to
// "06:00").
type TimeOfDay struct {
	From     string `json:"from"`
	To       string `json:"to"`
	TimeZone string `json:"time_zone"`
}

// DateRange is a range of days, "YYYY-MM-DD", both included, in an IANA
// time zone.
type DateRange struct {
	From     string `json:"from"`
	To       string `json:"to"`
	TimeZone string `json:"time_zone"`
}

// Kind is what a rule does.
type Kind string

// Actions.
const (
	// Accept: the conversion is recorded as without rules, and no later
	// rule is looked at.
	Accept Kind = "accept"
	// Hold: recorded pending, and not approved before HoldDays have passed.
	Hold Kind = "hold"
	// Reject: the report is refused (code rejected_by_rule) with Reason.
	Reject Kind = "reject"
	// ChangePayout: the publisher earns Payout instead of the offer's.
	ChangePayout Kind = "payout"
)

// Action is a rule's action.
type Action struct {
	Type Kind `json:"type"`
	// HoldDays, for hold: 1..366.
	HoldDays int `json:"hold_days,omitempty"`
	// Reason, for reject (required) and hold (optional): the public text
	// partners see.
	Reason string `json:"reason,omitempty"`
	// Payout, for payout: a fixed commission or a share of the sale.
	Payout *Payout `json:"payout,omitempty"`
}

// Payout is a fixed commission or a share of the sale in basis points
// (500 = 5%); exactly one is set.
type Payout struct {
	Fixed      *Money  `json:"fixed,omitempty"`
	PercentBPS *uint32 `json:"percent_bps,omitempty"`
}

// Money is an amount in minor units of a currency.
type Money struct {
	Currency string `json:"currency"`
	Minor    int64  `json:"minor"`
}

// Duration is a time.Duration written as "15s", "2h30m".
type Duration time.Duration

// MarshalJSON writes d as "15s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "15s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"15s\" or \"24h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"15s\" or \"24h\"", s)
	}
	*d = Duration(v)
	return nil
}

// ClickFlagNames names the click flags conditions may test.
var ClickFlagNames = map[string]domain.ClickFlag{
	"duplicate": domain.FlagDuplicate, "bot": domain.FlagBot, "sub_id_truncated": domain.FlagSubIDTruncated,
	"sub_id_malformed": domain.FlagSubIDMalformed, "deep_link_refused": domain.FlagDeepLinkRefused,
	"offer_paused": domain.FlagOfferPaused, "query_cut": domain.FlagQueryCut, "cancelled": domain.FlagCancelled,
}

// SourceNames names the entrances conditions may test.
var SourceNames = map[string]domain.ConversionSource{
	"api": domain.SourceAPI, "tag": domain.SourcePixel, "post": domain.SourceServerPost, "kickback": domain.SourceKickback,
	"import": domain.SourceImport,
}

// PathNames are the attribution paths conditions may test (package
// attribution's Path values).
var PathNames = []string{"click_id", "first_party", "cookie", "referrer_ids", "recurring_user", "ip_match", "none", "imported"}
