package baton_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	baton "github.com/batonhq/baton/clients/go"
)

func element(name string) *validate.FieldPathElement {
	return &validate.FieldPathElement{FieldName: proto.String(name)}
}

func TestAsErrorDecodesViolations(t *testing.T) {
	hosts := element("registered_hosts")
	hosts.Subscript = &validate.FieldPathElement_Index{Index: 2}
	labels := element("labels")
	labels.Subscript = &validate.FieldPathElement_StringKey{StringKey: "a b"}
	detail, err := connect.NewErrorDetail(&validate.Violations{Violations: []*validate.Violation{
		{Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{element("name")}},
			RuleId: proto.String("string.min_len"), Message: proto.String("value length must be at least 1 characters")},
		{Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{element("payout"), element("percent_bps")}},
			RuleId: proto.String("uint32.lte"), Message: proto.String("value must be less than or equal to 10000")},
		{Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{hosts}}, RuleId: proto.String("string.pattern")},
		{Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{labels}}, RuleId: proto.String("string.max_len")},
		{RuleId: proto.String("record_conversion.one_amount"), Message: proto.String("exactly one amount")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ce := connect.NewError(connect.CodeInvalidArgument, errors.New("validation failed"))
	ce.AddDetail(detail)
	wrapped := fmt.Errorf("create advertiser: %w", ce)

	e, ok := baton.AsError(wrapped)
	if !ok {
		t.Fatal("AsError: not an RPC error")
	}
	if e.Code != connect.CodeInvalidArgument || e.Message != "validation failed" {
		t.Errorf("code %v, message %q", e.Code, e.Message)
	}
	want := []baton.Violation{
		{Field: "name", Message: "value length must be at least 1 characters", RuleID: "string.min_len"},
		{Field: "payout.percent_bps", Message: "value must be less than or equal to 10000", RuleID: "uint32.lte"},
		{Field: "registered_hosts[2]", RuleID: "string.pattern"},
		{Field: `labels["a b"]`, RuleID: "string.max_len"},
		{Message: "exactly one amount", RuleID: "record_conversion.one_amount"},
	}
	if fmt.Sprint(e.Violations) != fmt.Sprint(want) {
		t.Errorf("violations\n got %+v\nwant %+v", e.Violations, want)
	}
	var back *connect.Error
	if !errors.As(e, &back) || back != ce {
		t.Error("Unwrap does not give the connect error back")
	}
	if got, want := e.Error(), "baton: invalid_argument: validation failed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Message = ""
	if got, want := e.Error(), "baton: invalid_argument: name: value length must be at least 1 characters; payout.percent_bps: "; !strings.HasPrefix(got, want) {
		t.Errorf("Error() without a message = %q, want it to list the violations", got)
	}
	e.Message = "validation failed"
	if again, ok := baton.AsError(fmt.Errorf("again: %w", e)); !ok || again != e {
		t.Error("AsError of an *Error is not that error")
	}
}

func TestAsErrorWithoutDetails(t *testing.T) {
	e, ok := baton.AsError(connect.NewError(connect.CodeUnauthenticated, errors.New("unknown API key")))
	if !ok || e.Code != connect.CodeUnauthenticated || e.Message != "unknown API key" || len(e.Violations) != 0 {
		t.Errorf("%+v %v", e, ok)
	}
	if e.Error() != "baton: unauthenticated: unknown API key" {
		t.Errorf("Error() = %q", e.Error())
	}
	for _, err := range []error{nil, errors.New("plain")} {
		if e, ok := baton.AsError(err); ok || e != nil {
			t.Errorf("AsError(%v) = %v, %v", err, e, ok)
		}
	}
}
