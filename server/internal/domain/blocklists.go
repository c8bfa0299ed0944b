package domain

import (
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Click flags added with blocklists (after the ones in domain.go; the bits
// are stored, never renumbered).
const (
	FlagBlockedIP        ClickFlag = 1 << 8
	FlagBlockedUserAgent ClickFlag = 1 << 9
	FlagBlockedSubID     ClickFlag = 1 << 10
	FlagCapped           ClickFlag = 1 << 11
)

// FlagsNotUnique are the flags that keep a click from counting as unique.
const FlagsNotUnique = FlagBot | FlagDuplicate | FlagOfferPaused | FlagCancelled | FlagBlocked | FlagCapped

// FlagBlocked is any blocklist flag.
const FlagBlocked = FlagBlockedIP | FlagBlockedUserAgent | FlagBlockedSubID

// ClickReason is a click flag's stable name in the API and in reports.
type ClickReason struct {
	Flag ClickFlag
	Name string
}

// ClickReasons names every click flag, in a stable order. The names are
// part of the contract (Click.reasons, ReportRow.clicks_by_reason).
var ClickReasons = []ClickReason{
	{FlagDuplicate, "duplicate"},
	{FlagBot, "bot"},
	{FlagSubIDTruncated, "sub_id_truncated"},
	{FlagSubIDMalformed, "sub_id_malformed"},
	{FlagDeepLinkRefused, "deep_link_refused"},
	{FlagOfferPaused, "offer_paused"},
	{FlagQueryCut, "query_cut"},
	{FlagCancelled, "cancelled"},
	{FlagBlockedIP, "blocked_ip"},
	{FlagBlockedUserAgent, "blocked_user_agent"},
	{FlagBlockedSubID, "blocked_sub_id"},
	{FlagCapped, "capped"},
}

// Reasons are the names of the flags set in f, in ClickReasons order.
func (f ClickFlag) Reasons() []string {
	var out []string
	for _, r := range ClickReasons {
		if f&r.Flag != 0 {
			out = append(out, r.Name)
		}
	}
	return out
}

// BlocklistKind is what a blocklist entry is matched against.
type BlocklistKind string

// Blocklist kinds.
const (
	BlockIP        BlocklistKind = "ip"
	BlockUserAgent BlocklistKind = "user_agent"
	BlockSubID     BlocklistKind = "sub_id"
)

// BlocklistMatch is how an entry's value is matched.
type BlocklistMatch string

// Blocklist matches.
const (
	MatchCIDR      BlocklistMatch = "cidr"
	MatchSubstring BlocklistMatch = "substring"
	MatchRegexp    BlocklistMatch = "regexp"
	MatchExact     BlocklistMatch = "exact"
	MatchGlob      BlocklistMatch = "glob"
)

// BlocklistEntry is one blocked IP range, user agent or sub-ID, for every
// offer and publisher or scoped to one of each (or both).
type BlocklistEntry struct {
	ID          string
	Kind        BlocklistKind
	Match       BlocklistMatch
	Value       string
	OfferID     string // empty: every offer
	PublisherID string // empty: every publisher
	Note        string
	CreatedAt   time.Time
}

// blockRule is one compiled entry.
type blockRule struct {
	offer, publisher string
	prefix           netip.Prefix
	substr           string // lower case
	re               *regexp.Regexp
	exact            string
}

// Blocklist is a set of entries compiled for matching. The zero value (and
// nil) blocks nothing.
type Blocklist struct {
	ip, ua, sub []blockRule
}

// MaxBlocklistEntries bounds the entries a node keeps compiled.
const MaxBlocklistEntries = 10_000

// CheckBlocklistEntry fills in the entry's default match for its kind and
// says, by field, what is wrong with it.
func CheckBlocklistEntry(e *BlocklistEntry) error {
	_, err := compileEntry(e)
	return err
}

func compileEntry(e *BlocklistEntry) (blockRule, error) {
	r := blockRule{offer: e.OfferID, publisher: e.PublisherID}
	allowed := map[BlocklistKind][]BlocklistMatch{
		BlockIP: {MatchCIDR}, BlockUserAgent: {MatchSubstring, MatchRegexp}, BlockSubID: {MatchExact, MatchGlob},
	}
	ms, ok := allowed[e.Kind]
	if !ok {
		return r, Invalid("kind", "must be ip, user_agent or sub_id")
	}
	if e.Match == "" {
		e.Match = ms[0]
	}
	okMatch := false
	for _, m := range ms {
		okMatch = okMatch || m == e.Match
	}
	if !okMatch {
		return r, Invalid("match", "%s entries match by %v, not %s", e.Kind, ms, e.Match)
	}
	v := e.Value
	if strings.TrimSpace(v) == "" {
		return r, Invalid("value", "is required")
	}
	switch e.Match {
	case MatchCIDR:
		if p, err := netip.ParsePrefix(v); err == nil {
			r.prefix = p.Masked()
		} else if a, err := netip.ParseAddr(v); err == nil {
			r.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		} else {
			return r, Invalid("value", "%q is not an IP address or a CIDR range", v)
		}
		if r.prefix.Addr().Is4In6() && r.prefix.Bits() >= 96 {
			r.prefix = netip.PrefixFrom(r.prefix.Addr().Unmap(), r.prefix.Bits()-96)
		}
	case MatchSubstring:
		r.substr = strings.ToLower(v)
	case MatchRegexp:
		re, err := regexp.Compile(v)
		if err != nil {
			return r, Invalid("value", "not an RE2 regular expression: %v", err)
		}
		r.re = re
	case MatchExact:
		r.exact = v
	case MatchGlob:
		var b strings.Builder
		b.WriteString(`^(?s:`)
		for _, ch := range v {
			switch ch {
			case '*':
				b.WriteString(`.*`)
			case '?':
				b.WriteString(`.`)
			default:
				b.WriteString(regexp.QuoteMeta(string(ch)))
			}
		}
		b.WriteString(`)$`)
		r.re = regexp.MustCompile(b.String())
	}
	return r, nil
}

// CompileBlocklist compiles entries; an entry that does not compile (it was
// checked when added, so only by a bug) is skipped.
func CompileBlocklist(entries []BlocklistEntry) *Blocklist {
	b := &Blocklist{}
	for _, e := range entries {
		r, err := compileEntry(&e)
		if err != nil {
			continue
		}
		switch e.Kind {
		case BlockIP:
			b.ip = append(b.ip, r)
		case BlockUserAgent:
			b.ua = append(b.ua, r)
		case BlockSubID:
			b.sub = append(b.sub, r)
		}
	}
	return b
}

// Empty reports whether b blocks nothing.
func (b *Blocklist) Empty() bool { return b == nil || len(b.ip)+len(b.ua)+len(b.sub) == 0 }

func (r *blockRule) applies(offer, publisher string) bool {
	return (r.offer == "" || r.offer == offer) && (r.publisher == "" || r.publisher == publisher)
}

// Check returns the blocklist flags of a click or conversion of offer and
// publisher from ip with user agent ua and sub-IDs subs (0: none match).
func (b *Blocklist) Check(offer, publisher, ip, ua string, subs []string) ClickFlag {
	if b.Empty() {
		return 0
	}
	var flags ClickFlag
	if len(b.ip) > 0 {
		if a, err := netip.ParseAddr(ip); err == nil {
			a = a.Unmap()
			for i := range b.ip {
				if r := &b.ip[i]; r.applies(offer, publisher) && r.prefix.Contains(a) {
					flags |= FlagBlockedIP
					break
				}
			}
		}
	}
	if len(b.ua) > 0 {
		lower := strings.ToLower(ua)
		for i := range b.ua {
			r := &b.ua[i]
			if !r.applies(offer, publisher) {
				continue
			}
			if (r.re != nil && r.re.MatchString(ua)) || (r.re == nil && strings.Contains(lower, r.substr)) {
				flags |= FlagBlockedUserAgent
				break
			}
		}
	}
	if len(b.sub) > 0 {
	subs:
		for _, s := range subs {
			if s == "" {
				continue
			}
			for i := range b.sub {
				r := &b.sub[i]
				if !r.applies(offer, publisher) {
					continue
				}
				if (r.re != nil && r.re.MatchString(s)) || (r.re == nil && r.exact == s) {
					flags |= FlagBlockedSubID
					break subs
				}
			}
		}
	}
	return flags
}

// BlockSignals are the conversion signals for blocklist flags.
func BlockSignals(f ClickFlag) []Signal {
	var out []Signal
	if f&FlagBlockedIP != 0 {
		out = append(out, SignalBlockedIP)
	}
	if f&FlagBlockedUserAgent != 0 {
		out = append(out, SignalBlockedUserAgent)
	}
	if f&FlagBlockedSubID != 0 {
		out = append(out, SignalBlockedSubID)
	}
	return out
}
