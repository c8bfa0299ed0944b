package rpc

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/traces"
)

// ConversionServer implements baton.v1.ConversionService and
// baton.v1.AttributionService (they share the use cases).
type ConversionServer struct {
	svc     *service.Conversions
	reports service.ReportStore
	fc2     *service.FC2
	errs    errorMapper
	traces  *traces.Jaeger // GetTrace; nil without BATON_JAEGER_URL
}

var (
	_ batonv1connect.ConversionServiceHandler  = (*ConversionServer)(nil)
	_ batonv1connect.AttributionServiceHandler = (*ConversionServer)(nil)
)

// NewConversionServer returns the ConversionService and AttributionService
// implementation.
func NewConversionServer(svc *service.Conversions, reports service.ReportStore, fc2 *service.FC2, log *slog.Logger) *ConversionServer {
	return &ConversionServer{svc: svc, reports: reports, fc2: fc2, errs: errorMapper{log: log}}
}

// enumMap maps domain values to proto enum values; from is the reverse
// lookup (the zero domain value when absent, i.e. "unspecified").
type enumMap[D comparable, P comparable] map[D]P

func (m enumMap[D, P]) from(p P) D {
	for d, v := range m {
		if v == p {
			return d
		}
	}
	var zero D
	return zero
}

var statusNames = enumMap[domain.ConversionStatus, batonv1.ConversionStatus]{
	domain.StatusPending:  batonv1.ConversionStatus_CONVERSION_STATUS_PENDING,
	domain.StatusApproved: batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED,
	domain.StatusRejected: batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED,
	domain.StatusReversed: batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED,
}

func statusFromProto(s batonv1.ConversionStatus) domain.ConversionStatus { return statusNames.from(s) }

var sourceNames = enumMap[domain.ConversionSource, batonv1.ConversionSource]{
	domain.SourceAPI:        batonv1.ConversionSource_CONVERSION_SOURCE_API,
	domain.SourcePixel:      batonv1.ConversionSource_CONVERSION_SOURCE_PIXEL,
	domain.SourceServerPost: batonv1.ConversionSource_CONVERSION_SOURCE_SERVER_POST,
	domain.SourceKickback:   batonv1.ConversionSource_CONVERSION_SOURCE_KICKBACK,
	domain.SourceImport:     batonv1.ConversionSource_CONVERSION_SOURCE_IMPORT,
}

func sourceFromProto(s batonv1.ConversionSource) domain.ConversionSource { return sourceNames.from(s) }

// refusalCodes maps each refusal code to the contract's enum value of the
// same name (bad_signature ↔ REFUSAL_CODE_BAD_SIGNATURE), so Refusal.code
// and Refusal.reason cannot disagree. TestRefusalCodesMatchTheContract
// checks that the two sets are the same.
var refusalCodes = func() enumMap[domain.RefusalCode, batonv1.RefusalCode] {
	m := enumMap[domain.RefusalCode, batonv1.RefusalCode]{}
	for _, c := range domain.RefusalCodes {
		m[c] = batonv1.RefusalCode(batonv1.RefusalCode_value["REFUSAL_CODE_"+strings.ToUpper(string(c))])
	}
	return m
}()

var pathNames = map[string]batonv1.AttributionPath{
	string(attribution.PathClickID):       batonv1.AttributionPath_ATTRIBUTION_PATH_CLICK_ID,
	string(attribution.PathFirstParty):    batonv1.AttributionPath_ATTRIBUTION_PATH_FIRST_PARTY_TAG,
	string(attribution.PathCookie):        batonv1.AttributionPath_ATTRIBUTION_PATH_COOKIE,
	string(attribution.PathIPMatch):       batonv1.AttributionPath_ATTRIBUTION_PATH_IP_MATCH,
	string(attribution.PathRecurringUser): batonv1.AttributionPath_ATTRIBUTION_PATH_RECURRING_USER,
	string(attribution.PathReferrerIDs):   batonv1.AttributionPath_ATTRIBUTION_PATH_REFERRER_IDS,
	string(attribution.PathNone):          batonv1.AttributionPath_ATTRIBUTION_PATH_NONE,
	string(attribution.PathImported):      batonv1.AttributionPath_ATTRIBUTION_PATH_IMPORTED,
}

// reasonName is how a StatusReason is stored: its name, lower case,
// without the prefix ("refund").
func reasonName(r batonv1.StatusReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "STATUS_REASON_"))
}

func reasonFromName(s string) batonv1.StatusReason {
	if v, ok := batonv1.StatusReason_value["STATUS_REASON_"+strings.ToUpper(s)]; ok {
		return batonv1.StatusReason(v)
	}
	return batonv1.StatusReason_STATUS_REASON_UNSPECIFIED
}

func conversionToProto(c domain.Conversion) *batonv1.Conversion {
	out := &batonv1.Conversion{
		Id: c.ID, OfferId: c.OfferID, AdvertiserId: c.AdvertiserID, PublisherId: c.PublisherID, SiteId: c.SiteID,
		ClickId: c.ClickID, OrderId: c.OrderID, OrderId_2: c.OrderID2, Amount: moneyToProto(&c.Amount),
		Commission: moneyToProto(&c.Commission), Recurring: c.Recurring, BuyerUserName: c.BuyerUserName,
		BuyerEmail: c.BuyerEmail, BuyerEmailHash: c.BuyerEmailHash, BuyerIp: c.BuyerIP, Status: statusNames[c.Status],
		Test: c.Test, Source: sourceNames[c.Source], AttributionPath: pathNames[c.Attribution.Path],
		AttributionSummary: c.Attribution.Summary, UpstreamId: c.UpstreamID, SubIds: c.SubIDs, DownstreamId: c.DownstreamID,
		SaleTime: ts(c.SaleAt), CreateTime: ts(c.CreatedAt), UpdateTime: ts(c.UpdatedAt),
		Rule: ruleOutcomeToProto(c.Attribution.Rule), HoldUntil: tsPtr(c.HoldUntil), HoldReason: c.HoldReason,
	}
	for _, sg := range c.Signals {
		out.Signals = append(out.Signals, string(sg))
	}
	for _, it := range c.Items {
		out.Items = append(out.Items, &batonv1.Item{Code: it.Code, Quantity: it.Quantity, UnitPrice: moneyToProto(it.UnitPrice)})
	}
	for _, h := range c.History {
		out.History = append(out.History, &batonv1.StatusChange{
			From: statusNames[h.From], To: statusNames[h.To], Reason: reasonFromName(h.Reason), Note: h.Note, Actor: h.Actor, Time: ts(h.At),
		})
	}
	return out
}

// amountFromRequest reads exactly one of amount_jpy, amount_usd, amount.
func amountFromRequest(req *batonv1.RecordConversionRequest) (domain.Money, error) {
	switch {
	case req.AmountJpy != nil:
		return domain.Money{Currency: "JPY", Minor: req.GetAmountJpy()}, nil
	case req.AmountUsd != nil:
		minor, err := attribution.ParseDecimal("USD", req.GetAmountUsd())
		if err != nil {
			return domain.Money{}, domain.Invalid("amount_usd", "%s", err.Error())
		}
		return domain.Money{Currency: "USD", Minor: minor}, nil
	case req.GetAmount() != nil:
		if req.GetAmount().GetAmountMinor() < 0 {
			return domain.Money{}, domain.Invalid("amount.amount_minor", "must not be negative")
		}
		return domain.Money{Currency: req.GetAmount().GetCurrencyCode(), Minor: req.GetAmount().GetAmountMinor()}, nil
	}
	return domain.Money{}, domain.Invalid("amount", "exactly one of amount_jpy, amount_usd or amount must be set")
}

// RecordConversion implements baton.v1.ConversionService.
func (s *ConversionServer) RecordConversion(ctx context.Context, req *batonv1.RecordConversionRequest) (*batonv1.RecordConversionResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RecordConversionResponse, error) {
		amount, err := amountFromRequest(req)
		if err != nil {
			return nil, err
		}
		in := service.ConversionInput{
			Source: domain.SourceAPI, ClickID: req.GetClickId(), OfferID: req.GetOfferId(), OrderID: req.GetOrderId(),
			OrderID2: req.GetOrderId_2(), Amount: amount, Recurring: req.GetRecurring(), UserName: req.GetBuyer().GetUserName(),
			Email: req.GetBuyer().GetEmail(), IP: req.GetBuyer().GetIp(), UserAgent: req.GetBuyer().GetUserAgent(),
			IdempotencyKey: req.GetIdempotencyKey(), Test: req.GetTest(), Signature: req.GetSignature(),
		}
		for _, it := range req.GetItems() {
			item := domain.Item{Code: it.GetCode(), Quantity: it.GetQuantity()}
			if up := it.GetUnitPrice(); up != nil {
				item.UnitPrice = &domain.Money{Currency: up.GetCurrencyCode(), Minor: up.GetAmountMinor()}
			}
			in.Items = append(in.Items, item)
		}
		if req.GetSaleTime() != nil {
			in.SaleAt = req.GetSaleTime().AsTime()
		}
		if req.GetRequestTime() != nil {
			t := req.GetRequestTime().AsTime()
			in.RequestTime = &t
		}
		if pr := connectPeer(ctx); pr != "" {
			in.RemoteIP = pr
		}
		conv, dup, err := s.svc.Record(ctx, p, in)
		if err != nil {
			return nil, err
		}
		return &batonv1.RecordConversionResponse{Conversion: conversionToProto(conv), Duplicate: dup}, nil
	})
}

// GetConversion implements baton.v1.ConversionService.
func (s *ConversionServer) GetConversion(ctx context.Context, req *batonv1.GetConversionRequest) (*batonv1.GetConversionResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetConversionResponse, error) {
		c, err := s.svc.Get(ctx, p, req.GetId())
		return &batonv1.GetConversionResponse{Conversion: conversionToProto(c)}, err
	})
}

func timeRange(tr *batonv1.TimeRange) (from, to time.Time) {
	if tr.GetStart() != nil {
		from = tr.GetStart().AsTime()
	}
	if tr.GetEnd() != nil {
		to = tr.GetEnd().AsTime()
	}
	return from, to
}

// ListConversions implements baton.v1.ConversionService.
func (s *ConversionServer) ListConversions(ctx context.Context, req *batonv1.ListConversionsRequest) (*batonv1.ListConversionsResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListConversionsResponse, string, error) {
		f := domain.ConversionFilter{
			OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId(), AdvertiserID: req.GetAdvertiserId(),
			Status: statusFromProto(req.GetStatus()), OrderID: req.GetOrderId(), ClickID: req.GetClickId(), IncludeTest: req.GetIncludeTest(),
		}
		f.From, f.To = timeRange(req.GetTimeRange())
		list, next, err := s.svc.List(ctx, p, f, page)
		return &batonv1.ListConversionsResponse{Conversions: each(list, conversionToProto)}, next, err
	})
}

// UpdateConversionStatus implements baton.v1.ConversionService.
func (s *ConversionServer) UpdateConversionStatus(ctx context.Context, req *batonv1.UpdateConversionStatusRequest) (*batonv1.UpdateConversionStatusResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdateConversionStatusResponse, error) {
		c, err := s.svc.ChangeStatus(ctx, p, req.GetId(), statusFromProto(req.GetStatus()), statusFromProto(req.GetExpectedStatus()),
			reasonName(req.GetReason()), req.GetNote())
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdateConversionStatusResponse{Conversion: conversionToProto(c)}, nil
	})
}

// BulkUpdateConversionStatus implements baton.v1.ConversionService.
func (s *ConversionServer) BulkUpdateConversionStatus(ctx context.Context, req *batonv1.BulkUpdateConversionStatusRequest) (*batonv1.BulkUpdateConversionStatusResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.BulkUpdateConversionStatusResponse, error) {
		results, err := s.svc.BulkChangeStatus(ctx, p, req.GetOfferId(), req.GetOrderIds(), statusFromProto(req.GetStatus()), reasonName(req.GetReason()), req.GetNote())
		if err != nil {
			return nil, err
		}
		out := &batonv1.BulkUpdateConversionStatusResponse{}
		for _, r := range results {
			br := &batonv1.BulkResult{OrderId: r.OrderID}
			if r.Err != nil {
				br.Error = domain.PublicText(r.Err)
			} else {
				out.UpdatedCount++
			}
			if r.Conversion != nil {
				br.Conversion = conversionToProto(*r.Conversion)
			}
			out.Results = append(out.Results, br)
		}
		return out, nil
	})
}

// ListRefusals implements baton.v1.ConversionService.
func (s *ConversionServer) ListRefusals(ctx context.Context, req *batonv1.ListRefusalsRequest) (*batonv1.ListRefusalsResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListRefusalsResponse, string, error) {
		from, to := timeRange(req.GetTimeRange())
		list, next, err := s.svc.Refusals(ctx, p, req.GetAdvertiserId(), sourceFromProto(req.GetSource()), from, to, page)
		if err != nil {
			return nil, "", err
		}
		out := &batonv1.ListRefusalsResponse{}
		for _, r := range list {
			out.Refusals = append(out.Refusals, &batonv1.Refusal{
				Id: r.ID, AdvertiserId: r.AdvertiserID, OfferId: r.OfferID, Source: sourceNames[r.Source], Code: string(r.Code), Reason: refusalCodes[r.Code],
				Message: r.Message, OrderId: r.OrderID, ClickId: r.ClickID, Params: r.Params, RemoteIp: r.RemoteIP, CreateTime: ts(r.CreatedAt),
				Count: r.Count, LastTime: ts(r.LastSeen), Samples: refusalSamples(r.Samples),
			})
		}
		return out, next, nil
	})
}

func refusalSamples(list []domain.RefusalSample) []*batonv1.RefusalSample {
	out := make([]*batonv1.RefusalSample, 0, len(list))
	for _, s := range list {
		out = append(out, &batonv1.RefusalSample{Message: s.Message, OrderId: s.OrderID, ClickId: s.ClickID, Params: s.Params,
			RemoteIp: s.RemoteIP, Time: ts(s.Time)})
	}
	return out
}

// BuildFc2Tag implements baton.v1.ConversionService.
func (s *ConversionServer) BuildFc2Tag(ctx context.Context, req *batonv1.BuildFc2TagRequest) (*batonv1.BuildFc2TagResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.BuildFc2TagResponse, error) {
		in := service.FC2TagInput{
			AdvertiserID: req.GetAdvertiserId(), Post: req.GetFormat() == batonv1.Fc2TagFormat_FC2_TAG_FORMAT_POST,
			UniqueID: req.GetUniqueId(), UName: req.GetUname(), Email: req.GetEmail(), Recurring: req.GetRecurring(),
			ItemCode: req.GetItemCode(), UnitNum: req.GetUnitNum(), RefUserID: req.GetRefUserid(), RefSiteID: req.GetRefSiteid(),
			IP: req.GetIp(), Test: req.GetTest(), ShortSH: req.GetShortSh(),
		}
		if req.AmountY != nil {
			v := req.GetAmountY()
			in.AmountY = &v
		}
		if req.AmountD != nil {
			v := req.GetAmountD()
			in.AmountD = &v
		}
		if req.GetTs() != nil {
			in.TS = req.GetTs().AsTime()
		}
		tag, err := s.fc2.BuildTag(ctx, p, in)
		if err != nil {
			return nil, err
		}
		return &batonv1.BuildFc2TagResponse{Url: tag.URL, Html: tag.HTML, Body: tag.Body, Sh: tag.SH}, nil
	})
}

// ---------------------------------------------------------------- AttributionService

// ExplainConversion implements baton.v1.AttributionService.
func (s *ConversionServer) ExplainConversion(ctx context.Context, req *batonv1.ExplainConversionRequest) (*batonv1.ExplainConversionResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.ExplainConversionResponse, error) {
		c, err := s.svc.Explain(ctx, p, req.GetConversionId())
		if err != nil {
			return nil, err
		}
		e := c.Attribution
		out := &batonv1.ExplainConversionResponse{
			ConversionId: c.ID, Path: pathNames[e.Path], Window: durationpb.New(time.Duration(e.WindowSeconds) * time.Second),
			ClickId: e.ClickID, CommissionRule: e.CommissionRule, Commission: moneyToProto(&c.Commission), Summary: e.Summary, Test: c.Test,
			Rule: ruleOutcomeToProto(e.Rule),
		}
		switch e.Model {
		case string(attribution.FirstClick):
			out.Model = batonv1.AttributionModel_ATTRIBUTION_MODEL_FIRST_CLICK
		default:
			out.Model = batonv1.AttributionModel_ATTRIBUTION_MODEL_LAST_CLICK
		}
		for _, cand := range e.Candidates {
			out.Candidates = append(out.Candidates, &batonv1.Candidate{
				ClickId: cand.ClickID, PublisherId: cand.PublisherID, ClickTime: ts(cand.ClickTime), Path: pathNames[cand.Path],
				Eligible: cand.Eligible, Reason: cand.Reason, Winner: cand.Winner,
			})
		}
		return out, nil
	})
}

// GetReport implements baton.v1.AttributionService.
func (s *ConversionServer) GetReport(ctx context.Context, req *batonv1.GetReportRequest) (*batonv1.GetReportResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.GetReportResponse, string, error) {
		f := domain.ReportFilter{TimeZone: req.GetTimeZone(), OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId()}
		f.From, f.To = timeRange(req.GetTimeRange())
		rows, err := s.svc.Report(ctx, s.reports, p, f)
		if err != nil {
			return nil, "", err
		}
		// Pages are offsets into the sorted rows: reports are small and computed
		// whole, so the token only needs to say where to resume.
		start := 0
		if page.After != "" {
			for i, r := range rows {
				if r.Day+"|"+r.OfferID+"|"+r.PublisherID == page.After {
					start = i + 1
					break
				}
			}
		}
		size := page.Size
		if size <= 0 {
			size = domain.DefaultPageSize
		}
		end := min(len(rows), start+size)
		out := &batonv1.GetReportResponse{}
		for _, r := range rows[start:end] {
			row := &batonv1.ReportRow{
				Day: r.Day, OfferId: r.OfferID, PublisherId: r.PublisherID, Clicks: r.Clicks, UniqueClicks: r.UniqueClicks,
				Conversions: r.Conversions, PendingConversions: r.ByStatus[domain.StatusPending],
				ApprovedConversions: r.ByStatus[domain.StatusApproved], RejectedConversions: r.ByStatus[domain.StatusRejected],
				ReversedConversions: r.ByStatus[domain.StatusReversed],
				Sales:               moneyList(r.Sales), CommissionsPending: moneyList(r.CommissionsPending), CommissionsApproved: moneyList(r.CommissionsApproved),
			}
			if r.UniqueClicks > 0 {
				row.ConversionRateBps = r.Conversions * 10000 / r.UniqueClicks
			}
			row.ConversionsByPath = pathCounts(r.ByPath)
			row.ClicksByReason = clickReasonCounts(r.ClicksByReason)
			out.Rows = append(out.Rows, row)
		}
		next := ""
		if end < len(rows) {
			last := rows[end-1]
			next = last.Day + "|" + last.OfferID + "|" + last.PublisherID
		}
		return out, next, nil
	})
}

// pathCounts lists conversions by attribution path, in the enum's order.
func pathCounts(m map[string]int64) []*batonv1.PathCount {
	out := make([]*batonv1.PathCount, 0, len(m))
	for path, n := range m {
		out = append(out, &batonv1.PathCount{Path: pathNames[path], Conversions: n})
	}
	slices.SortFunc(out, func(a, b *batonv1.PathCount) int { return int(a.GetPath()) - int(b.GetPath()) })
	return out
}

func moneyList(m map[string]int64) []*batonv1.Money {
	curs := make([]string, 0, len(m))
	for cur := range m {
		curs = append(curs, cur)
	}
	slices.Sort(curs)
	out := make([]*batonv1.Money, 0, len(m))
	for _, cur := range curs {
		out = append(out, &batonv1.Money{CurrencyCode: cur, AmountMinor: m[cur]})
	}
	return out
}

type peerKey struct{}

// connectPeer returns the caller's IP address, put in the context by
// PeerInterceptor.
func connectPeer(ctx context.Context) string {
	ip, _ := ctx.Value(peerKey{}).(string)
	return ip
}

// PeerInterceptor puts the caller's IP address in the context, for the
// records of refused requests.
func PeerInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			addr := req.Peer().Addr
			if host, _, err := net.SplitHostPort(addr); err == nil {
				addr = host
			}
			return next(context.WithValue(ctx, peerKey{}, addr), req)
		}
	}
}
