package rpc

import (
	"context"
	"log/slog"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/partners"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/service"
)

// PartnerServer implements baton.v1.PartnerService.
type PartnerServer struct {
	svc   *service.Partners
	check *service.Checker
	errs  errorMapper
}

var _ batonv1connect.PartnerServiceHandler = (*PartnerServer)(nil)

// NewPartnerServer returns the PartnerService implementation.
func NewPartnerServer(svc *service.Partners, check *service.Checker, log *slog.Logger) *PartnerServer {
	return &PartnerServer{svc: svc, check: check, errs: errorMapper{log: log}}
}

var dialectNames = enumMap[postback.Dialect, batonv1.TemplateDialect]{
	postback.DialectBrace: batonv1.TemplateDialect_TEMPLATE_DIALECT_BRACE,
	postback.DialectCATS:  batonv1.TemplateDialect_TEMPLATE_DIALECT_CATS,
	postback.DialectCAKE:  batonv1.TemplateDialect_TEMPLATE_DIALECT_CAKE,
}

var roleNames = enumMap[partners.Role, batonv1.PartnerRole]{
	partners.Upstream:   batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM,
	partners.Downstream: batonv1.PartnerRole_PARTNER_ROLE_DOWNSTREAM,
}

var partnerMethods = map[string]batonv1.PostbackMethod{
	"GET":       batonv1.PostbackMethod_POSTBACK_METHOD_GET,
	"POST_FORM": batonv1.PostbackMethod_POSTBACK_METHOD_POST_FORM,
}

func systemToProto(s partners.System) *batonv1.PartnerSystem {
	out := &batonv1.PartnerSystem{
		Id: s.ID, Name: s.Name, Summary: s.Summary, Dialect: dialectNames[s.Dialect],
		ClickIdParam: s.ClickIDParam, SubIdParams: s.SubIDParams, ClickIdMacro: s.ClickIDMacro,
		PostbackMethod: partnerMethods[s.Method], PostbackUrlTemplate: s.URLTemplate, PostbackBodyTemplate: s.BodyTemplate,
		DownstreamClickIdParam: s.DownstreamClickIDParam, KickbackUrlTemplate: s.KickbackTemplate, Assumptions: s.Assumptions,
	}
	for _, r := range s.Roles {
		out.Roles = append(out.Roles, roleNames[r])
	}
	for _, st := range s.Statuses {
		out.Statuses = append(out.Statuses, &batonv1.PartnerStatus{Event: eventNames[domain.ConversionStatus(st.Event)], Spelling: st.Spelling, Sent: st.Sent})
	}
	for _, i := range s.Inputs {
		out.Inputs = append(out.Inputs, &batonv1.PartnerInput{Name: i.Name, Description: i.Description, DefaultValue: i.Default, Secret: i.Secret})
	}
	for _, d := range s.Docs {
		out.Docs = append(out.Docs, &batonv1.PartnerDoc{Title: d.Title, Url: d.URL})
	}
	return out
}

// ListPartnerSystems lists the catalog.
func (s *PartnerServer) ListPartnerSystems(ctx context.Context, _ *batonv1.ListPartnerSystemsRequest) (*batonv1.ListPartnerSystemsResponse, error) {
	return unary(ctx, s.errs, func(domain.Principal) (*batonv1.ListPartnerSystemsResponse, error) {
		return &batonv1.ListPartnerSystemsResponse{Systems: each(s.svc.Systems(), systemToProto)}, nil
	})
}

// GetPartnerPreset fills the create requests for connecting a system.
func (s *PartnerServer) GetPartnerPreset(ctx context.Context, req *batonv1.GetPartnerPresetRequest) (*batonv1.GetPartnerPresetResponse, error) {
	return unary(ctx, s.errs, func(domain.Principal) (*batonv1.GetPartnerPresetResponse, error) {
		role := roleNames.from(req.GetRole())
		p, err := s.svc.Preset(req.GetSystemId(), role, req.GetInputs(), req.GetNetworkId(), req.GetToken())
		if err != nil {
			return nil, err
		}
		return presetToProto(req, role, p), nil
	})
}

func presetToProto(req *batonv1.GetPartnerPresetRequest, role partners.Role, p partners.Preset) *batonv1.GetPartnerPresetResponse {
	name := req.GetName()
	if name == "" {
		name = p.Name
	}
	res := &batonv1.GetPartnerPresetResponse{System: systemToProto(p.System)}
	if role == partners.Upstream {
		res.Publisher = &batonv1.CreatePublisherRequest{Name: name, Kind: batonv1.PublisherKind_PUBLISHER_KIND_NETWORK, SubIdParams: p.SubIDParams}
		for _, ep := range p.Endpoints {
			r := &batonv1.CreatePostbackEndpointRequest{PublisherId: req.GetPublisherId(), OfferId: req.GetOfferId(),
				Method: partnerMethods[ep.Method], UrlTemplate: ep.URLTemplate, BodyTemplate: ep.BodyTemplate}
			for _, sec := range ep.Secrets {
				r.Secrets = append(r.Secrets, &batonv1.EndpointSecret{Name: sec.Name, Value: sec.Value})
			}
			for _, e := range ep.Events {
				r.Events = append(r.Events, eventNames[domain.ConversionStatus(e)])
			}
			res.Endpoints = append(res.Endpoints, r)
		}
		return res
	}
	d := service.KickbackParamDefaults
	res.Network = &batonv1.CreateNetworkRequest{Name: name, KickbackParams: &batonv1.KickbackParams{
		ClickId: d.ClickID, OrderId: d.OrderID, Amount: d.Amount, Currency: d.Currency, Status: d.Status,
		DownstreamId: d.DownstreamID, Token: d.Token, AmountMinor: d.AmountMinor, UserName: d.UserName, OrderId_2: d.OrderID2,
	}}
	res.Downstream = &batonv1.DownstreamLink{ClickIdParam: p.DownstreamClickIDParam, NetworkId: req.GetNetworkId()}
	res.KickbackUrl = p.KickbackURL
	return res
}

// ConvertTemplate rewrites a template into another dialect.
func (s *PartnerServer) ConvertTemplate(ctx context.Context, req *batonv1.ConvertTemplateRequest) (*batonv1.ConvertTemplateResponse, error) {
	return unary(ctx, s.errs, func(domain.Principal) (*batonv1.ConvertTemplateResponse, error) {
		out, err := s.svc.Convert(req.GetTemplate(), dialectNames.from(req.GetTo()))
		if err != nil {
			return nil, err
		}
		return &batonv1.ConvertTemplateResponse{Template: out}, nil
	})
}

// BuildMediaUrl appends a system's click-ID parameter to a click URL.
func (s *PartnerServer) BuildMediaUrl(ctx context.Context, req *batonv1.BuildMediaUrlRequest) (*batonv1.BuildMediaUrlResponse, error) {
	return unary(ctx, s.errs, func(domain.Principal) (*batonv1.BuildMediaUrlResponse, error) {
		u, note, err := s.svc.MediaURL(req.GetClickUrl(), req.GetSystemId())
		if err != nil {
			return nil, err
		}
		return &batonv1.BuildMediaUrlResponse{Url: u, Note: note}, nil
	})
}

// CheckIntegration runs the integration check of an upstream partner (or,
// with network_id, of a downstream network as far as it can be run).
func (s *PartnerServer) CheckIntegration(ctx context.Context, req *batonv1.CheckIntegrationRequest) (*batonv1.CheckIntegrationResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CheckIntegrationResponse, error) {
		var r service.CheckResult
		var err error
		if req.GetNetworkId() != "" {
			r, err = s.check.CheckNetwork(ctx, p, req.GetNetworkId(), req.GetLinkId())
		} else {
			r, err = s.check.Check(ctx, p, req.GetPublisherId(), req.GetLinkId(), req.GetEndpointId())
		}
		if err != nil {
			return nil, err
		}
		res := &batonv1.CheckIntegrationResponse{Ok: r.OK, ClickId: r.ClickID, ConversionIds: r.ConversionIDs}
		for _, h := range r.Hops {
			res.Hops = append(res.Hops, &batonv1.CheckHop{Name: h.Name, Ok: h.OK, Detail: h.Detail, Fix: h.Fix, EndpointId: h.EndpointID})
		}
		return res, nil
	})
}
