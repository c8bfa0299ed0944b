package rpc

import (
	"context"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

// SendTestPostback sends one postback for a new test conversion to one
// endpoint now.
func (s *PostbackServer) SendTestPostback(ctx context.Context, req *batonv1.SendTestPostbackRequest) (*batonv1.SendTestPostbackResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.svc.SendTest(ctx, p, req.GetEndpointId(), eventFromProto(req.GetEvent()))
	if err != nil {
		return nil, s.errs.toConnect(ctx, err)
	}
	return &batonv1.SendTestPostbackResponse{Delivery: deliveryToProto(d, true)}, nil
}
