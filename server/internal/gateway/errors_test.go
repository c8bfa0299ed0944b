package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/batonhq/baton/server/internal/domain"
)

// TestLegacyStatus: the legacy routes' one mapping. The sender's mistakes
// are 4xx with the public text; anything else is a 503 whose cause the
// sender never reads.
func TestLegacyStatus(t *testing.T) {
	t.Parallel()
	cause := errors.New("ERROR: connection refused password=hunter2")
	for _, tc := range []struct {
		err    error
		status int
		public string
	}{
		{domain.Refuse(domain.ErrInvalid, domain.RefusalInvalidParameter, "", "click_id and order_id are required"), 400, "click_id and order_id are required"},
		{&domain.Error{Kind: domain.ErrUnauthenticated, Public: "wrong token"}, 401, "wrong token"},
		{domain.Refuse(domain.ErrPermissionDenied, domain.RefusalBadPassword, "", "passwd is wrong"), 403, "passwd is wrong"},
		{domain.Refuse(domain.ErrNotFound, domain.RefusalUnknownClick, "", "click ID \"x\" was not issued by this network"), 404, "click ID \"x\" was not issued by this network"},
		{fmt.Errorf("kickback: %w", domain.CheckTransition(domain.StatusRejected, domain.StatusApproved)), 409,
			"failed precondition: a rejected conversion is closed and cannot become approved"},
		{domain.Wrap(domain.ErrUnavailable, cause, ""), 503, ""},
		{context.DeadlineExceeded, 503, ""},
		{cause, 503, ""},
	} {
		status, e, ok := legacyStatus(tc.err)
		public := ""
		if ok {
			public = e.Public
		}
		if status != tc.status || public != tc.public || ok != (tc.status < 500) {
			t.Errorf("%v: %d %q (ok %v), want %d %q", tc.err, status, public, ok, tc.status, tc.public)
		}
	}
}
