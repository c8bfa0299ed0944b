package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/partners"
	"github.com/batonhq/baton/server/internal/postback"
)

// CheckClicker follows a tracking link once, without following the
// redirect, and returns the status and Location (app wires an HTTP client).
type CheckClicker func(ctx context.Context, url string) (status int, location string, err error)

// CheckStore is what the integration check reads (store.Store).
type CheckStore interface {
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
	GetLink(ctx context.Context, id string) (domain.TrackingLink, error)
	ListLinks(ctx context.Context, offerID, publisherID, advertiserID string, page domain.Page) ([]domain.TrackingLink, string, error)
	GetClick(ctx context.Context, id string) (domain.Click, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetEndpoint(ctx context.Context, id string) (domain.PostbackEndpoint, error)
	ListEndpoints(ctx context.Context, publisherID, offerID string, state domain.EndpointState, page domain.Page) ([]domain.PostbackEndpoint, string, error)
	GetDelivery(ctx context.Context, id string) (domain.Delivery, error)
	GetNetwork(ctx context.Context, id string) (domain.Network, error)
	ListOffers(ctx context.Context, advertiserID string, status domain.OfferStatus, page domain.Page) ([]domain.Offer, string, error)
}

// CheckHop is one step of the path, checked: what Baton did and saw, and
// what to change when it failed.
type CheckHop struct {
	Name       string // redirect, click_ids, postback_rendered, postback_answered
	OK         bool
	Detail     string
	Fix        string
	EndpointID string
}

// CheckResult is an integration check's report.
type CheckResult struct {
	OK            bool
	Hops          []CheckHop
	ClickID       string
	ConversionIDs []string
}

func (r *CheckResult) add(h CheckHop) bool {
	r.Hops = append(r.Hops, h)
	return h.OK
}

// Checker runs integration checks for upstream partners.
type Checker struct {
	store CheckStore
	out   TestOutbox
	inTx  TxRunner
	click CheckClicker
	// partnerClick requests a partner's URL (guarded like postbacks).
	partnerClick CheckClicker
	linkURL      func(context.Context, domain.TrackingLink) string
	render       Renderer
	now          func() time.Time
	// Poll is how often the check looks for the click and the first
	// attempt; Wait bounds each wait.
	Poll, Wait time.Duration
}

// NewChecker returns the integration check.
func NewChecker(st CheckStore, out TestOutbox, inTx TxRunner, click, partnerClick CheckClicker, linkURL func(context.Context, domain.TrackingLink) string, render Renderer) *Checker {
	// now measures how long the check waits for a partner's answer: real
	// time, not the injectable business clock.
	return &Checker{store: st, out: out, inTx: inTx, click: click, partnerClick: partnerClick, linkURL: linkURL, render: render, now: time.Now,
		Poll: 50 * time.Millisecond, Wait: 20 * time.Second}
}

// checkValue is the partner click ID the check sends.
func checkValue() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "batoncheck" + hex.EncodeToString(b)
}

// Check follows publisherID's tracking link (linkID, or its first) with a
// test click ID in its click-ID parameter, and sends a test conversion of
// that click to endpointID (or each enabled endpoint of the publisher that
// takes pending conversions of the link's offer), reporting each hop. An
// admin may check any publisher, a publisher key itself.
func (c *Checker) Check(ctx context.Context, p domain.Principal, publisherID, linkID, endpointID string) (CheckResult, error) {
	if publisherID == "" && p.Role == domain.RolePublisher {
		publisherID = p.PartnerID
	}
	if publisherID == "" {
		return CheckResult{}, domain.Invalid("publisher_id", "required: the upstream partner to check")
	}
	if !p.Owns(domain.RolePublisher, publisherID) {
		return CheckResult{}, domain.Denied("a publisher key may only check its own connection")
	}
	pub, err := c.store.GetPublisher(ctx, publisherID)
	if err != nil {
		return CheckResult{}, err
	}
	var res CheckResult
	link, ok, err := c.link(ctx, pub, linkID)
	if err != nil {
		return CheckResult{}, err
	}
	if !ok {
		res.add(CheckHop{Name: "redirect", Detail: fmt.Sprintf("publisher %s has no tracking link", pub.ID),
			Fix: "create a tracking link for the publisher (ClickService.CreateTrackingLink), then check again"})
		return res, nil
	}
	click, offer, value, param, _, ok, err := c.clickThrough(ctx, &res, pub, link)
	if err != nil || !ok {
		return res, err
	}
	eps, err := c.endpoints(ctx, pub, offer, endpointID)
	if err != nil {
		return CheckResult{}, err
	}
	if len(eps) == 0 {
		res.add(CheckHop{Name: "postback_rendered", Detail: fmt.Sprintf("publisher %s has no enabled postback endpoint for pending conversions of offer %s", pub.ID, offer.ID),
			Fix: "create one (PartnerService.GetPartnerPreset fills it for the partner's system), then check again"})
		return res, nil
	}
	all := true
	for _, ep := range eps {
		if d, ok := ctx.Deadline(); ok && c.now().After(d.Add(-3*time.Second)) {
			res.add(CheckHop{Name: "postback_answered", EndpointID: ep.ID, Detail: "not checked: the request's time ran out",
				Fix: "check this endpoint alone (endpoint_id), or raise BATON_REQUEST_TIMEOUT"})
			all = false
			continue
		}
		cvID, ok, err := c.postbackHops(ctx, &res, p, ep, offer, click, value, param)
		if err != nil {
			return CheckResult{}, err
		}
		if cvID != "" {
			res.ConversionIDs = append(res.ConversionIDs, cvID)
		}
		all = all && ok
	}
	res.OK = all
	return res, nil
}

// clickThrough follows link with a test click ID in pub's click-ID
// parameter and adds the redirect and click_ids hops.
func (c *Checker) clickThrough(ctx context.Context, res *CheckResult, pub domain.Publisher, link domain.TrackingLink) (click domain.Click, offer domain.Offer, value, param, location string, ok bool, err error) {
	offer, err = c.store.GetOffer(ctx, link.OfferID)
	if err != nil {
		return
	}
	param = "param1"
	if len(pub.SubIDParams) > 0 {
		param = pub.SubIDParams[0]
	} else if len(offer.SubIDParams) > 0 {
		param = offer.SubIDParams[0]
	}
	value = checkValue()
	clickURL, err := partners.AppendParam(c.linkURL(ctx, link), param, value)
	if err != nil {
		return
	}
	click, location, ok = c.clickHops(ctx, res, clickURL, offer, param, value)
	res.ClickID = click.ID
	return
}

// CheckNetwork checks the path to a downstream network: a test click on a
// link of an offer sending clicks to it (linkID, or the first found), the
// click ID passed on, and the network's click URL requested once with
// partnerClick (which refuses private addresses, as postbacks do). Admin
// keys only: it reads every advertiser's offers.
func (c *Checker) CheckNetwork(ctx context.Context, p domain.Principal, networkID, linkID string) (CheckResult, error) {
	if !p.IsAdmin() {
		return CheckResult{}, domain.Denied("only an admin key may check a downstream network")
	}
	n, err := c.store.GetNetwork(ctx, networkID)
	if err != nil {
		return CheckResult{}, err
	}
	var res CheckResult
	link, ok, err := c.networkLink(ctx, n, linkID)
	if err != nil {
		return CheckResult{}, err
	}
	if !ok {
		res.add(CheckHop{Name: "redirect", Detail: fmt.Sprintf("no tracking link of an offer sends clicks to network %s", n.ID),
			Fix: "set an offer's downstream.network_id (and downstream.click_id_param) to the network, create a tracking link for it, then check again"})
		return res, nil
	}
	pub, err := c.store.GetPublisher(ctx, link.PublisherID)
	if err != nil {
		return CheckResult{}, err
	}
	_, _, _, _, loc, ok, err := c.clickThrough(ctx, &res, pub, link)
	if err != nil || !ok {
		return res, err
	}
	res.OK = res.add(c.partnerHop(ctx, n, loc))
	return res, nil
}

func (c *Checker) networkLink(ctx context.Context, n domain.Network, linkID string) (domain.TrackingLink, bool, error) {
	if linkID != "" {
		l, err := c.store.GetLink(ctx, linkID)
		if err != nil {
			return l, false, err
		}
		o, err := c.store.GetOffer(ctx, l.OfferID)
		if err != nil {
			return l, false, err
		}
		if o.Downstream.NetworkID != n.ID {
			return l, false, domain.Invalid("link_id", "link %s is for offer %s, which sends its clicks to %q, not network %s", l.ID, o.ID, o.Downstream.NetworkID, n.ID)
		}
		return l, true, nil
	}
	page := domain.Page{Size: 1000}
	for range 100 {
		offers, next, err := c.store.ListOffers(ctx, "", "", page)
		if err != nil {
			return domain.TrackingLink{}, false, err
		}
		for _, o := range offers {
			if o.Downstream.NetworkID != n.ID {
				continue
			}
			links, _, err := c.store.ListLinks(ctx, o.ID, "", "", domain.Page{Size: 1})
			if err != nil {
				return domain.TrackingLink{}, false, err
			}
			if len(links) > 0 {
				return links[0], true, nil
			}
		}
		if next == "" {
			break
		}
		page.After = next
	}
	return domain.TrackingLink{}, false, nil
}

// partnerHop requests the network's click URL once and says what its
// answer means.
func (c *Checker) partnerHop(ctx context.Context, n domain.Network, loc string) CheckHop {
	h := CheckHop{Name: "partner_click"}
	status, next, err := c.partnerClick(ctx, loc)
	answer := postback.ReadAnswer(status)
	switch {
	case err != nil:
		h.Detail = fmt.Sprintf("Baton could not request network %s's click URL %s: %v", n.ID, loc, err)
		h.Fix = "check the offer's landing URL (its host, and BATON_POSTBACK_ALLOW for a private address)"
	case answer == postback.AnswerOK || answer == postback.AnswerRedirect:
		h.OK = true
		h.Detail = fmt.Sprintf("network %s's click URL answered %d", n.ID, status)
		if next != "" {
			h.Detail += " (to " + next + ")"
		}
	case answer == postback.AnswerWrongPath || answer == postback.AnswerGone:
		h.Detail = fmt.Sprintf("network %s's click URL %s answered %d", n.ID, loc, status)
		h.Fix = fmt.Sprintf("the network answered %d: check the offer's landing URL (the network's click URL and its path)", status)
	default:
		h.Detail = fmt.Sprintf("network %s's click URL %s answered %d", n.ID, loc, status)
		h.Fix = "the network refused the click: check the offer's landing URL and the parameters the network expects (GetPartnerPreset, downstream)"
	}
	return h
}

func (c *Checker) link(ctx context.Context, pub domain.Publisher, linkID string) (domain.TrackingLink, bool, error) {
	if linkID != "" {
		l, err := c.store.GetLink(ctx, linkID)
		if err != nil {
			return l, false, err
		}
		if l.PublisherID != pub.ID {
			return l, false, domain.Invalid("link_id", "link %s belongs to publisher %s, not %s", l.ID, l.PublisherID, pub.ID)
		}
		return l, true, nil
	}
	links, _, err := c.store.ListLinks(ctx, "", pub.ID, "", domain.Page{Size: 1})
	if err != nil || len(links) == 0 {
		return domain.TrackingLink{}, false, err
	}
	return links[0], true, nil
}

// clickHops sends the test click and checks the redirect and the IDs kept.
func (c *Checker) clickHops(ctx context.Context, res *CheckResult, clickURL string, offer domain.Offer, param, value string) (domain.Click, string, bool) {
	status, loc, err := c.click(ctx, clickURL)
	answer := postback.ReadAnswer(status)
	switch {
	case err != nil:
		return domain.Click{}, "", res.add(CheckHop{Name: "redirect", Detail: fmt.Sprintf("Baton could not follow its own tracking link %s: %v", clickURL, err),
			Fix: "check BATON_PUBLIC_URL (and the advertiser's tracking domain): Baton must reach its own links"})
	case answer == postback.AnswerGone:
		return domain.Click{}, "", res.add(CheckHop{Name: "redirect", Detail: fmt.Sprintf("the tracking link %s answered 410: offer %s is paused and has no fallback", clickURL, offer.ID),
			Fix: "activate the offer, then check again"})
	case answer != postback.AnswerRedirect || loc == "":
		return domain.Click{}, "", res.add(CheckHop{Name: "redirect", Detail: fmt.Sprintf("the tracking link %s answered %d without a redirect", clickURL, status),
			Fix: "check the link and its offer's landing URL"})
	}
	res.add(CheckHop{Name: "redirect", OK: true, Detail: fmt.Sprintf("the test click %s was redirected (%d) to %s", clickURL, status, loc)})
	dp := offer.Downstream.ClickIDParam
	u, err := url.Parse(loc)
	id := ""
	if err == nil && dp != "" {
		id = u.Query().Get(dp)
	}
	if id == "" {
		return domain.Click{}, loc, res.add(CheckHop{Name: "click_ids", Detail: fmt.Sprintf("the landing URL carries no Baton click ID (offer %s passes it in %q)", offer.ID, dp),
			Fix: "set the offer's downstream.click_id_param to the parameter the advertiser reads Baton's click ID from"})
	}
	click, err := c.waitClick(ctx, id)
	if err != nil {
		return domain.Click{}, loc, res.add(CheckHop{Name: "click_ids", Detail: fmt.Sprintf("click %s was not recorded: %v", id, err), Fix: "look at Baton's log for the click"})
	}
	if len(click.SubIDs) == 0 || click.SubIDs[0] != value {
		return click, loc, res.add(CheckHop{Name: "click_ids", Detail: fmt.Sprintf("the partner's click ID %s, sent in %s, was not kept as sub1 (sub IDs %q)", value, param, click.SubIDs),
			Fix: fmt.Sprintf("put %s first in the publisher's sub_id_params", param)})
	}
	return click, loc, res.add(CheckHop{Name: "click_ids", OK: true,
		Detail: fmt.Sprintf("Baton issued click %s, passed it on in %s, and kept the partner's click ID %s from %s as sub1", click.ID, dp, value, param)})
}

func (c *Checker) waitClick(ctx context.Context, id string) (domain.Click, error) {
	deadline := c.now().Add(c.Wait)
	for {
		cl, err := c.store.GetClick(ctx, id)
		if err == nil || !errors.Is(err, domain.ErrNotFound) || c.now().After(deadline) {
			return cl, err
		}
		if err := c.sleep(ctx); err != nil {
			return cl, err
		}
	}
}

func (c *Checker) sleep(ctx context.Context) error {
	t := time.NewTimer(c.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Checker) endpoints(ctx context.Context, pub domain.Publisher, offer domain.Offer, id string) ([]domain.PostbackEndpoint, error) {
	if id != "" {
		ep, err := c.store.GetEndpoint(ctx, id)
		if err != nil {
			return nil, err
		}
		if ep.PublisherID != pub.ID {
			return nil, domain.Invalid("endpoint_id", "endpoint %s belongs to publisher %s, not %s", ep.ID, ep.PublisherID, pub.ID)
		}
		if ep.State != domain.EndpointEnabled {
			return nil, fmt.Errorf("%w: endpoint %s is %s; enable it to check it", domain.ErrFailedPrecondition, ep.ID, ep.State)
		}
		return []domain.PostbackEndpoint{ep}, nil
	}
	all, _, err := c.store.ListEndpoints(ctx, pub.ID, "", domain.EndpointEnabled, domain.Page{Size: 100})
	if err != nil {
		return nil, err
	}
	var out []domain.PostbackEndpoint
	for _, ep := range all {
		if (ep.OfferID == "" || ep.OfferID == offer.ID) && slices.Contains(ep.Events, domain.StatusPending) {
			out = append(out, ep)
		}
	}
	return out, nil
}

// postbackHops sends a test conversion of click to ep and reports the
// rendering and the answer.
func (c *Checker) postbackHops(ctx context.Context, res *CheckResult, p domain.Principal, ep domain.PostbackEndpoint, offer domain.Offer, click domain.Click, value, param string) (string, bool, error) {
	now := c.now()
	cv := domain.Conversion{
		ClickID: click.ID, SubIDs: click.SubIDs, UpstreamID: click.UpstreamID,
		AdvertiserID: offer.AdvertiserID, OfferID: offer.ID, PublisherID: ep.PublisherID, SiteID: click.SiteID,
		Amount: testAmount, Commission: domain.Money{Currency: testAmount.Currency},
		Status: domain.StatusPending, Test: true, Source: domain.SourceAPI,
		Attribution: domain.Explanation{Path: "click_id", Summary: fmt.Sprintf("An integration check of endpoint %s, run by %s: not a sale, never paid or counted.", ep.ID, p.KeyID)},
		SaleAt:      now, CreatedAt: now, UpdatedAt: now,
	}
	var d domain.Delivery
	err := c.inTx(ctx, func(tx ConversionTx) error {
		var err error
		d, err = c.out.TestEvent(ctx, tx, cv, ep, domain.StatusPending, "integration check ("+p.KeyID+")")
		return err
	})
	if err != nil {
		return "", false, err
	}
	_, renderedURL, _, body, err := c.render(ep, d, nil, now)
	if err != nil {
		res.add(CheckHop{Name: "postback_rendered", EndpointID: ep.ID, Detail: "the postback cannot be built: " + err.Error(), Fix: "correct the endpoint's templates"})
		return d.ConversionID, false, nil //nolint:nilerr // the failure is the check's finding, reported as a hop
	}
	a, err := c.firstAttempt(ctx, d.ID)
	if err != nil {
		res.add(CheckHop{Name: "postback_answered", EndpointID: ep.ID, Detail: fmt.Sprintf("delivery %s was not attempted in time: %v", d.ID, err),
			Fix: "the postback queue is busy or stopped: look at GetDeliveryQueue and Baton's log"})
		return d.ConversionID, false, nil
	}
	// The rendered request is read, not shown: it may hold a key. What is
	// shown is the attempt's URL, secrets masked.
	shown := a.URL
	if body != "" {
		shown += " (and its body)"
	}
	renderOK := c.renderHop(res, ep, renderedURL+"\n"+body, shown, value, param)
	return d.ConversionID, res.add(answerHop(ep, d.ID, a)) && renderOK, nil
}

func (c *Checker) renderHop(res *CheckResult, ep domain.PostbackEndpoint, rendered, shown, value, param string) bool {
	left := partners.Leftovers(rendered)
	if strings.Contains(rendered, value) && len(left) == 0 {
		return res.add(CheckHop{Name: "postback_rendered", OK: true, EndpointID: ep.ID,
			Detail: fmt.Sprintf("the postback carries the partner's click ID %s: %s", value, shown)})
	}
	var fix []string
	for _, l := range left {
		s := fmt.Sprintf("%s is sent as text: Baton reads no such variable", l.Token)
		if l.Suggestion != "" {
			s += fmt.Sprintf(" (write %s)", l.Suggestion)
		}
		fix = append(fix, s)
	}
	detail := fmt.Sprintf("the postback does not carry the partner's click ID %s (sent in %s, kept as sub1): %s", value, param, shown)
	if strings.Contains(rendered, value) {
		detail = "the postback carries text that looks like another dialect's variables: " + shown
	}
	if u, _, _ := strings.Cut(rendered, "\n"); strings.Contains(u, "#") {
		fix = append(fix, "a '#' in the URL starts a fragment: nothing after it reaches the partner")
	}
	if len(fix) == 0 {
		fix = append(fix, "put {sub1} (##PARA1##, #s1#) where the partner expects its click ID")
	} else {
		fix = append(fix, "the template is written in a dialect Baton does not read; the README's dialect table maps {var}, ##VAR## and #var#")
	}
	return res.add(CheckHop{Name: "postback_rendered", EndpointID: ep.ID, Detail: detail, Fix: strings.Join(fix, "; ")})
}

func (c *Checker) firstAttempt(ctx context.Context, id string) (domain.Attempt, error) {
	deadline := c.now().Add(c.Wait)
	// Leave time to answer before the request's own deadline
	// (BATON_REQUEST_TIMEOUT): a late report is no report.
	if d, ok := ctx.Deadline(); ok && d.Add(-2*time.Second).Before(deadline) {
		deadline = d.Add(-2 * time.Second)
	}
	for {
		d, err := c.store.GetDelivery(ctx, id)
		if err != nil {
			return domain.Attempt{}, err
		}
		if len(d.Attempts) > 0 {
			return d.Attempts[0], nil
		}
		if c.now().After(deadline) {
			return domain.Attempt{}, fmt.Errorf("no attempt after %s", c.Wait)
		}
		if err := c.sleep(ctx); err != nil {
			return domain.Attempt{}, err
		}
	}
}

// answerHop says what the partner's answer means and what to fix.
func answerHop(ep domain.PostbackEndpoint, deliveryID string, a domain.Attempt) CheckHop {
	h := CheckHop{Name: "postback_answered", EndpointID: ep.ID}
	said := ""
	if a.ResponseExcerpt != "" {
		said = fmt.Sprintf(" (%q)", a.ResponseExcerpt)
	}
	h.Detail = fmt.Sprintf("delivery %s: %s", deliveryID, a.URL)
	answer := postback.ReadAnswer(a.StatusCode)
	switch {
	case a.Outcome == "success":
		h.OK = true
		h.Detail = fmt.Sprintf("the partner answered %d%s to %s", a.StatusCode, said, a.URL)
		return h
	case a.Outcome == "blocked_address":
		h.Detail = fmt.Sprintf("Baton did not send to %s: it resolves to a private or loopback address", a.URL)
		h.Fix = "use the partner's public host, or allow the address with BATON_POSTBACK_ALLOW"
	case a.Outcome == "timeout":
		h.Detail = fmt.Sprintf("the partner did not answer %s in time", a.URL)
		h.Fix = "check the host and port, or ask the partner why its receiver is slow"
	case a.Outcome == "network_error":
		h.Detail = fmt.Sprintf("Baton could not connect to %s: %s", a.URL, a.Error)
		h.Fix = "check the endpoint's host name and port"
	case answer == postback.AnswerWrongPath || answer == postback.AnswerGone:
		h.Detail = fmt.Sprintf("the partner answered %d%s to %s", a.StatusCode, said, a.URL)
		h.Fix = "the partner answered " + fmt.Sprint(a.StatusCode) + ": check the endpoint path (and method)"
	case answer == postback.AnswerRefusedCredentials:
		h.Detail = fmt.Sprintf("the partner answered %d%s to %s", a.StatusCode, said, a.URL)
		h.Fix = "the partner refused the credentials: check the token, key or password in the endpoint"
	case answer == postback.AnswerRedirect:
		h.Detail = fmt.Sprintf("the partner answered with a redirect (%d) to %s; Baton does not follow redirects", a.StatusCode, a.URL)
		h.Fix = "use the URL the partner redirects to (often https instead of http)"
	case answer == postback.AnswerReceiverFailed:
		h.Detail = fmt.Sprintf("the partner answered %d%s to %s; Baton retries", a.StatusCode, said, a.URL)
		h.Fix = "the partner's receiver failed: try again later, or ask the partner"
	default:
		h.Detail = fmt.Sprintf("the partner answered %d%s to %s", a.StatusCode, said, a.URL)
		h.Fix = "the partner refused the postback: compare its parameters with the partner's documentation (GetPartnerPreset shows them)"
	}
	return h
}
