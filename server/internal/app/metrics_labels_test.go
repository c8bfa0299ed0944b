package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/delivery"
)

// TestPostbackEndpointLabelIsBounded: partners create endpoints without
// limit, so the attempt counter's endpoint label cannot be one value per
// endpoint. With more endpoints than the cap, each delivered once, /metrics
// shows at most the cap of them by ID and counts the rest as "other".
func TestPostbackEndpointLabelIsBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	e := newPBEnv(t, fastRetries, func(c *config.Config) { c.AdminAddr = adminAddr })
	rcv := newReceiver(t)
	const n = delivery.DefaultMetricEndpoints + 10
	ids := make([]string, 0, n)
	for i := range n {
		ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: fmt.Sprintf("%s/cv/%d?c={click_id}", rcv.URL, i)})
		ids = append(ids, ep.GetId())
	}
	conv := e.sale(t, "s", "ORD-LABELS")
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; {
		l, err := e.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: conv.GetId(), PageSize: 1000,
			State: batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.GetDeliveries()) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries succeeded", len(l.GetDeliveries()), n)
		}
		// Poll with a deadline: the deliveries are sent by the workers.
		<-time.After(50 * time.Millisecond)
	}
	res, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var attemptLines []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "baton_postback_attempts") {
			attemptLines = append(attemptLines, line)
		}
	}
	metrics := strings.Join(attemptLines, "\n")
	labelled := 0
	for _, id := range ids {
		if strings.Contains(metrics, `endpoint="`+id+`"`) {
			labelled++
		}
	}
	if labelled > delivery.DefaultMetricEndpoints || !strings.Contains(metrics, `endpoint="other"`) {
		t.Fatalf("%d of %d endpoints have a label of their own (cap %d); other present: %v",
			labelled, n, delivery.DefaultMetricEndpoints, strings.Contains(metrics, `endpoint="other"`))
	}
	if strings.Contains(metrics, "127.0.0.1") || strings.Contains(metrics, "/cv/") {
		t.Errorf("a URL or host from partner input is a label: %s", metrics)
	}
}
