package service

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
)

// PostbackStore is what the postback use cases need from storage.
type PostbackStore interface {
	CreateEndpoint(ctx context.Context, e domain.PostbackEndpoint, secret string) (domain.PostbackEndpoint, error)
	GetEndpoint(ctx context.Context, id string) (domain.PostbackEndpoint, error)
	ListEndpoints(ctx context.Context, publisherID, offerID string, state domain.EndpointState, page domain.Page) ([]domain.PostbackEndpoint, string, error)
	UpdateEndpoint(ctx context.Context, e domain.PostbackEndpoint) (domain.PostbackEndpoint, error)
	DeleteEndpoint(ctx context.Context, id string) error
	RotateEndpointSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.PostbackEndpoint, time.Time, error)
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	GetConversion(ctx context.Context, id string) (domain.Conversion, error)
	GetDelivery(ctx context.Context, id string) (domain.Delivery, error)
	ListDeliveries(ctx context.Context, f domain.DeliveryFilter, page domain.Page) ([]domain.Delivery, string, error)
	DeliveryIDs(ctx context.Context, endpointID string, state domain.DeliveryState, from, to time.Time, limit int) ([]string, error)
}

// Requeuer sends deliveries again (sets them pending and enqueues them, in
// one transaction).
type Requeuer interface {
	Requeue(ctx context.Context, ids []string) error
}

// Renderer renders a delivery's request without sending it.
type Renderer func(ep domain.PostbackEndpoint, d domain.Delivery, secrets []string, now time.Time) (method, url string, headers []domain.Header, body string, err error)

// VarsFunc computes the template variables of a conversion event.
type VarsFunc func(c domain.Conversion, event domain.ConversionStatus, deliveryID string, at time.Time) map[string]string

// Postbacks is the postback use cases: endpoints, dry runs, deliveries.
type Postbacks struct {
	store     PostbackStore
	requeue   Requeuer
	inTx      TxRunner
	render    Renderer
	vars      VarsFunc
	newSecret func() string
	now       func() time.Time
}

// NewPostbacks returns the postback use cases.
func NewPostbacks(st PostbackStore, rq Requeuer, inTx TxRunner, render Renderer, vars VarsFunc) *Postbacks {
	return &Postbacks{store: st, requeue: rq, inTx: inTx, render: render, vars: vars, newSecret: postback.NewSecret, now: time.Now}
}

// WithClock makes now the use cases' time source (a sample sale's time,
// the dry run's timestamp).
func (s *Postbacks) WithClock(now func() time.Time) *Postbacks {
	if now != nil {
		s.now = now
	}
	return s
}

// checkTemplates refuses a template with an unknown variable or secret,
// naming it.
func checkTemplates(e domain.PostbackEndpoint) error {
	names := domain.SecretNames(e.Secrets)
	if _, err := postback.ParseSecret(e.URLTemplate, names); err != nil {
		return domain.Invalid("url_template", "%s", err.Error())
	}
	u, err := url.Parse(strings.NewReplacer("##", "", "{", "", "}", "").Replace(e.URLTemplate))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return domain.Invalid("url_template", "must be an absolute http or https URL")
	}
	if e.BodyTemplate != "" {
		if _, err := postback.ParseSecret(e.BodyTemplate, names); err != nil {
			return domain.Invalid("body_template", "%s", err.Error())
		}
	}
	for i, h := range e.Headers {
		if _, err := postback.ParseSecret(h.Value, names); err != nil {
			return domain.Invalid(fmt.Sprintf("headers[%d].value", i), "%s", err.Error())
		}
	}
	if e.Method == domain.MethodPostForm && e.BodyTemplate == "" {
		return domain.Invalid("body_template", "is required for POST_FORM")
	}
	if e.Method == domain.MethodGet && e.BodyTemplate != "" {
		return domain.Invalid("body_template", "must be empty for GET")
	}
	return nil
}

// checkSecrets refuses duplicate secret names, a secret header that is
// also a templated header, and a value too short to be masked reliably; on
// create, every value is required (on update an empty one keeps the stored
// value).
func checkSecrets(e domain.PostbackEndpoint, create bool) error {
	seen := map[string]bool{}
	vars, headers := 0, 0
	for _, sec := range e.Secrets {
		field, key := fmt.Sprintf("secrets[%d]", vars), "s:"+sec.Name
		if sec.Header {
			field, key = fmt.Sprintf("secret_headers[%d]", headers), "h:"+strings.ToLower(sec.Name)
			headers++
			for _, h := range e.Headers {
				if strings.EqualFold(h.Name, sec.Name) {
					return domain.Invalid(field+".name", "header %s is also in headers: send it once", sec.Name)
				}
			}
		} else {
			vars++
		}
		if seen[key] {
			return domain.Invalid(field+".name", "%s is named twice", sec.Name)
		}
		seen[key] = true
		switch {
		case sec.Value == "" && create:
			return domain.Invalid(field+".value", "is required")
		case sec.Value != "" && len(sec.Value) < 4:
			return domain.Invalid(field+".value", "must be at least 4 characters: a shorter secret could not be masked reliably")
		}
	}
	return nil
}

func (s *Postbacks) ownEndpoint(ctx context.Context, p domain.Principal, id string) (domain.PostbackEndpoint, error) {
	e, err := s.store.GetEndpoint(ctx, id)
	if err != nil {
		return e, err
	}
	if !p.Owns(domain.RolePublisher, e.PublisherID) {
		return domain.PostbackEndpoint{}, domain.Denied("a publisher key may only use its own postback endpoints")
	}
	return e, nil
}

// CreateEndpoint saves an endpoint for a publisher (the caller, or any for
// an admin), refusing unknown template variables by name.
func (s *Postbacks) CreateEndpoint(ctx context.Context, p domain.Principal, e domain.PostbackEndpoint) (domain.PostbackEndpoint, string, error) {
	switch {
	case p.Role == domain.RolePublisher:
		if e.PublisherID != "" && e.PublisherID != p.PartnerID {
			return e, "", domain.Denied("a publisher key may only create its own postback endpoints")
		}
		e.PublisherID = p.PartnerID
	case p.IsAdmin():
		if e.PublisherID == "" {
			return e, "", domain.Invalid("publisher_id", "is required with an admin key")
		}
	default:
		return e, "", domain.Denied("a %s key may not create postback endpoints", p.Role)
	}
	if err := checkTemplates(e); err != nil {
		return e, "", err
	}
	if err := checkSecrets(e, true); err != nil {
		return e, "", err
	}
	if _, err := s.store.GetPublisher(ctx, e.PublisherID); errors.Is(err, domain.ErrNotFound) {
		return e, "", domain.Invalid("publisher_id", "no publisher %q", e.PublisherID)
	} else if err != nil {
		return e, "", err
	}
	if e.OfferID != "" {
		if _, err := s.store.GetOffer(ctx, e.OfferID); errors.Is(err, domain.ErrNotFound) {
			return e, "", domain.Invalid("offer_id", "no offer %q", e.OfferID)
		} else if err != nil {
			return e, "", err
		}
	}
	secret := s.newSecret()
	out, err := s.store.CreateEndpoint(ctx, e, secret)
	return out, secret, err
}

// GetEndpoint returns one of the caller's endpoints.
func (s *Postbacks) GetEndpoint(ctx context.Context, p domain.Principal, id string) (domain.PostbackEndpoint, error) {
	return s.ownEndpoint(ctx, p, id)
}

// ListEndpoints lists the caller's endpoints (all for an admin).
func (s *Postbacks) ListEndpoints(ctx context.Context, p domain.Principal, publisherID, offerID string, state domain.EndpointState, page domain.Page) ([]domain.PostbackEndpoint, string, error) {
	switch p.Role {
	case domain.RoleAdmin:
	case domain.RolePublisher:
		if publisherID != "" && publisherID != p.PartnerID {
			return nil, "", domain.Denied("a publisher key may only list its own postback endpoints")
		}
		publisherID = p.PartnerID
	default:
		return nil, "", domain.Denied("a %s key may not list postback endpoints", p.Role)
	}
	return s.store.ListEndpoints(ctx, publisherID, offerID, state, page)
}

// UpdateEndpoint applies change to an endpoint and saves it; the templates
// are checked again. Setting state enabled re-enables an endpoint that Baton
// disabled after failures.
func (s *Postbacks) UpdateEndpoint(ctx context.Context, p domain.Principal, id string, change func(*domain.PostbackEndpoint) error) (domain.PostbackEndpoint, error) {
	e, err := s.ownEndpoint(ctx, p, id)
	if err != nil {
		return e, err
	}
	before := e.State
	if err := change(&e); err != nil {
		return e, err
	}
	if err := checkTemplates(e); err != nil {
		return e, err
	}
	if err := checkSecrets(e, false); err != nil {
		return e, err
	}
	if e.State == domain.EndpointDisabledFailing && before != domain.EndpointDisabledFailing {
		return e, domain.Invalid("state", "only Baton disables an endpoint for failing; use DISABLED")
	}
	if e.State != before {
		e.StateReason = ""
		if e.State == domain.EndpointDisabled {
			e.StateReason = "disabled by its owner"
		}
	}
	return s.store.UpdateEndpoint(ctx, e)
}

// DeleteEndpoint deletes one of the caller's endpoints.
func (s *Postbacks) DeleteEndpoint(ctx context.Context, p domain.Principal, id string) error {
	if _, err := s.ownEndpoint(ctx, p, id); err != nil {
		return err
	}
	return s.store.DeleteEndpoint(ctx, id)
}

// RotateSecret issues a new signing secret; both are used during overlap.
func (s *Postbacks) RotateSecret(ctx context.Context, p domain.Principal, id string, overlap time.Duration) (domain.PostbackEndpoint, string, time.Time, error) {
	if _, err := s.ownEndpoint(ctx, p, id); err != nil {
		return domain.PostbackEndpoint{}, "", time.Time{}, err
	}
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	secret := s.newSecret()
	e, exp, err := s.store.RotateEndpointSecret(ctx, id, secret, overlap)
	return e, secret, exp, err
}

// RenderInput is a dry run: a saved endpoint or a template, against a real
// conversion or sample values.
type RenderInput struct {
	EndpointID   string
	Endpoint     domain.PostbackEndpoint // used when EndpointID is empty
	ConversionID string
	Sample       *domain.Conversion
	Event        domain.ConversionStatus
}

// RenderResult is what would be sent.
type RenderResult struct {
	Method    string
	URL       string
	Headers   []domain.Header
	Body      string
	Variables map[string]string
}

// Render renders without sending anything. Signatures are computed with a
// placeholder secret: the dry run never reveals the real one.
func (s *Postbacks) Render(ctx context.Context, p domain.Principal, in RenderInput) (RenderResult, error) {
	ep := in.Endpoint
	if in.EndpointID != "" {
		var err error
		if ep, err = s.ownEndpoint(ctx, p, in.EndpointID); err != nil {
			return RenderResult{}, err
		}
	} else {
		if p.Role != domain.RolePublisher && !p.IsAdmin() {
			return RenderResult{}, domain.Denied("a %s key may not render postbacks", p.Role)
		}
		if ep.Method == "" {
			ep.Method = domain.MethodGet
		}
		if err := checkTemplates(ep); err != nil {
			return RenderResult{}, err
		}
	}
	var conv domain.Conversion
	if in.ConversionID != "" {
		c, err := s.store.GetConversion(ctx, in.ConversionID)
		if err != nil {
			return RenderResult{}, err
		}
		if !canRead(p, c) {
			return RenderResult{}, domain.Denied("this key may not read conversion %q", in.ConversionID)
		}
		conv = c
	} else if in.Sample != nil {
		conv = *in.Sample
		if conv.SaleAt.IsZero() {
			conv.SaleAt = s.now() // a sample sale happens now
		}
	}
	event := in.Event
	if event == "" {
		event = conv.Status
		if event == "" {
			event = domain.StatusPending
		}
	}
	now := s.now()
	d := domain.Delivery{ID: "dlv_dry_run", Event: event}
	d.Vars = s.vars(conv, event, d.ID, now)
	method, u, headers, body, err := s.render(ep, d, []string{"whsec_ZHJ5LXJ1bi1wbGFjZWhvbGRlci1zZWNyZXQ="}, now)
	if err != nil {
		return RenderResult{}, domain.Invalid("url_template", "%s", err.Error())
	}
	used := map[string]string{}
	for _, t := range []string{ep.URLTemplate, ep.BodyTemplate} {
		if tpl, err := postback.ParseSecret(t, domain.SecretNames(ep.Secrets)); err == nil {
			for _, name := range tpl.Variables() {
				used[name] = d.Vars[name]
			}
		}
	}
	return RenderResult{Method: method, URL: u, Headers: headers, Body: body, Variables: used}, nil
}

// GetDelivery returns a delivery with its attempts, to its publisher, the
// conversion's advertiser, or an admin.
func (s *Postbacks) GetDelivery(ctx context.Context, p domain.Principal, id string) (domain.Delivery, error) {
	d, err := s.store.GetDelivery(ctx, id)
	if err != nil {
		return d, err
	}
	if !p.Owns(domain.RolePublisher, d.PublisherID) && !p.Owns(domain.RoleAdvertiser, d.AdvertiserID) {
		return domain.Delivery{}, domain.Denied("this key may not read delivery %q", id)
	}
	return forReader(p, d), nil
}

// forReader is a delivery as the caller may see it. The endpoint's owner
// (and an admin) sees every attempt in full (URLs masked when attempted);
// the conversion's advertiser, reading the delivery of a publisher's
// endpoint, sees what it needs: state, times, outcomes and status codes,
// and each URL as scheme, host and path only, without the query (where
// the publisher's parameters and secrets are), the receiver's answer or
// the error text.
func forReader(p domain.Principal, d domain.Delivery) domain.Delivery {
	if p.IsAdmin() || p.Owns(domain.RolePublisher, d.PublisherID) {
		return d
	}
	attempts := make([]domain.Attempt, len(d.Attempts))
	for i, a := range d.Attempts {
		a.URL, a.ResponseExcerpt, a.Error = postback.HostPath(a.URL), "", ""
		attempts[i] = a
	}
	d.Attempts, d.Vars = attempts, nil
	return d
}

// ListDeliveries lists deliveries the caller may see.
func (s *Postbacks) ListDeliveries(ctx context.Context, p domain.Principal, f domain.DeliveryFilter, page domain.Page) ([]domain.Delivery, string, error) {
	if err := scopeToCaller(p, "deliveries", &f.PublisherID, &f.AdvertiserID); err != nil {
		return nil, "", err
	}
	list, next, err := s.store.ListDeliveries(ctx, f, page)
	for i := range list {
		list[i] = forReader(p, list[i])
	}
	return list, next, err
}

// Redeliver queues deliveries again, by ID or every delivery of an endpoint
// in a state (failed by default). It returns how many were queued.
func (s *Postbacks) Redeliver(ctx context.Context, p domain.Principal, ids []string, endpointID string, state domain.DeliveryState, from, to time.Time) (int, error) {
	if endpointID != "" {
		if _, err := s.ownEndpoint(ctx, p, endpointID); err != nil {
			return 0, err
		}
		if state == "" {
			state = domain.DeliveryFailed
		}
		var err error
		if ids, err = s.store.DeliveryIDs(ctx, endpointID, state, from, to, 1000); err != nil {
			return 0, err
		}
	} else {
		for _, id := range ids {
			d, err := s.store.GetDelivery(ctx, id)
			if err != nil {
				return 0, err
			}
			if !p.Owns(domain.RolePublisher, d.PublisherID) && !p.Owns(domain.RoleAdvertiser, d.AdvertiserID) {
				return 0, domain.Denied("this key may not redeliver %q", id)
			}
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.requeue.Requeue(ctx, ids)
}
