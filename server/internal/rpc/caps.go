package rpc

import (
	"context"
	"log/slog"
	"time"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// CapServer implements baton.v1.CapService.
type CapServer struct {
	svc  *service.Caps
	errs errorMapper
}

var _ batonv1connect.CapServiceHandler = (*CapServer)(nil)

// NewCapServer returns the CapService handler.
func NewCapServer(svc *service.Caps, log *slog.Logger) *CapServer {
	return &CapServer{svc: svc, errs: errorMapper{log: log}}
}

var capKinds = map[batonv1.CapKind]domain.CapKind{
	batonv1.CapKind_CAP_KIND_CLICKS: domain.CapClicks, batonv1.CapKind_CAP_KIND_CONVERSIONS: domain.CapConversions,
	batonv1.CapKind_CAP_KIND_PAYOUT: domain.CapPayout,
}

var capPeriods = map[batonv1.CapPeriod]domain.CapPeriod{
	batonv1.CapPeriod_CAP_PERIOD_DAY: domain.PeriodDay, batonv1.CapPeriod_CAP_PERIOD_MONTH: domain.PeriodMonth,
	batonv1.CapPeriod_CAP_PERIOD_TOTAL: domain.PeriodTotal,
}

var controlActions = map[batonv1.ControlAction]domain.SignalAction{
	batonv1.ControlAction_CONTROL_ACTION_RECORD: domain.ActionRecord, batonv1.ControlAction_CONTROL_ACTION_HOLD: domain.ActionHold,
	batonv1.ControlAction_CONTROL_ACTION_REJECT: domain.ActionReject,
}

func reverse[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	capKindNames      = reverse(capKinds)
	capPeriodNames    = reverse(capPeriods)
	controlActionName = reverse(controlActions)
)

func capFromProto(c *batonv1.Cap) domain.Cap {
	action := controlActions[c.GetAction()]
	if action == "" {
		action = domain.ActionReject
	}
	return domain.Cap{PublisherID: c.GetPublisherId(), Kind: capKinds[c.GetKind()], Period: capPeriods[c.GetPeriod()],
		Limit: c.GetLimit(), Currency: c.GetCurrencyCode(), Action: action}
}

func capToProto(c domain.Cap) *batonv1.Cap {
	return &batonv1.Cap{Id: c.ID, PublisherId: c.PublisherID, Kind: capKindNames[c.Kind], Period: capPeriodNames[c.Period],
		Limit: c.Limit, CurrencyCode: c.Currency, Action: controlActionName[c.Action]}
}

func controlsToProto(c domain.OfferControls) *batonv1.OfferControls {
	out := &batonv1.OfferControls{TimeZone: c.TimeZone, MaxConversionsPerClick: uint32(c.MaxConversionsPerClick), //nolint:gosec // validated at save
		MaxConversionsPerIp: uint32(c.MaxConversionsPerIP)} //nolint:gosec // validated at save
	if c.HoldPeriod > 0 {
		out.HoldPeriod = dur(c.HoldPeriod)
	}
	if c.LockPeriod > 0 {
		out.LockPeriod = dur(c.LockPeriod)
	}
	if c.MinClickToConversion > 0 {
		out.MinClickToConversion = dur(c.MinClickToConversion)
	}
	if c.MaxClickToConversion > 0 {
		out.MaxClickToConversion = dur(c.MaxClickToConversion)
	}
	if c.IPWindow > 0 {
		out.IpWindow = dur(c.IPWindow)
	}
	for _, s := range domain.Signals { // a stable order
		if a, ok := c.SignalActions[s]; ok {
			out.SignalActions = append(out.SignalActions, &batonv1.SignalAction{Signal: string(s), Action: controlActionName[a]})
		}
	}
	return out
}

func controlsFromProto(in *batonv1.OfferControls) domain.OfferControls {
	c := domain.OfferControls{TimeZone: in.GetTimeZone(), HoldPeriod: in.GetHoldPeriod().AsDuration(), LockPeriod: in.GetLockPeriod().AsDuration(),
		MinClickToConversion: in.GetMinClickToConversion().AsDuration(), MaxClickToConversion: in.GetMaxClickToConversion().AsDuration(),
		MaxConversionsPerClick: int(in.GetMaxConversionsPerClick()), MaxConversionsPerIP: int(in.GetMaxConversionsPerIp()),
		IPWindow: in.GetIpWindow().AsDuration()}
	for _, sa := range in.GetSignalActions() {
		if c.SignalActions == nil {
			c.SignalActions = map[domain.Signal]domain.SignalAction{}
		}
		a := controlActions[sa.GetAction()]
		if a == "" {
			a = domain.ActionRecord
		}
		c.SignalActions[domain.Signal(sa.GetSignal())] = a
	}
	return c
}

// SetCaps implements baton.v1.CapService.
func (s *CapServer) SetCaps(ctx context.Context, req *batonv1.SetCapsRequest) (*batonv1.SetCapsResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.SetCapsResponse, error) {
		list := each(req.GetCaps(), capFromProto)
		out, err := s.svc.SetCaps(ctx, p, req.GetOfferId(), list)
		return &batonv1.SetCapsResponse{Caps: each(out, capToProto)}, err
	})
}

// ListCaps implements baton.v1.CapService.
func (s *CapServer) ListCaps(ctx context.Context, req *batonv1.ListCapsRequest) (*batonv1.ListCapsResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.ListCapsResponse, error) {
		out, err := s.svc.ListCaps(ctx, p, req.GetOfferId())
		return &batonv1.ListCapsResponse{Caps: each(out, capToProto)}, err
	})
}

// GetCapUsage implements baton.v1.CapService.
func (s *CapServer) GetCapUsage(ctx context.Context, req *batonv1.GetCapUsageRequest) (*batonv1.GetCapUsageResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetCapUsageResponse, error) {
		var at time.Time // zero: now
		if req.GetTime() != nil {
			at = req.GetTime().AsTime()
		}
		out, err := s.svc.CapUsage(ctx, p, req.GetOfferId(), at)
		return &batonv1.GetCapUsageResponse{Usage: each(out, func(u domain.CapUsage) *batonv1.CapUsage {
			return &batonv1.CapUsage{Cap: capToProto(u.Cap), PeriodStartTime: ts(u.PeriodStart), Used: u.Used}
		})}, err
	})
}

// SetOfferControls implements baton.v1.CapService.
func (s *CapServer) SetOfferControls(ctx context.Context, req *batonv1.SetOfferControlsRequest) (*batonv1.SetOfferControlsResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.SetOfferControlsResponse, error) {
		o, err := s.svc.SetOfferControls(ctx, p, req.GetOfferId(), controlsFromProto(req.GetControls()))
		return &batonv1.SetOfferControlsResponse{Controls: controlsToProto(o.Controls)}, err
	})
}

// GetSignalReport implements baton.v1.CapService.
func (s *CapServer) GetSignalReport(ctx context.Context, req *batonv1.GetSignalReportRequest) (*batonv1.GetSignalReportResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetSignalReportResponse, error) {
		f := domain.ReportFilter{From: req.GetStartTime().AsTime(), To: req.GetEndTime().AsTime(), TimeZone: req.GetTimeZone(),
			OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId()}
		out, err := s.svc.SignalReport(ctx, p, f)
		return &batonv1.GetSignalReportResponse{Rows: each(out, func(c domain.SignalCount) *batonv1.SignalCount {
			return &batonv1.SignalCount{Day: c.Day, OfferId: c.OfferID, PublisherId: c.PublisherID, Signal: string(c.Signal), Conversions: c.Conversions}
		})}, err
	})
}
