package rpc

import (
	"context"
	"errors"
	"log/slog"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// ClickServer implements baton.v1.ClickService.
type ClickServer struct {
	svc  *service.Clicks
	errs errorMapper
}

var _ batonv1connect.ClickServiceHandler = (*ClickServer)(nil)

// NewClickServer returns the ClickService implementation.
func NewClickServer(svc *service.Clicks, log *slog.Logger) *ClickServer {
	return &ClickServer{svc: svc, errs: errorMapper{log: log}}
}

func (s *ClickServer) linkToProto(ctx context.Context, l domain.TrackingLink) *batonv1.TrackingLink {
	return &batonv1.TrackingLink{
		Id: l.ID, OfferId: l.OfferID, PublisherId: l.PublisherID, SiteId: l.SiteID,
		Url: s.svc.LinkURL(ctx, l), CreateTime: ts(l.CreatedAt),
	}
}

var clickFlagNames = []struct {
	flag domain.ClickFlag
	pb   batonv1.ClickFlag
}{
	{domain.FlagDuplicate, batonv1.ClickFlag_CLICK_FLAG_DUPLICATE},
	{domain.FlagBot, batonv1.ClickFlag_CLICK_FLAG_BOT},
	{domain.FlagSubIDTruncated, batonv1.ClickFlag_CLICK_FLAG_SUB_ID_TRUNCATED},
	{domain.FlagSubIDMalformed, batonv1.ClickFlag_CLICK_FLAG_SUB_ID_MALFORMED},
	{domain.FlagDeepLinkRefused, batonv1.ClickFlag_CLICK_FLAG_DEEP_LINK_REFUSED},
	{domain.FlagOfferPaused, batonv1.ClickFlag_CLICK_FLAG_OFFER_PAUSED},
	{domain.FlagQueryCut, batonv1.ClickFlag_CLICK_FLAG_QUERY_CUT},
	{domain.FlagCancelled, batonv1.ClickFlag_CLICK_FLAG_CANCELLED},
	{domain.FlagBlockedIP, batonv1.ClickFlag_CLICK_FLAG_BLOCKED_IP},
	{domain.FlagBlockedUserAgent, batonv1.ClickFlag_CLICK_FLAG_BLOCKED_USER_AGENT},
	{domain.FlagBlockedSubID, batonv1.ClickFlag_CLICK_FLAG_BLOCKED_SUB_ID},
}

// clickReasonCounts lists clicks by reason, in domain.ClickReasons order.
func clickReasonCounts(m map[string]int64) []*batonv1.ReasonCount {
	var out []*batonv1.ReasonCount
	for _, r := range domain.ClickReasons {
		if n := m[r.Name]; n > 0 {
			out = append(out, &batonv1.ReasonCount{Reason: r.Name, Clicks: n})
		}
	}
	return out
}

func clickToProto(c domain.Click) *batonv1.Click {
	out := &batonv1.Click{
		Id: c.ID, LinkId: c.LinkID, OfferId: c.OfferID, PublisherId: c.PublisherID, SiteId: c.SiteID,
		SubIds: c.SubIDs, RedirectUrl: c.RedirectURL, DeepLink: c.DeepLink, Ip: c.IP, UserAgent: c.UserAgent,
		Referer: c.Referer, Unique: c.Unique, CreateTime: ts(c.CreatedAt), ExpireTime: ts(c.ExpiresAt),
		TraceId: traceIDOf(c.TraceParent), Reasons: c.Flags.Reasons(),
	}
	switch c.Source {
	case domain.ClickFromRedirect:
		out.Source = batonv1.ClickSource_CLICK_SOURCE_REDIRECT
	case domain.ClickFromAPI:
		out.Source = batonv1.ClickSource_CLICK_SOURCE_API
	}
	if c.UpstreamID != "" {
		out.Upstream = &batonv1.IdHop{Id: c.UpstreamID, Param: c.UpstreamParam, Issuer: c.PublisherID}
	}
	if c.DownstreamParam != "" {
		out.Downstream = &batonv1.IdHop{Id: c.ID, Param: c.DownstreamParam, Issuer: "baton"}
	}
	for _, f := range clickFlagNames {
		if c.Flags&f.flag != 0 {
			out.Flags = append(out.Flags, f.pb)
		}
	}
	return out
}

// CreateTrackingLink implements baton.v1.ClickService.
func (s *ClickServer) CreateTrackingLink(ctx context.Context, req *batonv1.CreateTrackingLinkRequest) (*batonv1.CreateTrackingLinkResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateTrackingLinkResponse, error) {
		l, err := s.svc.CreateLink(ctx, p, domain.TrackingLink{OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId(), SiteID: req.GetSiteId()})
		if err != nil {
			return nil, err
		}
		return &batonv1.CreateTrackingLinkResponse{Link: s.linkToProto(ctx, l)}, nil
	})
}

// ListTrackingLinks implements baton.v1.ClickService.
func (s *ClickServer) ListTrackingLinks(ctx context.Context, req *batonv1.ListTrackingLinksRequest) (*batonv1.ListTrackingLinksResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListTrackingLinksResponse, string, error) {
		list, next, err := s.svc.ListLinks(ctx, p, req.GetOfferId(), req.GetPublisherId(), page)
		if err != nil {
			return nil, "", err
		}
		out := &batonv1.ListTrackingLinksResponse{}
		for _, l := range list {
			out.Links = append(out.Links, s.linkToProto(ctx, l))
		}
		return out, next, nil
	})
}

// RecordClick implements baton.v1.ClickService.
func (s *ClickServer) RecordClick(ctx context.Context, req *batonv1.RecordClickRequest) (*batonv1.RecordClickResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RecordClickResponse, error) {
		in := service.ClickInput{
			LinkID: req.GetLinkId(), SubIDs: req.GetSubIds(), DeepLink: req.GetDeepLink(),
			IP: req.GetIp(), UserAgent: req.GetUserAgent(), Referer: req.GetReferer(),
		}
		if req.GetClickTime() != nil {
			in.At = req.GetClickTime().AsTime()
		}
		res, err := s.svc.RecordForPartner(ctx, p, in)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, &domain.Error{Kind: domain.ErrNotFound, Public: "no tracking link " + req.GetLinkId(), Cause: err}
		}
		if err != nil {
			return nil, err
		}
		return &batonv1.RecordClickResponse{Click: clickToProto(res.Click), RedirectUrl: res.RedirectURL}, nil
	})
}

// GetClick implements baton.v1.ClickService.
func (s *ClickServer) GetClick(ctx context.Context, req *batonv1.GetClickRequest) (*batonv1.GetClickResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetClickResponse, error) {
		c, err := s.svc.GetClick(ctx, p, req.GetId())
		return &batonv1.GetClickResponse{Click: clickToProto(c)}, err
	})
}

// ListClicks implements baton.v1.ClickService.
func (s *ClickServer) ListClicks(ctx context.Context, req *batonv1.ListClicksRequest) (*batonv1.ListClicksResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListClicksResponse, string, error) {
		f := domain.ClickFilter{
			OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId(), SiteID: req.GetSiteId(),
			LinkID: req.GetLinkId(), UpstreamID: req.GetUpstreamId(), UniqueOnly: req.GetUniqueOnly(),
		}
		if tr := req.GetTimeRange(); tr != nil {
			if tr.GetStart() != nil {
				f.From = tr.GetStart().AsTime()
			}
			if tr.GetEnd() != nil {
				f.To = tr.GetEnd().AsTime()
			}
		}
		list, next, err := s.svc.ListClicks(ctx, p, f, page)
		return &batonv1.ListClicksResponse{Clicks: each(list, clickToProto)}, next, err
	})
}
