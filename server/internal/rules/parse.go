package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// Parse reads a rule set from its JSON form ({"rules": [...]}) and
// validates it. An unknown field, a value of the wrong type or an
// impossible condition is refused as domain.Invalid naming the field path.
func Parse(data []byte) (RuleSet, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return RuleSet{}, domain.Invalid("rules", "the rule set is not valid JSON: %v", err)
	}
	if dec.More() {
		return RuleSet{}, domain.Invalid("rules", "the rule set must be one JSON object")
	}
	if _, ok := raw.(map[string]any); !ok {
		return RuleSet{}, domain.Invalid("rules", "the rule set is a JSON object: {\"rules\": [...]}")
	}
	if err := unknownFields("", raw, reflect.TypeOf(RuleSet{})); err != nil {
		return RuleSet{}, err
	}
	var set RuleSet
	if err := json.Unmarshal(data, &set); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return RuleSet{}, domain.Invalid(jsonPath(te.Field), "must be a %s, not a JSON %s", te.Type, te.Value)
		}
		return RuleSet{}, domain.Invalid("rules", "%v", err)
	}
	if err := set.Validate(); err != nil {
		return RuleSet{}, err
	}
	return set, nil
}

// jsonPath turns encoding/json's "rules.2.conditions" into
// "rules[2].conditions".
func jsonPath(f string) string {
	var b strings.Builder
	for i, part := range strings.Split(f, ".") {
		if _, err := strconv.Atoi(part); err == nil {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// unknownFields walks raw (decoded JSON) along t and refuses the first
// object key t has no field for, naming its path.
func unknownFields(path string, raw any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := raw.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return domain.Invalid(path, "must be %s, not an object", kindWords(t))
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				return domain.Invalid(p, "unknown field %q", k)
			}
			if err := unknownFields(p, v[k], ft); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return domain.Invalid(path, "must be %s, not a list", kindWords(t))
		}
		for i, e := range v {
			if err := unknownFields(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); err != nil {
				return err
			}
		}
	case nil:
	default:
		return scalar(path, v, t)
	}
	return nil
}

// scalar checks a JSON scalar against the Go type it decodes into.
func scalar(path string, v any, t reflect.Type) error {
	if t == reflect.TypeOf(Duration(0)) {
		s, ok := v.(string)
		if !ok {
			return domain.Invalid(path, "must be a duration such as \"15s\" or \"24h\"")
		}
		if _, err := time.ParseDuration(s); err != nil {
			return domain.Invalid(path, "%q is not a duration such as \"15s\" or \"24h\"", s)
		}
		return nil
	}
	ok := false
	switch t.Kind() {
	case reflect.String:
		_, ok = v.(string)
	case reflect.Bool:
		_, ok = v.(bool)
	case reflect.Int, reflect.Int64:
		if n, isNum := v.(json.Number); isNum {
			_, err := strconv.ParseInt(string(n), 10, 64)
			ok = err == nil
		}
	case reflect.Uint32:
		if n, isNum := v.(json.Number); isNum {
			_, err := strconv.ParseUint(string(n), 10, 32)
			ok = err == nil
		}
	}
	if !ok {
		return domain.Invalid(path, "must be %s", kindWords(t))
	}
	return nil
}

func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Uint32:
		return "a whole number from 0 to 4294967295"
	}
	return t.String()
}

// Validate checks a rule set and compiles its conditions; a set read back
// from storage is validated again before use.
func (s *RuleSet) Validate() error {
	if len(s.Rules) > MaxRules {
		return domain.Invalid("rules", "at most %d rules in one rule set, not %d", MaxRules, len(s.Rules))
	}
	ids := map[string]int{}
	for i := range s.Rules {
		r := &s.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		if r.ID != "" {
			if j, dup := ids[r.ID]; dup {
				return domain.Invalid(p+".id", "rule %s is also rules[%d]", r.ID, j)
			}
			ids[r.ID] = i
		}
		if strings.TrimSpace(r.Name) == "" || len(r.Name) > MaxTextLen {
			return domain.Invalid(p+".name", "a rule needs a name of 1 to %d bytes", MaxTextLen)
		}
		if r.Conditions != nil {
			n := 0
			if err := r.Conditions.validate(p+".conditions", 1, &n); err != nil {
				return err
			}
		}
		if err := r.Action.validate(p+".action", r.Conditions); err != nil {
			return err
		}
	}
	return nil
}

func (c *Condition) validate(p string, depth int, n *int) error {
	c.path = p[strings.Index(p, "conditions"):]
	*n++
	if *n > MaxConditions {
		return domain.Invalid(p, "at most %d conditions in one rule", MaxConditions)
	}
	set := c.tests()
	if len(set) != 1 {
		if len(set) == 0 {
			return domain.Invalid(p, "a condition needs one test (all, any, amount, currency, sub_id, click_to_conversion, attribution_path, test, ip, user_agent, time_of_day, date, signals, click_flags or source)")
		}
		return domain.Invalid(p, "a condition holds one test, not %s: put several in \"all\" or \"any\"", strings.Join(set, " and "))
	}
	switch {
	case c.All != nil || c.Any != nil:
		if depth > MaxDepth {
			return domain.Invalid(p, "conditions nest at most %d deep", MaxDepth)
		}
		kids, name := c.All, "all"
		if c.Any != nil {
			kids, name = c.Any, "any"
		}
		if len(kids) == 0 {
			return domain.Invalid(p+"."+name, "an empty group")
		}
		for i := range kids {
			if err := kids[i].validate(fmt.Sprintf("%s.%s[%d]", p, name, i), depth+1, n); err != nil {
				return err
			}
		}
	case c.Amount != nil:
		a := c.Amount
		if !currencyCode(a.Currency) {
			return domain.Invalid(p+".amount.currency", "%q is not an ISO 4217 currency code such as JPY", a.Currency)
		}
		if a.Min == nil && a.Max == nil {
			return domain.Invalid(p+".amount", "an amount range needs min, max or both")
		}
		if a.Min != nil && *a.Min < 0 {
			return domain.Invalid(p+".amount.min", "must not be negative")
		}
		if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
			return domain.Invalid(p+".amount.min", "min %d is above max %d: the range is empty", *a.Min, *a.Max)
		}
	case c.Currency != nil:
		if err := list(p+".currency", c.Currency); err != nil {
			return err
		}
		for i, cur := range c.Currency {
			if !currencyCode(cur) {
				return domain.Invalid(fmt.Sprintf("%s.currency[%d]", p, i), "%q is not an ISO 4217 currency code such as JPY", cur)
			}
		}
	case c.SubID != nil:
		return c.validateSubID(p + ".sub_id")
	case c.ClickToConversion != nil:
		d := c.ClickToConversion
		if d.Min == nil && d.Max == nil {
			return domain.Invalid(p+".click_to_conversion", "a duration range needs min, max or both")
		}
		if d.Min != nil && *d.Min < 0 {
			return domain.Invalid(p+".click_to_conversion.min", "must not be negative")
		}
		if d.Max != nil && *d.Max < 0 {
			return domain.Invalid(p+".click_to_conversion.max", "must not be negative")
		}
		if d.Min != nil && d.Max != nil && *d.Min > *d.Max {
			return domain.Invalid(p+".click_to_conversion.min", "min %s is above max %s: the range is empty", time.Duration(*d.Min), time.Duration(*d.Max))
		}
	case c.AttributionPath != nil:
		if err := list(p+".attribution_path", c.AttributionPath); err != nil {
			return err
		}
		for i, v := range c.AttributionPath {
			if !contains(PathNames, v) {
				return domain.Invalid(fmt.Sprintf("%s.attribution_path[%d]", p, i), "unknown attribution path %q (one of %s)", v, strings.Join(PathNames, ", "))
			}
		}
	case c.Test != nil:
	case c.IP != nil:
		if err := list(p+".ip", c.IP); err != nil {
			return err
		}
		c.ips = nil
		for i, s := range c.IP {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return domain.Invalid(fmt.Sprintf("%s.ip[%d]", p, i), "%q is not an IP address or CIDR such as 203.0.113.0/24", s)
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			c.ips = append(c.ips, pfx.Masked())
		}
	case c.UserAgent != nil:
		u := c.UserAgent
		if len(u.Contains) == 0 && len(u.Regexp) == 0 {
			return domain.Invalid(p+".user_agent", "needs contains or regexp")
		}
		if len(u.Contains) > 0 && len(u.Regexp) > 0 {
			return domain.Invalid(p+".user_agent", "holds contains or regexp, not both: put them in \"any\"")
		}
		if u.Contains != nil {
			return list(p+".user_agent.contains", u.Contains)
		}
		return c.compile(p+".user_agent.regexp", u.Regexp, false)
	case c.TimeOfDay != nil:
		t := c.TimeOfDay
		loc, err := zone(p+".time_of_day.time_zone", t.TimeZone)
		if err != nil {
			return err
		}
		c.loc = loc
		if c.from, err = clock(p+".time_of_day.from", t.From); err != nil {
			return err
		}
		if c.to, err = clock(p+".time_of_day.to", t.To); err != nil {
			return err
		}
		if c.from == c.to {
			return domain.Invalid(p+".time_of_day.to", "from and to are both %s: the range is empty", t.From)
		}
	case c.Date != nil:
		d := c.Date
		loc, err := zone(p+".date.time_zone", d.TimeZone)
		if err != nil {
			return err
		}
		c.loc = loc
		if c.from, err = day(p+".date.from", d.From); err != nil {
			return err
		}
		if c.to, err = day(p+".date.to", d.To); err != nil {
			return err
		}
		if c.from > c.to {
			return domain.Invalid(p+".date.from", "from %s is after to %s: the range is empty", d.From, d.To)
		}
	case c.Signals != nil:
		if err := list(p+".signals", c.Signals); err != nil {
			return err
		}
		for i, s := range c.Signals {
			if !domain.KnownSignal(domain.Signal(s)) {
				return domain.Invalid(fmt.Sprintf("%s.signals[%d]", p, i), "unknown signal %q", s)
			}
		}
	case c.ClickFlags != nil:
		if err := list(p+".click_flags", c.ClickFlags); err != nil {
			return err
		}
		c.flags = 0
		for i, s := range c.ClickFlags {
			f, ok := ClickFlagNames[s]
			if !ok {
				return domain.Invalid(fmt.Sprintf("%s.click_flags[%d]", p, i), "unknown click flag %q", s)
			}
			c.flags |= f
		}
	case c.Source != nil:
		if err := list(p+".source", c.Source); err != nil {
			return err
		}
		for i, s := range c.Source {
			if _, ok := SourceNames[s]; !ok {
				return domain.Invalid(fmt.Sprintf("%s.source[%d]", p, i), "unknown source %q (api, tag, post, kickback or import)", s)
			}
		}
	}
	return nil
}

// tests names the tests c holds.
func (c *Condition) tests() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(c.All != nil, "all")
	add(c.Any != nil, "any")
	add(c.Amount != nil, "amount")
	add(c.Currency != nil, "currency")
	add(c.SubID != nil, "sub_id")
	add(c.ClickToConversion != nil, "click_to_conversion")
	add(c.AttributionPath != nil, "attribution_path")
	add(c.Test != nil, "test")
	add(c.IP != nil, "ip")
	add(c.UserAgent != nil, "user_agent")
	add(c.TimeOfDay != nil, "time_of_day")
	add(c.Date != nil, "date")
	add(c.Signals != nil, "signals")
	add(c.ClickFlags != nil, "click_flags")
	add(c.Source != nil, "source")
	return out
}

func (c *Condition) validateSubID(p string) error {
	s := c.SubID
	if s.Slot < 1 || s.Slot > 5 {
		return domain.Invalid(p+".slot", "a sub-ID slot is 1 to 5, not %d", s.Slot)
	}
	n := 0
	for _, l := range [][]string{s.Exact, s.Prefix, s.Glob, s.Regexp} {
		if l != nil {
			n++
		}
	}
	if n != 1 {
		return domain.Invalid(p, "needs exactly one of exact, prefix, glob or regexp")
	}
	switch {
	case s.Exact != nil:
		return list(p+".exact", s.Exact)
	case s.Prefix != nil:
		return list(p+".prefix", s.Prefix)
	case s.Glob != nil:
		return c.compile(p+".glob", s.Glob, true)
	}
	return c.compile(p+".regexp", s.Regexp, false)
}

// compile compiles RE2 patterns (or globs) into c.res, refusing one that
// does not compile or is too big.
func (c *Condition) compile(p string, pats []string, glob bool) error {
	if err := list(p, pats); err != nil {
		return err
	}
	c.res = nil
	for i, pat := range pats {
		fp := fmt.Sprintf("%s[%d]", p, i)
		if len(pat) > MaxPatternLen {
			return domain.Invalid(fp, "a pattern is at most %d bytes", MaxPatternLen)
		}
		src := pat
		if glob {
			src = globRegexp(pat)
		}
		re, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			return domain.Invalid(fp, "%q does not compile: %v", pat, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return domain.Invalid(fp, "%q does not compile: %v", pat, err)
		}
		if len(prog.Inst) > MaxProgram {
			return domain.Invalid(fp, "%q is too big (%d instructions, at most %d)", pat, len(prog.Inst), MaxProgram)
		}
		compiled, err := regexp.Compile(src)
		if err != nil {
			return domain.Invalid(fp, "%q does not compile: %v", pat, err)
		}
		c.res = append(c.res, compiled)
	}
	return nil
}

// globRegexp is the anchored regexp of a glob: * any run, ? one character.
func globRegexp(g string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range g {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func (a *Action) validate(p string, cond *Condition) error {
	if len(a.Reason) > MaxTextLen {
		return domain.Invalid(p+".reason", "at most %d bytes", MaxTextLen)
	}
	if a.HoldDays != 0 && a.Type != Hold {
		return domain.Invalid(p+".hold_days", "only a hold action has hold_days")
	}
	if a.Payout != nil && a.Type != ChangePayout {
		return domain.Invalid(p+".payout", "only a payout action has a payout")
	}
	switch a.Type {
	case Accept:
	case Hold:
		if a.HoldDays <= 0 || a.HoldDays > MaxHoldDays {
			return domain.Invalid(p+".hold_days", "a hold is 1 to %d days, not %d", MaxHoldDays, a.HoldDays)
		}
	case Reject:
		if strings.TrimSpace(a.Reason) == "" {
			return domain.Invalid(p+".reason", "a reject action needs the reason partners are told")
		}
	case ChangePayout:
		po := a.Payout
		if po == nil || (po.Fixed == nil) == (po.PercentBPS == nil) {
			return domain.Invalid(p+".payout", "needs exactly one of fixed or percent_bps")
		}
		if po.PercentBPS != nil && *po.PercentBPS > 10000 {
			return domain.Invalid(p+".payout.percent_bps", "at most 10000 (100%%), not %d", *po.PercentBPS)
		}
		if po.Fixed != nil {
			if !currencyCode(po.Fixed.Currency) {
				return domain.Invalid(p+".payout.fixed.currency", "%q is not an ISO 4217 currency code such as JPY", po.Fixed.Currency)
			}
			if po.Fixed.Minor < 0 || po.Fixed.Minor > 1e15 {
				return domain.Invalid(p+".payout.fixed.minor", "must be 0 to 10^15")
			}
			for _, cur := range cond.currencies() {
				if cur != po.Fixed.Currency {
					return domain.Invalid(p+".payout.fixed.currency", "the payout is in %s but the rule's amount range is in %s", po.Fixed.Currency, cur)
				}
			}
		}
	case "":
		return domain.Invalid(p+".type", "a rule needs an action: accept, hold, reject or payout")
	default:
		return domain.Invalid(p+".type", "unknown action %q (accept, hold, reject or payout)", a.Type)
	}
	return nil
}

// currencies are the currencies of the amount ranges a match requires
// (reached through all groups only: under an any, no one range is
// required).
func (c *Condition) currencies() []string {
	if c == nil {
		return nil
	}
	if c.Amount != nil {
		return []string{c.Amount.Currency}
	}
	var out []string
	for i := range c.All {
		out = append(out, c.All[i].currencies()...)
	}
	return out
}

func list(p string, l []string) error {
	if len(l) == 0 {
		return domain.Invalid(p, "an empty list matches nothing")
	}
	if len(l) > MaxListLen {
		return domain.Invalid(p, "at most %d entries, not %d", MaxListLen, len(l))
	}
	for i, s := range l {
		if s == "" || len(s) > MaxTextLen {
			return domain.Invalid(fmt.Sprintf("%s[%d]", p, i), "an entry is 1 to %d bytes", MaxTextLen)
		}
	}
	return nil
}

func currencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func zone(p, name string) (*time.Location, error) {
	if name == "" {
		return nil, domain.Invalid(p, "an IANA time zone such as Asia/Tokyo is required")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, domain.Invalid(p, "%q is not an IANA time zone", name)
	}
	return loc, nil
}

func clock(p, s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, domain.Invalid(p, "%q is not a time of day \"HH:MM\"", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func day(p, s string) (int, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, domain.Invalid(p, "%q is not a date \"YYYY-MM-DD\"", s)
	}
	return int(t.Unix() / 86400), nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
