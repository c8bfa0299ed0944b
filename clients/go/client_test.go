package baton_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
)

// fakeConfig answers WhoAmI with the bearer key as the key's name and the
// protocol the request came in as its partner ID.
type fakeConfig struct {
	batonv1connect.UnimplementedConfigServiceHandler
}

func (fakeConfig) WhoAmI(ctx context.Context, _ *batonv1.WhoAmIRequest) (*batonv1.WhoAmIResponse, error) {
	call, _ := connect.CallInfoForHandlerContext(ctx)
	auth := call.RequestHeader().Get("Authorization")
	if deadline, ok := ctx.Deadline(); auth == "Bearer slow" && ok && time.Until(deadline) < time.Second {
		// Slower than any deadline under a second: answer only when the
		// caller has given up.
		<-ctx.Done()
		return nil, connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	return &batonv1.WhoAmIResponse{Key: &batonv1.ApiKey{Name: auth, PartnerId: call.Peer().Protocol + " " + call.RequestHeader().Get("Content-Type")}}, nil
}

// fakeServer serves fakeConfig over HTTP/1.1 and h2c, like Baton.
func fakeServer(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(batonv1connect.NewConfigServiceHandler(fakeConfig{}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProtocolsAndKey(t *testing.T) {
	url := fakeServer(t)
	for p, want := range map[baton.Protocol]string{
		baton.ProtocolConnect:     "connect application/proto",
		baton.ProtocolConnectJSON: "connect application/json",
		baton.ProtocolGRPC:        "grpc application/grpc",
		baton.ProtocolGRPCWeb:     "grpcweb application/grpc-web+proto",
	} {
		c := baton.New(url+"/", "k_123", baton.WithProtocol(p))
		res, err := c.Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
		if err != nil {
			t.Errorf("%v: %v", p, err)
			continue
		}
		if got := res.GetKey().GetName(); got != "Bearer k_123" {
			t.Errorf("%v: Authorization %q", p, got)
		}
		if got := res.GetKey().GetPartnerId(); got != want {
			t.Errorf("%v: arrived as %q, want %q", p, got, want)
		}
	}
	res, err := baton.New(url, "").Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
	if err != nil || res.GetKey().GetName() != "" {
		t.Errorf("no key: %v %v", res, err)
	}
}

func TestTimeout(t *testing.T) {
	url := fakeServer(t)
	c := baton.New(url, "slow", baton.WithTimeout(50*time.Millisecond), baton.WithHTTPClient(&http.Client{}))
	_, err := c.Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
	if e, ok := baton.AsError(err); !ok || e.Code != connect.CodeDeadlineExceeded {
		t.Errorf("WithTimeout(50ms): %v, want deadline_exceeded", err)
	}
	// The caller's own deadline wins over the client's.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Config.WhoAmI(ctx, &batonv1.WhoAmIRequest{}); err != nil {
		t.Errorf("with a context deadline: %v", err)
	}
	// No bound at all.
	if _, err := baton.New(url, "slow", baton.WithTimeout(0)).Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{}); err != nil {
		t.Errorf("WithTimeout(0): %v", err)
	}
}
