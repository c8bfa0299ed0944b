package service

import (
	"context"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// intakeControls is what the offer's controls decided for a new conversion
// before it was stored: a rejection note when a signal the offer rejects on
// was found (the conversion is recorded, then rejected, in one transaction).
type intakeControls struct {
	reject string
}

// applyCaps counts a newly inserted conversion against the offer's
// conversion and payout caps, inside its transaction. Each cap's counter
// for the current period (in the offer's time zone) is raised with a
// guarded upsert that never passes the limit; when one cap is full, what
// the others took is given back and the cap's action (hold or reject)
// applies, with the signal cap_reached. It returns the rejection note when
// the cap rejects.
//
// What counts: attributed, non-test conversions (an unattributed one earns
// nobody anything), one each for conversion caps, the commission (in the
// cap's currency) for payout caps. A duplicate report never reaches here,
// so it never uses a cap. A later rejection or reversal does not give the
// cap back: a cap limits what was accepted in its period.
func (c *Conversions) applyCaps(ctx context.Context, tx ConversionTx, offer domain.Offer, conv *domain.Conversion, now time.Time) (domain.SignalAction, string, error) {
	if conv.Test || conv.PublisherID == "" || conv.Status != domain.StatusPending {
		return domain.ActionRecord, "", nil
	}
	caps, err := tx.OfferCaps(ctx, offer.ID)
	if err != nil || len(caps) == 0 {
		return domain.ActionRecord, "", err
	}
	loc := offer.Controls.Location()
	type use struct {
		cap   domain.Cap
		start time.Time
		n     int64
	}
	var used []use
	release := func() error {
		for _, u := range used {
			if err := tx.ReleaseCap(ctx, u.cap.ID, u.start, u.n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, cp := range caps {
		if cp.PublisherID != "" && cp.PublisherID != conv.PublisherID {
			continue
		}
		var n int64
		switch cp.Kind {
		case domain.CapConversions:
			n = 1
		case domain.CapPayout:
			if conv.Commission.Currency != cp.Currency || conv.Commission.Minor <= 0 {
				continue
			}
			n = conv.Commission.Minor
		default:
			continue // click caps are counted by the click path
		}
		start := domain.PeriodStart(cp.Period, now, loc)
		ok, total, err := tx.UseCap(ctx, cp.ID, start, n, cp.Limit)
		if err != nil {
			return domain.ActionRecord, "", err
		}
		if !ok {
			if err := release(); err != nil {
				return domain.ActionRecord, "", err
			}
			conv.Signals = addSignal(conv.Signals, domain.SignalCapReached)
			if err := tx.AddSignals(ctx, conv.ID, []domain.Signal{domain.SignalCapReached}); err != nil {
				return domain.ActionRecord, "", err
			}
			return cp.Action, string(domain.SignalCapReached) + ": " + domain.CapHit{Cap: cp, Used: total}.String(), nil
		}
		used = append(used, use{cp, start, n})
	}
	return domain.ActionRecord, "", nil
}

// CapStore is what the cap use cases read and write.
type CapStore interface {
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	SetCaps(ctx context.Context, offerID string, list []domain.Cap) ([]domain.Cap, error)
	ListCaps(ctx context.Context, offerID string) ([]domain.Cap, error)
	CapUsed(ctx context.Context, capID string, periodStart time.Time) (int64, error)
	SetOfferControls(ctx context.Context, offerID string, c domain.OfferControls) (domain.Offer, error)
	SignalReport(ctx context.Context, f domain.ReportFilter) ([]domain.SignalCount, error)
}

// Caps is the cap and offer-control use cases (CapService).
type Caps struct {
	store    CapStore
	now      func() time.Time
	onChange []func()
}

// NewCaps returns the cap use cases; onChange is called after a change
// (to drop cached offers).
func NewCaps(st CapStore, now func() time.Time, onChange ...func()) *Caps {
	if now == nil {
		now = time.Now
	}
	return &Caps{store: st, now: now, onChange: onChange}
}

// offerFor returns the offer when p may manage it: its advertiser or an
// admin. Others learn only that they may not.
func (k *Caps) offerFor(ctx context.Context, p domain.Principal, offerID string, write bool) (domain.Offer, error) {
	o, err := k.store.GetOffer(ctx, offerID)
	if err != nil {
		return o, err
	}
	if p.Owns(domain.RoleAdvertiser, o.AdvertiserID) {
		return o, nil
	}
	if !write && p.Role == domain.RolePublisher {
		return o, nil // a publisher may read the caps it works under
	}
	return domain.Offer{}, domain.Denied("only the offer's advertiser (or an admin) may manage the caps of offer %q", offerID)
}

// SetCaps replaces an offer's caps.
func (k *Caps) SetCaps(ctx context.Context, p domain.Principal, offerID string, list []domain.Cap) ([]domain.Cap, error) {
	if _, err := k.offerFor(ctx, p, offerID, true); err != nil {
		return nil, err
	}
	seen := map[[3]string]bool{}
	for i := range list {
		list[i].OfferID = offerID
		if list[i].Kind == domain.CapClicks && list[i].Action == "" {
			list[i].Action = domain.ActionReject // a click over its cap goes to the fallback URL
		}
		if err := list[i].Validate(); err != nil {
			return nil, err
		}
		key := [3]string{list[i].PublisherID, string(list[i].Kind), string(list[i].Period)}
		if seen[key] {
			return nil, domain.Invalid("caps", "two caps for the same publisher, kind and period (%s %s per %s)", orOffer(list[i].PublisherID), list[i].Kind, list[i].Period)
		}
		seen[key] = true
	}
	out, err := k.store.SetCaps(ctx, offerID, list)
	k.changed()
	return out, err
}

func orOffer(pub string) string {
	if pub == "" {
		return "the offer"
	}
	return "publisher " + pub
}

// ListCaps lists an offer's caps; a publisher sees the offer-wide ones
// and its own.
func (k *Caps) ListCaps(ctx context.Context, p domain.Principal, offerID string) ([]domain.Cap, error) {
	if _, err := k.offerFor(ctx, p, offerID, false); err != nil {
		return nil, err
	}
	list, err := k.store.ListCaps(ctx, offerID)
	if err != nil {
		return nil, err
	}
	return visibleCaps(p, list), nil
}

func visibleCaps(p domain.Principal, list []domain.Cap) []domain.Cap {
	if p.Role != domain.RolePublisher {
		return list
	}
	var out []domain.Cap
	for _, c := range list {
		if c.PublisherID == "" || c.PublisherID == p.PartnerID {
			out = append(out, c)
		}
	}
	return out
}

// CapUsage returns how much of each of an offer's caps the period holding
// at (now when zero) used, in the offer's time zone.
func (k *Caps) CapUsage(ctx context.Context, p domain.Principal, offerID string, at time.Time) ([]domain.CapUsage, error) {
	o, err := k.offerFor(ctx, p, offerID, false)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = k.now()
	}
	list, err := k.store.ListCaps(ctx, offerID)
	if err != nil {
		return nil, err
	}
	loc := o.Controls.Location()
	var out []domain.CapUsage
	for _, c := range visibleCaps(p, list) {
		start := domain.PeriodStart(c.Period, at, loc)
		n, err := k.store.CapUsed(ctx, c.ID, start)
		if err != nil {
			return nil, err
		}
		out = append(out, domain.CapUsage{Cap: c, PeriodStart: start, Used: n})
	}
	return out, nil
}

// SetOfferControls stores an offer's conversion controls.
func (k *Caps) SetOfferControls(ctx context.Context, p domain.Principal, offerID string, c domain.OfferControls) (domain.Offer, error) {
	if _, err := k.offerFor(ctx, p, offerID, true); err != nil {
		return domain.Offer{}, err
	}
	if err := c.Validate(); err != nil {
		return domain.Offer{}, err
	}
	o, err := k.store.SetOfferControls(ctx, offerID, c)
	k.changed()
	return o, err
}

func (k *Caps) changed() {
	for _, f := range k.onChange {
		f()
	}
}

// intakeControls finds the signals on a new conversion, gives it its hold
// period, and applies what the offer does per signal: hold sets the hold
// reason now; reject is applied once the conversion is stored.
func (c *Conversions) intakeControls(ctx context.Context, offer domain.Offer, conv *domain.Conversion, now time.Time) (intakeControls, error) {
	found, err := c.findSignals(ctx, offer, conv, now)
	if err != nil {
		return intakeControls{}, err
	}
	setHold(offer, conv)
	if conv.Test {
		return intakeControls{}, nil
	}
	switch action, note := signalDecision(offer.Controls, found); action {
	case domain.ActionHold:
		conv.HoldReason = note
	case domain.ActionReject:
		return intakeControls{reject: note}, nil
	}
	return intakeControls{}, nil
}

// decideAtIntake runs in the new conversion's transaction: it counts the
// conversion against the caps (unless a signal rejects it), applies a cap's
// or a signal's rejection or hold, and tells the outbox. It reports
// whether the conversion changed after it was inserted.
func (c *Conversions) decideAtIntake(ctx context.Context, tx ConversionTx, offer domain.Offer, out *domain.Conversion, ctl intakeControls, now time.Time) (bool, error) {
	reject, reason := ctl.reject, "fraud"
	changed := false
	if reject == "" {
		action, note, err := c.applyCaps(ctx, tx, offer, out, now)
		if err != nil {
			return false, err
		}
		switch action {
		case domain.ActionReject:
			reject, reason, changed = note, "other", true
		case domain.ActionHold:
			if out.HoldReason == "" {
				out.HoldReason = note
			}
			if err := tx.SetHold(ctx, out.ID, out.HoldUntil, out.HoldReason); err != nil {
				return false, err
			}
			changed = true
		}
	}
	if c.outbox != nil {
		if err := c.outbox.ConversionEvent(ctx, tx, *out, domain.StatusPending); err != nil {
			return false, err
		}
	}
	if reject == "" {
		return changed, nil
	}
	if err := c.moveStatus(ctx, tx, *out, domain.StatusRejected, reason, reject, "system", now); err != nil {
		return false, err
	}
	out.Status = domain.StatusRejected
	return true, nil
}

// SignalReport counts conversions per day, offer, publisher and signal,
// scoped like Report: a publisher sees its own, an advertiser its offers'.
func (k *Caps) SignalReport(ctx context.Context, p domain.Principal, f domain.ReportFilter) ([]domain.SignalCount, error) {
	switch p.Role {
	case domain.RoleAdmin:
	case domain.RolePublisher:
		if f.PublisherID != "" && f.PublisherID != p.PartnerID {
			return nil, domain.Denied("a publisher key may only read its own report rows")
		}
		f.PublisherID = p.PartnerID
	case domain.RoleAdvertiser:
		f.AdvertiserID = p.PartnerID
	default:
		return nil, domain.Denied("a %s key may not read reports", p.Role)
	}
	if f.TimeZone == "" {
		f.TimeZone = domain.DefaultControlsTimeZone
	}
	if _, err := time.LoadLocation(f.TimeZone); err != nil {
		return nil, domain.Invalid("time_zone", "%q is not an IANA time zone", f.TimeZone)
	}
	if f.From.IsZero() || f.To.IsZero() || f.To.Sub(f.From) > 366*24*time.Hour || !f.To.After(f.From) {
		return nil, domain.Invalid("time_range", "needs a start and a later end at most 366 days apart")
	}
	return k.store.SignalReport(ctx, f)
}
