package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/proof"
)

// lockedBuffer collects the server's log lines (written from many
// goroutines).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// echoReceiver records each request and answers with the secrets it got,
// as a careless receiver would: the answer is kept in the attempt log.
type echoReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []*http.Request
}

func newEchoReceiver(t *testing.T) *echoReceiver {
	r := &echoReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, req)
		r.mu.Unlock()
		_, _ = io.WriteString(w, "got k="+req.URL.Query().Get("k")+" t="+req.URL.Query().Get("t")+
			" x-api-key="+req.Header.Get("X-Api-Key")+" auth="+req.Header.Get("Authorization"))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *echoReceiver) last(t *testing.T) *http.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return r.got[len(r.got)-1]
}

// TestEndpointSecretsAreSentButNeverShown: an endpoint's sealed secrets (a
// URL variable with reserved characters, a header template variable and a
// secret header) reach the receiver, and no RPC answer — to the owner, the
// conversion's advertiser or an admin; reads, deliveries, attempts, the dry
// run and the test postback — nor the server log contains any of them,
// even when the receiver echoes them back. The advertiser sees each
// attempt's URL as scheme, host and path only. A reference to a secret the
// endpoint does not hold is refused by name.
func TestEndpointSecretsAreSentButNeverShown(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	e := pbEnvOn(clickEnvOn(t, startLogged(t, &logs, fastRetries), pbOffer()))
	ctx := context.Background()
	const (
		apiKey = "sk_live_7Rq/Wz+Kp&v=M4" // reserved characters: encoded in the URL
		bearer = "tok_live_Hq84nKsd"
		hdrKey = "hdr_live_Vb3QmRrT8"
	)
	// What must never be shown: a distinctive part of each value (every
	// encoding of the values keeps it).
	secrets := []string{"sk_live_7Rq", "tok_live_Hq84nKsd", "hdr_live_Vb3QmRrT8"}
	rcv := newEchoReceiver(t)
	adv := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))

	_, err := e.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{
		UrlTemplate: rcv.URL + "/cv?k={secret:api_kee}", Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		Events:  []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING},
		Secrets: []*batonv1.EndpointSecret{{Name: "api_key", Value: apiKey}}})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "{secret:api_kee}") || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("a template naming an unknown secret: %v; want invalid argument naming it and the endpoint's secrets", err)
	}
	var answers []proto.Message
	answer := func(m proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, m)
	}
	created, err := e.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{
		UrlTemplate: rcv.URL + "/cv?sid={sub1}&k={secret:api_key}&t=##SECRET:bearer##", Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		Events:        []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING},
		Headers:       []*batonv1.Header{{Name: "Authorization", Value: "Bearer {secret:bearer}"}},
		Secrets:       []*batonv1.EndpointSecret{{Name: "api_key", Value: apiKey}, {Name: "bearer", Value: bearer}},
		SecretHeaders: []*batonv1.Header{{Name: "X-Api-Key", Value: hdrKey}}})
	answer(created, err)
	ep := created.GetEndpoint()
	if len(ep.GetSecrets()) != 2 || ep.GetSecrets()[0].GetName() != "api_key" || len(ep.GetSecretHeaders()) != 1 || ep.GetSecretHeaders()[0].GetName() != "X-Api-Key" {
		t.Fatalf("the endpoint's secret names: %v %v", ep.GetSecrets(), ep.GetSecretHeaders())
	}

	conv := e.sale(t, "sub-1", "ORD-SEALED-1")
	d := e.waitDelivery(t, conv.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	answers = append(answers, d)
	req := rcv.last(t)
	if q := req.URL.Query(); q.Get("k") != apiKey || q.Get("t") != bearer || q.Get("sid") != "sub-1" {
		t.Errorf("the receiver got query %s", req.URL.RawQuery)
	}
	if req.Header.Get("X-Api-Key") != hdrKey || req.Header.Get("Authorization") != "Bearer "+bearer {
		t.Errorf("the receiver got headers %v", req.Header)
	}
	if u := d.GetAttempts()[0].GetUrl(); !strings.Contains(u, "k=xxxxx") || !strings.Contains(u, "t=xxxxx") || !strings.Contains(u, "sid=sub-1") {
		t.Errorf("the owner's attempt URL %q: want the secrets masked and the rest shown", u)
	}
	if x := d.GetAttempts()[0].GetResponseExcerpt(); !strings.Contains(x, "x-api-key=xxxxx") {
		t.Errorf("the echoed answer %q: want the secret header masked", x)
	}

	// The owner's reads, the dry run and a test postback.
	answer(e.pb.GetPostbackEndpoint(ctx, &batonv1.GetPostbackEndpointRequest{Id: ep.GetId()}))
	answer(e.pb.ListPostbackEndpoints(ctx, &batonv1.ListPostbackEndpointsRequest{}))
	answer(e.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: conv.GetId()}))
	answer(e.pb.GetDelivery(ctx, &batonv1.GetDeliveryRequest{Id: d.GetId()}))
	dry, err := e.pb.RenderPostback(ctx, &batonv1.RenderPostbackRequest{EndpointId: ep.GetId(), ConversionId: conv.GetId()})
	answer(dry, err)
	if !strings.Contains(dry.GetUrl(), "k=xxxxx") {
		t.Errorf("dry run URL %q: want the secret shown as xxxxx", dry.GetUrl())
	}
	sent, err := e.pb.SendTestPostback(ctx, &batonv1.SendTestPostbackRequest{EndpointId: ep.GetId()})
	answer(sent, err)
	answers = append(answers, e.waitDelivery(t, sent.GetDelivery().GetConversionId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED))

	// An update that does not name the secrets keeps them.
	_, err = e.pb.UpdatePostbackEndpoint(ctx, &batonv1.UpdatePostbackEndpointRequest{
		Endpoint:   &batonv1.PostbackEndpoint{Id: ep.GetId(), UrlTemplate: rcv.URL + "/cv2?k={secret:api_key}"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url_template"}}})
	if err != nil {
		t.Fatal(err)
	}
	conv2 := e.sale(t, "sub-2", "ORD-SEALED-2")
	answers = append(answers, e.waitDelivery(t, conv2.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED))
	if r := rcv.last(t); r.URL.Path != "/cv2" || r.URL.Query().Get("k") != apiKey || r.Header.Get("X-Api-Key") != hdrKey {
		t.Errorf("after an update that kept the secrets, the receiver got %s %v", r.URL, r.Header)
	}

	// The conversion's advertiser and an admin.
	al, err := adv.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: conv.GetId()})
	answer(al, err)
	ad, err := adv.GetDelivery(ctx, &batonv1.GetDeliveryRequest{Id: d.GetId()})
	answer(ad, err)
	for _, a := range append(ad.GetDelivery().GetAttempts(), al.GetDeliveries()[0].GetLastAttempt()) {
		if a.GetUrl() != rcv.URL+"/cv" || a.GetResponseExcerpt() != "" || a.GetStatusCode() != 200 {
			t.Errorf("the advertiser sees attempt %v; want the status and %s/cv only", a, rcv.URL)
		}
	}
	answer(e.admin.GetDelivery(ctx, &batonv1.GetDeliveryRequest{Id: d.GetId()}))

	tried, lost := 0, 0
	for _, m := range answers {
		text, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			tried++
			if bytes.Contains(text, []byte(s)) {
				lost++
				t.Errorf("an RPC answer shows secret %s: %s", s, text)
			}
		}
	}
	logText := logs.String()
	if !strings.Contains(logText, "postback attempt") {
		t.Fatalf("the log has no attempt lines: the check would prove nothing")
	}
	for _, s := range secrets {
		tried++
		if strings.Contains(logText, s) {
			lost++
			t.Errorf("the server log shows secret %s", s)
		}
	}
	proof.Tally(t, "hostile: sealed endpoint secrets read back (owner, advertiser, admin, dry run, test, log)", tried, lost,
		"3 secrets in URL, header template and secret header; receiver echoes them; no answer or log line holds one")
}
