package baton_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

// The inputs of Example_readme. In a partner's code they come from its
// configuration, its landing page and its postback handler; TestReadmeExample
// sets them from a live Baton before it runs the example.
var (
	batonURL      = "http://127.0.0.1:8080"
	advertiserKey = "bk_demo_advertiser_key_0000000000"
	clickID       string // the sid Baton appended to the landing URL
	orderID       string // the shop's order ID
	webhookSecret string // the endpoint's secret, from CreatePostbackEndpoint
	webhook       *http.Request
	webhookBody   []byte
)

// Example_readme is the example of README.md, which shows exactly its body
// (TestReadmeMatchesExample checks; go test -run TestReadmeMatchesExample
// -update-readme rewrites README.md). It has no Output comment because it
// needs a live Baton: TestReadmeExample runs it and checks what it prints.
func Example_readme() {
	ctx := context.Background()
	c := baton.New(batonURL, advertiserKey)
	res, err := c.Conversions.RecordConversion(ctx, &batonv1.RecordConversionRequest{
		ClickId: clickID, OrderId: orderID, AmountJpy: proto.Int64(1980)})
	if err != nil {
		log.Fatal(err)
	}
	caused := &batonv1.ListDeliveriesRequest{ConversionId: res.GetConversion().GetId()}
	for d, err := range baton.All(ctx, c.Postbacks.ListDeliveries, caused, (*batonv1.ListDeliveriesResponse).GetDeliveries) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.GetEvent(), "to", d.GetEndpointId())
	}
	// The publisher's postback handler checks what it receives:
	err = baton.VerifyWebhook([]string{webhookSecret}, webhook.Header, webhookBody, 5*time.Minute, time.Now())
	fmt.Println("signature valid:", err == nil)
}
