package rpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/domain"
)

// SendTestPostback sends one postback for a new test conversion to one
// endpoint now.
func (s *PostbackServer) SendTestPostback(ctx context.Context, req *batonv1.SendTestPostbackRequest) (*batonv1.SendTestPostbackResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.SendTestPostbackResponse, error) {
		d, err := s.svc.SendTest(ctx, p, req.GetEndpointId(), eventFromProto(req.GetEvent()))
		if err != nil {
			return nil, err
		}
		return &batonv1.SendTestPostbackResponse{Delivery: deliveryToProto(d, true)}, nil
	})
}

// GetDeliveryQueue shows the postback queue at a glance (admin keys).
func (s *PostbackServer) GetDeliveryQueue(ctx context.Context, _ *batonv1.GetDeliveryQueueRequest) (*batonv1.GetDeliveryQueueResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetDeliveryQueueResponse, error) {
		q, err := s.svc.QueueStats(ctx, p)
		if err != nil {
			return nil, err
		}
		res := &batonv1.GetDeliveryQueueResponse{PendingCount: q.Pending, FailingEndpointCount: q.FailingEndpoints,
			DisabledFailingEndpointCount: q.DisabledFailingEndpoints}
		if !q.OldestPending.IsZero() {
			res.OldestPendingTime = timestamppb.New(q.OldestPending)
		}
		return res, nil
	})
}
