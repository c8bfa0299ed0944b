package domain

import "time"

// RuleOutcome is the rule that decided a conversion at intake, stored with
// its explanation (see package rules). Public is what partners read
// ("held for 3 days: click-to-conversion 8 s"); Internal names the rule's
// condition and values and is shown to the network and the advertiser only.
type RuleOutcome struct {
	RuleID    string `json:"rule_id"`
	Version   int    `json:"version"`
	Name      string `json:"name"`
	Action    string `json:"action"` // accept, hold, reject, payout
	Condition string `json:"condition,omitempty"`
	Public    string `json:"public"`
	Internal  string `json:"internal,omitempty"`
	// HoldUntil is the end of a hold.
	HoldUntil *time.Time `json:"hold_until,omitempty"`
	// CommissionBefore is the commission the offer's payout gave, when the
	// rule changed it.
	CommissionBefore *Money `json:"commission_before,omitempty"`
}

// RuleSetRecord is one saved version of a rule set. Owner is "" for the
// network's set, else the advertiser's ID; Document is the set as package
// rules reads it.
type RuleSetRecord struct {
	Owner     string
	Version   int
	Document  []byte
	CreatedAt time.Time
	CreatedBy string
}

// RuleVersionRecord is one saved version of one rule.
type RuleVersionRecord struct {
	RuleID     string
	Version    int
	Owner      string
	Name       string
	Definition []byte
	CreatedAt  time.Time
	CreatedBy  string
}
