package baton

import (
	"context"
	"fmt"
	"iter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Page is what every Baton List response is: a page of items and the token
// of the next page, empty on the last page.
type Page interface {
	GetNextPageToken() string
}

// All returns every item of a paginated List call, fetching page after page
// as the loop asks for more:
//
//	req := &batonv1.ListClicksRequest{OfferId: "off_demo", PageSize: 100}
//	for click, err := range baton.All(ctx, c.Clicks.ListClicks, req, (*batonv1.ListClicksResponse).GetClicks) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(click.GetId())
//	}
//
// list is the List method (a method value of a [Client] field), req the
// first request with its filters and page size (nil: the zero request), and
// items picks the items out of a response (a method expression of the
// response type). req is not modified: each page is requested with a copy
// carrying the page token. When a call fails, All yields the zero item and
// the error, and stops.
func All[Req proto.Message, Resp Page, Item any](
	ctx context.Context,
	list func(context.Context, Req) (Resp, error),
	req Req,
	items func(Resp) []Item,
) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		var zero Item
		r := req.ProtoReflect()
		if r.IsValid() {
			r = proto.Clone(req).ProtoReflect()
		} else {
			r = r.Type().New()
		}
		field := r.Descriptor().Fields().ByName("page_token")
		if field == nil || field.Kind() != protoreflect.StringKind || field.IsList() {
			yield(zero, fmt.Errorf("baton: %s has no page_token field", r.Descriptor().FullName()))
			return
		}
		page := r.Interface().(Req)
		for {
			res, err := list(ctx, page)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items(res) {
				if !yield(it, nil) {
					return
				}
			}
			next := res.GetNextPageToken()
			if next == "" {
				return
			}
			if next == r.Get(field).String() {
				yield(zero, fmt.Errorf("baton: %s returned its own page token %q again", r.Descriptor().FullName(), next))
				return
			}
			r.Set(field, protoreflect.ValueOfString(next))
		}
	}
}
