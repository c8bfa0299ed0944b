// Package domain holds Baton's core types and the errors every layer speaks.
// It imports nothing but the standard library: no proto, no SQL, no HTTP.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Role is what an API key may do.
type Role string

// Roles. A key of any role but admin belongs to exactly one partner.
const (
	RoleAdmin      Role = "admin"
	RoleAdvertiser Role = "advertiser"
	RolePublisher  Role = "publisher"
	RoleNetwork    Role = "network"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleAdvertiser, RolePublisher, RoleNetwork:
		return true
	}
	return false
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID     string
	Role      Role
	PartnerID string // empty for admin
}

// IsAdmin reports whether p may do everything.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// Owns reports whether p is the given partner (or an admin).
func (p Principal) Owns(role Role, partnerID string) bool {
	return p.IsAdmin() || (p.Role == role && p.PartnerID == partnerID)
}

// APIKey is a stored key. The key itself is never stored, only its hash.
type APIKey struct {
	ID         string
	Name       string
	Role       Role
	PartnerID  string
	Prefix     string
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// Advertiser is a shop.
type Advertiser struct {
	ID                  string
	Name                string
	ShopID              int64
	RequireSignature    bool
	RegisteredHosts     []string
	StoreEmailPlaintext bool
	SecretHint          string
	// TrackingDomain is the shop's own tracking host (CNAME to Baton), or "".
	TrackingDomain string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// PublisherKind tells a media from an upstream network.
type PublisherKind string

// Publisher kinds.
const (
	PublisherMedia   PublisherKind = "media"
	PublisherNetwork PublisherKind = "network"
)

// Publisher is a media or an upstream network sending traffic.
type Publisher struct {
	ID          string
	Name        string
	Kind        PublisherKind
	UserID      int64
	SubIDParams []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Site is one property of a publisher.
type Site struct {
	ID          string
	PublisherID string
	Name        string
	URL         string
	SiteID      int64
	CreatedAt   time.Time
}

// OfferStatus is active or paused.
type OfferStatus string

// Offer statuses.
const (
	OfferActive OfferStatus = "active"
	OfferPaused OfferStatus = "paused"
)

// AttributionModel picks among eligible clicks.
type AttributionModel string

// Attribution models.
const (
	LastClick  AttributionModel = "last_click"
	FirstClick AttributionModel = "first_click"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Currency string
	Minor    int64
}

// Payout is a fixed amount or a share of the sale in basis points; exactly
// one is meaningful: Fixed when non-nil, else PercentBPS.
type Payout struct {
	Fixed      *Money
	PercentBPS uint32
}

// PayoutOverride gives one publisher its own payout.
type PayoutOverride struct {
	PublisherID string
	Payout      Payout
}

// Downstream says how a click is passed on.
type Downstream struct {
	ClickIDParam string
	FC2Params    bool
	NetworkID    string
}

// Offer is what publishers promote.
type Offer struct {
	ID                     string
	AdvertiserID           string
	Name                   string
	Status                 OfferStatus
	LandingURL             string
	FallbackURL            string
	DeepLinkHosts          []string
	SubIDParams            []string
	Downstream             Downstream
	AttributionWindow      time.Duration
	AttributionModel       AttributionModel
	IPMatchWindow          time.Duration
	DedupeOrderID          bool
	TimestampTolerance     time.Duration
	AutoApproveAfterDays   int
	Payout                 Payout
	PayoutOverrides        []PayoutOverride
	DuplicateClickInterval time.Duration
	// Controls are the offer's conversion controls: hold, lock, signal
	// thresholds and actions (issue 19).
	Controls  OfferControls
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Offer defaults, applied when a field is left zero at creation.
const (
	DefaultAttributionWindow      = 30 * 24 * time.Hour
	DefaultIPMatchWindow          = time.Hour
	DefaultTimestampTolerance     = time.Hour // FC2: a ts older than one hour is ignored
	DefaultDuplicateClickInterval = 30 * time.Second
)

// DefaultSubIDParams are the click parameters that carry sub-IDs by default
// (CATS param1..param5, kept as PARA1..PARA5).
var DefaultSubIDParams = []string{"param1", "param2", "param3", "param4", "param5"}

// KickbackParams names the parameters of an inbound kickback.
type KickbackParams struct {
	ClickID      string `json:"click_id,omitempty"`
	OrderID      string `json:"order_id,omitempty"`
	Amount       string `json:"amount,omitempty"`
	Currency     string `json:"currency,omitempty"`
	Status       string `json:"status,omitempty"`
	DownstreamID string `json:"downstream_id,omitempty"`
	Token        string `json:"token,omitempty"`
	AmountMinor  string `json:"amount_minor,omitempty"`
	UserName     string `json:"user_name,omitempty"`
	OrderID2     string `json:"order_id_2,omitempty"`
}

// Network is a downstream partner network.
type Network struct {
	ID                string
	Name              string
	KickbackParams    KickbackParams
	AllowedIPs        []string
	TrustTraceContext bool
	SecretHint        string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Page asks for one page of a list, keyset-paged by ID.
type Page struct {
	Size  int    // 1..1000
	After string // last ID of the previous page; empty for the first page
}

// DefaultPageSize is used when a caller asks for 0.
const DefaultPageSize = 50

// The kinds of error every layer understands. Every layer returns an
// *Error of one of these kinds (see Error); errors.Is(err, ErrNotFound) and
// the like find the kind, and each boundary (rpc for Connect, gateway for
// the legacy HTTP routes) maps kinds to its codes in one place.
var (
	// ErrInvalid is the caller's mistake in what it sent.
	ErrInvalid            = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable means a dependency (the database) is down; the caller
	// may retry.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Error is Baton's one error type. Public is written for the caller and is
// all a transport shows; Cause is what went wrong underneath and only
// reaches logs. A refused conversion report (recorded in the refusal log)
// carries its RefusalCode.
type Error struct {
	Kind   error       // one of the Err* kinds above
	Code   RefusalCode // for a refused conversion report; empty otherwise
	Field  string      // the request field at fault, if one is
	Public string      // the caller's text
	// Problems lists every problem found, when there are several (an FC2
	// report checks all its rules at once); Public joins them.
	Problems []string
	Cause    error // internal detail, for logs; never shown
}

// Error is the text for logs: the field, the public text, and the cause.
func (e *Error) Error() string {
	s := e.Public
	if s == "" && e.Kind != nil {
		s = e.Kind.Error()
	}
	if e.Field != "" && errors.Is(e.Kind, ErrInvalid) && e.Code == "" {
		s = e.Field + ": " + s
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Is reports whether target is e's kind, so errors.Is(err, ErrNotFound)
// works through any wrapping.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the cause (a context error, a driver error).
func (e *Error) Unwrap() error { return e.Cause }

// AsError returns err's *Error, if it holds one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// PublicText is what a caller may read of err: an *Error's public text, the
// text of a kind wrapped with fmt.Errorf, or "internal error".
func PublicText(err error) string {
	if e, ok := AsError(err); ok {
		return e.Public
	}
	for _, k := range []error{ErrInvalid, ErrNotFound, ErrAlreadyExists, ErrPermissionDenied, ErrUnauthenticated, ErrFailedPrecondition, ErrUnavailable} {
		if errors.Is(err, k) {
			return err.Error()
		}
	}
	return "internal error"
}

// Wrap returns an error of kind whose public text is the kind's name and
// detail, with cause kept for logs: Wrap(ErrNotFound, cause, "offer %q", id)
// says "not found: offer \"of_1\"".
func Wrap(kind, cause error, format string, args ...any) *Error {
	pub := kind.Error()
	if format != "" {
		pub += ": " + fmt.Sprintf(format, args...)
	}
	return &Error{Kind: kind, Public: pub, Cause: cause}
}

// Invalid returns an ErrInvalid error naming the field at fault.
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Field: field, Public: fmt.Sprintf(format, args...)}
}

// Denied returns ErrPermissionDenied with a reason a caller can act on.
func Denied(format string, args ...any) error {
	return Wrap(ErrPermissionDenied, nil, format, args...)
}

// NotFound returns ErrNotFound naming what was missing.
func NotFound(kind, id string) error {
	return Wrap(ErrNotFound, nil, "%s %q", kind, id)
}

// Failed returns ErrFailedPrecondition saying what is not as required.
func Failed(format string, args ...any) error {
	return Wrap(ErrFailedPrecondition, nil, format, args...)
}

// Refuse returns a refused conversion report: code is logged, text shown.
// kind is ErrInvalid unless the report is refused for who sent it
// (ErrPermissionDenied) or as a replay (ErrAlreadyExists).
func Refuse(kind error, code RefusalCode, field, text string) *Error {
	return &Error{Kind: kind, Code: code, Field: field, Public: text}
}

// TrackingLink ties an offer to a publisher (and optionally a site).
type TrackingLink struct {
	ID          string
	OfferID     string
	PublisherID string
	SiteID      string
	CreatedAt   time.Time
}

// ClickFlag marks a click that is recorded but treated with care. Flags are
// stored as a bit set.
type ClickFlag uint16

// Click flags.
const (
	FlagDuplicate ClickFlag = 1 << iota
	FlagBot
	FlagSubIDTruncated
	FlagSubIDMalformed
	FlagDeepLinkRefused
	FlagOfferPaused
	FlagQueryCut
	FlagCancelled
)

// ClickSource tells how a click reached Baton.
type ClickSource int16

// Click sources.
const (
	ClickFromRedirect ClickSource = 1
	ClickFromAPI      ClickSource = 2
)

// Click is one recorded click.
type Click struct {
	ID              string
	CreatedAt       time.Time // the time encoded in ID
	LinkID          string
	OfferID         string
	AdvertiserID    string
	PublisherID     string
	SiteID          string
	Source          ClickSource
	SubIDs          []string // sub1..sub5; empty strings for absent ones, trailing ones trimmed
	UpstreamID      string   // sub1: the ID the click arrived with
	UpstreamParam   string
	DownstreamParam string // the parameter Baton's ID was passed on in, if any
	RedirectURL     string
	DeepLink        string
	IP              string
	UserAgent       string
	Referer         string
	Flags           ClickFlag
	Unique          bool
	ExpiresAt       time.Time
	TraceParent     string // W3C traceparent of the click's span, for later links
}

// ClickFilter narrows a list of clicks.
type ClickFilter struct {
	From, To     time.Time // zero: unbounded
	OfferID      string
	AdvertiserID string
	PublisherID  string
	SiteID       string
	LinkID       string
	UpstreamID   string
	UniqueOnly   bool
}

// ConversionStatus is where a conversion stands in its approval.
type ConversionStatus string

// Conversion statuses. Rejected and reversed are final.
const (
	StatusPending  ConversionStatus = "pending"
	StatusApproved ConversionStatus = "approved"
	StatusRejected ConversionStatus = "rejected"
	StatusReversed ConversionStatus = "reversed"
)

var errAllowedMoves = errors.New("pending → approved/rejected, approved → reversed")

// CheckTransition says whether a conversion may move from one status to
// another: pending → approved or rejected, approved → reversed. Nothing
// leaves rejected or reversed, and nothing changes silently.
func CheckTransition(from, to ConversionStatus) error {
	switch {
	case from == to:
		return Failed("the conversion is already %s", to)
	case from == StatusPending && (to == StatusApproved || to == StatusRejected):
		return nil
	case from == StatusApproved && to == StatusReversed:
		return nil
	case from == StatusRejected || from == StatusReversed:
		return Failed("a %s conversion is closed and cannot become %s", from, to)
	}
	// The allowed moves are detail for logs; the caller is told the move.
	return Wrap(ErrFailedPrecondition, errAllowedMoves, "a %s conversion cannot become %s", from, to)
}

// ConversionSource tells how a conversion reached Baton.
type ConversionSource int16

// Conversion sources.
const (
	SourceAPI        ConversionSource = 1
	SourcePixel      ConversionSource = 2
	SourceServerPost ConversionSource = 3
	SourceKickback   ConversionSource = 4
	// SourceImport is a past conversion moved from the previous system by
	// baton import: history, never posted back.
	SourceImport ConversionSource = 5
)

// Item is one line of an order.
type Item struct {
	Code      string `json:"code"`
	Quantity  uint32 `json:"quantity"`
	UnitPrice *Money `json:"unit_price,omitempty"`
}

// StatusChange is one entry of a conversion's history.
type StatusChange struct {
	From   ConversionStatus
	To     ConversionStatus
	Reason string
	Note   string
	Actor  string
	At     time.Time
}

// ExplainedCandidate is one click considered for a conversion.
type ExplainedCandidate struct {
	ClickID     string    `json:"click_id"`
	PublisherID string    `json:"publisher_id"`
	ClickTime   time.Time `json:"click_time"`
	Path        string    `json:"path"`
	Eligible    bool      `json:"eligible"`
	Winner      bool      `json:"winner"`
	Reason      string    `json:"reason"`
}

// Explanation is the attribution decision as stored with the conversion.
type Explanation struct {
	Path           string               `json:"path"`
	Model          string               `json:"model"`
	WindowSeconds  int64                `json:"window_seconds"`
	Candidates     []ExplainedCandidate `json:"candidates"`
	ClickID        string               `json:"click_id,omitempty"`
	Summary        string               `json:"summary"`
	CommissionRule string               `json:"commission_rule"`
	// WouldEarn is what a test conversion would have paid.
	WouldEarn *Money `json:"would_earn,omitempty"`
	// Unidentified: the publisher is credited without knowing the buyer's
	// click; nothing is kicked back for it.
	Unidentified bool `json:"unidentified,omitempty"`
	// Rule is the conversion rule that decided the conversion, if one did.
	Rule *RuleOutcome `json:"rule,omitempty"`
}

// Conversion is one recorded sale.
type Conversion struct {
	ID             string
	AdvertiserID   string
	OfferID        string
	PublisherID    string
	SiteID         string
	ClickID        string
	ClickCreatedAt *time.Time
	OrderID        string
	OrderID2       string
	DedupeKey      string
	IdempotencyKey string
	Amount         Money
	Commission     Money
	Items          []Item
	Recurring      bool
	BuyerUserName  string
	BuyerEmail     string
	BuyerEmailHash string
	BuyerIP        string
	BuyerUserAgent string
	Status         ConversionStatus
	History        []StatusChange
	Test           bool
	Source         ConversionSource
	Attribution    Explanation
	UpstreamID     string
	SubIDs         []string
	DownstreamID   string
	SaleAt         time.Time
	// Signals are the fraud and quality signals found at intake (see Signal).
	Signals []Signal
	// HoldUntil: a held conversion stays pending until then (a rule's hold
	// action, or the offer's hold period), then is approved unless rejected.
	// Nil: no hold period.
	HoldUntil *time.Time
	// HoldReason, when set, holds the conversion until a person decides
	// (a signal or a cap the offer holds on): it is never auto-approved.
	HoldReason string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ConversionFilter narrows a list of conversions.
type ConversionFilter struct {
	From, To     time.Time
	OfferID      string
	PublisherID  string
	AdvertiserID string
	Status       ConversionStatus
	OrderID      string
	ClickID      string
	IncludeTest  bool
}

// RefusalCode says why a conversion report was refused. It is one closed
// set for every entrance (API, FC2 image tag, FC2 server POST, kickback),
// mirrored one to one by baton.v1.RefusalCode in the contract.
type RefusalCode string

// The refusal codes. RefusalCodes lists them all.
const (
	// A parameter or field is missing or malformed.
	RefusalInvalidParameter RefusalCode = "invalid_parameter"
	// FC2 shopid names no shop of this network.
	RefusalUnknownShop RefusalCode = "unknown_shop"
	// The FC2 sh or the HMAC signature does not match the sender's secret,
	// or is missing where the shop requires it.
	RefusalBadSignature RefusalCode = "bad_signature"
	// The FC2 server POST's passwd is wrong.
	RefusalBadPassword RefusalCode = "bad_password"
	// The sender may not report for this offer: no key, signature, passwd
	// or sh, and not from a registered host.
	RefusalNotAuthorized RefusalCode = "not_authorized"
	// The timestamp (FC2 ts, request_time) is older than allowed.
	RefusalStaleTimestamp RefusalCode = "stale_timestamp"
	// The timestamp is further in the future than the allowed clock skew.
	RefusalFutureTimestamp RefusalCode = "future_timestamp"
	// The same signed request was already used.
	RefusalReplayed RefusalCode = "replayed"
	// The click ID is not one this network issued.
	RefusalUnknownClick RefusalCode = "unknown_click"
	// The click belongs to another advertiser, or was not sent to the
	// network kicking it back.
	RefusalForeignClick RefusalCode = "foreign_click"
	// The click belongs to another offer than the one named.
	RefusalClickOfferMismatch RefusalCode = "click_offer_mismatch"
	// The offer named does not exist.
	RefusalUnknownOffer RefusalCode = "unknown_offer"
	// The shop has no active offer to record the sale against.
	RefusalNoOffer RefusalCode = "no_offer"
	// A conversion rule of the network or the advertiser rejects the sale
	// (the refusal's message is the rule's public reason).
	RefusalRejectedByRule RefusalCode = "rejected_by_rule"
)

// RefusalCodes is every refusal code, in the contract's order.
var RefusalCodes = []RefusalCode{
	RefusalInvalidParameter, RefusalUnknownShop, RefusalBadSignature, RefusalBadPassword, RefusalNotAuthorized,
	RefusalStaleTimestamp, RefusalFutureTimestamp, RefusalReplayed, RefusalUnknownClick, RefusalForeignClick,
	RefusalClickOfferMismatch, RefusalUnknownOffer, RefusalNoOffer, RefusalRejectedByRule,
}

// Refusal is a conversion report that was refused, kept so the sender can
// see why.
type Refusal struct {
	ID           string
	AdvertiserID string
	OfferID      string
	Source       ConversionSource
	Code         RefusalCode
	Message      string
	OrderID      string
	ClickID      string
	Params       map[string]string
	RemoteIP     string
	CreatedAt    time.Time
	// Refusals are aggregated per advertiser, source, code and minute: the
	// fields above are the first one's; Count is how many there were,
	// LastSeen when the last came, Samples the first few (the first
	// included). A report naming no known advertiser keeps only the count.
	Count    int64
	LastSeen time.Time
	Samples  []RefusalSample
}

// RefusalSample is one refused report of an aggregate, as it came (bounded,
// secrets masked).
type RefusalSample struct {
	Message  string            `json:"message"`
	OrderID  string            `json:"order_id"`
	ClickID  string            `json:"click_id"`
	Params   map[string]string `json:"params"`
	RemoteIP string            `json:"remote_ip"`
	Time     time.Time         `json:"time"`
}

// ReportRow is one day, offer and publisher.
type ReportRow struct {
	Day                 string
	OfferID             string
	PublisherID         string
	Clicks              int64
	UniqueClicks        int64
	Conversions         int64
	ByStatus            map[ConversionStatus]int64
	ByPath              map[string]int64 // attribution path → conversions
	ClicksByReason      map[string]int64 // click reason (ClickReasons) → clicks flagged with it
	Sales               map[string]int64 // currency → minor units (not rejected or reversed)
	CommissionsPending  map[string]int64
	CommissionsApproved map[string]int64
}

// ReportFilter narrows a report. Time zone names an IANA zone for days.
type ReportFilter struct {
	From, To     time.Time
	TimeZone     string
	OfferID      string
	PublisherID  string
	AdvertiserID string
}

// PostbackMethod is how a postback is sent.
type PostbackMethod string

// Postback methods.
const (
	MethodGet      PostbackMethod = "get"
	MethodPostForm PostbackMethod = "post_form"
	MethodPostJSON PostbackMethod = "post_json"
)

// EndpointState says whether an endpoint receives postbacks.
type EndpointState string

// Endpoint states.
const (
	EndpointEnabled         EndpointState = "enabled"
	EndpointDisabled        EndpointState = "disabled"
	EndpointDisabledFailing EndpointState = "disabled_failing"
)

// Header is one HTTP header of a postback.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PostbackEndpoint is where one publisher's postbacks go.
type PostbackEndpoint struct {
	ID             string
	PublisherID    string
	OfferID        string
	Events         []ConversionStatus
	Method         PostbackMethod
	URLTemplate    string
	BodyTemplate   string
	Headers        []Header
	SignatureParam string
	Test           bool
	State          EndpointState
	StateReason    string
	FailingSince   *time.Time
	SecretHint     string
	// Secrets are the endpoint's sealed secrets (see EndpointSecret).
	Secrets   []EndpointSecret
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliverySucceeded DeliveryState = "succeeded"
	DeliveryFailed    DeliveryState = "failed"
	DeliveryCancelled DeliveryState = "cancelled"
)

// Attempt is one try at a delivery.
type Attempt struct {
	Number          int
	At              time.Time
	URL             string // secrets masked
	StatusCode      int
	Outcome         string // success, retryable_status, refused, network_error, timeout, blocked_address
	Latency         time.Duration
	ResponseExcerpt string
	Error           string
}

// Delivery is one postback owed to one endpoint for one event.
type Delivery struct {
	ID            string
	EndpointID    string
	PublisherID   string
	AdvertiserID  string
	ConversionID  string
	Event         ConversionStatus
	State         DeliveryState
	AttemptCount  int
	NextAttemptAt *time.Time
	Vars          map[string]string
	Test          bool
	TraceParent   string
	Attempts      []Attempt
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DeliveryFilter narrows a list of deliveries.
type DeliveryFilter struct {
	From, To     time.Time
	EndpointID   string
	PublisherID  string
	AdvertiserID string
	ConversionID string
	State        DeliveryState
	Event        ConversionStatus
}

// ImportShop is a shop moving from FC2 with its shop ID and password.
type ImportShop struct {
	Advertiser Advertiser // ShopID set
	Secret     string
}

// ImportRef is a record found by its natural key (an FC2 number, an offer
// ID): its Baton ID, whether baton import created it, and its owner (a
// site's publisher, an offer's advertiser).
type ImportRef struct {
	ID       string
	Imported bool
	Owner    string
}

// ImportRefs are the records that already exist under natural keys.
type ImportRefs struct {
	Shops      map[int64]ImportRef
	Publishers map[int64]ImportRef
	Sites      map[int64]ImportRef
	Offers     map[string]ImportRef
}
