package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/store"
)

// A conversion held by a rule stays pending until its hold ends, whatever
// the offer's auto-approval says, and is due for approval then; the rule
// that decided it is stored with it.
func TestHeldConversionsAreDueWhenTheHoldEnds(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the offer does not approve automatically
	ctx := context.Background()
	until := f.now.Add(72 * time.Hour)
	held := f.conversion("cv_held", "HELD-1")
	held.HoldUntil = &until
	held.Attribution.Rule = &domain.RuleOutcome{RuleID: "ru_1", Version: 2, Name: "middling", Action: "hold", Public: "held for 3 days: amount JPY 40,000", HoldUntil: &until}
	plain := f.conversion("cv_plain", "PLAIN-1")
	for _, c := range []domain.Conversion{held, plain} {
		if err := f.st.InTx(ctx, func(tx store.Tx) error { _, _, err := tx.InsertConversion(ctx, c, "test"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.st.GetConversion(ctx, "cv_held")
	if err != nil {
		t.Fatal(err)
	}
	if got.HoldUntil == nil || !got.HoldUntil.Equal(until) || got.Attribution.Rule == nil || got.Attribution.Rule.Version != 2 || got.Attribution.Rule.Public != held.Attribution.Rule.Public {
		t.Fatalf("stored %+v rule %+v", got.HoldUntil, got.Attribution.Rule)
	}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{f.now, nil},
		{until.Add(-time.Second), nil},
		{until, []string{"cv_held"}},
		{until.Add(365 * 24 * time.Hour), []string{"cv_held"}}, // the plain one waits for a person: no auto-approval
	} {
		ids, err := f.st.DueForAutoApproval(ctx, tc.at, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("due at %s: %v, want %v", tc.at, ids, tc.want)
		}
	}
}
