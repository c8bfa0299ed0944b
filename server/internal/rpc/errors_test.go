package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"connectrpc.com/connect"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/domain"
)

// TestOneMappingToConnect: every kind of domain error reaches the caller
// with its code and only its public text (never the cause); a field at
// fault travels as a buf.validate violation, as protovalidate's own do.
func TestOneMappingToConnect(t *testing.T) {
	t.Parallel()
	m := errorMapper{log: slog.New(slog.DiscardHandler)}
	secret := errors.New("ERROR: duplicate key value violates unique constraint (SQLSTATE 23505) password=hunter2")
	for _, tc := range []struct {
		err   error
		code  connect.Code
		msg   string
		field string
	}{
		{domain.Invalid("amount_usd", "must be dollars"), connect.CodeInvalidArgument, "amount_usd: must be dollars", "amount_usd"},
		{domain.Refuse(domain.ErrInvalid, domain.RefusalUnknownClick, "click_id", "click ID \"x\" was not issued by this network"),
			connect.CodeInvalidArgument, "click_id: click ID \"x\" was not issued by this network", "click_id"},
		{domain.Refuse(domain.ErrInvalid, domain.RefusalInvalidParameter, "", "no field"), connect.CodeInvalidArgument, "no field", ""},
		{domain.Refuse(domain.ErrPermissionDenied, domain.RefusalBadSignature, "signature", "the signature does not match"),
			connect.CodePermissionDenied, "the signature does not match", ""},
		{domain.Refuse(domain.ErrAlreadyExists, domain.RefusalReplayed, "signature", "already used"), connect.CodeAlreadyExists, "already used", ""},
		{domain.NotFound("offer", "of_1"), connect.CodeNotFound, `not found: offer "of_1"`, ""},
		{fmt.Errorf("store: %w", domain.Wrap(domain.ErrNotFound, secret, "")), connect.CodeNotFound, "not found", ""},
		{domain.Wrap(domain.ErrAlreadyExists, secret, "offers_pkey"), connect.CodeAlreadyExists, "already exists: offers_pkey", ""},
		{domain.Denied("only the shop may"), connect.CodePermissionDenied, "permission denied: only the shop may", ""},
		{domain.CheckTransition(domain.StatusPending, domain.StatusReversed), connect.CodeFailedPrecondition,
			"failed precondition: a pending conversion cannot become reversed", ""},
		{domain.Wrap(domain.ErrUnavailable, secret, ""), connect.CodeUnavailable, "temporarily unavailable, retry shortly", ""},
		{&domain.Error{Kind: domain.ErrUnavailable, Field: "click_id", Public: "click \"x\" is not stored yet: retry shortly"}, connect.CodeUnavailable,
			"click \"x\" is not stored yet: retry shortly", ""},
		{domain.Wrap(domain.ErrUnauthenticated, nil, "no network with this token"), connect.CodeUnauthenticated, "unknown or revoked API key", ""},
		{fmt.Errorf("%w: BATON_JAEGER_URL is not set", domain.ErrFailedPrecondition), connect.CodeFailedPrecondition,
			"failed precondition: BATON_JAEGER_URL is not set", ""},
		{context.Canceled, connect.CodeCanceled, "request cancelled", ""},
		{secret, connect.CodeInternal, "internal error", ""},
	} {
		var ce *connect.Error
		if !errors.As(m.toConnect(context.Background(), tc.err), &ce) {
			t.Fatalf("%v: not a connect error", tc.err)
		}
		if ce.Code() != tc.code || ce.Message() != tc.msg {
			t.Errorf("%v:\n got %v %q\nwant %v %q", tc.err, ce.Code(), ce.Message(), tc.code, tc.msg)
		}
		var field string
		for _, d := range ce.Details() {
			v, err := d.Value()
			if vs, ok := v.(*validatepb.Violations); ok && err == nil && len(vs.GetViolations()) == 1 {
				field = vs.GetViolations()[0].GetField().GetElements()[0].GetFieldName()
			}
		}
		if field != tc.field {
			t.Errorf("%v: violation field %q, want %q", tc.err, field, tc.field)
		}
	}
}

// TestAmountErrorsAreInvalidArgument: a malformed amount is the caller's
// mistake, answered as invalid_argument naming the field (it was an
// internal error when a handler helper mapped a Connect error again).
func TestAmountErrorsAreInvalidArgument(t *testing.T) {
	t.Parallel()
	m := errorMapper{log: slog.New(slog.DiscardHandler)}
	usd := "12.345"
	for _, req := range []*batonv1.RecordConversionRequest{{AmountUsd: &usd}, {}} {
		_, err := amountFromRequest(req)
		if c := connect.CodeOf(m.toConnect(context.Background(), err)); c != connect.CodeInvalidArgument {
			t.Errorf("%v: %v, want invalid_argument", req, c)
		}
	}
}

// TestGetTraceRefusesNonAdmins: a partner's key is told it may not read
// traces (permission_denied), not an internal error.
func TestGetTraceRefusesNonAdmins(t *testing.T) {
	t.Parallel()
	s := NewConversionServer(nil, nil, nil, slog.New(slog.DiscardHandler))
	ctx := auth.WithPrincipal(context.Background(), domain.Principal{Role: domain.RolePublisher, PartnerID: "pub_1"})
	_, err := s.GetTrace(ctx, &batonv1.GetTraceRequest{TraceId: "4bf92f3577b34da6a3ce929d0e0e4736"})
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("GetTrace as a publisher: %v, want permission_denied", err)
	}
}
