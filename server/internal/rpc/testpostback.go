package rpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

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

// GetDeliveryQueue shows the postback queue at a glance (admin keys).
func (s *PostbackServer) GetDeliveryQueue(ctx context.Context, _ *batonv1.GetDeliveryQueueRequest) (*batonv1.GetDeliveryQueueResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.svc.QueueStats(ctx, p)
	if err != nil {
		return nil, s.errs.toConnect(ctx, err)
	}
	res := &batonv1.GetDeliveryQueueResponse{PendingCount: q.Pending, FailingEndpointCount: q.FailingEndpoints,
		DisabledFailingEndpointCount: q.DisabledFailingEndpoints}
	if !q.OldestPending.IsZero() {
		res.OldestPendingTime = timestamppb.New(q.OldestPending)
	}
	return res, nil
}
