package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
	"github.com/batonhq/baton/server/internal/signature"
	"github.com/batonhq/baton/server/internal/telemetry"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

var (
	tracer          = otel.Tracer("github.com/batonhq/baton/server/internal/service")
	meter           = otel.Meter("github.com/batonhq/baton/server/internal/service")
	conversionsSeen = telemetry.Int64Counter(meter, "baton.conversions", metric.WithDescription("Conversions recorded (not duplicates), by source and test."))
	attributions    = telemetry.Int64Counter(meter, "baton.attributions", metric.WithDescription("Attribution decisions, by path."))
	statusChanges   = telemetry.Int64Counter(meter, "baton.conversion.status_changes", metric.WithDescription("Conversion status changes, by new status."))
)

// ConversionTx is the part of a database transaction the conversion use
// cases write through: a conversion, its history and what it causes commit
// together or not at all. It includes what the postback outbox writes
// through (domain.OutboxTx), so the outbox needs no type check.
type ConversionTx interface {
	domain.OutboxTx
	InsertConversion(ctx context.Context, c domain.Conversion, actor string) (domain.Conversion, bool, error)
	AddStatusChange(ctx context.Context, id string, ch domain.StatusChange) error
	UseSignature(ctx context.Context, advertiserID, sig string, now, expires time.Time) (bool, error)
	LockConversion(ctx context.Context, id string) (domain.Conversion, error)
	SetStatus(ctx context.Context, id string, status domain.ConversionStatus, at time.Time) error
	ConversionIDsByOrder(ctx context.Context, advertiserID, offerID, orderID string) ([]string, error)
	CompleteAttribution(ctx context.Context, id string, c domain.Conversion) (domain.Conversion, bool, error)
	ControlTx // caps and holds (caps.go)
}

// ConversionStore is what the conversion use cases read.
type ConversionStore interface {
	GetClick(ctx context.Context, id string) (domain.Click, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error)
	AdvertiserSecrets(ctx context.Context, id string) ([]string, error)
	ClicksByIP(ctx context.Context, offerID, ip string, from, to time.Time) ([]domain.Click, error)
	ClicksByPublisher(ctx context.Context, advertiserID, publisherID, siteID string, from, to time.Time) ([]domain.Click, error)
	PublisherByUserID(ctx context.Context, userID int64) (domain.Publisher, error)
	SiteBySiteID(ctx context.Context, siteID int64) (domain.Site, error)
	PreviousSale(ctx context.Context, advertiserID, userName string, since time.Time) (domain.Conversion, error)
	GetConversion(ctx context.Context, id string) (domain.Conversion, error)
	ListConversions(ctx context.Context, f domain.ConversionFilter, page domain.Page) ([]domain.Conversion, string, error)
	DueForAutoApproval(ctx context.Context, now time.Time, limit int) ([]string, error)
	AddRefusal(ctx context.Context, r domain.Refusal) error
	ListRefusals(ctx context.Context, advertiserID string, source domain.ConversionSource, from, to time.Time, page domain.Page) ([]domain.Refusal, string, error)
	HashEmail(email string) string
	ControlStore // signal counts (signals.go)
}

// TxRunner runs f in one database transaction.
type TxRunner func(ctx context.Context, f func(ConversionTx) error) error

// Outbox is told, inside the transaction, about every conversion event that
// partners may be owed a postback for (a new conversion, a status change).
type Outbox interface {
	ConversionEvent(ctx context.Context, tx domain.OutboxTx, c domain.Conversion, event domain.ConversionStatus) error
}

// Conversions is the conversion and attribution use cases.
type Conversions struct {
	offers *ttlCache[domain.Offer]
	rules  *Rules // nil: no conversion rules (see UseRules)
	// reasons is how much of the reasons publishers read (viewer.go).
	reasons ReasonPolicy
	store   ConversionStore
	inTx    TxRunner
	outbox  Outbox
	ids     *ids.Source
	now     func() time.Time
	log     *slog.Logger
	blocks  *Blocklists // blocklist signals; nil: none (SetBlocklists)
	// clickLag: how long a click may be answered before it is stored (clicklag.go).
	clickLag time.Duration
}

// SetBlocklists makes intake add the blocklist signals of b to every
// conversion. Call before serving.
func (c *Conversions) SetBlocklists(b *Blocklists) { c.blocks = b }

// NewConversions returns the conversion use cases. outbox may be nil.
func NewConversions(st ConversionStore, inTx TxRunner, outbox Outbox, idSrc *ids.Source, now func() time.Time, log *slog.Logger) *Conversions {
	if idSrc == nil {
		idSrc = ids.Default
	}
	if now == nil {
		now = time.Now
	}
	return &Conversions{store: st, inTx: inTx, outbox: outbox, ids: idSrc, now: now, log: log, offers: newTTLCache[domain.Offer](5 * time.Second)}
}

// FC2TestEmail puts a conversion in test mode (FC2's rule).
const FC2TestEmail = "test@fc2.com"

// RecurringLookback is how far back the previous sale of a user name is
// searched for a recurring charge (FC2: two months).
const RecurringLookback = 62 * 24 * time.Hour

// CompletionWindow is how long after a sale was recorded without a click a
// second report of the same sale (the same order ID, amount and currency)
// that carries its click may still attribute it: the image tag of a
// thank-you page loads without the click when the browser blocks
// third-party cookies, and the first-party tag's copy of it, with the
// click, arrives a moment later.
const CompletionWindow = 15 * time.Minute

// ConversionInput is a conversion report from any intake: the API, the FC2
// image tag or POST, or a kickback.
type ConversionInput struct {
	Source domain.ConversionSource
	// ClickID is the click the report names (API, kickback). It must be one
	// Baton issued for the advertiser's offers.
	ClickID string
	// CookieClickID is the click found in the buyer's cookie (image tag).
	CookieClickID string
	// FirstParty says ClickID came from Baton's first-party tag (t.js) on
	// the shop's own site: the explanation names that path.
	FirstParty bool
	// RefUserID and RefSiteID are FC2's ref_userid and ref_siteid: the
	// aff_userid and aff_siteid the click redirect gave the shop.
	RefUserID, RefSiteID int64
	// OfferID is required when there is no click ID.
	OfferID string
	// AdvertiserID identifies the shop when neither click nor offer does
	// (FC2 shopid); it must match the offer's advertiser.
	AdvertiserID   string
	OrderID        string
	OrderID2       string
	Amount         domain.Money
	Items          []domain.Item
	Recurring      bool
	UserName       string
	Email          string
	IP             string
	UserAgent      string
	SaleAt         time.Time
	IdempotencyKey string
	Test           bool
	// RequestTime and Signature: an HMAC over signature.Conversion with the
	// advertiser's secret, and the time it was made.
	RequestTime *time.Time
	Signature   string
	// Verified is set by intakes that already authenticated the sender
	// with the shop's own secret (FC2 sh or passwd, registered hosts).
	Verified     bool
	DownstreamID string
	// Context for refusals: who sent it, with what (secrets masked).
	RemoteIP string
	Params   map[string]string
}

// refuse records r, a conversion report Baton will not count (a
// *domain.Error with its refusal code), in the refusal log (see
// ListRefusals) and returns it for the sender.
func (c *Conversions) refuse(ctx context.Context, in ConversionInput, advertiserID, offerID string, r *domain.Error) error {
	c.log.WarnContext(ctx, "conversion refused", "code", r.Code, "reason", r.Public, "advertiser_id", advertiserID,
		"offer_id", offerID, "order_id", refusalText(in.OrderID), "click_id", refusalText(in.ClickID), "source", in.Source, "remote_ip", in.RemoteIP)
	raw := in.Params
	if raw == nil {
		raw = map[string]string{"order_id": in.OrderID, "click_id": in.ClickID, "offer_id": in.OfferID}
	}
	// What was refused is often what cannot be stored as it came (a NUL,
	// invalid UTF-8, 70 KiB): the log keeps a readable, bounded copy.
	params := make(map[string]string, len(raw))
	for k, v := range raw {
		params[refusalText(k)] = refusalText(v)
	}
	if err := c.store.AddRefusal(ctx, domain.Refusal{
		AdvertiserID: advertiserID, OfferID: offerID, Source: in.Source, Code: r.Code, Message: refusalText(r.Public),
		OrderID: refusalText(in.OrderID), ClickID: refusalText(in.ClickID), Params: params, RemoteIP: refusalText(in.RemoteIP),
	}); err != nil {
		c.log.ErrorContext(ctx, "cannot record a refusal", "error", err)
	}
	return r
}

// controlRefusal refuses identifiers holding control characters (C0, DEL,
// C1: CR, LF, TAB, ...), whichever intake they came by: they are echoed
// into postback URLs, headers and logs, where a CR or LF splits a line and
// a header that holds one cannot even be sent.
func controlRefusal(in ConversionInput) *domain.Error {
	for _, f := range [...]struct{ name, v string }{
		{"order_id", in.OrderID}, {"order_id_2", in.OrderID2}, {"user_name", in.UserName},
		{"idempotency_key", in.IdempotencyKey}, {"downstream_id", in.DownstreamID},
	} {
		if strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return &domain.Error{Kind: domain.ErrInvalid, Code: "invalid_parameter", Field: f.name,
				Public: f.name + " must not contain control characters (CR, LF, TAB and the like)"}
		}
	}
	return nil
}

// refusalText makes s storable in the refusal log: valid UTF-8 with U+FFFD
// where a byte was invalid or NUL, at most 512 bytes.
func refusalText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	return cleanText(s, 512)
}

// Record records a conversion: it authenticates the report, finds the click
// that earns it, computes the commission, and stores it with everything it
// causes in one transaction. A repeat of an earlier report (same order ID
// when the offer deduplicates, or same idempotency key) returns the first
// conversion with duplicate true.
func (c *Conversions) Record(ctx context.Context, p domain.Principal, in ConversionInput) (conv domain.Conversion, dup bool, err error) {
	ctx, span := tracer.Start(ctx, "baton.conversion.record", trace.WithAttributes(
		attribute.String(telemetry.OrderID, in.OrderID), attribute.String(telemetry.ClickID, in.ClickID),
		attribute.String(telemetry.OfferID, in.OfferID), attribute.String("baton.source", sourceName(in.Source))))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		} else {
			if !dup {
				conversionsSeen.Add(ctx, 1, metric.WithAttributes(attribute.String("source", sourceName(in.Source)), attribute.Bool("test", conv.Test)))
				attributions.Add(ctx, 1, metric.WithAttributes(attribute.String("path", conv.Attribution.Path)))
			}
			span.SetAttributes(attribute.String(telemetry.ConversionID, conv.ID), attribute.String(telemetry.PublisherID, conv.PublisherID),
				attribute.String(telemetry.ClickID, conv.ClickID), attribute.String(telemetry.UpstreamID, conv.UpstreamID),
				attribute.String("baton.attribution_path", conv.Attribution.Path), attribute.Bool("baton.duplicate", dup))
		}
		span.End()
	}()
	conv, dup, err = c.record(ctx, p, in)
	if err == nil {
		conv = c.forViewer(p, conv) // a publisher reporting with the advertiser's signature reads what it may
	}
	return conv, dup, err
}

func sourceName(s domain.ConversionSource) string {
	switch s {
	case domain.SourceAPI:
		return "api"
	case domain.SourcePixel:
		return "pixel"
	case domain.SourceServerPost:
		return "server_post"
	case domain.SourceKickback:
		return "kickback"
	}
	return "unknown"
}

func (c *Conversions) record(ctx context.Context, p domain.Principal, in ConversionInput) (domain.Conversion, bool, error) {
	now := c.now()
	if r := controlRefusal(in); r != nil {
		return domain.Conversion{}, false, c.refuse(ctx, in, in.AdvertiserID, in.OfferID, r)
	}
	asSent := in // the signature covers the fields as the sender sent them
	click, offer, err := c.resolve(ctx, &in)
	if err != nil {
		return domain.Conversion{}, false, err
	}
	if err := c.authenticate(ctx, p, in, asSent, offer, now); err != nil {
		return domain.Conversion{}, false, err
	}
	conv, err := c.price(ctx, &in, offer, click, now)
	if err != nil {
		return domain.Conversion{}, false, err
	}
	// Blocklisted buyer IP, user agent or click sub-IDs (blocklists.go).
	conv.Signals = append(conv.Signals, c.blocks.ConversionSignals(ctx, conv)...)
	ctl, err := c.intakeControls(ctx, offer, &conv, now) // signals and hold (signals.go, holdlock.go)
	if err != nil {
		return domain.Conversion{}, false, err
	}
	// The network's and the advertiser's rules, the same for every entrance;
	// they see the signals just found.
	if err := c.applyRules(ctx, in, click, &conv, now); err != nil {
		return domain.Conversion{}, false, err
	}
	return c.persist(ctx, p, in, offer, conv, ctl, now)
}

// resolve finds the click a report names (if any) and the offer it is for,
// refusing a click or offer that does not exist or does not belong to the
// advertiser reporting. in.OfferID becomes the click's offer.
func (c *Conversions) resolve(ctx context.Context, in *ConversionInput) (*domain.Click, domain.Offer, error) {
	var click *domain.Click
	if in.ClickID != "" {
		cl, err := c.store.GetClick(ctx, in.ClickID)
		if errors.Is(err, domain.ErrNotFound) {
			if lag := c.unloadedClick(in.ClickID, c.now()); lag != nil {
				return nil, domain.Offer{}, lag // not refused: it may be in another node's spool
			}
			if _, perr := clickid.Parse(in.ClickID); perr != nil {
				return nil, domain.Offer{}, c.refuse(ctx, *in, in.AdvertiserID, in.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalUnknownClick, Field: "click_id",
					Public: fmt.Sprintf("click ID %q is not a click ID this network issues", in.ClickID)})
			}
			return nil, domain.Offer{}, c.refuse(ctx, *in, in.AdvertiserID, in.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalUnknownClick, Field: "click_id",
				Public: fmt.Sprintf("click ID %q was not issued by this network", in.ClickID)})
		}
		if err != nil {
			return nil, domain.Offer{}, err
		}
		click = &cl
		if in.OfferID != "" && in.OfferID != cl.OfferID {
			return nil, domain.Offer{}, c.refuse(ctx, *in, cl.AdvertiserID, in.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalClickOfferMismatch, Field: "click_id",
				Public: fmt.Sprintf("click %s belongs to offer %s, not %s", cl.ID, cl.OfferID, in.OfferID)})
		}
		in.OfferID = cl.OfferID
	}
	if in.OfferID == "" {
		return nil, domain.Offer{}, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalInvalidParameter, Field: "offer_id", Public: "offer_id is required when there is no click_id"}
	}
	offer, err := c.offers.get(in.OfferID, c.now(), func() (domain.Offer, error) { return c.store.GetOffer(ctx, in.OfferID) })
	if errors.Is(err, domain.ErrNotFound) {
		return nil, domain.Offer{}, c.refuse(ctx, *in, in.AdvertiserID, in.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalUnknownOffer, Field: "offer_id",
			Public: fmt.Sprintf("no offer %q", in.OfferID)})
	}
	if err != nil {
		return nil, domain.Offer{}, err
	}
	if in.AdvertiserID != "" && in.AdvertiserID != offer.AdvertiserID {
		return nil, domain.Offer{}, c.refuse(ctx, *in, in.AdvertiserID, offer.ID, &domain.Error{Code: domain.RefusalForeignClick, Field: "click_id",
			Public: "the click or offer belongs to another advertiser", Kind: domain.ErrPermissionDenied})
	}
	if click != nil && click.AdvertiserID != offer.AdvertiserID {
		return nil, domain.Offer{}, c.refuse(ctx, *in, offer.AdvertiserID, offer.ID, &domain.Error{Code: domain.RefusalForeignClick, Field: "click_id",
			Public: "the click belongs to another advertiser", Kind: domain.ErrPermissionDenied})
	}
	return click, offer, nil
}

// authenticate checks who may report a conversion for offer: the
// advertiser itself (its key, or its secret checked by the intake), an
// admin, the downstream network the offer sends traffic to, or anyone
// holding a valid signature by the advertiser's secret over asSent; and
// that a signed report's request_time is fresh.
func (c *Conversions) authenticate(ctx context.Context, p domain.Principal, in, asSent ConversionInput, offer domain.Offer, now time.Time) error {
	adv := offer.AdvertiserID
	// Authenticity: the advertiser itself (its key, or its secret checked by
	// the intake), an admin, the downstream network the offer sends traffic
	// to, or anyone holding a valid signature by the advertiser's secret.
	trusted := in.Verified || p.IsAdmin() || (p.Role == domain.RoleAdvertiser && p.PartnerID == adv) ||
		(p.Role == domain.RoleNetwork && offer.Downstream.NetworkID != "" && p.PartnerID == offer.Downstream.NetworkID)
	if in.Signature != "" {
		if in.RequestTime == nil {
			return &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalInvalidParameter, Field: "request_time", Public: "a signature needs request_time"}
		}
		secrets, err := c.store.AdvertiserSecrets(ctx, adv)
		if err != nil {
			return err
		}
		msg := signature.Conversion{RequestTime: *asSent.RequestTime, ClickID: asSent.ClickID, OfferID: asSent.OfferID,
			OrderID: asSent.OrderID, OrderID2: asSent.OrderID2, Currency: asSent.Amount.Currency, AmountMinor: asSent.Amount.Minor,
			Recurring: asSent.Recurring, UserName: asSent.UserName, Email: asSent.Email, IP: asSent.IP, Test: asSent.Test,
			IdempotencyKey: asSent.IdempotencyKey}.Canonical()
		if !signature.VerifyHMAC(secrets, msg, in.Signature) {
			return c.refuse(ctx, in, adv, offer.ID, &domain.Error{Code: domain.RefusalBadSignature, Field: "signature",
				Public: "the signature does not match the advertiser's secret", Kind: domain.ErrPermissionDenied})
		}
		trusted = true
	}
	if !trusted {
		return c.refuse(ctx, in, adv, offer.ID, &domain.Error{Code: domain.RefusalNotAuthorized,
			Public: fmt.Sprintf("a %s key may not report conversions for offer %s without the advertiser's signature", p.Role, offer.ID),
			Kind:   domain.ErrPermissionDenied})
	}
	if in.RequestTime != nil {
		if err := signature.Fresh(*in.RequestTime, now, offer.TimestampTolerance); err != nil {
			code := domain.RefusalStaleTimestamp
			if errors.Is(err, signature.ErrFuture) {
				code = domain.RefusalFutureTimestamp
			}
			return c.refuse(ctx, in, adv, offer.ID, &domain.Error{Kind: domain.ErrInvalid, Code: code, Field: "request_time", Public: err.Error()})
		}
	}

	return nil
}

// price attributes the sale (which click earns it, if any) and computes
// the commission: the conversion to store, with its explanation.
func (c *Conversions) price(ctx context.Context, in *ConversionInput, offer domain.Offer, click *domain.Click, now time.Time) (domain.Conversion, error) {
	adv := offer.AdvertiserID
	if in.SaleAt.IsZero() {
		in.SaleAt = now
	}
	if in.SaleAt.After(now.Add(signature.MaxClockSkew)) {
		return domain.Conversion{}, &domain.Error{Kind: domain.ErrInvalid, Code: domain.RefusalInvalidParameter, Field: "sale_time", Public: "sale_time is in the future"}
	}
	test := in.Test || strings.EqualFold(strings.TrimSpace(in.Email), FC2TestEmail)

	decision, winner, err := c.attribute(ctx, *in, offer, click)
	if err != nil {
		return domain.Conversion{}, err
	}
	if winner != nil {
		// The browser hops carried no headers: link the sale to its click.
		if l, ok := telemetry.LinkTo(winner.TraceParent); ok {
			trace.SpanFromContext(ctx).AddLink(l)
		}
	}
	exp := explanation(decision)
	conv := domain.Conversion{
		ID: c.ids.New("cv"), AdvertiserID: adv, OfferID: offer.ID, OrderID: in.OrderID, OrderID2: in.OrderID2,
		IdempotencyKey: in.IdempotencyKey, Amount: in.Amount, Items: in.Items, Recurring: in.Recurring,
		BuyerUserName: in.UserName, BuyerEmailHash: c.store.HashEmail(in.Email), BuyerIP: in.IP,
		BuyerUserAgent: cleanText(in.UserAgent, 1024), Status: domain.StatusPending, Test: test, Source: in.Source,
		DownstreamID: in.DownstreamID, SaleAt: in.SaleAt, CreatedAt: now, UpdatedAt: now,
		Commission: domain.Money{Currency: in.Amount.Currency},
	}
	if offer.DedupeOrderID {
		conv.DedupeKey = in.OrderID
		if test {
			conv.DedupeKey = "test:" + in.OrderID
		}
	}
	if in.Email != "" {
		advRec, err := c.store.GetAdvertiser(ctx, adv)
		if err != nil {
			return domain.Conversion{}, err
		}
		if advRec.StoreEmailPlaintext {
			conv.BuyerEmail = in.Email
		}
	}
	if winner != nil {
		// A winner without an ID is a publisher credited without a click
		// (see referrerDecision): no click, so no IDs to pass on.
		conv.PublisherID, conv.SiteID, conv.ClickID = winner.PublisherID, winner.SiteID, winner.ID
		if winner.ID != "" { // no Baton click behind an imported previous sale
			t := winner.CreatedAt
			conv.ClickCreatedAt = &t
		}
		conv.UpstreamID, conv.SubIDs = winner.UpstreamID, winner.SubIDs
		cur, minor, rule := attribution.Earned(payoutRule(offer.Payout), payoutOverrides(offer), winner.PublisherID, in.Amount.Currency, in.Amount.Minor)
		exp.CommissionRule = rule
		if test {
			exp.WouldEarn = &domain.Money{Currency: cur, Minor: minor}
			exp.Summary = "Test conversion, never paid: it would have been attributed. " + exp.Summary
			conv.Commission = domain.Money{Currency: cur}
		} else {
			conv.Commission = domain.Money{Currency: cur, Minor: minor}
		}
	} else {
		exp.CommissionRule = "no commission: no click earns this conversion"
		if test {
			exp.Summary = "Test conversion, never paid: it would not have been attributed. " + exp.Summary
		}
	}
	conv.Attribution = exp

	return conv, nil
}

// payoutRule is a payout as package attribution computes it.
func payoutRule(p domain.Payout) attribution.Payout {
	if p.Fixed != nil {
		return attribution.Payout{Fixed: true, FixedCurrency: p.Fixed.Currency, FixedMinor: p.Fixed.Minor}
	}
	return attribution.Payout{PercentBPS: p.PercentBPS}
}

// payoutOverrides are the offer's per-publisher payouts as package
// attribution computes them.
func payoutOverrides(o domain.Offer) []attribution.Override {
	out := make([]attribution.Override, len(o.PayoutOverrides))
	for i, ov := range o.PayoutOverrides {
		out[i] = attribution.Override{PublisherID: ov.PublisherID, Payout: payoutRule(ov.Payout)}
	}
	return out
}

// persist stores conv with everything it causes in one transaction: the
// signature used (a replay is refused), the publisher's postbacks. A
// repeat of an earlier report returns the first conversion, duplicate.
func (c *Conversions) persist(ctx context.Context, p domain.Principal, in ConversionInput, offer domain.Offer, conv domain.Conversion, ctl intakeControls, now time.Time) (domain.Conversion, bool, error) {
	adv := offer.AdvertiserID
	var out domain.Conversion
	var inserted, decided bool
	err := c.inTx(ctx, func(tx ConversionTx) error {
		var err error
		out, inserted, err = tx.InsertConversion(ctx, conv, actor(p, in))
		if err != nil {
			return err
		}
		if !inserted {
			return c.complete(ctx, tx, offer, &out, conv, now)
		}
		if in.Signature != "" {
			fresh, err := tx.UseSignature(ctx, adv, strings.ToLower(in.Signature), now, in.RequestTime.Add(offer.TimestampTolerance+signature.MaxClockSkew))
			if err != nil {
				return err
			}
			if !fresh {
				return &domain.Error{Code: domain.RefusalReplayed, Field: "signature", Public: "this signed request was already used; sign each conversion anew", Kind: domain.ErrAlreadyExists}
			}
		}
		var err2 error
		decided, err2 = c.decideAtIntake(ctx, tx, offer, &out, ctl, now) // caps, holds, rejections (caps.go)
		return err2
	})
	if refused, ok := domain.AsError(err); ok && refused.Code != "" {
		return domain.Conversion{}, false, c.refuse(ctx, in, adv, offer.ID, refused)
	}
	if err != nil {
		return domain.Conversion{}, false, err
	}
	if inserted && !decided {
		out.History = []domain.StatusChange{{To: domain.StatusPending, Reason: "recorded", Actor: actor(p, in), At: now}}
		return out, false, nil
	}
	if inserted {
		full, err := c.store.GetConversion(ctx, out.ID)
		return full, false, err
	}
	full, err := c.store.GetConversion(ctx, out.ID)
	return full, true, err
}

// complete attributes existing, a conversion recorded moments ago without a
// click, from conv, a report of the same sale that found one; the
// conversion's publisher is then owed its postback. Any other repeat is a
// plain duplicate and changes nothing.
func (c *Conversions) complete(ctx context.Context, tx ConversionTx, offer domain.Offer, existing *domain.Conversion, conv domain.Conversion, now time.Time) error {
	if conv.ClickID == "" || existing.PublisherID != "" || existing.ClickID != "" || existing.Test != conv.Test ||
		existing.Status != domain.StatusPending || existing.Amount != conv.Amount || existing.OrderID != conv.OrderID ||
		now.Sub(existing.CreatedAt) > CompletionWindow {
		return nil
	}
	conv.Attribution.Summary += fmt.Sprintf(" This report completed conversion %s, recorded %s earlier without a click (%s)",
		existing.ID, attribution.Age(now.Sub(existing.CreatedAt)), strings.TrimSuffix(existing.Attribution.Summary, "."))
	conv.Attribution.Summary += "."
	conv.UpdatedAt = now
	out, done, err := tx.CompleteAttribution(ctx, existing.ID, conv)
	if err != nil || !done {
		return err
	}
	*existing = out
	// Attributed now: it counts against the caps (and tells the outbox).
	_, err = c.decideAtIntake(ctx, tx, offer, existing, intakeControls{}, now)
	return err
}

func actor(p domain.Principal, in ConversionInput) string {
	if p.KeyID != "" {
		return p.KeyID
	}
	switch in.Source {
	case domain.SourcePixel:
		return "fc2-image-tag"
	case domain.SourceServerPost:
		return "fc2-server-post"
	case domain.SourceKickback:
		return "kickback"
	}
	return "system"
}

// attribute finds the candidate clicks along the first path that has any
// and lets package attribution judge them.
func (c *Conversions) attribute(ctx context.Context, in ConversionInput, offer domain.Offer, named *domain.Click) (d attribution.Decision, w *domain.Click, err error) {
	ctx, span := tracer.Start(ctx, "baton.attribute", trace.WithAttributes(attribute.String(telemetry.OfferID, offer.ID)))
	defer func() {
		span.SetAttributes(attribute.String("baton.attribution_path", string(d.Path)))
		if w != nil {
			span.SetAttributes(attribute.String(telemetry.ClickID, w.ID), attribute.String(telemetry.PublisherID, w.PublisherID))
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	return c.decide(ctx, in, offer, named)
}

func (c *Conversions) decide(ctx context.Context, in ConversionInput, offer domain.Offer, named *domain.Click) (attribution.Decision, *domain.Click, error) {
	rules := attribution.Rules{Window: offer.AttributionWindow, Model: attribution.Model(offer.AttributionModel), IPMatchWindow: offer.IPMatchWindow}
	judge := func(path attribution.Path, clicks []domain.Click, rules attribution.Rules) (attribution.Decision, *domain.Click) {
		var cands []attribution.Click
		for _, cl := range clicks {
			cands = append(cands, attribution.Click{ID: cl.ID, PublisherID: cl.PublisherID, SiteID: cl.SiteID, OfferID: cl.OfferID,
				At: cl.CreatedAt, Bot: cl.Flags&domain.FlagBot != 0, Path: path})
		}
		d := attribution.Decide(path, rules, in.SaleAt, cands)
		if d.Winner == nil {
			return d, nil
		}
		for i := range clicks {
			if clicks[i].ID == d.Winner.ID {
				return d, &clicks[i]
			}
		}
		return d, nil
	}
	if named != nil {
		path := attribution.PathClickID
		if in.FirstParty {
			path = attribution.PathFirstParty
		}
		d, w := judge(path, []domain.Click{*named}, rules)
		return d, w, nil
	}
	if in.CookieClickID != "" {
		cl, err := c.store.GetClick(ctx, in.CookieClickID)
		switch {
		case err == nil && cl.AdvertiserID == offer.AdvertiserID:
			d, w := judge(attribution.PathCookie, []domain.Click{cl}, rules)
			return d, w, nil
		case err != nil && !errors.Is(err, domain.ErrNotFound):
			return attribution.Decision{}, nil, err
		}
	}
	if in.RefUserID > 0 {
		pub, err := c.store.PublisherByUserID(ctx, in.RefUserID)
		switch {
		case err == nil:
			siteID := ""
			if in.RefSiteID > 0 {
				if site, err := c.store.SiteBySiteID(ctx, in.RefSiteID); err == nil && site.PublisherID == pub.ID {
					siteID = site.ID
				}
			}
			clicks, err := c.store.ClicksByPublisher(ctx, offer.AdvertiserID, pub.ID, siteID, in.SaleAt.Add(-offer.AttributionWindow), in.SaleAt)
			if err != nil {
				return attribution.Decision{}, nil, err
			}
			if len(clicks) > 0 {
				d, w := referrerDecision(in, rules, clicks, judge)
				return d, w, nil
			}
		case !errors.Is(err, domain.ErrNotFound):
			return attribution.Decision{}, nil, err
		}
	}
	if in.Recurring && in.UserName != "" {
		prev, err := c.store.PreviousSale(ctx, offer.AdvertiserID, in.UserName, in.SaleAt.Add(-RecurringLookback))
		switch {
		case err == nil:
			var cl domain.Click
			if prev.ClickID != "" {
				cl, err = c.store.GetClick(ctx, prev.ClickID)
			} else {
				// The previous sale came without a Baton click: imported
				// from the previous system, or a charge credited through
				// such a sale. Its publisher and site are what the old
				// system credited, so the charge goes to them, as FC2
				// would. (Making clicks up for imported sales instead
				// would put invented rows in click reports and in the
				// monthly click partitions, which are dropped after the
				// retention.)
				cl = domain.Click{PublisherID: prev.PublisherID, SiteID: prev.SiteID, OfferID: prev.OfferID, AdvertiserID: prev.AdvertiserID,
					UpstreamID: prev.UpstreamID, SubIDs: prev.SubIDs}
			}
			if err != nil && !errors.Is(err, domain.ErrNotFound) {
				return attribution.Decision{}, nil, err
			}
			if err == nil {
				// FC2: a continuing charge uses the tracking of the user's
				// previous sale; its age counts from that sale.
				cl.CreatedAt = prev.SaleAt
				d, w := judge(attribution.PathRecurringUser, []domain.Click{cl},
					attribution.Rules{Window: RecurringLookback, Model: attribution.LastClick})
				d.Summary += fmt.Sprintf(" (previous sale %s under user name %q)", prev.ID, in.UserName)
				if prev.Source == domain.SourceImport {
					d.Summary += "; that sale was imported from the previous system, so the charge is credited to the publisher it credited, without a Baton click"
				}
				if prev.Attribution.Unidentified {
					// The previous sale's click was not identified either.
					d.Unidentified = true
					d.Summary += "; that sale credited the publisher without identifying the buyer's click, so nothing is kicked back for this one either"
				}
				return d, w, nil
			}
		case !errors.Is(err, domain.ErrNotFound):
			return attribution.Decision{}, nil, err
		}
	}
	if in.IP != "" && offer.IPMatchWindow > 0 {
		clicks, err := c.store.ClicksByIP(ctx, offer.ID, in.IP, in.SaleAt.Add(-min(offer.IPMatchWindow, offer.AttributionWindow)), in.SaleAt)
		if err != nil {
			return attribution.Decision{}, nil, err
		}
		if in.UserAgent != "" {
			var same []domain.Click
			for _, cl := range clicks {
				if cl.UserAgent == in.UserAgent {
					same = append(same, cl)
				}
			}
			if len(same) > 0 {
				clicks = same
			}
		}
		if len(clicks) > 0 {
			d, w := judge(attribution.PathIPMatch, clicks, rules)
			return d, w, nil
		}
	}
	path := attribution.PathIPMatch
	if in.Recurring && in.UserName != "" {
		path = attribution.PathRecurringUser
	}
	d := attribution.Decide(path, rules, in.SaleAt, nil)
	return d, nil, nil
}

// carriesVisitorIDs reports whether a click holds IDs that postbacks pass
// back up the chain for this one visitor: an upstream network's or media's
// ID, or sub-IDs.
func carriesVisitorIDs(cl domain.Click) bool {
	if cl.UpstreamID != "" {
		return true
	}
	for _, s := range cl.SubIDs {
		if s != "" {
			return true
		}
	}
	return false
}

// referrerDecision judges the clicks of the publisher (and site) an FC2
// POST names by ref_userid/ref_siteid. Those name an affiliate, not a
// visitor: crediting its latest click is harmless while its clicks carry
// no visitor's IDs, but where they do (a network, a media passing session
// IDs) the latest click is most likely another visitor's, and kicking its
// IDs back would pay the wrong media upstream. Then Baton uses the buyer's
// ip (sent with the POST) to find the visitor's own click among them, and
// when that fails it credits the publisher without a click: nothing is
// kicked back, and the explanation says why.
func referrerDecision(in ConversionInput, rules attribution.Rules, clicks []domain.Click,
	judge func(attribution.Path, []domain.Click, attribution.Rules) (attribution.Decision, *domain.Click)) (attribution.Decision, *domain.Click) {
	d, w := judge(attribution.PathReferrerIDs, clicks, rules)
	if w == nil || !carriesVisitorIDs(*w) {
		return d, w
	}
	if in.IP != "" {
		var same []domain.Click
		for _, cl := range clicks {
			if cl.IP == in.IP {
				same = append(same, cl)
			}
		}
		if len(same) > 0 {
			if d2, w2 := judge(attribution.PathReferrerIDs, same, rules); w2 != nil {
				d2.Summary += fmt.Sprintf(" It is the buyer's own click: of the publisher's clicks, the one from ip %s.", in.IP)
				return d2, w2
			}
		}
	}
	credited := &domain.Click{PublisherID: w.PublisherID, SiteID: w.SiteID}
	for i := range d.Candidates {
		if d.Candidates[i].Winner {
			d.Candidates[i].Winner = false
			d.Candidates[i].Reason = "not identified as this buyer's click: " + d.Candidates[i].Reason
		}
	}
	d.Winner, d.Unidentified = nil, true
	why := "no ip was sent"
	if in.IP != "" {
		why = fmt.Sprintf("none of them came from the buyer's ip %s", in.IP)
	}
	d.Summary = fmt.Sprintf("ref_userid/ref_siteid name publisher %s, credited with this sale. Its %d click(s) in the window carry IDs that are "+
		"passed back up the chain for one visitor (upstream ID or sub-IDs), and %s, so Baton cannot tell which click was this buyer's: "+
		"it credits the publisher without a click and kicks back no click's IDs rather than another visitor's. "+
		"Send click_id (the click ID Baton put on the landing URL) with the POST to name the click.", w.PublisherID, len(clicks), why)
	return d, credited
}

func explanation(d attribution.Decision) domain.Explanation {
	e := domain.Explanation{Path: string(d.Path), Model: string(d.Model), WindowSeconds: int64(d.Window / time.Second), Summary: d.Summary,
		Unidentified: d.Unidentified}
	for _, cand := range d.Candidates {
		e.Candidates = append(e.Candidates, domain.ExplainedCandidate{
			ClickID: cand.Click.ID, PublisherID: cand.Click.PublisherID, ClickTime: cand.Click.At,
			Path: string(cand.Click.Path), Eligible: cand.Eligible, Winner: cand.Winner, Reason: cand.Reason,
		})
	}
	if d.Winner != nil {
		e.ClickID = d.Winner.ID
	}
	return e
}

// canRead reports whether p may see conversion c.
func canRead(p domain.Principal, c domain.Conversion) bool {
	return p.Owns(domain.RoleAdvertiser, c.AdvertiserID) ||
		(p.Role == domain.RolePublisher && c.PublisherID != "" && p.PartnerID == c.PublisherID)
}

// Get returns a conversion the caller may see.
func (c *Conversions) Get(ctx context.Context, p domain.Principal, id string) (domain.Conversion, error) {
	conv, err := c.store.GetConversion(ctx, id)
	if err != nil {
		return conv, err
	}
	if !canRead(p, conv) {
		return domain.Conversion{}, domain.Denied("this key may not read conversion %q", id)
	}
	return c.forViewer(p, conv), nil
}

// List lists the conversions the caller may see.
func (c *Conversions) List(ctx context.Context, p domain.Principal, f domain.ConversionFilter, page domain.Page) ([]domain.Conversion, string, error) {
	if err := scopeToCaller(p, "conversions", &f.PublisherID, &f.AdvertiserID); err != nil {
		return nil, "", err
	}
	list, next, err := c.store.ListConversions(ctx, f, page)
	for i := range list {
		list[i] = c.forViewer(p, list[i])
	}
	return list, next, err
}

// ChangeStatus moves one conversion to a new status, with a reason and the
// caller recorded, in one transaction with the postbacks it causes.
func (c *Conversions) ChangeStatus(ctx context.Context, p domain.Principal, id string, to domain.ConversionStatus, expected domain.ConversionStatus, reason, note string) (domain.Conversion, error) {
	err := c.inTx(ctx, func(tx ConversionTx) error {
		return c.changeStatus(ctx, tx, p, id, to, expected, reason, note, p.KeyID)
	})
	if err != nil {
		return domain.Conversion{}, err
	}
	return c.store.GetConversion(ctx, id)
}

func (c *Conversions) changeStatus(ctx context.Context, tx ConversionTx, p domain.Principal, id string, to, expected domain.ConversionStatus, reason, note, actor string) error {
	conv, err := tx.LockConversion(ctx, id)
	if err != nil {
		return err
	}
	if !p.Owns(domain.RoleAdvertiser, conv.AdvertiserID) {
		return domain.Denied("only the advertiser (or an admin) may change the status of conversion %q", id)
	}
	if expected != "" && conv.Status != expected {
		return domain.Failed("the conversion is %s, not %s as expected", conv.Status, expected)
	}
	if err := domain.CheckTransition(conv.Status, to); err != nil {
		return err
	}
	now := c.now()
	if err := c.checkLocked(ctx, conv, to, reason, note, now); err != nil { // holdlock.go
		return err
	}
	return c.moveStatus(ctx, tx, conv, to, reason, note, actor, now)
}

// moveStatus writes a checked status change of conv, its history, and the
// postbacks it causes.
func (c *Conversions) moveStatus(ctx context.Context, tx ConversionTx, conv domain.Conversion, to domain.ConversionStatus, reason, note, actor string, now time.Time) error {
	id := conv.ID
	if err := tx.SetStatus(ctx, id, to, now); err != nil {
		return err
	}
	if err := tx.AddStatusChange(ctx, id, domain.StatusChange{From: conv.Status, To: to, Reason: reason, Note: note, Actor: actor, At: now}); err != nil {
		return err
	}
	conv.Status = to
	statusChanges.Add(ctx, 1, metric.WithAttributes(attribute.String("status", string(to))))
	if c.outbox != nil {
		return c.outbox.ConversionEvent(ctx, tx, conv, to)
	}
	return nil
}

// BulkResult is the outcome for one order ID.
type BulkResult struct {
	OrderID    string
	Conversion *domain.Conversion
	Err        error
}

// BulkChangeStatus changes the conversions of an offer by order ID. Each
// order is its own transaction, so one closed conversion does not block the
// others; the result says what happened to each.
func (c *Conversions) BulkChangeStatus(ctx context.Context, p domain.Principal, offerID string, orderIDs []string, to domain.ConversionStatus, reason, note string) ([]BulkResult, error) {
	offer, err := c.store.GetOffer(ctx, offerID)
	if err != nil {
		return nil, err
	}
	if !p.Owns(domain.RoleAdvertiser, offer.AdvertiserID) {
		return nil, domain.Denied("only the advertiser (or an admin) may change the status of offer %q's conversions", offerID)
	}
	out := make([]BulkResult, 0, len(orderIDs))
	for _, order := range orderIDs {
		var changed []string
		err := c.inTx(ctx, func(tx ConversionTx) error {
			ids, err := tx.ConversionIDsByOrder(ctx, offer.AdvertiserID, offerID, order)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return domain.NotFound("conversion with order ID", order)
			}
			for _, id := range ids {
				if err := c.changeStatus(ctx, tx, p, id, to, "", reason, note, p.KeyID); err != nil {
					return err
				}
			}
			changed = ids
			return nil
		})
		r := BulkResult{OrderID: order, Err: err}
		if err == nil && len(changed) > 0 {
			conv, gerr := c.store.GetConversion(ctx, changed[len(changed)-1])
			if gerr == nil {
				r.Conversion = &conv
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// AutoApprove approves the pending conversions whose offer approves
// automatically after N days, as "system". It returns how many it approved.
func (c *Conversions) AutoApprove(ctx context.Context) (int, error) {
	ids, err := c.store.DueForAutoApproval(ctx, c.now(), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	admin := domain.Principal{Role: domain.RoleAdmin, KeyID: "system"}
	for _, id := range ids {
		err := c.inTx(ctx, func(tx ConversionTx) error {
			return c.changeStatus(ctx, tx, admin, id, domain.StatusApproved, domain.StatusPending, "auto_approved", "", "system")
		})
		if err != nil && !errors.Is(err, domain.ErrFailedPrecondition) {
			return n, err
		}
		if err == nil {
			n++
		}
	}
	return n, nil
}

// Refusals lists refused reports: an advertiser sees its own.
func (c *Conversions) Refusals(ctx context.Context, p domain.Principal, advertiserID string, source domain.ConversionSource, from, to time.Time, page domain.Page) ([]domain.Refusal, string, error) {
	switch p.Role {
	case domain.RoleAdmin:
	case domain.RoleAdvertiser:
		if advertiserID != "" && advertiserID != p.PartnerID {
			return nil, "", domain.Denied("an advertiser key may only list its own refusals")
		}
		advertiserID = p.PartnerID
	default:
		return nil, "", domain.Denied("a %s key may not list refusals", p.Role)
	}
	return c.store.ListRefusals(ctx, advertiserID, source, from, to, page)
}

// ReportStore is what reports read.
type ReportStore interface {
	Report(ctx context.Context, f domain.ReportFilter) ([]domain.ReportRow, error)
}

// Explain returns the stored attribution decision of a conversion, as the
// caller may see it.
func (c *Conversions) Explain(ctx context.Context, p domain.Principal, id string) (domain.Conversion, error) {
	return c.Get(ctx, p, id)
}

// Report returns report rows the caller may see: a publisher only its own,
// an advertiser only its offers'.
func (c *Conversions) Report(ctx context.Context, rs ReportStore, p domain.Principal, f domain.ReportFilter) ([]domain.ReportRow, error) {
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
		f.TimeZone = "Asia/Tokyo"
	}
	if _, err := time.LoadLocation(f.TimeZone); err != nil {
		return nil, domain.Invalid("time_zone", "%q is not an IANA time zone", f.TimeZone)
	}
	if f.From.IsZero() || f.To.IsZero() || f.To.Sub(f.From) > 366*24*time.Hour {
		return nil, domain.Invalid("time_range", "needs a start and an end at most 366 days apart")
	}
	return rs.Report(ctx, f)
}

// ConfigChanged drops cached offers (called when configuration changes in
// this process or another node announces a change; the TTL is the
// backstop).
func (c *Conversions) ConfigChanged() { c.offers.clear() }

// ttlCache keeps values for a short time, for configuration read on every
// request.
type ttlCache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]ttlEntry[V]
	gen uint64 // counts clears: a value loaded across one is not kept
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, m: map[string]ttlEntry[V]{}}
}

// get returns the cached value of key, or loads and caches it.
func (t *ttlCache[V]) get(key string, now time.Time, load func() (V, error)) (V, error) {
	t.mu.Lock()
	e, ok := t.m[key]
	gen := t.gen
	t.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	t.mu.Lock()
	if len(t.m) > 10_000 {
		t.m = map[string]ttlEntry[V]{}
	}
	if t.gen == gen { // else cleared while loading: maybe stale
		t.m[key] = ttlEntry[V]{v: v, expires: now.Add(t.ttl)}
	}
	t.mu.Unlock()
	return v, nil
}

func (t *ttlCache[V]) clear() {
	t.mu.Lock()
	t.m = map[string]ttlEntry[V]{}
	t.gen++
	t.mu.Unlock()
}
