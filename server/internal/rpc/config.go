package rpc

import (
	"context"
	"log/slog"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// ConfigServer implements baton.v1.ConfigService.
type ConfigServer struct {
	svc       *service.Config
	importer  *service.Import
	validator protovalidate.Validator
	errs      errorMapper
}

var _ batonv1connect.ConfigServiceHandler = (*ConfigServer)(nil)

// NewConfigServer returns the ConfigService handler implementation.
func NewConfigServer(svc *service.Config, v protovalidate.Validator, log *slog.Logger) *ConfigServer {
	return &ConfigServer{svc: svc, validator: v, errs: errorMapper{log: log}}
}

// WithImport serves ImportProgram with im.
func (s *ConfigServer) WithImport(im *service.Import) *ConfigServer {
	s.importer = im
	return s
}

// ImportProgram implements baton.v1.ConfigService.
func (s *ConfigServer) ImportProgram(ctx context.Context, req *batonv1.ImportProgramRequest) (*batonv1.ImportProgramResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.ImportProgramResponse, error) {
		files := map[string]string{}
		for name, text := range map[string]string{
			service.ShopsFile: req.GetShopsCsv(), service.PublishersFile: req.GetPublishersCsv(), service.SitesFile: req.GetSitesCsv(),
			service.OffersFile: req.GetOffersCsv(), service.ConversionsFile: req.GetConversionsCsv(),
		} {
			if text != "" {
				files[name] = text
			}
		}
		res, err := s.importer.Run(ctx, p, files, req.GetDryRun())
		if err != nil {
			return nil, err
		}
		out := &batonv1.ImportProgramResponse{DryRun: res.DryRun}
		for _, f := range res.Files {
			out.Files = append(out.Files, &batonv1.ImportFileResult{File: f.File, Rows: int32(f.Rows), Created: int32(f.Created), Existing: int32(f.Existing)})
		}
		for _, pr := range res.Problems {
			out.Problems = append(out.Problems, &batonv1.ImportProblem{File: pr.File, Line: int32(pr.Line), Column: pr.Column, Reason: pr.Reason})
		}
		return out, nil
	})
}

// applyMask copies the top-level fields named by mask from src to dst. The
// request's CEL rules have already restricted mask to changeable fields.
func applyMask(dst, src proto.Message, mask *fieldmaskpb.FieldMask) error {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	fields := d.Descriptor().Fields()
	for _, path := range mask.GetPaths() {
		fd := fields.ByName(protoreflect.Name(path))
		if fd == nil {
			return domain.Invalid("update_mask", "unknown field %s", path)
		}
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
	return nil
}

// WhoAmI implements baton.v1.ConfigService.
func (s *ConfigServer) WhoAmI(ctx context.Context, _ *batonv1.WhoAmIRequest) (*batonv1.WhoAmIResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.WhoAmIResponse, error) {
		k, err := s.svc.WhoAmI(ctx, p)
		return &batonv1.WhoAmIResponse{Key: apiKeyToProto(k)}, err
	})
}

// ---------------------------------------------------------------- advertisers

// CreateAdvertiser implements baton.v1.ConfigService.
func (s *ConfigServer) CreateAdvertiser(ctx context.Context, req *batonv1.CreateAdvertiserRequest) (*batonv1.CreateAdvertiserResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateAdvertiserResponse, error) {
		in := domain.Advertiser{
			Name: req.GetName(), RequireSignature: req.GetRequireSignature(),
			RegisteredHosts: req.GetRegisteredHosts(), StoreEmailPlaintext: req.GetStoreEmailPlaintext(),
			ShopID: req.GetShopId(), TrackingDomain: req.GetTrackingDomain(),
		}
		var a domain.Advertiser
		var secret string
		var err error
		if req.Secret != nil {
			// The shop's own password: not echoed back.
			a, err = s.svc.CreateAdvertiserWithSecret(ctx, p, in, req.GetSecret())
		} else {
			a, secret, err = s.svc.CreateAdvertiser(ctx, p, in)
		}
		if err != nil {
			return nil, err
		}
		return &batonv1.CreateAdvertiserResponse{Advertiser: advertiserToProto(a), Secret: secret}, nil
	})
}

// GetAdvertiser implements baton.v1.ConfigService.
func (s *ConfigServer) GetAdvertiser(ctx context.Context, req *batonv1.GetAdvertiserRequest) (*batonv1.GetAdvertiserResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetAdvertiserResponse, error) {
		a, err := s.svc.GetAdvertiser(ctx, p, req.GetId())
		return &batonv1.GetAdvertiserResponse{Advertiser: advertiserToProto(a)}, err
	})
}

// ListAdvertisers implements baton.v1.ConfigService.
func (s *ConfigServer) ListAdvertisers(ctx context.Context, req *batonv1.ListAdvertisersRequest) (*batonv1.ListAdvertisersResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListAdvertisersResponse, string, error) {
		list, next, err := s.svc.ListAdvertisers(ctx, p, page)
		return &batonv1.ListAdvertisersResponse{Advertisers: each(list, advertiserToProto)}, next, err
	})
}

// UpdateAdvertiser implements baton.v1.ConfigService.
func (s *ConfigServer) UpdateAdvertiser(ctx context.Context, req *batonv1.UpdateAdvertiserRequest) (*batonv1.UpdateAdvertiserResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdateAdvertiserResponse, error) {
		a, err := s.svc.UpdateAdvertiser(ctx, p, req.GetAdvertiser().GetId(), func(a *domain.Advertiser) error {
			cur := advertiserToProto(*a)
			if err := applyMask(cur, req.GetAdvertiser(), req.GetUpdateMask()); err != nil {
				return err
			}
			if err := validateAs(s.validator, &batonv1.CreateAdvertiserRequest{
				Name: cur.GetName(), RequireSignature: cur.GetRequireSignature(),
				RegisteredHosts: cur.GetRegisteredHosts(), StoreEmailPlaintext: cur.GetStoreEmailPlaintext(),
				TrackingDomain: cur.GetTrackingDomain(),
			}, "advertiser"); err != nil {
				return err
			}
			a.Name, a.RequireSignature = cur.GetName(), cur.GetRequireSignature()
			a.RegisteredHosts, a.StoreEmailPlaintext = cur.GetRegisteredHosts(), cur.GetStoreEmailPlaintext()
			a.TrackingDomain = cur.GetTrackingDomain()
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdateAdvertiserResponse{Advertiser: advertiserToProto(a)}, nil
	})
}

// RotateAdvertiserSecret implements baton.v1.ConfigService.
func (s *ConfigServer) RotateAdvertiserSecret(ctx context.Context, req *batonv1.RotateAdvertiserSecretRequest) (*batonv1.RotateAdvertiserSecretResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RotateAdvertiserSecretResponse, error) {
		a, secret, exp, err := s.svc.RotateAdvertiserSecret(ctx, p, req.GetId(), req.GetOverlap().AsDuration())
		if err != nil {
			return nil, err
		}
		return &batonv1.RotateAdvertiserSecretResponse{Advertiser: advertiserToProto(a), Secret: secret, PreviousSecretExpireTime: ts(exp)}, nil
	})
}

// ---------------------------------------------------------------- publishers

// CreatePublisher implements baton.v1.ConfigService.
func (s *ConfigServer) CreatePublisher(ctx context.Context, req *batonv1.CreatePublisherRequest) (*batonv1.CreatePublisherResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreatePublisherResponse, error) {
		pub, err := s.svc.CreatePublisher(ctx, p, domain.Publisher{
			Name: req.GetName(), Kind: kindFromProto(req.GetKind()), SubIDParams: req.GetSubIdParams(), UserID: req.GetUserId(),
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.CreatePublisherResponse{Publisher: publisherToProto(pub)}, nil
	})
}

// GetPublisher implements baton.v1.ConfigService.
func (s *ConfigServer) GetPublisher(ctx context.Context, req *batonv1.GetPublisherRequest) (*batonv1.GetPublisherResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetPublisherResponse, error) {
		pub, err := s.svc.GetPublisher(ctx, p, req.GetId())
		return &batonv1.GetPublisherResponse{Publisher: publisherToProto(pub)}, err
	})
}

// ListPublishers implements baton.v1.ConfigService.
func (s *ConfigServer) ListPublishers(ctx context.Context, req *batonv1.ListPublishersRequest) (*batonv1.ListPublishersResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListPublishersResponse, string, error) {
		list, next, err := s.svc.ListPublishers(ctx, p, kindFromProto(req.GetKind()), page)
		return &batonv1.ListPublishersResponse{Publishers: each(list, publisherToProto)}, next, err
	})
}

// UpdatePublisher implements baton.v1.ConfigService.
func (s *ConfigServer) UpdatePublisher(ctx context.Context, req *batonv1.UpdatePublisherRequest) (*batonv1.UpdatePublisherResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdatePublisherResponse, error) {
		pub, err := s.svc.UpdatePublisher(ctx, p, req.GetPublisher().GetId(), func(x *domain.Publisher) error {
			cur := publisherToProto(*x)
			if err := applyMask(cur, req.GetPublisher(), req.GetUpdateMask()); err != nil {
				return err
			}
			if err := validateAs(s.validator, &batonv1.CreatePublisherRequest{
				Name: cur.GetName(), Kind: cur.GetKind(), SubIdParams: cur.GetSubIdParams(),
			}, "publisher"); err != nil {
				return err
			}
			x.Name, x.SubIDParams = cur.GetName(), cur.GetSubIdParams()
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdatePublisherResponse{Publisher: publisherToProto(pub)}, nil
	})
}

// CreateSite implements baton.v1.ConfigService.
func (s *ConfigServer) CreateSite(ctx context.Context, req *batonv1.CreateSiteRequest) (*batonv1.CreateSiteResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateSiteResponse, error) {
		x, err := s.svc.CreateSite(ctx, p, domain.Site{PublisherID: req.GetPublisherId(), Name: req.GetName(), URL: req.GetUrl(), SiteID: req.GetSiteId()})
		return &batonv1.CreateSiteResponse{Site: siteToProto(x)}, err
	})
}

// ListSites implements baton.v1.ConfigService.
func (s *ConfigServer) ListSites(ctx context.Context, req *batonv1.ListSitesRequest) (*batonv1.ListSitesResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListSitesResponse, string, error) {
		list, next, err := s.svc.ListSites(ctx, p, req.GetPublisherId(), page)
		return &batonv1.ListSitesResponse{Sites: each(list, siteToProto)}, next, err
	})
}

// ---------------------------------------------------------------- offers

// CreateOffer implements baton.v1.ConfigService.
func (s *ConfigServer) CreateOffer(ctx context.Context, req *batonv1.CreateOfferRequest) (*batonv1.CreateOfferResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateOfferResponse, error) {
		in := &batonv1.Offer{
			Name: req.GetName(), LandingUrl: req.GetLandingUrl(), FallbackUrl: req.GetFallbackUrl(),
			DeepLinkHosts: req.GetDeepLinkHosts(), SubIdParams: req.GetSubIdParams(), Downstream: req.GetDownstream(),
			AttributionWindow: req.GetAttributionWindow(), AttributionModel: req.GetAttributionModel(),
			IpMatchWindow: req.GetIpMatchWindow(), DedupeOrderId: req.DedupeOrderId == nil || req.GetDedupeOrderId(),
			TimestampTolerance: req.GetTimestampTolerance(), AutoApproveAfterDays: req.GetAutoApproveAfterDays(),
			Payout: req.GetPayout(), PayoutOverrides: req.GetPayoutOverrides(), DuplicateClickInterval: req.GetDuplicateClickInterval(),
		}
		o := domain.Offer{AdvertiserID: req.GetAdvertiserId()}
		offerFromProto(in, &o)
		if req.IpMatchWindow == nil {
			o.IPMatchWindow = domain.DefaultIPMatchWindow
		}
		out, err := s.svc.CreateOffer(ctx, p, o)
		return &batonv1.CreateOfferResponse{Offer: offerToProto(out)}, err
	})
}

// GetOffer implements baton.v1.ConfigService.
func (s *ConfigServer) GetOffer(ctx context.Context, req *batonv1.GetOfferRequest) (*batonv1.GetOfferResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetOfferResponse, error) {
		o, err := s.svc.GetOffer(ctx, p, req.GetId())
		return &batonv1.GetOfferResponse{Offer: offerToProto(o)}, err
	})
}

// ListOffers implements baton.v1.ConfigService.
func (s *ConfigServer) ListOffers(ctx context.Context, req *batonv1.ListOffersRequest) (*batonv1.ListOffersResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListOffersResponse, string, error) {
		list, next, err := s.svc.ListOffers(ctx, p, req.GetAdvertiserId(), offerStatusFromProto(req.GetStatus()), page)
		return &batonv1.ListOffersResponse{Offers: each(list, offerToProto)}, next, err
	})
}

// UpdateOffer implements baton.v1.ConfigService.
func (s *ConfigServer) UpdateOffer(ctx context.Context, req *batonv1.UpdateOfferRequest) (*batonv1.UpdateOfferResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdateOfferResponse, error) {
		o, err := s.svc.UpdateOffer(ctx, p, req.GetOffer().GetId(), func(o *domain.Offer) error {
			cur := offerToProto(*o)
			if err := applyMask(cur, req.GetOffer(), req.GetUpdateMask()); err != nil {
				return err
			}
			if err := validateAs(s.validator, offerAsCreateRequest(cur), "offer"); err != nil {
				return err
			}
			offerFromProto(cur, o)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdateOfferResponse{Offer: offerToProto(o)}, nil
	})
}

// ---------------------------------------------------------------- networks

// CreateNetwork implements baton.v1.ConfigService.
func (s *ConfigServer) CreateNetwork(ctx context.Context, req *batonv1.CreateNetworkRequest) (*batonv1.CreateNetworkResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateNetworkResponse, error) {
		n, secret, err := s.svc.CreateNetwork(ctx, p, domain.Network{
			Name: req.GetName(), KickbackParams: kickbackParamsFromProto(req.GetKickbackParams()),
			AllowedIPs: req.GetAllowedIps(), TrustTraceContext: req.GetTrustTraceContext(),
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.CreateNetworkResponse{Network: networkToProto(n), Secret: secret}, nil
	})
}

// GetNetwork implements baton.v1.ConfigService.
func (s *ConfigServer) GetNetwork(ctx context.Context, req *batonv1.GetNetworkRequest) (*batonv1.GetNetworkResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetNetworkResponse, error) {
		n, err := s.svc.GetNetwork(ctx, p, req.GetId())
		return &batonv1.GetNetworkResponse{Network: networkToProto(n)}, err
	})
}

// ListNetworks implements baton.v1.ConfigService.
func (s *ConfigServer) ListNetworks(ctx context.Context, req *batonv1.ListNetworksRequest) (*batonv1.ListNetworksResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListNetworksResponse, string, error) {
		list, next, err := s.svc.ListNetworks(ctx, p, page)
		return &batonv1.ListNetworksResponse{Networks: each(list, networkToProto)}, next, err
	})
}

// UpdateNetwork implements baton.v1.ConfigService.
func (s *ConfigServer) UpdateNetwork(ctx context.Context, req *batonv1.UpdateNetworkRequest) (*batonv1.UpdateNetworkResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.UpdateNetworkResponse, error) {
		n, err := s.svc.UpdateNetwork(ctx, p, req.GetNetwork().GetId(), func(n *domain.Network) error {
			cur := networkToProto(*n)
			if err := applyMask(cur, req.GetNetwork(), req.GetUpdateMask()); err != nil {
				return err
			}
			if err := validateAs(s.validator, &batonv1.CreateNetworkRequest{
				Name: cur.GetName(), KickbackParams: cur.GetKickbackParams(), AllowedIps: cur.GetAllowedIps(),
				TrustTraceContext: cur.GetTrustTraceContext(),
			}, "network"); err != nil {
				return err
			}
			n.Name, n.KickbackParams = cur.GetName(), kickbackParamsFromProto(cur.GetKickbackParams())
			n.AllowedIPs, n.TrustTraceContext = cur.GetAllowedIps(), cur.GetTrustTraceContext()
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.UpdateNetworkResponse{Network: networkToProto(n)}, nil
	})
}

// RotateNetworkSecret implements baton.v1.ConfigService.
func (s *ConfigServer) RotateNetworkSecret(ctx context.Context, req *batonv1.RotateNetworkSecretRequest) (*batonv1.RotateNetworkSecretResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RotateNetworkSecretResponse, error) {
		n, secret, exp, err := s.svc.RotateNetworkSecret(ctx, p, req.GetId(), req.GetOverlap().AsDuration())
		if err != nil {
			return nil, err
		}
		return &batonv1.RotateNetworkSecretResponse{Network: networkToProto(n), Secret: secret, PreviousSecretExpireTime: ts(exp)}, nil
	})
}

// ---------------------------------------------------------------- keys

// CreateApiKey implements baton.v1.ConfigService.
func (s *ConfigServer) CreateApiKey(ctx context.Context, req *batonv1.CreateApiKeyRequest) (*batonv1.CreateApiKeyResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.CreateApiKeyResponse, error) {
		k, key, err := s.svc.CreateAPIKey(ctx, p, req.GetName(), roleFromProto(req.GetRole()), req.GetPartnerId())
		if err != nil {
			return nil, err
		}
		return &batonv1.CreateApiKeyResponse{ApiKey: apiKeyToProto(k), Key: key}, nil
	})
}

// ListApiKeys implements baton.v1.ConfigService.
func (s *ConfigServer) ListApiKeys(ctx context.Context, req *batonv1.ListApiKeysRequest) (*batonv1.ListApiKeysResponse, error) {
	return list(ctx, s.errs, req, func(p domain.Principal, page domain.Page) (*batonv1.ListApiKeysResponse, string, error) {
		list, next, err := s.svc.ListAPIKeys(ctx, p, req.GetPartnerId(), req.GetIncludeRevoked(), page)
		return &batonv1.ListApiKeysResponse{ApiKeys: each(list, apiKeyToProto)}, next, err
	})
}

// RevokeApiKey implements baton.v1.ConfigService.
func (s *ConfigServer) RevokeApiKey(ctx context.Context, req *batonv1.RevokeApiKeyRequest) (*batonv1.RevokeApiKeyResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RevokeApiKeyResponse, error) {
		k, err := s.svc.RevokeAPIKey(ctx, p, req.GetId())
		return &batonv1.RevokeApiKeyResponse{ApiKey: apiKeyToProto(k)}, err
	})
}
