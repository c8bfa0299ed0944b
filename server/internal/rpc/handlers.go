package rpc

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/batonhq/baton/server/internal/domain"
)

// unary runs one RPC for its caller: it finds the principal (the auth
// interceptor guarantees one), calls fn, and maps fn's error to a Connect
// error, once, here. On error fn's response is dropped, so a method may
// return its response and the service's error together.
func unary[Res any](ctx context.Context, errs errorMapper, fn func(p domain.Principal) (*Res, error)) (*Res, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := fn(p)
	if err != nil {
		return nil, errs.toConnect(ctx, err)
	}
	return res, nil
}

// pageRequest is a list method's request: every one carries a page size
// and token.
type pageRequest interface {
	GetPageSize() int32
	GetPageToken() string
}

// list runs a list RPC: unary, with req's page token decoded for fn and
// the ID fn returns (the last of its page) encoded as the response's
// next_page_token.
func list[Res proto.Message](ctx context.Context, errs errorMapper, req pageRequest,
	fn func(p domain.Principal, page domain.Page) (Res, string, error)) (Res, error) {
	var zero Res
	p, err := principal(ctx)
	if err != nil {
		return zero, err
	}
	page, err := decodePage(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return zero, errs.toConnect(ctx, err)
	}
	res, next, err := fn(p, page)
	if err != nil {
		return zero, errs.toConnect(ctx, err)
	}
	m := res.ProtoReflect()
	m.Set(m.Descriptor().Fields().ByName("next_page_token"), protoreflect.ValueOfString(encodePageToken(next)))
	return res, nil
}

// each converts a page of domain values to their proto messages.
func each[D, P any](items []D, conv func(D) P) []P {
	if len(items) == 0 {
		return nil
	}
	out := make([]P, len(items))
	for i, x := range items {
		out[i] = conv(x)
	}
	return out
}
