package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
	"github.com/batonhq/baton/server/internal/rules"
)

// RuleStore is what the conversion rules read and write.
type RuleStore interface {
	ActiveRuleSets(ctx context.Context) ([]domain.RuleSetRecord, error)
	RuleSet(ctx context.Context, owner string) (domain.RuleSetRecord, error)
	PutRuleSet(ctx context.Context, owner, actor string, now time.Time,
		build func(cur domain.RuleSetRecord) ([]byte, []domain.RuleVersionRecord, error)) (domain.RuleSetRecord, error)
	RuleVersions(ctx context.Context, ruleID string) ([]domain.RuleVersionRecord, error)
	RecentConversions(ctx context.Context, advertiserID string, limit int) ([]domain.Conversion, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error)
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
	GetClick(ctx context.Context, id string) (domain.Click, error)
}

// RuleCacheTTL is how long a node uses the rule sets it read before it
// reads them again, when no change notice dropped them sooner: the bound
// on how stale another node's rules can be.
const RuleCacheTTL = time.Second

// MaxDryRun is the most conversions a dry run judges.
const MaxDryRun = 1000

// Rules is the conversion rules use cases: saving and reading rule sets,
// the dry run, and the decision at intake (see package rules). The rule
// sets in force are cached per node; Forget drops them (wired to the
// configuration change hook, so a change notice from another node drops
// them too), and they are read again after RuleCacheTTL in any case.
type Rules struct {
	store    RuleStore
	ids      *ids.Source
	now      func() time.Time
	onChange []func()

	mu     sync.Mutex
	cached *ruleSets
	// compiled keeps each owner's last compiled set by version, so a
	// reread that finds the same version compiles nothing.
	compiled map[string]compiledSet
}

type compiledSet struct {
	version int
	set     *rules.RuleSet
}

// ruleSets is the rule sets in force: the network's and each advertiser's.
type ruleSets struct {
	network *rules.RuleSet
	byAdv   map[string]*rules.RuleSet
	expires time.Time
}

// NewRules returns the rules use cases.
func NewRules(st RuleStore, idSrc *ids.Source, now func() time.Time) *Rules {
	if idSrc == nil {
		idSrc = ids.Default
	}
	if now == nil {
		now = time.Now
	}
	return &Rules{store: st, ids: idSrc, now: now}
}

// OnChange registers f to run after a rule set is saved on this node (the
// place to announce "rules changed" to the other nodes).
func (r *Rules) OnChange(f func()) { r.onChange = append(r.onChange, f) }

// Forget drops the cached rule sets: the next conversion reads them anew.
// It is the hook for "rules changed", here or on another node.
func (r *Rules) Forget() {
	r.mu.Lock()
	r.cached = nil
	r.mu.Unlock()
}

// RulesChanged runs the change hooks: the cache of this node is dropped and
// whoever announces configuration changes to other nodes is told.
func (r *Rules) RulesChanged() {
	r.Forget()
	for _, f := range r.onChange {
		f()
	}
}

// sets returns the rule sets in force, read at most RuleCacheTTL ago.
func (r *Rules) sets(ctx context.Context) (*ruleSets, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cached; c != nil && now.Before(c.expires) {
		return c, nil
	}
	recs, err := r.store.ActiveRuleSets(ctx)
	if err != nil {
		return nil, err
	}
	c := &ruleSets{byAdv: map[string]*rules.RuleSet{}, expires: now.Add(RuleCacheTTL)}
	compiled := make(map[string]compiledSet, len(recs))
	for _, rec := range recs {
		set := r.compiled[rec.Owner].set
		if r.compiled[rec.Owner].version != rec.Version || set == nil {
			if set, err = readSet(rec.Document); err != nil {
				return nil, fmt.Errorf("rule set of %q version %d: %w", rec.Owner, rec.Version, err)
			}
		}
		compiled[rec.Owner] = compiledSet{version: rec.Version, set: set}
		if rec.Owner == "" {
			c.network = set
		} else {
			c.byAdv[rec.Owner] = set
		}
	}
	r.cached, r.compiled = c, compiled
	return c, nil
}

// readSet reads a stored document (validated again, which compiles it).
func readSet(doc []byte) (*rules.RuleSet, error) {
	var set rules.RuleSet
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, err
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return &set, nil
}

// decide is the decision of the rule sets in force for conv: the
// network's rules first, then the advertiser's.
func (r *Rules) decide(ctx context.Context, conv domain.Conversion, named *domain.Click) (rules.Decision, error) {
	c, err := r.sets(ctx)
	if err != nil {
		return rules.Decision{}, err
	}
	return r.evaluate(ctx, conv, named, c.network, c.byAdv[conv.AdvertiserID])
}

func (r *Rules) evaluate(ctx context.Context, conv domain.Conversion, named *domain.Click, sets ...*rules.RuleSet) (rules.Decision, error) {
	var flags domain.ClickFlag
	switch {
	case named != nil && named.ID == conv.ClickID:
		flags = named.Flags
	case conv.ClickID != "" && rules.NeedsClickFlags(sets...):
		cl, err := r.store.GetClick(ctx, conv.ClickID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return rules.Decision{}, err
		}
		flags = cl.Flags
	}
	return rules.Evaluate(rules.InputOf(conv, flags), sets...), nil
}

// applyRules lets the rules in force decide conv, priced and about to be
// stored: a rejection is returned as the refusal (code rejected_by_rule),
// a hold sets HoldUntil, a payout change sets the commission; the
// decision is kept in the conversion's explanation.
// named is the click the report named, if any (its flags need no second
// read when it is the one attributed).
func (c *Conversions) applyRules(ctx context.Context, in ConversionInput, named *domain.Click, conv *domain.Conversion, now time.Time) error {
	if c.rules == nil {
		return nil
	}
	d, err := c.rules.decide(ctx, *conv, named)
	if err != nil || !d.Matched {
		return err
	}
	out := &domain.RuleOutcome{RuleID: d.RuleID, Version: d.RuleVersion, Name: d.RuleName, Action: string(d.Action.Type),
		Condition: d.Condition, Public: d.Public, Internal: d.Internal}
	exp := &conv.Attribution
	switch d.Action.Type {
	case rules.Reject:
		return c.refuse(ctx, in, conv.AdvertiserID, conv.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalRejectedByRule,
			Public: d.Public})
	case rules.Hold:
		until := now.Add(time.Duration(d.Action.HoldDays) * 24 * time.Hour)
		conv.HoldUntil, out.HoldUntil = &until, &until
		exp.Summary += " " + upperFirst(d.Public) + "; pending until " + until.UTC().Format(time.RFC3339) + "."
	case rules.ChangePayout:
		if conv.PublisherID == "" {
			out.Public += " (no publisher earns this conversion, so there is no commission to change)"
			break
		}
		before := conv.Commission
		earned := d.Action.Payout.Commission(conv.Amount)
		if exp.WouldEarn != nil { // a test conversion: what it would have paid
			before = *exp.WouldEarn
			exp.WouldEarn = &earned
			conv.Commission = domain.Money{Currency: earned.Currency}
		} else {
			conv.Commission = earned
		}
		out.CommissionBefore = &before
		exp.CommissionRule = fmt.Sprintf("%s: %s instead of %s (%s)", d.Public, rules.FormatMoney(earned.Currency, earned.Minor),
			rules.FormatMoney(before.Currency, before.Minor), exp.CommissionRule)
	case rules.Accept:
		exp.Summary += " " + upperFirst(d.Public) + "."
	}
	exp.Rule = out
	return nil
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// UseRules makes intake apply rs's rules to every conversion, whichever
// entrance it came by.
func (c *Conversions) UseRules(rs *Rules) { c.rules = rs }

// RuleSetView is a rule set as its owner reads it.
type RuleSetView struct {
	Owner     string
	Version   int
	Set       rules.RuleSet
	CreatedAt time.Time
	CreatedBy string
}

// ruleOwner checks that p may read and write the rule set of owner (""
// for the network's): an admin any, an advertiser its own; publishers and
// networks never see rules.
func ruleOwner(p domain.Principal, owner string) error {
	switch {
	case p.IsAdmin():
		return nil
	case p.Role == domain.RoleAdvertiser && owner == p.PartnerID && owner != "":
		return nil
	case p.Role == domain.RoleAdvertiser:
		return domain.Denied("an advertiser key may only use its own rule set (advertiser_id %q)", p.PartnerID)
	}
	return domain.Denied("a %s key may not use conversion rules", p.Role)
}

// checkScopes refuses rules whose scope reaches outside owner's: an
// advertiser's rules apply to its own conversions only; offers and
// publishers named must exist (and an offer be the advertiser's).
func (r *Rules) checkScopes(ctx context.Context, owner string, set *rules.RuleSet) error {
	for i := range set.Rules {
		sc := &set.Rules[i].Scope
		p := fmt.Sprintf("rules[%d].scope", i)
		if owner != "" {
			if sc.AdvertiserID != "" && sc.AdvertiserID != owner {
				return domain.Invalid(p+".advertiser_id", "an advertiser's rules apply to its own conversions, not %s's", sc.AdvertiserID)
			}
			sc.AdvertiserID = owner
		} else if sc.AdvertiserID != "" {
			if _, err := r.store.GetAdvertiser(ctx, sc.AdvertiserID); errors.Is(err, domain.ErrNotFound) {
				return domain.Invalid(p+".advertiser_id", "no advertiser %q", sc.AdvertiserID)
			} else if err != nil {
				return err
			}
		}
		if sc.OfferID != "" {
			o, err := r.store.GetOffer(ctx, sc.OfferID)
			if errors.Is(err, domain.ErrNotFound) || (err == nil && sc.AdvertiserID != "" && o.AdvertiserID != sc.AdvertiserID) {
				return domain.Invalid(p+".offer_id", "no offer %q of the advertiser", sc.OfferID)
			}
			if err != nil {
				return err
			}
		}
		if sc.PublisherID != "" {
			if _, err := r.store.GetPublisher(ctx, sc.PublisherID); errors.Is(err, domain.ErrNotFound) {
				return domain.Invalid(p+".publisher_id", "no publisher %q", sc.PublisherID)
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

// proposed parses and checks a rule set owner proposes.
func (r *Rules) proposed(ctx context.Context, p domain.Principal, owner string, doc []byte) (*rules.RuleSet, error) {
	if err := ruleOwner(p, owner); err != nil {
		return nil, err
	}
	set, err := rules.Parse(doc)
	if err != nil {
		return nil, err
	}
	if err := r.checkScopes(ctx, owner, &set); err != nil {
		return nil, err
	}
	return &set, nil
}

// Put saves doc as the new rule set of owner ("" for the network's). A rule
// that names an ID of the set in force changes that rule (a new version
// when its definition changed); one without an ID is new; a rule left out
// is removed. expectVersion, when non-zero, must be the version in force
// (so two editors do not overwrite each other).
func (r *Rules) Put(ctx context.Context, p domain.Principal, owner string, doc []byte, expectVersion int) (RuleSetView, error) {
	set, err := r.proposed(ctx, p, owner, doc)
	if err != nil {
		return RuleSetView{}, err
	}
	rec, err := r.store.PutRuleSet(ctx, owner, p.KeyID, r.now().UTC(), func(cur domain.RuleSetRecord) ([]byte, []domain.RuleVersionRecord, error) {
		if expectVersion != 0 && cur.Version != expectVersion {
			return nil, nil, domain.Failed("the rule set is at version %d, not %d: read it again and reapply the change", cur.Version, expectVersion)
		}
		old := map[string]rules.Rule{}
		if cur.Version > 0 {
			prev, err := readSet(cur.Document)
			if err != nil {
				return nil, nil, err
			}
			for _, rl := range prev.Rules {
				old[rl.ID] = rl
			}
		}
		var versions []domain.RuleVersionRecord
		for i := range set.Rules {
			rl := &set.Rules[i]
			if rl.ID == "" {
				rl.ID, rl.Version = r.ids.New("ru"), 1
			} else {
				prev, ok := old[rl.ID]
				if !ok {
					return nil, nil, domain.Invalid(fmt.Sprintf("rules[%d].id", i), "no rule %s in this rule set: leave id out to add a rule", rl.ID)
				}
				rl.Version = prev.Version
				if !sameRule(prev, *rl) {
					rl.Version = prev.Version + 1
				}
				if rl.Version == prev.Version {
					continue
				}
			}
			def, err := json.Marshal(rl)
			if err != nil {
				return nil, nil, err
			}
			versions = append(versions, domain.RuleVersionRecord{RuleID: rl.ID, Version: rl.Version, Name: rl.Name, Definition: def})
		}
		doc, err := json.Marshal(set)
		return doc, versions, err
	})
	if err != nil {
		return RuleSetView{}, err
	}
	r.RulesChanged()
	return RuleSetView{Owner: owner, Version: rec.Version, Set: *set, CreatedAt: rec.CreatedAt, CreatedBy: rec.CreatedBy}, nil
}

// sameRule reports whether two rules are defined alike (ID and version
// aside).
func sameRule(a, b rules.Rule) bool {
	a.Version, b.Version = 0, 0
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Get returns the rule set in force of owner.
func (r *Rules) Get(ctx context.Context, p domain.Principal, owner string) (RuleSetView, error) {
	if err := ruleOwner(p, owner); err != nil {
		return RuleSetView{}, err
	}
	rec, err := r.store.RuleSet(ctx, owner)
	if err != nil {
		return RuleSetView{}, err
	}
	v := RuleSetView{Owner: owner, Version: rec.Version, CreatedAt: rec.CreatedAt, CreatedBy: rec.CreatedBy}
	if rec.Version > 0 {
		set, err := readSet(rec.Document)
		if err != nil {
			return v, err
		}
		v.Set = *set
	}
	return v, nil
}

// Versions returns every saved version of a rule, oldest first.
func (r *Rules) Versions(ctx context.Context, p domain.Principal, ruleID string) ([]domain.RuleVersionRecord, error) {
	list, err := r.store.RuleVersions(ctx, ruleID)
	if err != nil {
		return nil, err
	}
	if err := ruleOwner(p, list[0].Owner); err != nil {
		if p.Role == domain.RoleAdvertiser {
			return nil, domain.NotFound("rule", ruleID) // another advertiser's rule is not there for it
		}
		return nil, err
	}
	return list, nil
}

// DryRunResult is what a proposed rule set would have done.
type DryRunResult struct {
	Items []DryRunItem
	// Counts of what would happen, by action ("accept", "hold", "reject",
	// "payout", and "none" where no rule matches).
	Would map[string]int
	// Changed is how many would be decided otherwise than they were.
	Changed int
}

// DryRunItem is one conversion: what happened, what would.
type DryRunItem struct {
	Conversion domain.Conversion
	// Happened is the rule that decided it at intake, nil if none did.
	Happened *domain.RuleOutcome
	Would    rules.Decision
	// Commission is what it would earn under the proposed rules.
	Commission domain.Money
	Changed    bool
}

// DryRun judges the latest limit (≤ MaxDryRun) conversions in owner's
// scope (all of them for the network's set, the advertiser's own
// otherwise) by doc, proposed as owner's new rule set, next to the other
// rule set in force, and says per conversion what would happen and what
// did. Nothing is saved. Conversions refused at intake are not stored and
// so are not judged.
func (r *Rules) DryRun(ctx context.Context, p domain.Principal, owner string, doc []byte, limit int) (DryRunResult, error) {
	set, err := r.proposed(ctx, p, owner, doc)
	if err != nil {
		return DryRunResult{}, err
	}
	for i := range set.Rules {
		if set.Rules[i].ID == "" { // not saved yet: named by its place
			set.Rules[i].ID = fmt.Sprintf("new:rules[%d]", i)
		}
	}
	if limit <= 0 || limit > MaxDryRun {
		limit = min(max(limit, 100), MaxDryRun)
	}
	c, err := r.sets(ctx)
	if err != nil {
		return DryRunResult{}, err
	}
	convs, err := r.store.RecentConversions(ctx, owner, limit)
	if err != nil {
		return DryRunResult{}, err
	}
	res := DryRunResult{Would: map[string]int{}}
	for _, conv := range convs {
		network, adv := c.network, c.byAdv[conv.AdvertiserID]
		if owner == "" {
			network = set
		} else {
			adv = set
		}
		d, err := r.evaluate(ctx, conv, nil, network, adv)
		if err != nil {
			return DryRunResult{}, err
		}
		it := DryRunItem{Conversion: conv, Happened: conv.Attribution.Rule, Would: d, Commission: conv.Commission}
		action := "none"
		if d.Matched {
			action = string(d.Action.Type)
			if d.Action.Type == rules.ChangePayout && conv.PublisherID != "" && !conv.Test {
				it.Commission = d.Action.Payout.Commission(conv.Amount)
			}
		}
		happened := "none"
		if it.Happened != nil {
			happened = it.Happened.Action
		}
		it.Changed = happened != action || (it.Happened != nil && d.Matched && (it.Happened.RuleID != d.RuleID || it.Happened.Version != d.RuleVersion))
		if it.Changed {
			res.Changed++
		}
		res.Would[action]++
		res.Items = append(res.Items, it)
	}
	return res, nil
}
