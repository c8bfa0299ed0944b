package rpc

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/domain"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsPtr(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func dur(d time.Duration) *durationpb.Duration {
	return durationpb.New(d)
}

func roleToProto(r domain.Role) batonv1.Role {
	switch r {
	case domain.RoleAdmin:
		return batonv1.Role_ROLE_ADMIN
	case domain.RoleAdvertiser:
		return batonv1.Role_ROLE_ADVERTISER
	case domain.RolePublisher:
		return batonv1.Role_ROLE_PUBLISHER
	case domain.RoleNetwork:
		return batonv1.Role_ROLE_NETWORK
	}
	return batonv1.Role_ROLE_UNSPECIFIED
}

func roleFromProto(r batonv1.Role) domain.Role {
	switch r {
	case batonv1.Role_ROLE_ADMIN:
		return domain.RoleAdmin
	case batonv1.Role_ROLE_ADVERTISER:
		return domain.RoleAdvertiser
	case batonv1.Role_ROLE_PUBLISHER:
		return domain.RolePublisher
	case batonv1.Role_ROLE_NETWORK:
		return domain.RoleNetwork
	}
	return ""
}

func apiKeyToProto(k domain.APIKey) *batonv1.ApiKey {
	return &batonv1.ApiKey{
		Id: k.ID, Name: k.Name, Role: roleToProto(k.Role), PartnerId: k.PartnerID, Prefix: k.Prefix,
		CreateTime: ts(k.CreatedAt), RevokeTime: tsPtr(k.RevokedAt), LastUsedTime: tsPtr(k.LastUsedAt),
	}
}

func advertiserToProto(a domain.Advertiser) *batonv1.Advertiser {
	return &batonv1.Advertiser{
		Id: a.ID, Name: a.Name, ShopId: a.ShopID, RequireSignature: a.RequireSignature,
		RegisteredHosts: a.RegisteredHosts, StoreEmailPlaintext: a.StoreEmailPlaintext, SecretHint: a.SecretHint,
		CreateTime: ts(a.CreatedAt), UpdateTime: ts(a.UpdatedAt), TrackingDomain: a.TrackingDomain,
	}
}

func kindToProto(k domain.PublisherKind) batonv1.PublisherKind {
	switch k {
	case domain.PublisherMedia:
		return batonv1.PublisherKind_PUBLISHER_KIND_MEDIA
	case domain.PublisherNetwork:
		return batonv1.PublisherKind_PUBLISHER_KIND_NETWORK
	}
	return batonv1.PublisherKind_PUBLISHER_KIND_UNSPECIFIED
}

func kindFromProto(k batonv1.PublisherKind) domain.PublisherKind {
	switch k {
	case batonv1.PublisherKind_PUBLISHER_KIND_MEDIA:
		return domain.PublisherMedia
	case batonv1.PublisherKind_PUBLISHER_KIND_NETWORK:
		return domain.PublisherNetwork
	}
	return ""
}

func publisherToProto(p domain.Publisher) *batonv1.Publisher {
	return &batonv1.Publisher{
		Id: p.ID, Name: p.Name, Kind: kindToProto(p.Kind), UserId: p.UserID, SubIdParams: p.SubIDParams,
		CreateTime: ts(p.CreatedAt), UpdateTime: ts(p.UpdatedAt),
	}
}

func siteToProto(x domain.Site) *batonv1.Site {
	return &batonv1.Site{
		Id: x.ID, PublisherId: x.PublisherID, Name: x.Name, Url: x.URL, SiteId: x.SiteID, CreateTime: ts(x.CreatedAt),
	}
}

func offerStatusToProto(s domain.OfferStatus) batonv1.OfferStatus {
	switch s {
	case domain.OfferActive:
		return batonv1.OfferStatus_OFFER_STATUS_ACTIVE
	case domain.OfferPaused:
		return batonv1.OfferStatus_OFFER_STATUS_PAUSED
	}
	return batonv1.OfferStatus_OFFER_STATUS_UNSPECIFIED
}

func offerStatusFromProto(s batonv1.OfferStatus) domain.OfferStatus {
	switch s {
	case batonv1.OfferStatus_OFFER_STATUS_ACTIVE:
		return domain.OfferActive
	case batonv1.OfferStatus_OFFER_STATUS_PAUSED:
		return domain.OfferPaused
	}
	return ""
}

func modelToProto(m domain.AttributionModel) batonv1.AttributionModel {
	switch m {
	case domain.LastClick:
		return batonv1.AttributionModel_ATTRIBUTION_MODEL_LAST_CLICK
	case domain.FirstClick:
		return batonv1.AttributionModel_ATTRIBUTION_MODEL_FIRST_CLICK
	}
	return batonv1.AttributionModel_ATTRIBUTION_MODEL_UNSPECIFIED
}

func modelFromProto(m batonv1.AttributionModel) domain.AttributionModel {
	switch m {
	case batonv1.AttributionModel_ATTRIBUTION_MODEL_LAST_CLICK:
		return domain.LastClick
	case batonv1.AttributionModel_ATTRIBUTION_MODEL_FIRST_CLICK:
		return domain.FirstClick
	}
	return ""
}

func moneyToProto(m *domain.Money) *batonv1.Money {
	if m == nil {
		return nil
	}
	return &batonv1.Money{CurrencyCode: m.Currency, AmountMinor: m.Minor}
}

func payoutToProto(p domain.Payout) *batonv1.Payout {
	if p.Fixed != nil {
		return &batonv1.Payout{Kind: &batonv1.Payout_Fixed{Fixed: moneyToProto(p.Fixed)}}
	}
	return &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: p.PercentBPS}}
}

func payoutFromProto(p *batonv1.Payout) domain.Payout {
	if f := p.GetFixed(); f != nil {
		return domain.Payout{Fixed: &domain.Money{Currency: f.GetCurrencyCode(), Minor: f.GetAmountMinor()}}
	}
	return domain.Payout{PercentBPS: p.GetPercentBps()}
}

func offerToProto(o domain.Offer) *batonv1.Offer {
	out := &batonv1.Offer{
		Id: o.ID, AdvertiserId: o.AdvertiserID, Name: o.Name, Status: offerStatusToProto(o.Status),
		LandingUrl: o.LandingURL, FallbackUrl: o.FallbackURL, DeepLinkHosts: o.DeepLinkHosts, SubIdParams: o.SubIDParams,
		Downstream: &batonv1.DownstreamLink{
			ClickIdParam: o.Downstream.ClickIDParam, Fc2Params: o.Downstream.FC2Params, NetworkId: o.Downstream.NetworkID,
		},
		AttributionWindow: dur(o.AttributionWindow), AttributionModel: modelToProto(o.AttributionModel),
		IpMatchWindow: dur(o.IPMatchWindow), DedupeOrderId: o.DedupeOrderID, TimestampTolerance: dur(o.TimestampTolerance),
		AutoApproveAfterDays: uint32(o.AutoApproveAfterDays), Payout: payoutToProto(o.Payout),
		DuplicateClickInterval: dur(o.DuplicateClickInterval), CreateTime: ts(o.CreatedAt), UpdateTime: ts(o.UpdatedAt),
		Controls: controlsToProto(o.Controls),
	}
	for _, ov := range o.PayoutOverrides {
		out.PayoutOverrides = append(out.PayoutOverrides, &batonv1.PayoutOverride{PublisherId: ov.PublisherID, Payout: payoutToProto(ov.Payout)})
	}
	return out
}

// offerFromProto reads the caller-settable fields of an Offer.
func offerFromProto(in *batonv1.Offer, o *domain.Offer) {
	o.Name = in.GetName()
	o.Status = offerStatusFromProto(in.GetStatus())
	o.LandingURL = in.GetLandingUrl()
	o.FallbackURL = in.GetFallbackUrl()
	o.DeepLinkHosts = in.GetDeepLinkHosts()
	o.SubIDParams = in.GetSubIdParams()
	o.Downstream = domain.Downstream{
		ClickIDParam: in.GetDownstream().GetClickIdParam(),
		FC2Params:    in.GetDownstream().GetFc2Params(),
		NetworkID:    in.GetDownstream().GetNetworkId(),
	}
	o.AttributionWindow = in.GetAttributionWindow().AsDuration()
	o.AttributionModel = modelFromProto(in.GetAttributionModel())
	o.IPMatchWindow = in.GetIpMatchWindow().AsDuration()
	o.DedupeOrderID = in.GetDedupeOrderId()
	o.TimestampTolerance = in.GetTimestampTolerance().AsDuration()
	o.AutoApproveAfterDays = int(in.GetAutoApproveAfterDays())
	o.Payout = payoutFromProto(in.GetPayout())
	o.PayoutOverrides = nil
	for _, ov := range in.GetPayoutOverrides() {
		o.PayoutOverrides = append(o.PayoutOverrides, domain.PayoutOverride{PublisherID: ov.GetPublisherId(), Payout: payoutFromProto(ov.GetPayout())})
	}
	o.DuplicateClickInterval = in.GetDuplicateClickInterval().AsDuration()
}

// offerAsCreateRequest restates an offer as a create request, so that an
// update merged with the stored offer is checked by the same rules as a new
// one.
func offerAsCreateRequest(o *batonv1.Offer) *batonv1.CreateOfferRequest {
	dedupe := o.GetDedupeOrderId()
	return &batonv1.CreateOfferRequest{
		AdvertiserId: o.GetAdvertiserId(), Name: o.GetName(), LandingUrl: o.GetLandingUrl(), FallbackUrl: o.GetFallbackUrl(),
		DeepLinkHosts: o.GetDeepLinkHosts(), SubIdParams: o.GetSubIdParams(), Downstream: o.GetDownstream(),
		AttributionWindow: o.GetAttributionWindow(), AttributionModel: o.GetAttributionModel(), IpMatchWindow: o.GetIpMatchWindow(),
		DedupeOrderId: &dedupe, TimestampTolerance: o.GetTimestampTolerance(), AutoApproveAfterDays: o.GetAutoApproveAfterDays(),
		Payout: o.GetPayout(), PayoutOverrides: o.GetPayoutOverrides(), DuplicateClickInterval: o.GetDuplicateClickInterval(),
	}
}

func kickbackParamsToProto(k domain.KickbackParams) *batonv1.KickbackParams {
	return &batonv1.KickbackParams{
		ClickId: k.ClickID, OrderId: k.OrderID, Amount: k.Amount, Currency: k.Currency,
		Status: k.Status, DownstreamId: k.DownstreamID, Token: k.Token,
		AmountMinor: k.AmountMinor, UserName: k.UserName, OrderId_2: k.OrderID2,
	}
}

func kickbackParamsFromProto(k *batonv1.KickbackParams) domain.KickbackParams {
	return domain.KickbackParams{
		ClickID: k.GetClickId(), OrderID: k.GetOrderId(), Amount: k.GetAmount(), Currency: k.GetCurrency(),
		Status: k.GetStatus(), DownstreamID: k.GetDownstreamId(), Token: k.GetToken(),
		AmountMinor: k.GetAmountMinor(), UserName: k.GetUserName(), OrderID2: k.GetOrderId_2(),
	}
}

func networkToProto(n domain.Network) *batonv1.Network {
	return &batonv1.Network{
		Id: n.ID, Name: n.Name, KickbackParams: kickbackParamsToProto(n.KickbackParams), AllowedIps: n.AllowedIPs,
		TrustTraceContext: n.TrustTraceContext, SecretHint: n.SecretHint, CreateTime: ts(n.CreatedAt), UpdateTime: ts(n.UpdatedAt),
	}
}
