package domain

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestErrorKeepsPublicAndInternalApart: errors.Is finds an *Error's kind
// and its cause through any wrapping; the public text never carries the
// cause, the log text does.
func TestErrorKeepsPublicAndInternalApart(t *testing.T) {
	t.Parallel()
	cause := fmt.Errorf("query: %w", context.DeadlineExceeded)
	err := fmt.Errorf("store: get offer: %w", Wrap(ErrNotFound, cause, "offer %q", "of_1"))
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is: kind %v, other kind %v, cause %v", errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid), errors.Is(err, context.DeadlineExceeded))
	}
	if got := PublicText(err); got != `not found: offer "of_1"` {
		t.Errorf("public text %q", got)
	}
	if got := err.Error(); got != `store: get offer: not found: offer "of_1" (query: context deadline exceeded)` {
		t.Errorf("log text %q", got)
	}
	for _, tc := range []struct {
		err        error
		kind       error
		public, ll string
	}{
		{Invalid("order_id", "is required"), ErrInvalid, "is required", "order_id: is required"},
		{Refuse(ErrPermissionDenied, RefusalBadSignature, "signature", "does not match"), ErrPermissionDenied, "does not match", "does not match"},
		{Denied("only an admin"), ErrPermissionDenied, "permission denied: only an admin", "permission denied: only an admin"},
		{Failed("endpoint %s is disabled", "ep_1"), ErrFailedPrecondition, "failed precondition: endpoint ep_1 is disabled", "failed precondition: endpoint ep_1 is disabled"},
		{CheckTransition(StatusPending, StatusReversed), ErrFailedPrecondition, "failed precondition: a pending conversion cannot become reversed",
			"failed precondition: a pending conversion cannot become reversed (pending → approved/rejected, approved → reversed)"},
		{fmt.Errorf("%w: jaeger", ErrUnavailable), ErrUnavailable, "temporarily unavailable: jaeger", "temporarily unavailable: jaeger"},
		{errors.New("pgx: password=hunter2"), nil, "internal error", "pgx: password=hunter2"},
	} {
		if tc.kind != nil && !errors.Is(tc.err, tc.kind) {
			t.Errorf("%v is not %v", tc.err, tc.kind)
		}
		if PublicText(tc.err) != tc.public || tc.err.Error() != tc.ll {
			t.Errorf("%v: public %q log %q, want %q and %q", tc.err, PublicText(tc.err), tc.err.Error(), tc.public, tc.ll)
		}
	}
}
