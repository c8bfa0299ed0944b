// Package rpc implements Baton's Connect services: it turns proto messages
// into domain values, calls package service, and turns domain errors into
// Connect codes, in one place (this file).
package rpc

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"

	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/domain"
)

// errorMapper turns errors from package service into Connect errors: the
// one mapping from domain errors to Connect codes. A *domain.Error's public
// text is what the caller reads; anything else is logged in full and
// answered as a bare internal error.
type errorMapper struct{ log *slog.Logger }

func (m errorMapper) toConnect(ctx context.Context, err error) error {
	e, _ := domain.AsError(err)
	public := func() error {
		if e != nil {
			return errors.New(e.Public)
		}
		return errors.New(err.Error()) // a sentinel wrapped with fmt.Errorf: its text is its message
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrInvalid):
		var verr *protovalidate.ValidationError
		switch {
		case e == nil:
			return connect.NewError(connect.CodeInvalidArgument, public())
		case errors.As(e.Cause, &verr):
			return violations(verr, e.Field)
		case e.Field != "":
			return invalidField(e.Field, e.Public)
		}
		return connect.NewError(connect.CodeInvalidArgument, public())
	case errors.Is(err, domain.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, public())
	case errors.Is(err, domain.ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, public())
	case errors.Is(err, domain.ErrPermissionDenied):
		return connect.NewError(connect.CodePermissionDenied, public())
	case errors.Is(err, domain.ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, errors.New("unknown or revoked API key"))
	case errors.Is(err, domain.ErrFailedPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, public())
	case errors.Is(err, domain.ErrUnavailable):
		if e != nil && e.Cause == nil && e.Public != "" { // Baton's own reason, no failing dependency behind it
			return connect.NewError(connect.CodeUnavailable, errors.New(e.Public))
		}
		m.log.WarnContext(ctx, "dependency unavailable", "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("temporarily unavailable, retry shortly"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	m.log.ErrorContext(ctx, "internal error", "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// invalidField builds an invalid_argument error shaped like protovalidate's,
// with a buf.validate.Violations detail naming the field, so clients handle
// rule violations found by Baton the same way as those found by the
// interceptor.
func invalidField(field, message string) error {
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(field+": "+message))
	v := &validatepb.Violations{Violations: []*validatepb.Violation{{
		Field:   fieldPath(field),
		RuleId:  proto.String("baton.invalid"),
		Message: proto.String(message),
	}}}
	if d, err := connect.NewErrorDetail(v); err == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

// fieldPath turns "a.b" into a buf.validate.FieldPath with names only.
func fieldPath(field string) *validatepb.FieldPath {
	fp := &validatepb.FieldPath{}
	for _, part := range strings.Split(field, ".") {
		name := part
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
		}
		fp.Elements = append(fp.Elements, &validatepb.FieldPathElement{FieldName: proto.String(name)})
	}
	return fp
}

// validateAs checks msg against its protovalidate rules; the error, when
// there is one, is answered like the validate interceptor would (see
// violations), with the violations' paths under prefix. Used for values
// assembled by Baton (an update merged with the stored record) that the
// interceptor never saw.
func validateAs(v protovalidate.Validator, msg proto.Message, prefix string) error {
	err := v.Validate(msg)
	var verr *protovalidate.ValidationError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &verr):
		return err // a rule that cannot be evaluated: an internal error
	}
	return &domain.Error{Kind: domain.ErrInvalid, Field: prefix, Public: strings.TrimPrefix(verr.Error(), "validation error:\n - "), Cause: verr}
}

// violations answers protovalidate's violations as the validate
// interceptor does, their paths under prefix.
func violations(verr *protovalidate.ValidationError, prefix string) error {
	pb := verr.ToProto()
	for _, vi := range pb.GetViolations() {
		if prefix != "" {
			vi.Field = &validatepb.FieldPath{Elements: append(
				[]*validatepb.FieldPathElement{{FieldName: proto.String(prefix)}}, vi.GetField().GetElements()...)}
		}
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(strings.TrimPrefix(verr.Error(), "validation error:\n - ")))
	if d, err := connect.NewErrorDetail(pb); err == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

// principal returns the caller; the auth interceptor guarantees one.
func principal(ctx context.Context) (domain.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return p, connect.NewError(connect.CodeUnauthenticated, errors.New("missing API key"))
	}
	return p, nil
}

// Page tokens are opaque to callers: base64url of "v1:" and the last ID.
const pageTokenVersion = "v1:"

func encodePageToken(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenVersion + after))
}

func decodePage(size int32, token string) (domain.Page, error) {
	p := domain.Page{Size: int(size)}
	if token == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(b), pageTokenVersion) || len(b) == len(pageTokenVersion) {
		return p, domain.Invalid("page_token", "is not a page token returned by this method")
	}
	p.After = string(b[len(pageTokenVersion):])
	return p, nil
}
