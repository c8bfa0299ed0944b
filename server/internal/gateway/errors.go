package gateway

import (
	"errors"

	"github.com/batonhq/baton/server/internal/domain"
)

// legacyStatus is the one mapping from domain errors to the legacy routes'
// HTTP statuses (FC2 image tag and POST, kickback /postback): the sender's
// mistakes are 4xx with the error's public text, meant for it; anything else
// (the database down, a bug) is 503 and the sender retries. ok is false for
// the latter: its text is not the sender's to read.
func legacyStatus(err error) (status int, public *domain.Error, ok bool) {
	e, isDomain := domain.AsError(err)
	if !isDomain {
		return 503, nil, false
	}
	for _, k := range []struct {
		kind   error
		status int
	}{
		{domain.ErrInvalid, 400},
		{domain.ErrUnauthenticated, 401},
		{domain.ErrPermissionDenied, 403},
		{domain.ErrNotFound, 404},
		{domain.ErrAlreadyExists, 409},
		{domain.ErrFailedPrecondition, 409},
	} {
		if errors.Is(e, k.kind) {
			return k.status, e, true
		}
	}
	return 503, nil, false
}

// problems is every problem a refusal names (one, unless an FC2 report
// broke several rules).
func problems(e *domain.Error) []string {
	if len(e.Problems) > 0 {
		return e.Problems
	}
	return []string{e.Public}
}
