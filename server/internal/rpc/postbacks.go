package rpc

import (
	"context"
	"log/slog"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/types/known/durationpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// PostbackServer implements baton.v1.PostbackService.
type PostbackServer struct {
	svc       *service.Postbacks
	validator protovalidate.Validator
	errs      errorMapper
}

var _ batonv1connect.PostbackServiceHandler = (*PostbackServer)(nil)

// NewPostbackServer returns the PostbackService implementation.
func NewPostbackServer(svc *service.Postbacks, v protovalidate.Validator, log *slog.Logger) *PostbackServer {
	return &PostbackServer{svc: svc, validator: v, errs: errorMapper{log: log}}
}

var eventNames = enumMap[domain.ConversionStatus, batonv1.PostbackEvent]{
	domain.StatusPending:  batonv1.PostbackEvent_POSTBACK_EVENT_PENDING,
	domain.StatusApproved: batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED,
	domain.StatusRejected: batonv1.PostbackEvent_POSTBACK_EVENT_REJECTED,
	domain.StatusReversed: batonv1.PostbackEvent_POSTBACK_EVENT_REVERSED,
}

func eventFromProto(e batonv1.PostbackEvent) domain.ConversionStatus { return eventNames.from(e) }

var methodNames = enumMap[domain.PostbackMethod, batonv1.PostbackMethod]{
	domain.MethodGet:      batonv1.PostbackMethod_POSTBACK_METHOD_GET,
	domain.MethodPostForm: batonv1.PostbackMethod_POSTBACK_METHOD_POST_FORM,
	domain.MethodPostJSON: batonv1.PostbackMethod_POSTBACK_METHOD_POST_JSON,
}

func methodFromProto(m batonv1.PostbackMethod) domain.PostbackMethod { return methodNames.from(m) }

var endpointStates = enumMap[domain.EndpointState, batonv1.EndpointState]{
	domain.EndpointEnabled:         batonv1.EndpointState_ENDPOINT_STATE_ENABLED,
	domain.EndpointDisabled:        batonv1.EndpointState_ENDPOINT_STATE_DISABLED,
	domain.EndpointDisabledFailing: batonv1.EndpointState_ENDPOINT_STATE_DISABLED_FAILING,
}

func endpointStateFromProto(s batonv1.EndpointState) domain.EndpointState {
	return endpointStates.from(s)
}

var deliveryStates = enumMap[domain.DeliveryState, batonv1.DeliveryState]{
	domain.DeliveryPending:   batonv1.DeliveryState_DELIVERY_STATE_PENDING,
	domain.DeliverySucceeded: batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED,
	domain.DeliveryFailed:    batonv1.DeliveryState_DELIVERY_STATE_FAILED,
	domain.DeliveryCancelled: batonv1.DeliveryState_DELIVERY_STATE_CANCELLED,
}

func deliveryStateFromProto(s batonv1.DeliveryState) domain.DeliveryState {
	return deliveryStates.from(s)
}

var attemptOutcomes = map[string]batonv1.AttemptOutcome{
	"success":          batonv1.AttemptOutcome_ATTEMPT_OUTCOME_SUCCESS,
	"retryable_status": batonv1.AttemptOutcome_ATTEMPT_OUTCOME_RETRYABLE_STATUS,
	"refused":          batonv1.AttemptOutcome_ATTEMPT_OUTCOME_REFUSED,
	"network_error":    batonv1.AttemptOutcome_ATTEMPT_OUTCOME_NETWORK_ERROR,
	"timeout":          batonv1.AttemptOutcome_ATTEMPT_OUTCOME_TIMEOUT,
	"blocked_address":  batonv1.AttemptOutcome_ATTEMPT_OUTCOME_BLOCKED_ADDRESS,
}

func endpointToProto(e domain.PostbackEndpoint) *batonv1.PostbackEndpoint {
	out := &batonv1.PostbackEndpoint{
		Id: e.ID, PublisherId: e.PublisherID, OfferId: e.OfferID, Method: methodNames[e.Method], UrlTemplate: e.URLTemplate,
		BodyTemplate: e.BodyTemplate, SignatureParam: e.SignatureParam, Test: e.Test, State: endpointStates[e.State],
		StateReason: e.StateReason, SecretHint: e.SecretHint, CreateTime: ts(e.CreatedAt), UpdateTime: ts(e.UpdatedAt),
	}
	for _, ev := range e.Events {
		out.Events = append(out.Events, eventNames[ev])
	}
	for _, h := range e.Headers {
		out.Headers = append(out.Headers, &batonv1.Header{Name: h.Name, Value: h.Value})
	}
	// Sealed secrets: names only, never a value.
	for _, sec := range e.Secrets {
		if sec.Header {
			out.SecretHeaders = append(out.SecretHeaders, &batonv1.Header{Name: sec.Name})
		} else {
			out.Secrets = append(out.Secrets, &batonv1.EndpointSecret{Name: sec.Name})
		}
	}
	return out
}

func endpointFromProto(in *batonv1.PostbackEndpoint, e *domain.PostbackEndpoint) {
	e.OfferID, e.Method, e.URLTemplate, e.BodyTemplate = in.GetOfferId(), methodFromProto(in.GetMethod()), in.GetUrlTemplate(), in.GetBodyTemplate()
	e.SignatureParam, e.Test, e.State = in.GetSignatureParam(), in.GetTest(), endpointStateFromProto(in.GetState())
	e.Events, e.Headers = nil, nil
	for _, ev := range in.GetEvents() {
		e.Events = append(e.Events, eventFromProto(ev))
	}
	for _, h := range in.GetHeaders() {
		e.Headers = append(e.Headers, domain.Header{Name: h.GetName(), Value: h.GetValue()})
	}
	e.Secrets = nil
	for _, sec := range in.GetSecrets() {
		e.Secrets = append(e.Secrets, domain.EndpointSecret{Name: sec.GetName(), Value: sec.GetValue()})
	}
	for _, h := range in.GetSecretHeaders() {
		e.Secrets = append(e.Secrets, domain.EndpointSecret{Name: h.GetName(), Header: true, Value: h.GetValue()})
	}
}

func attemptToProto(a domain.Attempt) *batonv1.Attempt {
	return &batonv1.Attempt{
		Number: int32(a.Number), Time: ts(a.At), Url: a.URL, StatusCode: int32(a.StatusCode), Outcome: attemptOutcomes[a.Outcome],
		Latency: durationpb.New(a.Latency), ResponseExcerpt: a.ResponseExcerpt, Error: a.Error,
	}
}

func deliveryToProto(d domain.Delivery, all bool) *batonv1.Delivery {
	out := &batonv1.Delivery{
		Id: d.ID, EndpointId: d.EndpointID, PublisherId: d.PublisherID, ConversionId: d.ConversionID, Event: eventNames[d.Event],
		State: deliveryStates[d.State], AttemptCount: int32(d.AttemptCount), Test: d.Test, CreateTime: ts(d.CreatedAt), UpdateTime: ts(d.UpdatedAt),
		TraceId: traceIDOf(d.TraceParent),
	}
	if d.NextAttemptAt != nil && d.State == domain.DeliveryPending {
		out.NextAttemptTime = ts(*d.NextAttemptAt)
	}
	if n := len(d.Attempts); n > 0 {
		out.LastAttempt = attemptToProto(d.Attempts[n-1])
	}
	if all {
		for _, a := range d.Attempts {
			out.Attempts = append(out.Attempts, attemptToProto(a))
		}
	}
	return out
}

// CreatePostbackEndpoint implements baton.v1.PostbackService.
func (s *PostbackServer) CreatePostbackEndpoint(ctx context.Context, req *batonv1.CreatePostbackEndpointRequest) (*batonv1.CreatePostbackEndpointResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreatePostbackEndpointResponse, error) {
		e := domain.PostbackEndpoint{PublisherID: req.GetPublisherId()}
		endpointFromProto(&batonv1.PostbackEndpoint{
			OfferId: req.GetOfferId(), Events: req.GetEvents(), Method: req.GetMethod(), UrlTemplate: req.GetUrlTemplate(),
			BodyTemplate: req.GetBodyTemplate(), Headers: req.GetHeaders(), SignatureParam: req.GetSignatureParam(), Test: req.GetTest(),
			Secrets: req.GetSecrets(), SecretHeaders: req.GetSecretHeaders(),
		}, &e)
		out, secret, err := s.svc.CreateEndpoint(ctx, p, e)
		if err != nil {
			return nil, err
		}
		return &batonv1.CreatePostbackEndpointResponse{Endpoint: endpointToProto(out), Secret: secret}, nil
	})
}

// GetPostbackEndpoint implements baton.v1.PostbackService.
func (s *PostbackServer) GetPostbackEndpoint(ctx context.Context, req *batonv1.GetPostbackEndpointRequest) (*batonv1.GetPostbackEndpointResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetPostbackEndpointResponse, error) {
		e, err := s.svc.GetEndpoint(ctx, p, req.GetId())
		return &batonv1.GetPostbackEndpointResponse{Endpoint: endpointToProto(e)}, err
	})
}

// ListPostbackEndpoints implements baton.v1.PostbackService.
func (s *PostbackServer) ListPostbackEndpoints(ctx context.Context, req *batonv1.ListPostbackEndpointsRequest) (*batonv1.ListPostbackEndpointsResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListPostbackEndpointsResponse, string, error) {
		list, next, err := s.svc.ListEndpoints(ctx, p, req.GetPublisherId(), req.GetOfferId(), endpointStateFromProto(req.GetState()), page)
		return &batonv1.ListPostbackEndpointsResponse{Endpoints: each(list, endpointToProto)}, next, err
	})
}

// UpdatePostbackEndpoint implements baton.v1.PostbackService.
func (s *PostbackServer) UpdatePostbackEndpoint(ctx context.Context, req *batonv1.UpdatePostbackEndpointRequest) (*batonv1.UpdatePostbackEndpointResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdatePostbackEndpointResponse, error) {
		e, err := s.svc.UpdateEndpoint(ctx, p, req.GetEndpoint().GetId(), func(e *domain.PostbackEndpoint) error {
			cur := endpointToProto(*e)
			if err := applyMask(cur, req.GetEndpoint(), req.GetUpdateMask()); err != nil {
				return err
			}
			if err := validateAs(s.validator, &batonv1.CreatePostbackEndpointRequest{
				OfferId: cur.GetOfferId(), Events: cur.GetEvents(), Method: cur.GetMethod(), UrlTemplate: cur.GetUrlTemplate(),
				BodyTemplate: cur.GetBodyTemplate(), Headers: cur.GetHeaders(), SignatureParam: cur.GetSignatureParam(), Test: cur.GetTest(),
				Secrets: cur.GetSecrets(), SecretHeaders: cur.GetSecretHeaders(),
			}, "endpoint"); err != nil {
				return err
			}
			endpointFromProto(cur, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdatePostbackEndpointResponse{Endpoint: endpointToProto(e)}, nil
	})
}

// DeletePostbackEndpoint implements baton.v1.PostbackService.
func (s *PostbackServer) DeletePostbackEndpoint(ctx context.Context, req *batonv1.DeletePostbackEndpointRequest) (*batonv1.DeletePostbackEndpointResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.DeletePostbackEndpointResponse, error) {
		if err := s.svc.DeleteEndpoint(ctx, p, req.GetId()); err != nil {
			return nil, err
		}
		return &batonv1.DeletePostbackEndpointResponse{}, nil
	})
}

// RotatePostbackEndpointSecret implements baton.v1.PostbackService.
func (s *PostbackServer) RotatePostbackEndpointSecret(ctx context.Context, req *batonv1.RotatePostbackEndpointSecretRequest) (*batonv1.RotatePostbackEndpointSecretResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RotatePostbackEndpointSecretResponse, error) {
		e, secret, exp, err := s.svc.RotateSecret(ctx, p, req.GetId(), req.GetOverlap().AsDuration())
		if err != nil {
			return nil, err
		}
		return &batonv1.RotatePostbackEndpointSecretResponse{Endpoint: endpointToProto(e), Secret: secret, PreviousSecretExpireTime: ts(exp)}, nil
	})
}

// RenderPostback implements baton.v1.PostbackService.
func (s *PostbackServer) RenderPostback(ctx context.Context, req *batonv1.RenderPostbackRequest) (*batonv1.RenderPostbackResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RenderPostbackResponse, error) {
		in := service.RenderInput{EndpointID: req.GetEndpointId(), ConversionID: req.GetConversionId(), Event: eventFromProto(req.GetEvent())}
		if in.EndpointID == "" {
			in.Endpoint = domain.PostbackEndpoint{URLTemplate: req.GetUrlTemplate(), BodyTemplate: req.GetBodyTemplate(), Method: methodFromProto(req.GetMethod())}
		}
		if sm := req.GetSample(); sm != nil {
			c := &domain.Conversion{ClickID: sm.GetClickId(), SubIDs: sm.GetSubIds(), OrderID: sm.GetOrderId(), OrderID2: sm.GetOrderId_2(),
				OfferID: sm.GetOfferId(), PublisherID: sm.GetPublisherId(), Status: statusFromProto(sm.GetStatus())}
			if a := sm.GetAmount(); a != nil {
				c.Amount = domain.Money{Currency: a.GetCurrencyCode(), Minor: a.GetAmountMinor()}
			}
			if cm := sm.GetCommission(); cm != nil {
				c.Commission = domain.Money{Currency: cm.GetCurrencyCode(), Minor: cm.GetAmountMinor()}
			}
			if len(c.SubIDs) > 0 {
				c.UpstreamID = c.SubIDs[0]
			}
			in.Sample = c
		}
		r, err := s.svc.Render(ctx, p, in)
		if err != nil {
			return nil, err
		}
		out := &batonv1.RenderPostbackResponse{Method: r.Method, Url: r.URL, Body: r.Body, Variables: r.Variables}
		for _, h := range r.Headers {
			out.Headers = append(out.Headers, &batonv1.Header{Name: h.Name, Value: h.Value})
		}
		return out, nil
	})
}

// ListDeliveries implements baton.v1.PostbackService.
func (s *PostbackServer) ListDeliveries(ctx context.Context, req *batonv1.ListDeliveriesRequest) (*batonv1.ListDeliveriesResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListDeliveriesResponse, string, error) {
		f := domain.DeliveryFilter{EndpointID: req.GetEndpointId(), PublisherID: req.GetPublisherId(), ConversionID: req.GetConversionId(),
			State: deliveryStateFromProto(req.GetState()), Event: eventFromProto(req.GetEvent())}
		f.From, f.To = timeRange(req.GetTimeRange())
		list, next, err := s.svc.ListDeliveries(ctx, p, f, page)
		if err != nil {
			return nil, "", err
		}
		out := &batonv1.ListDeliveriesResponse{}
		for _, d := range list {
			out.Deliveries = append(out.Deliveries, deliveryToProto(d, false))
		}
		return out, next, nil
	})
}

// GetDelivery implements baton.v1.PostbackService.
func (s *PostbackServer) GetDelivery(ctx context.Context, req *batonv1.GetDeliveryRequest) (*batonv1.GetDeliveryResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetDeliveryResponse, error) {
		d, err := s.svc.GetDelivery(ctx, p, req.GetId())
		if err != nil {
			return nil, err
		}
		return &batonv1.GetDeliveryResponse{Delivery: deliveryToProto(d, true)}, nil
	})
}

// Redeliver implements baton.v1.PostbackService.
func (s *PostbackServer) Redeliver(ctx context.Context, req *batonv1.RedeliverRequest) (*batonv1.RedeliverResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RedeliverResponse, error) {
		from, to := timeRange(req.GetTimeRange())
		n, err := s.svc.Redeliver(ctx, p, req.GetDeliveryIds(), req.GetEndpointId(), deliveryStateFromProto(req.GetState()), from, to)
		return &batonv1.RedeliverResponse{QueuedCount: int32(n)}, err
	})
}
