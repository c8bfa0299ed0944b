package service

import (
	"strings"

	"github.com/batonhq/baton/server/internal/domain"
)

// Why a conversion was held or rejected, as each partner reads it.
//
// The offer's controls, its caps and the rules write their reasons for the
// network and the advertiser: "fast_conversion: click-to-conversion 8s (the
// offer's minimum is 15s)", "cap_reached: conversions per month 10 of 10".
// A publisher reads, unless the network lets it read everything (BATON_
// PUBLISHER_REASONS=full), a summary that names what happened and what it
// concerns of its own traffic, never the network's thresholds, cap limits
// and usage, or rule internals: "held: click-to-conversion 8s", "rejected:
// cap reached", "held: conversions per IP".

// ReasonPolicy says how much of the reasons a publisher reads.
type ReasonPolicy string

// The reason policies.
const (
	// ReasonsSummary: publishers read public summaries (the default).
	ReasonsSummary ReasonPolicy = "summary"
	// ReasonsFull: publishers read the reasons as the advertiser does
	// (still never the buyer's data or another publisher's clicks).
	ReasonsFull ReasonPolicy = "full"
)

// UsePublisherReasons sets how much of the reasons publishers read ("" is
// ReasonsSummary).
func (c *Conversions) UsePublisherReasons(r ReasonPolicy) { c.reasons = r }

// signalSummary is what a publisher reads of a reason written for signal s
// ("<signal>: <why>"): the measure of its own conversion for the
// click-to-conversion time, a name otherwise.
func signalSummary(s domain.Signal, why string) string {
	switch s {
	case domain.SignalFastConversion, domain.SignalSlowConversion:
		// why is "click-to-conversion 8s (the offer's minimum is 15s)".
		if v, _, _ := strings.Cut(why, " ("); strings.HasPrefix(v, "click-to-conversion ") {
			return v
		}
		return "click-to-conversion time"
	case domain.SignalConversionsPerClick:
		return "conversions per click"
	case domain.SignalConversionsPerIP:
		return "conversions per IP"
	case domain.SignalCapReached:
		return "cap reached"
	case domain.SignalBotClick:
		return "bot click"
	case domain.SignalDuplicateClick:
		return "duplicate click"
	case domain.SignalBlockedIP, domain.SignalBlockedUserAgent, domain.SignalBlockedSubID:
		return "blocklisted " + strings.ReplaceAll(strings.TrimPrefix(string(s), "blocked_"), "_", "-")
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

// publicReason reduces a reason the controls or caps wrote ("<signal>:
// <why>") to what a publisher reads, prefixed by verb ("held",
// "rejected"). ok is false when text is not such a reason (a person's
// note, which is left as written).
func publicReason(verb, text string) (string, bool) {
	name, why, found := strings.Cut(text, ": ")
	if !found || !domain.KnownSignal(domain.Signal(name)) {
		return "", false
	}
	return verb + ": " + signalSummary(domain.Signal(name), why), true
}

// forViewer hides from a publisher what belongs to the advertiser or to
// other publishers: the buyer's data, other publishers' clicks and, unless
// the network lets publishers read full reasons, the rule that decided and
// the thresholds and cap numbers in the hold reason and in the notes the
// controls wrote into the history.
func (c *Conversions) forViewer(p domain.Principal, conv domain.Conversion) domain.Conversion {
	if p.Role != domain.RolePublisher {
		return conv
	}
	conv.BuyerEmail, conv.BuyerEmailHash, conv.BuyerIP, conv.BuyerUserAgent, conv.BuyerUserName = "", "", "", "", ""
	cands := make([]domain.ExplainedCandidate, 0, len(conv.Attribution.Candidates))
	for _, cand := range conv.Attribution.Candidates {
		if cand.PublisherID != p.PartnerID {
			cand.ClickID, cand.PublisherID = "", "(another publisher)"
		}
		cands = append(cands, cand)
	}
	conv.Attribution.Candidates = cands
	if c.reasons == ReasonsFull {
		return conv
	}
	if r := conv.Attribution.Rule; r != nil {
		// A publisher reads what a rule did and its public text, not the
		// network's rule itself.
		conv.Attribution.Rule = &domain.RuleOutcome{Action: r.Action, Public: r.Public, HoldUntil: r.HoldUntil}
	}
	if conv.HoldReason != "" {
		if s, ok := publicReason("held", conv.HoldReason); ok {
			conv.HoldReason = s
		} else {
			conv.HoldReason = "held"
		}
	}
	if len(conv.History) > 0 {
		hist := make([]domain.StatusChange, len(conv.History))
		for i, h := range conv.History {
			if h.Actor == systemActor {
				verb := "held"
				if h.To == domain.StatusRejected {
					verb = "rejected"
				}
				if s, ok := publicReason(verb, h.Note); ok {
					h.Note = s
				}
			}
			hist[i] = h
		}
		conv.History = hist
	}
	return conv
}

// systemActor is the actor of the status changes Baton makes itself (the
// controls' and caps' rejections, the approvals a hold period schedules).
const systemActor = "system"
