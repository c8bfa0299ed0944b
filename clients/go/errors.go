package baton

import (
	"errors"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// Error is an error answered by Baton, with the validation violations, if
// any, decoded. Get one from any call's error with [AsError].
type Error struct {
	// Code is the RPC status, e.g. connect.CodeInvalidArgument,
	// connect.CodeUnauthenticated, connect.CodeNotFound.
	Code connect.Code
	// Message is Baton's explanation, in words.
	Message string
	// Violations lists what was wrong with the request when Code is
	// invalid_argument because a field broke a rule; empty otherwise.
	Violations []Violation

	err *connect.Error
}

// Violation is one broken validation rule.
type Violation struct {
	// Field is the path of the offending field from the request message,
	// field names joined with "." and list or map subscripts in brackets,
	// e.g. "name", "payout.percent_bps", "registered_hosts[2]". Empty for a
	// rule on a whole message.
	Field string
	// Message says what is wrong, e.g. "value length must be at least 1
	// characters".
	Message string
	// RuleID names the rule, e.g. "string.min_len", or the ID of a CEL rule
	// such as "record_conversion.one_amount".
	RuleID string
}

// Error returns the code and Baton's message, which names the violations;
// when there is no message, it lists them.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		parts := make([]string, len(e.Violations))
		for i, v := range e.Violations {
			parts[i] = v.Message
			if v.Field != "" {
				parts[i] = v.Field + ": " + v.Message
			}
		}
		msg = strings.Join(parts, "; ")
	}
	if msg == "" {
		return "baton: " + e.Code.String()
	}
	return "baton: " + e.Code.String() + ": " + msg
}

// Unwrap returns the underlying *connect.Error, for its metadata and raw
// details.
func (e *Error) Unwrap() error { return e.err }

// AsError reports whether err (or an error it wraps) is an error answered by
// Baton, or a client-side RPC failure such as a timeout, and returns it as an
// [*Error]. It returns false for nil and for errors that did not come from an
// RPC.
func AsError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var be *Error
	if errors.As(err, &be) {
		return be, true
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil, false
	}
	e := &Error{Code: ce.Code(), Message: ce.Message(), err: ce}
	name := string((&validate.Violations{}).ProtoReflect().Descriptor().FullName())
	for _, d := range ce.Details() {
		if d.Type() != name {
			continue
		}
		var vs validate.Violations
		if proto.Unmarshal(d.Bytes(), &vs) != nil {
			continue
		}
		for _, v := range vs.GetViolations() {
			e.Violations = append(e.Violations, Violation{
				Field:   fieldPath(v.GetField()),
				Message: v.GetMessage(),
				RuleID:  v.GetRuleId(),
			})
		}
	}
	return e, true
}

// fieldPath renders a protovalidate field path: names joined with ".", each
// followed by its subscript, if any, in brackets.
func fieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, el := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el.GetFieldName())
		switch s := el.GetSubscript().(type) {
		case *validate.FieldPathElement_Index:
			b.WriteString("[" + strconv.FormatUint(s.Index, 10) + "]")
		case *validate.FieldPathElement_BoolKey:
			b.WriteString("[" + strconv.FormatBool(s.BoolKey) + "]")
		case *validate.FieldPathElement_IntKey:
			b.WriteString("[" + strconv.FormatInt(s.IntKey, 10) + "]")
		case *validate.FieldPathElement_UintKey:
			b.WriteString("[" + strconv.FormatUint(s.UintKey, 10) + "]")
		case *validate.FieldPathElement_StringKey:
			b.WriteString("[" + strconv.Quote(s.StringKey) + "]")
		}
	}
	return b.String()
}
