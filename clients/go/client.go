// Package baton is a thin Go client for Baton, the affiliate tracking server.
//
// [New] returns a [Client] whose fields are the generated Connect clients of
// Baton's five services, with the API key attached to every call. Requests and
// responses are the generated messages of
// github.com/batonhq/baton/gen/go/baton/v1. The package adds what the
// generated code cannot: a choice of wire protocol, typed errors with the
// validation violations decoded ([AsError]), an iterator over paginated List
// calls ([All]), and the partner-side helpers that need no server:
// [TrackingLink], [FC2SH] and [VerifyWebhook].
package baton

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
)

// Protocol is the wire protocol a [Client] speaks. Baton serves all of them on
// one port.
type Protocol int

const (
	// ProtocolConnect is the Connect protocol with binary protobuf: plain
	// HTTP/1.1 or HTTP/2. The default.
	ProtocolConnect Protocol = iota
	// ProtocolConnectJSON is the Connect protocol with JSON bodies, handy
	// when reading traffic in a proxy.
	ProtocolConnectJSON
	// ProtocolGRPC is gRPC. It needs HTTP/2: over an http:// base URL the
	// default client uses HTTP/2 without TLS (h2c).
	ProtocolGRPC
	// ProtocolGRPCWeb is gRPC-Web.
	ProtocolGRPCWeb
)

// String returns the protocol's name.
func (p Protocol) String() string {
	switch p {
	case ProtocolConnect:
		return "connect"
	case ProtocolConnectJSON:
		return "connect+json"
	case ProtocolGRPC:
		return "grpc"
	case ProtocolGRPCWeb:
		return "grpc-web"
	}
	return "unknown"
}

// DefaultTimeout bounds each call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

type options struct {
	protocol   Protocol
	httpClient *http.Client
	timeout    time.Duration
}

// Option configures a [Client].
type Option func(*options)

// WithProtocol picks the wire protocol; the default is [ProtocolConnect].
func WithProtocol(p Protocol) Option {
	return func(o *options) { o.protocol = p }
}

// WithHTTPClient makes the client send its requests with c, for proxies,
// custom TLS or instrumentation. With [ProtocolGRPC] c must speak HTTP/2 to
// the server (for an http:// base URL: h2c with prior knowledge).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithTimeout bounds every unary call whose context has no deadline of its
// own. The default is [DefaultTimeout]; zero or less means no bound.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// Client holds one generated client per Baton service. Every call carries
// "Authorization: Bearer <key>". A Client is safe for concurrent use.
type Client struct {
	Config      batonv1connect.ConfigServiceClient
	Clicks      batonv1connect.ClickServiceClient
	Conversions batonv1connect.ConversionServiceClient
	Attribution batonv1connect.AttributionServiceClient
	Postbacks   batonv1connect.PostbackServiceClient
	Partners    batonv1connect.PartnerServiceClient
}

// New returns a client of the Baton at baseURL (e.g.
// "https://track.example.com") calling with apiKey: an admin, advertiser,
// publisher or network key. An empty key sends no Authorization header.
func New(baseURL, apiKey string, opts ...Option) *Client {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	baseURL = strings.TrimRight(baseURL, "/")
	httpClient := o.httpClient
	if httpClient == nil {
		httpClient = defaultHTTPClient(o.protocol, baseURL)
	}
	copts := []connect.ClientOption{connect.WithInterceptors(&callInterceptor{key: apiKey, timeout: o.timeout})}
	switch o.protocol {
	case ProtocolConnectJSON:
		copts = append(copts, connect.WithProtoJSON())
	case ProtocolGRPC:
		copts = append(copts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		copts = append(copts, connect.WithGRPCWeb())
	}
	return &Client{
		Config:      batonv1connect.NewConfigServiceClient(httpClient, baseURL, copts...),
		Clicks:      batonv1connect.NewClickServiceClient(httpClient, baseURL, copts...),
		Conversions: batonv1connect.NewConversionServiceClient(httpClient, baseURL, copts...),
		Attribution: batonv1connect.NewAttributionServiceClient(httpClient, baseURL, copts...),
		Postbacks:   batonv1connect.NewPostbackServiceClient(httpClient, baseURL, copts...),
		Partners:    batonv1connect.NewPartnerServiceClient(httpClient, baseURL, copts...),
	}
}

// defaultHTTPClient is http.DefaultClient, except for gRPC to an http:// URL:
// gRPC needs HTTP/2, which without TLS means h2c with prior knowledge.
func defaultHTTPClient(p Protocol, baseURL string) *http.Client {
	if u, err := url.Parse(baseURL); p != ProtocolGRPC || err != nil || u.Scheme != "http" {
		return http.DefaultClient
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true) // HTTP/2 only: prior knowledge for http:// URLs
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}}
}

// callInterceptor adds the API key to every call and bounds unary calls
// without a deadline.
type callInterceptor struct {
	key     string
	timeout time.Duration
}

func (i *callInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if i.key != "" {
			req.Header().Set("Authorization", "Bearer "+i.key)
		}
		if _, ok := ctx.Deadline(); !ok && i.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, i.timeout)
			defer cancel()
		}
		return next(ctx, req)
	}
}

func (i *callInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if i.key != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+i.key)
		}
		return conn
	}
}

func (i *callInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
