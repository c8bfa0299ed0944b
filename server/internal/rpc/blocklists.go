package rpc

import (
	"context"
	"log/slog"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// BlocklistServer implements baton.v1.BlocklistService.
type BlocklistServer struct {
	svc  *service.Blocklists
	errs errorMapper
}

var _ batonv1connect.BlocklistServiceHandler = (*BlocklistServer)(nil)

// NewBlocklistServer returns the BlocklistService implementation.
func NewBlocklistServer(svc *service.Blocklists, log *slog.Logger) *BlocklistServer {
	return &BlocklistServer{svc: svc, errs: errorMapper{log: log}}
}

var blocklistKinds = enumMap[domain.BlocklistKind, batonv1.BlocklistKind]{
	domain.BlockIP:        batonv1.BlocklistKind_BLOCKLIST_KIND_IP,
	domain.BlockUserAgent: batonv1.BlocklistKind_BLOCKLIST_KIND_USER_AGENT,
	domain.BlockSubID:     batonv1.BlocklistKind_BLOCKLIST_KIND_SUB_ID,
}

var blocklistMatches = enumMap[domain.BlocklistMatch, batonv1.BlocklistMatch]{
	domain.MatchCIDR:      batonv1.BlocklistMatch_BLOCKLIST_MATCH_CIDR,
	domain.MatchSubstring: batonv1.BlocklistMatch_BLOCKLIST_MATCH_SUBSTRING,
	domain.MatchRegexp:    batonv1.BlocklistMatch_BLOCKLIST_MATCH_REGEXP,
	domain.MatchExact:     batonv1.BlocklistMatch_BLOCKLIST_MATCH_EXACT,
	domain.MatchGlob:      batonv1.BlocklistMatch_BLOCKLIST_MATCH_GLOB,
}

func blocklistEntryToProto(e domain.BlocklistEntry) *batonv1.BlocklistEntry {
	return &batonv1.BlocklistEntry{
		Id: e.ID, Kind: blocklistKinds[e.Kind], Match: blocklistMatches[e.Match], Value: e.Value,
		OfferId: e.OfferID, PublisherId: e.PublisherID, Note: e.Note, CreateTime: ts(e.CreatedAt),
	}
}

// AddBlocklistEntry implements baton.v1.BlocklistService.
func (s *BlocklistServer) AddBlocklistEntry(ctx context.Context, req *batonv1.AddBlocklistEntryRequest) (*batonv1.AddBlocklistEntryResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.AddBlocklistEntryResponse, error) {
		e, err := s.svc.Add(ctx, p, domain.BlocklistEntry{
			Kind: blocklistKinds.from(req.GetKind()), Match: blocklistMatches.from(req.GetMatch()), Value: req.GetValue(),
			OfferID: req.GetOfferId(), PublisherID: req.GetPublisherId(), Note: req.GetNote(),
		})
		if err != nil {
			return nil, err
		}
		return &batonv1.AddBlocklistEntryResponse{Entry: blocklistEntryToProto(e)}, nil
	})
}

// RemoveBlocklistEntry implements baton.v1.BlocklistService.
func (s *BlocklistServer) RemoveBlocklistEntry(ctx context.Context, req *batonv1.RemoveBlocklistEntryRequest) (*batonv1.RemoveBlocklistEntryResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.RemoveBlocklistEntryResponse, error) {
		return &batonv1.RemoveBlocklistEntryResponse{}, s.svc.Remove(ctx, p, req.GetId())
	})
}

// ListBlocklistEntries implements baton.v1.BlocklistService.
func (s *BlocklistServer) ListBlocklistEntries(ctx context.Context, req *batonv1.ListBlocklistEntriesRequest) (*batonv1.ListBlocklistEntriesResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.ListBlocklistEntriesResponse, error) {
		entries, err := s.svc.List(ctx, p, blocklistKinds.from(req.GetKind()), req.GetOfferId(), req.GetPublisherId())
		if err != nil {
			return nil, err
		}
		out := &batonv1.ListBlocklistEntriesResponse{}
		for _, e := range entries {
			out.Entries = append(out.Entries, blocklistEntryToProto(e))
		}
		return out, nil
	})
}
