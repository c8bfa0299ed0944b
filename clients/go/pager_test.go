package baton_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

// fakeClicks serves n clicks, pageSize per page, with the page token being
// the offset.
func fakeClicks(n int, calls *[]string) func(context.Context, *batonv1.ListClicksRequest) (*batonv1.ListClicksResponse, error) {
	return func(_ context.Context, req *batonv1.ListClicksRequest) (*batonv1.ListClicksResponse, error) {
		*calls = append(*calls, req.GetPageToken())
		if req.GetOfferId() != "off_1" {
			return nil, errors.New("filter lost")
		}
		start := 0
		if req.GetPageToken() != "" {
			start, _ = strconv.Atoi(req.GetPageToken())
		}
		res := &batonv1.ListClicksResponse{}
		for i := start; i < n && i < start+int(req.GetPageSize()); i++ {
			res.Clicks = append(res.Clicks, &batonv1.Click{Id: "c" + strconv.Itoa(i)})
		}
		if end := start + int(req.GetPageSize()); end < n {
			res.NextPageToken = strconv.Itoa(end)
		}
		return res, nil
	}
}

func TestAllFollowsPageTokens(t *testing.T) {
	var calls []string
	req := &batonv1.ListClicksRequest{OfferId: "off_1", PageSize: 2}
	var got []string
	for c, err := range baton.All(context.Background(), fakeClicks(5, &calls), req, (*batonv1.ListClicksResponse).GetClicks) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.GetId())
	}
	if want := "[c0 c1 c2 c3 c4]"; fmt.Sprint(got) != want {
		t.Errorf("items %v, want %s", got, want)
	}
	if want := "[ 2 4]"; fmt.Sprint(calls) != want {
		t.Errorf("page tokens sent %v, want %s", calls, want)
	}
	if req.GetPageToken() != "" {
		t.Error("All modified the caller's request")
	}
}

func TestAllStopsWhenTheLoopDoes(t *testing.T) {
	var calls []string
	n := 0
	for _, err := range baton.All(context.Background(), fakeClicks(100, &calls), &batonv1.ListClicksRequest{OfferId: "off_1", PageSize: 2}, (*batonv1.ListClicksResponse).GetClicks) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if len(calls) != 2 {
		t.Errorf("%d pages fetched for 3 items of 2 per page", len(calls))
	}
}

func TestAllYieldsTheError(t *testing.T) {
	var calls []string
	var errs int
	for _, err := range baton.All(context.Background(), fakeClicks(5, &calls), &batonv1.ListClicksRequest{PageSize: 2}, (*batonv1.ListClicksResponse).GetClicks) {
		if err == nil || err.Error() != "filter lost" {
			t.Errorf("err = %v", err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded, want 1", errs)
	}
}

func TestAllNilRequestAndRepeatedToken(t *testing.T) {
	list := func(_ context.Context, req *batonv1.ListDeliveriesRequest) (*batonv1.ListDeliveriesResponse, error) {
		if req == nil {
			return nil, errors.New("nil request sent")
		}
		return &batonv1.ListDeliveriesResponse{Deliveries: []*batonv1.Delivery{{Id: "d"}}, NextPageToken: "same"}, nil
	}
	var items int
	var last error
	for d, err := range baton.All(context.Background(), list, nil, (*batonv1.ListDeliveriesResponse).GetDeliveries) {
		if err != nil {
			last = err
			continue
		}
		if d.GetId() == "d" {
			items++
		}
	}
	if items != 2 || last == nil {
		t.Errorf("%d items, error %v: want 2 items, then an error about the repeated token", items, last)
	}
}

func TestAllNeedsAPageToken(t *testing.T) {
	list := func(context.Context, *batonv1.WhoAmIRequest) (*batonv1.ListClicksResponse, error) {
		t.Fatal("called")
		return nil, nil
	}
	for _, err := range baton.All(context.Background(), list, &batonv1.WhoAmIRequest{}, (*batonv1.ListClicksResponse).GetClicks) {
		if err == nil {
			t.Error("no error for a request without page_token")
		}
	}
}
