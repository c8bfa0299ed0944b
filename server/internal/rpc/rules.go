package rpc

import (
	"context"
	"encoding/json"
	"log/slog"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/rules"
	"github.com/batonhq/baton/server/internal/service"
)

// RuleServer implements baton.v1.RuleService.
type RuleServer struct {
	svc  *service.Rules
	errs errorMapper
}

var _ batonv1connect.RuleServiceHandler = (*RuleServer)(nil)

// NewRuleServer returns the RuleService implementation.
func NewRuleServer(svc *service.Rules, log *slog.Logger) *RuleServer {
	return &RuleServer{svc: svc, errs: errorMapper{log: log}}
}

var ruleActions = map[string]batonv1.RuleAction{
	string(rules.Accept):       batonv1.RuleAction_RULE_ACTION_ACCEPT,
	string(rules.Hold):         batonv1.RuleAction_RULE_ACTION_HOLD,
	string(rules.Reject):       batonv1.RuleAction_RULE_ACTION_REJECT,
	string(rules.ChangePayout): batonv1.RuleAction_RULE_ACTION_CHANGE_PAYOUT,
}

// ruleOutcomeToProto is the stored decision of a rule (nil: none).
func ruleOutcomeToProto(r *domain.RuleOutcome) *batonv1.RuleOutcome {
	if r == nil {
		return nil
	}
	return &batonv1.RuleOutcome{RuleId: r.RuleID, Version: int32(r.Version), Name: r.Name, Action: ruleActions[r.Action],
		Condition: r.Condition, PublicText: r.Public, InternalText: r.Internal, HoldUntil: tsPtr(r.HoldUntil)}
}

func decisionToProto(d rules.Decision) *batonv1.RuleOutcome {
	if !d.Matched {
		return nil
	}
	return &batonv1.RuleOutcome{RuleId: d.RuleID, Version: int32(d.RuleVersion), Name: d.RuleName, Action: ruleActions[string(d.Action.Type)],
		Condition: d.Condition, PublicText: d.Public, InternalText: d.Internal}
}

func ruleToProto(r rules.Rule) *batonv1.Rule {
	return &batonv1.Rule{Id: r.ID, Version: int32(r.Version), Name: r.Name, Action: ruleActions[string(r.Action.Type)],
		Scope:          &batonv1.RuleScope{AdvertiserId: r.Scope.AdvertiserID, OfferId: r.Scope.OfferID, PublisherId: r.Scope.PublisherID},
		DefinitionJson: jsonText(r)}
}

func ruleSetToProto(v service.RuleSetView) *batonv1.RuleSet {
	set := v.Set
	if set.Rules == nil {
		set.Rules = []rules.Rule{}
	}
	out := &batonv1.RuleSet{AdvertiserId: v.Owner, Version: int32(v.Version), RulesJson: jsonText(set), CreateTime: ts(v.CreatedAt), CreatedBy: v.CreatedBy}
	for _, r := range v.Set.Rules {
		out.Rules = append(out.Rules, ruleToProto(r))
	}
	return out
}

// PutRuleSet implements baton.v1.RuleService.
func (s *RuleServer) PutRuleSet(ctx context.Context, req *batonv1.PutRuleSetRequest) (*batonv1.PutRuleSetResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.PutRuleSetResponse, error) {
		v, err := s.svc.Put(ctx, p, req.GetAdvertiserId(), []byte(req.GetRulesJson()), int(req.GetExpectVersion()))
		if err != nil {
			return nil, err
		}
		return &batonv1.PutRuleSetResponse{RuleSet: ruleSetToProto(v)}, nil
	})
}

// ListRules implements baton.v1.RuleService.
func (s *RuleServer) ListRules(ctx context.Context, req *batonv1.ListRulesRequest) (*batonv1.ListRulesResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.ListRulesResponse, error) {
		v, err := s.svc.Get(ctx, p, req.GetAdvertiserId())
		if err != nil {
			return nil, err
		}
		return &batonv1.ListRulesResponse{RuleSet: ruleSetToProto(v)}, nil
	})
}

// GetRule implements baton.v1.RuleService.
func (s *RuleServer) GetRule(ctx context.Context, req *batonv1.GetRuleRequest) (*batonv1.GetRuleResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetRuleResponse, error) {
		list, err := s.svc.Versions(ctx, p, req.GetRuleId())
		if err != nil {
			return nil, err
		}
		out := &batonv1.GetRuleResponse{AdvertiserId: list[0].Owner}
		for _, v := range list {
			var r rules.Rule
			if err := json.Unmarshal(v.Definition, &r); err != nil {
				return nil, err
			}
			out.Versions = append(out.Versions, &batonv1.RuleVersion{Rule: ruleToProto(r), CreateTime: ts(v.CreatedAt), CreatedBy: v.CreatedBy})
		}
		return out, nil
	})
}

// DryRunRules implements baton.v1.RuleService.
func (s *RuleServer) DryRunRules(ctx context.Context, req *batonv1.DryRunRulesRequest) (*batonv1.DryRunRulesResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.DryRunRulesResponse, error) {
		limit := int(req.GetLimit())
		if limit == 0 {
			limit = 100
		}
		res, err := s.svc.DryRun(ctx, p, req.GetAdvertiserId(), []byte(req.GetRulesJson()), limit)
		if err != nil {
			return nil, err
		}
		out := &batonv1.DryRunRulesResponse{Counts: &batonv1.DryRunCounts{
			Total: int32(len(res.Items)), Accept: int32(res.Would["accept"]), Hold: int32(res.Would["hold"]),
			Reject: int32(res.Would["reject"]), ChangePayout: int32(res.Would["payout"]), NoRule: int32(res.Would["none"]),
			Changed: int32(res.Changed),
		}}
		for _, it := range res.Items {
			c := it.Conversion
			out.Items = append(out.Items, &batonv1.DryRunItem{ConversionId: c.ID, OrderId: c.OrderID, OfferId: c.OfferID, PublisherId: c.PublisherID,
				Amount: moneyToProto(&c.Amount), Happened: ruleOutcomeToProto(it.Happened), Would: decisionToProto(it.Would),
				Commission: moneyToProto(&c.Commission), WouldCommission: moneyToProto(&it.Commission), Changed: it.Changed})
		}
		return out, nil
	})
}

// jsonText is v as JSON; v is a rule or rule set, plain fields that always
// marshal.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
