package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/tracking"
)

// ClickStore is what the click use cases need from storage.
type ClickStore interface {
	CreateLink(ctx context.Context, l domain.TrackingLink) (domain.TrackingLink, error)
	GetLink(ctx context.Context, id string) (domain.TrackingLink, error)
	ListLinks(ctx context.Context, offerID, publisherID, advertiserID string, page domain.Page) ([]domain.TrackingLink, string, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error)
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
	GetSite(ctx context.Context, id string) (domain.Site, error)
	GetClick(ctx context.Context, id string) (domain.Click, error)
	ListClicks(ctx context.Context, f domain.ClickFilter, page domain.Page) ([]domain.Click, string, error)
	MarkClick(ctx context.Context, id string, at time.Time, flags domain.ClickFlag) error
}

// ClickRecorder stores a click durably: when Write returns nil, the click is
// committed.
type ClickRecorder interface {
	Write(ctx context.Context, c *domain.Click) error
}

// Clicks is the click use cases: links, the redirect, and reading clicks.
type Clicks struct {
	store     ClickStore
	recorder  ClickRecorder
	ids       clickid.Generator
	now       func() time.Time
	publicURL string

	links  *linkCache
	dups   *visitorCache
	blocks *Blocklists       // nil: no blocklists (SetBlocklists)
	caps   *ClickCaps        // nil: no click caps (SetClickCaps)
	bases  *ttlCache[string] // offer ID → base URL of its links
}

// NewClicks returns the click use cases. publicURL is the base of tracking
// links ("https://track.example.com").
func NewClicks(st ClickStore, rec ClickRecorder, ids clickid.Generator, publicURL string) *Clicks {
	if ids.Now == nil {
		ids = clickid.Default
	}
	return &Clicks{
		store: st, recorder: rec, ids: ids, now: ids.Now, publicURL: strings.TrimRight(publicURL, "/"),
		links: newLinkCache(5 * time.Second), dups: newVisitorCache(200_000), bases: newTTLCache[string](5 * time.Second),
	}
}

// SetClickCaps makes the redirect obey click caps. Call before serving.
func (c *Clicks) SetClickCaps(k *ClickCaps) { c.caps = k }

// SetBlocklists makes every click checked against b's cached lists.
// Call before serving.
func (c *Clicks) SetBlocklists(b *Blocklists) { c.blocks = b }

// ConfigChanged drops cached link settings, so offer and publisher changes
// made through this process apply to the next click. Other processes see
// them within the cache TTL (5 s).
func (c *Clicks) ConfigChanged() { c.links.clear(); c.bases.clear() }

// LinkURL is the URL a publisher pastes for a link: on the advertiser's own
// tracking host when it has one (see domain.Advertiser.TrackingDomain),
// else on Baton's public URL.
func (c *Clicks) LinkURL(ctx context.Context, l domain.TrackingLink) string {
	base, err := c.bases.get(l.OfferID, c.now(), func() (string, error) {
		o, err := c.store.GetOffer(ctx, l.OfferID)
		if err != nil {
			return "", err
		}
		a, err := c.store.GetAdvertiser(ctx, o.AdvertiserID)
		if err != nil {
			return "", err
		}
		return TrackingBase(c.publicURL, a), nil
	})
	if err != nil {
		base = c.publicURL
	}
	return base + "/c/" + l.ID
}

// TrackingBase is where an advertiser's links and tags point: its own
// tracking host, with the scheme of Baton's public URL, or that URL.
func TrackingBase(publicURL string, a domain.Advertiser) string {
	if a.TrackingDomain == "" {
		return publicURL
	}
	scheme, _, _ := strings.Cut(publicURL, "://")
	return scheme + "://" + a.TrackingDomain
}

// CookieName is the first-party cookie that carries the last click for one
// advertiser (shop). One cookie per advertiser, so a click on another shop's
// offer does not overwrite it; within a shop, the last click wins.
func CookieName(shopID int64) string { return "baton_s" + strconv.FormatInt(shopID, 10) }

// linkContext is everything a click needs about its link, cached briefly so
// the redirect reads no configuration from the database.
type linkContext struct {
	link       domain.TrackingLink
	offer      domain.Offer
	publisher  domain.Publisher
	siteNumber int64
	shopID     int64
}

func (c *Clicks) resolve(ctx context.Context, linkID string) (*linkContext, error) {
	if lc := c.links.get(linkID, c.now()); lc != nil {
		return lc, nil
	}
	lc, err := c.load(ctx, linkID)
	if errors.Is(err, domain.ErrUnavailable) {
		// PostgreSQL is down: a link seen before keeps redirecting with
		// what was last read, so clicks keep being spooled (see spool).
		if stale := c.links.stale(linkID); stale != nil {
			return stale, nil
		}
	}
	if err != nil {
		return nil, err
	}
	c.links.put(linkID, lc, c.now())
	return lc, nil
}

// load reads everything a click needs about its link.
func (c *Clicks) load(ctx context.Context, linkID string) (*linkContext, error) {
	l, err := c.store.GetLink(ctx, linkID)
	if err != nil {
		return nil, err
	}
	lc := &linkContext{link: l}
	if lc.offer, err = c.store.GetOffer(ctx, l.OfferID); err != nil {
		return nil, err
	}
	if lc.publisher, err = c.store.GetPublisher(ctx, l.PublisherID); err != nil {
		return nil, err
	}
	adv, err := c.store.GetAdvertiser(ctx, lc.offer.AdvertiserID)
	if err != nil {
		return nil, err
	}
	lc.shopID = adv.ShopID
	if l.SiteID != "" {
		site, err := c.store.GetSite(ctx, l.SiteID)
		if err != nil {
			return nil, err
		}
		lc.siteNumber = site.SiteID
	}
	return lc, nil
}

// ClickInput is a click as it arrives.
type ClickInput struct {
	LinkID string
	// SubIDs are RecordClick's sub1..sub5.
	SubIDs []string
	// Query, when set, reads a redirect's query parameter: Record then
	// takes the sub-IDs from it under the link's sub-ID parameter names, so
	// a redirect resolves its link once (SubIDs is ignored).
	Query func(name string) string
	// QueryCut: the redirect's query had more parameters than were read.
	QueryCut bool
	// DeepLink is where the click asks to go: RecordClick's deep_link, a
	// redirect's "jump" (FC2) or "url".
	DeepLink  string
	IP        string
	UserAgent string
	Referer   string
	Source    domain.ClickSource
	// At is when the click happened (RecordClick); zero means now.
	At          time.Time
	TraceParent string
}

// ClickResult is what the redirect needs to answer.
type ClickResult struct {
	Click domain.Click
	// RedirectURL is where to send the person.
	RedirectURL string
	// Gone is set when the offer is paused and has no fallback: answer 410,
	// nothing was recorded.
	Gone         bool
	CookieName   string
	CookieMaxAge time.Duration
}

// ErrLinkNotFound is returned for an unknown tracking link.
var ErrLinkNotFound = errors.New("unknown tracking link")

// cleanText makes a header value storable: valid UTF-8, no NUL, bounded.
func cleanText(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > limit {
		s = s[:limit]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Record records a click and says where to send the person. When it
// returns without error and Gone is false, the click is committed.
func (c *Clicks) Record(ctx context.Context, in ClickInput) (ClickResult, error) {
	lc, err := c.resolve(ctx, in.LinkID)
	if errors.Is(err, domain.ErrNotFound) {
		return ClickResult{}, ErrLinkNotFound
	}
	if err != nil {
		return ClickResult{}, err
	}
	o := lc.offer
	var flags domain.ClickFlag
	if in.QueryCut {
		flags |= domain.FlagQueryCut
	}
	landing := o.LandingURL
	if o.Status == domain.OfferPaused {
		if o.FallbackURL == "" {
			return ClickResult{Gone: true}, nil
		}
		flags |= domain.FlagOfferPaused
		landing = o.FallbackURL
	}
	// At a click cap the person goes to the fallback URL (the landing URL
	// when there is none): recorded, flagged, not counted against the cap.
	if flags&domain.FlagOfferPaused == 0 && !c.caps.Admit(ctx, o.ID, lc.link.PublisherID, c.now()) {
		flags |= domain.FlagCapped
		if o.FallbackURL != "" {
			landing = o.FallbackURL
		}
	}

	names := subIDNames(lc.publisher, o)
	if in.Query != nil {
		in.SubIDs = make([]string, len(names))
		for i, n := range names {
			in.SubIDs[i] = in.Query(n)
		}
	}
	subs, subFlags := subIDs(names, in)
	flags |= subFlags

	deep, target, deepFlags := deepTarget(in, o, landing, landing != o.LandingURL)
	flags |= deepFlags

	id, at := c.ids.New()
	redirect := tracking.AppendParams(target, downstreamParams(o, lc, id))

	ua := cleanText(in.UserAgent, 1024)
	ip := cleanText(in.IP, 64)
	if tracking.IsBot(ua) {
		flags |= domain.FlagBot
	}
	// A blocked click still redirects: it is recorded, flagged, not unique.
	flags |= c.blocks.CheckClick(ctx, o.ID, lc.link.PublisherID, ip, ua, subs)
	// The node's first guess; the window shared in PostgreSQL decides what
	// is stored (store/clickwindow.go). Bots, paused and blocked clicks open
	// no window.
	if flags&domain.FlagsNotUnique == 0 && c.dups.seen(o.ID+"\x00"+ip+"\x00"+ua, at, o.DuplicateClickInterval) {
		flags |= domain.FlagDuplicate
	}
	window := o.AttributionWindow
	expires := at.Add(window)
	if !in.At.IsZero() && in.At.Before(at) {
		expires = in.At.Add(window)
	}
	click := domain.Click{
		ID: id, CreatedAt: at, LinkID: lc.link.ID, OfferID: o.ID, AdvertiserID: o.AdvertiserID,
		PublisherID: lc.link.PublisherID, SiteID: lc.link.SiteID, Source: in.Source, SubIDs: subs,
		RedirectURL: redirect, DeepLink: deep, IP: ip, UserAgent: ua, Referer: cleanText(in.Referer, 2048),
		Flags: flags, Unique: flags&domain.FlagsNotUnique == 0,
		ExpiresAt: expires, TraceParent: in.TraceParent,
	}
	if len(subs) > 0 && subs[0] != "" {
		click.UpstreamID, click.UpstreamParam = subs[0], names[0]
	}
	if o.Downstream.ClickIDParam != "" {
		click.DownstreamParam = o.Downstream.ClickIDParam
	}
	if err := c.recorder.Write(ctx, &click); err != nil {
		return ClickResult{}, err
	}
	return ClickResult{Click: click, RedirectURL: redirect, CookieName: CookieName(lc.shopID), CookieMaxAge: window}, nil
}

// subIDNames are the parameters a click's sub IDs come in: the
// publisher's own, else the offer's, else Baton's defaults.
func subIDNames(pub domain.Publisher, o domain.Offer) []string {
	if len(pub.SubIDParams) > 0 {
		return pub.SubIDParams
	}
	if len(o.SubIDParams) > 0 {
		return o.SubIDParams
	}
	return domain.DefaultSubIDParams
}

// subIDs reads a click's sub IDs (at most five, sanitised, trailing empty
// ones dropped) and flags what sanitising changed.
func subIDs(names []string, in ClickInput) ([]string, domain.ClickFlag) {
	var flags domain.ClickFlag
	raw := in.SubIDs
	if len(raw) > 5 {
		raw = raw[:5]
	}
	subs := make([]string, len(raw))
	for i, v := range raw {
		clean, f := tracking.SanitizeSubID(v)
		subs[i] = clean
		if f.Truncated {
			flags |= domain.FlagSubIDTruncated
		}
		if f.Malformed {
			flags |= domain.FlagSubIDMalformed
		}
	}
	for len(subs) > 0 && subs[len(subs)-1] == "" {
		subs = subs[:len(subs)-1]
	}

	return subs, flags
}

// deepTarget judges a click's deep link: the
// bounded copy kept, and where the click goes, the landing URL unless the
// deep link is allowed; a refused one is flagged. A paused offer's
// fallback ignores deep links.
func deepTarget(in ClickInput, o domain.Offer, landing string, paused bool) (deep, target string, flags domain.ClickFlag) {
	deep = in.DeepLink
	// Judge the deep link as it came (ResolveDeepLink refuses one over
	// 2,048 bytes) and keep a bounded copy: cutting it first would follow
	// a link no one sent.
	tooLong := len(deep) > 2048
	deep = cleanText(deep, 2048)
	target = landing
	if tooLong {
		flags |= domain.FlagDeepLinkRefused
	} else if deep != "" && !paused {
		if resolved, err := tracking.ResolveDeepLink(deep, o.LandingURL, o.DeepLinkHosts); err == nil {
			target = resolved
		} else {
			flags |= domain.FlagDeepLinkRefused
		}
	}
	return deep, target, flags
}

// downstreamParams are the parameters a click passes on to the network
// downstream: Baton's click ID under the name it asks for, FC2's referrer
// IDs.
func downstreamParams(o domain.Offer, lc *linkContext, id string) []tracking.Param {
	var params []tracking.Param
	if p := o.Downstream.ClickIDParam; p != "" {
		params = append(params, tracking.Param{Name: p, Value: id})
	}
	if o.Downstream.FC2Params {
		params = append(params,
			tracking.Param{Name: "aff_userid", Value: strconv.FormatInt(lc.publisher.UserID, 10)},
			tracking.Param{Name: "aff_siteid", Value: strconv.FormatInt(lc.siteNumber, 10)})
	}
	return params
}

// RecordForPartner is RecordClick: a publisher (or admin) records a click
// server to server on one of its own links.
func (c *Clicks) RecordForPartner(ctx context.Context, p domain.Principal, in ClickInput) (ClickResult, error) {
	l, err := c.store.GetLink(ctx, in.LinkID)
	if err != nil {
		return ClickResult{}, err
	}
	if !p.Owns(domain.RolePublisher, l.PublisherID) {
		return ClickResult{}, domain.Denied("a publisher key may only record clicks on its own links")
	}
	if !in.At.IsZero() {
		now := c.now()
		if in.At.After(now.Add(time.Minute)) || in.At.Before(now.Add(-24*time.Hour)) {
			return ClickResult{}, domain.Invalid("click_time", "must be within the last 24 hours")
		}
	}
	in.Source = domain.ClickFromAPI
	res, err := c.Record(ctx, in)
	if err == nil && res.Gone {
		return res, domain.Invalid("link_id", "the offer is paused and has no fallback URL")
	}
	return res, err
}

// CreateLink creates a tracking link for a publisher (the caller itself, or
// any for an admin).
func (c *Clicks) CreateLink(ctx context.Context, p domain.Principal, l domain.TrackingLink) (domain.TrackingLink, error) {
	switch {
	case p.Role == domain.RolePublisher:
		if l.PublisherID != "" && l.PublisherID != p.PartnerID {
			return l, domain.Denied("a publisher key may only create links for itself")
		}
		l.PublisherID = p.PartnerID
	case p.IsAdmin():
		if l.PublisherID == "" {
			return l, domain.Invalid("publisher_id", "is required with an admin key")
		}
	default:
		return l, domain.Denied("a %s key may not create tracking links", p.Role)
	}
	if _, err := c.store.GetOffer(ctx, l.OfferID); errors.Is(err, domain.ErrNotFound) {
		return l, domain.Invalid("offer_id", "no offer with ID %q", l.OfferID)
	} else if err != nil {
		return l, err
	}
	if _, err := c.store.GetPublisher(ctx, l.PublisherID); errors.Is(err, domain.ErrNotFound) {
		return l, domain.Invalid("publisher_id", "no publisher with ID %q", l.PublisherID)
	} else if err != nil {
		return l, err
	}
	if l.SiteID != "" {
		site, err := c.store.GetSite(ctx, l.SiteID)
		if err != nil || site.PublisherID != l.PublisherID {
			return l, domain.Invalid("site_id", "no site %q of publisher %q", l.SiteID, l.PublisherID)
		}
	}
	return c.store.CreateLink(ctx, l)
}

// ListLinks lists links the caller may see.
func (c *Clicks) ListLinks(ctx context.Context, p domain.Principal, offerID, publisherID string, page domain.Page) ([]domain.TrackingLink, string, error) {
	advertiserID := ""
	switch p.Role {
	case domain.RoleAdmin:
	case domain.RolePublisher:
		if publisherID != "" && publisherID != p.PartnerID {
			return nil, "", domain.Denied("a publisher key may only list its own links")
		}
		publisherID = p.PartnerID
	case domain.RoleAdvertiser:
		advertiserID = p.PartnerID
	default:
		return nil, "", domain.Denied("a %s key may not list tracking links", p.Role)
	}
	return c.store.ListLinks(ctx, offerID, publisherID, advertiserID, page)
}

// GetClick returns a click to its publisher, its advertiser or an admin.
func (c *Clicks) GetClick(ctx context.Context, p domain.Principal, id string) (domain.Click, error) {
	click, err := c.store.GetClick(ctx, id)
	if err != nil {
		return click, err
	}
	if !p.Owns(domain.RolePublisher, click.PublisherID) && !p.Owns(domain.RoleAdvertiser, click.AdvertiserID) {
		return domain.Click{}, domain.Denied("this key may not read click %q", id)
	}
	return click, nil
}

// ListClicks lists the clicks the caller may see: a publisher its own, an
// advertiser those on its offers.
func (c *Clicks) ListClicks(ctx context.Context, p domain.Principal, f domain.ClickFilter, page domain.Page) ([]domain.Click, string, error) {
	if err := scopeToCaller(p, "clicks", &f.PublisherID, &f.AdvertiserID); err != nil {
		return nil, "", err
	}
	return c.store.ListClicks(ctx, f, page)
}

// scopeToCaller narrows a list filter to what the caller may see: a
// publisher its own records, an advertiser those of its offers, an admin
// everything. Other roles may not list what.
func scopeToCaller(p domain.Principal, what string, publisherID, advertiserID *string) error {
	switch p.Role {
	case domain.RoleAdmin:
		return nil
	case domain.RolePublisher:
		if *publisherID != "" && *publisherID != p.PartnerID {
			return domain.Denied("a publisher key may only list its own %s", what)
		}
		*publisherID = p.PartnerID
		return nil
	case domain.RoleAdvertiser:
		if *advertiserID != "" && *advertiserID != p.PartnerID {
			return domain.Denied("an advertiser key may only list its own %s", what)
		}
		*advertiserID = p.PartnerID
		return nil
	}
	return domain.Denied("a %s key may not list %s", p.Role, what)
}

// ---------------------------------------------------------------- caches

type linkCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]linkEntry
}

type linkEntry struct {
	lc      *linkContext
	expires time.Time
}

func newLinkCache(ttl time.Duration) *linkCache {
	return &linkCache{ttl: ttl, m: map[string]linkEntry{}}
}

func (c *linkCache) get(id string, now time.Time) *linkContext {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || now.After(e.expires) {
		return nil
	}
	return e.lc
}

// stale returns the entry for id even if expired (nil if none).
func (c *linkCache) stale(id string) *linkContext {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[id].lc
}

func (c *linkCache) put(id string, lc *linkContext, now time.Time) {
	c.mu.Lock()
	if len(c.m) > 100_000 {
		c.m = map[string]linkEntry{}
	}
	c.m[id] = linkEntry{lc: lc, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}

func (c *linkCache) clear() {
	c.mu.Lock()
	c.m = map[string]linkEntry{}
	c.mu.Unlock()
}

// visitorCache remembers when each (offer, IP, user agent) last opened a
// duplicate-click window, in memory: a fast first guess for the redirect's
// answer. What is stored and reported is decided when the click is loaded
// into PostgreSQL, by the window every node shares (store/clickwindow.go),
// with the same rule: a click is unique when the visitor's last unique
// click on the offer is at least the offer's interval old.
type visitorCache struct {
	max int
	mu  sync.Mutex
	m   map[string]time.Time
}

func newVisitorCache(limit int) *visitorCache {
	return &visitorCache{max: limit, m: map[string]time.Time{}}
}

// seen reports whether the same visitor opened a window within interval
// before now; if not, the click at now opens one.
func (v *visitorCache) seen(key string, now time.Time, interval time.Duration) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	last, ok := v.m[key]
	if ok && now.Sub(last) < interval && !now.Before(last) {
		return true
	}
	v.m[key] = now
	if len(v.m) > v.max {
		for k, t := range v.m {
			if now.Sub(t) > 24*time.Hour || len(v.m) > v.max {
				delete(v.m, k)
			}
		}
	}
	return false
}

// WindowEnd says until when a click can earn a conversion (its offer's
// attribution window from the click), for the first-party tag on the
// shop's landing page. It tells nothing else about the click; an unknown,
// malformed or expired ID is ErrNotFound.
func (c *Clicks) WindowEnd(ctx context.Context, id string) (time.Time, error) {
	if _, err := clickid.Parse(id); err != nil {
		return time.Time{}, domain.NotFound("click", id)
	}
	cl, err := c.store.GetClick(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	o, err := c.store.GetOffer(ctx, cl.OfferID)
	if err != nil {
		return time.Time{}, err
	}
	end := cl.CreatedAt.Add(o.AttributionWindow)
	if !end.After(c.now()) {
		return time.Time{}, domain.NotFound("click", id)
	}
	return end, nil
}
